/**
 * A throwaway server's process: the command line every flavour shares, starting it and waiting
 * until it answers `SELECT 1` as root, and stopping it (SIGTERM, then SIGKILL). A start that
 * fails kills the process and reports the tail of its error log.
 *
 * @packageDocumentation
 */

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
// Not the unref()ed sleep of lib/abort.ts: a caller awaits these waits, and the server process
// is unref()ed, so these timers are what keeps the process alive until the server is up or gone.
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection, type Connection } from 'mysql2/promise';
import { closeConnection, ROOT } from './admin.js';
import type { ServerFiles } from './data-dir.js';
import { lastLines, PortInUseError, ServerStartError } from './errors.js';
import { killOnExit } from './exit-cleanup.js';
import { canConnect, LOOPBACK } from './ports.js';

/** How long a server gets to shut down cleanly, and then to die once killed. */
export const STOP_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 25;

/** Servers refuse to run as root unless told to. */
export function userOption(): string[] {
  return process.getuid?.() === 0 ? ['--user=root'] : [];
}

/**
 * The options every flavour starts its server with: nothing of the machine's configuration
 * (`--no-defaults`, which must come first), the files of `files`, and `port` of 127.0.0.1 only.
 */
export function serverArgs(files: ServerFiles, port: number): string[] {
  return [
    '--no-defaults', // must come first
    `--datadir=${files.data}`,
    `--tmpdir=${files.tmp}`,
    `--port=${port}`,
    `--bind-address=${LOOPBACK}`,
    `--socket=${files.socket}`,
    `--pid-file=${files.pidFile}`,
    `--log-error=${files.errorLog}`,
  ];
}

/** What {@link launch} starts. */
export interface LaunchOptions {
  /** The server's name in messages, e.g. `mariadbd`. */
  readonly name: string;
  readonly binary: string;
  /** The whole command line, {@link serverArgs} first (after a loader's own arguments, if `binary` is one). */
  readonly args: readonly string[];
  readonly files: ServerFiles;
  /** The port `args` name, to wait on. */
  readonly port: number;
  /** How long to wait for `SELECT 1`. */
  readonly timeoutMs: number;
}

/**
 * Runs a server and waits until it answers `SELECT 1` as root with an empty password. On
 * failure the child is killed and the error carries the tail of its error log: a
 * {@link PortInUseError} when the port was taken, so the caller can try another.
 */
export async function launch(options: LaunchOptions): Promise<ChildProcess> {
  const { name, binary, files, port, timeoutMs } = options;
  const logStart = fileSize(files.errorLog);
  fs.mkdirSync(files.tmp, { recursive: true });
  // Anything printed before the error log is opened (bad options, say) lands in the same file.
  const stderr = fs.openSync(files.errorLog, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, options.args, { stdio: ['ignore', 'ignore', stderr] });
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
  killOnExit(child);

  const failure = async (reason: string): Promise<ServerStartError> => {
    await terminate(child);
    const log = await readLog(files.errorLog, logStart);
    const Failure = /address already in use/i.test(log) ? PortInUseError : ServerStartError;
    return new Failure(`${name} on ${LOOPBACK}:${port} ${reason}`, lastLines(log), { cause: spawnError });
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

/** Stops a child: SIGTERM (a clean shutdown), then SIGKILL if it is still running after a while. */
export async function terminate(child: ChildProcess, graceMs = STOP_GRACE_MS): Promise<void> {
  if (child.pid === undefined || hasExited(child)) return;
  child.kill('SIGTERM');
  if (await waitForExit(child, graceMs)) return;
  child.kill('SIGKILL');
  await waitForExit(child, graceMs);
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

async function answersQuery(port: number): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await createConnection({ host: LOOPBACK, port, user: ROOT, password: '', connectTimeout: 2_000 });
    await connection.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    if (connection !== undefined) await closeConnection(connection);
  }
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
