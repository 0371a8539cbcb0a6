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
import { createPool } from '../../lib/mysql2/promise.js';
import { startMariaDB } from '../../lib/testing/mariadb.js';
import { type RunResult, report, runWhileRotating } from '../shared/drive.js';

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

  // Rotation, in the order a rotation job uses: write the new secret to the store, then change
  // the password on the server. From then on, new logins with the old password get 1045.
  async function rotate(): Promise<void> {
    const next = randomBytes(18).toString('base64url');
    store.password = next;
    await server.setPassword(user, next);
    console.log(`rotated the password of ${user} (store updated, then ALTER USER)`);
  }

  let result: RunResult;
  try {
    result = await runWhileRotating(pool, { workers: WORKERS, runMs: RUN_MS, rotate });
  } finally {
    await pool.end();
    await server.stop();
  }

  report(result, `provider calls: ${providerCalls}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
