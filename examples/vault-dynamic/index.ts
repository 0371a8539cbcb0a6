/**
 * Dynamic database credentials from Vault under load: every lease is a database user of its
 * own, renewed until the role's max_ttl, then replaced; the pool moves to the new user, drains
 * the old one's connections, and the provider revokes the old lease (Vault drops the user).
 *
 * Runs against a throwaway MariaDB and credswap's Vault emulator, with very short leases so that
 * several rotations happen in a few seconds.
 *
 *   npx tsx examples/vault-dynamic/index.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool } from '../../lib/mysql2/promise.js';
import { startMariaDB } from '../../lib/testing/mariadb.js';
import { startVaultEmulator } from '../../lib/testing/vault.js';
import { VaultDatabaseProvider } from '../../providers/vault/database.js';

/** Lease duration of new credentials and of each renewal, seconds (minutes or hours in production). */
const DEFAULT_TTL_S = 2;
/** The longest a lease may live, seconds: then the pool must be on new credentials. */
const MAX_TTL_S = 4;
const RUN_MS = 12_000;
const WORKERS = 8;

async function main(): Promise<void> {
  const server = await startMariaDB();
  const vault = await startVaultEmulator({ server });
  const database = await server.createDatabase('shop');
  await server.query(`CREATE TABLE \`${database}\`.items (id INT PRIMARY KEY)`);
  await server.query(`INSERT INTO \`${database}\`.items VALUES (1), (2), (3)`);

  // Vault's side: a role whose users may read the shop, and an AppRole for the application.
  vault.configureDatabaseRole('shop-app', { grants: `SELECT ON \`${database}\`.*`, defaultTtlS: DEFAULT_TTL_S, maxTtlS: MAX_TTL_S });
  const { roleId, secretId } = vault.configureAppRole('shop', { tokenTtlS: 60 });

  const provider = new VaultDatabaseProvider({
    role: 'shop-app',
    vault: { endpoint: vault.endpoint, auth: { appRole: { roleId, secretId } } },
  });
  // Lease ids and user names are not secret; passwords never appear in events.
  provider.on('lease', (e) => console.log(`lease ${e.type}: ${e.user} (${Math.round(e.ttlMs / 100) / 10} s left)`));

  const pool = createPool({
    host: server.host,
    port: server.port,
    database,
    connectionLimit: WORKERS,
    credentials: provider,
    // For leases of seconds: ask for new credentials up to 2 s before the old lease's end, and
    // close connections still busy with the old user 250 ms after the switch, well before Vault
    // drops that user. With leases of minutes the defaults (60 s, graceful drain) are right.
    rotation: { refreshBeforeExpiryMs: 2_000, drain: 'force', drainTimeoutMs: 250 },
  });
  pool.on('rotate', (e) =>
    console.log(`rotate: generation ${e.generation} (reason: ${e.reason}) user=${e.user} fingerprint=${e.fingerprint}`),
  );
  pool.on('rotation-error', (error, info) => console.log(`rotation-error (${info.reason}): ${error.message}`));
  let logins = 0;
  pool.on('connection', () => (logins += 1));
  let generations = 0;
  pool.on('rotate', () => (generations += 1));

  let ok = 0;
  let failed = 0;
  const deadline = Date.now() + RUN_MS;
  // Half the workers use pool.query; the others check out a connection and now and then
  // destroy it, so that new logins keep happening all through the run.
  const worker = async (id: number): Promise<void> => {
    for (let i = 0; Date.now() < deadline; i++) {
      try {
        if (id % 2 === 0) {
          await pool.query('SELECT COUNT(*) FROM items');
        } else {
          const connection = await pool.getConnection();
          try {
            await connection.query('SELECT COUNT(*) FROM items');
          } finally {
            if (i % 10 === 0) connection.destroy();
            else connection.release();
          }
        }
        ok += 1;
      } catch (error) {
        failed += 1;
        if (failed <= 5) console.log(`worker ${id}: query failed: ${(error as Error).message}`);
      }
      await sleep(5);
    }
  };

  let usersLeft: number;
  try {
    await Promise.all(Array.from({ length: WORKERS }, (_, id) => worker(id)));
  } finally {
    await pool.end(); // revokes the leases the provider still holds: Vault drops their users
    const rows = await server.query<Array<{ n: number }>>("SELECT COUNT(*) AS n FROM mysql.user WHERE User LIKE 'v-%'");
    usersLeft = Number(rows[0]?.n);
    await vault.close();
    await server.stop();
  }

  const rotations = Math.max(0, generations - 1);
  console.log(
    `queries: ${ok} ok, ${failed} failed; new logins: ${logins}; lease rotations: ${rotations}; Vault users left after end(): ${usersLeft}`,
  );
  if (failed === 0) console.log(`OK: no query failed across ${rotations} lease rotations`);
  else console.log(`FAILED: ${failed} queries failed`);
  if (failed > 0 || usersLeft !== 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
