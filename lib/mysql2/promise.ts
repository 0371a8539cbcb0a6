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
import type { RotationCoordinator } from '../coordinator.js';
import { CallbackPool, type PoolOptions } from './pool.js';
import type { PoolStats, PromisePool } from './types.js';

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

  get stats(): PoolStats {
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
 * @throws InvalidOptionError (a TypeError) naming an invalid option, or a key that looks like a misspelt credswap option (other keys go to mysql2, which warns about those it does not know).
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
export { createPromiseConnection as createConnection } from './connection.js';
// As in mysql2/promise, `Pool` and `Connection` name the promise flavours here.
export type { PromiseConnection as Connection, PromiseConnection, ConnectionExtras, ConnectionOptions, ConnectionRotationOptions } from './connection.js';
export type { PromisePool as Pool, PoolStats, PromisePool, PromisePoolExtras, RotationErrorInfo } from './types.js';
export type { ReadOnlyBackoffOptions } from './read-only.js';
export { createPoolCluster, PromisePoolCluster, PromisePoolNamespace } from './promise-cluster.js';
export type { PoolClusterOptions, Selector } from './cluster-options.js';
