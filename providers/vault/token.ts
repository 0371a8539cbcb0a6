/**
 * The token as {@link VaultSession} keeps it, and what providers are told about it: its serial
 * and its end (never the token itself).
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import type { IssuedToken } from './login.js';

/** A change of the session's token, for providers whose leases live and die with it. */
export interface VaultTokenEvent extends VaultTokenState {
  /**
   * `login`: a new token (first login, or again after `capped`/`lost`). `renewed`: its TTL was
   * extended. `capped`: it cannot be extended any more and ends at `endsAt` (leases it created
   * end with it). `lost`: Vault refused it (expired or revoked): the leases it created are gone.
   */
  readonly type: 'login' | 'renewed' | 'capped' | 'lost';
}

/** The session's current token, without the token itself. */
export interface VaultTokenState {
  /** Which token: 1 for the first, one more at every login. */
  readonly serial: number;
  /** When the token ends unless renewed, on the `performance.now()` clock; `undefined`: never. */
  readonly endsAt: number | undefined;
  /** True when `endsAt` cannot be moved by renewing. */
  readonly final: boolean;
}

/** The session's token. Times are on the `performance.now()` clock. */
export interface Token {
  readonly id: string;
  readonly serial: number;
  /** The TTL to ask for at each renewal, seconds. */
  readonly incrementS: number;
  endsAt: number | undefined;
  renewable: boolean;
  final: boolean;
}

/** The token a login (or a lookup) just described, as the session's `serial`-th. */
export function issuedToken(issued: IssuedToken, serial: number): Token {
  return {
    id: issued.id,
    serial,
    incrementS: issued.incrementS,
    endsAt: issued.ttlS > 0 ? performance.now() + issued.ttlS * 1000 : undefined,
    renewable: issued.renewable,
    final: issued.ttlS > 0 && !issued.renewable,
  };
}

/** What may be said about a token: everything but the token. */
export function tokenState(token: Token): VaultTokenState {
  return { serial: token.serial, endsAt: token.endsAt, final: token.final };
}
