/**
 * The one place that loads `@aws-sdk/client-secrets-manager`, lazily, and that turns its errors
 * into {@link SecretsManagerError}s. Importing `credswap/aws` does not load the SDK: the first
 * request does.
 */

import { MissingDependencyError, SecretsManagerError, describeCause, isCredswapError } from '../../lib/errors.js';

/** The SDK module's type. A type-only import: nothing is loaded at run time by this line. */
export type SecretsManagerSdk = typeof import('@aws-sdk/client-secrets-manager');
/** The SDK's client type, for options that accept a user's own client. */
export type SecretsManagerClientLike = import('@aws-sdk/client-secrets-manager').SecretsManagerClient;
/** The SDK's client configuration type (region, endpoint, credentials, ...). */
export type SecretsManagerClientConfig = import('@aws-sdk/client-secrets-manager').SecretsManagerClientConfig;

export const SDK_PACKAGE = '@aws-sdk/client-secrets-manager';

let loading: Promise<SecretsManagerSdk> | undefined;

/**
 * Loads the SDK once per process. A missing package rejects with a
 * {@link MissingDependencyError} naming it; a later call tries again (the rejection is not
 * cached), so installing the package does not need a restart of a long-lived REPL.
 */
export function loadSecretsManagerSdk(neededBy = 'credswap/aws'): Promise<SecretsManagerSdk> {
  loading ??= import(SDK_PACKAGE).then(
    (mod: SecretsManagerSdk & { default?: SecretsManagerSdk }) =>
      // CommonJS interop: the namespace may hold the exports under `default`.
      typeof mod.SecretsManagerClient === 'function' ? mod : (mod.default as SecretsManagerSdk),
    (error: unknown) => {
      loading = undefined;
      if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' || (error as { code?: unknown }).code === 'MODULE_NOT_FOUND') {
        throw new MissingDependencyError(SDK_PACKAGE, neededBy, { cause: error });
      }
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
  DecryptionFailure: 'the secret could not be decrypted with its KMS key; the caller needs kms:Decrypt on the key, and the key must be enabled',
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
  return new SecretsManagerError(
    secretId,
    name,
    retryable ? `${describeCause(error)} (will retry)` : describeCause(error),
    { retryable, cause: error },
  );
}
