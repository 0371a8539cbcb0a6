/**
 * Rotating a database password under load, with credentials read from a JSON file.
 *
 * The file stands in for a Kubernetes Secret volume or a Vault Agent template: something else
 * keeps it up to date, always by atomic rename (write a temporary file, rename it over the old
 * one), so a reader never sees half a file. FileProvider watches the file's directory and the
 * pool starts using new credentials as soon as the file changes.
 *
 *   npx tsx examples/file-provider/index.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool } from '../../lib/mysql2/promise.js';
import { startMariaDB } from '../../lib/testing/mariadb.js';
import { type RunResult, report, runWhileRotating } from '../shared/drive.js';
import { FileProvider } from '../../providers/file/index.js';

const RUN_MS = 4_000;
const WORKERS = 8;

/** Counts the pool's reads, for this demo only: in your code use FileProvider as it is. */
class CountingFileProvider extends FileProvider {
  calls = 0;
  override getCredentials(...args: Parameters<FileProvider['getCredentials']>) {
    this.calls += 1;
    return super.getCredentials(...args);
  }
}

/** Replaces the credentials file atomically: readers see the old file or the new one. */
async function writeCredentials(path: string, credentials: { user: string; password: string }): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(credentials), { mode: 0o600 });
  await rename(tmp, path);
}

async function main(): Promise<void> {
  const server = await startMariaDB();
  const { user, password } = await server.createUser({ prefix: 'app' });
  const dir = await mkdtemp(join(tmpdir(), 'credswap-example-'));
  const path = join(dir, 'credentials.json');
  await writeCredentials(path, { user, password });

  const provider = new CountingFileProvider({ path });
  const pool = createPool({ host: server.host, port: server.port, connectionLimit: 8, credentials: provider });

  // Rotation: replace the file, then change the password on the server right away. The pool
  // notices the file after FileProvider's debounce (100 ms by default); a login refused in
  // between makes the pool read the file at once.
  async function rotate(): Promise<void> {
    const next = randomBytes(18).toString('base64url');
    await writeCredentials(path, { user, password: next });
    await server.setPassword(user, next);
    console.log(`rotated the password of ${user} (file replaced, then ALTER USER)`);
  }

  let result: RunResult;
  try {
    result = await runWhileRotating(pool, { workers: WORKERS, runMs: RUN_MS, rotate });
  } finally {
    await pool.end(); // also closes the provider: its watcher and timers stop
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }

  report(result, `file reads by the pool: ${provider.calls}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
