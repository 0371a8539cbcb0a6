/**
 * A local emulator of the AWS Parameters and Secrets Lambda Extension and of the AWS Secrets
 * Manager Agent: the HTTP endpoint a Lambda function (or a container) reads secrets from.
 *
 * It answers `GET /secretsmanager/get?secretId=...[&versionStage=...|&versionId=...][&refreshNow=true]`
 * as the real ones do: it checks the `X-Aws-Parameters-Secrets-Token` header, caches values for
 * `ttlMs`, and fetches from Secrets Manager with the real `@aws-sdk/client-secrets-manager`
 * client (pointed, in tests, at the Secrets Manager emulator). It can refuse connections for a
 * while after it starts, as an extension does on a cold start.
 *
 * Behaviour follows the Secrets Manager Agent's source (aws/aws-secretsmanager-agent) and, for
 * the Lambda extension (closed source), what its documentation and users report: see
 * {@link LambdaExtensionFlavor}.
 *
 * @example
 * ```ts
 * import { startLambdaExtensionEmulator, startSecretsManagerEmulator } from 'credswap/testing';
 *
 * const secretsManager = await startSecretsManagerEmulator();
 * const extension = await startLambdaExtensionEmulator({
 *   secretsManager: secretsManager.clientConfig(),
 *   token: 'test-session-token',
 * });
 * // GET http://127.0.0.1:${extension.port}/secretsmanager/get?secretId=... with the token header
 * await extension.close();
 * await secretsManager.close();
 * ```
 *
 * @packageDocumentation
 */

export { startLambdaExtensionEmulator } from './lambda-extension/emulator.js';
export type { LambdaExtensionCalls, LambdaExtensionEmulator } from './lambda-extension/emulator.js';
export { DEFAULT_EXTENSION_TTL_MS } from './lambda-extension/options.js';
export type { LambdaExtensionEmulatorOptions, LambdaExtensionFlavor } from './lambda-extension/options.js';
export type { LambdaExtensionRequest } from './lambda-extension/protocol.js';
