/**
 * A local HashiCorp Vault for tests and rotation drills: {@link startVaultEmulator} starts a
 * {@link VaultEmulator} that Vault clients talk to over HTTP, with tokens, AppRole and
 * Kubernetes login, KV version 2, and the database secrets engine creating real MariaDB/MySQL
 * users with leases that expire, renew and revoke as in Vault.
 *
 * @example
 * ```ts
 * import { startTestServer, startVaultEmulator } from 'credswap/testing';
 *
 * const server = await startTestServer();
 * const vault = await startVaultEmulator({ server });
 * vault.configureDatabaseRole('app', { grants: 'SELECT ON shop.*', defaultTtlS: 60, maxTtlS: 300 });
 * // VAULT_ADDR=vault.endpoint VAULT_TOKEN=vault.rootToken: GET /v1/database/creds/app
 * await vault.close();
 * await server.stop();
 * ```
 *
 * @packageDocumentation
 */

export { startVaultEmulator } from './vault/emulator.js';
export type { VaultEmulator } from './vault/emulator.js';
export { VAULT_EMULATOR_MAX_RECORDED_REQUESTS } from './vault/requests.js';
export type { VaultRequestRecord } from './vault/requests.js';
export {
  DEFAULT_VAULT_ACCOUNT_HOSTS,
  DEFAULT_VAULT_APPROLE_MOUNT,
  DEFAULT_VAULT_DATABASE_MOUNT,
  DEFAULT_VAULT_KUBERNETES_MOUNT,
  DEFAULT_VAULT_KV_MOUNTS,
} from './vault/options.js';
export type { VaultDatabaseServer, VaultEmulatorOptions, VaultMySQLAccess } from './vault/options.js';
export type {
  AppRoleOptions,
  CreateTokenOptions,
  DatabaseRoleOptions,
  KubernetesRoleOptions,
  StaticRoleOptions,
  WriteKvOptions,
} from './vault/setup-options.js';
export type { UsernameMetadata, UsernameTemplate } from './vault/random.js';
export type { VaultFaultScope, VaultLatencyFaultOptions, VaultStatusFaultOptions, VaultFaults } from './vault/faults.js';
export type { VaultLeaseInfo } from './vault/leases.js';
export type { VaultEndReason } from './vault/tokens.js';
export { EMULATED_VAULT_VERSION } from './vault/routes.js';
export { VAULT_INVALID_TOKEN_ERROR, VAULT_PERMISSION_DENIED_ERROR } from './vault/http.js';
