/**
 * `createConnection` with rotating credentials: one mysql2 connection whose login follows the
 * pool's rotation rules, for scripts and single-connection Lambdas.
 */
import * as mysql2 from 'mysql2';
import type * as mysql2Promise from 'mysql2/promise';
import { type CoordinatorTimingOptions, type CredentialsSnapshot, RotationCoordinator, annotateAccessDenied } from '../coordinator.js';
import { InvalidOptionError } from '../errors.js';
import { expectObject } from '../options.js';
import type { CredentialsProvider, HotSwapFunction } from '../provider.js';
import { isAccessDenied } from './classify.js';
import { derivedOptions, hideHandshakeSecrets, hideSecrets } from './internals.js';
import { MYSQL2_POOL_KEYS, resolvePoolOptions } from './pool-options.js';

/** Options that only make sense for a pool; a connection rejects them. */
const POOL_ONLY_KEYS = [...MYSQL2_POOL_KEYS, 'rejectReadOnly', 'failover', 'maxLifetimeMs'] as const;
const POOL_ONLY_ROTATION_KEYS = ['drain', 'drainTimeoutMs'] as const;

/** The `rotation` option of `createConnection`: the pool's, without the draining options. */
export interface ConnectionRotationOptions extends CoordinatorTimingOptions {
  /**
   * Logins to try when the server answers 1045, counting the first: after each 1045 the
   * provider is asked once for new credentials and the login is repeated with them.
   * @defaultValue 3
   */
  maxAttempts?: number;
}

/** Options of `createConnection`: mysql2's connection options, plus credswap's. */
export interface ConnectionOptions extends Omit<mysql2.ConnectionOptions, (typeof POOL_ONLY_KEYS)[number]> {
  /**
   * Where credentials come from: a provider or a hot-swap function. Without it, `user` and
   * `password` behave exactly as in mysql2. Ending the connection closes the provider, as
   * `pool.end()` does.
   */
  credentials?: CredentialsProvider | HotSwapFunction;
  /** How the login rotates credentials. Requires `credentials`. */
  rotation?: ConnectionRotationOptions;
}

/** credswap's addition to a mysql2 connection. */
export interface ConnectionExtras {
  /**
   * The coordinator that fetched this connection's credentials (`undefined` without
   * `credentials`). It is closed, with its provider, when the connection ends.
   */
  readonly coordinator: RotationCoordinator | undefined;
}

/** What `credswap/mysql2`'s `createConnection` calls back with: a mysql2 `Connection`. */
export type Connection = mysql2.Connection & ConnectionExtras;

/** What `credswap/mysql2/promise`'s `createConnection` resolves to: a mysql2/promise `Connection`. */
export type PromiseConnection = mysql2Promise.Connection & ConnectionExtras;

interface ResolvedConnectionOptions {
  readonly mysqlOptions: Record<string, unknown>;
  readonly provider: CredentialsProvider | undefined;
  readonly rotation: Required<ConnectionRotationOptions>;
}

/** Validates `createConnection` options like the pool's; throws InvalidOptionError naming the option. */
function resolveConnectionOptions(input: ConnectionOptions | string): ResolvedConnectionOptions {
  const bag = typeof input === 'string' ? { uri: input } : expectObject(input, 'options')!;
  const why = 'is a pool option: createConnection opens one connection';
  for (const key of POOL_ONLY_KEYS) if (bag[key] !== undefined) throw new InvalidOptionError(key, why);
  const rotation = bag.rotation as Record<string, unknown> | undefined;
  if (typeof rotation === 'object' && rotation !== null) {
    for (const key of POOL_ONLY_ROTATION_KEYS) {
      if (rotation[key] !== undefined) throw new InvalidOptionError(`rotation.${key}`, why);
    }
  }
  const { mysqlOptions, provider, rotation: resolved } = resolvePoolOptions(bag);
  const { timeoutMs, cooldownMs, maxCooldownMs, refreshBeforeExpiryMs, maxAttempts } = resolved;
  return { mysqlOptions, provider, rotation: { timeoutMs, cooldownMs, maxCooldownMs, refreshBeforeExpiryMs, maxAttempts } };
}

/**
 * mysql2's options for a login with `snapshot`'s credentials (theirs override host, port,
 * database). After the first login attempt they inherit the user's options instead of copying
 * them, so mysql2 warns about a key it ignores once, not at every retry.
 */
function optionsFor(mysqlOptions: Record<string, unknown>, snapshot: CredentialsSnapshot, first: boolean): Record<string, unknown> {
  const { user, password, host, port, database } = snapshot.credentials;
  const overrides = {
    user,
    password,
    ...(host !== undefined ? { host } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(database !== undefined ? { database } : {}),
  };
  return first ? { ...mysqlOptions, ...overrides } : derivedOptions(mysqlOptions, overrides);
}

/** Opens one connection; a failed one is destroyed and its later socket errors ignored. */
function open(options: Record<string, unknown>): Promise<mysql2.Connection> {
  const connection = mysql2.createConnection(options as mysql2.ConnectionOptions);
  hideSecrets(connection.config);
  return new Promise((resolve, reject) => {
    connection.connect((err) => {
      hideHandshakeSecrets(connection);
      if (!err) return resolve(connection);
      connection.on('error', () => {});
      connection.destroy();
      reject(err);
    });
  });
}

/** Logs in, rotating on 1045 as the pool does. The coordinator is closed if no login works. */
async function login({ mysqlOptions, provider, rotation }: ResolvedConnectionOptions): Promise<Connection> {
  if (!provider) return attach(await open(mysqlOptions), undefined);
  const coordinator = RotationCoordinator.fromResolved(provider, rotation);
  try {
    let snapshot = await coordinator.acquire();
    for (let attempt = 1; ; attempt += 1) {
      try {
        const connection = await open(optionsFor(mysqlOptions, snapshot, attempt === 1));
        coordinator.reportSuccess(snapshot.generation);
        return attach(connection, coordinator);
      } catch (error) {
        if (!isAccessDenied(error)) throw error;
        if (attempt >= rotation.maxAttempts) {
          const plural = attempt === 1 ? '' : 's';
          throw annotateAccessDenied(
            error as Error,
            `${attempt} login${plural} with credentials from provider '${provider.name}' refused (rotation.maxAttempts)`,
          );
        }
        snapshot = await coordinator.reportRejected(snapshot.generation, error as Error);
      }
    }
  } catch (error) {
    await coordinator.close();
    throw error;
  }
}

/** Adds `coordinator`, and closes it when the connection ends: end(), destroy(), a fatal error, its socket closing. */
function attach(connection: mysql2.Connection, coordinator: RotationCoordinator | undefined): Connection {
  Object.defineProperty(connection, 'coordinator', { value: coordinator, configurable: true });
  if (!coordinator) return connection as Connection;
  const baseEnd = connection.end as (this: mysql2.Connection, callback?: unknown) => unknown;
  const baseClose = (connection as unknown as { close(): void }).close;
  const closeCoordinator = (): Promise<void> => coordinator.close(); // never rejects
  Object.defineProperties(connection, {
    // end's callback (what the promise flavour's end() waits for) runs once the provider is closed.
    end: {
      configurable: true,
      writable: true,
      value: function end(this: mysql2.Connection, callback?: unknown) {
        const closing = closeCoordinator();
        if (typeof callback !== 'function') return baseEnd.call(this, callback);
        return baseEnd.call(this, (...result: unknown[]) => void closing.then(() => process.nextTick(callback as () => void, ...result)));
      },
    },
    // destroy() (mysql2's promise wrapper calls the base one) and fatal errors go through close().
    close: {
      configurable: true,
      writable: true,
      value: function close(this: mysql2.Connection) {
        void closeCoordinator();
        return baseClose.call(this);
      },
    },
  });
  // A fatal error, the server closing the connection, or the end of a QUIT.
  (connection as unknown as { stream: NodeJS.EventEmitter }).stream.once('close', () => void closeCoordinator());
  return connection as Connection;
}

/**
 * Opens one connection, callback style, like mysql2's `createConnection`, with credentials that
 * come from `credentials`: fetched before the login; after a 1045 the provider is asked once for
 * new ones and the login repeated, up to `rotation.maxAttempts` logins. Other errors fail at once.
 *
 * Unlike mysql2's, it cannot return the connection synchronously (credentials are fetched
 * first): the connection arrives, already connected, through `callback`. Ending it (`end()`,
 * `destroy()`, a fatal error) closes its coordinator and provider, so a script exits by itself;
 * to reuse a provider across connections, pass a function that calls it instead.
 *
 * @throws InvalidOptionError (a TypeError) naming an invalid option, or a key that looks like a misspelt credswap option (other keys go to mysql2, which warns about those it does not know), synchronously.
 * @example
 * ```ts
 * import { createConnection } from 'credswap/mysql2';
 * createConnection({ host: 'db.internal', credentials: new FileProvider({ path: '/etc/db/creds.json' }) }, (err, conn) => {
 *   if (err) throw err;
 *   conn.query('SELECT 1', (err, rows) => conn.end());
 * });
 * ```
 */
export function createConnection(options: ConnectionOptions | string, callback: (err: Error | null, connection: Connection) => void): void {
  if (typeof callback !== 'function') throw new TypeError('credswap: createConnection() needs a callback');
  const resolved = resolveConnectionOptions(options);
  login(resolved).then(
    (connection) => process.nextTick(callback, null, connection),
    (error: Error) => process.nextTick(callback, error),
  );
}

/**
 * Opens one connection, like `mysql2/promise`'s `createConnection`, with credentials that rotate
 * on login as in {@link createConnection}. Resolves with a mysql2/promise `Connection` once it
 * is connected; the error of a login that failed with 1045 on every attempt is the server's own
 * (`errno` 1045), with credswap's reason appended and never a password.
 *
 * @throws InvalidOptionError (a TypeError) naming an invalid option, or a key that looks like a misspelt credswap option (other keys go to mysql2, which warns about those it does not know), synchronously.
 * @example
 * ```ts
 * import { createConnection } from 'credswap/mysql2/promise';
 * await using conn = await createConnection({
 *   host: 'db.internal',
 *   credentials: async (signal) => fetchCredentials(signal),
 * });
 * const [rows] = await conn.query('SELECT NOW()');
 * ```
 */
export function createPromiseConnection(options: ConnectionOptions | string): Promise<PromiseConnection> {
  const resolved = resolveConnectionOptions(options);
  return login(resolved).then((connection) => {
    const promiseConnection = connection.promise(resolved.mysqlOptions.Promise as PromiseConstructor | undefined);
    Object.defineProperty(promiseConnection, 'coordinator', { value: connection.coordinator, configurable: true });
    return promiseConnection as PromiseConnection;
  });
}
