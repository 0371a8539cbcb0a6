/**
 * The options of `LambdaExtensionProvider`: their defaults, their types and their checks.
 *
 * @packageDocumentation
 */

import { InvalidOptionError } from '../../../lib/errors.js';
import { isLoopback } from '../../../lib/loopback.js';
import { bool, duration, expectObject, integer, rejectUnknownKeys, string } from '../../../lib/options.js';
import { isProvider, type CredentialsProvider } from '../../../lib/provider.js';
import { AWSCURRENT } from '../secret-json.js';
import { DEFAULT_EXTENSION_PORT, type ExtensionEndpoint } from './client.js';

/**
 * Default of {@link LambdaExtensionProviderOptions.requestTimeoutMs}: 5 s per request. A cache
 * miss makes the extension call Secrets Manager, which takes well under a second.
 * @example
 * ```ts
 * new LambdaExtensionProvider({ secretId, requestTimeoutMs: DEFAULT_EXTENSION_REQUEST_TIMEOUT_MS * 2 });
 * ```
 */
export const DEFAULT_EXTENSION_REQUEST_TIMEOUT_MS = 5_000;
/**
 * Default of {@link LambdaExtensionProviderOptions.startupRetryMs}: 2 s. On a cold start the
 * function's first request can reach the port before the extension listens.
 * @example
 * ```ts
 * new LambdaExtensionProvider({ secretId, startupRetryMs: DEFAULT_EXTENSION_STARTUP_RETRY_MS / 2 });
 * ```
 */
export const DEFAULT_EXTENSION_STARTUP_RETRY_MS = 2_000;
/**
 * Default of {@link LambdaExtensionProviderOptions.refreshIntervalMs}: 0, no background polling.
 * A Lambda execution environment is frozen between invocations, so a timer only fires when the
 * next invocation thaws it; the extension answers from its cache for up to 300 s anyway; and a
 * rotation is noticed at the first refused connection (1045), which asks past the cache.
 * @example
 * ```ts
 * // On ECS or EC2 with the Secrets Manager Agent, where processes are not frozen:
 * new LambdaExtensionProvider({ secretId, token, refreshIntervalMs: 300_000 });
 * ```
 */
export const DEFAULT_EXTENSION_REFRESH_INTERVAL_MS = 0;

const OPTION_KEYS = new Set([
  'secretId',
  'port',
  'host',
  'token',
  'versionStage',
  'usePendingVersion',
  'refreshNow',
  'requestTimeoutMs',
  'startupRetryMs',
  'fallback',
  'refreshIntervalMs',
  'name',
]);
const PREFIX = 'LambdaExtensionProvider.';

/**
 * Options of {@link LambdaExtensionProvider}.
 *
 * @example
 * ```ts
 * const options: LambdaExtensionProviderOptions = {
 *   secretId: 'prod/orders/mysql',
 *   fallback: new SecretsManagerProvider({ secretId: 'prod/orders/mysql' }),
 * };
 * ```
 */
export interface LambdaExtensionProviderOptions {
  /** The secret's name or ARN. */
  secretId: string;
  /**
   * The extension's port.
   * @defaultValue the environment variable `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`, read at
   * each request, else {@link DEFAULT_EXTENSION_PORT} (2773)
   */
  port?: number;
  /**
   * The extension's host. Only loopback addresses are accepted (`localhost`, `127.x.x.x`,
   * `::1`): the token sent with each request is part of the function's AWS credentials.
   * @defaultValue `'localhost'`
   */
  host?: string;
  /**
   * The token for the `X-Aws-Parameters-Secrets-Token` header. With the Secrets Manager Agent
   * outside Lambda, its SSRF token.
   * @defaultValue the environment variable `AWS_SESSION_TOKEN`, read at each request
   */
  token?: string;
  /**
   * The staging label to read.
   * @defaultValue `'AWSCURRENT'`
   */
  versionStage?: string;
  /**
   * When the server refuses the credentials (1045) and AWSCURRENT has not changed, read the
   * version labelled AWSPENDING: during a single-user rotation `setSecret` has already changed
   * the password in the database and `finishSecret` has not yet moved AWSCURRENT. Only applies
   * when `versionStage` is AWSCURRENT.
   * @defaultValue `true`
   */
  usePendingVersion?: boolean;
  /**
   * Whether to ask with `refreshNow=true`, which makes the Secrets Manager Agent (1.1 and
   * later) skip its cache and call Secrets Manager.
   * - `'auto'`: only when the cached value is suspect (after a 1045, or a manual refresh). An
   *   endpoint that answers 400 to it (Secrets Manager Agent 1.0: "unknown parameter:
   *   refreshNow") is asked again without it and, when that works, never with it again.
   * - `true`: on every request, so every read costs a `GetSecretValue`; an endpoint that
   *   rejects the parameter is an error.
   * - `false`: never.
   * @defaultValue `'auto'`
   */
  refreshNow?: 'auto' | boolean;
  /**
   * Time limit, in milliseconds, of each HTTP request to the extension.
   * @defaultValue {@link DEFAULT_EXTENSION_REQUEST_TIMEOUT_MS} (5000)
   */
  requestTimeoutMs?: number;
  /**
   * How long, in milliseconds, to keep asking while the port refuses connections or the
   * extension answers that it is not ready yet (cold start), with backoff from 25 ms to 250 ms.
   * Once that has run out without an answer, later calls ask once, until the extension answers.
   * @defaultValue {@link DEFAULT_EXTENSION_STARTUP_RETRY_MS} (2000)
   */
  startupRetryMs?: number;
  /**
   * A provider to ask instead when the extension cannot be reached after `startupRetryMs`
   * (nothing listens on the port, or it stays "not ready"), e.g. a `SecretsManagerProvider`.
   * Errors the extension answers with (a wrong token, a missing secret) do not switch to it.
   * `close()` closes it too; its `subscribe()` is not used.
   * @defaultValue none: the call fails with a retryable `SecretsManagerError`
   */
  fallback?: CredentialsProvider;
  /**
   * While subscribed, read the secret this often, in milliseconds (randomised between half and
   * all of it), and report a new AWSCURRENT version. Reads go through the extension's cache.
   * `0` turns polling off.
   * @defaultValue {@link DEFAULT_EXTENSION_REFRESH_INTERVAL_MS} (0; see there why)
   */
  refreshIntervalMs?: number;
  /**
   * The provider's name in events and messages.
   * @defaultValue `lambda-extension:<secretId>`
   */
  name?: string;
}

/** The options of one provider, checked, with their defaults applied. */
export interface ExtensionSettings extends ExtensionEndpoint {
  readonly versionStage: string;
  /** `usePendingVersion`, and only when `versionStage` is AWSCURRENT. */
  readonly usePending: boolean;
  readonly refreshNow: 'auto' | boolean;
  readonly startupRetryMs: number;
  readonly fallback: CredentialsProvider | undefined;
  readonly refreshIntervalMs: number;
  readonly name: string;
}

/**
 * Checks the options of a {@link LambdaExtensionProvider} and applies their defaults. `self` is
 * the provider being built: it cannot be its own fallback.
 *
 * @throws InvalidOptionError for an unknown option, a wrong type, a non-loopback host or an
 * out-of-range number, naming the option (`LambdaExtensionProvider.host`).
 */
export function readOptions(options: unknown, self: unknown): ExtensionSettings {
  const o = expectObject(options, 'LambdaExtensionProvider')!;
  rejectUnknownKeys(o, OPTION_KEYS, PREFIX);
  const secretId = string(o, 'secretId', PREFIX);
  if (secretId === undefined) throw new InvalidOptionError(`${PREFIX}secretId`, 'is required');
  const port = o.port === undefined ? undefined : integer(o, 'port', PREFIX, DEFAULT_EXTENSION_PORT, 1);
  if (port !== undefined && port > 65535) throw new InvalidOptionError(`${PREFIX}port`, 'must be at most 65535');
  const host = string(o, 'host', PREFIX, 'localhost')!;
  if (!isLoopback(host)) {
    throw new InvalidOptionError(
      `${PREFIX}host`,
      'must be a loopback address (localhost, 127.0.0.1, ::1): the request carries part of the AWS credentials',
    );
  }
  const token = string(o, 'token', PREFIX);
  const versionStage = string(o, 'versionStage', PREFIX, AWSCURRENT)!;
  const usePending = bool(o, 'usePendingVersion', PREFIX, true) && versionStage === AWSCURRENT;
  const refreshNow = o.refreshNow ?? 'auto';
  if (refreshNow !== 'auto' && typeof refreshNow !== 'boolean') {
    throw new InvalidOptionError(`${PREFIX}refreshNow`, "must be 'auto', true or false");
  }
  const requestTimeoutMs = duration(o, 'requestTimeoutMs', PREFIX, DEFAULT_EXTENSION_REQUEST_TIMEOUT_MS, 1);
  const startupRetryMs = duration(o, 'startupRetryMs', PREFIX, DEFAULT_EXTENSION_STARTUP_RETRY_MS);
  const refreshIntervalMs = duration(o, 'refreshIntervalMs', PREFIX, DEFAULT_EXTENSION_REFRESH_INTERVAL_MS);
  if (o.fallback !== undefined && (!isProvider(o.fallback) || o.fallback === self)) {
    throw new InvalidOptionError(`${PREFIX}fallback`, 'must be another provider (an object with name and getCredentials())');
  }
  return {
    secretId,
    host: host.startsWith('[') ? host.slice(1, -1) : host,
    port,
    token,
    requestTimeoutMs,
    versionStage,
    usePending,
    refreshNow,
    startupRetryMs,
    fallback: o.fallback,
    refreshIntervalMs,
    name: string(o, 'name', PREFIX, `lambda-extension:${secretId}`)!,
  };
}
