/**
 * Vault Agent renders database credentials from a static role into a file; FileProvider
 * watches the file and the pool follows each rotation.
 *
 * A real agent cannot run here, so a small loop plays its part with the same steps: read
 * `database/static-creds/<role>`, render JSON into a temporary file, rename it over the
 * destination, sleep until the returned `ttl` has passed (plus a second, as the agent does) and
 * read again. See README.md for the agent's real configuration.
 *
 *   npx tsx examples/vault-agent-file/index.ts
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import vaultClient from 'node-vault';
import { createPool } from '../../lib/mysql2/promise.js';
import { startMariaDB } from '../../lib/testing/mariadb.js';
import { startVaultEmulator } from '../../lib/testing/vault.js';
import { FileProvider } from '../../providers/file/index.js';

const ROLE = 'shop-app';
/** Vault rotates the password this often (a real Vault needs at least 5 s). */
const ROTATION_PERIOD_S = 3;
/** What Vault Agent adds to a static secret's `ttl` before reading it again. */
const AGENT_CUSHION_MS = 1_000;
const RUN_MS = 11_500;
const WORKERS = 8;

/** Renders the template of README.md: `toJSON` there, `JSON.stringify` here. */
function render(data: { username: string; password: string }): string {
  return `{"user": ${JSON.stringify(data.username)}, "password": ${JSON.stringify(data.password)}}`;
}

/**
 * The agent's part: read, render atomically, sleep until the ttl has passed, repeat. Returns a
 * function that stops it and resolves once the loop has finished.
 */
function startAgent(vault: ReturnType<typeof vaultClient>, destination: string, onRender: (user: string, ttlS: number) => void) {
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      const { data } = await vault.read(`database/static-creds/${ROLE}`);
      const tmp = `${destination}.${process.pid}.tmp`;
      await writeFile(tmp, render(data), { mode: 0o600 });
      await rename(tmp, destination); // readers see the old file or the new one, never half of one
      onRender(data.username, data.ttl);
      await sleep(data.ttl * 1000 + AGENT_CUSHION_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  })();
  return async () => {
    stopping.abort();
    await loop;
  };
}

async function main(): Promise<void> {
  const server = await startMariaDB();
  const vault = await startVaultEmulator({ server });
  const dir = await mkdtemp(join(tmpdir(), 'credswap-vault-agent-'));
  const path = join(dir, 'db.json');

  // Vault's side: an existing account whose password Vault manages from now on.
  const database = await server.createDatabase('shop');
  const account = await server.createUser({ prefix: 'static', grants: `SELECT ON \`${database}\`.*` });
  await vault.configureStaticRole(ROLE, { username: account.user, rotationPeriodS: ROTATION_PERIOD_S });

  let renderings = 0;
  const stopAgent = startAgent(vaultClient({ endpoint: vault.endpoint, token: vault.rootToken }), path, (user, ttl) => {
    renderings += 1;
    console.log(`agent: rendered db.json for ${user} (ttl ${ttl} s)`);
  });
  while (renderings === 0) await sleep(20); // the agent renders before the application starts

  const pool = createPool({
    host: server.host,
    port: server.port,
    database,
    connectionLimit: WORKERS,
    credentials: new FileProvider({ path }),
  });
  let followed = 0;
  pool.on('rotate', (e) => {
    if (e.generation > 1) followed += 1;
    console.log(`rotate: generation ${e.generation} (reason: ${e.reason}) user=${e.user} fingerprint=${e.fingerprint}`);
  });
  pool.on('rotation-error', (error, info) => console.log(`rotation-error (${info.reason}): ${error.message}`));
  let logins = 0;
  pool.on('connection', () => (logins += 1));

  let ok = 0;
  let failed = 0;
  const deadline = Date.now() + RUN_MS;
  const worker = async (id: number): Promise<void> => {
    while (Date.now() < deadline) {
      try {
        await pool.query('SELECT CURRENT_USER()');
        ok += 1;
      } catch (error) {
        failed += 1;
        if (failed <= 5) console.log(`worker ${id}: query failed: ${(error as Error).message}`);
      }
      await sleep(5);
    }
  };

  try {
    await Promise.all(Array.from({ length: WORKERS }, (_, id) => worker(id)));
  } finally {
    await pool.end(); // closes FileProvider too: its watcher and timers stop
    await stopAgent();
    await vault.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }

  console.log(`queries: ${ok} ok, ${failed} failed; new logins: ${logins}; renderings: ${renderings}`);
  console.log(
    failed === 0 ? `OK: no query failed; the pool followed ${followed} static-role rotations` : `FAILED: ${failed} queries failed`,
  );
  if (failed > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
