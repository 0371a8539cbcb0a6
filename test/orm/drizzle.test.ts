/**
 * Drizzle over credswap's promise pool: `drizzle(pool)`, through a single-user rotation and a
 * failover under load, with transactions through `db.transaction()`.
 */
import assert from 'node:assert/strict';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/mysql2';
import { int, mysqlTable } from 'drizzle-orm/mysql-core';
import { createPool, type PromisePool } from '../../lib/mysql2/promise.js';
import { errnoOf, rotateAndFailOverUnderLoad, useFailoverRig } from '../helpers/failover.js';

const items = mysqlTable('items', {
  id: int('id').primaryKey().autoincrement(),
  n: int('n').notNull(),
});

describe('Drizzle on a credswap pool', function () {
  const rig = useFailoverRig('drizzle');
  let pool: PromisePool | undefined;

  afterEach(async function () {
    await pool?.end();
    pool = undefined;
  });

  function connect(connectionLimit = 8) {
    pool = createPool({ host: rig.host, port: rig.port, database: rig.database, connectionLimit, credentials: rig.credentials });
    return drizzle(pool);
  }

  it('runs queries, prepared statements and transactions, rolling back on a thrown error', async function () {
    const db = connect(2);
    const [inserted] = await db.insert(items).values({ n: 4242 }).$returningId();
    assert.ok(inserted.id > 0);
    const prepared = db
      .select()
      .from(items)
      .where(eq(items.n, sql.placeholder('n')))
      .prepare();
    assert.equal((await prepared.execute({ n: 4242 })).length, 1);
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.insert(items).values({ n: 4243 });
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.equal((await db.select().from(items).where(eq(items.n, 4243))).length, 0, 'the transaction was rolled back');
    assert.equal(pool!.stats.idle, pool!.stats.total, 'the transaction gave its connection back');
  });

  it('passes the server error inside the error Drizzle wraps it in', async function () {
    const db = connect(1);
    const error = await db.execute(sql`SELECT * FROM no_such_table`).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal(errnoOf(error), 1146);
  });

  it('rotates a single user and follows a failover under load, failing only statements the server refused', async function () {
    const db = connect(8);
    await rotateAndFailOverUnderLoad(
      rig,
      async (worker, i) => {
        if (i % 3 === 0) {
          // Drizzle's transaction API: one held connection, never retried.
          await db.transaction(async (tx) => {
            await tx.insert(items).values({ n: worker });
            await tx.select({ id: items.id }).from(items).where(eq(items.n, worker)).limit(1);
          });
          return;
        }
        await db.insert(items).values({ n: i });
      },
      { afterRotation: () => assert.equal(pool!.stats.total, 8, 'the pool grew after the rotation') },
    );
  });
});
