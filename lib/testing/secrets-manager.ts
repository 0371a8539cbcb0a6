/**
 * A local AWS Secrets Manager for tests and rotation drills.
 *
 * {@link startSecretsManagerEmulator} starts an HTTP server on a loopback port that speaks the
 * service's JSON 1.1 protocol closely enough that the real `@aws-sdk/client-secrets-manager`
 * client, pointed at it with `endpoint`, cannot tell it from AWS: requests are SigV4-verified,
 * errors come back with AWS's names, status codes and wording, and staging labels
 * (`AWSCURRENT`, `AWSPENDING`, `AWSPREVIOUS`) move the way the service moves them.
 * `RotateSecret` runs rotation functions registered in-process through the four steps, and a
 * rotation can be held open between two steps to drill what clients do meanwhile.
 *
 * It implements `CreateSecret`, `GetSecretValue`, `DescribeSecret`, `PutSecretValue`,
 * `UpdateSecretVersionStage`, `ListSecretVersionIds`, `RotateSecret`, `CancelRotateSecret`,
 * `DeleteSecret`, `RestoreSecret` and `GetRandomPassword`. It does not import the AWS SDK.
 *
 * @example
 * ```ts
 * import { SecretsManagerClient, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
 * import { startSecretsManagerEmulator } from 'credswap/testing';
 *
 * const emulator = await startSecretsManagerEmulator();
 * try {
 *   emulator.putSecret('prod/db', { username: 'app', password: 'first' });
 *   const client = new SecretsManagerClient(emulator.clientConfig());
 *   const out = await client.send(new GetSecretValueCommand({ SecretId: 'prod/db' }));
 *   console.log(JSON.parse(out.SecretString!).username); // 'app'
 * } finally {
 *   await emulator.close();
 * }
 * ```
 *
 * @packageDocumentation
 */

export { startSecretsManagerEmulator, SecretsManagerEmulator } from './secrets-manager/emulator.js';
export {
  DEFAULT_EMULATOR_ACCESS_KEY_ID,
  DEFAULT_EMULATOR_ACCOUNT_ID,
  DEFAULT_EMULATOR_REGION,
  DEFAULT_EMULATOR_SECRET_ACCESS_KEY,
} from './secrets-manager/options.js';
export type { EmulatorClientConfig, SecretsManagerEmulatorOptions } from './secrets-manager/options.js';
export { SECRETS_MANAGER_MAX_VERSIONS } from './secrets-manager/store.js';
export type { EmulatedSecretVersion, PutSecretResult } from './secrets-manager/store.js';
export { SIGNATURE_MAX_SKEW_MS } from './secrets-manager/sigv4.js';
export { ROTATION_STEPS } from './secrets-manager/rotation-steps.js';
export type { RotationEvent, RotationHandler, RotationStep } from './secrets-manager/rotation-steps.js';
export type { RotationResult, WaitForRotationOptions } from './secrets-manager/rotations.js';
export type { PauseRotationOptions, RotationPause } from './secrets-manager/pauses.js';
export { SecretsManagerFaults } from './secrets-manager/faults.js';
export type { ErrorFaultOptions, FailFaultOptions, FaultMatch } from './secrets-manager/faults.js';
