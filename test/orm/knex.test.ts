/**
 * Knex through a single-user rotation and a failover under load, both ways: Knex 3.3's
 * `connectionPool` with credswap's callback pool, and a pool Knex owns fed by `knexConnection`.
 */
import assert from 'node:assert/strict';
import knex, { type Knex } from 'knex';
import { ReadOnlyError } from '../../lib/errors.js';
import { knexConnection, type KnexConnection } from '../../lib/integrations/knex.js';
import { createPool, type Pool } from '../../lib/mysql2/index.js';
import { createPool as createPromisePool } from '../../lib/mysql2/promise.js';
import { errnoOf, rotateAndFailOverUnderLoad, useFailoverRig, type FailoverRig } from '../helpers/failover.js';
import { eventually } from '../helpers/load.js';

/**
 * Rotation, then failover, under load through Knex's own API; `connectionCount` reads the
 * connections of whichever pool is in use. Connections may close a moment after the load stops.
 */
function rotateAndFailOver(rig: FailoverRig, db: Knex, connectionCount: () => number) {
  return rotateAndFailOverUnderLoad(
    rig,
    async (worker, i) => {
      if (i % 3 === 0) {
        // Knex's transaction API: one held connection, never retried.
        await db.transaction(async (trx) => {
          await trx('items').insert({ n: worker });
          await trx('items').select('id').where('n', worker).first();
        });
        return;
      }
      await db('items').insert({ n: i });
    },
    { afterRotation: () => assert.equal(connectionCount(), 8, 'the pool grew after the rotation'), drainMs: 10_000 },
  );
}

describe('Knex', function () {
  const cleanups: Array<() => Promise<unknown>> = [];

  afterEach(async function () {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  describe("Knex 3.3 'connectionPool' with credswap's callback pool", function () {
    const rig = useFailoverRig('knexpool');

    function connect(connectionLimit = 8): { db: Knex; pool: Pool } {
      const pool = createPool({ host: rig.host, port: rig.port, database: rig.database, connectionLimit, credentials: rig.credentials });
      // Knex 3.3's types reject mysql2's own Pool type too (the callback of end()): hence the cast.
      const db = knex({ client: 'mysql2', connectionPool: pool as Knex.MySQLPoolLike });
      cleanups.push(
        () => new Promise((resolve) => pool.end(resolve)),
        () => db.destroy(),
      );
      return { db, pool };
    }

    it('runs queries, streams and transactions, and leaves ending the pool to its owner', async function () {
      const { db, pool } = connect(2);
      const [id] = await db('items').insert({ n: 7001 });
      assert.ok(id > 0);
      const streamed: number[] = [];
      for await (const row of db('items').select('n').where('n', 7001).stream()) streamed.push((row as { n: number }).n);
      assert.deepEqual(streamed, [7001]);
      await assert.rejects(
        db.transaction(async (trx) => {
          await trx('items').insert({ n: 7002 });
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.equal((await db('items').where('n', 7002)).length, 0, 'the transaction was rolled back');
      await eventually(() => pool.stats.idle === pool.stats.total, 5_000, 'every connection to be released');
      await db.destroy();
      assert.equal(pool.coordinator!.closed, false, 'knex.destroy() does not end a pool it does not own');
      const [rows] = await pool.promise().query('SELECT 1 AS one');
      assert.deepEqual(rows, [{ one: 1 }]);
    });

    it('takes the promise pool too (through its callback pool)', async function () {
      const pool = createPromisePool({
        host: rig.host,
        port: rig.port,
        database: rig.database,
        connectionLimit: 1,
        credentials: rig.credentials,
      });
      const db = knex({ client: 'mysql2', connectionPool: pool as unknown as Knex.MySQLPoolLike });
      cleanups.push(
        () => pool.end(),
        () => db.destroy(),
      );
      assert.deepEqual(await db.raw('SELECT 1 AS one').then(([rows]) => rows), [{ one: 1 }]);
    });

    it('rotates a single user and follows a failover under load, failing only statements the server refused', async function () {
      const { db, pool } = connect(8);
      await rotateAndFailOver(rig, db, () => pool.stats.total);
    });
  });

  describe('a pool Knex owns, with knexConnection', function () {
    const rig = useFailoverRig('knexown');

    function connect(max = 8): { db: Knex; connection: KnexConnection } {
      const connection = knexConnection({ host: rig.host, port: rig.port, database: rig.database, credentials: rig.credentials });
      const db = knex({ client: 'mysql2', connection, pool: connection.pool({ min: 0, max }) });
      cleanups.push(() => db.destroy());
      return { db, connection };
    }

    function used(db: Knex): number {
      const pool = db.client.pool as { numUsed(): number; numFree(): number; numPendingCreates(): number };
      return pool.numUsed() + pool.numFree() + pool.numPendingCreates();
    }

    it('runs queries and transactions with credentials from the provider, and closes it on knex.destroy()', async function () {
      const { db, connection } = connect(2);
      const [id] = await db('items').insert({ n: 8001 });
      assert.ok(id > 0);
      await db.transaction(async (trx) => {
        await trx('items').where('id', id).update({ n: 8002 });
      });
      assert.equal((await db('items').where('id', id).first()).n, 8002);
      assert.equal(connection.coordinator.generation, 1);
      await db.destroy();
      assert.equal(connection.coordinator.closed, true);
    });

    it('after a 1045 rotates once and retries the login instead of failing the query', async function () {
      const { db, connection } = connect(4);
      await db.raw('SELECT 1');
      const callsBefore = rig.calls;
      await rig.rotatePassword();
      // Four new connections at once, all refused with the old password first.
      const held = await Promise.all([1, 2, 3, 4].map(() => db.client.acquireConnection()));
      await Promise.all(held.map((c) => db.client.releaseConnection(c)));
      assert.equal(rig.calls - callsBefore, 1);
      assert.equal(connection.coordinator.generation, 2);
      // The connection opened with the old password is retired once the new one works.
      await eventually(async () => {
        await db.raw('SELECT 1');
        return used(db) === 4 || used(db) === 3;
      });
    });

    it('keeps a connection refused as read-only while the address leads to that server, and the caller gets a ReadOnlyError', async function () {
      const { db } = connect(1);
      const [{ id: first }] = (await db.raw('SELECT CONNECTION_ID() AS id'))[0];
      await rig.primary.setReadOnly(true);
      try {
        const error = await db('items')
          .insert({ n: 1 })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        assert.ok(error instanceof ReadOnlyError, String(error));
        assert.equal(error.code, 'CREDSWAP_READ_ONLY');
        assert.equal(error.errno, 1290, "the server's errno is kept");
        assert.equal(error.retryable, true);
      } finally {
        await rig.primary.setReadOnly(false);
      }
      // The episode ends at the next login to a writable server; reads never needed one.
      const [{ id: second }] = (await db.raw('SELECT CONNECTION_ID() AS id'))[0];
      assert.equal(second, first, 'the refused connection still serves');
    });

    it('with failover: false, destroys a connection that hit a read-only error instead of handing it out again', async function () {
      const connection = knexConnection({
        host: rig.host,
        port: rig.port,
        database: rig.database,
        credentials: rig.credentials,
        failover: false,
      });
      const db = knex({ client: 'mysql2', connection, pool: connection.pool({ min: 0, max: 1 }) });
      cleanups.push(() => db.destroy());
      const [{ id: first }] = (await db.raw('SELECT CONNECTION_ID() AS id'))[0];
      await rig.primary.setReadOnly(true);
      try {
        const error = await db('items')
          .insert({ n: 1 })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        assert.equal(errnoOf(error), 1290);
        assert.ok(!(error instanceof ReadOnlyError), "the server's own error");
      } finally {
        await rig.primary.setReadOnly(false);
      }
      const [{ id: second }] = (await db.raw('SELECT CONNECTION_ID() AS id'))[0];
      assert.notEqual(second, first);
    });

    it('rotates a single user and follows a failover under load, failing only statements the server refused', async function () {
      const { db } = connect(8);
      await rotateAndFailOver(rig, db, () => used(db));
    });
  });
});
