/**
 * `credswap/sequelize`: rotating credentials for a Sequelize instance (mysql dialect). Sequelize
 * keeps its own pool over `mysql2.createConnection`; credswap plugs into that pool's connection
 * manager. Sequelize is typed structurally: importing this module never loads it.
 *
 * @example
 * ```ts
 * import { Sequelize } from 'sequelize';
 * import { attachCredentials } from 'credswap/sequelize';
 *
 * const sequelize = new Sequelize({ dialect: 'mysql', host: 'db.internal', database: 'app' });
 * attachCredentials(sequelize, { credentials: new FileProvider({ path: '/etc/db/credentials.json' }) });
 * ```
 */
import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { type CredentialsSnapshot, type RotateEvent, RotationCoordinator } from '../coordinator.js';
import { ClosedError, InvalidOptionError } from '../errors.js';
import { GenerationLedger } from '../generation-ledger.js';
import { isAccessDenied, isReadOnlyError } from '../mysql2/classify.js';
import { hideSecrets } from '../mysql2/internals.js';
import { OrmFailover, type ProbeConnection, type ServerTag } from './orm-failover.js';
import { NotTried, accountUnavailable, enterGate, settleLogin } from './orm-logins.js';
import { type SequelizeCredentialsOptions, resolveSequelizeOptions } from './sequelize-options.js';
import {
  type PoolAcquireOptions,
  type SequelizeConnectErrors,
  type SequelizeConnectionConfig,
  type SequelizeConnectionManager,
  type SequelizeLike,
  type SequelizeMysqlConnection,
  beforePoolAcquire,
  connectErrorsOf,
  interceptConnectionManager,
  observeConnectionErrors,
  unsupportedReason,
} from './sequelize-internals.js';

export type { SequelizeCredentialsOptions, SequelizeRotationOptions } from './sequelize-options.js';
export type { OrmFailoverOptions } from './orm-failover.js';
export type { FailoverEvent } from '../mysql2/failover.js';

/**
 * Why a connection was dropped: a read-only error (without failover episodes, or a read-only
 * transaction's 1792), credentials older than the newest working ones, or a server the address
 * no longer leads to.
 */
export type SequelizeDiscardReason = 'read-only' | 'stale' | 'failover';

interface ConnectionState {
  readonly snapshot: CredentialsSnapshot;
  /** Where it logged in (with failover). */
  readonly tag: ServerTag | undefined;
  discard?: 'read-only';
  closed?: boolean;
}

const attached = new WeakSet<object>();

/**
 * Gives a Sequelize instance (dialect `mysql`) credentials that rotate: the handle that
 * {@link attachCredentials} returns. Every new connection of Sequelize's pool logs in with the
 * newest credentials; a connect refused with 1045 reports the refusal to the coordinator (one
 * provider call however many connects fail at once) and is retried with what it returns;
 * logins go through the coordinator's login gate (lockout-safe); connections opened with older
 * credentials are dropped once newer ones have worked; failovers are followed (see
 * {@link SequelizeCredentialsOptions.failover}).
 *
 * Events: `rotate` ({@link RotateEvent}), `rotation-error` (`(error, { reason, provider })`),
 * `discard` (`(connection, reason)`, see {@link SequelizeDiscardReason}), `failover`
 * ({@link FailoverEvent}, as the pool's: an episode started or ended).
 */
export class SequelizeCredentials extends EventEmitter {
  /** The coordinator deciding when credentials change. */
  readonly coordinator: RotationCoordinator;
  readonly #maxAttempts: number;
  readonly #rejectReadOnly: boolean;
  readonly #failover: OrmFailover | undefined;
  /** Sequelize's classes for login errors, so that errors credswap makes look like its own. */
  readonly #errors: SequelizeConnectErrors | undefined;
  /** Replicated setups keep each read/write entry's own host and port. */
  readonly #replicated: boolean;
  readonly #connections = new WeakMap<object, ConnectionState>();
  /** Which credentials the open connections use; connections of older generations than the verified one are stale. */
  readonly #generations: GenerationLedger;
  /** A config Sequelize connected with, for the connection that verifies pushed credentials. */
  #lastConfig: SequelizeConnectionConfig | undefined;
  readonly #manager: SequelizeConnectionManager;
  readonly #originalConnect: SequelizeConnectionManager['connect'];
  #closing: Promise<void> | undefined;

  /** @internal Use {@link attachCredentials}. */
  constructor(sequelize: SequelizeLike, options: SequelizeCredentialsOptions) {
    super();
    const resolved = resolveSequelizeOptions(options);
    this.#maxAttempts = resolved.maxAttempts;
    this.#rejectReadOnly = resolved.rejectReadOnly;
    const unsupported = unsupportedReason(sequelize);
    if (unsupported) throw new InvalidOptionError('sequelize', unsupported);
    const password = sequelize.config.password;
    if (password !== undefined && password !== null && password !== '') {
      throw new InvalidOptionError('password', "must not be set together with 'credentials'");
    }
    if (attached.has(sequelize)) throw new InvalidOptionError('sequelize', 'already has credentials attached');
    attached.add(sequelize);
    this.#replicated = Boolean(sequelize.options.replication);
    this.#errors = connectErrorsOf(sequelize);

    this.coordinator = RotationCoordinator.fromResolved(resolved.provider, resolved.timings);
    this.coordinator.on('rotate', (event: RotateEvent) => {
      if (event.previousGeneration > 0 && event.reason !== 'rejected') this.#verifyNewCredentials();
      this.emit('rotate', event);
    });
    this.coordinator.on('rotation-error', (error, info) => this.emit('rotation-error', error, info));
    this.#generations = new GenerationLedger((generation, credentials) => this.coordinator.retire(generation, credentials));

    this.#manager = sequelize.connectionManager as SequelizeConnectionManager;
    const originals = interceptConnectionManager(sequelize, {
      connect: (original, config) => {
        this.#lastConfig = config;
        return this.#open(original, config);
      },
      disconnect: (original, connection) => {
        this.#forget(connection);
        return original(connection);
      },
      validate: (original, connection) => original(connection) && !this.#shouldDiscard(connection),
      releaseConnection: (original, connection) => {
        if (!this.#shouldDiscard(connection)) {
          original(connection);
          return;
        }
        // Out of the pool and closed (COM_QUIT); an error on the way out changes nothing.
        this.#manager.destroyConnection(connection).catch(() => {});
      },
      close: async (original) => {
        try {
          return await original();
        } finally {
          await this.close();
        }
      },
    });
    this.#originalConnect = originals.connect;
    const failover = resolved.failover;
    if (failover) {
      const coordinator = this.coordinator;
      this.#failover = new OrmFailover(
        {
          get closed() {
            return coordinator.closed;
          },
          probe: () => this.#probeServer(),
          episode: (event) => this.emit('failover', event),
        },
        failover,
      );
      // Writes wait for a writable server during an episode; reads need none.
      beforePoolAcquire(sequelize, (acquire) => this.#beforeAcquire(acquire));
    }
  }

  /**
   * The current generation, the newest one a login has worked with (`verified`), the open
   * connections this handle tracks, and how many of them were opened with older credentials
   * (`stale`: dropped when next released or handed out). For monitoring and tests.
   */
  get stats(): { generation: number; verified: number; connections: number; stale: number } {
    const { connections, stale } = this.#generations.counts();
    return { generation: this.coordinator.generation, verified: this.#generations.verified, connections, stale };
  }

  /**
   * Stops the coordinator (timers, watches, a provider call in flight) and calls the provider's
   * `close()`. `sequelize.close()` calls it too. New connections fail with a `ClosedError` after
   * it. Idempotent.
   */
  close(): Promise<void> {
    this.#failover?.close();
    this.#closing ??= this.coordinator.close();
    return this.#closing;
  }

  /** `await using credentials = attachCredentials(...)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Counts only: never credentials. */
  [inspect.custom](): string {
    const s = this.stats;
    return `SequelizeCredentials { generation: ${s.generation}, verified: ${s.verified}, connections: ${s.connections}, stale: ${s.stale}, closed: ${this.coordinator.closed} }`;
  }

  toJSON(): object {
    return { ...this.stats, closed: this.coordinator.closed };
  }

  // --- connecting --------------------------------------------------------------------------

  async #open(
    connect: (config: SequelizeConnectionConfig) => Promise<SequelizeMysqlConnection>,
    config: SequelizeConnectionConfig,
  ): Promise<SequelizeMysqlConnection> {
    const coordinator = this.coordinator;
    let snapshot = coordinator.current ?? (await coordinator.acquire());
    for (let attempt = 1; ; attempt++) {
      if (coordinator.closed) throw new ClosedError('the Sequelize credentials');
      const ticket = await enterGate(coordinator, snapshot.generation);
      if (coordinator.closed) {
        if (!(ticket instanceof NotTried)) ticket.failed();
        throw new ClosedError('the Sequelize credentials');
      }
      if (ticket instanceof NotTried) {
        // No login: these credentials were refused a moment ago. The copy of that refusal comes
        // out as Sequelize's own AccessDeniedError, as the login's would have.
        const error = this.#wrap('AccessDeniedError', ticket.refusal);
        if (attempt >= this.#maxAttempts) throw error;
        snapshot = await this.#afterRefusal(snapshot, ticket.refusal, error);
        continue;
      }
      let connection: SequelizeMysqlConnection;
      try {
        connection = await connect(this.#configFor(config, snapshot));
      } catch (error) {
        const driverError = driverErrorOf(error);
        settleLogin(ticket, driverError);
        // Locked or expired whatever the password: not a rotation.
        const unavailable = accountUnavailable(snapshot.credentials.user, driverError);
        if (unavailable) throw this.#wrap('ConnectionError', unavailable);
        if (!isAccessDenied(driverError) || attempt >= this.#maxAttempts || coordinator.closed) throw error;
        snapshot = await this.#afterRefusal(snapshot, driverError, error as Error);
        continue;
      }
      ticket.succeeded();
      let tag: ServerTag | undefined;
      if (this.#failover) {
        try {
          tag = await this.#failover.check(connection);
        } catch (lost) {
          throw this.#wrap('ConnectionError', lost as Error); // the connection is gone
        }
      }
      this.#track(connection, snapshot, tag);
      return connection;
    }
  }

  /** `error` in Sequelize's error class `kind` (its `parent` and `original`), as Sequelize's `connect` wraps driver errors. */
  #wrap(kind: keyof SequelizeConnectErrors, error: Error): Error {
    const SequelizeError = this.#errors?.[kind];
    return SequelizeError ? new SequelizeError(error) : error;
  }

  /** Credentials to retry with after `snapshot`'s were refused, or throws what the caller should see. */
  async #afterRefusal(snapshot: CredentialsSnapshot, driverError: Error, error: Error): Promise<CredentialsSnapshot> {
    try {
      return await this.coordinator.reportRejected(snapshot.generation, driverError);
    } catch (reason) {
      // Nothing newer to try: fall back to the newest credentials a login has worked with (the
      // server may not have caught up with a pushed or refreshed secret yet).
      const fallback = this.#generations.fallbackFor(snapshot.generation);
      if (fallback && !(reason instanceof ClosedError) && !this.coordinator.closed) {
        return fallback;
      }
      if (reason === driverError && error !== driverError) {
        // Sequelize's AccessDeniedError copied the message before credswap explained it.
        error.message = driverError.message;
        throw error;
      }
      throw reason;
    }
  }

  /** Sequelize's config with `snapshot`'s credentials, as a copy: the original is shared by every connect. */
  #configFor(config: SequelizeConnectionConfig, snapshot: CredentialsSnapshot): SequelizeConnectionConfig {
    const { user, password, host, port, database } = snapshot.credentials;
    const copy: SequelizeConnectionConfig = { ...config, username: user };
    Object.defineProperty(copy, 'password', { value: password, enumerable: false, writable: true, configurable: true });
    if (!this.#replicated) {
      if (host !== undefined) copy.host = host;
      if (port !== undefined) copy.port = port;
    }
    if (database !== undefined) copy.database = database;
    return copy;
  }

  #track(connection: SequelizeMysqlConnection, snapshot: CredentialsSnapshot, tag: ServerTag | undefined): void {
    const state: ConnectionState = { snapshot, tag };
    this.#connections.set(connection, state);
    hideSecrets(connection.config);
    // Not closed by Sequelize: the server dropped it (killed, restarted, timed out). Until a login
    // works again, logins go one at a time: the password may have changed with it.
    connection.on('error', (err) => {
      if (err.fatal && !state.closed && !this.coordinator.closed) this.coordinator.logins.distrust();
    });
    if (this.#rejectReadOnly) observeConnectionErrors(connection, (err) => this.#statementError(state, err));
    // The first login with newer credentials makes connections of older ones stale.
    this.#generations.opened(snapshot);
    this.coordinator.reportSuccess(snapshot.generation);
  }

  /** What a statement's error reaches Sequelize as; a read-only refusal marks the connection or starts an episode. */
  #statementError(state: ConnectionState, err: Error): Error {
    if (!isReadOnlyError(err)) return err;
    if (!this.#failover) {
      state.discard = 'read-only';
      return err;
    }
    const { discard, error } = this.#failover.refused(state.tag, err);
    if (discard) state.discard = 'read-only';
    return error;
  }

  #forget(connection: SequelizeMysqlConnection): void {
    const state = this.#connections.get(connection);
    if (!state || state.closed) return;
    state.closed = true;
    this.#generations.closed(state.snapshot.generation);
  }

  /** True (and a `discard` event) for a connection that must not be used again. */
  #shouldDiscard(connection: SequelizeMysqlConnection): boolean {
    const state = this.#connections.get(connection);
    // Connections opened before credentials were attached count as generation 0.
    const reason: SequelizeDiscardReason | undefined =
      state?.discard ??
      (this.#generations.isStale(state?.snapshot.generation ?? 0) ? 'stale' : undefined) ??
      (this.#failover?.onOtherServer(state?.tag) ? 'failover' : undefined);
    if (reason === undefined) return false;
    this.emit('discard', connection, reason);
    return true;
  }

  /**
   * After a rotation nobody was refused for (a push, an expiry refresh), opens one connection
   * with the new credentials and closes it. Old connections become stale only once it logs in,
   * so credentials the server does not accept yet never cost the pool its working connections.
   */
  #verifyNewCredentials(): void {
    const config = this.#lastConfig;
    if (!config || this.coordinator.closed) return;
    this.#open(this.#originalConnect, config)
      .then((connection) => this.#manager.disconnect(connection))
      // A refusal the provider could not resolve is reported through `rotation-error`.
      .catch(() => {});
  }

  /** During a failover episode, an acquisition for anything but a read waits for a writable server (up to `failover.waitMs`). */
  async #beforeAcquire(options: PoolAcquireOptions | undefined): Promise<void> {
    const failover = this.#failover;
    if (!failover?.active || options?.type === 'SELECT') return;
    await failover.whenWritable();
  }

  /** A failover episode's probe: one login, outside Sequelize's pool, closed once its server is known. */
  async #probeServer(): Promise<ProbeConnection> {
    const config = this.#lastConfig;
    if (!config) throw new Error('credswap: no Sequelize connection yet to probe with');
    const connection = await this.#open(this.#originalConnect, config);
    return {
      tag: this.#connections.get(connection)?.tag ?? { server: 0, writable: true },
      close: () => void this.#manager.disconnect(connection).catch(() => {}),
    };
  }
}

/** mysql2's error inside the error Sequelize wrapped it in (`ConnectionError.parent`). */
function driverErrorOf(error: unknown): Error {
  const parent = (error as { parent?: unknown } | null)?.parent;
  return (parent instanceof Error ? parent : error) as Error;
}

/**
 * Gives a Sequelize instance (dialect `mysql`) credentials that rotate, from a provider or a
 * hot-swap function. Call it once, right after `new Sequelize(...)`, before the first query;
 * `sequelize.close()` also closes it.
 *
 * Leave `password` out of Sequelize's options: the provider's credentials are used for every
 * connection (user, password and, when the provider has them, host, port and database; with
 * `replication`, each entry keeps its own host and port).
 *
 * @throws InvalidOptionError (a TypeError) naming an unknown or invalid option, `sequelize` when
 *   it is not a Sequelize instance of the mysql dialect, or `password` when Sequelize has one.
 * @example
 * ```ts
 * const sequelize = new Sequelize({ dialect: 'mysql', host: 'db.internal', database: 'app', pool: { max: 10 } });
 * const credentials = attachCredentials(sequelize, { credentials: new SecretsManagerProvider({ secretId: 'prod/app/mysql' }) });
 * credentials.on('rotate', (e) => log.info({ generation: e.generation, fingerprint: e.fingerprint }, 'db credentials rotated'));
 * ```
 */
export function attachCredentials(sequelize: object, options: SequelizeCredentialsOptions): SequelizeCredentials {
  return new SequelizeCredentials(sequelize as SequelizeLike, options);
}
