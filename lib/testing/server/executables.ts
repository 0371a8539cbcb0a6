/**
 * Finding and running a server's executables: the server binary and the tools that set up its
 * data directory, searched for by name on `PATH` and in the directories a flavour adds.
 *
 * @packageDocumentation
 */

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lastLines, ServerStartError } from './errors.js';

/** True when `file` is a regular file this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The directories on `PATH`, then `extra`, each once, in that order. */
export function searchDirs(extra: readonly string[]): string[] {
  const fromPath = (process.env.PATH ?? '').split(path.delimiter).filter((dir) => dir !== '');
  return [...new Set([...fromPath, ...extra])];
}

/**
 * The first executable found: each name is looked for in every directory before the next name
 * is, so the order of `names` is a preference and the order of `dirs` breaks ties.
 */
export function findExecutable(names: readonly string[], dirs: readonly string[]): string | undefined {
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/** The directory a server was installed into: `/usr` for `/usr/sbin/mariadbd`. */
export function baseDir(binary: string): string {
  return path.dirname(path.dirname(fs.realpathSync(binary)));
}

/**
 * Runs a tool to completion and resolves with its output (stdout, then stderr). Rejects with a
 * {@link ServerStartError} carrying the output's last lines when it fails or outlives `timeoutMs`.
 */
export function run(file: string, args: readonly string[], timeoutMs: number, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 << 20, cwd }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error) reject(new ServerStartError(`${path.basename(file)} failed: ${error.message}`, lastLines(output)));
      else resolve(output);
    });
  });
}
