/**
 * The public types of credswap's pools: mysql2's own Pool types plus credswap's additions, so
 * that a credswap pool is assignable to `mysql2`'s `Pool` and `mysql2/promise`'s `Pool`, and
 * code typed against mysql2 takes it unchanged. Types only: nothing here runs.
 */
import type * as mysql2 from 'mysql2';
import type * as mysql2Promise from 'mysql2/promise';
import type { RotateEvent, RotationCoordinator, RotationErrorInfo } from '../coordinator.js';
import type { FailoverEvent } from './failover.js';

export type { RotationErrorInfo };

/** Counts of a pool's connections, for monitoring and tests. */
export interface PoolStats {
  /** Connections counted against `connectionLimit`: open, opening, or closing. */
  readonly total: number;
  /** Open connections waiting in the pool. */
  readonly idle: number;
  /** Requests waiting for a connection. */
  readonly queued: number;
  /** The current generation of credentials (0 without `credentials`). */
  readonly generation: number;
}

/** credswap's additions to a mysql2 pool, shared by both flavours. */
interface CredswapPoolMembers {
  /** The coordinator deciding when credentials change; `undefined` without `credentials`. */
  readonly coordinator: RotationCoordinator | undefined;
  /** Connection counts and the current generation. */
  readonly stats: PoolStats;
  /** Credentials changed: a new generation. Never carries a secret. */
  on(event: 'rotate', listener: (event: RotateEvent) => void): this;
  /** A rotation failed (queries waiting for it fail with `error`). */
  on(event: 'rotation-error', listener: (error: Error, info: RotationErrorInfo) => void): this;
  /**
   * A connection was thrown away; `reason` says why: `'stale'` (drained after a rotation),
   * `'drain-timeout'`, `'failover'` (its server is no longer where the address leads),
   * `'failover-probe'` (a probe login found the server still read-only), `'read-only'` (with
   * `failover: false`, or refused in a read-only transaction), `'lifetime'` (`maxLifetimeMs`),
   * `'idle'`, `'make-room'`. Both flavours pass the callback-style connection, as mysql2's
   * promise pool does for its own events.
   */
  on(event: 'discard', listener: (connection: mysql2.PoolConnection, reason: string) => void): this;
  /** A failover episode started (a write was refused as read-only) or ended. Never carries a secret. */
  on(event: 'failover', listener: (event: FailoverEvent) => void): this;
  [Symbol.asyncDispose](): Promise<void>;
}

/** credswap's additions to a mysql2 callback pool. */
export interface PoolExtras extends CredswapPoolMembers {
  /** The promise flavour of this pool, sharing its connections. */
  promise(): PromisePool;
}

/** credswap's additions to a mysql2 promise pool. */
export interface PromisePoolExtras extends CredswapPoolMembers {
  /** The callback-style pool underneath (mysql2 names it `pool` too). */
  readonly pool: Pool;
}

/**
 * The pool `credswap/mysql2`'s `createPool` returns: mysql2's callback Pool plus
 * {@link PoolExtras}. Assignable to `import('mysql2').Pool`.
 */
export type Pool = Omit<mysql2.Pool, 'promise'> & PoolExtras;

/**
 * The pool `credswap/mysql2/promise`'s `createPool` returns: mysql2's promise Pool plus
 * {@link PromisePoolExtras}. Assignable to `import('mysql2/promise').Pool`.
 */
export type PromisePool = Omit<mysql2Promise.Pool, 'pool'> & PromisePoolExtras;
