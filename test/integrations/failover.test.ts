/**
 * Failover in the pools Sequelize and Knex own, measured against two real servers behind the
 * flipping proxy: the old primary refuses writes for 2 s, then the address moves to the new one.
 * Targets (as credswap's own pool): no write error later than 50 ms after the address moved, at
 * most 25 logins a second while the old primary refuses writes (one probe login at a time, not
 * one per refused write), and no write run twice or lost.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import knex from 'knex';
import { DataTypes, Sequelize } from 'sequelize';
import { attachCredentials } from '../../lib/integrations/sequelize.js';
import { knexConnection } from '../../lib/integrations/knex.js';
import { refusedAsReadOnly, useFailoverRig, type FailoverRig } from '../helpers/failover.js';
import { startLoad } from '../helpers/load.js';
import { describeEachFlavour } from '../helpers/servers.js';

/** One write: an autocommit insert, or a transaction with an insert; each adds one row when it succeeds. */
interface Writer {
  insert(n: number): Promise<unknown>;
  transaction(n: number): Promise<unknown>;
  close(): Promise<unknown>;
}

const READ_ONLY_MS = 2_000;

function sequelizeWriter(rig: FailoverRig): Writer {
  const db = new Sequelize({ dialect: 'mysql', host: rig.host, port: rig.port, database: rig.database, logging: false, pool: { max: 6 } });
  attachCredentials(db, { credentials: rig.credentials });
  const Item = db.define('Item', { n: { type: DataTypes.INTEGER, allowNull: false } }, { tableName: 'items', timestamps: false });
  return {
    insert: (n) => Item.create({ n }),
    transaction: (n) => db.transaction(async (transaction) => Item.create({ n }, { transaction })),
    close: () => db.close(),
  };
}

function knexWriter(rig: FailoverRig): Writer {
  const connection = knexConnection({ host: rig.host, port: rig.port, database: rig.database, credentials: rig.credentials });
  const db = knex({ client: 'mysql2', connection, pool: connection.pool({ min: 0, max: 6 }) });
  return {
    insert: (n) => db('items').insert({ n }),
    transaction: (n) => db.transaction(async (trx) => trx('items').insert({ n })),
    close: () => db.destroy(),
  };
}

describeEachFlavour('ORM-owned pools through a failover', (flavour) => {
  const rig = useFailoverRig('ormfo', flavour);
  let writer: Writer | undefined;

  afterEach(async function () {
    await writer?.close();
    writer = undefined;
    await rig.primary.setReadOnly(false);
    rig.proxy.flip(rig.primary);
  });

  for (const [name, make] of [
    ['Sequelize', sequelizeWriter],
    ['Knex (knexConnection)', knexWriter],
  ] as const) {
    it(`${name}: with a ${READ_ONLY_MS} ms read-only window, at most 25 logins/s, no write error 50 ms after the flip, no write lost or run twice`, async function () {
      const w = make(rig);
      writer = w;
      const rowsBefore = (await rig.count(rig.primary)) + (await rig.count(rig.replica));
      const failures: number[] = [];
      const task = (write: (n: number) => Promise<unknown>) => async (worker: number) => {
        try {
          await write(worker);
        } catch (error) {
          if (!refusedAsReadOnly(error)) throw error;
          failures.push(performance.now());
          throw error;
        }
      };
      const loads = [startLoad(4, task(w.insert)), startLoad(2, task(w.transaction))];
      await Promise.all(loads.map((load) => load.untilOk(50)));
      const loginsBefore = rig.proxy.stats.accepted;
      await rig.primary.setReadOnly(true);
      const readOnlyAt = performance.now();
      await new Promise((resolve) => setTimeout(resolve, READ_ONLY_MS));
      const loginsWhileReadOnly = rig.proxy.stats.accepted - loginsBefore;
      rig.proxy.flip(rig.replica);
      const flippedAt = performance.now();
      await Promise.all(loads.map((load) => load.untilOk(load.result.ok + 100)));
      const results = await Promise.all(loads.map((load) => load.stop()));

      const perSecond = loginsWhileReadOnly / ((flippedAt - readOnlyAt) / 1_000);
      const lastErrorAfterFlipMs = failures.length === 0 ? -Infinity : Math.max(...failures) - flippedAt;
      const written = results.reduce((sum, r) => sum + r.ok, 0);
      const rows = (await rig.count(rig.primary)) + (await rig.count(rig.replica)) - rowsBefore;
      if (process.env.CREDSWAP_FIGURES) {
        console.log(
          JSON.stringify({ flavour, orm: name, loginsWhileReadOnly, perSecond, lastErrorAfterFlipMs, failures: failures.length }),
        );
      }
      const failed = results.flatMap((r) => r.failed).filter((error) => !refusedAsReadOnly(error));
      assert.deepEqual(failed.map(String), [], 'only read-only refusals failed');
      assert.equal(rows, written, 'every write that succeeded added its row once; none that failed did');
      assert.ok(perSecond <= 25, `${loginsWhileReadOnly} logins in the read-only window (${perSecond.toFixed(1)}/s)`);
      assert.ok(lastErrorAfterFlipMs <= 50, `the last write error came ${lastErrorAfterFlipMs.toFixed(0)} ms after the flip`);
    });
  }
});
