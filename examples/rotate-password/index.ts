/**
 * Rotating a database password under load, with credentials from a hot-swap function.
 *
 * A throwaway MariaDB stands in for your database and an in-memory object for your secret store
 * (AWS Secrets Manager, Vault, ...). Eight workers query for four seconds while the password is
 * rotated twice. No query fails: when a new login is refused (1045), the pool asks the hot-swap
 * function once for the current secret and retries the login with it.
 *
 *   npm run example
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool } from '../../lib/mysql2/promise.js';
import { startMariaDB } from '../../lib/testing/mariadb.js';

const RUN_MS = 4_000;
const WORKERS = 8;

async function main(): Promise<void> {
  const server = await startMariaDB();
  const { user, password } = await server.createUser({ prefix: 'app' });

  // The "secret store". In production this is a call to Secrets Manager or Vault.
  const store = { user, password };
  let providerCalls = 0;

  const pool = createPool({
    host: server.host,
    port: server.port,
    connectionLimit: 8,
    // The hot-swap function: called before the first connection and again when the server
    // refuses the current credentials. Pass `signal` on to your SDK call so it can be cancelled.
    credentials: async (signal) => {
      signal.throwIfAborted();
      providerCalls += 1;
      return { user: store.user, password: store.password };
    },
  });

  // Never log the password: the event carries a fingerprint that changes when it changes.
  pool.on('rotate', (e) => {
    console.log(`rotate: generation ${e.generation} (reason: ${e.reason}) user=${e.user} fingerprint=${e.fingerprint}`);
  });
  pool.on('rotation-error', (error, info) => console.log(`rotation-error (${info.reason}): ${error.message}`));
  let logins = 0;
  pool.on('connection', () => (logins += 1));

  let ok = 0;
  let failed = 0;
  const deadline = Date.now() + RUN_MS;

  // Half the workers use pool.query; the other half check out a connection and, now and then,
  // destroy it instead of releasing it, so that new logins happen all through the run.
  async function worker(id: number): Promise<void> {
    for (let i = 0; Date.now() < deadline; i++) {
      try {
        if (id % 2 === 0) {
          await pool.query('SELECT CURRENT_USER()');
        } else {
          const connection = await pool.getConnection();
          await connection.query('SELECT CURRENT_USER()');
          if (i % 10 === 0) connection.destroy();
          else connection.release();
        }
        ok += 1;
      } catch (error) {
        failed += 1;
        if (failed <= 5) console.log(`worker ${id}: query failed: ${(error as Error).message}`);
      }
      await sleep(5);
    }
  }

  // Rotation, in the order a rotation job uses: write the new secret to the store, then change
  // the password on the server. From then on, new logins with the old password get 1045.
  async function rotate(): Promise<void> {
    const next = randomBytes(18).toString('base64url');
    store.password = next;
    await server.setPassword(user, next);
    console.log(`rotated the password of ${user} (store updated, then ALTER USER)`);
  }

  try {
    const workers = Array.from({ length: WORKERS }, (_, id) => worker(id));
    await sleep(RUN_MS / 3);
    await rotate();
    await sleep(RUN_MS / 3);
    await rotate();
    await Promise.all(workers);
  } finally {
    await pool.end();
    await server.stop();
  }

  console.log(`queries: ${ok} ok, ${failed} failed; new logins: ${logins}; provider calls: ${providerCalls}`);
  console.log(failed === 0 ? 'OK: no query failed across two password rotations' : `FAILED: ${failed} queries failed`);
  if (failed > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
