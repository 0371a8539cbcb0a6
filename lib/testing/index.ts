/**
 * `credswap/testing`: what rotation and failover drills need, for credswap's own tests and for
 * yours: throwaway MariaDB servers and local emulators of AWS Secrets Manager and HashiCorp
 * Vault that the real SDK clients talk to. Never import it in production code.
 *
 * @packageDocumentation
 */

export { startMariaDB, startTestServer, findMariaDBBinary, ServerNotFoundError, ServerStartError } from './mariadb.js';
export type { MariaDBServer, MariaDBServerOptions, CreateUserOptions, ProcessInfo } from './mariadb.js';
export type { ServerFlavour } from './server/admin.js';

export {
  startMySQL,
  findMySQLBinary,
  mysqlAvailability,
  MySQLNotFoundError,
  DEFAULT_MYSQL_START_TIMEOUT_MS,
  MYSQLD_ENV,
  MYSQL_DEBS_ENV,
  MYSQL_DOWNLOAD_ENV,
  REQUIRE_MYSQL_ENV,
} from './mysql.js';
export type { MySQLServerOptions, MySQLAvailability, MySQLBinary, MySQLSource } from './mysql.js';

export {
  startSecretsManagerEmulator,
  SecretsManagerEmulator,
  SecretsManagerFaults,
  DEFAULT_EMULATOR_REGION,
  DEFAULT_EMULATOR_ACCOUNT_ID,
  DEFAULT_EMULATOR_ACCESS_KEY_ID,
  DEFAULT_EMULATOR_SECRET_ACCESS_KEY,
  SECRETS_MANAGER_MAX_VERSIONS,
  SIGNATURE_MAX_SKEW_MS,
  ROTATION_STEPS,
} from './secrets-manager.js';
export type {
  SecretsManagerEmulatorOptions,
  EmulatorClientConfig,
  RotationStep,
  RotationEvent,
  RotationHandler,
  RotationResult,
  PauseRotationOptions,
  RotationPause,
  WaitForRotationOptions,
  EmulatedSecretVersion,
  PutSecretResult,
  FaultMatch,
  FailFaultOptions,
  ErrorFaultOptions,
} from './secrets-manager.js';

export { startLambdaExtensionEmulator, DEFAULT_EXTENSION_TTL_MS } from './lambda-extension.js';
export type {
  LambdaExtensionEmulator,
  LambdaExtensionEmulatorOptions,
  LambdaExtensionFlavor,
  LambdaExtensionRequest,
  LambdaExtensionCalls,
} from './lambda-extension.js';

export {
  startVaultEmulator,
  DEFAULT_VAULT_DATABASE_MOUNT,
  DEFAULT_VAULT_APPROLE_MOUNT,
  DEFAULT_VAULT_KUBERNETES_MOUNT,
  DEFAULT_VAULT_KV_MOUNTS,
  DEFAULT_VAULT_ACCOUNT_HOSTS,
  VAULT_EMULATOR_MAX_RECORDED_REQUESTS,
  EMULATED_VAULT_VERSION,
  VAULT_PERMISSION_DENIED_ERROR,
  VAULT_INVALID_TOKEN_ERROR,
} from './vault.js';
export type {
  VaultEmulator,
  VaultEmulatorOptions,
  VaultDatabaseServer,
  VaultMySQLAccess,
  DatabaseRoleOptions,
  StaticRoleOptions,
  AppRoleOptions,
  KubernetesRoleOptions,
  CreateTokenOptions,
  WriteKvOptions,
  UsernameTemplate,
  UsernameMetadata,
  VaultFaults,
  VaultFaultScope,
  VaultStatusFaultOptions,
  VaultLatencyFaultOptions,
  VaultLeaseInfo,
  VaultEndReason,
  VaultRequestRecord,
} from './vault.js';

export { startTcpProxy } from './proxy.js';
export type { TcpProxy, TcpProxyOptions, TcpProxyStats, ProxyTarget } from './proxy.js';

export { startLoadGenerator, errorCodeOf, DEFAULT_WRITE_RATIO, DEFAULT_MAX_OUTCOMES } from './load.js';
export type { LoadGenerator, LoadGeneratorOptions, QueryKind, QueryOutcome } from './load.js';
export { defaultQueries, DEFAULT_DRILL_TABLE } from './default-queries.js';
export type { DefaultQueriesOptions, DrillQuery, QueryablePool } from './default-queries.js';

export { startRdsIamFrontEnd, selfSignedCertificate, MAX_TOKEN_EXPIRES_SECONDS } from './rds-iam.js';
export type {
  RdsIamFrontEnd,
  RdsIamFrontEndOptions,
  RdsIamFrontEndStats,
  RdsIamFrontEndProviderOptions,
  RdsIamBackend,
  RdsIamSession,
  FrontEndRefusal,
  TokenRefusal,
  TestCertificate,
} from './rds-iam.js';
