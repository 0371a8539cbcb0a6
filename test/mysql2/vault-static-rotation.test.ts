/**
 * Static-role rotations through Vault, end to end: real MariaDB and MySQL, the Vault emulator
 * rotating an account's password with ALTER USER, real node-vault, and a credswap pool under load.
 */
import assert from 'node:assert/strict';
import vaultClient from 'node-vault';
import type { RotateEvent } from '../../lib/coordinator.js';
import { createPool, type PromisePool } from '../../lib/mysql2/promise.js';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import { startVaultEmulator, type VaultEmulator } from '../../lib/testing/vault.js';
import { VaultStaticRoleProvider } from '../../providers/vault/static-role.js';
import { eventually, startLoad, stopAllLoads, type Load } from '../helpers/load.js';
import { describeEachFlavour, mariadbOnly, startTestServerOf } from '../helpers/servers.js';

const ROUTE = 'database/static-creds/:role';

describeEachFlavour('credswap/mysql2 pool with VaultStaticRoleProvider', (flavour) => {
  let server: MariaDBServer;
  let database: string;
  let vault: VaultEmulator;
  let pool: PromisePool | undefined;
  let n = 0;
  const itOnMariaDB = mariadbOnly(flavour);

  before(async function () {
    server = await startTestServerOf(flavour);
    database = await server.createDatabase('vstatic');
    await server.query(`CREATE TABLE \`${database}\`.items (id INT PRIMARY KEY)`);
    await server.query(`INSERT INTO \`${database}\`.items VALUES (1), (2), (3)`);
  });

  after(async function () {
    await server?.stop();
  });

  beforeEach(async function () {
    n += 1;
    vault = await startVaultEmulator({ server });
  });

  afterEach(async function () {
    await stopAllLoads();
    await pool?.end();
    pool = undefined;
    await vault.close();
  });

  /** An account managed by a static role `app-<n>`, rotated every `periodS` seconds. */
  async function staticRole(periodS: number): Promise<{ role: string; user: string }> {
    const account = await server.createUser({ prefix: 'static', grants: `SELECT ON \`${database}\`.*` });
    const role = `app-${n}`;
    await vault.configureStaticRole(role, { username: account.user, rotationPeriodS: periodS });
    return { role, user: account.user };
  }

  function poolFor(role: string, connectionLimit = 8): PromisePool {
    pool = createPool({
      host: server.host,
      port: server.port,
      database,
      connectionLimit,
      credentials: new VaultStaticRoleProvider({
        role,
        vault: { endpoint: vault.endpoint, auth: { token: vault.createToken({ ttlS: 3600 }) }, requestTimeoutMs: 2_000 },
        refreshJitterMs: 200,
      }),
    });
    return pool;
  }

  /**
   * Half the workers use `pool.query`; the others check out a connection and often destroy it,
   * so that new logins keep happening all through the rotations. Each statement reads a row of
   * the table, by its key: `COUNT(*)` would do too, but MySQL runs it with parallel read threads,
   * which makes it many times slower under concurrent load.
   */
  function load(p: PromisePool, workers: number): Load {
    return startLoad(workers, async (worker, i) => {
      if (worker % 2 === 0) {
        await p.query('SELECT id FROM items WHERE id = 1');
        return;
      }
      const connection = await p.getConnection();
      try {
        await connection.query('SELECT id FROM items WHERE id = 2');
      } finally {
        if (i % 4 === 0) connection.destroy();
        else connection.release();
      }
    });
  }

  it("follows three rotations of Vault's rotation period under 16 workers with new logins all along: zero failed queries", async function () {
    const { role, user } = await staticRole(2);
    const p = poolFor(role);
    const rotations: RotateEvent[] = [];
    p.on('rotate', (e) => rotations.push(e));
    const errors: Error[] = [];
    p.on('rotation-error', (e) => errors.push(e));
    let logins = 0;
    p.on('connection', () => (logins += 1));
    const running = load(p, 16);

    try {
      await eventually(() => rotations.length >= 4, 20_000, 'three rotations after the first credentials');
      await running.untilOk(running.result.ok + 100);
    } finally {
      const outcome = await running.stop();
      assert.deepEqual(
        outcome.failed.map((e) => e.message),
        [],
      );
    }
    assert.ok(rotations.every((e) => e.user === user));
    assert.equal(new Set(rotations.map((e) => e.fingerprint)).size, rotations.length, 'each rotation brought a new password');
    assert.ok(
      rotations.slice(1).every((e) => e.reason === 'push' || e.reason === 'rejected'),
      rotations.map((e) => e.reason).join(),
    );
    assert.ok(logins > rotations.length, 'new logins happened between rotations');
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );
  });

  it('follows a rotate-role by an operator, noticed at the first refused login: zero failed queries', async function () {
    const { role } = await staticRole(3600);
    const p = poolFor(role);
    const rotations: RotateEvent[] = [];
    p.on('rotate', (e) => rotations.push(e));
    const running = load(p, 16);
    await running.untilOk(200);

    try {
      await vaultClient({ endpoint: vault.endpoint, token: vault.rootToken }).write(`database/rotate-role/${role}`, {});
      await eventually(() => rotations.length === 2, 10_000, 'the pool to follow the rotation');
      await running.untilOk(running.result.ok + 200);
    } finally {
      const outcome = await running.stop();
      assert.deepEqual(
        outcome.failed.map((e) => e.message),
        [],
      );
    }
    assert.equal(rotations[1].reason, 'rejected');
    assert.ok((vault.calls[ROUTE] ?? 0) <= 6, `static-creds reads: ${vault.calls[ROUTE]}`);
  });

  // Vault's sealing is the subject; the server only sees the ALTER USER the other tests run on both.
  itOnMariaDB('keeps serving on the last password while Vault is sealed and follows the rotation that runs on unseal', async function () {
    const { role } = await staticRole(2);
    const p = poolFor(role);
    const rotations: RotateEvent[] = [];
    p.on('rotate', (e) => rotations.push(e));
    const errors: Error[] = [];
    p.on('rotation-error', (e) => errors.push(e));
    const running = load(p, 8);
    await running.untilOk(100);

    try {
      vault.seal(); // no rotation happens while sealed: the last password stays valid
      await eventually(() => errors.length >= 1, 10_000, 'a failed read while sealed');
      const okWhileSealed = running.result.ok;
      await running.untilOk(okWhileSealed + 200);
      vault.unseal();
      await eventually(() => rotations.length >= 2, 10_000, 'the rotation after unseal');
      await running.untilOk(running.result.ok + 100);
    } finally {
      const outcome = await running.stop();
      assert.deepEqual(
        outcome.failed.map((e) => e.message),
        [],
      );
    }
    assert.ok(
      errors.every((e) => /sealed/.test(e.message)),
      errors.map((e) => e.message).join('\n'),
    );
  });
});
