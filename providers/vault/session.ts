/**
 * {@link VaultSession}: the token a Vault provider's requests carry. It logs in (token,
 * AppRole, Kubernetes), renews the token before it expires, logs in again when it can no longer
 * be renewed, reports failures of that background work, and turns node-vault's errors into
 * {@link VaultError}s that never contain a token or a secret.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { waitUnder } from '../../lib/abort.js';
import { unrefTimer } from '../../lib/backoff.js';
import { ClosedError } from '../../lib/errors.js';
import { expectObject } from '../../lib/options.js';
import { redactText } from '../../lib/redact.js';
import { VaultClient, type VaultResponse } from './client.js';
import { deadTokenError, isInvalidToken, toVaultError, VaultError } from './errors.js';
import { logIn, lookUpToken, renewToken, type IssuedToken, type VaultRequestOptions, type VaultSend } from './login.js';
import { resolveSessionOptions, type ResolvedSession, type VaultSdkClient, type VaultSessionOptions } from './options.js';
import { backgroundRetryDelay, renewDelay, retryDelay } from './renewal.js';
import { SessionEvents } from './session-events.js';
import { issuedToken, tokenState, type Token, type VaultTokenEvent, type VaultTokenState } from './token.js';

export type { VaultTokenEvent, VaultTokenState } from './token.js';

/** The first retry of a failed background renewal or login; later ones back off exponentially. */
const RETRY_BASE_MS = 500;

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
  readonly #client: VaultClient;
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
  readonly #abortOnClose = new AbortController();
  readonly #events = new SessionEvents();
  /** Sends background requests (login, renewal) under the session's own signal only. */
  readonly #send: VaultSend = (path, call, token) => this.#client.send(path, this.#abortOnClose.signal, call, token);

  /**
   * @param options - the provider's `vault` and `client` options.
   * @param owner - names the provider in messages.
   * @throws InvalidOptionError for invalid options
   */
  constructor(options: VaultSessionOptions, owner: string) {
    const bag = expectObject(options, 'options')!;
    this.#options = resolveSessionOptions(bag, '');
    this.#owner = owner;
    this.#client = new VaultClient(this.#options, owner, this.#abortOnClose.signal);
    this.requestTimeoutMs = this.#options.requestTimeoutMs;
    const auth = this.#options.auth;
    if (auth.kind === 'token' && auth.token !== undefined) this.#secrets.add(auth.token);
    if (auth.kind === 'appRole') this.#secrets.add(auth.secretId);
  }

  /** The current token's serial and end (never the token), or `undefined` before the first login. */
  get token(): VaultTokenState | undefined {
    return this.#token === undefined ? undefined : tokenState(this.#token);
  }

  /** Whether the session can get a new token by itself (AppRole, Kubernetes). */
  get canLogIn(): boolean {
    return this.#options.auth.kind !== 'token';
  }

  /** Listens to token changes; returns a function that stops listening. */
  onToken(listener: (event: VaultTokenEvent) => void): () => void {
    return this.#events.onToken(listener);
  }

  /** Listens to failures of background work (renewal, login); returns a function that stops listening. */
  onError(listener: (error: Error) => void): () => void {
    return this.#events.onError(listener);
  }

  /** Removes the tokens, the secret id and the JWT the session has seen from a text. */
  readonly redact = (text: string): string => redactText(text, this.#secrets);

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
        const result = await this.#client.send(path, signal, call, token.id);
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
    this.#abortOnClose.abort(new ClosedError(`provider '${this.#owner}'`));
    this.#events.clear();
    this.#token = undefined;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError(`provider '${this.#owner}'`);
  }

  // --- logging in ----------------------------------------------------------------------------

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
    let issued: IssuedToken;
    if (auth.kind === 'token') {
      const id = auth.token ?? (await this.#client.ownToken());
      if (this.#lostIds.has(id)) throw deadTokenError('auth/token/lookup-self');
      this.#secrets.add(id);
      issued = await lookUpToken(this.#send, id, this.redact).catch((error: unknown) => {
        if (error instanceof VaultError && error.statusCode === 403) this.#lostIds.add(id);
        throw error;
      });
    } else {
      issued = await logIn(auth, this.#send, (secret) => this.#secrets.add(secret), this.redact);
    }
    if (this.#closed) throw new ClosedError(`provider '${this.#owner}'`);
    const token = issuedToken(issued, ++this.#serial);
    this.#token = token;
    this.#failures = 0;
    await this.#client.adoptToken(token.id);
    this.#events.token('login', token);
    this.#schedule();
    return token;
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
      await this.#client.send(
        'auth/token/lookup-self',
        signal,
        (client, options) => client.tokenLookupSelf({ requestOptions: options }),
        token.id,
      );
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
    this.#events.token('lost', token);
    // The next request logs in again (token auth: fails with a clear error).
    this.#token = undefined;
  }

  // --- renewing ------------------------------------------------------------------------------

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * The one place the token's timing is decided: the next background step for the current
   * token is a renewal at about two thirds of its time left ({@link renewDelay}), a login when
   * it can no longer be renewed, or a retry after a failure ({@link retryDelay}).
   */
  #schedule(retry = false): void {
    this.#clearTimer();
    const token = this.#token;
    if (this.#closed || token === undefined || token.endsAt === undefined) return;
    const remaining = token.endsAt - performance.now();
    let delay: number;
    if (retry && remaining > 0) {
      delay = retryDelay(this.#failures, remaining, RETRY_BASE_MS);
    } else if (retry) {
      if (!this.canLogIn) return;
      token.final = true; // past its end without a renewal: only a new login helps
      delay = backgroundRetryDelay(this.#failures, RETRY_BASE_MS);
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
        await this.#joinLogin(this.#abortOnClose.signal);
        return;
      }
      await this.#renew(token);
      this.#failures = 0;
      this.#schedule();
    } catch (error) {
      if (this.#closed) return;
      this.#failures += 1;
      this.#events.error(error as Error);
      if (this.#token === token) this.#schedule(true);
      else if (this.#token === undefined && this.canLogIn) {
        // Lost and the login failed: keep trying in the background.
        this.#timer = unrefTimer(
          () => {
            this.#timer = undefined;
            this.#joinLogin(this.#abortOnClose.signal).catch((e: unknown) => {
              if (!this.#closed) this.#events.error(e as Error);
            });
          },
          backgroundRetryDelay(this.#failures, RETRY_BASE_MS),
        );
      }
    }
  }

  async #renew(token: Token): Promise<void> {
    const path = 'auth/token/renew-self';
    let answer: { ttlS: number; renewable: boolean };
    try {
      answer = await renewToken(this.#send, token.id, token.incrementS);
    } catch (error) {
      if (this.#closed) throw error;
      if (isInvalidToken(error)) {
        this.#markLost(token);
        if (this.canLogIn) {
          await this.#joinLogin(this.#abortOnClose.signal);
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
      await this.#client.get().then(
        (client) => {
          if (this.#token !== undefined) client.token = this.#token.id;
        },
        () => undefined,
      );
    }
    const endsAt = performance.now() + answer.ttlS * 1000;
    if (answer.ttlS < token.incrementS || !answer.renewable) {
      this.#capped(token, endsAt);
      return;
    }
    token.endsAt = endsAt;
    this.#events.token('renewed', token);
  }

  /** The token cannot be extended past `endsAt`: report it, and log in again now when possible. */
  #capped(token: Token, endsAt: number | undefined): void {
    token.endsAt = endsAt;
    token.final = true;
    token.renewable = false;
    this.#events.token('capped', token);
    if (!this.canLogIn) {
      const leftS = Math.max(0, Math.round(((endsAt ?? 0) - performance.now()) / 1000));
      this.#events.error(
        new VaultError(
          'auth/token/renew-self',
          `the token cannot be renewed any more and expires in ${leftS} s; give the provider a new token before then`,
          {
            retryable: false,
          },
        ),
      );
      return;
    }
    // A fresh token now; the old one stays valid (with its leases) until it ends.
    this.#token = undefined;
    this.#joinLogin(this.#abortOnClose.signal).catch((error: unknown) => {
      if (this.#closed) return;
      this.#failures += 1;
      this.#events.error(error as Error);
      this.#token ??= token; // keep using the old one while it lasts; retry the login later
      this.#schedule(true);
    });
  }
}
