/**
 * The contract with Knex that lib/integrations/knex-client.ts relies on. If one of these fails
 * after a Knex upgrade, `knexConnection` can no longer see refused logins or `knex.destroy()`.
 */
import assert from 'node:assert/strict';
import knex from 'knex';
import { interceptLogins, knexClientOf, knexPoolOf, rejectPendingAcquires } from '../../lib/integrations/knex-client.js';
import { type MariaDBServer, startTestServer } from '../../lib/testing/mariadb.js';

describe('the Knex contract of credswap/knex', function () {
  let server: MariaDBServer;

  before(async function () {
    server = await startTestServer();
  });

  after(async function () {
    await server?.stop();
  });

  it('calls the connection function and its expirationChecker as methods of the Client, whose tarn pool reports createFail and poolDestroySuccess', async function () {
    const { user } = await server.createUser({ prefix: 'kc' });
    const thisArgs: unknown[] = [];
    const checkerThisArgs: unknown[] = [];
    const failures: unknown[] = [];
    let destroyed = 0;
    const db = knex({
      client: 'mysql2',
      pool: { min: 0, max: 1 },
      acquireConnectionTimeout: 10_000,
      log: { warn() {} }, // Knex warns about every failed acquire
      connection: async function (this: unknown) {
        thisArgs.push(this);
        const pool = knexPoolOf(this);
        if (pool && thisArgs.length === 1) {
          pool.on('createFail', (_id, error) => failures.push(error));
          pool.on('poolDestroySuccess', () => (destroyed += 1));
        }
        return {
          host: server.host,
          port: server.port,
          user,
          password: 'not-the-password',
          expirationChecker: function (this: unknown) {
            checkerThisArgs.push(this);
            return false;
          },
        };
      },
    });
    await assert.rejects(db.raw('SELECT 1'), (error: { errno?: number }) => error.errno === 1045);
    await assert.rejects(db.raw('SELECT 1'), (error: { errno?: number }) => error.errno === 1045);
    assert.equal(thisArgs[0], db.client);
    assert.ok(checkerThisArgs.length > 0 && checkerThisArgs.every((t) => t === db.client));
    assert.ok(knexPoolOf(db.client) !== undefined);
    assert.equal(failures.length, 2);
    assert.equal((failures[0] as { errno?: number }).errno, 1045);
    await db.destroy();
    assert.equal(destroyed, 1);
  });

  it("opens every connection with the Client's own acquireRawConnection, from the settings the connection function returned, and closes one with destroyRawConnection", async function () {
    const account = await server.createUser({ prefix: 'kc' });
    const returned: object[] = [];
    const db = knex({
      client: 'mysql2',
      pool: { min: 0, max: 2 },
      connection: async () => {
        const settings = { host: server.host, port: server.port, user: account.user, password: account.password };
        returned.push(settings);
        return settings;
      },
    });
    try {
      const client = knexClientOf(db.client);
      assert.ok(client, 'the Client has acquireRawConnection and destroyRawConnection');
      const seen: unknown[] = [];
      const opened: unknown[] = [];
      const original = interceptLogins(client, async (open) => {
        seen.push(client.connectionSettings);
        const connection = await open();
        opened.push(connection);
        return connection;
      });
      const held = await Promise.all([db.client.acquireConnection(), db.client.acquireConnection()]);
      await Promise.all(held.map((c) => db.client.releaseConnection(c)));
      assert.equal(opened.length, 2, 'one call per new connection');
      assert.ok(
        held.every((c) => opened.includes(c)),
        'the connections Knex hands out are the ones it opened',
      );
      assert.equal(seen.length, 2);
      // Both first connections ask the connection function (Knex has no settings yet): either object will do.
      assert.ok(
        seen.every((settings) => returned.includes(settings as object)),
        'created from settings the connection function returned',
      );
      // The original opens one more (outside the pool), which destroyRawConnection closes.
      const extra = (await original()) as { _closing?: boolean };
      await client.destroyRawConnection(extra);
      assert.equal(extra._closing, true);
    } finally {
      await db.destroy();
    }
  });

  it("keeps acquisitions waiting for a connection in its tarn pool's pendingAcquires, which rejectPendingAcquires fails", async function () {
    let release: (() => void) | undefined;
    const db = knex({
      client: 'mysql2',
      pool: { min: 0, max: 1, propagateCreateError: false },
      log: { warn() {} }, // Knex warns about every failed acquire
      connection: async () => ({ host: server.host, port: server.port, user: 'nobody', password: 'x' }),
    });
    try {
      const client = knexClientOf(db.client)!;
      interceptLogins(client, () => new Promise((_resolve, reject) => (release = () => reject(new Error('never mind')))));
      const queries = [db.raw('SELECT 1'), db.raw('SELECT 2')].map((q) =>
        q.then(
          () => 'ran',
          (e: Error) => e.message,
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      rejectPendingAcquires(db.client, new Error('the account is locked'));
      assert.deepEqual(await Promise.all(queries), ['the account is locked', 'the account is locked']);
      release?.();
    } finally {
      await db.destroy();
    }
  });

  it('finds no pool on something that is not a Knex Client', function () {
    for (const value of [undefined, null, 42, {}, { pool: {} }, { pool: { on: 'no' } }]) {
      assert.equal(knexPoolOf(value), undefined);
      assert.equal(knexClientOf(value), undefined);
    }
  });
});
