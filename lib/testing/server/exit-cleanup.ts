/**
 * What is left when the process exits: server processes still running are killed and data
 * directories still present are removed, so a test run that forgets a server leaves nothing
 * behind.
 *
 * @packageDocumentation
 */

import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

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

/** Kills `child` if it is still running when the process exits. */
export function killOnExit(child: ChildProcess): void {
  installExitHandler();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** Removes `dir` if it still exists when the process exits, unless {@link dirRemoved} says it is gone. */
export function removeOnExit(dir: string): void {
  installExitHandler();
  liveDirs.add(dir);
}

/** Tells the exit handler that `dir` is gone: there is nothing left to remove. */
export function dirRemoved(dir: string): void {
  liveDirs.delete(dir);
}
