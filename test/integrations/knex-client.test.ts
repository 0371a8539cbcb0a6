/**
 * The contract with Knex that lib/integrations/knex-client.ts relies on. If one of these fails
 * after a Knex upgrade, `knexConnection` can no longer see refused logins or `knex.destroy()`.
 */
import assert from 'node:assert/strict';
import knex from 'knex';
import { knexPoolOf } from '../../lib/integrations/knex-client.js';
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

  it('finds no pool on something that is not a Knex Client', function () {
    for (const value of [undefined, null, 42, {}, { pool: {} }, { pool: { on: 'no' } }]) {
      assert.equal(knexPoolOf(value), undefined);
    }
  });
});
