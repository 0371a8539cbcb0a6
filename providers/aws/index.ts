/**
 * `credswap/aws`: database credentials from AWS Secrets Manager, directly or through the Lambda
 * secrets extension, a rotation handler for MySQL/MariaDB secrets, and RDS IAM authentication
 * tokens. The AWS SDK (`@aws-sdk/client-secrets-manager`, `@aws-sdk/rds-signer`, optional peer
 * dependencies) loads on first use, never on import.
 *
 * @packageDocumentation
 */

export { SecretsManagerProvider, DEFAULT_SECRET_REFRESH_INTERVAL_MS, DEFAULT_SECRET_REQUEST_TIMEOUT_MS } from './secrets-manager.js';
export type { SecretsManagerProviderOptions } from './secrets-manager.js';
export { parseSecretString } from './secret-json.js';
export type { ParsedSecret } from './secret-json.js';
export type { SecretsManagerClientConfig, SecretsManagerClientLike } from './sdk.js';
export { LambdaExtensionProvider } from './lambda-extension/provider.js';
export {
  DEFAULT_EXTENSION_REQUEST_TIMEOUT_MS,
  DEFAULT_EXTENSION_STARTUP_RETRY_MS,
  DEFAULT_EXTENSION_REFRESH_INTERVAL_MS,
} from './lambda-extension/options.js';
export type { LambdaExtensionProviderOptions } from './lambda-extension/options.js';
export { DEFAULT_EXTENSION_PORT, EXTENSION_PORT_ENV, EXTENSION_TOKEN_HEADER } from './lambda-extension/client.js';
export { createRotationHandler } from './rotation/handler.js';
export type { RotationHandler } from './rotation/handler.js';
export {
  DEFAULT_ROTATION_CONNECT_TIMEOUT_MS,
  DEFAULT_ROTATION_PASSWORD_LENGTH,
  DEFAULT_ROTATION_EXCLUDE_CHARACTERS,
  DEFAULT_CLONE_SUFFIX,
  DEFAULT_MASTER_SECRET_KEY,
} from './rotation/options.js';
export type { DiscardOldPassword, RotationHandlerOptions, RotationLogger, RotationStrategyName } from './rotation/options.js';
export type { RotationEvent, RotationStep } from './rotation/event.js';
export { MYSQL_MAX_USER_NAME_LENGTH } from './rotation/alternating-users.js';
export { SecretsManagerError, RotationStepError } from './errors.js';
export { RdsIamProvider, RDS_IAM_TOKEN_LIFETIME_MS, DEFAULT_RDS_PORT, DEFAULT_RDS_SSL } from './rds-iam.js';
export type { RdsIamProviderOptions, RdsIamPoolOptions } from './rds-iam.js';
export type { RdsSignerCredentials } from './rds-signer.js';
export type { ClearPasswordPlugin } from './rds-iam-plugin.js';
