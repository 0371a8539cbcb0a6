/**
 * `VaultDatabaseProvider`: dynamic database credentials from Vault's database secrets engine.
 * It fetches a new lease when the coordinator asks; its {@link LeaseKeeper} keeps the leases
 * alive and revokes them once the pool is done with them.
 *
 * @packageDocumentation
 */

import { EventEmitter } from 'node:events';
import { waitUnder } from '../../lib/abort.js';
import { backoffDelay, unrefTimer } from '../../lib/backoff.js';
import type { Credentials, SealedCredentials } from '../../lib/credentials.js';
import { ClosedError } from '../../lib/errors.js';
import { bool, expectObject, rejectUnknownKeys, string } from '../../lib/options.js';
import type { CredentialsProvider, FetchContext } from '../../lib/provider.js';
import type { VaultResponse } from './client.js';
import { VaultError } from './errors.js';
import { sentNow, type Lease } from './lease.js';
import { LeaseKeeper } from './lease-keeper.js';
import {
  DEFAULT_VAULT_DATABASE_MOUNT,
  VAULT_SESSION_OPTION_KEYS,
  vaultMount,
  vaultName,
  vaultPath,
  type VaultSessionOptions,
} from './options.js';
import { VaultSession } from './session.js';

export type { VaultLeaseEvent } from './lease-keeper.js';

/** The first retry of a failed replacement; later ones back off exponentially. */
const RETRY_BASE_MS = 250;
/** The longest wait between retries of a replacement. */
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

type Subscriber = { onChange: (credentials: Credentials) => void; onError: (error: Error) => void };

/**
 * Dynamic database credentials from HashiCorp Vault's database secrets engine: every lease
 * `GET <mount>/creds/<role>` returns is a database user of its own, which Vault drops when
 * the lease ends.
 *
 * Who decides what:
 *
 * - The provider's lease keeper keeps each lease alive: it renews it (`sys/leases/renew`,
 *   asking for its original duration) at about two thirds of its time left, with jitter and
 *   retries, and pushes the same credentials with their new `expiresAt` after each renewal.
 *   Deadlines are the local clock when the request was sent plus `lease_duration` (never
 *   Vault's timestamps), so clock skew cannot stretch them.
 * - Once renewing can no longer extend a lease (a renewal returns less than was asked: the
 *   role's `max_ttl`; the token that created it ends first; Vault refuses the renewal for
 *   good), the lease is `capped` and `expiresAt` is its hard end.
 * - The pool's coordinator alone decides when to get new credentials:
 *   `rotation.refreshBeforeExpiryMs` before `expiresAt` (reason `expiring`), on a refused
 *   login, or on `refresh()`. Since the keeper moves `expiresAt` with every renewal, that point
 *   comes for a lease renewing could not extend in time; if it comes while the keeper still
 *   renews the lease (leases of seconds, where both fall close together), the credentials are
 *   returned as they are and the keeper's renewal moves `expiresAt`. Once new credentials are in
 *   use, the coordinator drains the connections of the old lease, and `retire()` revokes it
 *   (`revokeOnRetire`).
 * - One exception: a lease Vault ends early (its token was revoked or expired, taking the lease
 *   with it) leaves nothing to wait for; the provider replaces it at once, logging in again
 *   when needed, and pushes the new credentials.
 * - Sealed, rate-limited, standby or unreachable Vault: renewals are retried with backoff while
 *   the last good credentials stay in use, as long as their lease lasts.
 * - `close()` (called by `pool.end()`) revokes every lease still held (`revokeOnClose`).
 *
 * How much time the pool gets to drain: renewals happen with a third of the lease left, so when
 * one comes back capped at least a third of the lease duration remains, and the coordinator's
 * lead before the hard end comes out of that. With `rotation.drain: 'force'`, keep
 * `rotation.drainTimeoutMs` below that lead (minus one login). With `default_ttl` of 10 minutes
 * or more and the default `refreshBeforeExpiryMs` (60 s), that is the full minute.
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
  readonly #keeper: LeaseKeeper;
  /** The lease whose credentials the pool uses now. */
  #current: Lease | undefined;
  /** Leases handed to the coordinator (returned or pushed). */
  readonly #delivered = new WeakSet<Lease>();
  #issuing: Promise<Lease> | undefined;
  #replaceTimer: NodeJS.Timeout | undefined;
  #replaceFailures = 0;
  readonly #subscribers = new Set<Subscriber>();
  readonly #stopListening: () => void;
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
    this.#keeper = new LeaseKeeper(this.#session, this.name, {
      changed: (lease) => {
        if (lease === this.#current) this.#push(lease);
      },
      ended: (lease) => {
        if (lease === this.#current && !this.#closed) this.#replaceSoon();
      },
      event: (event) => this.emit('lease', event),
      report: (error) => this.#report(error),
    });
    this.#stopListening = this.#session.onError((error) => this.#report(error));
  }

  /**
   * The hot-swap callback: the coordinator calls it when it has decided that the pool needs
   * credentials. `initial`, `rejected`, `manual`: new credentials (a new lease). `expiring`:
   * new credentials once the current lease can no longer be extended; while the keeper still
   * renews it, the credentials as they are (the keeper's next renewal pushes their later
   * `expiresAt`); renewing is never started here.
   */
  async getCredentials(
    signal: AbortSignal,
    current: SealedCredentials | undefined,
    context: FetchContext,
  ): Promise<Credentials | undefined> {
    signal.throwIfAborted();
    this.#checkOpen();
    const lease = current === undefined ? undefined : this.#keeper.get(current.user);
    if (context.reason === 'rejected' && lease !== undefined) this.#keeper.reject(lease);
    if (context.reason === 'expiring' && lease !== undefined && lease === this.#current) {
      if (this.#keeper.renews(lease)) return lease.credentials;
      // Token auth whose token cannot be renewed: a new lease would end with the same token.
      // The session has reported it; nothing better can be had until the token is replaced.
      if (this.#keeper.boundByDyingToken(lease)) return undefined;
    }
    const issued = await waitUnder(this.#issue(), signal);
    this.#delivered.add(issued);
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
    const lease = this.#keeper.get(credentials.user);
    if (lease === undefined || lease === this.#current || this.#closed) return;
    await this.#keeper.retire(lease, this.#revokeOnRetire);
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
    this.#stopListening();
    // A lease being issued now is revoked by #fetchLease itself once it arrives.
    await this.#issuing?.catch(() => undefined);
    try {
      await this.#keeper.close(this.#revokeOnClose);
    } finally {
      this.#closeSignal.abort(new ClosedError(`provider '${this.name}'`));
      this.#current = undefined;
      await this.#session.close();
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError(`provider '${this.name}'`);
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
        (lease) => setImmediate(() => (this.#delivered.has(lease) ? undefined : this.#push(lease))),
        () => undefined,
      );
    }
    return this.#issuing;
  }

  async #fetchLease(): Promise<Lease> {
    const sent = sentNow();
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
      await this.#session
        .request('sys/leases/revoke', AbortSignal.timeout(this.#session.requestTimeoutMs), (client, options) =>
          client.revoke({ lease_id: leaseId, requestOptions: options }),
        )
        .catch(() => undefined);
      throw new ClosedError(`provider '${this.name}'`);
    }
    const lease = this.#keeper.keep({ leaseId, user, password, durationS, renewable: result.renewable === true, tokenSerial }, sent);
    this.#current = lease;
    this.#replaceFailures = 0;
    return lease;
  }

  /**
   * Replaces the current credentials in the background and pushes them: their lease ended
   * before the coordinator asked (Vault revoked it with its token, or it ran out while Vault
   * could not renew it). Not a timing decision: those credentials no longer work. Failures are
   * reported and retried with backoff until a lease is had.
   */
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
    this.#delivered.add(lease);
    if (this.#closed || lease !== this.#current) return;
    for (const s of [...this.#subscribers]) s.onChange(lease.credentials);
  }

  #report(error: Error): void {
    for (const s of [...this.#subscribers]) s.onError(error);
  }
}
