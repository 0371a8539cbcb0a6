/**
 * `credswap/mysql2/promise`: the promise flavour, like `mysql2/promise`.
 *
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2/promise';
 * await using pool = createPool({ host: 'db', credentials: new FileProvider({ path }) });
 * const [rows] = await pool.query('SELECT 1');
 * ```
 */
import * as mysql2Promise from 'mysql2/promise';
import type { RotateEvent, RotationCoordinator } from '../coordinator.js';
import { CallbackPool, type PoolOptions } from './pool.js';

/** credswap's additions to a mysql2 promise pool. */
export interface PromisePoolExtras {
  /** The callback-style pool underneath (mysql2 names it `pool` too). */
  readonly pool: CallbackPool;
  /** The coordinator deciding when credentials change; `undefined` without `credentials`. */
  readonly coordinator: RotationCoordinator | undefined;
  /** Connection counts and the current generation. */
  readonly stats: CallbackPool['stats'];
  on(event: 'rotate', listener: (event: RotateEvent) => void): this;
  on(event: 'rotation-error', listener: (error: Error, info: { reason: string; provider: string }) => void): this;
  on(event: 'discard', listener: (connection: mysql2Promise.PoolConnection, reason: string) => void): this;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The pool `createPool` returns: mysql2's promise Pool plus {@link PromisePoolExtras}. */
export type PromisePool = Omit<mysql2Promise.Pool, 'pool'> & PromisePoolExtras;

type Mysql2PromisePoolCtor = new (pool: CallbackPool, promiseImpl: PromiseConstructor) => mysql2Promise.Pool;
const Mysql2PromisePool = (mysql2Promise as unknown as { PromisePool: Mysql2PromisePoolCtor }).PromisePool;

/** Events the promise pool re-emits from the callback pool, beyond mysql2's own four. */
const FORWARDED_EVENTS = ['rotate', 'rotation-error', 'discard'] as const;

class CredswapPromisePool extends Mysql2PromisePool {
  constructor(pool: CallbackPool) {
    super(pool, Promise);
    for (const event of FORWARDED_EVENTS) {
      pool.on(event, (...args: unknown[]) => {
        if (this.listenerCount(event) > 0) this.emit(event, ...args);
      });
    }
  }

  get coordinator(): RotationCoordinator | undefined {
    return (this.pool as unknown as CallbackPool).coordinator;
  }

  get stats(): CallbackPool['stats'] {
    return (this.pool as unknown as CallbackPool).stats;
  }
}

/** @internal Wraps a callback pool (what `pool.promise()` returns). */
export function wrapPromisePool(pool: CallbackPool): PromisePool {
  return new CredswapPromisePool(pool) as unknown as PromisePool;
}

/**
 * Creates a promise pool: mysql2's promise Pool surface (`query`, `execute`,
 * `getConnection()`, `end()`, `Symbol.asyncDispose`) with credentials that rotate.
 *
 * @throws InvalidOptionError (a TypeError) naming an unknown or invalid option.
 * @example
 * ```ts
 * const pool = createPool({
 *   host: '127.0.0.1',
 *   credentials: async (signal) => fetchCredentials(signal),
 * });
 * const conn = await pool.getConnection();
 * try {
 *   await conn.beginTransaction();
 *   await conn.query('UPDATE accounts SET balance = balance - 1 WHERE id = ?', [1]);
 *   await conn.commit();
 * } finally {
 *   conn.release();
 * }
 * ```
 */
export function createPool(options: PoolOptions | string): PromisePool {
  return new CallbackPool(options).promise();
}

export type { PoolOptions, RotationOptions, DrainMode } from './pool.js';
export type { ReadOnlyBackoffOptions } from './read-only.js';
export { createPoolCluster, PromisePoolCluster, PromisePoolNamespace } from './promise-cluster.js';
export type { PoolClusterOptions, Selector } from './cluster-options.js';
