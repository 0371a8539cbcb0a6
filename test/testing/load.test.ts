import assert from 'node:assert/strict';
import path from 'node:path';
import { createPool, type Pool } from 'mysql2/promise';
import { InvalidOptionError } from '../../lib/errors.js';
import { defaultQueries, DEFAULT_DRILL_TABLE } from '../../lib/testing/default-queries.js';
import { errorCodeOf, startLoadGenerator, type LoadGenerator, type QueryOutcome } from '../../lib/testing/load.js';
import { startTestServer, type MariaDBServer } from '../../lib/testing/mariadb.js';
import { runToExit } from '../helpers/child.js';

describe('credswap/testing load generator', function () {
  let server: MariaDBServer;
  let database: string;
  let account: { user: string; password: string };
  const pools: Pool[] = [];
  const loads: LoadGenerator[] = [];

  const pool = (overrides: { password?: string; connectionLimit?: number } = {}) => {
    const p = createPool({
      host: server.host,
      port: server.port,
      user: account.user,
      password: overrides.password ?? account.password,
      database,
      connectionLimit: overrides.connectionLimit ?? 4,
    });
    pools.push(p);
    return p;
  };
  const track = (load: LoadGenerator) => {
    loads.push(load);
    return load;
  };

  before(async function () {
    server = await startTestServer();
    database = await server.createDatabase('load');
    account = await server.createUser({ prefix: 'load', grants: `ALL ON \`${database}\`.*` });
  });

  afterEach(async function () {
    await Promise.all(loads.splice(0).map((l) => l.stop().catch(() => {})));
    await Promise.all(pools.splice(0).map((p) => p.end()));
  });

  after(async function () {
    await server?.stop();
  });

  it('records every query it runs against a real server: kind, worker, issue time and duration', async function () {
    const p = pool();
    const load = track(startLoadGenerator({ concurrency: 3, query: await defaultQueries(p) }));
    await load.untilOk(200);
    await load.stop();
    assert.equal(load.failed, 0);
    assert.equal(load.outcomes.length, load.ok);
    assert.ok(load.ok >= 200);
    assert.deepEqual(new Set(load.outcomes.map((o) => o.worker)), new Set([0, 1, 2]));
    for (const o of load.outcomes) {
      assert.equal(o.ok, true);
      assert.ok(o.at >= 0 && o.durationMs >= 0, 'times are measured from the start');
      assert.ok(o.at + o.durationMs <= load.now());
      assert.equal(o.code, undefined);
    }
  });

  it('issues writes in the share writeRatio asks for, spread evenly', async function () {
    const p = pool();
    const kinds: string[] = [];
    const load = track(
      startLoadGenerator({
        concurrency: 1,
        writeRatio: 0.25,
        query: async (kind) => {
          kinds.push(kind);
          return p.query('SELECT 1');
        },
      }),
    );
    await load.untilOk(100);
    await load.stop();
    assert.deepEqual(kinds.slice(0, 8), ['read', 'read', 'read', 'write', 'read', 'read', 'read', 'write']);
    const writes = load.outcomes.filter((o) => o.kind === 'write').length;
    assert.equal(writes, Math.floor(load.outcomes.length * 0.25));
  });

  it('records a refused login with the server code and errno, and keeps going', async function () {
    const p = pool({ password: 'not-the-password' });
    const load = track(startLoadGenerator({ concurrency: 2, query: () => p.query('SELECT 1') }));
    await waitFor(() => load.failed >= 10);
    await load.stop();
    assert.equal(load.ok, 0);
    const first = load.outcomes[0];
    assert.equal(first.ok, false);
    assert.equal(first.code, 'ER_ACCESS_DENIED_ERROR');
    assert.equal(first.errno, 1045);
    assert.deepEqual(load.failedByCode, { ER_ACCESS_DENIED_ERROR: load.failed });
  });

  it('on a read-only server, reads succeed and the default writes fail with 1290', async function () {
    const p = pool();
    const query = await defaultQueries(p);
    await server.setReadOnly(true);
    try {
      const load = track(startLoadGenerator({ concurrency: 2, writeRatio: 0.5, query }));
      await load.untilOk(50);
      await load.stop();
      assert.ok(load.outcomes.filter((o) => o.kind === 'read').every((o) => o.ok));
      const writes = load.outcomes.filter((o) => o.kind === 'write');
      assert.ok(writes.length > 0);
      for (const w of writes) {
        assert.equal(w.ok, false);
        assert.equal(w.code, 'ER_OPTION_PREVENTS_STATEMENT');
        assert.equal(w.errno, 1290);
      }
    } finally {
      await server.setReadOnly(false);
    }
  });

  it('keeps only maxOutcomes outcomes while the counts stay exact', async function () {
    const p = pool();
    let calls = 0;
    const load = track(
      startLoadGenerator({
        concurrency: 2,
        maxOutcomes: 10,
        query: async () => {
          calls += 1;
          if (calls % 3 === 0) throw Object.assign(new Error('every third'), { code: 'EVERY_THIRD' });
          return p.query('SELECT 1');
        },
      }),
    );
    await load.untilOk(60);
    await load.stop();
    assert.equal(load.outcomes.length, 10);
    assert.equal(load.ok + load.failed, calls);
    assert.equal(load.droppedOutcomes, calls - 10);
    assert.deepEqual(load.failedByCode, { EVERY_THIRD: load.failed });
    assert.equal(load.failed, Math.floor(calls / 3));
  });

  it('stop() resolves only after the queries in flight have finished and been recorded', async function () {
    const p = pool();
    let inFlight = 0;
    const load = track(
      startLoadGenerator({
        concurrency: 3,
        query: async () => {
          inFlight += 1;
          try {
            return await p.query('SELECT SLEEP(0.2)');
          } finally {
            inFlight -= 1;
          }
        },
      }),
    );
    await waitFor(() => inFlight === 3);
    await load.stop();
    assert.equal(inFlight, 0);
    assert.equal(load.ok, 3, 'the three queries in flight were recorded');
    const after = load.ok;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(load.ok, after, 'nothing runs after stop()');
    await load.stop(); // idempotent
  });

  it('stop() interrupts the think pause between queries', async function () {
    const load = track(startLoadGenerator({ concurrency: 2, thinkMs: 600_000, query: async () => {} }));
    await load.untilOk(2);
    await load.stop();
    assert.equal(load.ok, 2);
  });

  it('untilOk() rejects after its timeout, saying what the queries got', async function () {
    const p = pool({ password: 'wrong' });
    const load = track(startLoadGenerator({ concurrency: 1, query: () => p.query('SELECT 1') }));
    await assert.rejects(
      load.untilOk(1, 200),
      /fewer than 1 queries succeeded within 200 ms: 0 succeeded, \d+ failed \(ER_ACCESS_DENIED_ERROR \d+\)/,
    );
  });

  it('untilOk() rejects when the load is stopped first, and at once on a stopped load', async function () {
    const load = track(startLoadGenerator({ concurrency: 1, thinkMs: 600_000, query: async () => {} }));
    await load.untilOk(1);
    const waiting = load.untilOk(10);
    await load.stop();
    await assert.rejects(waiting, /stopped before 10 queries succeeded: 1 succeeded, 0 failed/);
    await assert.rejects(load.untilOk(5), /stopped before 5/);
    await load.untilOk(1);
  });

  it('onOutcome() delivers every outcome until unsubscribed', async function () {
    const p = pool();
    const load = track(startLoadGenerator({ concurrency: 2, query: () => p.query('SELECT 1') }));
    const seen: QueryOutcome[] = [];
    const unsubscribe = load.onOutcome((o) => seen.push(o));
    await load.untilOk(20);
    unsubscribe();
    const count = seen.length;
    await load.untilOk(load.ok + 20);
    await load.stop();
    assert.deepEqual(seen, load.outcomes.slice(0, count));
    assert.equal(seen.length, count);
  });

  it('a listener that throws is unsubscribed, the load goes on, and stop() rejects with its error', async function () {
    const load = track(startLoadGenerator({ concurrency: 1, query: async () => {} }));
    let calls = 0;
    load.onOutcome(() => {
      calls += 1;
      throw new Error('listener bug');
    });
    const other: QueryOutcome[] = [];
    load.onOutcome((o) => other.push(o));
    await load.untilOk(10);
    await assert.rejects(load.stop(), /listener bug/);
    assert.equal(calls, 1);
    assert.equal(other.length, load.ok);
  });

  it('records a query function that throws synchronously as a failure, without an unhandled rejection', async function () {
    const load = track(
      startLoadGenerator({
        concurrency: 1,
        query: () => {
          throw new TypeError('not a pool');
        },
      }),
    );
    await waitFor(() => load.failed >= 3);
    await load.stop();
    assert.deepEqual(load.failedByCode, { UNKNOWN: load.failed });
    assert.equal(load.outcomes[0].errno, undefined);
  });

  it("records an error whose properties throw when read as 'UNKNOWN'", async function () {
    const hostile = new Proxy(new Error('hostile'), {
      get(target, key) {
        if (key === 'code' || key === 'errno' || key === 'cause') throw new Error('trap');
        return Reflect.get(target, key);
      },
    });
    const load = track(startLoadGenerator({ concurrency: 1, query: () => Promise.reject(hostile) }));
    await waitFor(() => load.failed >= 2);
    await load.stop();
    assert.deepEqual(load.failedByCode, { UNKNOWN: load.failed });
  });

  it('rejects bad options with an InvalidOptionError naming the option', function () {
    const query = async () => {};
    const cases: Array<[unknown, string]> = [
      [undefined, 'options'],
      [{ query }, 'options.concurrency'],
      [{ concurrency: 0, query }, 'options.concurrency'],
      [{ concurrency: 1.5, query }, 'options.concurrency'],
      [{ concurrency: 1 }, 'options.query'],
      [{ concurrency: 1, query, writeRatio: 1.2 }, 'options.writeRatio'],
      [{ concurrency: 1, query, writeRatio: Number.NaN }, 'options.writeRatio'],
      [{ concurrency: 1, query, maxOutcomes: -1 }, 'options.maxOutcomes'],
      [{ concurrency: 1, query, thinkMs: -5 }, 'options.thinkMs'],
      [{ concurrency: 1, query, durationMs: 5 }, 'options.durationMs'],
    ];
    for (const [options, option] of cases) {
      assert.throws(
        () => startLoadGenerator(options as never),
        (e: unknown) => e instanceof InvalidOptionError && e.option === option,
        `expected an InvalidOptionError for ${option}`,
      );
    }
  });

  it('a process with a load still running exits by itself: no timer keeps it alive', async function () {
    const fixture = path.join(__dirname, '..', 'fixtures', 'load-exit.ts');
    const { code, out } = await runToExit([fixture]);
    assert.equal(code, 0, out);
    assert.match(out, /ok=3/);
  });

  describe('errorCodeOf', function () {
    it('finds the code and errno on the error or on what ORMs wrap (cause, original, parent, driverError)', function () {
      const driver = Object.assign(new Error('denied'), { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045 });
      assert.deepEqual(errorCodeOf(driver), { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045 });
      assert.deepEqual(errorCodeOf(new Error('drizzle', { cause: driver })), { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045 });
      assert.deepEqual(errorCodeOf(Object.assign(new Error('sequelize'), { original: driver })), {
        code: 'ER_ACCESS_DENIED_ERROR',
        errno: 1045,
      });
      assert.deepEqual(errorCodeOf(Object.assign(new Error('typeorm'), { driverError: driver })), {
        code: 'ER_ACCESS_DENIED_ERROR',
        errno: 1045,
      });
    });

    it('prefers the outermost code, so credswap codes win over the server error they wrap', function () {
      const driver = Object.assign(new Error('denied'), { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045 });
      const wrapped = Object.assign(new Error('timeout', { cause: driver }), { code: 'CREDSWAP_ROTATION_TIMEOUT' });
      assert.deepEqual(errorCodeOf(wrapped), { code: 'CREDSWAP_ROTATION_TIMEOUT', errno: 1045 });
    });

    it("is 'UNKNOWN' for errors without a code, non-errors, cycles, and codes that are not identifiers", function () {
      assert.deepEqual(errorCodeOf(new Error('x')), { code: 'UNKNOWN' });
      assert.deepEqual(errorCodeOf('a string'), { code: 'UNKNOWN' });
      assert.deepEqual(errorCodeOf(null), { code: 'UNKNOWN' });
      const a: Record<string, unknown> = {};
      a.cause = a;
      assert.deepEqual(errorCodeOf(a), { code: 'UNKNOWN' });
      assert.deepEqual(errorCodeOf({ code: 'password=hunter2 rejected' }), { code: 'UNKNOWN' });
    });
  });

  describe('defaultQueries', function () {
    it('creates the drill table and writes one row per worker, so the table never grows past the concurrency', async function () {
      const p = pool();
      const load = track(startLoadGenerator({ concurrency: 3, writeRatio: 0.5, query: await defaultQueries(p) }));
      await load.untilOk(300);
      await load.stop();
      assert.equal(load.failed, 0);
      const rows = await server.query<Array<{ id: number }>>(`SELECT id FROM \`${database}\`.${DEFAULT_DRILL_TABLE} ORDER BY id`);
      assert.deepEqual(
        rows.map((r) => r.id),
        [0, 1, 2],
      );
    });

    it('uses the table it is given, qualified or not, and can leave creating it to the caller', async function () {
      const p = pool();
      await server.query(`CREATE TABLE \`${database}\`.premade (id INT PRIMARY KEY, \`at\` DATETIME(3) NOT NULL)`);
      const query = await defaultQueries(p, { table: `${database}.premade`, createTable: false });
      await query('write', 7);
      await query('read', 7);
      const rows = await server.query<Array<{ id: number }>>(`SELECT id FROM \`${database}\`.premade`);
      assert.deepEqual(
        rows.map((r) => r.id),
        [7],
      );
      await assert.rejects(
        (await defaultQueries(p, { table: 'missing_table', createTable: false }))('write', 0),
        (e: { code?: string }) => e.code === 'ER_NO_SUCH_TABLE',
      );
    });

    it('rejects a table name that is not a plain identifier, and unknown options', async function () {
      const p = pool();
      for (const table of ['x; DROP TABLE y', 'a.b.c', '`t`', '']) {
        await assert.rejects(defaultQueries(p, { table }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'options.table');
      }
      await assert.rejects(
        defaultQueries(p, { tabel: 'x' } as never),
        (e: unknown) => e instanceof InvalidOptionError && e.option === 'options.tabel',
      );
      await assert.rejects(defaultQueries({} as never), (e: unknown) => e instanceof InvalidOptionError && e.option === 'pool');
    });
  });
});

/** Polls until `check()` holds (a hang guard of 10 s, not a speed check). */
async function waitFor(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
