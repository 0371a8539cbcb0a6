/**
 * The state behind one `knexConnection`: which credentials Knex holds, its logins through the
 * coordinator's login gate, what each connection logged in with and where, and the failover
 * side of Knex's pool. `knex.ts` turns it into the `connection` function and the pool hooks.
 *
 * @packageDocumentation
 */

import type { CredentialsSnapshot, RotationCoordinator } from '../coordinator.js';
import { ClosedError } from '../errors.js';
import { GenerationLedger } from '../generation-ledger.js';
import { isAccessDenied, isReadOnlyError } from '../mysql2/classify.js';
import { type Mysql2Command, observeCommandErrors } from '../mysql2/internals.js';
import { type KnexClientLogins, interceptLogins, knexClientOf, knexPoolOf, rejectPendingAcquires } from './knex-client.js';
import type { ResolvedKnexOptions } from './knex-options.js';
import { OrmFailover, type ProbeConnection, type ServerTag } from './orm-failover.js';
import { NotTried, accountUnavailable, enterGate, settleLogin } from './orm-logins.js';

// Per-connection state, on symbol keys of the mysql2 connection Knex created.
const GENERATION = Symbol('credswap.generation');
const READ_ONLY = Symbol('credswap.readOnly');
const SERVER = Symbol('credswap.server');

/** A mysql2 Connection as far as the hooks touch it (mysql2 private `addCommand`: see internals.ts). */
export interface RawConnection {
  config?: { user?: string; password?: string };
  addCommand?(cmd: Mysql2Command): Mysql2Command;
  on?(event: 'error', listener: (err: Error & { fatal?: boolean }) => void): unknown;
  [GENERATION]?: number;
  [READ_ONLY]?: boolean;
  [SERVER]?: ServerTag;
}

/** The settings the connection function resolves with, before Knex reads them. */
export type SettingsRecord = Record<string, unknown>;

/** Which credentials Knex has, and what happened to them. */
export class KnexCredentials {
  readonly #options: ResolvedKnexOptions;
  readonly #failover: OrmFailover | undefined;
  /** The snapshot whose settings Knex holds now. */
  #handed: CredentialsSnapshot | undefined;
  /** Which snapshot each settings object handed to Knex was built from. */
  readonly #issued = new WeakMap<object, CredentialsSnapshot>();
  /**
   * The newest generation logins have worked with; idle connections of older ones are discarded. Knex
   * does not say when connections close, so connections are not counted.
   */
  readonly #generations = new GenerationLedger();
  /** A rotation started because Knex could not log in with `#handed`. */
  #rejection: Promise<unknown> | undefined;
  /** Logins started per generation and not yet settled (mysql2 reads the password once per connection). */
  readonly #attempts = new Map<number, number>();
  readonly #watched = new WeakSet<object>();
  /** The Client whose logins go through the gate, with its own `acquireRawConnection` (for probes). */
  #client: { readonly client: KnexClientLogins; readonly acquire: () => Promise<unknown> } | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedKnexOptions) {
    this.#options = options;
    const coordinator = options.coordinator;
    this.#failover =
      options.failover &&
      new OrmFailover(
        {
          get closed() {
            return coordinator.closed;
          },
          probe: () => this.#probe(),
        },
        options.failover,
      );
  }

  get coordinator(): RotationCoordinator {
    return this.#options.coordinator;
  }

  /**
   * Knex's `this`: subscribe to its pool's events and send its logins through the gate, once per
   * Client. Without a Client (a wrapped connection function), refused logins are seen through
   * nothing but `createFail`, and logins are not gated.
   */
  watch(thisArg: unknown): void {
    const pool = knexPoolOf(thisArg);
    if (pool === undefined || this.#watched.has(pool)) return;
    this.#watched.add(pool);
    const client = knexClientOf(thisArg);
    if (client) {
      const acquire = interceptLogins(client, (original) => this.#login(client, original, false));
      this.#client = { client, acquire };
    } else {
      pool.on('createFail', (_eventId, error) => this.#onCreateFail(error));
    }
    pool.on('poolDestroySuccess', () => {
      this.close().catch(() => {}); // the coordinator reports its own errors as events
    });
  }

  async settings(): Promise<SettingsRecord> {
    const rejection = this.#rejection;
    if (rejection) {
      await rejection.catch(() => {}); // its failure is the server's 1045, which Knex reports
      if (this.#rejection === rejection) this.#rejection = undefined;
    }
    const snapshot = await this.coordinator.acquire();
    this.#handed = snapshot;
    return this.#build(snapshot);
  }

  /**
   * True when Knex holds older settings than the coordinator. Not while a rotation is pending:
   * Knex also asks before handing out an idle connection, and destroys it when the answer is
   * yes; a refused login is simply retried until the rotation has produced new credentials.
   */
  expired(): boolean {
    if (this.coordinator.closed) return false;
    const handed = this.#handed;
    return handed === undefined || this.coordinator.generation !== handed.generation;
  }

  /** Knex opened `connection`: which credentials it used, where it logged in, what it will see. */
  async afterCreate(connection: RawConnection): Promise<void> {
    this.#loggedIn(connection);
    // Not closed by Knex (which ends connections with COM_QUIT): the server dropped it (killed,
    // restarted, timed out). Until a login works again, logins go one at a time.
    connection.on?.('error', (err) => {
      if (err?.fatal && !this.coordinator.closed) this.coordinator.logins.distrust();
    });
    if (this.#options.rejectReadOnly) this.#observeReadOnly(connection);
    if (this.#failover) connection[SERVER] = await this.#failover.check(connection);
  }

  /**
   * False for a connection that must not be handed out again. During a failover episode, waits
   * (up to `failover.waitMs`) for a writable server first.
   */
  usable(connection: RawConnection): boolean | Promise<boolean> {
    if (connection[READ_ONLY]) return false;
    const generation = connection[GENERATION];
    if (generation !== undefined && this.#generations.isStale(generation)) return false;
    const failover = this.#failover;
    if (!failover) return true;
    if (failover.onOtherServer(connection[SERVER])) return false;
    if (!failover.active) return true;
    return failover.whenWritable().then(() => !failover.onOtherServer(connection[SERVER]));
  }

  close(): Promise<void> {
    this.#failover?.close();
    this.#closing ??= this.#options.owned ? this.coordinator.close() : Promise.resolve();
    return this.#closing;
  }

  #build(snapshot: CredentialsSnapshot): SettingsRecord {
    const { user, password, host, port, database } = snapshot.credentials;
    const settings: SettingsRecord = {
      ...this.#options.mysqlOptions,
      user,
      ...(host !== undefined ? { host } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(database !== undefined ? { database } : {}),
    };
    // Knex hands the settings to mysql2 as they are: a non-enumerable password is still read,
    // once per connection, which tells which credentials a login that fails later was using.
    Object.defineProperty(settings, 'password', {
      get: () => {
        this.#attempts.set(snapshot.generation, (this.#attempts.get(snapshot.generation) ?? 0) + 1);
        return password;
      },
      enumerable: false,
      configurable: true,
    });
    // Knex deletes this key before mysql2 sees the settings, and calls it as a method of its Client.
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Knex calls the checker with its Client as `this`.
    const state = this;
    settings.expirationChecker = function expirationChecker(this: unknown): boolean {
      state.watch(this);
      return state.expired();
    };
    this.#issued.set(settings, snapshot);
    return settings;
  }

  /**
   * One login of the Client, through the coordinator's login gate: credentials that may be
   * refused are tried by one login at a time, and a refusal is not repeated while the
   * coordinator asks or cools down (the login fails at once with a copy of it, and Knex tries
   * again once the connection function has new settings). Outside probes, a login during a
   * failover episode waits for a writable server first.
   */
  async #login(client: KnexClientLogins, original: () => Promise<unknown>, probe: boolean): Promise<unknown> {
    if (!probe && this.#failover?.active) await this.#failover.whenWritable();
    for (;;) {
      const settings = client.connectionSettings;
      const snapshot = typeof settings === 'object' && settings !== null ? this.#issued.get(settings) : undefined;
      if (snapshot === undefined) return original(); // not settings credswap made
      const ticket = await enterGate(this.coordinator, snapshot.generation);
      if (ticket instanceof NotTried) {
        this.#reportRejected(snapshot.generation, ticket.refusal);
        throw ticket.refusal;
      }
      if (this.coordinator.closed) {
        ticket.failed();
        throw new ClosedError('the Knex connection');
      }
      if (client.connectionSettings !== settings) {
        ticket.failed(); // Knex has newer settings by now: log in with those
        continue;
      }
      try {
        const connection = await original();
        ticket.succeeded();
        return connection;
      } catch (error) {
        this.#settled(snapshot.generation);
        settleLogin(ticket, error);
        // Locked or expired whatever the password: not a rotation. Whoever waits for a
        // connection would wait in vain until Knex's acquireConnectionTimeout.
        const unavailable = accountUnavailable(snapshot.credentials.user, error);
        if (unavailable) {
          rejectPendingAcquires(client, unavailable);
          throw unavailable;
        }
        if (isAccessDenied(error)) this.#reportRejected(snapshot.generation, error as Error);
        throw error;
      }
    }
  }

  /** A failover episode's probe: one login outside Knex's pool, closed once its server is known. */
  async #probe(): Promise<ProbeConnection> {
    const knex = this.#client;
    if (!knex || !this.#failover) throw new Error('credswap: no Knex client yet to probe with');
    const connection = (await this.#login(knex.client, knex.acquire, true)) as RawConnection;
    const close = () => void knex.client.destroyRawConnection(connection).catch(() => {});
    try {
      this.#loggedIn(connection);
      return { tag: await this.#failover.check(connection), close };
    } catch (error) {
      close();
      throw error;
    }
  }

  /** A login worked: the credentials it used are verified, and the coordinator hears of it. */
  #loggedIn(connection: RawConnection): void {
    const snapshot = this.#snapshotOf(connection);
    const generation = snapshot?.generation ?? 0;
    this.#settled(generation);
    connection[GENERATION] = generation;
    if (snapshot) this.#generations.verify(snapshot);
    this.coordinator.reportSuccess(generation);
  }

  /** Reports a refusal of `generation`'s credentials: one rotation however many logins are refused. */
  #reportRejected(generation: number, error: Error): void {
    if (this.#rejection !== undefined || this.coordinator.closed) return;
    // Later refusals find it pending; the connection function waits for it.
    const rejection = this.coordinator.reportRejected(generation, error);
    this.#rejection = rejection;
    const settle = () => {
      if (this.#rejection === rejection) this.#rejection = undefined;
    };
    rejection.then(settle, settle);
  }

  /** Without the Client's logins: a failed connection, seen through tarn's `createFail`. */
  #onCreateFail(error: unknown): void {
    // Attempts settle in about the order they started: charge the failure to the oldest
    // credentials still being tried. A login with credentials older than the newest ones
    // costs no rotation; at worst a refusal of the newest is seen at Knex's next retry.
    const generation = this.#oldestAttempt() ?? this.#handed?.generation;
    if (generation !== undefined) this.#settled(generation);
    if (isAccessDenied(error) && generation !== undefined) this.#reportRejected(generation, error as Error);
  }

  #settled(generation: number): void {
    const started = this.#attempts.get(generation);
    if (started === undefined) return;
    if (started <= 1) this.#attempts.delete(generation);
    else this.#attempts.set(generation, started - 1);
  }

  #oldestAttempt(): number | undefined {
    let oldest: number | undefined;
    for (const generation of this.#attempts.keys()) if (oldest === undefined || generation < oldest) oldest = generation;
    return oldest;
  }

  /** The credentials `connection` logged in with, if they are the ones handed to Knex or the current ones. */
  #snapshotOf(connection: RawConnection): CredentialsSnapshot | undefined {
    const config = connection.config;
    for (const snapshot of [this.#handed, this.coordinator.current]) {
      const credentials = snapshot?.credentials;
      if (credentials && config?.user === credentials.user && config.password === credentials.password) return snapshot;
    }
    return undefined;
  }

  /** Watches the statements of `connection` for read-only refusals (which become ReadOnlyErrors with failover). */
  #observeReadOnly(connection: RawConnection): void {
    const addCommand = connection.addCommand;
    if (typeof addCommand !== 'function') return;
    const failover = this.#failover;
    connection.addCommand = function (this: RawConnection, cmd: Mysql2Command): Mysql2Command {
      observeCommandErrors(cmd, (error) => {
        if (!isReadOnlyError(error)) return error;
        if (!failover) {
          connection[READ_ONLY] = true;
          return error;
        }
        const refusal = failover.refused(connection[SERVER], error);
        if (refusal.discard) connection[READ_ONLY] = true;
        return refusal.error;
      });
      return addCommand.call(this, cmd);
    };
  }
}
