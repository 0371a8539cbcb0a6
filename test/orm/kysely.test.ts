/**
 * Kysely over credswap's callback pool: `new MysqlDialect({ pool })`, through a single-user
 * rotation and a failover under load, and the parts of the pool Kysely's driver relies on
 * (streaming, killing a session, `pool.end(cb)`).
 */
import assert from 'node:assert/strict';
import { type Generated, Kysely, MysqlDialect, sql } from 'kysely';
import { createPool, type Pool } from '../../lib/mysql2/index.js';
import { rotateAndFailOverUnderLoad, useFailoverRig } from '../helpers/failover.js';
import { eventually } from '../helpers/load.js';
import { describeEachFlavour } from '../helpers/servers.js';

interface Database {
  items: { id: Generated<number>; n: number };
}

describeEachFlavour('Kysely on a credswap pool', (flavour) => {
  const rig = useFailoverRig('kysely', flavour);
  let pool: Pool | undefined;
  let db: Kysely<Database> | undefined;

  afterEach(async function () {
    await db?.destroy();
    db = undefined;
    pool = undefined;
  });

  function connect(connectionLimit = 8): Kysely<Database> {
    pool = createPool({ host: rig.host, port: rig.port, database: rig.database, connectionLimit, credentials: rig.credentials });
    db = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) });
    return db;
  }

  it('streams rows through .stream() and gives the connection back to the pool', async function () {
    const k = connect(2);
    await k
      .insertInto('items')
      .values([{ n: 1 }, { n: 2 }, { n: 3 }])
      .execute();
    const seen: number[] = [];
    for await (const row of k.selectFrom('items').select('n').where('n', '<=', 3).orderBy('id').stream()) {
      seen.push(row.n);
    }
    assert.deepEqual(seen.slice(0, 3), [1, 2, 3]);
    await eventually(() => pool!.stats.idle === pool!.stats.total, 5_000, 'the streaming connection to be released');
    const [{ one }] = await sql<{ one: number }>`SELECT 1 AS one`.execute(k).then((r) => r.rows);
    assert.equal(one, 1);
  });

  it("kills a session on abort with 'kill session': the connection is destroyed and the pool carries on", async function () {
    const k = connect(2);
    const controller = new AbortController();
    const sleeping = sql`SELECT SLEEP(30)`.execute(k, { signal: controller.signal, inflightQueryAbortStrategy: 'kill session' });
    await eventually(() => pool!.stats.total === 1 && pool!.stats.idle === 0, 5_000, 'the query to start');
    const discarded: string[] = [];
    pool!.on('discard', (_connection, reason) => discarded.push(reason));
    controller.abort(new Error('user gave up'));
    await assert.rejects(sleeping, /user gave up/);
    await eventually(() => pool!.stats.total <= 1 && pool!.stats.idle === pool!.stats.total, 10_000, 'the killed connection to leave');
    const rows = await k
      .selectFrom('items')
      .select(sql<number>`COUNT(*)`.as('c'))
      .execute();
    assert.equal(rows.length, 1);
  });

  it('ends the credswap pool on db.destroy()', async function () {
    const k = connect(2);
    await sql`SELECT 1`.execute(k);
    const p = pool!;
    await k.destroy();
    db = undefined;
    assert.equal(p.coordinator!.closed, true);
    await assert.rejects(new Promise((resolve, reject) => p.getConnection((err) => (err ? reject(err) : resolve(undefined)))), {
      code: 'CREDSWAP_CLOSED',
    });
    const primary = `${rig.primary.host}:${rig.primary.port}`;
    await eventually(() => (rig.proxy.stats.openByTarget[primary] ?? 0) === 0, 5_000, 'every connection to close');
  });

  it('rotates a single user and follows a failover under load, failing only statements the server refused', async function () {
    const k = connect(8);
    await rotateAndFailOverUnderLoad(
      rig,
      async (worker, i) => {
        if (i % 3 === 0) {
          // Kysely's transaction API: begin/commit on one held connection, never retried.
          await k.transaction().execute(async (trx) => {
            await trx.insertInto('items').values({ n: worker }).execute();
            await trx.selectFrom('items').select('id').where('n', '=', worker).limit(1).execute();
          });
          return;
        }
        await k.insertInto('items').values({ n: i }).execute();
      },
      { afterRotation: () => assert.equal(pool!.stats.total, 8, 'the pool grew after the rotation') },
    );
  });
});
