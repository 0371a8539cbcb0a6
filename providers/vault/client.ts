/**
 * The one place that loads `node-vault`, lazily, and the {@link VaultSession} that owns a Vault
 * client's token: it logs in (token, AppRole, Kubernetes), renews the token before it expires,
 * logs in again when it can no longer be renewed, gives every request a time limit, and turns
 * node-vault's errors into {@link VaultError}s that never contain a token or a secret.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { linkSignals, waitUnder } from '../../lib/abort.js';
import { backoffDelay, unrefTimer } from '../../lib/backoff.js';
import { ClosedError, InvalidOptionError } from '../../lib/errors.js';
import { VaultError } from './errors.js';
import { loadOptionalPeer } from '../../lib/optional.js';
import { expectObject } from '../../lib/options.js';
import { deadTokenError, isInvalidToken, toVaultError } from './errors.js';
import { logIn, lookUpToken, renewToken, type IssuedToken, type VaultRequestOptions, type VaultSend } from './login.js';
import { resolveSessionOptions, type NodeVaultFactory, type ResolvedSession, type VaultSdkClient, type VaultSessionOptions } from './options.js';

export type { NodeVaultClient } from './options.js';
export {
  DEFAULT_APPROLE_MOUNT,
  DEFAULT_KUBERNETES_JWT_PATH,
  DEFAULT_KUBERNETES_MOUNT,
  DEFAULT_VAULT_REQUEST_TIMEOUT_MS,
  VAULT_SESSION_OPTION_KEYS,
  resolveSessionOptions,
  vaultMount,
  vaultName,
  vaultPath,
} from './options.js';
export type {
  VaultAppRoleAuth,
  VaultAuth,
  VaultConnectionOptions,
  VaultKubernetesAuth,
  VaultSessionOptions,
  VaultTokenAuth,
} from './options.js';
export { toVaultError, vaultStatusOf } from './errors.js';
export type { VaultRequestOptions } from './login.js';

/**
 * The npm package credswap/vault needs (an optional peer dependency).
 * @example
 * ```ts
 * if (error instanceof MissingDependencyError && error.dependency === NODE_VAULT_PACKAGE) console.error('npm install node-vault');
 * ```
 */
export const NODE_VAULT_PACKAGE = 'node-vault';

/** The first retry of a failed background renewal or login; later ones back off exponentially. */
const RETRY_BASE_MS = 500;
/** The longest wait between retries of a failed background renewal or login. */
const RETRY_CAP_MS = 30_000;
const REDACTED = '[redacted]';

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

/** A change of the session's token, for providers whose leases live and die with it. */
export interface VaultTokenEvent {
  /**
   * `login`: a new token (first login, or again after `capped`/`lost`). `renewed`: its TTL was
   * extended. `capped`: it cannot be extended any more and ends at `endsAt` (leases it created
   * end with it). `lost`: Vault refused it (expired or revoked): the leases it created are gone.
   */
  readonly type: 'login' | 'renewed' | 'capped' | 'lost';
  /** Which token: 1 for the first, one more at every login. */
  readonly serial: number;
  /** When the token ends unless renewed, on the `performance.now()` clock; `undefined`: never. */
  readonly endsAt: number | undefined;
  /** True when `endsAt` cannot be moved by renewing. */
  readonly final: boolean;
}

/** The session's current token, without the token itself. */
export interface VaultTokenState {
  readonly serial: number;
  readonly endsAt: number | undefined;
  readonly final: boolean;
}

interface Token {
  readonly id: string;
  readonly serial: number;
  /** The TTL to ask for at each renewal, seconds. */
  readonly incrementS: number;
  endsAt: number | undefined;
  renewable: boolean;
  final: boolean;
}

const silentDebug = (): void => undefined;

/**
 * A Vault client and the token it uses: logs in on first use, renews the token at about two
 * thirds of its TTL (with jitter), logs in again (AppRole, Kubernetes) when renewal stops
 * extending it or Vault refuses it, and gives every request a time limit. Providers share the
 * work through {@link VaultSession.request}; a session is owned by one provider, which closes it.
 *
 * - Token auth: the token's TTL comes from `auth/token/lookup-self`; it is renewed with
 *   `auth/token/renew-self`. A token that can no longer be renewed is reported (it cannot be
 *   replaced without a login method).
 * - AppRole: `auth/<mount>/login` with the role id and secret id.
 * - Kubernetes: `auth/<mount>/login` with the service account token, read from `jwtPath` at
 *   every login (the kubelet rotates it).
 *
 * A 403 makes the session check its token (`lookup-self`): a token Vault no longer knows is
 * reported as `lost` (its leases are gone), replaced by a new login, and the request is tried
 * once more; a valid token that lacks a policy gives a non-retryable {@link VaultError}.
 *
 * @example
 * ```ts
 * const session = new VaultSession({ vault: { endpoint, auth: { appRole: { roleId, secretId } } } }, 'my-provider');
 * const answer = await session.read('secret/data/app', AbortSignal.timeout(10_000));
 * await session.close();
 * ```
 */
export class VaultSession {
  /** Time limit of each request, in milliseconds. */
  readonly requestTimeoutMs: number;
  readonly #owner: string;
  readonly #options: ResolvedSession;
  #client: Promise<VaultSdkClient> | undefined;
  #token: Token | undefined;
  #serial = 0;
  #login: Promise<Token> | undefined;
  /** Tokens Vault refused (token auth cannot use them again). */
  readonly #lostIds = new Set<string>();
  /** Secrets that must never appear in a message: tokens seen, the secret id, the last JWT. */
  readonly #secrets = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;
  readonly #closing = new AbortController();
  readonly #tokenListeners = new Set<(event: VaultTokenEvent) => void>();
  readonly #errorListeners = new Set<(error: Error) => void>();

  /**
   * @param options - the provider's `vault` and `client` options.
   * @param owner - names the provider in messages.
   * @throws InvalidOptionError for invalid options
   */
  constructor(options: VaultSessionOptions, owner: string) {
    const bag = expectObject(options, 'options')!;
    this.#options = resolveSessionOptions(bag, '');
    this.#owner = owner;
    this.requestTimeoutMs = this.#options.requestTimeoutMs;
    const auth = this.#options.auth;
    if (auth.kind === 'token' && auth.token !== undefined) this.#secrets.add(auth.token);
    if (auth.kind === 'appRole') this.#secrets.add(auth.secretId);
  }

  /** The current token's serial and end (never the token), or `undefined` before the first login. */
  get token(): VaultTokenState | undefined {
    const t = this.#token;
    return t === undefined ? undefined : { serial: t.serial, endsAt: t.endsAt, final: t.final };
  }

  /** Whether the session can get a new token by itself (AppRole, Kubernetes). */
  get canLogIn(): boolean {
    return this.#options.auth.kind !== 'token';
  }

  /** Listens to token changes; returns a function that stops listening. */
  onToken(listener: (event: VaultTokenEvent) => void): () => void {
    this.#tokenListeners.add(listener);
    return () => this.#tokenListeners.delete(listener);
  }

  /** Listens to failures of background work (renewal, login); returns a function that stops listening. */
  onError(listener: (error: Error) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Removes tokens and secret ids from a text. */
  readonly redact = (text: string): string => {
    let out = text;
    for (const secret of this.#secrets) if (secret.length >= 4) out = out.split(secret).join(REDACTED);
    return out;
  };

  /**
   * Sends one request with the session's token, logging in first when needed. `call` gets the
   * client and the request options to pass on (time limit, token header). Resolves with its
   * result and the serial of the token it was sent with (the token that owns a lease it
   * created). `path` names the request in errors.
   *
   * @throws VaultError (mapped by status), or `signal.reason` once `signal` fires
   */
  async request<T>(
    path: string,
    signal: AbortSignal,
    call: (client: VaultSdkClient, options: VaultRequestOptions) => Promise<T>,
  ): Promise<{ result: T; tokenSerial: number }> {
    signal.throwIfAborted();
    this.#checkOpen();
    for (let attempt = 1; ; attempt++) {
      const token = await this.#ensureToken(signal);
      try {
        const result = await this.#send(path, signal, (client, options) => call(client, options), token.id);
        return { result, tokenSerial: token.serial };
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        this.#checkOpen();
        if (attempt === 1 && isInvalidToken(error)) {
          const verdict = await this.#tokenLost(token, signal);
          if (verdict === 'retry') continue;
          if (verdict === 'dead') throw deadTokenError(path, toVaultError(path, error, this.redact));
        }
        throw toVaultError(path, error, this.redact);
      }
    }
  }

  /** `GET <path>`. */
  async read(path: string, signal: AbortSignal): Promise<VaultResponse> {
    return (await this.request(path, signal, (client, options) => client.read(path, options) as Promise<VaultResponse>)).result;
  }

  /** `POST <path>` with `data`. */
  async write(path: string, data: Record<string, unknown>, signal: AbortSignal): Promise<VaultResponse> {
    return (await this.request(path, signal, (client, options) => client.write(path, data, options) as Promise<VaultResponse>)).result;
  }

  /**
   * Stops renewing, aborts requests in flight and forgets the token. The token itself is not
   * revoked: it may own leases that outlive the session on purpose (`revokeOnClose: false`).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    this.#closing.abort(new ClosedError(`provider '${this.#owner}'`));
    this.#tokenListeners.clear();
    this.#errorListeners.clear();
    this.#token = undefined;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError(`provider '${this.#owner}'`);
  }

  /** One node-vault call under the request time limit, the caller's signal and the session's. */
  async #send<T>(
    path: string,
    signal: AbortSignal,
    call: (client: VaultSdkClient, options: VaultRequestOptions) => Promise<T>,
    token: string | undefined,
  ): Promise<T> {
    const linked = linkSignals([signal, this.#closing.signal], this.#options.requestTimeoutMs + 1_000);
    try {
      const client = await this.#getClient();
      linked.signal.throwIfAborted();
      const headers: Record<string, string> = token === undefined ? {} : { 'X-Vault-Token': token };
      const pending = call(client, { timeout: this.#options.requestTimeoutMs, headers });
      pending.catch(() => undefined); // abandoned below when a signal fires first
      return await new Promise<T>((resolve, reject) => {
        const onAbort = (): void => reject(linked.signal.reason);
        linked.signal.addEventListener('abort', onAbort, { once: true });
        pending.then(resolve, reject).finally(() => linked.signal.removeEventListener('abort', onAbort));
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
      if (linked.timedOut) {
        throw new VaultError(path, `no answer within ${this.#options.requestTimeoutMs} ms (will retry)`, { retryable: true });
      }
      throw error;
    } finally {
      linked.dispose();
    }
  }

  #getClient(): Promise<VaultSdkClient> {
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
      this.#client = undefined; // not cached: installing node-vault fixes the next call
      throw error;
    });
    return this.#client;
  }

  /** The current token, after a login (or, for token auth, a lookup) when there is none yet. */
  async #ensureToken(signal: AbortSignal): Promise<Token> {
    if (this.#token !== undefined) return this.#token;
    return this.#joinLogin(signal);
  }

  /** Joins the login in flight, or starts one. The shared work runs under the session's own signal. */
  #joinLogin(signal: AbortSignal): Promise<Token> {
    this.#login ??= this.#logIn().finally(() => {
      this.#login = undefined;
    });
    return waitUnder(this.#login, signal);
  }

  async #logIn(): Promise<Token> {
    const auth = this.#options.auth;
    const send: VaultSend = (path, call, token) => this.#send(path, this.#closing.signal, call, token);
    let issued: IssuedToken;
    if (auth.kind === 'token') {
      const id = auth.token ?? (await this.#clientToken());
      if (this.#lostIds.has(id)) throw deadTokenError('auth/token/lookup-self');
      this.#secrets.add(id);
      issued = await lookUpToken(send, id, this.redact).catch((error: unknown) => {
        if (error instanceof VaultError && error.statusCode === 403) this.#lostIds.add(id);
        throw error;
      });
    } else {
      issued = await logIn(auth, send, (secret) => this.#secrets.add(secret), this.redact);
    }
    if (this.#closed) throw new ClosedError(`provider '${this.#owner}'`);
    const token: Token = {
      id: issued.id,
      serial: ++this.#serial,
      incrementS: issued.incrementS,
      endsAt: issued.ttlS > 0 ? performance.now() + issued.ttlS * 1000 : undefined,
      renewable: issued.renewable,
      final: issued.ttlS > 0 && !issued.renewable,
    };
    this.#token = token;
    this.#failures = 0;
    await this.#adoptToken(token.id);
    this.#emitToken('login', token);
    this.#schedule();
    return token;
  }

  /** Puts the token on the client too, so that a client given by the user keeps working for its other calls. */
  async #adoptToken(id: string): Promise<void> {
    const client = await this.#getClient();
    client.token = id;
  }

  async #clientToken(): Promise<string> {
    const client = await this.#getClient();
    const id = client.token;
    if (typeof id !== 'string' || id === '') {
      throw new InvalidOptionError('client', "has no token; set one, or give 'vault.auth'");
    }
    return id;
  }

  /**
   * A request was refused with 403 using `token`. Checks whether Vault still knows the token:
   * if not, it is reported `lost` and replaced by a new login (`retry`), or, with token auth,
   * cannot be replaced (`dead`). `policy` when the token is valid: a policy refused the path.
   */
  async #tokenLost(token: Token, signal: AbortSignal): Promise<'retry' | 'policy' | 'dead'> {
    if (this.#lostIds.has(token.id)) return this.canLogIn ? 'retry' : 'dead';
    if (this.#token !== token) return 'retry'; // replaced meanwhile: try again with the new one
    try {
      await this.#send('auth/token/lookup-self', signal, (client, options) => client.tokenLookupSelf({ requestOptions: options }), token.id);
      return 'policy';
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (!isInvalidToken(error)) return 'policy';
    }
    this.#markLost(token);
    if (!this.canLogIn) return 'dead';
    await this.#joinLogin(signal);
    return 'retry';
  }

  #markLost(token: Token): void {
    this.#lostIds.add(token.id);
    if (this.#token !== token) return;
    token.final = true;
    token.renewable = false;
    token.endsAt = performance.now();
    this.#clearTimer();
    this.#emitToken('lost', token);
    // The next request logs in again (token auth: fails with a clear error).
    this.#token = undefined;
  }

  #emitToken(type: VaultTokenEvent['type'], token: Token): void {
    const event: VaultTokenEvent = { type, serial: token.serial, endsAt: token.endsAt, final: token.final };
    for (const listener of [...this.#tokenListeners]) {
      try {
        listener(event);
      } catch (error) {
        this.#report(error as Error);
      }
    }
  }

  #report(error: Error): void {
    for (const listener of [...this.#errorListeners]) {
      try {
        listener(error);
      } catch {
        // A listener's own failure has nowhere else to go.
      }
    }
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Schedules the next background step for the current token: a renewal at about two thirds of
   * its TTL, a login when it can no longer be renewed, or a retry after a failure.
   */
  #schedule(retry = false): void {
    this.#clearTimer();
    const token = this.#token;
    if (this.#closed || token === undefined || token.endsAt === undefined) return;
    const remaining = token.endsAt - performance.now();
    let delay: number;
    if (retry) {
      delay = backoffDelay(this.#failures, RETRY_BASE_MS, RETRY_CAP_MS);
      if (remaining > 0) {
        // Retry a few times before the token ends, closer together as the end nears.
        delay = Math.min(delay, Math.max(remaining / 2, 50));
      } else if (this.canLogIn) {
        token.final = true; // past its end without a renewal: only a new login helps
      } else {
        return;
      }
    } else {
      if (token.final && !this.canLogIn) return;
      delay = renewDelay(remaining);
    }
    this.#timer = unrefTimer(() => {
      this.#timer = undefined;
      void this.#background(token);
    }, delay);
  }

  /** Renews the token, or logs in again; failures are reported and retried with backoff. */
  async #background(token: Token): Promise<void> {
    if (this.#closed || this.#token !== token) return;
    try {
      if (token.final) {
        await this.#joinLogin(this.#closing.signal);
        return;
      }
      await this.#renew(token);
      this.#failures = 0;
      this.#schedule();
    } catch (error) {
      if (this.#closed) return;
      this.#failures += 1;
      this.#report(error as Error);
      if (this.#token === token) this.#schedule(true);
      else if (this.#token === undefined && this.canLogIn) {
        // Lost and the login failed: keep trying in the background.
        this.#timer = unrefTimer(() => {
          this.#timer = undefined;
          this.#joinLogin(this.#closing.signal).catch((e: unknown) => {
            if (!this.#closed) this.#report(e as Error);
          });
        }, backoffDelay(this.#failures, RETRY_BASE_MS, RETRY_CAP_MS));
      }
    }
  }

  async #renew(token: Token): Promise<void> {
    const path = 'auth/token/renew-self';
    let answer: { ttlS: number; renewable: boolean };
    try {
      answer = await renewToken((p, call, id) => this.#send(p, this.#closing.signal, call, id), token.id, token.incrementS);
    } catch (error) {
      if (this.#closed) throw error;
      if (isInvalidToken(error)) {
        this.#markLost(token);
        if (this.canLogIn) {
          await this.#joinLogin(this.#closing.signal);
          return;
        }
      }
      const mapped = toVaultError(path, error, this.redact);
      if (mapped instanceof VaultError && mapped.statusCode === 400) {
        // "lease is not renewable", "past the max TTL": this token ends as it is.
        this.#capped(token, token.endsAt);
        return;
      }
      throw mapped;
    } finally {
      // node-vault's renew-self sets the client's token from the answer; it is the same one.
      const client = await this.#getClient().catch(() => undefined);
      if (client !== undefined && this.#token !== undefined) client.token = this.#token.id;
    }
    const endsAt = performance.now() + answer.ttlS * 1000;
    if (answer.ttlS < token.incrementS || !answer.renewable) {
      this.#capped(token, endsAt);
      return;
    }
    token.endsAt = endsAt;
    this.#emitToken('renewed', token);
  }

  /** The token cannot be extended past `endsAt`: report it, and log in again now when possible. */
  #capped(token: Token, endsAt: number | undefined): void {
    token.endsAt = endsAt;
    token.final = true;
    token.renewable = false;
    this.#emitToken('capped', token);
    if (!this.canLogIn) {
      this.#report(
        new VaultError('auth/token/renew-self', `the token cannot be renewed any more and expires in ${Math.max(0, Math.round(((endsAt ?? 0) - performance.now()) / 1000))} s; give the provider a new token before then`, {
          retryable: false,
        }),
      );
      return;
    }
    // A fresh token now; the old one stays valid (with its leases) until it ends.
    this.#token = undefined;
    this.#joinLogin(this.#closing.signal).catch((error: unknown) => {
      if (this.#closed) return;
      this.#failures += 1;
      this.#report(error as Error);
      this.#token ??= token; // keep using the old one while it lasts; retry the login later
      this.#schedule(true);
    });
  }
}

/** When to renew something that lasts `remainingMs` more: at about two thirds, with up to 10% jitter earlier. */
export function renewDelay(remainingMs: number, random: () => number = Math.random): number {
  return Math.max(0, remainingMs * (2 / 3) * (1 - 0.1 * random()));
}
