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
import { inspect } from 'node:util';
import type { RotationCoordinator } from '../coordinator.js';
import { ClosedError, InvalidOptionError } from '../errors.js';
import { expectObject } from '../options.js';
import { KnexCredentials, type RawConnection } from './knex-credentials.js';
import { type KnexConnectionOptions, resolveKnexOptions } from './knex-options.js';

export type { KnexConnectionOptions } from './knex-options.js';
export type { OrmFailoverOptions } from './orm-failover.js';

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
   * credentials a connection logged in with, asks its server who it is and whether it takes
   * writes, and watches it for read-only errors; `validate` discards connections to a server the
   * address no longer leads to, connections that hit a read-only error without failover
   * episodes (or a read-only transaction's 1792) and, once newer credentials have logged in,
   * idle connections opened with older ones, and during a failover episode waits for a writable
   * server; `propagateCreateError` defaults to false.
   */
  pool(options?: KnexPoolOptions): KnexPoolOptions;
  /** Closes the coordinator, when `knexConnection` created it. `knex.destroy()` does too. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Creates Knex's `connection` function for a pool Knex owns: credentials come from a provider
 * through a {@link RotationCoordinator}, and Knex refetches them before new connections after
 * each rotation. Knex's logins go through the coordinator's login gate (lockout-safe: one login
 * at a time with credentials that may be refused, never a refused one again while the
 * coordinator asks). When Knex cannot log in (1045), the coordinator rotates once however many
 * connections fail; with {@link KnexConnection.pool}'s hooks the waiting queries are retried
 * with the new credentials instead of failing, connections of older credentials are
 * discarded, and failovers are followed (see {@link KnexConnectionOptions.failover}).
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
  const state = new KnexCredentials(resolveKnexOptions(options));
  const connection = async function credswapKnexConnection(this: unknown): Promise<KnexConnectionSettings> {
    if (state.coordinator.closed) throw new ClosedError('the Knex connection');
    state.watch(this);
    return (await state.settings()) as unknown as KnexConnectionSettings;
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
        state.afterCreate(raw as RawConnection).then(
          () => (afterCreate ? afterCreate(raw, done) : done(null, raw)),
          (error: Error) => done(error), // the connection is gone
        );
      },
      validate(raw: unknown) {
        const yours = (usable: boolean) => (usable && validate ? validate(raw) : usable);
        const usable = state.usable(raw as RawConnection);
        return typeof usable === 'boolean' ? yours(usable) : usable.then(yours);
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
