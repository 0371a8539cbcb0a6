/**
 * Throwaway MySQL servers for tests, next to the MariaDB ones and with the same interface.
 *
 * {@link startMySQL} starts a private `mysqld` on a free loopback port with its own data
 * directory under `os.tmpdir()`. Like MariaDB's, each server starts from a copy of a template
 * data directory made once per machine (`mysqld --initialize-insecure` takes a few seconds; a
 * start from the copy, under one).
 *
 * Where the `mysqld` comes from (`CREDSWAP_MYSQLD`, `PATH`, MySQL's Debian packages, or those
 * packages fetched from Debian's archive) and its
 * options are in `mysql-binaries.ts`; what any flavour of server shares is under `server/`.
 *
 * @example
 * ```ts
 * import { mysqlAvailability, startMySQL } from 'credswap/testing';
 *
 * if (mysqlAvailability().available) {
 *   const server = await startMySQL();
 *   try {
 *     const { user, password } = await server.createUser();
 *     // ... connect as user@server.host:server.port
 *   } finally {
 *     await server.stop();
 *   }
 * }
 * ```
 *
 * @packageDocumentation
 */

import { duration, expectObject, rejectUnknownKeys, string } from '../options.js';
import { mysqldArgs, mysqlTemplate, mysqlVersion, resolveMySQL } from './mysql-binaries.js';
import type { MariaDBServer } from './server/admin.js';
import { launch } from './server/process.js';
import { templateDataDir } from './server/template.js';
import { startThrowawayServer } from './server/throwaway.js';

export { findMySQLBinary, mysqlAvailability, MySQLNotFoundError, MYSQL_DEBS_ENV, MYSQLD_ENV, REQUIRE_MYSQL_ENV } from './mysql-binaries.js';
export { MYSQL_DOWNLOAD_ENV } from './mysql-download.js';
export type { MySQLAvailability, MySQLBinary, MySQLSource } from './mysql-binaries.js';

/** Default of {@link MySQLServerOptions.startTimeoutMs}. */
export const DEFAULT_MYSQL_START_TIMEOUT_MS = 30_000;

const OPTION_KEYS = new Set(['binary', 'startTimeoutMs']);

/** Options of {@link startMySQL}. */
export interface MySQLServerOptions {
  /**
   * Path of the `mysqld` to run, as is: MySQL 8.0.30 or later.
   *
   * @defaultValue the one named by `CREDSWAP_MYSQLD`, else a MySQL `mysqld` on `PATH`, else the
   *   one in MySQL's Debian packages (see {@link mysqlAvailability})
   */
  binary?: string;
  /**
   * How long to wait, in milliseconds, for a started server to answer `SELECT 1`. The server is
   * killed and the start fails with a {@link ServerStartError} when it has not answered by then.
   *
   * @defaultValue {@link DEFAULT_MYSQL_START_TIMEOUT_MS} (30000)
   */
  startTimeoutMs?: number;
}

/**
 * Starts a throwaway MySQL server: a private `mysqld` listening on a free port of 127.0.0.1,
 * with a fresh data directory under `os.tmpdir()` and a `root` account with an empty password.
 * Nothing of the machine's configuration is read (`--no-defaults`). Its `flavour` is `'mysql'`.
 *
 * What differs from MariaDB: accounts use `caching_sha2_password` (there is no
 * `mysql_native_password`); `setReadOnly(true)` sets `super_read_only`, which refuses the
 * administrator's writes too; a TCP login from 127.0.0.1 is matched to the `'localhost'` account
 * (the server resolves the address); there is no binary log.
 *
 * Stop it with {@link MariaDBServer.stop}; servers still running when the process exits are
 * killed and their data directories removed.
 *
 * @throws {@link MySQLNotFoundError} when no MySQL server binary is found
 * @throws {@link ServerStartError} when the binary is not MySQL or the server does not start
 *
 * @example
 * ```ts
 * const server = await startMySQL();
 * await server.query("ALTER USER 'app'@'%' IDENTIFIED BY 'new' RETAIN CURRENT PASSWORD");
 * await server.stop();
 * ```
 */
export async function startMySQL(options: MySQLServerOptions = {}): Promise<MariaDBServer> {
  const bag = expectObject(options, 'options') ?? {};
  rejectUnknownKeys(bag, OPTION_KEYS, '');
  const timeoutMs = duration(bag, 'startTimeoutMs', '', DEFAULT_MYSQL_START_TIMEOUT_MS, 1);
  const binary = await resolveMySQL(string(bag, 'binary', ''));
  const template = await templateDataDir(mysqlTemplate(binary, await mysqlVersion(binary)));
  return startThrowawayServer({
    name: 'mysql',
    template,
    launch: (files, port, extraArgs) =>
      launch({
        name: 'mysqld',
        binary: binary.command,
        args: [...binary.commandArgs, ...mysqldArgs(binary, files, port, extraArgs)],
        files,
        port,
        timeoutMs,
      }),
  });
}
