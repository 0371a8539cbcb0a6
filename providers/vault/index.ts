/**
 * `credswap/vault`: database credentials from HashiCorp Vault: dynamic credentials with leases
 * ({@link VaultDatabaseProvider}), static roles ({@link VaultStaticRoleProvider}) and KV
 * version 2 secrets ({@link VaultKvProvider}), with token, AppRole or Kubernetes login.
 * `node-vault` (an optional peer dependency) loads on the first request, never on import.
 *
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2/promise';
 * import { VaultDatabaseProvider } from 'credswap/vault';
 *
 * const pool = createPool({
 *   host: 'orders.db.internal',
 *   credentials: new VaultDatabaseProvider({
 *     role: 'orders-app',
 *     vault: { endpoint: 'https://vault.internal:8200', auth: { kubernetes: { role: 'orders' } } },
 *   }),
 * });
 * ```
 *
 * @packageDocumentation
 */

export { VaultDatabaseProvider } from './database.js';
export type { VaultDatabaseProviderOptions } from './database.js';
export type { VaultLeaseEvent } from './lease-keeper.js';
export { VaultStaticRoleProvider, DEFAULT_VAULT_STATIC_REFRESH_JITTER_MS, VAULT_STATIC_REJECTED_REREADS } from './static-role.js';
export type { VaultStaticRoleProviderOptions } from './static-role.js';
export { VaultKvProvider, DEFAULT_VAULT_KV_MOUNT, DEFAULT_VAULT_KV_REFRESH_INTERVAL_MS } from './kv.js';
export type { VaultKvProviderOptions } from './kv.js';
export { NODE_VAULT_PACKAGE } from './client.js';
export {
  DEFAULT_APPROLE_MOUNT,
  DEFAULT_VAULT_DATABASE_MOUNT,
  DEFAULT_KUBERNETES_JWT_PATH,
  DEFAULT_KUBERNETES_MOUNT,
  DEFAULT_VAULT_REQUEST_TIMEOUT_MS,
} from './options.js';
export type {
  NodeVaultClient,
  VaultAppRoleAuth,
  VaultAuth,
  VaultConnectionOptions,
  VaultKubernetesAuth,
  VaultSessionOptions,
  VaultTokenAuth,
} from './options.js';
export { VaultError } from './errors.js';
