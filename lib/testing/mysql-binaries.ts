/**
 * MySQL's binaries and how to run them: finding a `mysqld` that is MySQL and not MariaDB, the
 * command lines that make a template data directory and run a server, and the error that says
 * where MySQL was looked for when there is none.
 *
 * A `mysqld` is looked for, in this order:
 * 1. the one named by `CREDSWAP_MYSQLD` (used as is: a wrong one is an error, not skipped);
 * 2. a `mysqld` on `PATH` (or in `/usr/sbin`, `/usr/local/sbin`, `/usr/local/mysql/bin`) whose
 *    `--version` says MySQL 8.0.30 or later, not MariaDB;
 * 3. MySQL's Debian packages (`mysql-packages.ts`), unpacked once per machine and run through
 *    their own dynamic loader;
 * 4. the same packages fetched from Debian's archive (`mysql-download.ts`), once per machine,
 *    where apt can fetch them (and `CREDSWAP_MYSQL_DOWNLOAD` is not `0`).
 *
 * @packageDocumentation
 */

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { downloadDir, downloadMySQLPackages, downloadProblem } from './mysql-download.js';
import { packagesDir, packagesProblem, unpackMySQL, MYSQL_DEBS_ENV } from './mysql-packages.js';
import type { ServerFiles } from './server/data-dir.js';
import { ServerNotFoundError, ServerStartError } from './server/errors.js';
import { isExecutableFile, run, searchDirs } from './server/executables.js';
import { serverArgs, userOption } from './server/process.js';
import type { TemplateSpec } from './server/template.js';

export { MYSQL_DEBS_ENV } from './mysql-packages.js';

/** The environment variable naming the `mysqld` to run. */
export const MYSQLD_ENV = 'CREDSWAP_MYSQLD';
/**
 * The environment variable that makes MySQL required: when it is set (to anything but `0` or
 * `false`), test suites fail instead of skipping where there is no MySQL.
 */
export const REQUIRE_MYSQL_ENV = 'CREDSWAP_REQUIRE_MYSQL';

/** Where servers are installed when their directory is not on `PATH`. */
const SERVER_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/mysql/bin'];
/** The oldest MySQL that takes every option below (`--innodb-redo-log-capacity` is 8.0.30's). */
const MIN_VERSION: readonly [number, number, number] = [8, 0, 30];

/** Bump whenever the template's contents or the initialisation's options change. */
const TEMPLATE_FORMAT = 1;
const TEMPLATE_TIMEOUT_MS = 120_000;
const VERSION_TIMEOUT_MS = 10_000;

/** Server options shared by the template's initialisation and every server started from it. */
const SERVER_OPTIONS = [
  // Without it the server aborts where its default folder (Debian's /var/lib/mysql-files) is missing.
  '--secure-file-priv=NULL',
  '--mysqlx=OFF',
  // About 250 to 290 MB resident with these two, 540 MB without.
  '--performance-schema=OFF',
  '--innodb-buffer-pool-size=32M',
  '--skip-log-bin',
  // Room for connection storms in tests and drills: hundreds of logins at once.
  '--max-connections=1000',
  '--back-log=1000',
];
/** A small redo log for running servers; initialising with it takes seconds longer, waiting on the log. */
const RUN_OPTIONS = ['--innodb-redo-log-capacity=8M'];
const INITIALISE_OPTIONS = ['--innodb-redo-log-capacity=32M'];

/** Where a `mysqld` came from. */
export type MySQLSource = 'option' | typeof MYSQLD_ENV | 'PATH' | 'packages' | 'download';

/** A MySQL server binary, and how to run it. */
export interface MySQLBinary {
  /** Where it was found: the `binary` option, `CREDSWAP_MYSQLD`, `PATH`, or unpacked packages. */
  readonly source: MySQLSource;
  /** The `mysqld`. */
  readonly mysqld: string;
  /** The executable to run: `mysqld` itself, or the dynamic loader unpacked with the packages. */
  readonly command: string;
  /** The arguments before `mysqld`'s own: `--library-path <libraries> <mysqld>` for the loader. */
  readonly commandArgs: readonly string[];
  /** `mysqld` options after `--no-defaults` that tell it where its files are (packages only). */
  readonly serverOptions: readonly string[];
}

/** Whether MySQL can be run here, from {@link mysqlAvailability}. */
export type MySQLAvailability =
  | {
      readonly available: true;
      readonly source: Exclude<MySQLSource, 'option'>;
      /** The `mysqld`, or the folder of packages it will be unpacked from. */
      readonly path: string;
    }
  | {
      readonly available: false;
      /** One line: what was tried and found wanting. */
      readonly reason: string;
      /** Each place looked in and what was found there. */
      readonly tried: readonly string[];
      /** Whether `CREDSWAP_REQUIRE_MYSQL` asks for MySQL, so that its absence is a failure. */
      readonly required: boolean;
    };

/**
 * No MySQL server could be found to run, or the one named cannot be run. The message says where
 * it was looked for ({@link MySQLNotFoundError.tried}) and how to provide one.
 */
export class MySQLNotFoundError extends ServerNotFoundError {
  /** Each place looked in and what was found there, e.g. `CREDSWAP_MYSQLD not set`. */
  readonly tried: readonly string[];

  /**
   * @param tried - each place looked in and what was found there
   * @param binary - the binary that was asked for, when one was named
   */
  constructor(tried: readonly string[], binary?: string) {
    super(
      binary,
      `no MySQL server to run (${tried.join('; ')}); install MySQL ${MIN_VERSION.join('.')} or later, ` +
        `or set ${MYSQLD_ENV} to its mysqld, or ${MYSQL_DEBS_ENV} to a folder of its Debian packages`,
    );
    this.name = 'MySQLNotFoundError';
    this.tried = Object.freeze([...tried]);
  }
}

/**
 * What {@link locateMySQL} found: a `mysqld` to run as is, packages to unpack first, packages to
 * fetch from Debian's archive and then unpack, or nothing.
 */
export type MySQLLocation =
  | { readonly kind: 'binary'; readonly source: typeof MYSQLD_ENV | 'PATH'; readonly mysqld: string }
  | { readonly kind: 'packages'; readonly dir: string }
  | { readonly kind: 'download' }
  | { readonly kind: 'none'; readonly tried: readonly string[] };

/**
 * Looks for MySQL in the order of this file's description, without unpacking anything: quick
 * enough to decide whether to skip a test suite.
 *
 * @param env - where `CREDSWAP_MYSQLD` and `CREDSWAP_MYSQL_DEBS` are read (`PATH` is `process.env`'s)
 * @param serverDirs - the directories searched for `mysqld` after those on `PATH`
 */
export function locateMySQL(env: NodeJS.ProcessEnv = process.env, serverDirs: readonly string[] = SERVER_DIRS): MySQLLocation {
  const named = env[MYSQLD_ENV];
  if (named !== undefined && named !== '') return { kind: 'binary', source: MYSQLD_ENV, mysqld: named };
  const tried = [`${MYSQLD_ENV} not set`];

  const seen = new Set<string>();
  for (const dir of searchDirs(serverDirs)) {
    const candidate = path.join(dir, 'mysqld');
    if (!isExecutableFile(candidate)) continue;
    const real = fs.realpathSync(candidate);
    if (seen.has(real)) continue;
    seen.add(real);
    const problem = versionProblem(versionLineSync(candidate));
    if (problem === undefined) return { kind: 'binary', source: 'PATH', mysqld: candidate };
    tried.push(`${candidate} ${problem}`);
  }
  if (seen.size === 0) tried.push('no mysqld on PATH');

  const dir = packagesDir(env);
  if (dir === undefined) tried.push(`no packages (${MYSQL_DEBS_ENV} not set)`);
  else {
    const problem = packagesProblem(dir);
    if (problem === undefined) return { kind: 'packages', dir };
    tried.push(problem);
  }
  // Fetched from Debian's archive by an earlier run, or to be fetched now.
  const problem = downloadProblem(env);
  if (problem !== undefined) return { kind: 'none', tried: [...tried, problem] };
  return packagesProblem(downloadDir()) === undefined ? { kind: 'packages', dir: downloadDir() } : { kind: 'download' };
}

/**
 * Whether a MySQL server can be started here, and if not, why: for test suites that skip their
 * MySQL tests on a machine without one (in one line giving {@link MySQLAvailability.reason}),
 * and fail instead when `CREDSWAP_REQUIRE_MYSQL` is set. Nothing is unpacked.
 *
 * @param env - where the `CREDSWAP_*` variables are read
 * @param serverDirs - the directories searched for `mysqld` after those on `PATH`
 *
 * @example
 * ```ts
 * import { mysqlAvailability } from 'credswap/testing';
 *
 * const mysql = mysqlAvailability();
 * if (!mysql.available && !mysql.required) console.log(`MySQL tests skipped: ${mysql.reason}`);
 * ```
 */
export function mysqlAvailability(env: NodeJS.ProcessEnv = process.env, serverDirs: readonly string[] = SERVER_DIRS): MySQLAvailability {
  const location = locateMySQL(env, serverDirs);
  switch (location.kind) {
    case 'binary':
      return { available: true, source: location.source, path: location.mysqld };
    case 'packages':
      return { available: true, source: 'packages', path: location.dir };
    case 'download':
      return { available: true, source: 'download', path: downloadDir() };
    case 'none':
      return {
        available: false,
        reason: `no MySQL found: ${location.tried.join('; ')}`,
        tried: location.tried,
        required: mysqlRequired(env),
      };
  }
}

/** Whether `CREDSWAP_REQUIRE_MYSQL` is set to anything but `0` or `false`. */
export function mysqlRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return !['', '0', 'false'].includes((env[REQUIRE_MYSQL_ENV] ?? '').trim().toLowerCase());
}

/**
 * Finds a MySQL server binary (see {@link mysqlAvailability} for the order and the parameters),
 * unpacking the packages first when they are what is found.
 *
 * @returns how to run it, or `undefined` when there is none
 *
 * @example
 * ```ts
 * import { findMySQLBinary } from 'credswap/testing';
 *
 * const mysql = await findMySQLBinary();
 * console.log(mysql?.mysqld ?? 'no MySQL');
 * ```
 */
export async function findMySQLBinary(
  env: NodeJS.ProcessEnv = process.env,
  serverDirs: readonly string[] = SERVER_DIRS,
): Promise<MySQLBinary | undefined> {
  const location = locateMySQL(env, serverDirs);
  return location.kind === 'none' ? undefined : prepare(location);
}

/**
 * The binary to run: the one named, which must be executable, else the one found.
 *
 * @throws {@link MySQLNotFoundError} when the one named cannot be run, or none is found
 */
export async function resolveMySQL(
  binary: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  serverDirs: readonly string[] = SERVER_DIRS,
): Promise<MySQLBinary> {
  if (binary !== undefined) return prepare({ kind: 'binary', source: 'option', mysqld: binary });
  const location = locateMySQL(env, serverDirs);
  if (location.kind === 'none') throw new MySQLNotFoundError(location.tried);
  return prepare(location);
}

async function prepare(
  location: { kind: 'binary'; source: MySQLSource; mysqld: string } | { kind: 'packages'; dir: string } | { kind: 'download' },
): Promise<MySQLBinary> {
  if (location.kind === 'binary') {
    const { source, mysqld } = location;
    if (!isExecutableFile(mysqld)) {
      const named = source === 'option' ? 'the binary option' : source;
      throw new MySQLNotFoundError([`${named}: ${mysqld} does not exist or is not executable`], mysqld);
    }
    return { source, mysqld, command: mysqld, commandArgs: [], serverOptions: [] };
  }
  const dir = location.kind === 'download' ? await downloadMySQLPackages() : location.dir;
  const unpacked = await unpackMySQL(dir);
  return {
    source: location.kind === 'download' ? 'download' : 'packages',
    mysqld: unpacked.mysqld,
    command: unpacked.loader,
    commandArgs: ['--library-path', unpacked.libraryPath, unpacked.mysqld],
    serverOptions: unpacked.serverOptions,
  };
}

const versions = new Map<string, Promise<string>>();

/** The binary's `--version` line; rejects binaries that are not MySQL 8.0.30 or later. */
export function mysqlVersion(binary: MySQLBinary): Promise<string> {
  let version = versions.get(binary.mysqld);
  if (version === undefined) {
    version = run(binary.command, [...binary.commandArgs, '--version'], VERSION_TIMEOUT_MS).then((output) => {
      const line = output.trim();
      const problem = versionProblem(line);
      if (problem !== undefined) {
        throw new ServerStartError(`${binary.mysqld} (from ${binary.source}) ${problem}; throwaway MySQL servers need MySQL`);
      }
      return line;
    });
    version.catch(() => versions.delete(binary.mysqld));
    versions.set(binary.mysqld, version);
  }
  return version;
}

/**
 * What is wrong with a server whose `--version` printed `line`, for "`<binary>` ...": MariaDB,
 * no version, or too old. `undefined` for MySQL 8.0.30 or later.
 */
export function versionProblem(line: string): string | undefined {
  if (/mariadb/i.test(line)) return `is MariaDB (${line})`;
  const match = /\bVer\s+(\d+)\.(\d+)\.(\d+)/.exec(line);
  if (match === null) return `does not print a version (${line === '' ? 'nothing' : line})`;
  const version = [Number(match[1]), Number(match[2]), Number(match[3])];
  const differs = version.findIndex((part, i) => part !== MIN_VERSION[i]);
  if (differs !== -1 && version[differs] < MIN_VERSION[differs]) {
    return `is MySQL ${version.join('.')}, older than ${MIN_VERSION.join('.')}`;
  }
  return undefined;
}

/** `file --version`, or what went wrong running it. */
function versionLineSync(file: string): string {
  try {
    return execFileSync(file, ['--version'], {
      encoding: 'utf8',
      timeout: VERSION_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (error) {
    return `--version failed: ${(error as Error).message.split('\n')[0]}`;
  }
}

/** The command line (after {@link MySQLBinary.commandArgs}) that initialises `dataDir` with an empty root password. */
export function initialiseArgs(binary: MySQLBinary, dataDir: string): string[] {
  return [
    '--no-defaults', // must come first
    `--datadir=${dataDir}`,
    ...binary.serverOptions,
    ...userOption(),
    ...SERVER_OPTIONS,
    ...INITIALISE_OPTIONS,
    '--initialize-insecure',
  ];
}

/** The command line (after {@link MySQLBinary.commandArgs}) of `mysqld` serving `files` on `port`, with `extraArgs` last. */
export function mysqldArgs(binary: MySQLBinary, files: ServerFiles, port: number, extraArgs: readonly string[] = []): string[] {
  return [...serverArgs(files, port), ...binary.serverOptions, ...userOption(), ...SERVER_OPTIONS, ...RUN_OPTIONS, ...extraArgs];
}

/**
 * The template data directory of `binary`: made by `mysqld --initialize-insecure` (root with
 * an empty password), without the server UUID, so that each copy makes its own on first start.
 */
export function mysqlTemplate(binary: MySQLBinary, version: string): TemplateSpec {
  return {
    flavour: 'mysql',
    format: TEMPLATE_FORMAT,
    binary: binary.mysqld,
    version,
    async initialise(dataDir) {
      await run(binary.command, [...binary.commandArgs, ...initialiseArgs(binary, dataDir)], TEMPLATE_TIMEOUT_MS);
      await fsp.rm(path.join(dataDir, 'auto.cnf'), { force: true });
    },
  };
}
