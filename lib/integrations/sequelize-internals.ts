/**
 * Everything credswap relies on in Sequelize (6.37) beyond its documented API lives in this
 * file, and test/orm/sequelize-internals.test.ts fails loudly when Sequelize changes any of it.
 * Sequelize is typed structurally here: importing credswap never loads it.
 *
 * What we use, on one Sequelize instance's `connectionManager` (the mysql dialect's):
 * - `connect(config)`: opens one mysql2 connection from a Sequelize connection config
 *   (`host`, `port`, `username`, `password`, `database`, `dialectOptions`) and rejects with a
 *   Sequelize `ConnectionError` whose `parent` is mysql2's error. Every connection of the pool
 *   (and the version check) is opened through it, after the `beforeConnect` hooks.
 * - `disconnect(connection)`: closes one; every connection the pool drops goes through it.
 * - `validate(connection)`: the default `pool.validate`, asked before an idle connection is
 *   handed out (false: the pool destroys it and takes another).
 * - `releaseConnection(connection)` / `destroyConnection(connection)`: how queries and
 *   transactions give a connection back, and how they drop one.
 * - `close()`: what `sequelize.close()` calls.
 *
 * And on each mysql2 connection: `addCommand(cmd)` (see lib/mysql2/internals.ts), overridden on
 * the instance to see (and replace) the errors of every statement Sequelize runs on it.
 *
 * On the instance: `sequelize.constructor.AccessDeniedError` and `.ConnectionError` (the classes
 * Sequelize's `connect` wraps driver errors in, `parent` and `original` being the driver's
 * error), and the `beforePoolAcquire` hook (`sequelize.addHook`, Sequelize 6.32+), awaited before
 * each acquisition from the pool with the options of `getConnection` (`type: 'SELECT'` for
 * reads).
 *
 * Why not only the `beforeConnect` hook: it receives the connection manager's one shared config
 * object, so with concurrent connects nobody can tell which credentials a connection used, and
 * a hook cannot retry a connect the server refused.
 */

import { type Mysql2Command, observeCommandErrors } from '../mysql2/internals.js';

/** A mysql2 connection as Sequelize's mysql dialect hands it out. */
export interface SequelizeMysqlConnection {
  config: object;
  addCommand(cmd: never): unknown;
  on(event: 'error', listener: (err: Error & { fatal?: boolean }) => void): unknown;
}

/** The connection config Sequelize passes to `connect` (other keys are kept as they are). */
export interface SequelizeConnectionConfig {
  host?: string;
  port?: number | string;
  username?: string;
  password?: string | null;
  database?: string;
  [key: string]: unknown;
}

/** The methods of the connection manager that credswap wraps. */
export interface SequelizeConnectionManager {
  connect(config: SequelizeConnectionConfig): Promise<SequelizeMysqlConnection>;
  disconnect(connection: SequelizeMysqlConnection): Promise<unknown>;
  validate(connection: SequelizeMysqlConnection): boolean;
  releaseConnection(connection: SequelizeMysqlConnection): void;
  destroyConnection(connection: SequelizeMysqlConnection): Promise<unknown>;
  close(): Promise<unknown>;
}

/** The part of a Sequelize instance credswap reads. */
export interface SequelizeLike {
  readonly options: { readonly dialect?: unknown; readonly replication?: unknown };
  readonly config: { readonly password?: unknown };
  readonly connectionManager: object;
  addHook?(hook: string, name: string, fn: (...args: never[]) => unknown): unknown;
}

/** A Sequelize error class that wraps a driver error (`parent` and `original`). */
export type SequelizeErrorClass = new (parent: Error) => Error;

/** The classes Sequelize's mysql `connect` wraps login errors in. */
export interface SequelizeConnectErrors {
  /** For a 1045 (`SequelizeAccessDeniedError`). */
  readonly AccessDeniedError: SequelizeErrorClass;
  /** For errors it has no class of its own for (`SequelizeConnectionError`). */
  readonly ConnectionError: SequelizeErrorClass;
}

/**
 * Sequelize's connection error classes, from the instance's constructor (the `Sequelize`
 * class, which exposes every Sequelize error class); `undefined` when it has none.
 */
export function connectErrorsOf(sequelize: SequelizeLike): SequelizeConnectErrors | undefined {
  const ctor = (sequelize as unknown as { constructor?: Record<string, unknown> }).constructor;
  const { AccessDeniedError, ConnectionError } = ctor ?? {};
  if (typeof AccessDeniedError !== 'function' || typeof ConnectionError !== 'function') return undefined;
  return { AccessDeniedError, ConnectionError } as unknown as SequelizeConnectErrors;
}

/** The options `getConnection` passes to the `beforePoolAcquire` hook, as far as credswap reads them. */
export interface PoolAcquireOptions {
  /** `'SELECT'` for reads (a model finder, a read-only transaction). */
  readonly type?: unknown;
}

/**
 * Runs (and awaits) `hook` before each acquisition from Sequelize's pool, through its
 * `beforePoolAcquire` hook. Returns false when this Sequelize has no such hook.
 */
export function beforePoolAcquire(sequelize: SequelizeLike, hook: (options: PoolAcquireOptions | undefined) => Promise<void>): boolean {
  if (typeof sequelize.addHook !== 'function') return false;
  sequelize.addHook('beforePoolAcquire', 'credswapFailover', hook);
  return true;
}

/** The methods credswap replaces. */
const INTERCEPTED = ['connect', 'disconnect', 'validate', 'releaseConnection', 'close'] as const;
const REQUIRED = [...INTERCEPTED, 'destroyConnection'] as const;

type Intercepted = Pick<SequelizeConnectionManager, (typeof INTERCEPTED)[number]>;

/** Replacement methods: each receives the original, bound to the connection manager. */
export type ConnectionManagerInterceptor = {
  [K in keyof Intercepted]: (
    original: SequelizeConnectionManager[K],
    ...args: Parameters<SequelizeConnectionManager[K]>
  ) => ReturnType<SequelizeConnectionManager[K]>;
};

/** What is missing for credswap to plug into `sequelize`, or `undefined` when nothing is. */
export function unsupportedReason(sequelize: unknown): string | undefined {
  if (typeof sequelize !== 'object' || sequelize === null) return 'must be a Sequelize instance';
  const candidate = sequelize as Partial<SequelizeLike>;
  if (candidate.options?.dialect !== 'mysql') return "must use the 'mysql' dialect (mysql2)";
  const manager = candidate.connectionManager as Record<string, unknown> | undefined;
  if (typeof manager !== 'object' || manager === null) return 'has no connection manager';
  for (const method of REQUIRED) {
    if (typeof manager[method] !== 'function') return `has a connection manager without ${method}(): unsupported Sequelize version`;
  }
  return undefined;
}

/**
 * Replaces the connection manager's methods on this one instance (the prototype and other
 * instances are left alone). Returns the originals, bound to the connection manager.
 */
export function interceptConnectionManager(sequelize: SequelizeLike, interceptor: ConnectionManagerInterceptor): Intercepted {
  const manager = sequelize.connectionManager as unknown as Record<string, unknown>;
  const originals: Record<string, unknown> = {};
  for (const method of INTERCEPTED) {
    const original = (manager[method] as (...args: unknown[]) => unknown).bind(manager);
    originals[method] = original;
    const replacement = interceptor[method] as (original: unknown, ...args: unknown[]) => unknown;
    Object.defineProperty(manager, method, {
      value: (...args: unknown[]) => replacement(original, ...args),
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  return originals as unknown as Intercepted;
}

/**
 * Calls `observe(err)` with the error of every command that runs on `connection` from now on;
 * the command reports what `observe` returns (the same error, or one in its place) as it would
 * have reported its own.
 */
export function observeConnectionErrors(connection: SequelizeMysqlConnection, observe: (err: Error) => Error): void {
  const addCommand = connection.addCommand;
  Object.defineProperty(connection, 'addCommand', {
    value(this: SequelizeMysqlConnection, cmd: Mysql2Command) {
      observeCommandErrors(cmd, observe);
      return addCommand.call(this, cmd as never);
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
}
