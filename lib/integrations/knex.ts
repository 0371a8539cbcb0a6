/**
 * `credswap/knex`: rotating credentials for a pool that Knex owns (any Knex with an async
 * `connection` function and the `pool.afterCreate`/`pool.validate` hooks; on Knex 3.3+ prefer
 * `connectionPool: createPool(...)` from `credswap/mysql2`).
 *
 * Never loads Knex: it is typed structurally.
 *
 * @example
 * ```ts
 * import knex from 'knex';
 * import { knexConnection } from 'credswap/knex';
 *
 * const connection = knexConnection({ host: 'db.internal', database: 'app', credentials: new FileProvider({ path }) });
 * const db = knex({ client: 'mysql2', connection, pool: connection.pool({ min: 0, max: 10 }) });
 * ```
 */
import type { ConnectionOptions } from 'mysql2';
import { inspect } from 'node:util';
import {
  COORDINATOR_TIMING_KEYS,
  type CoordinatorTimingOptions,
  type CredentialsSnapshot,
  RotationCoordinator,
  resolveTimings,
} from '../coordinator.js';
import { ClosedError, InvalidOptionError } from '../errors.js';
import { GenerationLedger } from '../generation-ledger.js';
import { bool, expectObject, rejectMisspeltKeys, rejectUnknownKeys } from '../options.js';
import { type CredentialsProvider, type HotSwapFunction, toProvider } from '../provider.js';
import { isAccessDenied, isReadOnlyError } from '../mysql2/classify.js';
import { type Mysql2Command, SECRET_CONFIG_KEYS, observeCommandErrors } from '../mysql2/internals.js';
import { MYSQL2_POOL_KEYS } from '../mysql2/pool-options.js';
import { knexPoolOf } from './knex-client.js';

/**
 * Options that belong to a pool, not to one connection, rejected by name because Knex's `pool`
 * sizes and runs its pool: mysql2's pool options (which mysql2 would accept on a connection and
 * ignore without a warning) and credswap's `failover` and `maxLifetimeMs`. This is not a list of mysql2's
 * options: every key that is neither here nor credswap's goes to mysql2 as given.
 */
const POOL_ONLY_KEYS = [...MYSQL2_POOL_KEYS, 'pool', 'failover', 'maxLifetimeMs'];
/** credswap's own keys: kept from mysql2, and (with `failover` and `maxLifetimeMs`) the only ones checked for misspellings. */
const CREDSWAP_KEYS = ['credentials', 'coordinator', 'rotation', 'rejectReadOnly'];

/**
 * Options of {@link knexConnection}: mysql2 connection options plus credswap's. Keys that are not
 * credswap's go to mysql2 as given, so the installed mysql2 decides: it accepts its options and
 * warns about others (when Knex opens each connection), which it ignores. A key that looks like a
 * misspelt credswap option (`credential`, `Rotation`) throws, as do pool options and `uri`.
 */
export interface KnexConnectionOptions extends Omit<ConnectionOptions, (typeof SECRET_CONFIG_KEYS)[number] | 'uri' | 'pool'> {
  /**
   * Where credentials come from: a provider or a hot-swap function (as `credentials` of
   * `createPool`). Exactly one of `credentials` and `coordinator`.
   */
  credentials?: CredentialsProvider | HotSwapFunction;
  /** Timing of rotations (as `rotation` of `createPool`: `timeoutMs`, `cooldownMs`, ...). With `credentials` only. */
  rotation?: CoordinatorTimingOptions;
  /**
   * A coordinator of your own instead of `credentials`, e.g. shared with a credswap pool. It is
   * not closed by `close()` or `knex.destroy()`.
   */
  coordinator?: RotationCoordinator;
  /**
   * Never hand out again a connection that received a read-only error (1290, 1792, 1836, 1874):
   * Knex's pool destroys it at its next acquire. Needs the hooks of {@link KnexConnection.pool}.
   * @defaultValue true
   */
  rejectReadOnly?: boolean;
}

/** What the connection function resolves to: Knex's connection settings for mysql2. */
export interface KnexConnectionSettings {
  readonly user: string;
  /** Non-enumerable: never printed by `util.inspect` or `JSON.stringify`. */
  readonly password: string;
  /** True when Knex should call the connection function again before opening a connection. */
  expirationChecker(): boolean;
  readonly [option: string]: unknown;
}

/** Knex's `pool` options, as far as credswap touches them. */
export interface KnexPoolOptions {
  /** Called with each new connection: `(connection, done)`. credswap's hook runs first. */
  afterCreate?: (connection: unknown, done: (error: Error | null, connection?: unknown) => void) => void;
  /** Called before a pooled connection is handed out: false destroys it. credswap's check runs first. */
  validate?: (connection: unknown) => boolean | Promise<boolean>;
  /**
   * tarn's: fail a query at once when a new connection cannot be opened (true), or retry the
   * connection until `acquireTimeoutMillis` (false). {@link KnexConnection.pool} sets false so
   * that a query waits while credentials rotate.
   */
  propagateCreateError?: boolean;
  [option: string]: unknown;
}

/**
 * The `connection` function for Knex, returned by {@link knexConnection}. Knex calls it before
 * it opens a connection whenever the last settings' `expirationChecker()` says so: after each
 * rotation.
 */
export interface KnexConnection {
  (): Promise<KnexConnectionSettings>;
  /** The coordinator deciding when credentials change. */
  readonly coordinator: RotationCoordinator;
  /**
   * Knex `pool` options with credswap's hooks added to yours: `afterCreate` records which
   * credentials a connection logged in with and watches it for read-only errors; `validate`
   * discards connections that hit a read-only error and, once newer credentials have logged in,
   * idle connections opened with older ones; `propagateCreateError` defaults to false.
   */
  pool(options?: KnexPoolOptions): KnexPoolOptions;
  /** Closes the coordinator, when `knexConnection` created it. `knex.destroy()` does too. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

// Per-connection state, on symbol keys of the mysql2 connection Knex created.
const GENERATION = Symbol('credswap.generation');
const READ_ONLY = Symbol('credswap.readOnly');

/** A mysql2 Connection as far as the hooks touch it (mysql2 private `addCommand`: see internals.ts). */
interface RawConnection {
  config?: { user?: string; password?: string };
  addCommand?(cmd: Mysql2Command): Mysql2Command;
  [GENERATION]?: number;
  [READ_ONLY]?: boolean;
}

interface Resolved {
  readonly mysqlOptions: Record<string, unknown>;
  readonly coordinator: RotationCoordinator;
  readonly owned: boolean;
  readonly rejectReadOnly: boolean;
}

function resolveOptions(input: KnexConnectionOptions): Resolved {
  const bag = expectObject(input, 'options')!;
  rejectMisspeltKeys(bag, [...CREDSWAP_KEYS, 'failover', 'maxLifetimeMs'], '');
  for (const key of POOL_ONLY_KEYS) {
    if (bag[key] !== undefined)
      throw new InvalidOptionError(key, "is a pool option: Knex sizes its pool with 'pool: connection.pool({ min, max })'");
  }
  if (bag.uri !== undefined) throw new InvalidOptionError('uri', 'must not be set: it could carry a password; use host, port and database');
  for (const key of ['host', 'user', 'database', 'socketPath'] as const) {
    if (bag[key] !== undefined && typeof bag[key] !== 'string') throw new InvalidOptionError(key, 'must be a string');
  }
  if (bag.port !== undefined && !(Number.isInteger(bag.port) || (typeof bag.port === 'string' && /^\d+$/.test(bag.port)))) {
    throw new InvalidOptionError('port', 'must be an integer');
  }
  for (const key of SECRET_CONFIG_KEYS) {
    if (bag[key] !== undefined) throw new InvalidOptionError(key, "must not be set: passwords come from 'credentials'");
  }
  const rejectReadOnly = bool(bag, 'rejectReadOnly', '', true);
  const rotation = expectObject(bag.rotation, 'rotation', true);
  let coordinator: RotationCoordinator;
  let owned: boolean;
  if (bag.coordinator !== undefined) {
    if (bag.credentials !== undefined) throw new InvalidOptionError('coordinator', "must not be set together with 'credentials'");
    if (rotation !== undefined) throw new InvalidOptionError('rotation', "has no effect with 'coordinator': set it on the coordinator");
    if (!(bag.coordinator instanceof RotationCoordinator)) throw new InvalidOptionError('coordinator', 'must be a RotationCoordinator');
    coordinator = bag.coordinator;
    owned = false;
  } else {
    if (bag.credentials === undefined) throw new InvalidOptionError('credentials', "is required (or pass 'coordinator')");
    const provider = toProvider(bag.credentials);
    rejectUnknownKeys(rotation ?? {}, new Set(COORDINATOR_TIMING_KEYS), 'rotation.');
    coordinator = RotationCoordinator.fromResolved(provider, resolveTimings(rotation ?? {}, 'rotation.'));
    owned = true;
  }
  const mysqlOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(bag)) {
    if (!CREDSWAP_KEYS.includes(key)) mysqlOptions[key] = value;
  }
  return { mysqlOptions, coordinator, owned, rejectReadOnly };
}

/** The state behind one {@link KnexConnection}: which credentials Knex has, and what happened to them. */
class KnexCredentials {
  readonly #options: Resolved;
  /** The snapshot whose settings Knex holds now. */
  #handed: CredentialsSnapshot | undefined;
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
  #closing: Promise<void> | undefined;

  constructor(options: Resolved) {
    this.#options = options;
  }

  get coordinator(): RotationCoordinator {
    return this.#options.coordinator;
  }

  /** Knex's `this`: subscribe to its pool's events, once per pool. */
  watch(client: unknown): void {
    const pool = knexPoolOf(client);
    if (pool === undefined || this.#watched.has(pool)) return;
    this.#watched.add(pool);
    pool.on('createFail', (_eventId, error) => this.#onCreateFail(error));
    pool.on('poolDestroySuccess', () => {
      this.close().catch(() => {}); // the coordinator reports its own errors as events
    });
  }

  async settings(): Promise<KnexConnectionSettings> {
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

  afterCreate(connection: RawConnection): void {
    const snapshot = this.#snapshotOf(connection);
    const generation = snapshot?.generation ?? 0;
    this.#settled(generation);
    connection[GENERATION] = generation;
    if (snapshot) this.#generations.verify(snapshot);
    this.coordinator.reportSuccess(generation);
    if (this.#options.rejectReadOnly) this.#observeReadOnly(connection);
  }

  /** False for a connection that must not be handed out again. */
  usable(connection: RawConnection): boolean {
    if (connection[READ_ONLY]) return false;
    const generation = connection[GENERATION];
    return generation === undefined || !this.#generations.isStale(generation);
  }

  close(): Promise<void> {
    this.#closing ??= this.#options.owned ? this.coordinator.close() : Promise.resolve();
    return this.#closing;
  }

  #build(snapshot: CredentialsSnapshot): KnexConnectionSettings {
    const { user, password, host, port, database } = snapshot.credentials;
    const settings: Record<string, unknown> = {
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
    return settings as unknown as KnexConnectionSettings;
  }

  #onCreateFail(error: unknown): void {
    // Attempts settle in about the order they started: charge the failure to the oldest
    // credentials still being tried. A login with credentials older than the newest ones
    // costs no rotation; at worst a refusal of the newest is seen at Knex's next retry.
    const generation = this.#oldestAttempt() ?? this.#handed?.generation;
    if (generation !== undefined) this.#settled(generation);
    if (!isAccessDenied(error) || generation === undefined || this.#rejection !== undefined || this.coordinator.closed) return;
    // One rotation however many connections fail: later failures find it pending.
    const rejection = this.coordinator.reportRejected(generation, error as Error);
    this.#rejection = rejection;
    const settle = () => {
      if (this.#rejection === rejection) this.#rejection = undefined;
    };
    rejection.then(settle, settle);
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

  #observeReadOnly(connection: RawConnection): void {
    const addCommand = connection.addCommand;
    if (typeof addCommand !== 'function') return;
    connection.addCommand = function (this: RawConnection, cmd: Mysql2Command): Mysql2Command {
      observeCommandErrors(cmd, (error) => {
        if (isReadOnlyError(error)) connection[READ_ONLY] = true;
        return error;
      });
      return addCommand.call(this, cmd);
    };
  }
}

/**
 * Creates Knex's `connection` function for a pool Knex owns: credentials come from a provider
 * through a {@link RotationCoordinator}, and Knex refetches them before new connections after
 * each rotation. When Knex cannot log in (1045), the coordinator rotates once however many
 * connections fail; with {@link KnexConnection.pool}'s hooks the waiting queries are retried
 * with the new credentials instead of failing, and connections that hit a read-only error or
 * belong to older credentials are discarded.
 *
 * Keys that are not credswap's go to mysql2 as given: it warns about those it does not know.
 *
 * @throws InvalidOptionError (a TypeError) naming an invalid option, a pool option, or one that
 * looks like a misspelt credswap option.
 * @example
 * ```ts
 * import knex from 'knex';
 * import { knexConnection } from 'credswap/knex';
 * import { SecretsManagerProvider } from 'credswap/aws';
 *
 * const connection = knexConnection({
 *   host: 'orders.cluster-abc.eu-west-1.rds.amazonaws.com',
 *   database: 'orders',
 *   credentials: new SecretsManagerProvider({ secretId: 'prod/orders/mysql' }),
 * });
 * const db = knex({ client: 'mysql2', connection, pool: connection.pool({ min: 0, max: 10 }) });
 * // ...
 * await db.destroy(); // also closes the provider
 * ```
 */
export function knexConnection(options: KnexConnectionOptions): KnexConnection {
  const state = new KnexCredentials(resolveOptions(options));
  const connection = async function credswapKnexConnection(this: unknown): Promise<KnexConnectionSettings> {
    if (state.coordinator.closed) throw new ClosedError('the Knex connection');
    state.watch(this);
    return state.settings();
  };
  const pool = (input: KnexPoolOptions = {}): KnexPoolOptions => {
    const bag = expectObject(input, 'pool')!;
    const { afterCreate, validate } = bag as KnexPoolOptions;
    if (afterCreate !== undefined && typeof afterCreate !== 'function')
      throw new InvalidOptionError('pool.afterCreate', 'must be a function');
    if (validate !== undefined && typeof validate !== 'function') throw new InvalidOptionError('pool.validate', 'must be a function');
    return {
      ...bag,
      propagateCreateError: (bag.propagateCreateError as boolean | undefined) ?? false,
      afterCreate(raw: unknown, done: (error: Error | null, connection?: unknown) => void) {
        state.afterCreate(raw as RawConnection);
        if (afterCreate) afterCreate(raw, done);
        else done(null, raw);
      },
      validate(raw: unknown) {
        if (!state.usable(raw as RawConnection)) return false;
        return validate ? validate(raw) : true;
      },
    };
  };
  Object.defineProperties(connection, {
    coordinator: { get: () => state.coordinator, enumerable: false },
    pool: { value: pool, enumerable: false },
    close: { value: () => state.close(), enumerable: false },
    [Symbol.asyncDispose]: { value: () => state.close(), enumerable: false },
    [inspect.custom]: {
      value: () => `KnexConnection { generation: ${state.coordinator.generation}, closed: ${state.coordinator.closed} }`,
      enumerable: false,
    },
  });
  return connection as unknown as KnexConnection;
}
