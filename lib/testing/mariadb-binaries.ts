/**
 * MariaDB's binaries and how to run them: finding `mariadbd` (or MariaDB's `mysqld`) and
 * `mariadb-install-db`, making sure the server is MariaDB, and the command lines of both.
 *
 * @packageDocumentation
 */

import * as path from 'node:path';
import type { ServerFiles } from './server/data-dir.js';
import { INSTALL_HINT, ServerNotFoundError, ServerStartError } from './server/errors.js';
import { baseDir, findExecutable, isExecutableFile, run, searchDirs } from './server/executables.js';
import { serverArgs, userOption } from './server/process.js';
import type { TemplateSpec } from './server/template.js';

/** The server binaries, in order of preference. */
const SERVER_NAMES = ['mariadbd', 'mysqld'];
/** Where servers are installed when their directory is not on `PATH`. */
const SERVER_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/mysql/bin'];
/** The tool that creates the system tables, in order of preference. */
const INSTALL_DB_NAMES = ['mariadb-install-db', 'mysql_install_db'];

/** Bump whenever the template's contents or the install options change. */
const TEMPLATE_FORMAT = 1;
const TEMPLATE_TIMEOUT_MS = 120_000;
const VERSION_TIMEOUT_MS = 10_000;

/** Server options shared by the template's bootstrap and every server started from it. */
const SERVER_OPTIONS = [
  '--skip-name-resolve',
  '--innodb-buffer-pool-size=16M',
  '--innodb-log-file-size=4M',
  '--innodb-temp-data-file-path=ibtmp1:1M:autoextend',
  '--skip-log-bin',
  '--performance-schema=OFF',
  '--character-set-server=utf8mb4',
  '--collation-server=utf8mb4_general_ci',
  // Room for connection storms in tests and drills: hundreds of logins at once.
  '--max-connections=1000',
  '--back-log=1000',
];

/**
 * Finds a MariaDB server binary: `mariadbd`, else `mysqld`, on `PATH` or in `/usr/sbin`,
 * `/usr/local/sbin`, `/usr/local/mysql/bin`.
 *
 * @returns its path, or `undefined` when there is none
 *
 * @example
 * ```ts
 * import { findMariaDBBinary } from 'credswap/testing';
 *
 * const haveMariaDB = findMariaDBBinary() !== undefined || process.env.MYSQL_URL !== undefined;
 * ```
 */
export function findMariaDBBinary(): string | undefined {
  return findExecutable(SERVER_NAMES, searchDirs(SERVER_DIRS));
}

/** The binary to run: the one named, which must be executable, else the one found. */
export function resolveBinary(binary: string | undefined): string {
  if (binary === undefined) {
    const found = findMariaDBBinary();
    if (found === undefined) throw new ServerNotFoundError();
    return found;
  }
  if (!isExecutableFile(binary)) throw new ServerNotFoundError(binary);
  return binary;
}

/** `mariadb-install-db` (else `mysql_install_db`) on `PATH`, or next to the server it installs for. */
export function findInstallDb(binary: string): string {
  const base = baseDir(binary);
  const found = findExecutable(INSTALL_DB_NAMES, searchDirs([path.dirname(binary), path.join(base, 'bin'), path.join(base, 'scripts')]));
  if (found === undefined) {
    throw new ServerStartError(`mariadb-install-db not found next to ${binary} or on PATH; ${INSTALL_HINT}`);
  }
  return found;
}

const versions = new Map<string, Promise<string>>();

/** The binary's `--version` line; rejects binaries that are not MariaDB. */
export function serverVersion(binary: string): Promise<string> {
  let version = versions.get(binary);
  if (version === undefined) {
    version = run(binary, ['--version'], VERSION_TIMEOUT_MS).then((output) => {
      const line = output.trim();
      if (!/mariadb/i.test(line)) {
        throw new ServerStartError(`${binary} is not MariaDB (${line}); throwaway servers need MariaDB: ${INSTALL_HINT}`);
      }
      return line;
    });
    version.catch(() => versions.delete(binary));
    versions.set(binary, version);
  }
  return version;
}

/** The command line of `mariadb-install-db` creating the system tables in `dataDir`. */
export function installDbArgs(baseDir: string, dataDir: string): string[] {
  return [
    '--no-defaults', // must come first
    `--basedir=${baseDir}`,
    `--datadir=${dataDir}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    ...userOption(),
    ...SERVER_OPTIONS,
  ];
}

/** The command line of `mariadbd` serving `files` on `port`, with `extraArgs` last. */
export function mariadbdArgs(files: ServerFiles, port: number, extraArgs: readonly string[] = []): string[] {
  return [...serverArgs(files, port), ...userOption(), ...SERVER_OPTIONS, ...extraArgs];
}

/** The template data directory of `binary`: made by `mariadb-install-db`, root with no password. */
export function mariadbTemplate(binary: string, version: string): TemplateSpec {
  return {
    flavour: 'mariadb',
    format: TEMPLATE_FORMAT,
    binary,
    version,
    async initialise(dataDir) {
      await run(findInstallDb(binary), installDbArgs(baseDir(binary), dataDir), TEMPLATE_TIMEOUT_MS);
    },
  };
}
