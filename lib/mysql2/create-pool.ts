/**
 * The pool factories of `credswap/mysql2` and `credswap/mysql2/promise`.
 *
 * @packageDocumentation
 */

import { CallbackPool } from './pool.js';
import type { PoolOptions } from './pool-options.js';
import type { Pool, PromisePool } from './types.js';

/**
 * Creates a callback-style pool that drops into code and libraries taking a mysql2 pool.
 *
 * @throws InvalidOptionError (a TypeError) naming an invalid option, or a key that looks like a misspelt credswap option (other keys go to mysql2, which warns about those it does not know).
 * @example
 * ```ts
 * const pool = createPool({ host: 'db.internal', credentials: new FileProvider({ path: '/etc/db/creds.json' }) });
 * pool.on('rotate', (e) => log.info({ generation: e.generation, fingerprint: e.fingerprint }, 'credentials rotated'));
 * ```
 */
export function createPool(options: PoolOptions | string): Pool {
  return new CallbackPool(options) as unknown as Pool;
}

/**
 * Creates a promise pool: mysql2's promise Pool surface (`query`, `execute`,
 * `getConnection()`, `end()`, `Symbol.asyncDispose`) with credentials that rotate.
 *
 * @throws InvalidOptionError (a TypeError) naming an invalid option, or a key that looks like a misspelt credswap option (other keys go to mysql2, which warns about those it does not know).
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2/promise';
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
export function createPromisePool(options: PoolOptions | string): PromisePool {
  return new CallbackPool(options).promise();
}
