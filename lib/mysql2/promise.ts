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
export { createPromisePool as createPool } from './factories.js';
export type { PoolOptions, RotationOptions, DrainMode } from './pool-options.js';
export { createPromiseConnection as createConnection } from './connection.js';
// As in mysql2/promise, `Pool` and `Connection` name the promise flavours here.
export type {
  PromiseConnection as Connection,
  PromiseConnection,
  ConnectionExtras,
  ConnectionOptions,
  ConnectionRotationOptions,
} from './connection.js';
export type { PromisePool as Pool, PoolStats, PromisePool, PromisePoolExtras, RotationErrorInfo } from './types.js';
export type { FailoverEvent, FailoverOptions } from './failover.js';
export { createPromisePoolCluster as createPoolCluster } from './factories.js';
export { PromisePoolCluster, PromisePoolNamespace } from './promise-cluster.js';
export type { PoolClusterOptions, Selector } from './cluster-options.js';
