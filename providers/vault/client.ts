/**
 * The node-vault client: the one place that loads `node-vault` (lazily, on the first request,
 * never on import), and {@link VaultClient}, which creates one client for a session and sends
 * each request under the request time limit, the caller's signal and the session's. Which
 * token a request carries is the session's business ({@link VaultSession}).
 *
 * @packageDocumentation
 */

import { linkSignals } from '../../lib/abort.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { loadOptionalPeer } from '../../lib/optional.js';
import { VaultError } from './errors.js';
import type { VaultRequestOptions } from './login.js';
import type { NodeVaultFactory, ResolvedSession, VaultSdkClient } from './options.js';

/**
 * The npm package credswap/vault needs (an optional peer dependency).
 * @example
 * ```ts
 * if (error instanceof MissingDependencyError && error.dependency === NODE_VAULT_PACKAGE) console.error('npm install node-vault');
 * ```
 */
export const NODE_VAULT_PACKAGE = 'node-vault';

let loading: Promise<NodeVaultFactory> | undefined;

/**
 * @internal Loads node-vault once per process, with `require` first so that a copy on
 * `NODE_PATH` is found. A missing package rejects with a {@link MissingDependencyError} naming
 * it; a later call tries again (the rejection is not cached).
 *
 * @example
 * ```ts
 * const vault = await loadNodeVault();
 * const client = vault({ endpoint: 'https://vault.internal:8200' });
 * ```
 */
export function loadNodeVault(neededBy = 'credswap/vault'): Promise<NodeVaultFactory> {
  loading ??= loadOptionalPeer<NodeVaultFactory & { default?: NodeVaultFactory }>(NODE_VAULT_PACKAGE, neededBy).then(
    // From import(), module.exports (the factory) arrives as `default`.
    (mod) => (typeof mod.default === 'function' ? mod.default : mod),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

/** A Vault answer, as node-vault resolves it. */
export interface VaultResponse {
  request_id?: string;
  lease_id?: string;
  lease_duration?: number;
  renewable?: boolean;
  data?: Record<string, unknown> | null;
  warnings?: string[] | null;
  auth?: {
    client_token?: string;
    lease_duration?: number;
    renewable?: boolean;
    policies?: string[];
  } | null;
}

const silentDebug = (): void => undefined;

/**
 * @internal The node-vault client of one session: the user's own (`client` option) or one
 * created on the first request (node-vault loads then), and each request sent through it
 * under a time limit.
 *
 * @example
 * ```ts
 * const client = new VaultClient(resolved, 'my-provider', closing.signal);
 * const answer = await client.send('secret/data/app', signal, (c, options) => c.read('secret/data/app', options), token);
 * ```
 */
export class VaultClient {
  readonly #options: ResolvedSession;
  readonly #owner: string;
  /** The session's: fires when it closes. */
  readonly #closeSignal: AbortSignal;
  #client: Promise<VaultSdkClient> | undefined;

  /**
   * @param options - the session's validated options.
   * @param owner - names the provider in messages.
   * @param closing - fires when the session closes; requests in flight are then abandoned.
   */
  constructor(options: ResolvedSession, owner: string, closing: AbortSignal) {
    this.#options = options;
    this.#owner = owner;
    this.#closeSignal = closing;
  }

  /**
   * One node-vault call under the request time limit, `signal` and the session's signal, with
   * `token` in its `X-Vault-Token` header (none for a login). The time limit gives a retryable
   * {@link VaultError}; a signal gives its reason; node-vault's own errors pass through as
   * they are (the session maps them).
   */
  async send<T>(
    path: string,
    signal: AbortSignal,
    call: (client: VaultSdkClient, options: VaultRequestOptions) => Promise<T>,
    token: string | undefined,
  ): Promise<T> {
    const timeoutMs = this.#options.requestTimeoutMs;
    const linked = linkSignals([signal, this.#closeSignal], timeoutMs + 1_000);
    try {
      const client = await this.get();
      linked.signal.throwIfAborted();
      const headers: Record<string, string> = token === undefined ? {} : { 'X-Vault-Token': token };
      const pending = call(client, { timeout: timeoutMs, headers });
      pending.catch(() => undefined); // abandoned below when a signal fires first
      return await new Promise<T>((resolve, reject) => {
        const onAbort = (): void => reject(linked.signal.reason);
        linked.signal.addEventListener('abort', onAbort, { once: true });
        pending.then(resolve, reject).finally(() => linked.signal.removeEventListener('abort', onAbort));
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (this.#closeSignal.aborted) throw this.#closeSignal.reason;
      if (linked.timedOut) throw new VaultError(path, `no answer within ${timeoutMs} ms (will retry)`, { retryable: true });
      throw error;
    } finally {
      linked.dispose();
    }
  }

  /** The client, created once. A failure (node-vault missing) is not cached: installing it fixes the next call. */
  get(): Promise<VaultSdkClient> {
    this.#client ??= (async () => {
      if (this.#options.client !== undefined) return this.#options.client;
      const factory = await loadNodeVault(this.#owner);
      const client = factory({
        endpoint: this.#options.endpoint,
        ...(this.#options.namespace !== undefined ? { namespace: this.#options.namespace } : {}),
        // node-vault's debug channel prints request bodies (secret ids, JWTs): keep it silent.
        debug: silentDebug,
        requestOptions: { timeout: this.#options.requestTimeoutMs },
      });
      // node-vault falls back to VAULT_TOKEN; the session decides which token is sent.
      client.token = undefined as unknown as string;
      return client;
    })().catch((error: unknown) => {
      this.#client = undefined;
      throw error;
    });
    return this.#client;
  }

  /** Puts `id` on the client too, so that a client given by the user keeps working for its other calls. */
  async adoptToken(id: string): Promise<void> {
    const client = await this.get();
    client.token = id;
  }

  /**
   * The token already on the client (token auth without `vault.auth.token`).
   * @throws InvalidOptionError when it has none
   */
  async ownToken(): Promise<string> {
    const client = await this.get();
    const id = client.token;
    if (typeof id !== 'string' || id === '') {
      throw new InvalidOptionError('client', "has no token; set one, or give 'vault.auth'");
    }
    return id;
  }
}
