/**
 * `VaultStaticRoleProvider`: the credentials of a static role of Vault's database secrets
 * engine, an existing database account whose password Vault rotates.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { sleep } from '../../lib/abort.js';
import { backoffDelay } from '../../lib/backoff.js';
import { sameCredentials, sealCredentials, type Credentials, type SealedCredentials } from '../../lib/credentials.js';
import { ClosedError, InvalidCredentialsError } from '../../lib/errors.js';
import { duration, expectObject, rejectUnknownKeys, string } from '../../lib/options.js';
import type { Poller } from '../../lib/poller.js';
import { checkSubscriber, type CredentialsProvider, type FetchContext } from '../../lib/provider.js';
import {
  DEFAULT_VAULT_DATABASE_MOUNT,
  VAULT_SESSION_OPTION_KEYS,
  vaultMount,
  vaultName,
  vaultPath,
  type VaultSessionOptions,
} from './options.js';
import { VaultSession } from './session.js';
import { vaultPoller } from './poller.js';

/**
 * Default of {@link VaultStaticRoleProviderOptions.refreshJitterMs}: up to 2 s after the
 * rotation that Vault announced, so that Vault has finished it and many processes do not read
 * at the same instant.
 * @example
 * ```ts
 * new VaultStaticRoleProvider({ role: 'orders', vault, refreshJitterMs: DEFAULT_VAULT_STATIC_REFRESH_JITTER_MS * 5 });
 * ```
 */
export const DEFAULT_VAULT_STATIC_REFRESH_JITTER_MS = 2_000;
/**
 * After a refused login (1045), how many more times the role is read when Vault still returns
 * the refused password: Vault changes the password in the database a moment before it returns
 * the new one. The reads are 250, 500 and 1000 ms apart.
 * @example
 * ```ts
 * const patienceMs = 250 * (2 ** VAULT_STATIC_REJECTED_REREADS - 1); // 1750 ms
 * ```
 */
export const VAULT_STATIC_REJECTED_REREADS = 3;

/** The first re-read after a rejected password that Vault still returns. */
const REJECTED_REREAD_BASE_MS = 250;
/** Background reads that failed are retried after a backoff from this... */
const RETRY_BASE_MS = 1_000;
/** ...up to this. */
const RETRY_CAP_MS = 60_000;
/** When Vault's rotation is due (ttl 0) but has not happened yet, read again after this, then backing off. */
const DUE_REREAD_MS = 500;

const OPTION_KEYS = new Set(['role', 'mount', 'refreshJitterMs', 'name', ...VAULT_SESSION_OPTION_KEYS]);

/**
 * Options of {@link VaultStaticRoleProvider}.
 *
 * @example
 * ```ts
 * const options: VaultStaticRoleProviderOptions = {
 *   role: 'orders-app',
 *   vault: { endpoint: 'https://vault.internal:8200', auth: { kubernetes: { role: 'orders' } } },
 * };
 * ```
 */
export interface VaultStaticRoleProviderOptions extends VaultSessionOptions {
  /** The static role's name: credentials are read from `<mount>/static-creds/<role>`. */
  role: string;
  /**
   * Where the database secrets engine is mounted.
   * @defaultValue {@link DEFAULT_VAULT_DATABASE_MOUNT} (`'database'`)
   */
  mount?: string;
  /**
   * The role is read again when the `ttl` Vault returned has passed (Vault has rotated the
   * password by then), plus a random delay of up to this many milliseconds. `0`: exactly at
   * the `ttl`.
   * @defaultValue {@link DEFAULT_VAULT_STATIC_REFRESH_JITTER_MS} (2000)
   */
  refreshJitterMs?: number;
  /**
   * The provider's name in events and messages.
   * @defaultValue `vault:<mount>/static-creds/<role>`
   */
  name?: string;
}

interface Reading {
  readonly credentials: SealedCredentials;
  /** When Vault rotates next, on the `performance.now()` clock. */
  readonly rotatesAt: number;
}

/**
 * Database credentials from a static role of Vault's database secrets engine
 * (`GET <mount>/static-creds/<role>`): one existing account whose password Vault changes every
 * `rotation_period` with `ALTER USER` (or when someone calls `rotate-role`).
 *
 * - First connection: one read.
 * - In the background (once the pool uses the credentials): the role is read again when the
 *   returned `ttl` has passed, plus up to `refreshJitterMs`; a new password is pushed to the pool,
 *   which opens new connections with it and closes the old ones as they become idle. Open
 *   connections are not affected by `ALTER USER`, so they keep working until then.
 * - After a refused login (1045): one read at once, so that the retried login uses the new
 *   password (a rotation by `rotate-role`, or one the background read has not seen yet). When
 *   Vault still returns the refused password, it is read up to
 *   {@link VAULT_STATIC_REJECTED_REREADS} more times, a moment apart.
 *
 * Failed reads (Vault sealed, unreachable, throttling) are retried with backoff and jitter and
 * reported as `rotation-error` events; the last good credentials stay in use. The Vault token
 * is looked after by the provider (see the `vault` option): renewed, or replaced by a new
 * login. The policy needs `read` on `<mount>/static-creds/<role>`.
 *
 * There is one password at a time: between Vault's `ALTER USER` and the pool's next read, a new
 * login with the old password is refused, and the pool reads the role at once and retries.
 *
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2/promise';
 * import { VaultStaticRoleProvider } from 'credswap/vault';
 *
 * const pool = createPool({
 *   host: 'orders.db.internal',
 *   database: 'orders',
 *   credentials: new VaultStaticRoleProvider({
 *     role: 'orders-app',
 *     vault: { endpoint: 'https://vault.internal:8200', auth: { kubernetes: { role: 'orders' } } },
 *   }),
 * });
 * ```
 */
export class VaultStaticRoleProvider implements CredentialsProvider {
  readonly name: string;
  /** The static role's name. */
  readonly role: string;
  /** Where the database secrets engine is mounted. */
  readonly mount: string;
  /** The Vault path read: `<mount>/static-creds/<role>`. */
  readonly path: string;
  readonly #refreshJitterMs: number;
  readonly #session: VaultSession;
  /** The last credentials read (what the pool has), and when Vault rotates them. */
  #last: Reading | undefined;
  #seq = 0;
  #committed = 0;
  readonly #poller: Poller;
  /** Background reads in a row that found the rotation due but not done. */
  #overdue = 0;
  #closed = false;
  readonly #abortOnClose = new AbortController();

  /**
   * @throws InvalidOptionError for an unknown option, a missing `role`, or an invalid `vault`
   * option, naming it. Nothing is sent to Vault here.
   *
   * @example
   * ```ts
   * const provider = new VaultStaticRoleProvider({ role: 'orders-app', vault: { endpoint, auth: { token } } });
   * ```
   */
  constructor(options: VaultStaticRoleProviderOptions) {
    const o = expectObject(options, 'options')!;
    rejectUnknownKeys(o, OPTION_KEYS, '');
    this.role = vaultName(o, 'role', '');
    this.mount = vaultMount(o, 'mount', '', DEFAULT_VAULT_DATABASE_MOUNT);
    this.#refreshJitterMs = duration(o, 'refreshJitterMs', '', DEFAULT_VAULT_STATIC_REFRESH_JITTER_MS);
    this.path = `${this.mount}/static-creds/${this.role}`;
    this.name = string(o, 'name', '', `vault:${this.path}`)!;
    this.#session = new VaultSession({ vault: o.vault, client: o.client } as VaultSessionOptions, this.name);
    this.#poller = vaultPoller(this.#session, this.path, { nextDelay: (failures) => this.#nextDelay(failures), look: () => this.#poll() });
  }

  /**
   * Reads the role. Resolves to the credentials, or `undefined` when they equal `current`
   * (after a 1045: once Vault still returned the refused password after the re-reads).
   *
   * @throws VaultError naming the path (`retryable` tells whether trying later can help).
   * @throws InvalidCredentialsError when Vault's answer has no usable username or password.
   * @throws ClosedError after {@link VaultStaticRoleProvider.close}, `signal.reason` once `signal` fires.
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
    let reading = await this.#read(signal);
    if (context.reason === 'rejected' && current !== undefined) {
      for (let i = 0; i < VAULT_STATIC_REJECTED_REREADS && sameCredentials(reading.credentials, current); i++) {
        await this.#delay(REJECTED_REREAD_BASE_MS * 2 ** i, signal);
        reading = await this.#read(signal);
      }
    }
    return current !== undefined && sameCredentials(reading.credentials, current) ? undefined : reading.credentials;
  }

  /**
   * Starts background reads for this subscriber: each time Vault's announced rotation time has
   * passed. `onChange` receives a new password; `onError` each failed read (retried with
   * backoff). The coordinator calls it after the first successful fetch.
   *
   * @returns a function that unsubscribes; the last one stops the timer.
   *
   * @example
   * ```ts
   * const unsubscribe = provider.subscribe((c) => console.log('new password for', c.user), console.error);
   * ```
   */
  subscribe(onChange: (credentials: Credentials) => void, onError: (error: Error) => void): () => void {
    if (this.#closed) throw new ClosedError(`provider '${this.name}'`);
    checkSubscriber('VaultStaticRoleProvider', onChange, onError);
    return this.#poller.subscribe(onChange, onError);
  }

  /**
   * Stops background reads and the token's renewal, and aborts requests in flight. The token is
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

  /** One read of the role; the newest read started wins. */
  async #read(signal: AbortSignal): Promise<Reading> {
    const seq = ++this.#seq;
    const answer = await this.#session.read(vaultPath(this.mount, 'static-creds', this.role), signal);
    const receivedAt = performance.now();
    const data = answer.data ?? {};
    const { username, password, ttl } = data as { username?: unknown; password?: unknown; ttl?: unknown };
    const source = `Vault path '${this.path}'`;
    if (typeof username !== 'string' || username === '') {
      throw new InvalidCredentialsError(source, "the answer has no 'username'", { key: 'username' });
    }
    if (typeof password !== 'string' || password === '') {
      throw new InvalidCredentialsError(source, "the answer has no 'password'", { key: 'password' });
    }
    const ttlS = typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 ? ttl : 0;
    const reading: Reading = {
      credentials: sealCredentials({ user: username, password }, source),
      rotatesAt: receivedAt + ttlS * 1000,
    };
    if (seq > this.#committed && !this.#closed) {
      this.#committed = seq;
      this.#last = reading;
      // A read by the pool (after a 1045) moves the next background read too.
      this.#poller.reschedule();
    }
    return reading;
  }

  /** When to read next: after Vault's announced rotation, or after a backoff. */
  #nextDelay(failures: number): number {
    if (failures > 0 || this.#last === undefined) return backoffDelay(Math.max(1, failures), RETRY_BASE_MS, RETRY_CAP_MS);
    const untilRotation = this.#last.rotatesAt - performance.now();
    return untilRotation > 0
      ? untilRotation + Math.random() * this.#refreshJitterMs
      : backoffDelay(this.#overdue + 1, DUE_REREAD_MS, RETRY_CAP_MS);
  }

  /** One background read: a changed password, or `undefined`. */
  async #poll(): Promise<Credentials | undefined> {
    const before = this.#last;
    const reading = await this.#read(this.#abortOnClose.signal);
    const changed = before !== undefined && !sameCredentials(before.credentials, reading.credentials);
    this.#overdue = changed || reading.rotatesAt > performance.now() ? 0 : this.#overdue + 1;
    return this.#last === reading && changed ? reading.credentials : undefined;
  }

  /** Waits `ms`, or rejects with `signal.reason` (or ClosedError) first. */
  #delay(ms: number, signal: AbortSignal): Promise<void> {
    return sleep(ms, signal, this.#abortOnClose.signal);
  }
}
