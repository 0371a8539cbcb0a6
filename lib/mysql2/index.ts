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
export { CallbackPool, connectionGeneration } from './pool.js';
export { createPool, createPoolCluster } from './factories.js';
export { createConnection } from './connection.js';
export type { Connection, ConnectionExtras, ConnectionOptions, ConnectionRotationOptions, PromiseConnection } from './connection.js';
export type { Pool, PoolExtras, PoolStats, PromisePool, PromisePoolExtras, RotationErrorInfo } from './types.js';
export type { CallbackPoolConfig } from './pool.js';
export type { PoolOptions, RotationOptions, DrainMode } from './pool-options.js';
export type { FailoverEvent, FailoverOptions } from './failover.js';
export { READ_ONLY_ERRNOS, ER_ACCESS_DENIED, accountProblemOf, isAccessDenied, isReadOnlyError } from './classify.js';
export type { AccountProblem } from './classify.js';
export { PoolCluster } from './cluster.js';
export { PoolNamespace } from './cluster-namespace.js';
export type { ClusterConnection, ClusterNodeInfo } from './cluster-namespace.js';
export type { PoolClusterOptions, Selector } from './cluster-options.js';
export {
  DEFAULT_CAN_RETRY,
  DEFAULT_REMOVE_NODE_ERROR_COUNT,
  DEFAULT_RESTORE_NODE_TIMEOUT,
  DEFAULT_SELECTOR,
  DEFAULT_READ_ONLY_NODE_TIMEOUT_MS,
} from './cluster-options.js';
