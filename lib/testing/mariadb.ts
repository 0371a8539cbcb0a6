/**
 * Throwaway MariaDB servers for tests.
 *
 * {@link startMariaDB} starts a private `mariadbd` on a free loopback port with its own data
 * directory under `os.tmpdir()`, so a test can rotate passwords, flip `read_only` or restart the
 * server without touching anything else on the machine. {@link startTestServer} does the same,
 * unless `MYSQL_URL` names an existing server to use instead.
 *
 * Starting is fast: the system tables are created once per machine (per server binary and
 * version) into a cached template directory, and each new server starts from a copy of it.
 *
 * What is MariaDB's own (its binaries and their options) is in `mariadb-binaries.ts`; what any
 * flavour of server shares (ports, directories, processes, admin helpers) is under `server/`.
 *
 * @example
 * ```ts
 * import { startTestServer } from 'credswap/testing';
 *
 * const server = await startTestServer();
 * try {
 *   const database = await server.createDatabase();
 *   const { user, password } = await server.createUser({ grants: `ALL ON ${database}.*` });
 *   // ... connect as user@server.host:server.port
 * } finally {
 *   await server.stop();
 * }
 * ```
 *
 * @packageDocumentation
 */

import { mariadbdArgs, mariadbTemplate, resolveBinary, serverVersion } from './mariadb-binaries.js';
import type { MariaDBServer } from './server/admin.js';
import { connectExternal } from './server/external.js';
import { launch } from './server/process.js';
import { templateDataDir } from './server/template.js';
import { startThrowawayServer } from './server/throwaway.js';

export { findMariaDBBinary } from './mariadb-binaries.js';
export { ServerNotFoundError, ServerStartError } from './server/errors.js';
export type { CreateUserOptions, MariaDBServer, ProcessInfo } from './server/admin.js';

const DEFAULT_START_TIMEOUT_MS = 30_000;

/** Options of {@link startMariaDB} and {@link startTestServer}. */
export interface MariaDBServerOptions {
  /**
   * Path of the `mariadbd` (or MariaDB's `mysqld`) binary to run.
   *
   * @defaultValue the first of `mariadbd`, `mysqld` found by {@link findMariaDBBinary}
   */
  binary?: string;
  /**
   * How long to wait, in milliseconds, for a started server to answer `SELECT 1`. The server is
   * killed and the start fails with a {@link ServerStartError} when it has not answered by then.
   *
   * @defaultValue 30000
   */
  startTimeoutMs?: number;
}

/**
 * Starts a throwaway MariaDB server: a private `mariadbd` listening on a free port of
 * 127.0.0.1, with a fresh data directory under `os.tmpdir()` and a `root` account with an
 * empty password. Nothing of the machine's configuration is read (`--no-defaults`).
 *
 * Stop it with {@link MariaDBServer.stop}; servers still running when the process exits are
 * killed and their data directories removed.
 *
 * @throws {@link ServerNotFoundError} when no server binary is found
 * @throws {@link ServerStartError} when the binary is not MariaDB or the server does not start
 */
export async function startMariaDB(options: MariaDBServerOptions = {}): Promise<MariaDBServer> {
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('startTimeoutMs must be a positive number of milliseconds');
  }
  const binary = resolveBinary(options.binary);
  const template = await templateDataDir(mariadbTemplate(binary, await serverVersion(binary)));
  return startThrowawayServer({
    name: 'mariadb',
    template,
    launch: (files, port, extraArgs) =>
      launch({ name: 'mariadbd', binary, args: mariadbdArgs(files, port, extraArgs), files, port, timeoutMs }),
  });
}

/**
 * The server for a test run: the existing server named by the `MYSQL_URL` environment variable
 * (an admin URL such as `mysql://root:secret@127.0.0.1:3306/`, loopback hosts only) when it is
 * set, otherwise a throwaway server from {@link startMariaDB}.
 *
 * Check {@link MariaDBServer.external} before using {@link MariaDBServer.restart}.
 *
 * @param options - used when a throwaway server is started
 */
export function startTestServer(options?: MariaDBServerOptions): Promise<MariaDBServer> {
  const url = process.env.MYSQL_URL;
  return url !== undefined && url !== '' ? connectExternal(url) : startMariaDB(options);
}
