/**
 * A lease of dynamic credentials as the {@link LeaseKeeper} keeps it, and its clock: when it
 * ends, what the pool is told (`expiresAt`), and whether renewing can still move its end.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import type { SealedCredentials } from '../../lib/credentials.js';

/**
 * When a request was sent, on both clocks. A lease's end counts from it: the local clock when
 * the request left plus `lease_duration`, never Vault's timestamps, so clock skew between the
 * two cannot stretch it.
 */
export interface SentAt {
  /** `performance.now()`: for timers. */
  readonly at: number;
  /** `Date.now()`: for the `expiresAt` the pool is told. */
  readonly wall: number;
}

/** Now, on both clocks: take it just before sending a request whose answer starts a lease or extends it. */
export function sentNow(): SentAt {
  return { at: performance.now(), wall: Date.now() };
}

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
  /** Renewal no longer extends it: the role's max_ttl, or Vault refused to renew it. */
  capped: boolean;
  /** When its token ends for good, if known (`performance.now()` clock). */
  tokenEndsAt: number | undefined;
  /** `ended`: revoked, run out, or let go (`revokeOnRetire: false`); the keeper forgot it. */
  state: 'active' | 'ended';
  /** Refused by the server (1045): no longer renewed, never handed out again. */
  rejected: boolean;
  /** Its credentials, with the `expiresAt` of {@link effectiveExpiresAt}; rebuilt when that moves. */
  credentials: SealedCredentials;
  /** The renewal in flight. */
  renewing: Promise<void> | undefined;
  renewTimer: NodeJS.Timeout | undefined;
  endTimer: NodeJS.Timeout | undefined;
  /** Renewals that failed in a row. */
  failures: number;
}

/** Moves the lease's end to `durationS` seconds after `sent`, on both clocks. */
export function setEnd(lease: Lease, sent: SentAt, durationS: number): void {
  lease.endsAt = sent.at + durationS * 1000;
  lease.expiresAt = sent.wall + durationS * 1000;
}

/** Milliseconds until the lease ends: its own end, or its token's if that comes first. */
export function timeLeft(lease: Lease): number {
  return Math.min(lease.endsAt, lease.tokenEndsAt ?? Number.POSITIVE_INFINITY) - performance.now();
}

/**
 * The one place the pool's `expiresAt` is decided (epoch ms): when the lease ends unless it is
 * renewed, or when its token ends if that comes first. Every renewal moves it and the provider
 * reports the new value, so the coordinator, which asks for new credentials
 * `rotation.refreshBeforeExpiryMs` before it, only does so for a lease that renewing could not
 * extend in time.
 */
export function effectiveExpiresAt(lease: Lease): number {
  if (lease.tokenEndsAt === undefined || lease.tokenEndsAt >= lease.endsAt) return lease.expiresAt;
  return lease.expiresAt - (lease.endsAt - lease.tokenEndsAt);
}

/** No renewal can move the lease's end: capped, not renewable, or bound by the end of its token. */
export function isFinal(lease: Lease): boolean {
  return lease.capped || !lease.renewable || (lease.tokenEndsAt !== undefined && lease.endsAt >= lease.tokenEndsAt);
}

/** The keeper still renews the lease: active, not refused by the server, its end still movable, and not over. */
export function canRenew(lease: Lease): boolean {
  return lease.state === 'active' && !lease.rejected && !isFinal(lease) && timeLeft(lease) > 0;
}
