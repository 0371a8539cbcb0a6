/**
 * Dynamic credentials from Vault, end to end: real MariaDB and MySQL, the Vault emulator
 * creating and dropping real users, the real node-vault client, and a credswap pool under load.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vaultClient from 'node-vault';
import type { RotateEvent } from '../../lib/coordinator.js';
import { VaultError } from '../../providers/vault/errors.js';
import { createPool, type PromisePool } from '../../lib/mysql2/promise.js';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import { startVaultEmulator, type VaultEmulator } from '../../lib/testing/vault.js';
import { VaultDatabaseProvider, type VaultDatabaseProviderOptions, type VaultLeaseEvent } from '../../providers/vault/database.js';
import { runToExit } from '../helpers/child.js';
import { eventually, startLoad, stopAllLoads, type Load } from '../helpers/load.js';
import { describeEachFlavour, mariadbOnly, startTestServerOf } from '../helpers/servers.js';

/**
 * Rotation settings for leases of a few seconds, as a user would set them: ask for new
 * credentials up to 2 s before the end (a third of the time left, for shorter ones), and give
 * busy connections of old credentials a quarter of a second before they are closed.
 */
const SHORT_LEASE_ROTATION = { refreshBeforeExpiryMs: 2_000, drain: 'force', drainTimeoutMs: 250 } as const;

/** A JWT with the given `sub` claim (unsigned: the emulator does not check signatures). */
function jwtFor(sub: string): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ iss: 'kubernetes/serviceaccount', sub })}.c2lnbmF0dXJl`;
}

describeEachFlavour('credswap/mysql2 pool with VaultDatabaseProvider', (flavour) => {
  let server: MariaDBServer;
  let database: string;
  let vault: VaultEmulator;
  let pool: PromisePool | undefined;
  let n = 0;
  let role: string;
  let dir: string;
  const itOnMariaDB = mariadbOnly(flavour);

  before(async function () {
    server = await startTestServerOf(flavour);
    database = await server.createDatabase('vaultrot');
    await server.query(`CREATE TABLE \`${database}\`.items (id INT PRIMARY KEY)`);
    await server.query(`INSERT INTO \`${database}\`.items VALUES (1), (2), (3)`);
    vault = await startVaultEmulator({ server });
    dir = mkdtempSync(join(tmpdir(), 'credswap-vault-rotation-'));
  });

  after(async function () {
    await vault?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(function () {
    n += 1;
    role = `rot${n}`;
    vault.faults.clear();
    vault.resetCalls();
  });

  afterEach(async function () {
    await stopAllLoads();
    if (vault.sealed) vault.unseal();
    await pool?.end();
    pool = undefined;
  });

  function makePool(options: Partial<VaultDatabaseProviderOptions>, events: VaultLeaseEvent[] = []): PromisePool {
    const provider = new VaultDatabaseProvider({ role, vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken } }, ...options });
    provider.on('lease', (e: VaultLeaseEvent) => events.push(e));
    pool = createPool({
      host: server.host,
      port: server.port,
      database,
      connectionLimit: 8,
      credentials: provider,
      rotation: SHORT_LEASE_ROTATION,
    });
    return pool;
  }

  /**
   * Half the workers use `pool.query`; the others check out a connection and sometimes destroy
   * it, so that new logins keep happening. Each statement reads a table: a user whose
   * privileges were revoked fails it (a bare `SELECT 1` would still work).
   */
  function load(p: PromisePool, workers = 16): Load {
    return startLoad(workers, async (worker, i) => {
      if (worker % 2 === 0) {
        await p.query('SELECT id FROM items WHERE id = 1');
        return;
      }
      const connection = await p.getConnection();
      try {
        await connection.query('SELECT id FROM items WHERE id = 2');
      } finally {
        if (i % 8 === 0) connection.destroy();
        else connection.release();
      }
    });
  }

  /**
   * Samples the server's processlist until stopped and records every connection of a user
   * whose lease was already revoked when the sample was taken.
   */
  function watchRevokedUsers(): { stop(): Promise<string[]> } {
    const seen: string[] = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        const revoked = new Set(
          vault
            .leases()
            .filter((l) => l.revoked)
            .map((l) => l.username),
        );
        for (const row of await server.processlist()) {
          if (revoked.has(row.user)) seen.push(`${row.user} (${row.command}: ${row.info ?? ''})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    // A failed sample fails the test at stop(), not as an unhandled rejection before it.
    loop.catch(() => {});
    return {
      async stop() {
        running = false;
        await loop;
        return seen;
      },
    };
  }

  async function accounts(): Promise<Set<string>> {
    const rows = await server.query<Array<{ User: string }>>('SELECT User FROM mysql.user');
    return new Set(rows.map((r) => r.User));
  }

  it('serves queries across three lease rotations (default_ttl 3 s, max_ttl 8 s): zero failed queries, none on a revoked user, old users dropped', async function () {
    vault.configureDatabaseRole(role, { dbName: database, defaultTtlS: 3, maxTtlS: 8 });
    const events: VaultLeaseEvent[] = [];
    const p = makePool({}, events);
    const rotations: RotateEvent[] = [];
    p.on('rotate', (e) => rotations.push(e));
    const running = load(p);
    const watcher = watchRevokedUsers();

    let outcome;
    let onRevoked: string[];
    try {
      await eventually(() => rotations.length >= 4, 40_000, 'three rotations');
      await eventually(() => events.filter((e) => e.type === 'revoked').length >= 3, 10_000, 'the third old lease to be revoked');
    } finally {
      outcome = await running.stop();
      onRevoked = await watcher.stop();
    }

    assert.deepEqual(
      outcome.failed.map((e) => e.message),
      [],
    );
    assert.ok(outcome.ok > 1_000, `queries: ${outcome.ok}`);
    assert.deepEqual(onRevoked, [], 'no connection of a revoked user');
    assert.deepEqual(
      rotations.slice(1, 4).map((e) => e.reason),
      ['expiring', 'expiring', 'expiring'],
    );
    const capped = events.filter((e) => e.type === 'capped').map((e) => e.user);
    assert.deepEqual(
      capped.slice(0, 3),
      rotations.slice(0, 3).map((e) => e.user),
      'each lease ran to its max_ttl',
    );
    const old = rotations.slice(0, 3).map((e) => e.user);
    const users = await accounts();
    for (const user of old) {
      const lease = vault.leases().find((l) => l.username === user)!;
      assert.equal(lease.endReason, 'revoked', `${user} was revoked by the provider, not expired`);
      assert.ok(!users.has(user), `${user} was dropped`);
    }
  });

  // Vault's token lifetime is the subject; the leases' users are made and dropped as in the test above.
  itOnMariaDB(
    'a token that reaches its max TTL mid-load: logs in again and moves to new credentials before the old token ends, with zero failed queries',
    async function () {
      vault.configureDatabaseRole(role, { dbName: database, defaultTtlS: 30, maxTtlS: 60 });
      const { roleId, secretId } = vault.configureAppRole(`login-${n}`, { tokenTtlS: 3, tokenMaxTtlS: 6 });
      const events: VaultLeaseEvent[] = [];
      const p = makePool({ vault: { endpoint: vault.endpoint, auth: { appRole: { roleId, secretId } } } }, events);
      const rotations: RotateEvent[] = [];
      p.on('rotate', (e) => rotations.push(e));
      const running = load(p);

      let outcome;
      try {
        await eventually(() => rotations.length >= 3, 30_000, 'two rotations driven by token ends');
        await eventually(() => events.filter((e) => e.type === 'revoked').length >= 2, 10_000, 'the old leases to be revoked');
      } finally {
        outcome = await running.stop();
      }

      assert.deepEqual(
        outcome.failed.map((e) => e.message),
        [],
      );
      assert.ok((vault.calls['auth/approle/login'] ?? 0) >= 3, `logins: ${vault.calls['auth/approle/login']}`);
      for (const user of rotations.slice(0, 2).map((e) => e.user)) {
        assert.equal(
          vault.leases().find((l) => l.username === user)?.endReason,
          'revoked',
          `${user} revoked once drained, before its token ended`,
        );
      }
    },
  );

  it('recovers when Vault revokes the token mid-load: logs in again and moves to new credentials', async function () {
    vault.configureDatabaseRole(role, { dbName: database, defaultTtlS: 3, maxTtlS: 60 });
    const { roleId, secretId } = vault.configureAppRole(`revoked-${n}`, { tokenTtlS: 60 });
    const client = vaultClient({ endpoint: vault.endpoint });
    const p = makePool({ client, vault: { auth: { appRole: { roleId, secretId } } } });
    const rotations: RotateEvent[] = [];
    p.on('rotate', (e) => rotations.push(e));
    const running = load(p);
    await running.untilOk(200);

    await vault.revokeToken(client.token); // its lease goes with it: the user is dropped now
    await eventually(() => rotations.length >= 2, 10_000, 'new credentials');
    const failedBefore = running.result.failedCount;
    await running.untilOk(running.result.ok + 500);
    const outcome = await running.stop();

    assert.equal(outcome.failedCount, failedBefore, 'no failure once the new credentials were in use');
    assert.ok(
      outcome.failed.every((e) => /denied/i.test(e.message)),
      'only privilege errors from the dropped user',
    );
    assert.equal(vault.calls['auth/approle/login'], 2);
  });

  // Vault's auth method is the subject; the server plays no part.
  itOnMariaDB('logs in with Kubernetes auth (JWT from the service account file, on its mount) and serves queries', async function () {
    vault.configureDatabaseRole(role, { dbName: database, defaultTtlS: 60, maxTtlS: 120 });
    const jwtPath = join(dir, `token-${n}`);
    writeFileSync(jwtPath, jwtFor('system:serviceaccount:shop:orders'));
    vault.configureKubernetesRole('orders', { subject: 'system:serviceaccount:shop:orders', mount: 'k8s', tokenTtlS: 60 });
    const p = makePool({ vault: { endpoint: vault.endpoint, auth: { kubernetes: { role: 'orders', jwtPath, mount: 'k8s' } } } });
    const running = load(p, 8);

    await running.untilOk(300);
    const outcome = await running.stop();

    assert.deepEqual(
      outcome.failed.map((e) => e.message),
      [],
    );
    assert.equal(vault.calls['auth/k8s/login'], 1);
  });

  // Vault's sealing is the subject; the server plays no part.
  itOnMariaDB(
    'Vault sealed for a while: the last good credentials keep serving, with no failed query, and renewal resumes after unseal',
    async function () {
      vault.configureDatabaseRole(role, { dbName: database, defaultTtlS: 6, maxTtlS: 60 });
      const events: VaultLeaseEvent[] = [];
      const p = makePool({}, events);
      const rotations: RotateEvent[] = [];
      const errors: Error[] = [];
      p.on('rotate', (e) => rotations.push(e));
      p.on('rotation-error', (e: Error) => errors.push(e));
      const running = load(p);
      await running.untilOk(200);

      vault.seal();
      await eventually(() => errors.length >= 2, 10_000, 'renewals to fail while sealed');
      await running.untilOk(running.result.ok + 500);
      vault.unseal();
      await eventually(() => events.some((e) => e.type === 'renewed'), 10_000, 'a renewal after unseal');
      await running.untilOk(running.result.ok + 300);
      const outcome = await running.stop();

      assert.deepEqual(
        outcome.failed.map((e) => e.message),
        [],
      );
      assert.equal(rotations.length, 1, 'the same credentials all along');
      assert.ok(
        errors.every((e) => e instanceof VaultError && e.retryable),
        errors.map(String).join('\n'),
      );
    },
  );

  it('pool.end() revokes the leases the provider holds', async function () {
    vault.configureDatabaseRole(role, { dbName: database, defaultTtlS: 60, maxTtlS: 120 });
    const p = makePool({});
    await Promise.all([p.query('SELECT 1'), p.query('SELECT 2')]);
    const user = vault.leases().at(-1)!.username;

    await p.end();
    pool = undefined;

    const lease = vault.leases().find((l) => l.username === user)!;
    assert.equal(lease.endReason, 'revoked');
    assert.ok(!(await accounts()).has(user));
  });

  // Whether the process exits depends on credswap's timers and sockets, not on the server.
  itOnMariaDB('a process that creates a pool with the provider, queries and ends it exits by itself', async function () {
    vault.configureDatabaseRole(role, { dbName: database, defaultTtlS: 60, maxTtlS: 120 });
    const { roleId, secretId } = vault.configureAppRole(`exit-${n}`, { tokenTtlS: 60 });
    const fixture = join(__dirname, '../fixtures/vault-pool-exit.ts');
    const { code, out } = await runToExit([fixture, vault.endpoint, roleId, secretId, role, server.host, String(server.port), database]);

    assert.equal(code, 0, out);
    assert.match(out, /ended revoked=1/);
    assert.ok(
      vault
        .leases()
        .filter((l) => l.role === role)
        .every((l) => l.endReason === 'revoked'),
    );
  });
});
