/**
 * `VaultKvProvider`: database credentials kept in a Vault KV version 2 secret.
 *
 * @packageDocumentation
 */

import { sameCredentials, sealCredentials, type Credentials, type SealedCredentials } from '../../lib/credentials.js';
import { ClosedError, InvalidCredentialsError } from '../../lib/errors.js';
import { VaultError } from './errors.js';
import { duration, expectObject, rejectUnknownKeys, string } from '../../lib/options.js';
import { intervalDelay, type Poller } from '../../lib/poller.js';
import { checkSubscriber, type CredentialsProvider, type FetchContext } from '../../lib/provider.js';
import { parseCredentialsText } from '../file/parse.js';
import { VAULT_SESSION_OPTION_KEYS, vaultMount, vaultName, vaultPath, type VaultSessionOptions } from './options.js';
import { VaultSession } from './session.js';
import { vaultPoller } from './poller.js';

/**
 * Default of {@link VaultKvProviderOptions.mount}: `'secret'`, the KV version 2 mount of a
 * new Vault.
 * @example
 * ```ts
 * new VaultKvProvider({ path: 'orders/mysql', mount: DEFAULT_VAULT_KV_MOUNT, vault });
 * ```
 */
export const DEFAULT_VAULT_KV_MOUNT = 'secret';
/**
 * Default of {@link VaultKvProviderOptions.refreshIntervalMs}: 1 minute. Each look is one read
 * of the secret's metadata; the secret itself is read only when its version changed.
 * @example
 * ```ts
 * new VaultKvProvider({ path: 'orders/mysql', vault, refreshIntervalMs: DEFAULT_VAULT_KV_REFRESH_INTERVAL_MS * 5 });
 * ```
 */
export const DEFAULT_VAULT_KV_REFRESH_INTERVAL_MS = 60_000;

/** Background looks that failed are retried after a backoff from this, up to the interval. */
const RETRY_BASE_MS = 1_000;

const OPTION_KEYS = new Set(['path', 'mount', 'refreshIntervalMs', 'name', ...VAULT_SESSION_OPTION_KEYS]);

/**
 * Options of {@link VaultKvProvider}.
 *
 * @example
 * ```ts
 * const options: VaultKvProviderOptions = {
 *   path: 'orders/mysql',
 *   vault: { endpoint: 'https://vault.internal:8200', auth: { appRole: { roleId, secretId } } },
 * };
 * ```
 */
export interface VaultKvProviderOptions extends VaultSessionOptions {
  /**
   * The secret's path inside the mount (`orders/mysql` for `secret/data/orders/mysql`). It
   * holds `username` (or `user`), `password`, and optionally `host`, `port`, `dbname` (or
   * `database`); other keys are ignored.
   */
  path: string;
  /**
   * Where the KV version 2 secrets engine is mounted.
   * @defaultValue {@link DEFAULT_VAULT_KV_MOUNT} (`'secret'`)
   */
  mount?: string;
  /**
   * How often, in milliseconds, to look for a new version in the background (one read of
   * `<mount>/metadata/<path>`; the secret is read only when `current_version` changed). Each
   * interval is randomised between half and all of this value. `0` turns background looks off
   * (a new version is still read after a refused login).
   * @defaultValue {@link DEFAULT_VAULT_KV_REFRESH_INTERVAL_MS} (60000)
   */
  refreshIntervalMs?: number;
  /**
   * The provider's name in events and messages.
   * @defaultValue `vault:<mount>/data/<path>`
   */
  name?: string;
}

interface Version {
  readonly version: number;
  readonly credentials: SealedCredentials;
}

/**
 * Database credentials from a KV version 2 secret (`GET <mount>/data/<path>`), for passwords
 * that something else rotates and writes to Vault as a new version.
 *
 * - First connection: one read of the secret.
 * - In the background (once the pool uses the credentials): a read of the secret's metadata
 *   every `refreshIntervalMs`; when `current_version` moved, the secret is read and new
 *   credentials are pushed to the pool.
 * - After a refused login (1045): the metadata, then the secret if its version moved.
 *
 * Failed reads (Vault sealed, unreachable, throttling) are retried with backoff and jitter and
 * reported as `rotation-error` events; the last good credentials stay in use. The policy needs
 * `read` on `<mount>/data/<path>` and `<mount>/metadata/<path>`; without the metadata, the
 * provider reads the secret itself each time (and says so once).
 *
 * Write the database password and the secret close together (change the database first, then
 * write the new version): between the two, new logins are refused.
 *
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2/promise';
 * import { VaultKvProvider } from 'credswap/vault';
 *
 * const pool = createPool({
 *   host: 'orders.db.internal',
 *   credentials: new VaultKvProvider({
 *     path: 'orders/mysql',
 *     vault: { endpoint: 'https://vault.internal:8200', auth: { token: process.env.VAULT_TOKEN! } },
 *   }),
 * });
 * ```
 */
export class VaultKvProvider implements CredentialsProvider {
  readonly name: string;
  /** The secret's path inside the mount. */
  readonly path: string;
  /** Where the KV version 2 engine is mounted. */
  readonly mount: string;
  readonly #refreshIntervalMs: number;
  readonly #session: VaultSession;
  readonly #dataPath: string;
  readonly #metadataPath: string;
  /** The version read last (what the pool has). */
  #last: Version | undefined;
  #metadataDenied = false;
  /** Reads are numbered when they start; only a read newer than the last committed one commits. */
  #seq = 0;
  #committed = 0;
  readonly #poller: Poller;
  #closed = false;
  readonly #abortOnClose = new AbortController();

  /**
   * @throws InvalidOptionError for an unknown option, a missing `path`, or an invalid `vault`
   * option, naming it. Nothing is sent to Vault here.
   *
   * @example
   * ```ts
   * const provider = new VaultKvProvider({ path: 'orders/mysql', mount: 'kv', vault: { endpoint, auth: { token } } });
   * ```
   */
  constructor(options: VaultKvProviderOptions) {
    const o = expectObject(options, 'options')!;
    rejectUnknownKeys(o, OPTION_KEYS, '');
    this.path = vaultName(o, 'path', '');
    this.mount = vaultMount(o, 'mount', '', DEFAULT_VAULT_KV_MOUNT);
    this.#refreshIntervalMs = duration(o, 'refreshIntervalMs', '', DEFAULT_VAULT_KV_REFRESH_INTERVAL_MS);
    this.#dataPath = `${this.mount}/data/${this.path}`;
    this.#metadataPath = `${this.mount}/metadata/${this.path}`;
    this.name = string(o, 'name', '', `vault:${this.#dataPath}`)!;
    this.#session = new VaultSession({ vault: o.vault, client: o.client } as VaultSessionOptions, this.name);
    this.#poller = vaultPoller(this.#session, this.#metadataPath, {
      nextDelay: intervalDelay(this.#refreshIntervalMs, RETRY_BASE_MS),
      look: () => this.#poll(),
    });
  }

  /**
   * The secret's current credentials: read at once for the first connection; otherwise only
   * when the metadata shows a new version. Resolves to `undefined` when they equal `current`.
   *
   * @throws VaultError naming the path (`retryable` tells whether trying later can help; 404:
   * no such secret, or its current version was deleted).
   * @throws InvalidCredentialsError naming the path and the key when the secret lacks a
   * username or password.
   * @throws ClosedError after {@link VaultKvProvider.close}, `signal.reason` once `signal` fires.
   *
   * @example
   * ```ts
   * const creds = await provider.getCredentials(AbortSignal.timeout(10_000), undefined, { reason: 'initial' });
   * ```
   */
  async getCredentials(
    signal: AbortSignal,
    current: SealedCredentials | undefined,
    context: FetchContext,
  ): Promise<Credentials | undefined> {
    signal.throwIfAborted();
    if (this.#closed) throw new ClosedError(`provider '${this.name}'`);
    let version: Version;
    if (context.reason === 'initial' || current === undefined || this.#last === undefined) {
      version = await this.#readData(signal);
    } else {
      version = (await this.#look(signal)) ?? this.#last;
    }
    return current !== undefined && sameCredentials(version.credentials, current) ? undefined : version.credentials;
  }

  /**
   * Starts background looks (when `refreshIntervalMs` is not 0) for this subscriber. `onChange`
   * receives the credentials of a new version that differ from the last ones; `onError` each
   * failed look (retried with backoff). The coordinator calls it after the first successful fetch.
   *
   * @returns a function that unsubscribes; the last one stops the timer.
   *
   * @example
   * ```ts
   * const unsubscribe = provider.subscribe((c) => console.log('new version for', c.user), console.error);
   * ```
   */
  subscribe(onChange: (credentials: Credentials) => void, onError: (error: Error) => void): () => void {
    if (this.#closed) throw new ClosedError(`provider '${this.name}'`);
    checkSubscriber('VaultKvProvider', onChange, onError);
    return this.#poller.subscribe(onChange, onError);
  }

  /**
   * Stops background looks and the token's renewal, and aborts requests in flight. The token is
   * not revoked. Idempotent; called by the pool's `end()`.
   *
   * @example
   * ```ts
   * await provider.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abortOnClose.abort(new ClosedError(`provider '${this.name}'`));
    this.#poller.close();
    this.#last = undefined;
    await this.#session.close();
  }

  /**
   * A version newer than the last one read, or `undefined` when there is none: the metadata
   * first, the secret only when `current_version` moved (or when the metadata is denied).
   */
  async #look(signal: AbortSignal): Promise<Version | undefined> {
    const known = this.#last?.version;
    if (!this.#metadataDenied) {
      try {
        const answer = await this.#session.read(vaultPath(this.mount, 'metadata', this.path), signal);
        const currentVersion = answer.data?.current_version;
        if (typeof currentVersion === 'number' && currentVersion === known) return undefined;
      } catch (error) {
        if (!(error instanceof VaultError && error.statusCode === 403 && !signal.aborted)) throw error;
        // A policy that grants only <mount>/data/<path>: carry on with reads of the secret.
        this.#metadataDenied = true;
        this.#poller.report(
          new VaultError(
            this.#metadataPath,
            `reading the metadata is denied; reading the secret '${this.#dataPath}' instead each time (grant read on the metadata for cheaper looks)`,
            { statusCode: 403, retryable: false, cause: error },
          ),
        );
      }
    }
    const version = await this.#readData(signal);
    return version.version === known ? undefined : version;
  }

  /**
   * Reads and parses the current version of the secret; it becomes the last one read unless a
   * read started later already settled (a secret deleted and written again starts at version 1).
   */
  async #readData(signal: AbortSignal): Promise<Version> {
    const seq = ++this.#seq;
    const answer = await this.#session.read(vaultPath(this.mount, 'data', this.path), signal);
    const source = `Vault path '${this.#dataPath}'`;
    const body = answer.data ?? {};
    const data = body.data;
    const metadata = (body.metadata ?? {}) as { version?: unknown };
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      // Vault answers a deleted or destroyed current version with `data: null`.
      throw new VaultError(this.#dataPath, 'the current version has no data (deleted or destroyed?); write a new version', {
        statusCode: 200,
        retryable: false,
      });
    }
    if (typeof metadata.version !== 'number') {
      throw new InvalidCredentialsError(source, "the answer has no 'metadata.version': is the mount KV version 2?", { key: 'version' });
    }
    const credentials = sealCredentials(parseCredentialsText(JSON.stringify(data), 'json', source), source);
    const version: Version = { version: metadata.version, credentials };
    if (!this.#closed && seq > this.#committed) {
      this.#committed = seq;
      this.#last = version;
    }
    return version;
  }

  /** One background look: the credentials of a new version, when they differ from the last ones. */
  async #poll(): Promise<Credentials | undefined> {
    const before = this.#last;
    const version = await this.#look(this.#abortOnClose.signal);
    const changed = before === undefined || (version !== undefined && !sameCredentials(before.credentials, version.credentials));
    return version !== undefined && this.#last === version && changed ? version.credentials : undefined;
  }
}
