/**
 * The factories of `credswap/mysql2` and `credswap/mysql2/promise`: pools and pool clusters.
 *
 * @packageDocumentation
 */

import type { PoolCluster as Mysql2PoolCluster } from 'mysql2';
import type { PoolCluster as Mysql2PromisePoolCluster } from 'mysql2/promise';
import { PoolCluster } from './cluster.js';
import type { PoolClusterOptions } from './cluster-options.js';
import { CallbackPool } from './pool.js';
import type { PoolOptions } from './pool-options.js';
import type { PromisePoolCluster } from './promise-cluster.js';
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

/**
 * Creates a pool cluster whose nodes are credswap pools: each rotates its own credentials,
 * discards connections that hit read-only errors, and a node whose server turned read-only is
 * passed over while another node of the pattern is online.
 *
 * @throws InvalidOptionError (a TypeError) naming an invalid option, or a key that looks like a misspelt credswap option (other keys go to mysql2, which warns about those it does not know).
 * @example
 * ```ts
 * import { createPoolCluster } from 'credswap/mysql2';
 * const cluster = createPoolCluster({ credentials: new FileProvider({ path: '/etc/db/creds.json' }), restoreNodeTimeout: 5000 });
 * cluster.add('MASTER', { host: 'db-writer.internal', database: 'app' });
 * cluster.add('SLAVE1', { host: 'db-reader-1.internal', database: 'app' });
 * cluster.of('MASTER').query('INSERT INTO t (n) VALUES (?)', [1], (err) => { ... });
 * cluster.getConnection('SLAVE*', (err, conn) => { ...; conn.release(); });
 * ```
 * @returns credswap's {@link PoolCluster}, typed so that code typed against mysql2's
 * `PoolCluster` takes it unchanged.
 */
export function createPoolCluster(options?: PoolClusterOptions): PoolCluster & Mysql2PoolCluster {
  return new PoolCluster(options) as PoolCluster & Mysql2PoolCluster;
}

/**
 * Creates a promise pool cluster: mysql2/promise's PoolCluster surface, where every node is a
 * credswap pool that rotates its own credentials and a node whose server turned read-only is
 * passed over while another node of the pattern is online.
 *
 * @throws InvalidOptionError (a TypeError) naming an invalid option, or a key that looks like a misspelt credswap option (other keys go to mysql2, which warns about those it does not know).
 * @example
 * ```ts
 * import { createPoolCluster } from 'credswap/mysql2/promise';
 * await using cluster = createPoolCluster({ credentials: provider, restoreNodeTimeout: 5000 });
 * cluster.add('MASTER', { host: 'db-writer.internal', database: 'app' });
 * cluster.add('SLAVE1', { host: 'db-reader-1.internal', database: 'app' });
 * await cluster.of('MASTER').execute('INSERT INTO t (n) VALUES (?)', [1]);
 * const [rows] = await cluster.of('SLAVE*').query('SELECT * FROM t');
 * ```
 * @returns credswap's {@link PromisePoolCluster}, typed so that code typed against
 * mysql2/promise's `PoolCluster` takes it unchanged.
 */
export function createPromisePoolCluster(options?: PoolClusterOptions): PromisePoolCluster & Mysql2PromisePoolCluster {
  return new PoolCluster(options).promise() as PromisePoolCluster & Mysql2PromisePoolCluster;
}
