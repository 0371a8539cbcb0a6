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

  it('a write refused after the address moved runs on the new primary, and the connections to the old one are discarded', async function () {
    const { p, seen } = rigPool({ connectionLimit: 8 });
    pool = p;
    const held = await Promise.all([1, 2, 3, 4].map(() => p.getConnection()));
    for (const connection of held) connection.release();
    assert.equal(seen.logins, 4);

    await rig.primary.setReadOnly(true);
    rig.proxy.flip(rig.replica);
    const before = await rig.count(rig.replica);
    await insert(p);
    assert.equal(await rig.count(rig.replica), before + 1, 'the write ran on the new primary, once');
    assert.equal(seen.logins, 5, 'one probe login found the new primary');
    assert.deepEqual(seen.discards, ['failover', 'failover', 'failover', 'failover']);
    await eventually(() => onPrimary() === 0, 5_000, 'no connection left on the old primary');
  });

  it('a pool that only reads moves to the server its address leads to: the next login shows it, and the old connections go', async function () {
    const { p, seen } = rigPool({ connectionLimit: 4 });
    pool = p;
    const held = await Promise.all([1, 2, 3].map(() => p.getConnection()));
    for (const connection of held) connection.release();
    rig.proxy.flip(rig.replica);
    // The primary never turns read-only: nothing is refused. A fourth connection logs in.
    const four = await Promise.all([1, 2, 3, 4].map(() => p.getConnection()));
    for (const connection of four) connection.release();
    assert.equal(seen.logins, 4);
    await eventually(() => onPrimary() === 0, 5_000, 'no connection left on the old primary');
    assert.deepEqual(seen.discards, ['failover', 'failover', 'failover']);
  });

  it('with failover.checkIntervalMs, a pool that only reads and logs nothing in moves after the proxy flips', async function () {
    const { p, seen } = rigPool({ connectionLimit: 3, failover: { checkIntervalMs: 300 } });
    pool = p;
    const held = await Promise.all([1, 2, 3].map(() => p.getConnection()));
    for (const connection of held) connection.release();
    const reads = startLoad(2, () => p.query('SELECT 1'));
    await reads.untilOk(20);
    const loginsBefore = seen.logins;
    rig.proxy.flip(rig.replica);
    await eventually(() => onPrimary() === 0, 5_000, 'no connection left on the old primary');
    const result = await reads.stop();
    assert.deepEqual(result.failed, []);
    assert.ok(seen.discards.filter((reason) => reason === 'failover').length >= 1, seen.discards.join(', '));
    assert.ok(seen.logins - loginsBefore <= 4, `${seen.logins - loginsBefore} logins: the check's, then the pool refilling`);
  });

  it('maxLifetimeMs closes connections past their lifetime, idle ones at once and busy ones when released', async function () {
    const { p, seen } = rigPool({ connectionLimit: 2, maxLifetimeMs: 300 });
    pool = p;
    const busy = await p.getConnection();
    await p.query('SELECT 1');
    await eventually(() => seen.discards.length === 1, 5_000, 'the idle connection past its lifetime');
    busy.release();
    await eventually(() => seen.discards.length === 2, 5_000, 'the busy one, once released');
    assert.deepEqual(seen.discards, ['lifetime', 'lifetime']);
  });

  it('through a failover with a 2 s read-only window: 0 failed autocommit writes, one probe login at a time, transactions retried after the flip', async function () {
    const { p, seen } = rigPool({ connectionLimit: 6 });
    pool = p;
    const failures: Array<{ path: string; at: number }> = [];
    let flippedAt = Infinity;
    const now = () => performance.now();
    const writer = (path: string, write: () => Promise<unknown>) => async () => {
      try {
        await write();
      } catch (error) {
        if (!refusedAsReadOnly(error)) throw error;
        failures.push({ path, at: now() });
      }
    };
    const transaction = async () => {
      const conn = await p.getConnection();
      try {
        await conn.beginTransaction();
        await conn.query('INSERT INTO items (n) VALUES (2)');
        await conn.commit();
      } catch (error) {
        await conn.rollback().catch(() => {});
        throw error;
      } finally {
        conn.release();
      }
    };
    const loads = [
      startLoad(
        3,
        writer('query', () => insert(p)),
      ),
      startLoad(
        3,
        writer('execute', () => p.execute('INSERT INTO items (n) VALUES (?)', [3])),
      ),
      startLoad(2, writer('transaction', transaction)),
    ];
    await Promise.all(loads.map((load) => load.untilOk(50)));
    const loginsBefore = seen.logins;
    await rig.primary.setReadOnly(true);
    const readOnlyAt = now();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const loginsWhileReadOnly = seen.logins - loginsBefore;
    rig.proxy.flip(rig.replica);
    flippedAt = now();
    await Promise.all(loads.map((load) => load.untilOk(load.result.ok + 100)));
    const results = await Promise.all(loads.map((load) => load.stop()));
    for (const result of results) assert.deepEqual(result.failed, []);
    const perSecond = loginsWhileReadOnly / ((flippedAt - readOnlyAt) / 1_000);
    if (process.env.CREDSWAP_FAILOVER_FIGURES) {
      const last = (path: string) => Math.max(-Infinity, ...failures.filter((f) => f.path === path).map((f) => f.at - flippedAt));
      console.log(
        JSON.stringify({ loginsWhileReadOnly, perSecond, transactionFailures: failures.length, lastAfterFlipMs: last('transaction') }),
      );
    }
    assert.ok(perSecond <= 25, `${loginsWhileReadOnly} logins in the read-only window (${perSecond.toFixed(1)}/s)`);
    assert.deepEqual(
      failures.filter((f) => f.path !== 'transaction'),
      [],
      'autocommit writes waited for the new primary',
    );
    const late = failures.filter((f) => f.at > flippedAt + 50);
    assert.deepEqual(late, [], 'no write error more than 50 ms after the flip');
    await eventually(() => onPrimary() === 0, 5_000, 'no connection left on the old primary');
  });

  it('with failover: false, every refused write costs a login while the address still leads to the read-only server', async function () {
    const { p, seen } = rigPool({ connectionLimit: 4, failover: false });
    pool = p;
    await p.query('SELECT 1');
    await rig.primary.setReadOnly(true);
    for (let i = 0; i < 10; i++) await assert.rejects(insert(p), isReadOnlyRefusal);
    assert.equal(
      seen.logins,
      1 + 1 + 2 * 9,
      'each refused write and its retry cost a login each (the first write used the warm connection)',
    );
  });
});
