/**
 * `LambdaExtensionProvider`: database credentials from the AWS Parameters and Secrets Lambda
 * Extension, or from the AWS Secrets Manager Agent, over their local HTTP endpoint. No AWS SDK
 * is loaded: the extension holds the AWS credentials and the cache.
 *
 * @packageDocumentation
 */

import { linkSignals } from '../../../lib/abort.js';
import { chain, tryNextProvider } from '../../../lib/chain.js';
import { sameCredentials, type Credentials, type SealedCredentials } from '../../../lib/credentials.js';
import { ClosedError } from '../../../lib/errors.js';
import type { Poller } from '../../../lib/poller.js';
import { checkSubscriber, type CredentialsProvider, type FetchContext } from '../../../lib/provider.js';
import { SecretsManagerError } from '../errors.js';
import { secretsManagerPoller } from '../poller.js';
import { AWSPENDING } from '../secret-json.js';
import {
  ExtensionClient,
  NOT_READY,
  REFRESH_NOW_UNSUPPORTED,
  isBadRequest,
  isNotReady,
  isStartupError,
  isUnreachable,
  type Answer,
  type ExtensionVersion,
} from './client.js';
import { readOptions, type ExtensionSettings, type LambdaExtensionProviderOptions } from './options.js';
import { StartupRetries } from './startup.js';

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
 * Errors that say the extension cannot be reached (`ExtensionUnreachable`, `ExtensionNotReady`)
 * are marked with `tryNextProvider()`, so in a `chain()` the next provider is asked.
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

  readonly #settings: ExtensionSettings;
  readonly #client: ExtensionClient;
  readonly #startup: StartupRetries;
  /** The extension, followed by `fallback` when one is given. */
  readonly #source: CredentialsProvider;

  /** False once the endpoint rejected `refreshNow` (in `'auto'` mode). */
  #refreshNowAccepted = true;
  /** The VersionId that had `versionStage` at the last read, and the last credentials handed out. */
  #stagedVersionId: string | undefined;
  #last: SealedCredentials | undefined;

  readonly #poller: Poller;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #abortOnClose = new AbortController();

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
    const settings = readOptions(options, this);
    this.#settings = settings;
    this.secretId = settings.secretId;
    this.name = settings.name;
    this.#client = new ExtensionClient(settings);
    this.#startup = new StartupRetries(settings.startupRetryMs);
    const extension: CredentialsProvider = {
      name: this.name,
      getCredentials: (signal, current, context) => this.#fromExtension(signal, current, context),
    };
    this.#source = settings.fallback ? chain(extension, settings.fallback) : extension;
    this.#poller = secretsManagerPoller(this.secretId, settings.refreshIntervalMs, () => this.#poll());
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
    return this.#source.getCredentials(signal, current, context);
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
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#poller.close();
    this.#abortOnClose.abort(this.#closedError());
    this.#last = undefined;
    await this.#source.close?.();
  }

  #closedError(): ClosedError {
    return new ClosedError(`provider '${this.name}'`);
  }

  #handOut(credentials: SealedCredentials): SealedCredentials {
    this.#last = credentials;
    return credentials;
  }

  /**
   * The extension's part of a call: the staged version, else (after a 1045) the pending one.
   * An unreachable extension's error is marked for the chain, which then asks `fallback`.
   */
  async #fromExtension(
    signal: AbortSignal,
    current: SealedCredentials | undefined,
    context: FetchContext,
  ): Promise<Credentials | undefined> {
    const reason = context?.reason ?? 'manual';
    const suspect = reason === 'rejected' || reason === 'manual';
    try {
      const staged = await this.#read(this.#settings.versionStage, suspect, signal);
      if (!sameCredentials(staged.credentials, current)) return this.#handOut(staged.credentials);
      if (reason !== 'rejected' || !this.#settings.usePending || current === undefined) return undefined;
      let pending: ExtensionVersion;
      try {
        pending = await this.#read(AWSPENDING, true, signal);
      } catch (error) {
        // No version has the label: no rotation is under way.
        if (error instanceof SecretsManagerError && error.awsError === 'ResourceNotFoundException') return undefined;
        throw error;
      }
      return sameCredentials(pending.credentials, current) ? undefined : this.#handOut(pending.credentials);
    } catch (error) {
      throw isUnreachable(error) ? tryNextProvider(error as SecretsManagerError) : error;
    }
  }

  /**
   * Reads one version by stage. Retries refused connections and "not ready" answers for
   * `startupRetryMs` (unless the extension was found unreachable before), and repeats the
   * request without `refreshNow` when an endpoint rejects it in `'auto'` mode.
   */
  async #read(stage: string, suspect: boolean, signal: AbortSignal): Promise<ExtensionVersion> {
    const { refreshNow: mode, startupRetryMs, versionStage } = this.#settings;
    const linked = linkSignals([signal, this.#abortOnClose.signal]);
    const startup = this.#startup.begin();
    try {
      /** Set when this read dropped `refreshNow` after a 400; committed once that read succeeds. */
      let dropped = false;
      for (let attempt = 1; ; attempt++) {
        const refreshNow = !dropped && (mode === true || (mode === 'auto' && suspect && this.#refreshNowAccepted));
        let answer: Answer;
        try {
          answer = await this.#client.request(stage, refreshNow, linked.signal);
        } catch (error) {
          if (!isStartupError(error)) throw error;
          await startup.noAnswer(error, attempt, linked.signal);
          continue;
        }
        startup.answered();
        if (refreshNow && isBadRequest(answer)) {
          if (mode === 'auto') {
            // The Secrets Manager Agent before 1.1 answers 400 "unknown parameter: refreshNow";
            // other endpoints may word it differently. Ask once more without it.
            dropped = true;
            continue;
          }
          if (/refreshNow/i.test(answer.body)) {
            throw this.#client.error(
              REFRESH_NOW_UNSUPPORTED,
              `the extension at ${this.#client.where()} does not accept refreshNow (HTTP ${answer.status}); set the option refreshNow to 'auto' or false`,
              false,
            );
          }
        }
        if (dropped && answer.status === 200) this.#refreshNowAccepted = false;
        if (answer.status >= 400 && answer.status < 500 && isNotReady(answer)) {
          await startup.notReady(attempt, linked.signal, () =>
            this.#client.error(NOT_READY, `the extension at ${this.#client.where()} is still not ready after ${startupRetryMs} ms`, true),
          );
          continue;
        }
        const version = this.#client.parse(answer);
        if (stage === versionStage) this.#stagedVersionId = version.versionId;
        return version;
      }
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (this.#abortOnClose.signal.aborted) throw this.#abortOnClose.signal.reason;
      throw error;
    } finally {
      linked.dispose();
    }
  }

  /** One background read: the credentials of a moved `versionStage` label, if they are new. */
  async #poll(): Promise<Credentials | undefined> {
    const before = this.#stagedVersionId;
    const version = await this.#read(this.#settings.versionStage, false, this.#abortOnClose.signal);
    // Only a moved label counts: after a switch to AWSPENDING credentials, the unchanged
    // AWSCURRENT version must not switch the pool back.
    const moved = version.versionId === undefined || version.versionId !== before;
    if (!moved || sameCredentials(version.credentials, this.#last)) return undefined;
    return this.#handOut(version.credentials);
  }
}
