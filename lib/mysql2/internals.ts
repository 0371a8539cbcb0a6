/**
 * Everything credswap relies on in mysql2 beyond its documented API lives in this file, and
 * test/mysql2/internals.test.ts fails loudly when mysql2 changes any of it. The peer range in
 * package.json is pinned to the versions that test passes on.
 *
 * What we use:
 * - `mysql2.PoolConnection` (exported, undocumented): a Connection that calls back into its
 *   pool: `pool.releaseConnection(conn)` on `release()`, `pool._removeConnection(conn)` on
 *   `destroy()`/`end`/`error`, and reads `pool._closed`. It has `_pool`, `_released` and
 *   `_realEnd` (the real COM_QUIT `end`).
 * - `Connection.prototype.addCommand(cmd)`: every command passes through it; a command reports
 *   its error to `cmd.onResult(err)` when it has a callback, otherwise by `cmd.emit('error')`.
 * - `mysql2.ConnectionConfig` (exported). credswap keeps no copy of the option names it accepts
 *   (`validOptions`, private): options that are not credswap's go to it as given, and it warns
 *   with `console.error` about each own key it does not know (inherited keys are read but not
 *   checked: see `derivedOptions`).
 * - `connection._isMariaDB`: set from the server's handshake, before the login's answer, so a
 *   refused login still tells which server refused it (`isMariaDBConnection`).
 */
import * as mysql2 from 'mysql2';
import { EventEmitter } from 'node:events';

/** A mysql2 command object (Query, Execute, ...), as far as credswap touches it. */
export interface Mysql2Command extends EventEmitter {
  onResult?: ((err: Error | null, ...rest: unknown[]) => unknown) | undefined;
}

/** The ConnectionConfig instance a connection is created from. */
export interface Mysql2ConnectionConfig {
  user?: string;
  password?: string;
  host?: string;
  port?: number;
  database?: string;
  namedPlaceholders?: boolean;
  stringifyObjects?: boolean;
  timezone?: string;
  multipleStatements?: boolean;
  trace?: boolean;
  [key: string]: unknown;
}

/** The pool side of mysql2's PoolConnection contract. */
export interface PoolConnectionHost {
  readonly _closed: boolean;
  releaseConnection(connection: never): void;
  _removeConnection(connection: never): void;
}

/** mysql2's PoolConnection, as far as credswap touches it. */
export interface Mysql2PoolConnection extends EventEmitter {
  config: Mysql2ConnectionConfig;
  threadId: number | null;
  _pool: PoolConnectionHost | null;
  _released: boolean;
  _closing?: boolean;
  lastActiveTime: number;
  connect(cb: (err: Error | null) => void): void;
  query(...args: unknown[]): Mysql2Command;
  execute(...args: unknown[]): Mysql2Command;
  addCommand(cmd: Mysql2Command): Mysql2Command;
  reset(cb: (err: Error | null) => void): unknown;
  release(): void;
  destroy(): void;
  _realEnd(cb?: (err?: Error | null) => void): unknown;
}

type PoolConnectionCtor = new (pool: PoolConnectionHost, options: { config: Mysql2ConnectionConfig }) => Mysql2PoolConnection;

/** mysql2's PoolConnection class. */
export const PoolConnection = (mysql2 as unknown as { PoolConnection: PoolConnectionCtor }).PoolConnection;

type ConnectionConfigCtor = (new (options: Record<string, unknown>) => Mysql2ConnectionConfig) & {
  parseUrl(url: string): Record<string, unknown>;
};

/** mysql2's ConnectionConfig class. */
export const ConnectionConfig = (mysql2 as unknown as { ConnectionConfig: ConnectionConfigCtor }).ConnectionConfig;

/** mysql2's public `createQuery(sql, values, cb, config)`. */
export const createQuery = (
  mysql2 as unknown as {
    createQuery(
      sql: unknown,
      values: unknown,
      cb: unknown,
      config: Mysql2ConnectionConfig,
    ): Mysql2Command & {
      namedPlaceholders?: boolean;
    };
  }
).createQuery;

/**
 * Options for a further ConnectionConfig built from options mysql2 has already checked (a pool's,
 * for each new generation of credentials): `overrides` as own keys, the rest inherited from
 * `options`. ConnectionConfig reads inherited keys like own ones but warns only about own keys it
 * does not know, so its `Ignoring invalid configuration option` warning is printed once per pool,
 * as mysql2 prints it once per `createPool`, not again at every rotation.
 */
export function derivedOptions(options: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  return Object.assign(Object.create(options) as Record<string, unknown>, overrides);
}

/** Password-bearing keys of a ConnectionConfig: made non-enumerable so they never print. */
export const SECRET_CONFIG_KEYS = ['password', 'password1', 'password2', 'password3', 'passwordSha1'] as const;

/** Hides a config's password fields from `util.inspect` and `JSON.stringify`, in place. */
export function hideSecrets<T extends object>(config: T): T {
  for (const key of SECRET_CONFIG_KEYS) {
    const descriptor = Object.getOwnPropertyDescriptor(config, key);
    if (descriptor && descriptor.enumerable) {
      Object.defineProperty(config, key, { ...descriptor, enumerable: false });
    }
  }
  return config;
}

/**
 * Hides the password fields mysql2's handshake command copies from the config. That command is
 * still the connection's current command while the connect callback and the pool's `connection`
 * event run, so without this `util.inspect(connection)` would print the password there.
 */
export function hideHandshakeSecrets(connection: object): void {
  const command = (connection as { _command?: unknown })._command;
  if (typeof command === 'object' && command !== null) hideSecrets(command);
}

/**
 * A per-connection copy of a ConnectionConfig (commands like `changeUser` mutate a
 * connection's config in place). Keeps the prototype and the non-enumerable password.
 */
export function cloneConfig(config: Mysql2ConnectionConfig): Mysql2ConnectionConfig {
  return Object.create(Object.getPrototypeOf(config), Object.getOwnPropertyDescriptors(config));
}

/**
 * Calls `observe(err)` with every error a command reports, without changing how the command
 * reports it (an `error` event with no listener still throws as before), except that the error
 * reported is what `observe` returns.
 */
export function observeCommandErrors(cmd: Mysql2Command, observe: (err: Error) => Error): void {
  const onResult = cmd.onResult;
  if (typeof onResult === 'function') {
    cmd.onResult = (err: Error | null, result?: unknown, fields?: unknown) => onResult(err && observe(err), result, fields);
    return;
  }
  const emit = cmd.emit;
  cmd.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event === 'error') args[0] = observe(args[0] as Error);
    return emit.apply(cmd, [event, ...args]);
  }) as typeof cmd.emit;
}

/** mysql2's exported SQL formatting helpers (public API). */
export const sqlString = mysql2 as unknown as {
  format(sql: string, values: unknown, stringifyObjects?: boolean, timezone?: string): string;
  escape(value: unknown, stringifyObjects?: boolean, timezone?: string): string;
  escapeId(value: string, forbidQualified?: boolean): string;
};

/**
 * Whether the server a connection reached said it is MariaDB in its handshake: known once the
 * handshake arrived, also when the login was then refused (the same error numbers mean different
 * things on MySQL and MariaDB). `false` before the handshake.
 */
export function isMariaDBConnection(connection: object): boolean {
  return (connection as { _isMariaDB?: unknown })._isMariaDB === true;
}
