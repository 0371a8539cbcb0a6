/**
 * `VaultDatabaseProvider`: dynamic database credentials from Vault's database secrets engine,
 * with their leases renewed, replaced before they end, and revoked once the pool is done with
 * them.
 *
 * @packageDocumentation
 */

import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { waitUnder } from '../../lib/abort.js';
import { backoffDelay, unrefTimer } from '../../lib/backoff.js';
import { sealCredentials, type Credentials, type SealedCredentials } from '../../lib/credentials.js';
import { ClosedError } from '../../lib/errors.js';
import { VaultError } from './errors.js';
import { bool, expectObject, rejectUnknownKeys, string } from '../../lib/options.js';
import type { CredentialsProvider, FetchContext } from '../../lib/provider.js';
import { renewDelay, VaultSession, type VaultResponse, type VaultTokenEvent } from './client.js';
import { effectiveExpiresAt, isFinal, timeLeft, type Lease } from './lease.js';
import { VAULT_SESSION_OPTION_KEYS, vaultMount, vaultName, vaultPath, type VaultSessionOptions } from './options.js';

/**
 * Default of {@link VaultDatabaseProviderOptions.mount}: where the database secrets engine is mounted.
 * @example
 * ```ts
 * new VaultDatabaseProvider({ role: 'orders', mount: DEFAULT_VAULT_DATABASE_MOUNT, vault });
 * ```
 */
export const DEFAULT_VAULT_DATABASE_MOUNT = 'database';

/** The first retry of a failed background renewal or replacement; later ones back off exponentially. */
const RETRY_BASE_MS = 250;
/** The longest wait between retries of background work. */
const RETRY_CAP_MS = 30_000;

const OPTION_KEYS = new Set([...VAULT_SESSION_OPTION_KEYS, 'role', 'mount', 'revokeOnRetire', 'revokeOnClose', 'name']);

/**
 * Options of {@link VaultDatabaseProvider}. Give `vault` (address and login) or `client` (a
 * node-vault client of your own).
 *
 * @example
 * ```ts
 * const options: VaultDatabaseProviderOptions = {
 *   role: 'orders-app',
 *   vault: { endpoint: 'https://vault.internal:8200', auth: { kubernetes: { role: 'orders' } } },
 * };
 * ```
 */
export interface VaultDatabaseProviderOptions extends VaultSessionOptions {
  /** The database secrets engine role: credentials come from `GET <mount>/creds/<role>`. */
  role: string;
  /** @defaultValue {@link DEFAULT_VAULT_DATABASE_MOUNT} (`'database'`) */
  mount?: string;
  /**
   * Revoke a lease (`sys/leases/revoke`: Vault drops its database user) as soon as the pool has
   * closed the last connection that used it, instead of letting it run out.
   * @defaultValue `true`
   */
  revokeOnRetire?: boolean;
  /**
   * Revoke every lease the provider still holds when it is closed (`pool.end()`).
   * @defaultValue `true`
   */
  revokeOnClose?: boolean;
  /**
   * The provider's name in events and messages.
   * @defaultValue `vault-database:<mount>/<role>`
   */
  name?: string;
}

/**
 * Payload of the `lease` event of {@link VaultDatabaseProvider}. Carries no secret: the lease id
 * and the user name are not secret (Vault shows them in its audit log and `sys/leases/lookup`).
 *
 * - `issued`: new credentials (`GET <mount>/creds/<role>`);
 * - `renewed`: the lease was extended;
 * - `capped`: renewal no longer extends it (the role's `max_ttl`, or the end of the token that
 *   created it): `expiresAt` is its hard end, and the pool moves to new credentials before it;
 * - `revoked`: the provider revoked it (retired, closed);
 * - `expired`: it ended without the provider revoking it: it ran out, or Vault revoked it with
 *   the token that created it.
 *
 * @example
 * ```ts
 * provider.on('lease', (e: VaultLeaseEvent) => console.log(e.type, e.user, e.leaseId, Math.round(e.ttlMs / 1000)));
 * ```
 */
export interface VaultLeaseEvent {
  readonly type: 'issued' | 'renewed' | 'capped' | 'revoked' | 'expired';
  readonly leaseId: string;
  /** The database user the lease owns. */
  readonly user: string;
  /** When the lease ends unless renewed (epoch ms, from the local clock). */
  readonly expiresAt: number;
  /** How long it has left, in milliseconds (0 once it ended). */
  readonly ttlMs: number;
}

type Subscriber = { onChange: (credentials: Credentials) => void; onError: (error: Error) => void };

/**
 * Dynamic database credentials from HashiCorp Vault's database secrets engine: every lease
 * `GET <mount>/creds/<role>` returns is a database user of its own, which Vault drops when
 * the lease ends.
 *
 * - Deadlines are the local clock when the request was sent plus `lease_duration` (never
 *   Vault's timestamps; `performance.now()` for timers), so clock skew cannot stretch them.
 * - Leases are renewed (`sys/leases/renew`, asking for their original duration) at about two
 *   thirds of their time left, with jitter; each renewal moves the credentials' `expiresAt`.
 * - When a renewal returns less than was asked (the role's `max_ttl`), or the token that created
 *   the lease can no longer be renewed, the lease is `capped`: renewals stop and `expiresAt` is
 *   its hard end. The pool's coordinator asks for new credentials
 *   `min(rotation.refreshBeforeExpiryMs, time left / 3)` before that end, gets a new lease, and
 *   drains the connections of the old one; `retire()` then revokes it (`revokeOnRetire`).
 * - When the token is refused (expired, revoked: Vault revoked its leases with it), the session
 *   logs in again and the provider replaces the credentials at once.
 * - Sealed, rate-limited, standby or unreachable Vault: renewals are retried with backoff and
 *   jitter while the last good credentials stay in use, as long as their lease lasts.
 * - `close()` (called by `pool.end()`) revokes every lease still held (`revokeOnClose`).
 *
 * How much time the pool gets to drain: renewals happen with a third of the lease left, so when
 * one comes back capped at least a third of the lease duration remains, and the new
 * credentials arrive `min(rotation.refreshBeforeExpiryMs, that remainder / 3)` before the
 * hard end. Old connections must be closed by then: with `rotation.drain: 'force'`, keep
 * `rotation.drainTimeoutMs` below it (minus one login). With `default_ttl` of 10 minutes or
 * more and the default `refreshBeforeExpiryMs` (60 s), that is the full minute.
 *
 * Needs a policy with `read` on `<mount>/creds/<role>` and `update` on `sys/leases/renew` and
 * `sys/leases/revoke`. Emits `lease` events ({@link VaultLeaseEvent}).
 *
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2/promise';
 * import { VaultDatabaseProvider } from 'credswap/vault';
 *
 * const pool = createPool({
 *   host: 'orders.db.internal',
 *   database: 'orders',
 *   credentials: new VaultDatabaseProvider({
 *     role: 'orders-app',
 *     vault: { endpoint: 'https://vault.internal:8200', auth: { kubernetes: { role: 'orders' } } },
 *   }),
 *   rotation: { drain: 'force', drainTimeoutMs: 20_000 },
 * });
 * ```
 */
export class VaultDatabaseProvider extends EventEmitter implements CredentialsProvider {
  readonly name: string;
  /** The role, as given. */
  readonly role: string;
  /** The secrets engine's mount, as given or defaulted. */
  readonly mount: string;
  readonly #path: string;
  readonly #revokeOnRetire: boolean;
  readonly #revokeOnClose: boolean;
  readonly #session: VaultSession;
  /** Leases not yet ended or revoked, by user name. */
  readonly #leases = new Map<string, Lease>();
  /** The lease whose credentials the pool uses now. */
  #current: Lease | undefined;
  #issuing: Promise<Lease> | undefined;
  #replaceTimer: NodeJS.Timeout | undefined;
  #replaceFailures = 0;
  readonly #subscribers = new Set<Subscriber>();
  readonly #stopListening: Array<() => void> = [];
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #closeSignal = new AbortController();

  /**
   * @throws InvalidOptionError for unknown or invalid options
   */
  constructor(options: VaultDatabaseProviderOptions) {
    super();
    const bag = expectObject(options, 'options')!;
    rejectUnknownKeys(bag, OPTION_KEYS, '');
    this.role = vaultName(bag, 'role', '');
    this.mount = vaultMount(bag, 'mount', '', DEFAULT_VAULT_DATABASE_MOUNT);
    this.#path = vaultPath(this.mount, 'creds', this.role);
    this.#revokeOnRetire = bool(bag, 'revokeOnRetire', '', true);
    this.#revokeOnClose = bool(bag, 'revokeOnClose', '', true);
    this.name = string(bag, 'name', '', `vault-database:${this.mount}/${this.role}`)!;
    this.#session = new VaultSession({ vault: bag.vault, client: bag.client } as VaultSessionOptions, this.name);
    this.#stopListening.push(
      this.#session.onToken((event) => this.#onToken(event)),
      this.#session.onError((error) => this.#report(error)),
    );
  }

  /**
   * The hot-swap callback. `initial`, `rejected`, `manual`: new credentials (a new lease).
   * `expiring`: the current lease renewed when it still can be (same credentials, later
   * `expiresAt`), else new credentials.
   */
  async getCredentials(signal: AbortSignal, current: SealedCredentials | undefined, context: FetchContext): Promise<Credentials | undefined> {
    signal.throwIfAborted();
    this.#checkOpen();
    const lease = current === undefined ? undefined : this.#leases.get(current.user);
    if (context.reason === 'rejected' && lease !== undefined) this.#reject(lease);
    if (context.reason === 'expiring' && lease !== undefined && lease === this.#current && this.#canRenew(lease)) {
      try {
        await this.#renew(lease, signal);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        // Vault trouble is passed on (the coordinator retries while the lease lasts); a lease
        // Vault no longer renews is replaced below.
        if (!(error instanceof VaultError) || error.retryable) throw error;
      }
      // Renewed, or just capped: the same credentials with their new end. The coordinator asks
      // again before that end, and a capped lease is then replaced.
      if (lease.state === 'active') return lease.credentials;
    }
    if (context.reason === 'expiring' && lease !== undefined && lease === this.#current && this.#boundByDyingToken(lease)) {
      // Token auth whose token cannot be renewed: a new lease would end with the same token.
      // The session has reported it; nothing better can be had until the token is replaced.
      return undefined;
    }
    const issued = await this.#join(this.#issue(), signal);
    issued.delivered = true;
    return issued.credentials;
  }

  /**
   * Renewals and replacements found in the background are pushed to `onChange`: the same
   * credentials with a later `expiresAt` after a renewal, new credentials after the token was
   * lost. The coordinator subscribes after the first successful fetch.
   */
  subscribe(onChange: (credentials: Credentials) => void, onError: (error: Error) => void): () => void {
    const subscriber: Subscriber = { onChange, onError };
    this.#subscribers.add(subscriber);
    return () => {
      this.#subscribers.delete(subscriber);
    };
  }

  /**
   * The pool closed the last connection that used `credentials`: stop renewing their lease and,
   * with `revokeOnRetire`, revoke it (Vault drops the user).
   */
  async retire(credentials: SealedCredentials): Promise<void> {
    const lease = this.#leases.get(credentials.user);
    if (lease === undefined || lease === this.#current || this.#closed) return;
    this.#stopTimers(lease);
    if (!this.#revokeOnRetire) {
      this.#forget(lease);
      return;
    }
    await this.#revoke(lease, this.#closeSignal.signal);
  }

  /**
   * Stops renewals, revokes every lease still held (`revokeOnClose`), and closes the Vault
   * session. Rejects with the first revocation that failed (the others were still tried).
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#subscribers.clear();
    if (this.#replaceTimer) clearTimeout(this.#replaceTimer);
    this.#replaceTimer = undefined;
    for (const stop of this.#stopListening.splice(0)) stop();
    // A lease being issued now is revoked by #fetchLease itself once it arrives.
    await this.#issuing?.catch(() => undefined);
    const leases = [...this.#leases.values()];
    for (const lease of leases) this.#stopTimers(lease);
    let failure: unknown;
    if (this.#revokeOnClose && leases.length > 0) {
      // A signal of its own: close() aborts background work, not the revocations it asked for.
      const signal = AbortSignal.timeout(this.#session.requestTimeoutMs * 2 + 1_000);
      const results = await Promise.allSettled(leases.map((lease) => this.#revoke(lease, signal)));
      failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
    }
    this.#closeSignal.abort(new ClosedError(`provider '${this.name}'`));
    this.#leases.clear();
    this.#current = undefined;
    await this.#session.close();
    if (failure !== undefined) throw failure;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError(`provider '${this.name}'`);
  }

  /** Waits for shared work under the caller's signal: aborting stops the wait, not the work. */
  #join<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
    return waitUnder(work, signal);
  }

  // --- issuing -------------------------------------------------------------------------------

  /**
   * Gets a new lease (one at a time: concurrent callers share it) and makes it current. A lease
   * that no caller took (they all gave up waiting) is pushed to subscribers instead.
   */
  #issue(): Promise<Lease> {
    if (this.#issuing === undefined) {
      const issuing = this.#fetchLease().finally(() => {
        if (this.#issuing === issuing) this.#issuing = undefined;
      });
      this.#issuing = issuing;
      issuing.then(
        // Callers that got it mark it delivered within the same turn of the event loop.
        (lease) => setImmediate(() => (lease.delivered ? undefined : this.#push(lease))),
        () => undefined,
      );
    }
    return this.#issuing;
  }

  async #fetchLease(): Promise<Lease> {
    const sentAt = performance.now();
    const sentWall = Date.now();
    const { result, tokenSerial } = await this.#session.request(
      this.#path,
      this.#closeSignal.signal,
      (client, options) => client.read(this.#path, options) as Promise<VaultResponse>,
    );
    const data = result.data ?? {};
    const user = data.username;
    const password = data.password;
    const leaseId = result.lease_id;
    if (typeof user !== 'string' || user === '' || typeof password !== 'string' || typeof leaseId !== 'string' || leaseId === '') {
      throw new VaultError(this.#path, 'the answer has no lease_id, username or password; is this a database secrets engine role?', {
        statusCode: 200,
        retryable: false,
      });
    }
    const durationS = typeof result.lease_duration === 'number' && result.lease_duration > 0 ? result.lease_duration : 0;
    if (this.#closed) {
      // Closed while the request was under way: give the lease straight back.
      await this.#session.request('sys/leases/revoke', AbortSignal.timeout(this.#session.requestTimeoutMs), (client, options) =>
        client.revoke({ lease_id: leaseId, requestOptions: options }),
      ).catch(() => undefined);
      throw new ClosedError(`provider '${this.name}'`);
    }
    const token = this.#session.token;
    const lease: Lease = {
      leaseId,
      user,
      password,
      incrementS: durationS,
      renewable: result.renewable === true && durationS > 0,
      tokenSerial,
      endsAt: durationS > 0 ? sentAt + durationS * 1000 : Number.POSITIVE_INFINITY,
      expiresAt: durationS > 0 ? sentWall + durationS * 1000 : Number.POSITIVE_INFINITY,
      capped: false,
      tokenEndsAt: token?.serial === tokenSerial && token.final ? token.endsAt : undefined,
      state: 'active',
      rejected: false,
      credentials: undefined as unknown as SealedCredentials,
      renewing: undefined,
      renewTimer: undefined,
      endTimer: undefined,
      failures: 0,
      delivered: false,
    };
    this.#seal(lease);
    this.#leases.set(user, lease);
    this.#current = lease;
    this.#replaceFailures = 0;
    this.#emitLease('issued', lease);
    this.#schedule(lease);
    return lease;
  }

  /** Rebuilds the lease's credentials with its current end. */
  #seal(lease: Lease): void {
    const end = effectiveExpiresAt(lease);
    lease.credentials = sealCredentials(
      { user: lease.user, password: lease.password, ...(Number.isFinite(end) ? { expiresAt: end } : {}) },
      `provider '${this.name}'`,
    );
  }

  /** Replaces the current credentials in the background (the lease ended or its token was lost) and pushes them. */
  #replaceSoon(delayMs = 0): void {
    if (this.#closed || this.#replaceTimer !== undefined) return;
    this.#replaceTimer = unrefTimer(() => {
      this.#replaceTimer = undefined;
      if (this.#closed) return;
      this.#issue().then(
        (lease) => this.#push(lease),
        (error: unknown) => {
          if (this.#closed) return;
          this.#replaceFailures += 1;
          this.#report(error as Error);
          this.#replaceSoon(backoffDelay(this.#replaceFailures, RETRY_BASE_MS, RETRY_CAP_MS));
        },
      );
    }, delayMs);
  }

  #push(lease: Lease): void {
    lease.delivered = true;
    if (this.#closed || lease !== this.#current) return;
    for (const s of [...this.#subscribers]) s.onChange(lease.credentials);
  }

  // --- renewing ------------------------------------------------------------------------------

  /** The lease ends with its token, which cannot be replaced (token auth), and is still the session's token. */
  #boundByDyingToken(lease: Lease): boolean {
    const token = this.#session.token;
    return (
      lease.state === 'active' &&
      !lease.capped &&
      lease.tokenEndsAt !== undefined &&
      !this.#session.canLogIn &&
      token !== undefined &&
      token.serial === lease.tokenSerial &&
      timeLeft(lease) > 0
    );
  }

  #canRenew(lease: Lease): boolean {
    return lease.state === 'active' && !lease.rejected && !isFinal(lease) && timeLeft(lease) > 0;
  }

  /** Renews now (sharing a renewal under way). Rejects with a VaultError when it fails. */
  #renew(lease: Lease, signal: AbortSignal): Promise<void> {
    lease.renewing ??= this.#sendRenewal(lease).finally(() => {
      lease.renewing = undefined;
    });
    return this.#join(lease.renewing, signal);
  }

  async #sendRenewal(lease: Lease): Promise<void> {
    const sentAt = performance.now();
    const sentWall = Date.now();
    let answer: VaultResponse;
    try {
      ({ result: answer } = await this.#session.request('sys/leases/renew', this.#closeSignal.signal, (client, options) =>
        client.renew({ lease_id: lease.leaseId, increment: lease.incrementS, requestOptions: options }) as Promise<VaultResponse>,
      ));
    } catch (error) {
      if (error instanceof VaultError && error.statusCode === 400 && lease.state === 'active') {
        // "lease not found", "lease expired": Vault already ended it. "past the max TTL": it ends as it is.
        if (/max TTL/i.test(error.message)) this.#cap(lease);
        else this.#ended(lease, 'expired');
      }
      throw error;
    }
    if (lease.state !== 'active') return;
    const durationS = typeof answer.lease_duration === 'number' ? answer.lease_duration : 0;
    lease.endsAt = sentAt + durationS * 1000;
    lease.expiresAt = sentWall + durationS * 1000;
    lease.failures = 0;
    if (durationS < lease.incrementS) lease.capped = true;
    this.#seal(lease);
    this.#emitLease(isFinal(lease) ? 'capped' : 'renewed', lease);
    this.#schedule(lease);
    if (lease === this.#current) this.#push(lease);
  }

  /** Renewal stopped extending the lease: it ends at `endsAt`; the pool is told, and moves on before then. */
  #cap(lease: Lease): void {
    lease.capped = true;
    this.#seal(lease);
    this.#emitLease('capped', lease);
    this.#schedule(lease);
    if (lease === this.#current) this.#push(lease);
  }

  /** Timers of a lease: the next renewal (while it can be renewed) and its end. */
  #schedule(lease: Lease): void {
    this.#stopTimers(lease);
    if (this.#closed || lease.state !== 'active') return;
    const left = timeLeft(lease);
    if (!Number.isFinite(left)) return;
    lease.endTimer = unrefTimer(() => {
      lease.endTimer = undefined;
      if (lease.state === 'active' && timeLeft(lease) <= 0) this.#ended(lease, 'expired');
      else this.#schedule(lease);
    }, Math.max(0, left));
    if (!this.#canRenew(lease)) return;
    const delay = lease.failures > 0 ? Math.min(backoffDelay(lease.failures, RETRY_BASE_MS, RETRY_CAP_MS), Math.max(left / 2, 50)) : renewDelay(left);
    lease.renewTimer = unrefTimer(() => {
      lease.renewTimer = undefined;
      this.#renew(lease, this.#closeSignal.signal).catch((error: unknown) => {
        if (this.#closed || lease.state !== 'active') return;
        lease.failures += 1;
        this.#report(error as Error);
        this.#schedule(lease);
      });
    }, delay);
  }

  #stopTimers(lease: Lease): void {
    if (lease.renewTimer) clearTimeout(lease.renewTimer);
    if (lease.endTimer) clearTimeout(lease.endTimer);
    lease.renewTimer = undefined;
    lease.endTimer = undefined;
  }

  // --- ending --------------------------------------------------------------------------------

  /** The server refused the lease's credentials: stop renewing it; it is not handed out again. */
  #reject(lease: Lease): void {
    lease.rejected = true;
    if (lease.renewTimer) clearTimeout(lease.renewTimer);
    lease.renewTimer = undefined;
  }

  /** The lease ended without being revoked by the provider. The current one is replaced. */
  #ended(lease: Lease, type: 'expired' | 'revoked'): void {
    if (lease.state !== 'active') return;
    this.#forget(lease);
    this.#emitLease(type, lease);
    if (lease === this.#current && !this.#closed) this.#replaceSoon();
  }

  #forget(lease: Lease): void {
    lease.state = 'ended';
    this.#stopTimers(lease);
    if (this.#leases.get(lease.user) === lease) this.#leases.delete(lease.user);
  }

  async #revoke(lease: Lease, signal: AbortSignal): Promise<void> {
    if (lease.state !== 'active') return;
    await this.#session.request('sys/leases/revoke', signal, (client, options) =>
      client.revoke({ lease_id: lease.leaseId, requestOptions: options }),
    );
    if (lease.state !== 'active') return;
    this.#forget(lease);
    this.#emitLease('revoked', lease);
  }

  // --- the token -----------------------------------------------------------------------------

  #onToken(event: VaultTokenEvent): void {
    if (this.#closed) return;
    if (event.type === 'lost') {
      // Vault revoked every lease the token created along with it.
      for (const lease of [...this.#leases.values()]) {
        if (lease.tokenSerial === event.serial) this.#ended(lease, 'expired');
      }
      return;
    }
    if (!event.final || event.endsAt === undefined) return;
    // The token ends for good at endsAt, and its leases with it.
    for (const lease of this.#leases.values()) {
      if (lease.tokenSerial !== event.serial || lease.state !== 'active') continue;
      lease.tokenEndsAt = event.endsAt;
      this.#seal(lease);
      if (isFinal(lease)) this.#emitLease('capped', lease);
      this.#schedule(lease);
      if (lease === this.#current) this.#push(lease);
    }
  }

  // --- reporting -----------------------------------------------------------------------------

  #emitLease(type: VaultLeaseEvent['type'], lease: Lease): void {
    const ended = type === 'revoked' || type === 'expired';
    const expiresAt = effectiveExpiresAt(lease);
    const event: VaultLeaseEvent = {
      type,
      leaseId: lease.leaseId,
      user: lease.user,
      expiresAt,
      ttlMs: ended ? 0 : Math.max(0, Math.round(timeLeft(lease))),
    };
    try {
      this.emit('lease', event);
    } catch (error) {
      // A listener's exception must not break renewal or revocation.
      this.#report(error as Error);
    }
  }

  #report(error: Error): void {
    for (const s of [...this.#subscribers]) s.onError(error);
  }
}
