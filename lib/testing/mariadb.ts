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

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import { isLoopback } from '../loopback.js';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection, type Connection } from 'mysql2/promise';

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
 * A MariaDB (or MySQL, when external) server to run tests against, with helpers that act as
 * its administrator. Obtained from {@link startMariaDB} or {@link startTestServer}; release it
 * with {@link MariaDBServer.stop}.
 */
export interface MariaDBServer {
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
   * replica. An external server gets its original value back on {@link MariaDBServer.stop}.
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

/** No server binary could be found, or the one named does not exist or cannot be run. */
export class ServerNotFoundError extends Error {
  /** The binary that was asked for, when one was named. */
  readonly binary: string | undefined;

  /** @param binary - the binary that was asked for; omit when none was found by searching */
  constructor(binary?: string) {
    super(
      binary === undefined
        ? `no mariadbd or mysqld found on PATH; ${INSTALL_HINT}`
        : `the server binary ${JSON.stringify(binary)} does not exist or is not executable; ${INSTALL_HINT}`,
    );
    this.name = 'ServerNotFoundError';
    this.binary = binary;
  }
}

/** A throwaway server could not be set up, started or restarted. */
export class ServerStartError extends Error {
  /** The last lines of the server's error log (or of the setup tool's output), if any. */
  readonly logTail: string;

  /**
   * @param message - what failed
   * @param logTail - the last lines of the relevant log, appended to the message
   * @param options - the underlying error, if any, as `cause`
   */
  constructor(message: string, logTail = '', options?: { cause?: unknown }) {
    super(logTail === '' ? message : `${message}\n--- last lines of its log ---\n${logTail}`, options);
    this.name = 'ServerStartError';
    this.logTail = logTail;
  }
}

const INSTALL_HINT = 'install mariadb-server (Debian: apt-get install mariadb-server) or set MYSQL_URL';

/** Bump whenever the template's contents or the install options change. */
const TEMPLATE_FORMAT = 1;
const DEFAULT_START_TIMEOUT_MS = 30_000;
const TEMPLATE_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 5_000;
const PORT_ATTEMPTS = 5;
const POLL_INTERVAL_MS = 25;
const LOOPBACK = '127.0.0.1';
const ROOT = 'root';
const NAME_PREFIX = /^[A-Za-z][A-Za-z0-9_]{0,19}$/;

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

const isRoot = (): boolean => process.getuid?.() === 0;
/** mariadbd refuses to run as root unless told to. */
const userOption = (): string[] => (isRoot() ? ['--user=root'] : []);

// ---------------------------------------------------------------------------------------------
// Finding the binaries

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function searchDirs(extra: string[]): string[] {
  const fromPath = (process.env.PATH ?? '').split(path.delimiter).filter((dir) => dir !== '');
  return [...new Set([...fromPath, ...extra])];
}

function findExecutable(names: string[], dirs: string[]): string | undefined {
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * Finds a MariaDB server binary: `mariadbd`, else `mysqld`, on `PATH` or in `/usr/sbin`,
 * `/usr/local/sbin`, `/usr/local/mysql/bin`.
 *
 * @returns its path, or `undefined` when there is none
 */
export function findMariaDBBinary(): string | undefined {
  return findExecutable(
    ['mariadbd', 'mysqld'],
    searchDirs(['/usr/sbin', '/usr/local/sbin', '/usr/local/mysql/bin']),
  );
}

function resolveBinary(binary: string | undefined): string {
  if (binary === undefined) {
    const found = findMariaDBBinary();
    if (found === undefined) throw new ServerNotFoundError();
    return found;
  }
  if (!isExecutableFile(binary)) throw new ServerNotFoundError(binary);
  return binary;
}

/** The directory the server was installed into (`/usr` for `/usr/sbin/mariadbd`). */
function baseDir(binary: string): string {
  return path.dirname(path.dirname(fs.realpathSync(binary)));
}

function findInstallDb(binary: string): string {
  const base = baseDir(binary);
  const found = findExecutable(
    ['mariadb-install-db', 'mysql_install_db'],
    searchDirs([path.dirname(binary), path.join(base, 'bin'), path.join(base, 'scripts')]),
  );
  if (found === undefined) {
    throw new ServerStartError(`mariadb-install-db not found next to ${binary} or on PATH; ${INSTALL_HINT}`);
  }
  return found;
}

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error) reject(new ServerStartError(`${path.basename(file)} failed: ${error.message}`, lastLines(output)));
      else resolve(output);
    });
  });
}

const versions = new Map<string, Promise<string>>();

/** The binary's `--version` line; rejects binaries that are not MariaDB. */
function serverVersion(binary: string): Promise<string> {
  let version = versions.get(binary);
  if (version === undefined) {
    version = run(binary, ['--version'], 10_000).then((output) => {
      const line = output.trim();
      if (!/mariadb/i.test(line)) {
        throw new ServerStartError(
          `${binary} is not MariaDB (${line}); throwaway servers need MariaDB: ${INSTALL_HINT}`,
        );
      }
      return line;
    });
    version.catch(() => versions.delete(binary));
    versions.set(binary, version);
  }
  return version;
}

// ---------------------------------------------------------------------------------------------
// The template data directory

const templates = new Map<string, Promise<string>>();

/**
 * The path of a data directory initialised by `mariadb-install-db` for this binary, version and
 * user, created on first use and shared by every later server on the machine.
 */
function templateDataDir(binary: string, version: string): Promise<string> {
  const uid = process.getuid?.() ?? -1;
  const key = createHash('sha256')
    .update(JSON.stringify({ format: TEMPLATE_FORMAT, binary: fs.realpathSync(binary), version, uid }))
    .digest('hex')
    .slice(0, 16);
  let template = templates.get(key);
  if (template === undefined) {
    template = ensureTemplate(binary, path.join(os.tmpdir(), `credswap-mariadb-template-${key}`));
    template.catch(() => templates.delete(key));
    templates.set(key, template);
  }
  return template;
}

const TEMPLATE_MARKER = 'template.json';

async function ensureTemplate(binary: string, dir: string): Promise<string> {
  const data = path.join(dir, 'data');
  const state = await templateState(dir);
  if (state === 'ready') return data;
  // The marker is written before the rename, so a template without it was damaged (by a tmp
  // cleaner, say).
  if (state === 'damaged') await fsp.rm(dir, { recursive: true, force: true });

  const staging = await fsp.mkdtemp(path.join(os.tmpdir(), 'credswap-mariadb-staging-'));
  try {
    await run(
      findInstallDb(binary),
      [
        '--no-defaults',
        `--basedir=${baseDir(binary)}`,
        `--datadir=${path.join(staging, 'data')}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...userOption(),
        ...SERVER_OPTIONS,
      ],
      TEMPLATE_TIMEOUT_MS,
    );
    await fsp.writeFile(
      path.join(staging, TEMPLATE_MARKER),
      JSON.stringify({ format: TEMPLATE_FORMAT, binary, createdAt: new Date().toISOString() }),
    );
    try {
      await fsp.rename(staging, dir);
    } catch (error) {
      // Another process finished first: use its template.
      if ((await templateState(dir)) !== 'ready') throw error;
    }
    return data;
  } finally {
    await fsp.rm(staging, { recursive: true, force: true });
  }
}

async function templateState(dir: string): Promise<'missing' | 'ready' | 'damaged'> {
  let stat: fs.Stats;
  try {
    stat = await fsp.lstat(dir);
  } catch {
    return 'missing';
  }
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) {
    throw new ServerStartError(`${dir} is not a directory owned by this user; remove it and try again`);
  }
  return fs.existsSync(path.join(dir, TEMPLATE_MARKER)) ? 'ready' : 'damaged';
}

// ---------------------------------------------------------------------------------------------
// Server processes

/** Children still running and data directories still present, cleaned up if the process exits. */
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
    for (const dir of liveDirs) {
      try {
        // A killed server may still be going away: retry while files vanish under us.
        fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
      } catch {
        // Nothing more can be done while exiting.
      }
    }
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves `true` once the child has exited, or `false` after `timeoutMs`. */
async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return true;
  const timer = new AbortController();
  const exited = new Promise<boolean>((resolve) => child.once('exit', () => resolve(true)));
  const timedOut = sleep(timeoutMs, false, { signal: timer.signal }).catch(() => false);
  try {
    return await Promise.race([exited, timedOut]);
  } finally {
    timer.abort();
  }
}

/** Stops a child: SIGTERM (a clean shutdown), then SIGKILL if it is still running after a while. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || hasExited(child)) return;
  child.kill('SIGTERM');
  if (await waitForExit(child, STOP_GRACE_MS)) return;
  child.kill('SIGKILL');
  await waitForExit(child, STOP_GRACE_MS);
}

function lastLines(text: string, count = 20): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

async function readLog(file: string, from = 0): Promise<string> {
  try {
    const content = await fsp.readFile(file);
    return content.subarray(from).toString('utf8');
  } catch {
    return '';
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    socket.setTimeout(1_000);
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

async function answersQuery(port: number): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await createConnection({ host: LOOPBACK, port, user: ROOT, password: '', connectTimeout: 2_000 });
    await connection.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    if (connection !== undefined) await close(connection);
  }
}

/** Closes a connection politely (COM_QUIT), so the server does not log an aborted connection. */
async function close(connection: Connection): Promise<void> {
  try {
    await connection.end();
  } catch {
    connection.destroy();
  }
}

/** Where a throwaway server keeps its files: `<dir>/data`, socket, pid file and error log. */
interface ServerFiles {
  dir: string;
  data: string;
  errorLog: string;
}

function serverFiles(dir: string): ServerFiles {
  return { dir, data: path.join(dir, 'data'), errorLog: path.join(dir, 'error.log') };
}

class PortInUseError extends ServerStartError {}

/**
 * Runs `mariadbd` on `port` and waits until it answers `SELECT 1`. On failure the child is
 * killed and the error carries the tail of its error log.
 */
async function launch(
  binary: string,
  files: ServerFiles,
  port: number,
  timeoutMs: number,
  extraArgs: string[] = [],
): Promise<ChildProcess> {
  const logStart = fileSize(files.errorLog);
  // Its own temporary directory: the machine's shared one can be cleaned under a running server.
  const tmp = path.join(files.dir, 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  const args = [
    '--no-defaults', // must come first
    `--datadir=${files.data}`,
    `--tmpdir=${tmp}`,
    `--port=${port}`,
    `--bind-address=${LOOPBACK}`,
    `--socket=${path.join(files.dir, 'mysqld.sock')}`,
    `--pid-file=${path.join(files.dir, 'mysqld.pid')}`,
    `--log-error=${files.errorLog}`,
    ...userOption(),
    ...SERVER_OPTIONS,
    ...extraArgs,
  ];
  // Anything printed before the error log is opened (bad options, say) lands in the same file.
  const stderr = fs.openSync(files.errorLog, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, args, { stdio: ['ignore', 'ignore', stderr] });
  } finally {
    fs.closeSync(stderr);
  }
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  // Tests end when their work is done, not when a forgotten server stops; the exit handler
  // kills whatever is left.
  child.unref();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));

  const failure = async (reason: string): Promise<ServerStartError> => {
    await terminate(child);
    const log = await readLog(files.errorLog, logStart);
    const Failure = /address already in use/i.test(log) ? PortInUseError : ServerStartError;
    return new Failure(`mariadbd on ${LOOPBACK}:${port} ${reason}`, lastLines(log), { cause: spawnError });
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError !== undefined || hasExited(child)) {
      const how = spawnError?.message ?? (child.exitCode !== null ? `exit code ${child.exitCode}` : child.signalCode);
      throw await failure(`exited during startup (${how})`);
    }
    if ((await canConnect(port)) && (await answersQuery(port))) return child;
    if (Date.now() >= deadline) throw await failure(`did not answer SELECT 1 within ${timeoutMs} ms`);
    await sleep(POLL_INTERVAL_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

interface AdminAccess {
  host: string;
  port: number;
  user: string;
  password: string;
  url: string;
}

/** The admin helpers, common to throwaway and external servers. */
abstract class BaseServer implements MariaDBServer {
  readonly host: string;
  readonly port: number;
  readonly adminUser: string;
  readonly adminPassword: string;
  readonly adminUrl: string;
  abstract readonly external: boolean;

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
   * Runs a statement on a fresh admin connection. With `secret`, a failure's error does not
   * carry the statement text (mysql2 puts it in `error.sql`), since it holds a password.
   */
  protected async adminQuery<T>(sql: string, values?: unknown[], secret = false): Promise<T> {
    if (this.stopping !== undefined) throw new Error(`the server on ${this.host}:${this.port} is stopped`);
    const connection = await this.connectAsAdmin();
    this.adminConnections.add(connection);
    this.adminThreadIds.add(connection.threadId);
    try {
      const [rows] = await connection.query(sql, values);
      return rows as T;
    } catch (error) {
      if (secret && error instanceof Error) Reflect.deleteProperty(error, 'sql');
      throw error;
    } finally {
      this.adminConnections.delete(connection);
      await close(connection);
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
    await this.adminQuery(`CREATE USER ${accounts}`, hosts.flatMap((host) => [user, host, password]), true);
    this.users.set(user, hosts);
    if (options.grants !== undefined) {
      await this.adminQuery(`GRANT ${options.grants} TO ${hosts.map(() => '?@?').join(', ')}`, hosts.flatMap((host) => [user, host]));
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
    await this.adminQuery(`ALTER USER ${accounts}`, hosts.flatMap((host) => [user, host, password]), true);
  }

  async setReadOnly(on: boolean): Promise<void> {
    await this.adminQuery(`SET GLOBAL read_only = ${on ? 'ON' : 'OFF'}`);
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

function uniqueName(prefix: string, option: string): string {
  if (!NAME_PREFIX.test(prefix)) {
    throw new TypeError(`${option} must be 1 to 20 letters, digits or _, starting with a letter`);
  }
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

class ThrowawayServer extends BaseServer {
  readonly external = false;
  private child: ChildProcess;
  /** Serialises restart() and stop(). */
  private lifecycle: Promise<void> = Promise.resolve();

  constructor(
    private readonly binary: string,
    private readonly files: ServerFiles,
    port: number,
    child: ChildProcess,
    private readonly startTimeoutMs: number,
  ) {
    super({ host: LOOPBACK, port, user: ROOT, password: '', url: `mysql://${ROOT}@${LOOPBACK}:${port}/` });
    this.child = child;
  }

  restart(): Promise<void> {
    return this.serially(async () => {
      if (this.stopping !== undefined) throw new Error(`the server on ${this.host}:${this.port} is stopped`);
      await terminate(this.child);
      this.forgetAdminThreadIds();
      // The port was just released; wait a little should something else grab it meanwhile.
      this.child = await launch(this.binary, this.files, this.port, this.startTimeoutMs, ['--port-open-timeout=10']);
    });
  }

  stop(): Promise<void> {
    this.stopping ??= this.serially(async () => {
      this.closeAdminConnections();
      await terminate(this.child);
      await fsp.rm(this.files.dir, { recursive: true, force: true });
      liveDirs.delete(this.files.dir);
    });
    return this.stopping;
  }

  private serially(task: () => Promise<void>): Promise<void> {
    const result = this.lifecycle.then(task);
    this.lifecycle = result.catch(() => undefined);
    return result;
  }
}

class ExternalServer extends BaseServer {
  readonly external = true;
  /** `@@GLOBAL.read_only` before the first setReadOnly(), to put back on stop(). */
  private originalReadOnly: number | undefined;

  override async setReadOnly(on: boolean): Promise<void> {
    if (this.originalReadOnly === undefined) {
      const [row] = await this.adminQuery<Array<{ value: number }>>('SELECT @@GLOBAL.read_only AS value');
      this.originalReadOnly = Number(row?.value);
    }
    await super.setReadOnly(on);
  }

  restart(): Promise<void> {
    return Promise.reject(new Error(`cannot restart the external server at ${this.host}:${this.port} (MYSQL_URL)`));
  }

  stop(): Promise<void> {
    this.stopping ??= this.cleanUp();
    return this.stopping;
  }

  private async cleanUp(): Promise<void> {
    // adminQuery() refuses once stopping is set, so clean up through a connection of our own.
    this.closeAdminConnections();
    const connection = await this.connectAsAdmin();
    try {
      for (const [user, hosts] of this.users) {
        for (const host of hosts) await connection.query('DROP USER IF EXISTS ?@?', [user, host]);
      }
      for (const database of this.databases) await connection.query(`DROP DATABASE IF EXISTS \`${database}\``);
      if (this.originalReadOnly !== undefined) {
        await connection.query(`SET GLOBAL read_only = ${this.originalReadOnly ? 'ON' : 'OFF'}`);
      }
    } finally {
      await close(connection);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Entry points

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
  const template = await templateDataDir(binary, await serverVersion(binary));

  installExitHandler();
  const files = serverFiles(await fsp.mkdtemp(path.join(os.tmpdir(), 'credswap-mariadb-')));
  liveDirs.add(files.dir);
  try {
    await fsp.cp(template, files.data, { recursive: true });
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        const child = await launch(binary, files, port, timeoutMs);
        return new ThrowawayServer(binary, files, port, child, timeoutMs);
      } catch (error) {
        // Another process took the port between freePort() and mariadbd's bind: pick another.
        if (!(error instanceof PortInUseError) || attempt >= PORT_ATTEMPTS) throw error;
      }
    }
  } catch (error) {
    await fsp.rm(files.dir, { recursive: true, force: true });
    liveDirs.delete(files.dir);
    throw error;
  }
}


/**
 * Connects to the existing server named by an admin URL such as
 * `mysql://root:secret@127.0.0.1:3306/`. Only loopback hosts are accepted, since the helpers
 * create users and change global settings.
 */
async function connectExternal(url: string): Promise<MariaDBServer> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError('MYSQL_URL is not a valid URL (expected mysql://user:password@127.0.0.1:3306/)');
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new TypeError('MYSQL_URL must start with mysql:// or mariadb://');
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!isLoopback(host)) {
    throw new TypeError(`MYSQL_URL must point at a loopback address (127.0.0.1, ::1 or localhost), not ${host}`);
  }
  const server = new ExternalServer({
    host,
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username) || ROOT,
    password: decodeURIComponent(parsed.password),
    url,
  });
  await server.query('SELECT 1');
  return server;
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
