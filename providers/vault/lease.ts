/**
 * A lease of dynamic credentials as `VaultDatabaseProvider` keeps it, and its clock: when
 * it ends, what the pool is told, and whether renewing can still move its end.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import type { SealedCredentials } from '../../lib/credentials.js';

/** One lease the provider holds. Times are on the `performance.now()` clock unless named otherwise. */
export interface Lease {
  readonly leaseId: string;
  readonly user: string;
  readonly password: string;
  /** What to ask for at each renewal, seconds: the duration it was issued with. */
  readonly incrementS: number;
  readonly renewable: boolean;
  /** The token that created it (its leases end with it). */
  readonly tokenSerial: number;
  /** When Vault ends it unless renewed, `performance.now()` clock. */
  endsAt: number;
  /** The same instant on the wall clock (epoch ms), for `expiresAt`. */
  expiresAt: number;
  /** Renewal no longer extends it. */
  capped: boolean;
  /** When its token ends for good, if known (`performance.now()` clock). */
  tokenEndsAt: number | undefined;
  state: 'active' | 'ended';
  /** Refused by the server (1045): no longer renewed, never handed out again. */
  rejected: boolean;
  credentials: SealedCredentials;
  renewing: Promise<void> | undefined;
  renewTimer: NodeJS.Timeout | undefined;
  endTimer: NodeJS.Timeout | undefined;
  failures: number;
  /** Handed to the coordinator (returned or pushed). */
  delivered: boolean;
}

/** Milliseconds until the lease ends: its own end, or its token's if that comes first. */
export function timeLeft(lease: Lease): number {
  return Math.min(lease.endsAt, lease.tokenEndsAt ?? Number.POSITIVE_INFINITY) - performance.now();
}

/** The wall-clock end the pool is told (epoch ms): the lease's end, or its token's if that comes first. */
export function effectiveExpiresAt(lease: Lease): number {
  if (lease.tokenEndsAt === undefined || lease.tokenEndsAt >= lease.endsAt) return lease.expiresAt;
  return lease.expiresAt - (lease.endsAt - lease.tokenEndsAt);
}

/** No renewal can move the lease's end: capped by max_ttl, not renewable, or bound by the end of its token. */
export function isFinal(lease: Lease): boolean {
  return lease.capped || !lease.renewable || (lease.tokenEndsAt !== undefined && lease.endsAt >= lease.tokenEndsAt);
}
