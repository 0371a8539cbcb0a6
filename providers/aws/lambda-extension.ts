/**
 * `LambdaExtensionProvider`: database credentials from the AWS Parameters and Secrets Lambda
 * Extension, or from the AWS Secrets Manager Agent, over their local HTTP endpoint. No AWS SDK
 * is loaded: the extension holds the AWS credentials and the cache.
 *
 * @packageDocumentation
 */

import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { isLoopback } from '../../lib/loopback.js';
import { performance } from 'node:perf_hooks';
import { linkSignals, sleep } from '../../lib/abort.js';
import { backoffDelay } from '../../lib/backoff.js';
import { sameCredentials, sealCredentials, type Credentials, type SealedCredentials } from '../../lib/credentials.js';
import { ClosedError, InvalidOptionError } from '../../lib/errors.js';
import { SecretsManagerError } from './errors.js';
import { bool, duration, expectObject, integer, rejectUnknownKeys, string } from '../../lib/options.js';
import type { Poller } from '../../lib/poller.js';
import { secretsManagerPoller } from './poller.js';
import { checkSubscriber, isProvider, type CredentialsProvider, type FetchContext } from '../../lib/provider.js';
import { AWSCURRENT, AWSPENDING, parseSecretString, secretSource } from './secret-json.js';
import { toSecretsManagerError } from './sdk.js';

/**
 * The extension's default port, used when neither the `port` option nor the environment
 * variable {@link EXTENSION_PORT_ENV} says otherwise.
 * @example
 * ```ts
 * const url = `http://localhost:${process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT ?? DEFAULT_EXTENSION_PORT}`;
 * ```
 */
export const DEFAULT_EXTENSION_PORT = 2773;
/**
 * The environment variable that configures the extension's port (the extension reads it too).
 * @example
 * ```ts
 * process.env[EXTENSION_PORT_ENV] = '2775';
 * ```
 */
export const EXTENSION_PORT_ENV = 'PARAMETERS_SECRETS_EXTENSION_HTTP_PORT';
/**
 * The request header that carries the token. The Lambda extension expects the function's
 * `AWS_SESSION_TOKEN` in it; the Secrets Manager Agent expects its SSRF token in it.
 * @example
 * ```ts
 * await fetch(url, { headers: { [EXTENSION_TOKEN_HEADER]: process.env.AWS_SESSION_TOKEN ?? '' } });
 * ```
 */
export const EXTENSION_TOKEN_HEADER = 'X-Aws-Parameters-Secrets-Token';
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

/** Backoff while the extension is starting: 25 ms, doubling, at most 250 ms apart. */
const STARTUP_BACKOFF_BASE_MS = 25;
const STARTUP_BACKOFF_CAP_MS = 250;
/** A GetSecretValue answer holds at most a 64 KiB secret; anything much larger is not one. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const RESPONSE_TOO_LARGE = 'ERR_CREDSWAP_RESPONSE_TOO_LARGE';
/** Characters of an unexpected answer's body quoted in a message. */
const MAX_QUOTED_CHARS = 120;

/** Error names (`SecretsManagerError.awsError`) for failures of the extension itself. */
const UNREACHABLE = 'ExtensionUnreachable';
const NOT_READY = 'ExtensionNotReady';
const CONNECTION_ERROR = 'ConnectionError';
const TOKEN_REJECTED = 'ExtensionTokenRejected';
const MISSING_TOKEN = 'MissingSessionToken';
const REFRESH_NOW_UNSUPPORTED = 'RefreshNowUnsupported';
const INVALID_RESPONSE = 'InvalidExtensionResponse';
const EXTENSION_ERROR = 'ExtensionError';

/** Socket errors that mean "nothing listens there (yet)". */
const REFUSED_CODES = new Set(['ECONNREFUSED', 'EADDRNOTAVAIL', 'EHOSTUNREACH', 'ENETUNREACH']);

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

interface Version {
  readonly versionId: string | undefined;
  readonly credentials: SealedCredentials;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * Database credentials from the AWS Parameters and Secrets Lambda Extension (the Lambda layer)
 * or the AWS Secrets Manager Agent, read with
 * `GET /secretsmanager/get?secretId=...&versionStage=...` on a loopback port, with the
 * `X-Aws-Parameters-Secrets-Token` header. The secret is the JSON that RDS, Aurora and the
 * AWS rotation functions store (`username`, `password`, `host`, `port`, `dbname`).
 *
 * - First connection: one request, usually answered from the extension's cache.
 * - After a 1045: one request with `refreshNow=true` (see {@link LambdaExtensionProviderOptions.refreshNow});
 *   if AWSCURRENT still holds the refused credentials, one request for AWSPENDING, whose
 *   credentials are returned during a single-user rotation. With no pending version the call
 *   returns `undefined` ("unchanged") and the pool keeps its cooldown.
 * - Cold start: a refused connection is retried for `startupRetryMs`; then `fallback`, if
 *   given, is asked instead.
 *
 * Errors are {@link SecretsManagerError}s naming the secret. Errors of Secrets Manager that the
 * extension passes on keep their name (`ResourceNotFoundException`, `AccessDeniedException`,
 * ...); the extension's own have these `awsError` names: `ExtensionUnreachable`,
 * `ExtensionNotReady`, `ConnectionError`, `RequestTimeout`, `TooManyRequests` (retryable) and
 * `ExtensionTokenRejected`, `MissingSessionToken`, `RefreshNowUnsupported`,
 * `InvalidExtensionResponse`, `ExtensionError` (not retryable, except `ExtensionError` for a
 * 5xx). Messages never contain the token or a secret value.
 *
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2/promise';
 * import { LambdaExtensionProvider } from 'credswap/aws';
 *
 * // Outside the handler: created once per execution environment.
 * const pool = createPool({
 *   host: process.env.DB_HOST,
 *   database: 'orders',
 *   credentials: new LambdaExtensionProvider({ secretId: 'prod/orders/mysql' }),
 * });
 *
 * export const handler = async () => {
 *   const [rows] = await pool.query('SELECT 1');
 *   return rows;
 * };
 * ```
 */
export class LambdaExtensionProvider implements CredentialsProvider {
  /** The provider's name in events and messages. Never a secret. */
  readonly name: string;
  /** The secret's name or ARN, as given. */
  readonly secretId: string;

  readonly #port: number | undefined;
  readonly #host: string;
  readonly #token: string | undefined;
  readonly #versionStage: string;
  readonly #usePending: boolean;
  readonly #refreshNow: 'auto' | boolean;
  readonly #requestTimeoutMs: number;
  readonly #startupRetryMs: number;
  readonly #fallback: CredentialsProvider | undefined;
  readonly #refreshIntervalMs: number;

  /** False once the endpoint rejected `refreshNow` (in `'auto'` mode). */
  #refreshNowAccepted = true;
  /** True after the startup retries ran out without an answer; an answer resets it. */
  #unreachable = false;
  /** The VersionId that had `versionStage` at the last read, and the last credentials handed out. */
  #stagedVersionId: string | undefined;
  #last: SealedCredentials | undefined;

  readonly #poller: Poller;
  #closed = false;
  #closePromise: Promise<void> | undefined;
  readonly #closing = new AbortController();

  /**
   * @throws InvalidOptionError for an unknown option, a wrong type, a non-loopback host or an
   * out-of-range number, naming the option (`LambdaExtensionProvider.host`). Nothing is
   * requested here.
   *
   * @example
   * ```ts
   * const provider = new LambdaExtensionProvider({ secretId: 'prod/orders/mysql' });
   * ```
   */
  constructor(options: LambdaExtensionProviderOptions) {
    const o = expectObject(options, 'LambdaExtensionProvider')!;
    rejectUnknownKeys(o, OPTION_KEYS, PREFIX);
    const secretId = string(o, 'secretId', PREFIX);
    if (secretId === undefined) throw new InvalidOptionError(`${PREFIX}secretId`, 'is required');
    this.secretId = secretId;
    this.#port = o.port === undefined ? undefined : integer(o, 'port', PREFIX, DEFAULT_EXTENSION_PORT, 1);
    if (this.#port !== undefined && this.#port > 65535) throw new InvalidOptionError(`${PREFIX}port`, 'must be at most 65535');
    const host = string(o, 'host', PREFIX, 'localhost')!;
    if (!isLoopback(host)) {
      throw new InvalidOptionError(
        `${PREFIX}host`,
        'must be a loopback address (localhost, 127.0.0.1, ::1): the request carries part of the AWS credentials',
      );
    }
    this.#host = host.startsWith('[') ? host.slice(1, -1) : host;
    this.#token = string(o, 'token', PREFIX);
    this.#versionStage = string(o, 'versionStage', PREFIX, AWSCURRENT)!;
    this.#usePending = bool(o, 'usePendingVersion', PREFIX, true) && this.#versionStage === AWSCURRENT;
    const refreshNow = o.refreshNow ?? 'auto';
    if (refreshNow !== 'auto' && typeof refreshNow !== 'boolean') {
      throw new InvalidOptionError(`${PREFIX}refreshNow`, "must be 'auto', true or false");
    }
    this.#refreshNow = refreshNow;
    this.#requestTimeoutMs = duration(o, 'requestTimeoutMs', PREFIX, DEFAULT_EXTENSION_REQUEST_TIMEOUT_MS, 1);
    this.#startupRetryMs = duration(o, 'startupRetryMs', PREFIX, DEFAULT_EXTENSION_STARTUP_RETRY_MS);
    this.#refreshIntervalMs = duration(o, 'refreshIntervalMs', PREFIX, DEFAULT_EXTENSION_REFRESH_INTERVAL_MS);
    if (o.fallback !== undefined && (!isProvider(o.fallback) || o.fallback === (this as unknown))) {
      throw new InvalidOptionError(`${PREFIX}fallback`, 'must be another provider (an object with name and getCredentials())');
    }
    this.#fallback = o.fallback as CredentialsProvider | undefined;
    this.name = string(o, 'name', PREFIX, `lambda-extension:${this.secretId}`)!;
    this.#poller = secretsManagerPoller(this.secretId, this.#refreshIntervalMs, () => this.#poll());
  }

  /**
   * The hot-swap callback: reads the secret from the extension. Resolves to credentials, or
   * `undefined` when they equal `current`. See the class description for what each reason asks.
   *
   * @throws SecretsManagerError naming the secret; `retryable` says whether a later call can help.
   * @throws InvalidCredentialsError when the secret is not usable database credentials.
   * @throws ClosedError after {@link LambdaExtensionProvider.close}.
   * @throws `signal.reason` once `signal` fires.
   *
   * @example
   * ```ts
   * const creds = await provider.getCredentials(AbortSignal.timeout(5000), undefined, { reason: 'initial' });
   * ```
   */
  async getCredentials(
    signal: AbortSignal,
    current: SealedCredentials | undefined,
    context: FetchContext,
  ): Promise<Credentials | undefined> {
    signal.throwIfAborted();
    if (this.#closed) throw this.#closedError();
    const reason = context?.reason ?? 'manual';
    const suspect = reason === 'rejected' || reason === 'manual';
    try {
      const staged = await this.#read(this.#versionStage, suspect, signal);
      if (!sameCredentials(staged.credentials, current)) return this.#handOut(staged.credentials);
      if (reason !== 'rejected' || !this.#usePending || current === undefined) return undefined;
      let pending: Version;
      try {
        pending = await this.#read(AWSPENDING, true, signal);
      } catch (error) {
        // No version has the label: no rotation is under way.
        if (error instanceof SecretsManagerError && error.awsError === 'ResourceNotFoundException') return undefined;
        throw error;
      }
      return sameCredentials(pending.credentials, current) ? undefined : this.#handOut(pending.credentials);
    } catch (error) {
      if (!this.#fallback || !isUnreachable(error) || this.#closed || signal.aborted) throw error;
      return this.#fallback.getCredentials(signal, current, context);
    }
  }

  /**
   * Starts background polling for this subscriber when `refreshIntervalMs` is not 0 (the
   * coordinator calls it after the first successful fetch). `onChange` receives the credentials
   * of a new AWSCURRENT version; `onError` a {@link SecretsManagerError} or
   * `InvalidCredentialsError`, after which polls back off. Errors thrown by `onChange` go to
   * `onError`; what `onError` throws is ignored.
   *
   * @returns a function that unsubscribes; the last one stops the timer.
   * @throws ClosedError after {@link LambdaExtensionProvider.close}.
   *
   * @example
   * ```ts
   * const unsubscribe = provider.subscribe((creds) => console.log('new user', creds.user), console.error);
   * ```
   */
  subscribe(onChange: (credentials: Credentials) => void, onError: (error: Error) => void): () => void {
    if (this.#closed) throw this.#closedError();
    checkSubscriber('LambdaExtensionProvider', onChange, onError);
    return this.#poller.subscribe(onChange, onError);
  }

  /**
   * Stops polling, aborts requests in flight (they reject with `ClosedError`) and closes the
   * `fallback` provider. Idempotent.
   *
   * @example
   * ```ts
   * await provider.close();
   * ```
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#poller.close();
    this.#closing.abort(this.#closedError());
    this.#last = undefined;
    await this.#fallback?.close?.();
  }

  #closedError(): ClosedError {
    return new ClosedError(`provider '${this.name}'`);
  }

  #handOut(credentials: SealedCredentials): SealedCredentials {
    this.#last = credentials;
    return credentials;
  }

  // ---------------------------------------------------------------- reading

  /**
   * Reads one version by stage. Retries refused connections and "not ready" answers for
   * `startupRetryMs` (unless the extension was found unreachable before), and repeats the
   * request without `refreshNow` when an endpoint rejects it in `'auto'` mode.
   */
  async #read(stage: string, suspect: boolean, signal: AbortSignal): Promise<Version> {
    const linked = linkSignals([signal, this.#closing.signal]);
    const started = performance.now();
    try {
      /** Set when this read dropped `refreshNow` after a 400; committed once that read succeeds. */
      let dropped = false;
      for (let attempt = 1; ; attempt++) {
        const refreshNow =
          !dropped && (this.#refreshNow === true || (this.#refreshNow === 'auto' && suspect && this.#refreshNowAccepted));
        let answer: Answer;
        try {
          answer = await this.#request(stage, refreshNow, linked.signal);
        } catch (error) {
          if (!(error instanceof SecretsManagerError) || !isStartupError(error)) throw error;
          const left = this.#startupRetryMs - (performance.now() - started);
          if (this.#unreachable || left <= 0) {
            this.#unreachable = true;
            throw error;
          }
          await sleep(Math.min(left, backoffDelay(attempt, STARTUP_BACKOFF_BASE_MS, STARTUP_BACKOFF_CAP_MS)), linked.signal);
          continue;
        }
        this.#unreachable = false;
        if (refreshNow && isBadRequest(answer)) {
          if (this.#refreshNow === 'auto') {
            // The Secrets Manager Agent before 1.1 answers 400 "unknown parameter: refreshNow";
            // other endpoints may word it differently. Ask once more without it.
            dropped = true;
            continue;
          }
          if (/refreshNow/i.test(answer.body)) {
            throw this.#error(
              REFRESH_NOW_UNSUPPORTED,
              `the extension at ${this.#where()} does not accept refreshNow (HTTP ${answer.status}); set the option refreshNow to 'auto' or false`,
              false,
            );
          }
        }
        if (dropped && answer.status === 200) this.#refreshNowAccepted = false;
        if (answer.status >= 400 && answer.status < 500 && isNotReady(answer)) {
          const left = this.#startupRetryMs - (performance.now() - started);
          if (left <= 0) throw this.#error(NOT_READY, `the extension at ${this.#where()} is still not ready after ${this.#startupRetryMs} ms`, true);
          await sleep(Math.min(left, backoffDelay(attempt, STARTUP_BACKOFF_BASE_MS, STARTUP_BACKOFF_CAP_MS)), linked.signal);
          continue;
        }
        const version = this.#parse(answer);
        if (stage === this.#versionStage) this.#stagedVersionId = version.versionId;
        return version;
      }
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
      throw error;
    } finally {
      linked.dispose();
    }
  }

  /** One GET. Resolves with any HTTP answer; rejects with a typed error when there is none. */
  async #request(stage: string, refreshNow: boolean, signal: AbortSignal): Promise<Answer> {
    const token = this.#token ?? process.env.AWS_SESSION_TOKEN;
    if (token === undefined || token === '') {
      throw this.#error(
        MISSING_TOKEN,
        "no token for the extension: AWS_SESSION_TOKEN is not set and the option 'token' is not given (outside Lambda, pass the Secrets Manager Agent's SSRF token as 'token')",
        false,
      );
    }
    const port = this.#resolvePort();
    const query = new URLSearchParams({ secretId: this.secretId, versionStage: stage });
    if (refreshNow) query.set('refreshNow', 'true');
    const linked = linkSignals([signal], this.#requestTimeoutMs);
    try {
      return await get(this.#host, port, `/secretsmanager/get?${query.toString()}`, token, linked.signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (linked.timedOut) {
        throw this.#error('RequestTimeout', `the extension at ${this.#where(port)} did not answer within ${this.#requestTimeoutMs} ms`, true, error);
      }
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && REFUSED_CODES.has(code)) {
        throw this.#error(
          UNREACHABLE,
          `nothing answers at ${this.#where(port)} (${code}); is the AWS Parameters and Secrets Lambda Extension layer (or the Secrets Manager Agent) installed, and is ${EXTENSION_PORT_ENV} right?`,
          true,
          error,
        );
      }
      if (code === RESPONSE_TOO_LARGE) {
        throw this.#error(INVALID_RESPONSE, `the answer from ${this.#where(port)} is larger than ${MAX_RESPONSE_BYTES} bytes; is something else listening on that port?`, false, error);
      }
      throw this.#error(CONNECTION_ERROR, `the request to the extension at ${this.#where(port)} failed (${typeof code === 'string' ? code : errorName(error)})`, true, error);
    } finally {
      linked.dispose();
    }
  }

  /** Turns an HTTP answer into a version, or throws the error it stands for. */
  #parse(answer: Answer): Version {
    const { status, body } = answer;
    const token = this.#token ?? process.env.AWS_SESSION_TOKEN ?? '';
    if (status === 200) {
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        // No cause: JSON.parse quotes its input, which may hold the secret.
        throw this.#error(INVALID_RESPONSE, `the answer from ${this.#where()} is not JSON; is something else listening on that port?`, false);
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        throw this.#error(INVALID_RESPONSE, `the answer from ${this.#where()} is not a GetSecretValue response`, false);
      }
      const out = json as { VersionId?: unknown; SecretString?: unknown; SecretBinary?: unknown };
      if (out.SecretString !== undefined && typeof out.SecretString !== 'string') {
        throw this.#error(INVALID_RESPONSE, `the answer from ${this.#where()} has a SecretString that is not a string`, false);
      }
      const parsed = parseSecretString(this.secretId, out.SecretString, { binary: out.SecretBinary !== undefined && out.SecretBinary !== null });
      return {
        versionId: typeof out.VersionId === 'string' ? out.VersionId : undefined,
        credentials: sealCredentials(parsed.credentials, secretSource(this.secretId)),
      };
    }
    const service = serviceError(answer);
    if (status === 401 || (status === 403 && service === undefined)) {
      throw this.#error(
        TOKEN_REJECTED,
        `the extension at ${this.#where()} refused the token (HTTP ${status}): the ${EXTENSION_TOKEN_HEADER} header must equal the token the extension started with (on Lambda, AWS_SESSION_TOKEN; for the Secrets Manager Agent, its SSRF token); check the option 'token' and AWS_SESSION_TOKEN`,
        false,
      );
    }
    if (service !== undefined) {
      const message = redact(service.message ?? `HTTP ${status}`, token);
      const cause = Object.assign(new Error(service.quoted ? message.slice(0, MAX_QUOTED_CHARS) : message), {
        name: service.type,
        $metadata: { httpStatusCode: status },
      });
      throw toSecretsManagerError(this.secretId, cause);
    }
    if (status === 429) {
      throw this.#error('TooManyRequests', `the extension at ${this.#where()} has too many connections open (HTTP 429)`, true);
    }
    const quoted = redact(body.trim(), token).slice(0, MAX_QUOTED_CHARS);
    throw this.#error(
      EXTENSION_ERROR,
      `the extension at ${this.#where()} answered HTTP ${status}${quoted ? `: ${quoted}` : ''}`,
      status >= 500,
    );
  }

  #resolvePort(): number {
    if (this.#port !== undefined) return this.#port;
    const env = process.env[EXTENSION_PORT_ENV];
    if (env === undefined || env.trim() === '') return DEFAULT_EXTENSION_PORT;
    const port = /^\s*\d{1,5}\s*$/.test(env) ? Number(env) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      throw new InvalidOptionError(`${PREFIX}port`, `has no value and the environment variable ${EXTENSION_PORT_ENV} is not a port number from 1 to 65535`);
    }
    return port;
  }

  #where(port?: number): string {
    let p = port ?? this.#port;
    if (p === undefined) {
      try {
        p = this.#resolvePort();
      } catch {
        return this.#host;
      }
    }
    return `${this.#host.includes(':') ? `[${this.#host}]` : this.#host}:${p}`;
  }

  #error(awsError: string, problem: string, retryable: boolean, cause?: unknown): SecretsManagerError {
    return new SecretsManagerError(this.secretId, awsError, problem, { retryable, cause });
  }

  // ---------------------------------------------------------------- polling

  /** One background read: the credentials of a moved `versionStage` label, if they are new. */
  async #poll(): Promise<Credentials | undefined> {
    const before = this.#stagedVersionId;
    const version = await this.#read(this.#versionStage, false, this.#closing.signal);
    // Only a moved label counts: after a switch to AWSPENDING credentials, the unchanged
    // AWSCURRENT version must not switch the pool back.
    const moved = version.versionId === undefined || version.versionId !== before;
    if (!moved || sameCredentials(version.credentials, this.#last)) return undefined;
    return this.#handOut(version.credentials);
  }
}

// ------------------------------------------------------------------ helpers

/** GETs `path` with the token header; resolves with status, headers and body (at most 1 MiB). */
function get(host: string, port: number, path: string, token: string, signal: AbortSignal): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest({
      host,
      port,
      path,
      method: 'GET',
      headers: { [EXTENSION_TOKEN_HEADER]: token, accept: 'application/json' },
      agent: false,
      signal,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          res.destroy();
          req.destroy(Object.assign(new Error(`the answer is larger than ${MAX_RESPONSE_BYTES} bytes`), { code: RESPONSE_TOO_LARGE }));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end();
  });
}

/**
 * A Secrets Manager error passed on by the extension: a JSON body with `__type` (the Secrets
 * Manager Agent's form, and the service's own), else the `x-amzn-errortype` header.
 */
function serviceError(answer: Answer): { type: string; message?: string; quoted?: boolean } | undefined {
  const text = answer.body.trim();
  if (text.startsWith('{')) {
    try {
      const json = JSON.parse(text) as { __type?: unknown; message?: unknown; Message?: unknown };
      if (typeof json.__type === 'string' && json.__type !== '') {
        const type = json.__type.includes('#') ? json.__type.slice(json.__type.lastIndexOf('#') + 1) : json.__type;
        const message = typeof json.message === 'string' ? json.message : typeof json.Message === 'string' ? json.Message : undefined;
        return { type, message };
      }
    } catch {
      // Not JSON after all.
    }
  }
  const header = answer.headers['x-amzn-errortype'];
  const type = typeof header === 'string' ? header.split(':')[0]?.trim() : undefined;
  if (type && answer.status !== 401) return { type, message: text || undefined, quoted: true };
  return undefined;
}

/** A 400 of the extension itself: not a Secrets Manager error, not "not ready". */
function isBadRequest(answer: Answer): boolean {
  return answer.status === 400 && serviceError(answer) === undefined && !isNotReady(answer);
}

/** The Lambda extension answers 400 "not ready to serve traffic, please wait" during the init phase. */
function isNotReady(answer: Answer): boolean {
  return /not ready/i.test(answer.body) && serviceError(answer) === undefined;
}

/** Errors worth retrying while the extension starts. */
function isStartupError(error: SecretsManagerError): boolean {
  return error.awsError === UNREACHABLE || error.awsError === CONNECTION_ERROR;
}

/** Errors that switch to the fallback provider. */
function isUnreachable(error: unknown): boolean {
  return error instanceof SecretsManagerError && (error.awsError === UNREACHABLE || error.awsError === NOT_READY);
}

function redact(text: string, token: string): string {
  return token.length >= 4 ? text.split(token).join('[redacted]') : text;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

