/**
 * What a test server offers, and the helpers that act as its administrator: statements on
 * short-lived admin connections, unique databases and users, passwords, `read_only` and the
 * process list. The statements are the plain SQL that MariaDB and MySQL share (only
 * `setReadOnly` differs, by {@link ServerFlavour}), so every kind of server, throwaway or
 * external, builds on {@link BaseServer} and overrides only what differs.
 *
 * @packageDocumentation
 */

import { randomBytes } from 'node:crypto';
import { createConnection, type Connection } from 'mysql2/promise';
import { redactError, sqlEscaped } from '../../redact.js';

/** Which server a {@link MariaDBServer} is: MariaDB, or MySQL. */
export type ServerFlavour = 'mariadb' | 'mysql';

/** A row of {@link MariaDBServer.processlist}. */
export interface ProcessInfo {
  /** The connection id, as `CONNECTION_ID()` returns it and `KILL` takes it. */
  id: number;
  /** The account's user name. */
  user: string;
  /** What the connection is doing: `Sleep`, `Query`, ... */
  command: string;
  /** The statement running, or `null` when idle. */
  info: string | null;
}

/** Options of {@link MariaDBServer.createUser}. */
export interface CreateUserOptions {
  /**
   * Start of the user name; a random suffix is appended. Letters, digits and `_`, starting with
   * a letter, at most 20 characters.
   *
   * @defaultValue `'user'`
   */
  prefix?: string;
  /**
   * The password.
   *
   * @defaultValue a random 24-character password
   */
  password?: string;
  /**
   * Privileges to grant, as the SQL text between `GRANT` and `TO`, e.g. `'ALL ON mydb.*'` or
   * `'SELECT, INSERT ON mydb.*'`. Inserted into the statement as is: pass trusted text only.
   *
   * @defaultValue none (the user can log in and do nothing else)
   */
  grants?: string;
}

/**
 * A MariaDB or MySQL server to run tests against, with helpers that act as its administrator.
 * Obtained from {@link startMariaDB}, {@link startMySQL} or {@link startTestServer}; release it
 * with {@link MariaDBServer.stop}.
 */
export interface MariaDBServer {
  /**
   * Which server this is, for tests that expect different behaviour: `'mysql'` for a server
   * from {@link startMySQL}, and for an external server whose `VERSION()` does not say MariaDB.
   */
  readonly flavour: ServerFlavour;
  /** Host to connect to: `'127.0.0.1'` for a throwaway server. */
  readonly host: string;
  /** TCP port to connect to. */
  readonly port: number;
  /** The administrator's user name: `'root'` for a throwaway server. */
  readonly adminUser: string;
  /** The administrator's password: `''` for a throwaway server. */
  readonly adminPassword: string;
  /** The administrator's URL, e.g. `mysql://root@127.0.0.1:41234/`. May contain the password. */
  readonly adminUrl: string;
  /**
   * `true` when this is an existing server named by `MYSQL_URL`: it is shared, so
   * {@link MariaDBServer.stop} only removes what this object created, and
   * {@link MariaDBServer.restart} is not available.
   */
  readonly external: boolean;

  /**
   * Runs one SQL statement as the administrator, on a connection of its own that is closed
   * afterwards, and resolves with the rows (or the result header of a statement that returns
   * no rows).
   *
   * @param sql - one statement; `?` placeholders are filled from `values` (client-side escaping)
   * @param values - values for the `?` placeholders
   */
  query<T = unknown>(sql: string, values?: unknown[]): Promise<T>;

  /**
   * Creates a database with a unique name and resolves with the name. An external server drops
   * it again on {@link MariaDBServer.stop}.
   *
   * @param prefix - start of the name (letters, digits, `_`; at most 20 characters);
   *   a random suffix is appended. Defaults to `'test'`.
   */
  createDatabase(prefix?: string): Promise<string>;

  /**
   * Creates a user with a unique name that can log in over TCP from the loopback address
   * (accounts `'name'@'%'` and `'name'@'localhost'`), grants it `options.grants`, and resolves
   * with its name and password. An external server drops it again on {@link MariaDBServer.stop}.
   */
  createUser(options?: CreateUserOptions): Promise<{ user: string; password: string }>;

  /**
   * Changes a user's password (`ALTER USER ... IDENTIFIED BY`) on every host of its accounts.
   * Connections already open stay logged in; new logins need the new password.
   */
  setPassword(user: string, password: string): Promise<void>;

  /**
   * Sets the global `read_only` flag. While it is on, writes by users without the `SUPER` or
   * `READ ONLY ADMIN` privilege fail with errno 1290 (`ER_OPTION_PREVENTS_STATEMENT`), as on a
   * replica. On MySQL it sets `super_read_only`, which refuses the writes of every account, the
   * administrator's included: {@link MariaDBServer.createUser},
   * {@link MariaDBServer.setPassword} and {@link MariaDBServer.createDatabase} fail with 1290
   * too until it is off again. An external server gets its original values back on
   * {@link MariaDBServer.stop}.
   */
  setReadOnly(on: boolean): Promise<void>;

  /**
   * Lists the server's connections, without the ones these helpers use themselves.
   *
   * @param user - only the connections of this user
   */
  processlist(user?: string): Promise<ProcessInfo[]>;

  /**
   * Releases the server. A throwaway server is shut down and its data directory removed. An
   * external server gets back what this object changed: the databases and users it created are
   * dropped and `read_only` is restored. Calling it again does nothing.
   */
  stop(): Promise<void>;

  /**
   * Shuts a throwaway server down and starts it again on the same port and data directory, so
   * data survives and clients see their connections break. Rejects on an external server.
   */
  restart(): Promise<void>;
}

/** The administrator of a throwaway server, which logs in with an empty password. */
export const ROOT = 'root';

const NAME_PREFIX = /^[A-Za-z][A-Za-z0-9_]{0,19}$/;

/** How to reach a server as its administrator. */
export interface AdminAccess {
  host: string;
  port: number;
  user: string;
  password: string;
  url: string;
}

/** The admin helpers, common to throwaway and external servers. */
export abstract class BaseServer implements MariaDBServer {
  readonly host: string;
  readonly port: number;
  readonly adminUser: string;
  readonly adminPassword: string;
  readonly adminUrl: string;
  abstract readonly external: boolean;
  abstract readonly flavour: ServerFlavour;

  /** Databases and users created here, with the hosts of each user's accounts. */
  protected readonly databases = new Set<string>();
  protected readonly users = new Map<string, string[]>();
  /** Open admin connections, for stop() to close. */
  private readonly adminConnections = new Set<Connection>();
  /**
   * Connection ids of every admin connection since the server (re)started, for processlist() to
   * leave out: one that just closed may still be listed for a moment.
   */
  private adminThreadIds = new Set<number>();
  protected stopping: Promise<void> | undefined;

  constructor(access: AdminAccess) {
    this.host = access.host;
    this.port = access.port;
    this.adminUser = access.user;
    this.adminPassword = access.password;
    this.adminUrl = access.url;
  }

  query<T = unknown>(sql: string, values?: unknown[]): Promise<T> {
    return this.adminQuery<T>(sql, values);
  }

  /** Opens a connection as the administrator. */
  protected connectAsAdmin(): Promise<Connection> {
    return createConnection({
      host: this.host,
      port: this.port,
      user: this.adminUser,
      password: this.adminPassword,
      connectTimeout: 10_000,
    });
  }

  /**
   * Runs a statement on a fresh admin connection. A failure's error shows none of `secrets`
   * (passwords in the statement): mysql2 keeps the statement in `error.sql`, and a server may
   * quote it in its message.
   */
  protected async adminQuery<T>(sql: string, values?: unknown[], secrets: readonly string[] = []): Promise<T> {
    if (this.stopping !== undefined) throw new Error(`the server on ${this.host}:${this.port} is stopped`);
    const connection = await this.connectAsAdmin();
    this.adminConnections.add(connection);
    this.adminThreadIds.add(connection.threadId);
    try {
      const [rows] = await connection.query(sql, values);
      return rows as T;
    } catch (error) {
      throw secrets.length > 0 ? redactError(error, secrets, [sqlEscaped]) : error;
    } finally {
      this.adminConnections.delete(connection);
      await closeConnection(connection);
    }
  }

  protected closeAdminConnections(): void {
    for (const connection of this.adminConnections) connection.destroy();
    this.adminConnections.clear();
  }

  /** Connection ids start again from 1 when the server restarts. */
  protected forgetAdminThreadIds(): void {
    this.adminThreadIds = new Set();
  }

  async createDatabase(prefix = 'test'): Promise<string> {
    const name = uniqueName(prefix, 'prefix');
    await this.adminQuery(`CREATE DATABASE \`${name}\``);
    this.databases.add(name);
    return name;
  }

  async createUser(options: CreateUserOptions = {}): Promise<{ user: string; password: string }> {
    const user = uniqueName(options.prefix ?? 'user', 'options.prefix');
    const password = options.password ?? randomBytes(18).toString('base64url');
    const hosts = ['%', 'localhost'];
    const accounts = hosts.map(() => '?@? IDENTIFIED BY ?').join(', ');
    await this.adminQuery(
      `CREATE USER ${accounts}`,
      hosts.flatMap((host) => [user, host, password]),
      [password],
    );
    this.users.set(user, hosts);
    if (options.grants !== undefined) {
      await this.adminQuery(
        `GRANT ${options.grants} TO ${hosts.map(() => '?@?').join(', ')}`,
        hosts.flatMap((host) => [user, host]),
      );
    }
    return { user, password };
  }

  async setPassword(user: string, password: string): Promise<void> {
    let hosts = this.users.get(user);
    if (hosts === undefined) {
      const rows = await this.adminQuery<Array<{ host: string }>>('SELECT Host AS host FROM mysql.user WHERE User = ?', [user]);
      hosts = rows.map((row) => row.host);
      if (hosts.length === 0) throw new Error(`no user ${JSON.stringify(user)} on ${this.host}:${this.port}`);
    }
    const accounts = hosts.map(() => '?@? IDENTIFIED BY ?').join(', ');
    await this.adminQuery(
      `ALTER USER ${accounts}`,
      hosts.flatMap((host) => [user, host, password]),
      [password],
    );
  }

  async setReadOnly(on: boolean): Promise<void> {
    // On MySQL, super_read_only=ON turns read_only on too, and read_only=OFF turns both off.
    const flag = on && this.flavour === 'mysql' ? 'super_read_only' : 'read_only';
    await this.adminQuery(`SET GLOBAL ${flag} = ${on ? 'ON' : 'OFF'}`);
  }

  async processlist(user?: string): Promise<ProcessInfo[]> {
    const rows = await this.adminQuery<Array<{ id: number | string; user: string; command: string; info: string | null }>>(
      'SELECT ID AS id, USER AS user, COMMAND AS command, INFO AS info FROM information_schema.PROCESSLIST' +
        (user !== undefined ? ' WHERE USER = ?' : '') +
        ' ORDER BY ID',
      user !== undefined ? [user] : [],
    );
    // Filtered after the query, so that admin connections opened while it ran are left out too.
    return rows
      .map((row) => ({ id: Number(row.id), user: row.user, command: row.command, info: row.info }))
      .filter((row) => !this.adminThreadIds.has(row.id));
  }

  abstract stop(): Promise<void>;
  abstract restart(): Promise<void>;
}

/** `<prefix>_<8 random hex digits>`; a TypeError naming `option` when the prefix is not a plain name. */
export function uniqueName(prefix: string, option: string): string {
  if (!NAME_PREFIX.test(prefix)) {
    throw new TypeError(`${option} must be 1 to 20 letters, digits or _, starting with a letter`);
  }
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** Closes a connection politely (COM_QUIT), so the server does not log an aborted connection. */
export async function closeConnection(connection: Connection): Promise<void> {
  try {
    await connection.end();
  } catch {
    connection.destroy();
  }
}
