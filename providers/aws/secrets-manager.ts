/**
 * `SecretsManagerProvider`: database credentials from an AWS Secrets Manager secret.
 *
 * @packageDocumentation
 */

import { linkSignals } from '../../lib/abort.js';
import { sameCredentials, sealCredentials, type Credentials, type SealedCredentials } from '../../lib/credentials.js';
import { ClosedError, InvalidOptionError } from '../../lib/errors.js';
import { SecretsManagerError } from './errors.js';
import { bool, duration, expectObject, rejectUnknownKeys, string } from '../../lib/options.js';
import type { Poller } from '../../lib/poller.js';
import { secretsManagerPoller } from './poller.js';
import type { CredentialsProvider, FetchContext } from '../../lib/provider.js';
import { AWSCURRENT, AWSPENDING, parseSecretString, secretSource } from './secret-json.js';
import {
  loadSecretsManagerSdk,
  toSecretsManagerError,
  type SecretsManagerClientConfig,
  type SecretsManagerClientLike,
  type SecretsManagerSdk,
  type SdkClient,
  asSdkClient,
  newSdkClient,
} from './sdk.js';

/**
 * Default of {@link SecretsManagerProviderOptions.refreshIntervalMs}: 5 minutes. Each refresh
 * is one `DescribeSecret` (no decryption); a value is fetched only when AWSCURRENT moved.
 * @example
 * ```ts
 * new SecretsManagerProvider({ secretId, refreshIntervalMs: DEFAULT_SECRET_REFRESH_INTERVAL_MS / 5 }); // every minute
 * ```
 */
export const DEFAULT_SECRET_REFRESH_INTERVAL_MS = 300_000;
/**
 * Default of {@link SecretsManagerProviderOptions.requestTimeoutMs}: 5 s per request.
 * @example
 * ```ts
 * new SecretsManagerProvider({ secretId, requestTimeoutMs: DEFAULT_SECRET_REQUEST_TIMEOUT_MS * 2 });
 * ```
 */
export const DEFAULT_SECRET_REQUEST_TIMEOUT_MS = 5_000;

/** Versions whose credentials are kept in memory: current, pending, previous and one spare. */
const CACHED_VERSIONS = 4;

const OPTION_KEYS = new Set([
  'secretId',
  'client',
  'clientConfig',
  'versionStage',
  'usePendingVersion',
  'refreshIntervalMs',
  'requestTimeoutMs',
  'name',
]);

/**
 * Options of {@link SecretsManagerProvider}.
 *
 * @example
 * ```ts
 * const options: SecretsManagerProviderOptions = {
 *   secretId: 'prod/orders/mysql',
 *   clientConfig: { region: 'eu-west-1' },
 * };
 * ```
 */
export interface SecretsManagerProviderOptions {
  /** The secret's name or ARN. */
  secretId: string;
  /**
   * A `SecretsManagerClient` of your own (credentials, retries, proxy...). credswap never
   * destroys it. Give either `client` or `clientConfig`, not both.
   *
   * @defaultValue a client created on first use from `clientConfig`, destroyed by `close()`
   */
  client?: SecretsManagerClientLike;
  /**
   * Configuration of the client credswap creates: `region`, `endpoint`, `credentials`, ...
   *
   * @defaultValue `{}`: region and credentials from the environment, as the SDK finds them
   */
  clientConfig?: SecretsManagerClientConfig;
  /**
   * The staging label to read.
   *
   * @defaultValue `'AWSCURRENT'`
   */
  versionStage?: string;
  /**
   * When the server refuses the credentials (1045) and AWSCURRENT has not changed, try the
   * version labelled AWSPENDING: during a single-user rotation, `setSecret` has already changed
   * the password in the database, and `finishSecret` has not yet moved AWSCURRENT. Only
   * applies when `versionStage` is AWSCURRENT.
   *
   * @defaultValue `true`
   */
  usePendingVersion?: boolean;
  /**
   * How often, in milliseconds, to look for a new AWSCURRENT version in the background, so that
   * an alternating-users rotation moves connections to the new user before the old one's
   * password changes. Each look is one `DescribeSecret`; the value is fetched only when the
   * version changed. Each interval is randomised between half and all of this value. `0`
   * turns background refresh off (rotation is still noticed at the first 1045).
   *
   * @defaultValue {@link DEFAULT_SECRET_REFRESH_INTERVAL_MS} (5 minutes)
   */
  refreshIntervalMs?: number;
  /**
   * Time limit, in milliseconds, of each request to Secrets Manager (SDK retries included).
   *
   * @defaultValue {@link DEFAULT_SECRET_REQUEST_TIMEOUT_MS}
   */
  requestTimeoutMs?: number;
  /**
   * The provider's name in events and messages.
   *
   * @defaultValue `secrets-manager:<secretId>`
   */
  name?: string;
}

interface Version {
  readonly versionId: string;
  readonly credentials: SealedCredentials;
}

/**
 * Database credentials from an AWS Secrets Manager secret: the JSON that RDS, Aurora and the
 * AWS rotation functions store (`username`, `password`, `host`, `port`, `dbname`), or an
 * RDS-managed `rds!...` secret with only `username` and `password` (the host then comes from
 * the pool options).
 *
 * - First connection: one `GetSecretValue`.
 * - After a 1045: one `DescribeSecret`, then the value of a version not seen before, at most
 *   two `GetSecretValue` calls: AWSCURRENT when it moved, else AWSPENDING (the single-user
 *   rotation window). The coordinator makes that once per rotation, however many connections
 *   failed.
 * - In the background: a `DescribeSecret` every `refreshIntervalMs`; a moved AWSCURRENT is
 *   fetched and starts a new generation. Throttling and server errors back off with jitter
 *   while the last good credentials stay in use.
 *
 * The AWS SDK (`@aws-sdk/client-secrets-manager`, an optional peer dependency) is loaded on
 * the first request, never by importing credswap. Needs `secretsmanager:GetSecretValue` and
 * `secretsmanager:DescribeSecret` on the secret (and `kms:Decrypt` for a customer managed key).
 * Without `DescribeSecret` it still works, with `GetSecretValue` calls instead.
 *
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2/promise';
 * import { SecretsManagerProvider } from 'credswap/aws';
 *
 * const pool = createPool({
 *   host: 'orders.cluster-abc.eu-west-1.rds.amazonaws.com',
 *   database: 'orders',
 *   credentials: new SecretsManagerProvider({ secretId: 'prod/orders/mysql' }),
 * });
 * ```
 */
export class SecretsManagerProvider implements CredentialsProvider {
  readonly name: string;
  /** The secret's name or ARN, as given. */
  readonly secretId: string;
  readonly #versionStage: string;
  readonly #usePending: boolean;
  readonly #refreshIntervalMs: number;
  readonly #requestTimeoutMs: number;
  readonly #userClient: SecretsManagerClientLike | undefined;
  readonly #clientConfig: SecretsManagerClientConfig;
  #client: Promise<{ sdk: SecretsManagerSdk; client: SdkClient }> | undefined;
  /** Recently seen versions, newest last. */
  readonly #versions: Version[] = [];
  /** The version id that had `versionStage` at the last look. */
  #stagedVersionId: string | undefined;
  #describeDenied = false;
  readonly #poller: Poller;
  #closed = false;
  readonly #abortOnClose = new AbortController();

  constructor(options: SecretsManagerProviderOptions) {
    const o = expectObject(options, 'options')!;
    rejectUnknownKeys(o, OPTION_KEYS, '');
    this.secretId = string(o, 'secretId', '')!;
    if (this.secretId === undefined) throw new InvalidOptionError('secretId', 'is required');
    if (o.client !== undefined && o.clientConfig !== undefined) {
      throw new InvalidOptionError('clientConfig', "cannot be combined with 'client'; configure your own client instead");
    }
    if (o.client !== undefined && typeof (o.client as { send?: unknown })?.send !== 'function') {
      throw new InvalidOptionError('client', 'must be a SecretsManagerClient (an object with send())');
    }
    this.#userClient = o.client as SecretsManagerClientLike | undefined;
    this.#clientConfig = expectObject(o.clientConfig, 'clientConfig', true) ?? {};
    this.#versionStage = string(o, 'versionStage', '', AWSCURRENT)!;
    this.#usePending = bool(o, 'usePendingVersion', '', true) && this.#versionStage === AWSCURRENT;
    this.#refreshIntervalMs = duration(o, 'refreshIntervalMs', '', DEFAULT_SECRET_REFRESH_INTERVAL_MS);
    this.#requestTimeoutMs = duration(o, 'requestTimeoutMs', '', DEFAULT_SECRET_REQUEST_TIMEOUT_MS, 1);
    this.name = string(o, 'name', '', `secrets-manager:${this.secretId}`)!;
    this.#poller = secretsManagerPoller(this.secretId, this.#refreshIntervalMs, () => this.#poll());
  }

  /** The hot-swap callback; see the class description for what each reason costs. */
  async getCredentials(
    signal: AbortSignal,
    current: SealedCredentials | undefined,
    context: FetchContext,
  ): Promise<Credentials | undefined> {
    signal.throwIfAborted();
    if (this.#closed) throw new ClosedError(`provider '${this.name}'`);
    if (context.reason === 'initial' || current === undefined) {
      return (await this.#getByStage(this.#versionStage, signal)).credentials;
    }
    const withPending = context.reason === 'rejected' && this.#usePending;
    const staged = await this.#lookStaged(signal, withPending);
    const candidates = [staged.stagedId];
    if (withPending) candidates.push(staged.pendingId);
    for (const versionId of candidates) {
      if (versionId === undefined) continue;
      const version =
        versionId === staged.fetched?.versionId
          ? staged.fetched
          : await this.#getVersion(versionId, signal).catch((error: unknown) => {
              // RotateSecret labels the new version AWSPENDING before createSecret gives it a value.
              if (versionId === staged.pendingId && isNotFound(error)) return undefined;
              throw error;
            });
      if (version && !sameCredentials(version.credentials, current)) return version.credentials;
    }
    return undefined;
  }

  /**
   * Starts background refresh (when `refreshIntervalMs` is not 0) for this subscriber; the
   * coordinator calls it after the first successful fetch.
   */
  subscribe(onChange: (credentials: Credentials) => void, onError: (error: Error) => void): () => void {
    return this.#poller.subscribe(onChange, onError);
  }

  /** Stops background refresh, aborts requests in flight and destroys the client credswap created. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.close();
    this.#abortOnClose.abort(new ClosedError(`provider '${this.name}'`));
    this.#versions.length = 0;
    const created = this.#userClient ? undefined : this.#client;
    this.#client = undefined;
    if (created) {
      try {
        (await created).client.destroy();
      } catch {
        // The SDK failed to load: nothing to destroy.
      }
    }
  }

  /**
   * Which versions have the configured stage and AWSPENDING now: one `DescribeSecret`, or,
   * when that is denied, `GetSecretValue` by stage (whose value is then at hand).
   */
  async #lookStaged(signal: AbortSignal, withPending: boolean): Promise<{ stagedId?: string; pendingId?: string; fetched?: Version }> {
    if (!this.#describeDenied) {
      try {
        const stages = await this.#describe(signal);
        let stagedId: string | undefined;
        let pendingId: string | undefined;
        for (const [versionId, labels] of Object.entries(stages)) {
          if (labels?.includes(this.#versionStage)) stagedId = versionId;
          if (labels?.includes(AWSPENDING) && !labels.includes(AWSCURRENT)) pendingId = versionId;
        }
        if (stagedId === undefined) {
          throw new SecretsManagerError(
            this.secretId,
            'ResourceNotFoundException',
            `no version has the staging label ${this.#versionStage}`,
            {
              retryable: false,
            },
          );
        }
        this.#stagedVersionId = stagedId;
        return { stagedId, pendingId };
      } catch (error) {
        if (!(error instanceof SecretsManagerError && error.awsError === 'AccessDeniedException' && !signal.aborted)) throw error;
        // Least-privilege policies often grant only GetSecretValue: carry on without DescribeSecret.
        this.#describeDenied = true;
        this.#poller.report(
          new SecretsManagerError(
            this.secretId,
            'AccessDeniedException',
            'DescribeSecret is denied; reading versions with GetSecretValue instead (grant secretsmanager:DescribeSecret for cheaper refreshes)',
            { retryable: false, cause: error },
          ),
        );
      }
    }
    const fetched = await this.#getByStage(this.#versionStage, signal);
    let pendingId: string | undefined;
    if (withPending) {
      const pending = await this.#getByStage(AWSPENDING, signal).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      pendingId = pending?.versionId;
    }
    return { stagedId: fetched.versionId, pendingId, fetched };
  }

  /** The credentials of a version, from memory when it was seen before (versions never change). */
  async #getVersion(versionId: string, signal: AbortSignal): Promise<Version> {
    const known = this.#versions.find((v) => v.versionId === versionId);
    if (known) return known;
    return this.#getSecretValue({ VersionId: versionId }, signal);
  }

  async #getByStage(stage: string, signal: AbortSignal): Promise<Version> {
    const version = await this.#getSecretValue({ VersionStage: stage }, signal);
    if (stage === this.#versionStage) this.#stagedVersionId = version.versionId;
    return version;
  }

  #remember(out: { VersionId?: string; SecretString?: string; SecretBinary?: unknown }): Version {
    const versionId = String(out.VersionId);
    const known = this.#versions.find((v) => v.versionId === versionId);
    if (known) return known;
    const parsed = parseSecretString(this.secretId, out.SecretString, {
      binary: out.SecretBinary !== undefined,
    });
    const version: Version = { versionId, credentials: sealCredentials(parsed.credentials, secretSource(this.secretId)) };
    this.#versions.push(version);
    if (this.#versions.length > CACHED_VERSIONS) this.#versions.shift();
    return version;
  }

  /** Sends one request with the request timeout and the caller's signal; errors become typed. */
  async #send<T>(
    operation: 'GetSecretValue' | 'DescribeSecret',
    signal: AbortSignal,
    request: (sdk: SecretsManagerSdk, client: SdkClient, abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const linked = linkSignals([signal, this.#abortOnClose.signal], this.#requestTimeoutMs);
    try {
      const { sdk, client } = await this.#getClient();
      linked.signal.throwIfAborted();
      return await request(sdk, client, linked.signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (this.#abortOnClose.signal.aborted) throw this.#abortOnClose.signal.reason;
      if (linked.timedOut) {
        throw new SecretsManagerError(this.secretId, 'RequestTimeout', `${operation} did not answer within ${this.#requestTimeoutMs} ms`, {
          retryable: true,
          cause: error,
        });
      }
      throw toSecretsManagerError(this.secretId, error);
    } finally {
      linked.dispose();
    }
  }

  #describe(signal: AbortSignal): Promise<Record<string, string[] | undefined>> {
    return this.#send('DescribeSecret', signal, async (sdk, client, abortSignal) => {
      const out = await client.send(new sdk.DescribeSecretCommand({ SecretId: this.secretId }), { abortSignal });
      return out.VersionIdsToStages ?? {};
    });
  }

  #getSecretValue(version: { VersionId: string } | { VersionStage: string }, signal: AbortSignal): Promise<Version> {
    return this.#send('GetSecretValue', signal, async (sdk, client, abortSignal) =>
      this.#remember(await client.send(new sdk.GetSecretValueCommand({ SecretId: this.secretId, ...version }), { abortSignal })),
    );
  }

  #getClient(): Promise<{ sdk: SecretsManagerSdk; client: SdkClient }> {
    this.#client ??= loadSecretsManagerSdk('SecretsManagerProvider').then(
      (sdk) => ({ sdk, client: asSdkClient(this.#userClient) ?? newSdkClient(sdk, this.#clientConfig) }),
      (error: unknown) => {
        this.#client = undefined; // not cached: installing the SDK fixes the next call
        throw error;
      },
    );
    return this.#client;
  }

  /** One background look: the credentials of a new version with the configured stage, if any. */
  async #poll(): Promise<Credentials | undefined> {
    const before = this.#stagedVersionId;
    const staged = await this.#lookStaged(this.#abortOnClose.signal, false);
    if (staged.stagedId === undefined || staged.stagedId === before) return undefined;
    return (staged.fetched ?? (await this.#getVersion(staged.stagedId, this.#abortOnClose.signal))).credentials;
  }
}

/** No such secret, version or label: for AWSPENDING, that just means no rotation is under way. */
function isNotFound(error: unknown): boolean {
  return error instanceof SecretsManagerError && error.awsError === 'ResourceNotFoundException';
}
