import assert from 'node:assert/strict';
import { createPool, type PromisePool } from '../../lib/mysql2/promise.js';
import { refusedAsReadOnly, rotateAndFailOverUnderLoad, useFailoverRig } from '../helpers/failover.js';
import { eventually, startLoad } from '../helpers/load.js';
import { describeEachFlavour } from '../helpers/servers.js';

describeEachFlavour('credswap/mysql2 pool through a rotation and a failover', (flavour) => {
  const rig = useFailoverRig('failover', flavour);
  let pool: PromisePool | undefined;

  afterEach(async function () {
    await pool?.end();
    pool = undefined;
    await Promise.all(others.splice(0).map((other) => other.end()));
    // Back to the primary, writable, for the next test.
    await rig.primary.setReadOnly(false);
    rig.proxy.flip(rig.primary);
  });
  const others: PromisePool[] = [];

  /** A pool on the rig, counting its logins and discards. */
  function rigPool(options: Parameters<typeof createPool>[0] & object = {}) {
    const p = createPool({ host: rig.host, port: rig.port, database: rig.database, credentials: rig.credentials, ...options });
    const seen = { logins: 0, discards: [] as string[] };
    p.on('connection', () => (seen.logins += 1));
    p.on('discard', (_connection, reason) => seen.discards.push(reason));
    return { p, seen };
  }

  const onPrimary = () => rig.proxy.stats.openByTarget[`${rig.primary.host}:${rig.primary.port}`] ?? 0;
  const insert = (p: PromisePool) => p.query('INSERT INTO items (n) VALUES (1)');
  const isReadOnlyRefusal = (error: Error & { errno?: number }) => error.errno === 1290;

  it('rotates a single user and follows a failover under write load, failing only statements the server refused', async function () {
    pool = createPool({ host: rig.host, port: rig.port, database: rig.database, connectionLimit: 8, credentials: rig.credentials });
    const p = pool;
    await rotateAndFailOverUnderLoad(
      rig,
      async (worker, i) => {
        if (i % 3 === 0) {
          // A transaction on a held connection: never retried, so the server's refusal reaches us.
          const conn = await p.getConnection();
          try {
            await conn.beginTransaction();
            await conn.query('INSERT INTO items (n) VALUES (?)', [worker]);
            await conn.commit();
          } catch (error) {
            await conn.rollback().catch(() => {});
            throw error;
          } finally {
            conn.release();
          }
          return;
        }
        await p.query('INSERT INTO items (n) VALUES (?)', [i]);
      },
      { afterRotation: () => assert.equal(p.stats.total, 8, 'the pool grew after the rotation') },
    );
  });

  it('a write refused after the address moved runs on the new primary, and the connections opened before it retire', async function () {
    const { p, seen } = rigPool({ connectionLimit: 8 });
    pool = p;
    const held = await Promise.all([1, 2, 3, 4].map(() => p.getConnection()));
    for (const connection of held) connection.release();
    assert.equal(seen.logins, 4);

    await rig.primary.setReadOnly(true);
    rig.proxy.flip(rig.replica);
    const before = await rig.count(rig.replica);
    await insert(p);
    assert.equal(await rig.count(rig.replica), before + 1, 'the retry ran on the new primary, once');
    assert.deepEqual(seen.discards.sort(), ['failover', 'failover', 'failover', 'read-only']);
    await eventually(() => onPrimary() === 0, 5_000, 'no connection left on the old primary');
  });

  it('while the address still leads to the read-only server, refused connections are kept: 20 refused writes, 2 logins', async function () {
    const { p, seen } = rigPool({ connectionLimit: 4, readOnlyBackoff: { initialMs: 60_000, maxMs: 60_000 } });
    pool = p;
    await p.query('SELECT 1');
    await rig.primary.setReadOnly(true);
    for (let i = 0; i < 20; i++) await assert.rejects(insert(p), isReadOnlyRefusal);
    assert.equal(seen.logins, 2, 'the first refusal was retried on one fresh connection; that one was refused too and kept');
    assert.deepEqual(seen.discards, ['read-only']);
    const [[row]] = await p.query<Array<{ one: number }> & import('mysql2').RowDataPacket[]>('SELECT 1 AS one');
    assert.equal(row.one, 1, 'reads still work on the kept connection');
    const held = await p.getConnection();
    await assert.rejects(held.query('INSERT INTO items (n) VALUES (1)'), isReadOnlyRefusal);
    held.release();
    assert.deepEqual(seen.discards, ['read-only', 'read-only'], 'a connection you hold is discarded even during a hold');

    const { p: plain, seen: plainSeen } = rigPool({ connectionLimit: 4, readOnlyBackoff: false });
    others.push(plain);
    await plain.query('SELECT 1');
    for (let i = 0; i < 20; i++) await assert.rejects(insert(plain), isReadOnlyRefusal);
    assert.equal(plainSeen.logins, 40, 'readOnlyBackoff: false opens a connection for every refusal');
  });

  it('under write load, a read-only primary costs a fraction of the logins of discarding every refused connection, and both pools move after the flip', async function () {
    const backoff = rigPool({ connectionLimit: 8 });
    const plain = rigPool({ connectionLimit: 8, readOnlyBackoff: false });
    pool = backoff.p;
    others.push(plain.p);
    const loads = [backoff, plain].map(({ p }) => startLoad(8, () => insert(p)));
    await Promise.all(loads.map((load) => load.untilOk(200)));
    const loginsBefore = [backoff.seen.logins, plain.seen.logins];

    await rig.failover(1_000);
    const loginsDuring = [backoff.seen.logins - loginsBefore[0], plain.seen.logins - loginsBefore[1]];
    await Promise.all(loads.map((load) => load.untilOk(load.result.ok + 300)));
    const failedByMove = loads.map((load) => load.result.failedCount);
    await Promise.all(loads.map((load) => load.untilOk(load.result.ok + 300)));
    const results = await Promise.all(loads.map((load) => load.stop()));

    for (const result of results) assert.ok(result.failed.every(refusedAsReadOnly), result.failed.map((e) => e.message).join('; '));
    assert.deepEqual(
      results.map((r) => r.failedCount),
      failedByMove,
      'no failure once the pools had moved',
    );
    assert.ok(loginsDuring[0] * 3 < loginsDuring[1], `logins while read-only: ${loginsDuring[0]} with backoff, ${loginsDuring[1]} without`);
    await eventually(() => onPrimary() === 0, 5_000, 'no connection left on the old primary');
  });
});
