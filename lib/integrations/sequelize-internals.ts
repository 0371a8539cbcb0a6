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
 * the instance to see the errors of every statement Sequelize runs on it.
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
 * Calls `observe(err)` with the error of every command that runs on `connection` from now on,
 * without changing how the command reports it.
 */
export function observeConnectionErrors(connection: SequelizeMysqlConnection, observe: (err: Error) => void): void {
  const addCommand = connection.addCommand;
  Object.defineProperty(connection, 'addCommand', {
    value(this: SequelizeMysqlConnection, cmd: Mysql2Command) {
      observeCommandErrors(cmd, (err) => {
        observe(err);
        return err;
      });
      return addCommand.call(this, cmd as never);
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
}
