/**
 * The one place that loads `@aws-sdk/client-secrets-manager`, lazily, and that turns its errors
 * into {@link SecretsManagerError}s. Importing `credswap/aws` does not load the SDK: the first
 * request does.
 */

import { describeCause, isCredswapError } from '../../lib/errors.js';
import { SecretsManagerError } from './errors.js';
import { loadOptionalPeer } from '../../lib/optional.js';

/**
 * @internal The SDK module's type. A type-only reference: nothing is loaded at run time by it,
 * and it stays out of the published declarations, which must compile without the SDK.
 */
export type SecretsManagerSdk = typeof import('@aws-sdk/client-secrets-manager');
/** @internal The SDK's client type. */
export type SdkClient = import('@aws-sdk/client-secrets-manager').SecretsManagerClient;

/**
 * What credswap needs of a Secrets Manager client: any `SecretsManagerClient` of the AWS SDK v3
 * fits. Typed by shape, so credswap's declarations compile without the SDK installed.
 */
export interface SecretsManagerClientLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the SDK's overloaded generic send()
  send(command: any, options?: any): Promise<any>;
  destroy(): void;
}

/**
 * The configuration of the client credswap creates, passed to the SDK's `SecretsManagerClient`
 * as it is (`region`, `endpoint`, `credentials`, `maxAttempts`, ...). Typed by shape: the SDK's
 * own `SecretsManagerClientConfig` is assignable to it.
 */
export interface SecretsManagerClientConfig {
  region?: string | (() => Promise<string>);
  endpoint?: unknown;
  credentials?: unknown;
  maxAttempts?: number | (() => Promise<number>);
  [setting: string]: unknown;
}

/** @internal A client of the loaded SDK, from credswap's config type (the SDK checks it at run time). */
export function newSdkClient(sdk: SecretsManagerSdk, config: SecretsManagerClientConfig): SdkClient {
  return new sdk.SecretsManagerClient(config as import('@aws-sdk/client-secrets-manager').SecretsManagerClientConfig);
}

/** @internal A user's client, seen as the SDK's (it is one: {@link SecretsManagerClientLike} is its shape). */
export function asSdkClient(client: SecretsManagerClientLike | undefined): SdkClient | undefined {
  return client as SdkClient | undefined;
}

export const SDK_PACKAGE = '@aws-sdk/client-secrets-manager';

let loading: Promise<SecretsManagerSdk> | undefined;

/**
 * @internal Loads the SDK once per process, with `require` first so that Lambda's copy on
 * `NODE_PATH` is found. A missing package rejects with a {@link MissingDependencyError} naming
 * it; a later call tries again (the rejection is not cached), so installing the package does not
 * need a restart of a long-lived REPL.
 */
export function loadSecretsManagerSdk(neededBy = 'credswap/aws'): Promise<SecretsManagerSdk> {
  loading ??= loadOptionalPeer<SecretsManagerSdk & { default?: SecretsManagerSdk }>(SDK_PACKAGE, neededBy).then(
    // From import(), a CommonJS package's exports may sit under `default`.
    (mod) => (typeof mod.SecretsManagerClient === 'function' ? mod : (mod.default as SecretsManagerSdk)),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

/** What a fix looks like for each non-retryable error the service documents. */
const NOT_RETRYABLE: Record<string, string> = {
  ResourceNotFoundException: 'the secret (or the version asked for) does not exist; check the secret id, the region and the account',
  AccessDeniedException:
    'access denied; the caller needs secretsmanager:GetSecretValue and secretsmanager:DescribeSecret on this secret (and kms:Decrypt on its key when it uses a customer managed key)',
  DecryptionFailure:
    'the secret could not be decrypted with its KMS key; the caller needs kms:Decrypt on the key, and the key must be enabled',
  InvalidRequestException: 'the request is not valid for the secret in its current state (is it scheduled for deletion?)',
  InvalidParameterException: 'a parameter is not valid (check the secret id, version id or stage)',
  UnrecognizedClientException: 'the AWS credentials are not valid for this account or region',
  InvalidSignatureException: 'the request signature is not valid; check the AWS credentials and the clock',
  ExpiredTokenException: 'the AWS session token has expired',
};

/** Error names that mean "try again later". */
const RETRYABLE = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'InternalServiceError',
  'InternalFailure',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/**
 * Wraps what an SDK call threw as a {@link SecretsManagerError} for `secretId`. The service's own
 * message is kept (it names the secret, never its value); an aborted call is passed on as its
 * signal's reason, and credswap's own errors as they are.
 */
export function toSecretsManagerError(secretId: string, error: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted) return signal.reason;
  if (isCredswapError(error)) return error; // already typed: a parse error, a missing SDK, ...
  const e = error as { name?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number }; $fault?: unknown; code?: unknown };
  const name = typeof e?.name === 'string' ? e.name : 'Error';
  const status = e?.$metadata?.httpStatusCode;
  const hint = NOT_RETRYABLE[name];
  if (hint !== undefined) {
    return new SecretsManagerError(secretId, name, `${name}: ${hint}`, { retryable: false, cause: error });
  }
  const retryable =
    RETRYABLE.has(name) ||
    e?.$fault === 'server' ||
    (typeof status === 'number' && (status >= 500 || status === 429)) ||
    status === undefined; // no HTTP answer at all: a network error or a timeout
  return new SecretsManagerError(secretId, name, retryable ? `${describeCause(error)} (will retry)` : describeCause(error), {
    retryable,
    cause: error,
  });
}
