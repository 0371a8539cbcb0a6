/**
 * Scenario `file`: the credentials are a file in a Kubernetes-style Secret volume (a temporary
 * directory), which each rotation updates the way the kubelet does: the new content goes into a
 * new timestamped directory and a `..data_tmp` symlink is renamed over `..data`. The secret
 * changes first, then the server (`ALTER USER`).
 *
 * @packageDocumentation
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FileProvider } from '../../../providers/file/index.js';
import { credswapTarget, plainPool, readOnce } from './pools.js';
import { createDrillDatabase, openDrillServer } from './server.js';
import { TABLE_STATEMENTS, type Scenario, type ScenarioSettings } from './types.js';

/** The key of the Secret volume that holds the credentials. */
const KEY = 'credentials.json';

/** A Kubernetes Secret volume in `dir`, written the way the kubelet's atomic writer does. */
function secretVolume(dir: string): { path: string; write(content: string): void } {
  let version = 0;
  const stamp = (n: number) => `..${new Date().toISOString().slice(0, 10).replaceAll('-', '_')}.${String(n).padStart(9, '0')}`;
  let current: string | undefined;
  return {
    path: join(dir, KEY),
    write(content) {
      version += 1;
      const next = stamp(version);
      mkdirSync(join(dir, next));
      writeFileSync(join(dir, next, KEY), content, { mode: 0o600 });
      symlinkSync(next, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      if (current === undefined) symlinkSync(`..data/${KEY}`, join(dir, KEY));
      else rmSync(join(dir, current), { recursive: true, force: true });
      current = next;
    },
  };
}

/** Sets the `file` scenario up on a throwaway server, or on the server of `--mysql`. */
export async function setup(settings: ScenarioSettings): Promise<Scenario> {
  const server = await openDrillServer(settings.mysqlUrl);
  const dir = mkdtempSync(join(tmpdir(), 'credswap-drill-'));
  try {
    const db = await createDrillDatabase(server, 'file');
    const endpoint = { host: server.host, port: server.port, database: db.database };
    const volume = secretVolume(dir);
    volume.write(JSON.stringify({ username: db.user, password: db.password }));
    let closing: Promise<void> | undefined;
    return {
      name: 'file',
      embedded: server.embedded,
      kind: 'rotation',
      statements: TABLE_STATEMENTS,
      async createCredswapPool() {
        return credswapTarget(new FileProvider({ path: volume.path }), endpoint, settings.concurrency);
      },
      async createPlainPool() {
        return plainPool(await readOnce(new FileProvider({ path: volume.path, pollIntervalMs: 0 })), endpoint, settings.concurrency);
      },
      async disrupt(index) {
        const startAt = performance.now();
        const password = randomBytes(18).toString('base64url');
        volume.write(JSON.stringify({ username: db.user, password }));
        await server.setPassword(db.user, password);
        settings.log(`rotation ${index + 1}: the Secret volume and then the server have a new password for ${db.user}`);
        return { startAt, endAt: performance.now() };
      },
      close() {
        closing ??= (async () => {
          rmSync(dir, { recursive: true, force: true });
          await server.stop();
        })();
        return closing;
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    await server.stop().catch(() => {});
    throw error;
  }
}
