/**
 * The MySQL server a drill runs on: a throwaway MariaDB, or MySQL when `CREDSWAP_DRILL_SERVER`
 * says so (embedded), or the server of a `--mysql <admin url>`, where the drill creates a
 * database and users of its own and drops them again when it ends. Nothing the drill did not
 * create is ever changed.
 *
 * @packageDocumentation
 */

import { randomBytes } from 'node:crypto';
import { createConnection, type Connection } from 'mysql2/promise';
import { describeCause, InvalidOptionError } from '../../errors.js';
import { DrillTargetError } from '../errors.js';
import { startMariaDB, type MariaDBServer } from '../../testing/mariadb.js';
import { startMySQL } from '../../testing/mysql.js';
import type { ServerFlavour } from '../../testing/server/admin.js';
import { redactUrl, scrubSecrets } from '../redact.js';

/** An administrator's handle on the drill's server. */
export interface DrillServer {
  readonly host: string;
  readonly port: number;
  readonly adminUser: string;
  readonly adminPassword: string;
  /** True for a throwaway server. */
  readonly embedded: boolean;
  /** How to name it to the user: never with a password. */
  readonly label: string;
  /** Runs one statement as the administrator. */
  query<T = unknown>(sql: string, values?: unknown[]): Promise<T>;
  /** Creates a user (accounts `'name'@'%'` and `'name'@'localhost'`) with a random password. */
  createUser(options: { prefix: string; grants?: string }): Promise<{ user: string; password: string }>;
  /** Changes a user's password on every host entry (`ALTER USER`). */
  setPassword(user: string, password: string): Promise<void>;
  /** Stops a throwaway server; on a real one, drops what the drill created. Idempotent. */
  stop(): Promise<void>;
}

/** The drill's database on a server: a table `items (id, n)` with a row `id = 1`, and a user for it. */
export interface DrillDatabase {
  readonly database: string;
  readonly user: string;
  readonly password: string;
}

/** The connection timeout of the drill's administrator connections to a real server. */
export const DRILL_ADMIN_CONNECT_TIMEOUT_MS = 5_000;

/**
 * The environment variable that chooses the drill's throwaway servers: `mariadb` (the default)
 * or `mysql` (a MySQL server found as {@link startMySQL} finds one). The server of `--mysql` is
 * used whatever it says.
 *
 * @example
 * ```sh
 * CREDSWAP_DRILL_SERVER=mysql credswap drill --scenario function
 * ```
 */
export const DRILL_SERVER_ENV = 'CREDSWAP_DRILL_SERVER';

/** How the label of a throwaway server names its flavour. */
const SERVER_NAMES: Readonly<Record<ServerFlavour, string>> = { mariadb: 'MariaDB', mysql: 'MySQL' };

/**
 * The flavour of the drill's throwaway servers, from {@link DRILL_SERVER_ENV}: `mariadb` when it
 * is unset or empty.
 *
 * @throws {@link InvalidOptionError} naming the variable when it is neither `mariadb` nor `mysql`
 */
export function drillServerFlavour(env: NodeJS.ProcessEnv = process.env): ServerFlavour {
  const value = env[DRILL_SERVER_ENV]?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'mariadb') return 'mariadb';
  if (value === 'mysql') return 'mysql';
  throw new InvalidOptionError(DRILL_SERVER_ENV, "must be 'mariadb' or 'mysql'");
}

/** Starts a throwaway server of the flavour {@link DRILL_SERVER_ENV} names. */
export function startDrillServer(): Promise<MariaDBServer> {
  return drillServerFlavour() === 'mysql' ? startMySQL() : startMariaDB();
}

/** How to name a throwaway server to the user: `throwaway MySQL on 127.0.0.1:41234`. */
function throwawayLabel(server: MariaDBServer): string {
  return `throwaway ${SERVER_NAMES[server.flavour]} on ${server.host}:${server.port}`;
}

function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/**
 * The server of `--mysql`, or a throwaway server ({@link startDrillServer}) when `mysqlUrl` is
 * undefined.
 *
 * @throws {@link InvalidOptionError} (`--mysql`) for a URL that is not `mysql://` or `mariadb://`,
 *   and naming {@link DRILL_SERVER_ENV} when that is neither `mariadb` nor `mysql`
 * @throws {@link DrillTargetError} when the server cannot be reached or refuses the administrator
 */
export async function openDrillServer(mysqlUrl: string | undefined): Promise<DrillServer> {
  if (mysqlUrl === undefined) {
    const server = await startDrillServer();
    return {
      host: server.host,
      port: server.port,
      adminUser: server.adminUser,
      adminPassword: server.adminPassword,
      embedded: true,
      label: throwawayLabel(server),
      query: (sql, values) => server.query(sql, values),
      createUser: (options) => server.createUser(options),
      setPassword: (user, password) => server.setPassword(user, password),
      stop: () => server.stop(),
    };
  }
  const server = new RealServer(parseAdminUrl(mysqlUrl));
  await server.check();
  return server;
}

interface AdminAccess {
  host: string;
  port: number;
  user: string;
  password: string;
  label: string;
}

/**
 * The parts of a `--mysql` URL (`mysql://user:password@host:port/`).
 *
 * @throws {@link InvalidOptionError} naming `--mysql`, never quoting the URL
 */
export function parseAdminUrl(url: string): AdminAccess {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidOptionError('--mysql', 'is not a URL (expected mysql://user:password@host:3306/)');
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new InvalidOptionError('--mysql', 'must start with mysql:// or mariadb://');
  }
  if (parsed.hostname === '') throw new InvalidOptionError('--mysql', 'has no host');
  const port = parsed.port === '' ? 3306 : Number(parsed.port);
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    user: decodeURIComponent(parsed.username) || 'root',
    password: decodeURIComponent(parsed.password),
    label: redactUrl(url),
  };
}

class RealServer implements DrillServer {
  readonly host: string;
  readonly port: number;
  readonly adminUser: string;
  declare readonly adminPassword: string;
  readonly embedded = false;
  readonly label: string;
  readonly #users = new Map<string, string[]>();
  readonly #databases = new Set<string>();
  #stopping: Promise<void> | undefined;

  constructor(access: AdminAccess) {
    this.host = access.host;
    this.port = access.port;
    this.adminUser = access.user;
    // Not enumerable: never in util.inspect or JSON of this object.
    Object.defineProperty(this, 'adminPassword', { value: access.password, enumerable: false });
    this.label = access.label;
  }

  async check(): Promise<void> {
    const rows = await this.query<Array<{ v: string }>>('SELECT VERSION() AS v');
    if (!Array.isArray(rows) || rows.length !== 1) throw new DrillTargetError(this.label, 'did not answer SELECT VERSION()');
  }

  async query<T = unknown>(sql: string, values?: unknown[]): Promise<T> {
    let connection: Connection;
    try {
      connection = await createConnection({
        host: this.host,
        port: this.port,
        user: this.adminUser,
        password: this.adminPassword,
        connectTimeout: DRILL_ADMIN_CONNECT_TIMEOUT_MS,
      });
    } catch (error) {
      throw new DrillTargetError(this.label, `cannot connect as its administrator: ${this.#describe(error)}`, {
        cause: this.#scrubbed(error),
      });
    }
    try {
      const [rows] = await connection.query(sql, values);
      return rows as T;
    } catch (error) {
      throw new DrillTargetError(this.label, `refused a statement of the drill: ${this.#describe(error)}`, {
        cause: this.#scrubbed(error),
      });
    } finally {
      await connection.end().catch(() => connection.destroy());
    }
  }

  async createUser(options: { prefix: string; grants?: string }): Promise<{ user: string; password: string }> {
    const user = uniqueName(options.prefix);
    const password = randomBytes(18).toString('base64url');
    const hosts = ['%', 'localhost'];
    this.#users.set(user, hosts);
    await this.query(
      `CREATE USER ${hosts.map(() => '?@? IDENTIFIED BY ?').join(', ')}`,
      hosts.flatMap((h) => [user, h, password]),
    );
    if (options.grants !== undefined) {
      await this.query(
        `GRANT ${options.grants} TO ${hosts.map(() => '?@?').join(', ')}`,
        hosts.flatMap((h) => [user, h]),
      );
    }
    return { user, password };
  }

  async setPassword(user: string, password: string): Promise<void> {
    const hosts = this.#users.get(user);
    if (hosts === undefined) throw new DrillTargetError(this.label, `the drill did not create the user ${user}; it changes no other`);
    await this.query(
      `ALTER USER ${hosts.map(() => '?@? IDENTIFIED BY ?').join(', ')}`,
      hosts.flatMap((h) => [user, h, password]),
    );
  }

  /** Records a database the drill created, for stop() to drop. */
  trackDatabase(name: string): void {
    this.#databases.add(name);
  }

  /** Records a user created by someone on the drill's behalf (a rotation's `_clone`), for stop() to drop. */
  trackUser(user: string, hosts: string[]): void {
    this.#users.set(user, hosts);
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const [user, hosts] of this.#users) {
        for (const host of hosts) await this.query('DROP USER IF EXISTS ?@?', [user, host]);
      }
      for (const database of this.#databases) await this.query(`DROP DATABASE IF EXISTS \`${database}\``);
    })();
    return this.#stopping;
  }

  #describe(error: unknown): string {
    return scrubSecrets(describeCause(error), [this.adminPassword]);
  }

  /** The error without the statement text (mysql2 keeps it in `sql`; it may hold a password). */
  #scrubbed(error: unknown): unknown {
    if (error instanceof Error) Reflect.deleteProperty(error, 'sql');
    return error;
  }
}

/**
 * Creates the drill's database (table `items (id, n)` with a row `id = 1`) and its application
 * user on `server`.
 */
export async function createDrillDatabase(server: DrillServer, prefix: string): Promise<DrillDatabase> {
  const database = uniqueName(`credswap_drill_${prefix}`);
  if (server instanceof RealServer) server.trackDatabase(database);
  await server.query(`CREATE DATABASE \`${database}\``);
  await server.query(`CREATE TABLE \`${database}\`.items (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL)`);
  await server.query(`INSERT INTO \`${database}\`.items (id, n) VALUES (1, 0)`);
  const account = await server.createUser({ prefix: 'drill', grants: `ALL ON \`${database}\`.*` });
  return { database, user: account.user, password: account.password };
}

/**
 * Tells a real server's cleanup about a user someone created on the drill's behalf (the
 * alternating-users rotation's `<user>_clone`), so that it is dropped too.
 */
export function trackExtraUser(server: DrillServer, user: string): void {
  if (server instanceof RealServer) server.trackUser(user, ['%', 'localhost']);
}
