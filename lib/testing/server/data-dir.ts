/**
 * A throwaway server's own directory under `os.tmpdir()`: its layout (data, temporary files,
 * socket, pid file, error log), made from a copy of a template data directory and removed when
 * the server stops or the process exits.
 *
 * @packageDocumentation
 */

import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { dirRemoved, removeOnExit } from './exit-cleanup.js';

/** Where a throwaway server keeps its files, all inside {@link ServerFiles.dir}. */
export interface ServerFiles {
  /** The directory of it all, removed on stop. */
  readonly dir: string;
  /** The data directory (`--datadir`). */
  readonly data: string;
  /** Its own temporary directory (`--tmpdir`): the machine's shared one can be cleaned under a running server. */
  readonly tmp: string;
  readonly socket: string;
  readonly pidFile: string;
  /** The error log (`--log-error`), which also receives what the server prints to stderr. */
  readonly errorLog: string;
}

/** The layout of a server directory. */
export function serverFiles(dir: string): ServerFiles {
  return {
    dir,
    data: path.join(dir, 'data'),
    tmp: path.join(dir, 'tmp'),
    socket: path.join(dir, 'mysqld.sock'),
    pidFile: path.join(dir, 'mysqld.pid'),
    errorLog: path.join(dir, 'error.log'),
  };
}

/**
 * Creates a fresh directory `credswap-<flavour>-XXXXXX` under `os.tmpdir()` whose data directory
 * is a copy of `template`. It is removed on process exit unless {@link removeServerDir} removed it.
 */
export async function createServerDir(flavour: string, template: string): Promise<ServerFiles> {
  const files = serverFiles(await fsp.mkdtemp(path.join(os.tmpdir(), `credswap-${flavour}-`)));
  removeOnExit(files.dir);
  try {
    await fsp.cp(template, files.data, { recursive: true });
  } catch (error) {
    await removeServerDir(files);
    throw error;
  }
  return files;
}

/** Removes a server directory and everything in it. */
export async function removeServerDir(files: ServerFiles): Promise<void> {
  await fsp.rm(files.dir, { recursive: true, force: true });
  dirRemoved(files.dir);
}
