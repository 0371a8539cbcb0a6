/**
 * `credswap/mysql2`: a callback-style pool with mysql2's Pool surface whose credentials rotate.
 * Loads mysql2 only: never the AWS SDK or node-vault.
 *
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2';
 * const pool = createPool({ host: '127.0.0.1', database: 'app', credentials: hotSwap });
 * pool.query('SELECT 1', (err, rows) => { ... });
 * ```
 */
import { CallbackPool, type PoolOptions } from './pool.js';
import type { Pool } from './types.js';

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

export { CallbackPool, connectionGeneration } from './pool.js';
export { createConnection } from './connection.js';
export type { Connection, ConnectionExtras, ConnectionOptions, ConnectionRotationOptions, PromiseConnection } from './connection.js';
export type { Pool, PoolExtras, PoolStats, PromisePool, PromisePoolExtras, RotationErrorInfo } from './types.js';
export type { PoolOptions, RotationOptions, DrainMode, CallbackPoolConfig } from './pool.js';
export type { ReadOnlyBackoffOptions } from './read-only.js';
export { READ_ONLY_ERRNOS, ER_ACCESS_DENIED, isAccessDenied, isReadOnlyError } from './classify.js';
export { createPoolCluster, PoolCluster, PoolNamespace } from './cluster.js';
export type { ClusterConnection, ClusterNodeInfo, PoolClusterOptions, Selector } from './cluster.js';
export {
  DEFAULT_CAN_RETRY,
  DEFAULT_REMOVE_NODE_ERROR_COUNT,
  DEFAULT_RESTORE_NODE_TIMEOUT,
  DEFAULT_SELECTOR,
  DEFAULT_READ_ONLY_NODE_TIMEOUT_MS,
} from './cluster-options.js';
