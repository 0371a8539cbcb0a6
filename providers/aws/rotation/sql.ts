/**
 * The SQL a MySQL/MariaDB rotation runs: connections (mysql2/promise, loaded on first use), the
 * password changes, the accounts of a user name, their grants and TLS requirement. Every
 * statement takes its values as placeholders; none is built from a password.
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

export async function isMariaDB(connection: Connection): Promise<boolean> {
  const [[row]] = await connection.query<Array<{ version: string }>>('SELECT VERSION() AS version');
  return /mariadb/i.test(String(row?.version ?? ''));
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

/**
 * Changes the password of the connection's own account. MariaDB's ALTER USER needs CREATE USER
 * even for one's own account; SET PASSWORD does not. MySQL 8 removed PASSWORD() and takes the
 * plain text.
 */
export async function setOwnPassword(connection: Connection, mariadb: boolean, password: string): Promise<void> {
  await connection.query(mariadb ? 'SET PASSWORD = PASSWORD(?)' : 'SET PASSWORD = ?', [password]);
}

/** Gives `user` the same `password` on each of `hosts`, in one statement. */
export async function setPassword(connection: Connection, user: string, hosts: readonly string[], password: string): Promise<void> {
  await connection.query(
    `ALTER USER ${hosts.map(() => '?@? IDENTIFIED BY ?').join(', ')}`,
    hosts.flatMap((host) => [user, host, password]),
  );
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
