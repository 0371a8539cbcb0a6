/**
 * Scratch directories and fake executables (small `/bin/sh` scripts) for the tests of the
 * throwaway-server pieces that need no server.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const scratch: string[] = [];

/** A new empty directory, removed by {@link removeScratchDirs}. */
export function scratchDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'credswap-test-'));
  scratch.push(dir);
  return dir;
}

/** Removes every directory {@link scratchDir} made; for an `afterEach`. */
export function removeScratchDirs(): void {
  for (const dir of scratch.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes an executable `/bin/sh` script `dir/name` (parent directories included) and returns its path. */
export function fakeBinary(dir: string, name: string, script = 'exit 0'): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return file;
}

/** Runs `use` with `PATH` set to `dirs`, and puts the old `PATH` back. */
export function withPath<T>(dirs: readonly string[], use: () => T): T {
  const saved = process.env.PATH;
  process.env.PATH = dirs.join(path.delimiter);
  try {
    return use();
  } finally {
    process.env.PATH = saved;
  }
}
