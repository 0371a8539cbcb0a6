/**
 * The SQL a MySQL/MariaDB rotation runs: connections (mysql2/promise, loaded on first use), what
 * the server supports, the password changes (MySQL's dual passwords included), the accounts of a
 * user name, their grants and TLS requirement. Every statement takes its values as
 * placeholders; none is built from a password.
 *
 * @packageDocumentation
 */

import type { SslOptions } from 'mysql2';
import { linkSignals, waitUnder } from '../../../lib/abort.js';

// ---------------------------------------------------------------------------------------------
// Connections

/** The part of a mysql2/promise connection a rotation uses. */
export interface Connection {
  query<T>(sql: string, values?: unknown[]): Promise<[T, unknown]>;
  format(sql: string, values: unknown[]): string;
  end(): Promise<void>;
  destroy(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

interface Mysql2Promise {
  createConnection(config: Record<string, unknown>): Promise<Connection>;
}

/** Where and as whom to log in. */
export interface Login {
  readonly user: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly database: string | undefined;
}

/** How every connection of a rotation is made, besides its login. */
export interface ConnectOptions {
  readonly connectTimeoutMs: number;
  readonly ssl: string | SslOptions | undefined;
}

let mysqlModule: Promise<Mysql2Promise> | undefined;

function loadMysql(): Promise<Mysql2Promise> {
  mysqlModule ??= import('mysql2/promise').then(
    (mod) =>
      ((mod as { createConnection?: unknown }).createConnection !== undefined
        ? mod
        : (mod as { default: unknown }).default) as Mysql2Promise,
    (error: unknown) => {
      mysqlModule = undefined;
      throw error;
    },
  );
  return mysqlModule;
}

/** Opens a connection with `login`; one statement per query, and errors while idle are dropped. */
export async function connect(login: Login, options: ConnectOptions): Promise<Connection> {
  const mysql = await loadMysql();
  const connection = await mysql.createConnection({
    host: login.host,
    port: login.port,
    user: login.user,
    password: login.password,
    database: login.database,
    connectTimeout: options.connectTimeoutMs,
    ssl: options.ssl,
    multipleStatements: false,
  });
  // A fatal error while idle would otherwise be thrown from an event emitter.
  connection.on('error', () => {});
  return connection;
}

/** How long a polite close may take before the socket is destroyed. */
const CLOSE_TIMEOUT_MS = 2_000;

/** Closes politely (COM_QUIT); destroys the socket when that fails or takes too long. */
export async function close(connection: Connection): Promise<void> {
  const limit = linkSignals([], CLOSE_TIMEOUT_MS);
  try {
    await waitUnder(connection.end(), limit.signal);
  } catch {
    connection.destroy();
  } finally {
    limit.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Statements

/** What the server is, and which of the password statements a rotation uses it accepts. */
export interface ServerInfo {
  /** `VERSION()`, such as `9.7.4-2` or `10.11.19-MariaDB-0+deb12u1`. */
  readonly version: string;
  readonly mariadb: boolean;
  /** MySQL 8.0.13 and later: `REPLACE '<current password>'` when changing one's own password. */
  readonly replace: boolean;
  /** MySQL 8.0.14 and later: `RETAIN CURRENT PASSWORD` and `DISCARD OLD PASSWORD` (MariaDB has neither). */
  readonly dualPasswords: boolean;
}

/** Reads `VERSION()`: see {@link serverInfoOf}. */
export async function serverInfo(connection: Connection): Promise<ServerInfo> {
  const [[row]] = await connection.query<Array<{ version: string }>>('SELECT VERSION() AS version');
  return serverInfoOf(String(row?.version ?? ''));
}

/** What a `VERSION()` answer says: MariaDB says so in it; MySQL's starts with its version number. */
export function serverInfoOf(version: string): ServerInfo {
  const mariadb = /mariadb/i.test(version);
  const [major = 0, minor = 0, patch = 0] = (/^(\d+)\.(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  const atLeast = (a: number, b: number, c: number): boolean => (major !== a ? major > a : minor !== b ? minor > b : patch >= c);
  return { version, mariadb, replace: !mariadb && atLeast(8, 0, 13), dualPasswords: !mariadb && atLeast(8, 0, 14) };
}

/** The server's error number of a failed login or statement (mysql2's `errno`). */
export function errnoOf(error: unknown): number | undefined {
  const errno = (error as { errno?: unknown } | undefined)?.errno;
  return typeof errno === 'number' ? errno : undefined;
}

/** The account the connection is logged in as (`user@host`), as the server matched it. */
export async function currentAccount(connection: Connection): Promise<string | undefined> {
  const [[self]] = await connection.query<Array<{ account: string }>>('SELECT CURRENT_USER() AS account');
  return self?.account;
}

/** A query that needs a working session: proof that a login can use the database. */
export async function ping(connection: Connection): Promise<void> {
  await connection.query('SELECT NOW()');
}

/** How {@link setOwnPassword} and {@link setPassword} change a password, besides the new one. */
export interface PasswordChange {
  /**
   * One's own account on MySQL: the password logged in with, given as `REPLACE '<current>'`.
   * An account with `PASSWORD REQUIRE CURRENT` needs it (else 3892; a wrong one is 3891); MySQL
   * checks it against the primary password also when the account does not require it.
   */
  readonly current?: string;
  /** MySQL: `RETAIN CURRENT PASSWORD`, so that the current password keeps logging in as the secondary one. */
  readonly retain?: boolean;
}

/**
 * Changes the password of the connection's own account. MariaDB's ALTER USER needs CREATE USER
 * even for one's own account; SET PASSWORD does not. MySQL 8 removed PASSWORD() and takes the
 * plain text; it takes `REPLACE` (8.0.13) and `RETAIN CURRENT PASSWORD` (8.0.14) after it.
 *
 * @throws TypeError for `retain` on a server without dual passwords (check {@link ServerInfo} first).
 */
export async function setOwnPassword(
  connection: Connection,
  server: ServerInfo,
  password: string,
  change: PasswordChange = {},
): Promise<void> {
  if (change.retain === true && !server.dualPasswords) throw new TypeError(`${server.version} has no RETAIN CURRENT PASSWORD`);
  if (server.mariadb) {
    await connection.query('SET PASSWORD = PASSWORD(?)', [password]);
    return;
  }
  const replace = server.replace && change.current !== undefined;
  await connection.query(
    `SET PASSWORD = ?${replace ? ' REPLACE ?' : ''}${change.retain === true ? ' RETAIN CURRENT PASSWORD' : ''}`,
    replace ? [password, change.current] : [password],
  );
}

/**
 * Gives `user` the same `password` on each of `hosts`, in one statement (MySQL changes all or
 * none). Other accounts than one's own take no `REPLACE` (MySQL refuses it with 3893);
 * `retain` needs the CREATE USER privilege.
 */
export async function setPassword(
  connection: Connection,
  user: string,
  hosts: readonly string[],
  password: string,
  change: Pick<PasswordChange, 'retain'> = {},
): Promise<void> {
  const retain = change.retain === true ? ' RETAIN CURRENT PASSWORD' : '';
  await connection.query(
    `ALTER USER ${hosts.map(() => `?@? IDENTIFIED BY ?${retain}`).join(', ')}`,
    hosts.flatMap((host) => [user, host, password]),
  );
}

/**
 * MySQL: drops the secondary password of the connection's own account (`DISCARD OLD
 * PASSWORD`, which needs APPLICATION_PASSWORD_ADMIN or CREATE USER). Nothing happens when there
 * is none.
 */
export async function discardOwnOldPassword(connection: Connection): Promise<void> {
  await connection.query('ALTER USER CURRENT_USER() DISCARD OLD PASSWORD');
}

/** MySQL: drops the secondary password of `user` on each of `hosts`, in one statement (needs CREATE USER). */
export async function discardOldPassword(connection: Connection, user: string, hosts: readonly string[]): Promise<void> {
  await connection.query(
    `ALTER USER ${hosts.map(() => '?@? DISCARD OLD PASSWORD').join(', ')}`,
    hosts.flatMap((host) => [user, host]),
  );
}

/** MySQL 8.0.14 and later: the hosts of the accounts of `user` that have a secondary password. */
export async function hostsWithOldPassword(connection: Connection, user: string): Promise<string[]> {
  const [rows] = await connection.query<Array<{ host: unknown }>>(
    "SELECT Host AS host FROM mysql.user WHERE User = ? AND JSON_CONTAINS_PATH(User_attributes, 'one', '$.additional_password')",
    [user],
  );
  return rows.map((row) => String(row.host));
}

export async function createUser(connection: Connection, user: string, host: string, password: string): Promise<void> {
  await connection.query('CREATE USER ?@? IDENTIFIED BY ?', [user, host, password]);
}

/** The hosts of every account with this user name. */
export async function userHosts(connection: Connection, user: string): Promise<string[]> {
  const [rows] = await connection.query<Array<{ host: unknown }>>('SELECT Host AS host FROM mysql.user WHERE User = ?', [user]);
  return rows.map((row) => String(row.host));
}

/** `user`@`host`, quoted for SQL. */
export function account(connection: Connection, user: string, host: string): string {
  return connection.format('?@?', [user, host]);
}

/** The lines of `SHOW GRANTS FOR user@host`. */
export async function showGrants(connection: Connection, user: string, host: string): Promise<string[]> {
  const [rows] = await connection.query<Array<Record<string, unknown>>>('SHOW GRANTS FOR ?@?', [user, host]);
  return rows.map((row) => Object.values(row)[0]).filter((line): line is string => typeof line === 'string');
}

/** Runs one grant statement as it is: a line of {@link showGrants}, rewritten for another account. */
export async function grant(connection: Connection, statement: string): Promise<void> {
  await connection.query(statement);
}

/** Gives `target` (an {@link account}) the TLS requirement (`REQUIRE ...`) of `user`@`host`. */
export async function copyTlsRequirement(connection: Connection, user: string, host: string, target: string): Promise<void> {
  const [rows] = await connection.query<Array<Record<string, unknown>>>(
    'SELECT ssl_type, ssl_cipher, x509_issuer, x509_subject FROM mysql.user WHERE User = ? AND Host = ?',
    [user, host],
  );
  const row = rows[0];
  if (row === undefined) return;
  const text = (v: unknown): string =>
    typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString() : typeof v === 'number' ? String(v) : '';
  const type = text(row.ssl_type).toUpperCase();
  let require: string;
  if (type === '') require = 'NONE';
  else if (type === 'ANY') require = 'SSL';
  else if (type === 'X509') require = 'X509';
  else {
    const parts: string[] = [];
    if (text(row.ssl_cipher) !== '') parts.push(connection.format('CIPHER ?', [text(row.ssl_cipher)]));
    if (text(row.x509_issuer) !== '') parts.push(connection.format('ISSUER ?', [text(row.x509_issuer)]));
    if (text(row.x509_subject) !== '') parts.push(connection.format('SUBJECT ?', [text(row.x509_subject)]));
    require = parts.length > 0 ? parts.join(' AND ') : 'SSL';
  }
  await connection.query(`ALTER USER ${target} REQUIRE ${require}`);
}
