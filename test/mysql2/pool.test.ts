import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import * as mysql2Promise from 'mysql2/promise';
import type { Credentials } from '../../lib/credentials.js';
import { InvalidOptionError, ReadOnlyError, RotationTimeoutError } from '../../lib/errors.js';
import { isReadOnlyError } from '../../lib/mysql2/classify.js';
import type { RotateEvent } from '../../lib/coordinator.js';
import { createPool as createCallbackPool } from '../../lib/mysql2/index.js';
import { createPool, type PromisePool } from '../../lib/mysql2/promise.js';
import type { PoolOptions } from '../../lib/mysql2/pool-options.js';
import { type MariaDBServer, startTestServer } from '../../lib/testing/mariadb.js';
import { eventually, sampleMax, startLoad, stopAllLoads } from '../helpers/load.js';

/** A function provider over a mutable password, counting its calls. */
function passwordSource(user: string, password: string) {
  const source = {
    user,
    password,
    calls: 0,
    provider: async (): Promise<Credentials> => {
      source.calls += 1;
      return { user: source.user, password: source.password };
    },
  };
  return source;
}

describe('credswap/mysql2 pool', function () {
  let server: MariaDBServer;
  let database: string;
  const pools: Array<{ end(): Promise<void> }> = [];

  before(async function () {
    server = await startTestServer();
    database = await server.createDatabase('pool');
    await server.query(`CREATE TABLE ${database}.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)`);
  });

  after(async function () {
    await server?.stop();
  });

  afterEach(async function () {
    await stopAllLoads();
    await Promise.all(pools.splice(0).map((p) => p.end()));
  });

  async function newUser(): Promise<{ user: string; password: string }> {
    return server.createUser({ prefix: 'app', grants: `ALL ON ${database}.*` });
  }

  function pool(options: PoolOptions): PromisePool {
    const p = createPool({ host: server.host, port: server.port, database, ...options });
    pools.push(p);
    return p;
  }

  describe('password rotation', function () {
    it('tells the provider when the last connection with old credentials has closed, once, and never for the current ones', async function () {
      const first = await newUser();
      const second = await newUser();
      let current = first;
      const retired: string[] = [];
      const p = pool({
        connectionLimit: 4,
        credentials: {
          name: 'two-users',
          getCredentials: async () => ({ user: current.user, password: current.password }),
          retire: (credentials: Credentials) => void retired.push(credentials.user),
        },
      });
      // Two connections of the first user: one idle, one busy in a slow query.
      const busy = await p.getConnection();
      (await p.getConnection()).release();
      const slow = busy.query('SELECT SLEEP(0.5)');
      current = second;
      await p.pool.coordinator!.refresh();
      (await p.getConnection()).release(); // the first login of the second user: the idle one is discarded
      // Once the idle connection of the first user has closed, only the busy one keeps its credentials in use.
      await eventually(() => p.stats.total === 2, 5_000, 'the idle connection of the first user to close');
      assert.deepEqual(retired, [], 'a connection of the first user is still busy');
      await slow;
      busy.release(); // stale: closed on release
      await eventually(() => retired.length === 1, 5_000, 'the retire call');
      assert.deepEqual(retired, [first.user]);
      await p.end();
      assert.deepEqual(retired, [first.user], 'not called for the credentials in use at end()');
    });

    it('survives single-user rotations under concurrent load with zero failed queries and one provider call each', async function () {
      const account = await newUser();
      const source = passwordSource(account.user, account.password);
      const p = pool({ connectionLimit: 8, credentials: source.provider });
      const rotations: RotateEvent[] = [];
      p.on('rotate', (e) => rotations.push(e));
      // Some work destroys its connection (as code does after errors), so new logins happen all along.
      const load = startLoad(16, async (worker, i) => {
        if ((worker + i) % 5 === 0) {
          const conn = await p.getConnection();
          await conn.query('SELECT 1');
          conn.destroy();
          return;
        }
        await p.query('SELECT SLEEP(0.001)');
      });
      const peak = sampleMax(20, async () => (await server.processlist(account.user)).length);
      await load.untilOk(200);
      for (let r = 1; r <= 3; r++) {
        // The source knows the new password before the server does, as a secret store's
        // pending version does during a rotation.
        const next = `rotated-${r}-${Math.random().toString(36).slice(2)}`;
        source.password = next;
        await server.setPassword(account.user, next);
        const before = load.result.ok;
        await eventually(() => rotations.length === r + 1, 10_000, `rotation ${r}`);
        await load.untilOk(before + 200);
      }
      const result = await load.stop();
      const maxOpen = await peak.stop();
      assert.deepEqual(
        result.failed.map((e) => e.message),
        [],
      );
      assert.equal(source.calls, 4, 'one initial fetch + one call per rotation');
      assert.deepEqual(
        rotations.map((e) => e.reason),
        ['initial', 'rejected', 'rejected', 'rejected'],
      );
      assert.ok(maxOpen <= 8, `at most connectionLimit connections open, saw ${maxOpen}`);
    });

    it('serves 200 connection attempts that fail with 1045 at once with one provider call', async function () {
      await server.query('SET GLOBAL max_connections = GREATEST(@@max_connections, 500)');
      const account = await newUser();
      const source = passwordSource(account.user, 'wrong-at-first');
      const p = pool({
        connectionLimit: 200,
        connectTimeout: 60_000, // 400 logins at once on a small, busy machine
        credentials: async () => {
          source.calls += 1;
          await sleep(50);
          return { user: account.user, password: source.calls === 1 ? 'wrong-at-first' : account.password };
        },
      });
      const conns = await Promise.all(Array.from({ length: 200 }, () => p.getConnection()));
      assert.equal(conns.length, 200);
      assert.equal(new Set(conns.map((c) => c.threadId)).size, 200);
      for (const c of conns) c.release();
      assert.equal(source.calls, 2, 'the initial fetch and one rotation');
      assert.equal(p.stats.generation, 2);
    });

    it('returns the server 1045, naming the provider, when the provider has nothing new, then cools down', async function () {
      const account = await newUser();
      const source = passwordSource(account.user, 'not-the-password');
      const p = pool({ connectionLimit: 2, credentials: source.provider, rotation: { cooldownMs: 60_000 } });
      const first = await p.query('SELECT 1').then(
        () => assert.fail('expected 1045'),
        (e: NodeJS.ErrnoException & { errno: number }) => e,
      );
      assert.equal(first.errno, 1045);
      assert.equal(first.code, 'ER_ACCESS_DENIED_ERROR');
      assert.match(first.message, /provider 'function:provider' returned no new credentials/);
      assert.ok(!first.message.includes('not-the-password'));
      assert.equal(source.calls, 2);
      const second = await p.query('SELECT 1').then(
        () => assert.fail('expected 1045'),
        (e: Error & { errno: number }) => e,
      );
      assert.equal(second.errno, 1045);
      assert.match(second.message, /cooling down/);
      assert.equal(source.calls, 2, 'no provider call inside the cooldown');
    });

    it('times out a hung provider, recovers later, and ignores the late result', async function () {
      const account = await newUser();
      let mode: 'ok' | 'hang' = 'ok';
      let password = account.password;
      const late: Array<() => void> = [];
      const p = pool({
        connectionLimit: 2,
        rotation: { timeoutMs: 200, cooldownMs: 50, maxCooldownMs: 50 },
        credentials: () => {
          if (mode === 'hang') {
            // Ignores its signal; answers with stale credentials much later.
            return new Promise((resolve) => late.push(() => resolve({ user: account.user, password: 'stale' })));
          }
          return Promise.resolve({ user: account.user, password });
        },
      });
      await p.query('SELECT 1');
      password = `new-${Math.random()}`;
      await server.setPassword(account.user, password);
      mode = 'hang';
      const conn = await p.getConnection();
      conn.destroy(); // the pool must log in again
      await p.getConnection().then(
        () => assert.fail('expected a timeout'),
        (e) => assert.ok(e instanceof RotationTimeoutError, String(e)),
      );
      mode = 'ok';
      await sleep(60); // past the cooldown
      await p.query('SELECT 1');
      const generation = p.stats.generation;
      for (const resolve of late) resolve();
      await new Promise((resolve) => setImmediate(resolve)); // the late results have been handled
      assert.equal(p.stats.generation, generation, 'the late result did not start a generation');
      await p.query('SELECT 1');
    });
  });

  describe('expiring credentials', function () {
    it('refreshes credentials before they expire and drains old connections, with zero failed queries', async function () {
      // Like a lease: each fetch creates a fresh user that the "backend" drops after it expires.
      const made: string[] = [];
      const p = pool({
        connectionLimit: 4,
        rotation: { refreshBeforeExpiryMs: 60_000 },
        credentials: async () => {
          const account = await newUser();
          made.push(account.user);
          return { ...account, expiresAt: Date.now() + 1500 };
        },
      });
      const rotations: RotateEvent[] = [];
      p.on('rotate', (e) => rotations.push(e));
      const load = startLoad(8, () => p.query('SELECT CURRENT_USER() AS u'));
      await eventually(() => rotations.length >= 3, 15_000, 'two proactive rotations');
      const result = await load.stop();
      assert.deepEqual(
        result.failed.map((e) => e.message),
        [],
      );
      assert.deepEqual(
        rotations.slice(1, 3).map((e) => e.reason),
        ['expiring', 'expiring'],
      );
      // Connections of the first user were drained once the next generation started.
      await eventually(async () => (await server.processlist(made[0])).length === 0, 5000, 'first user drained');
    });
  });

  describe('drain', function () {
    async function rotatingPool(drain: 'graceful' | 'force', extra: PoolOptions['rotation'] = {}) {
      const account = await newUser();
      const source = passwordSource(account.user, account.password);
      const p = pool({ connectionLimit: 4, credentials: source.provider, rotation: { drain, ...extra } });
      return { p, account, source };
    }

    it('graceful drain keeps an open transaction alive and closes its connection after release', async function () {
      const { p, account, source } = await rotatingPool('graceful');
      const conn = await p.getConnection();
      const idle = await p.getConnection();
      idle.release();
      const idleId = idle.threadId;
      await conn.beginTransaction();
      await conn.query(`INSERT INTO t (v) VALUES (1)`);
      source.password = `next-${Math.random()}`;
      await server.setPassword(account.user, source.password);
      await p.coordinator!.refresh();
      await eventually(async () => !(await server.processlist(account.user)).some((r) => r.id === idleId), 5000, 'idle connection closed');
      await conn.query(`INSERT INTO t (v) VALUES (2)`);
      await conn.commit();
      const id = conn.threadId;
      conn.release();
      await eventually(async () => !(await server.processlist(account.user)).some((r) => r.id === id), 5000, 'drained connection closed');
      const [rows] = await p.query(`SELECT COUNT(*) AS n FROM t WHERE v IN (1, 2)`);
      assert.ok((rows as Array<{ n: number }>)[0].n >= 2);
    });

    it('force drain destroys a busy connection after drainTimeoutMs', async function () {
      const { p, account, source } = await rotatingPool('force', { drainTimeoutMs: 100 });
      const conn = await p.getConnection();
      await conn.beginTransaction();
      source.password = `next-${Math.random()}`;
      await server.setPassword(account.user, source.password);
      await p.coordinator!.refresh();
      const id = conn.threadId;
      await eventually(async () => !(await server.processlist(account.user)).some((r) => r.id === id), 5000, 'forced close');
      await assert.rejects(conn.query('SELECT 1'));
      conn.release();
      await p.query('SELECT 1');
    });

    it("drain 'none' keeps old connections in use", async function () {
      const account = await newUser();
      const source = passwordSource(account.user, account.password);
      const p = pool({ connectionLimit: 1, credentials: source.provider, rotation: { drain: 'none' } });
      const c1 = await p.getConnection();
      const id = c1.threadId;
      c1.release();
      source.password = `next-${Math.random()}`;
      await server.setPassword(account.user, source.password);
      await p.coordinator!.refresh();
      const c2 = await p.getConnection();
      assert.equal(c2.threadId, id);
      c2.release();
    });
  });

  describe('read-only servers', function () {
    afterEach(async function () {
      await server.setReadOnly(false);
    });

    it('pool.query retries a statement refused as read-only once, on a fresh connection', async function () {
      const account = await newUser();
      const p = pool({ connectionLimit: 2, user: account.user, password: account.password });
      const conn = await p.getConnection();
      await conn.query('SET SESSION TRANSACTION READ ONLY');
      const readOnlyId = conn.threadId;
      conn.release();
      const discarded: string[] = [];
      p.on('discard', (_c, reason) => discarded.push(reason));
      const marker = Math.floor(Math.random() * 1e9);
      await p.query('INSERT INTO t (v) VALUES (?)', [marker]);
      const [rows] = await p.query('SELECT COUNT(*) AS n FROM t WHERE v = ?', [marker]);
      assert.equal((rows as Array<{ n: number }>)[0].n, 1, 'the statement ran exactly once');
      assert.deepEqual(discarded, ['read-only']);
      const ids = (await server.processlist(account.user)).map((r) => r.id);
      assert.ok(!ids.includes(readOnlyId), 'the read-only connection was closed');
    });

    it('a write refused as read-only waits for the server to take writes again, then runs once; one probe login at a time meanwhile', async function () {
      const account = await newUser();
      const p = pool({ connectionLimit: 2, user: account.user, password: account.password, failover: { probeIntervalMs: 20 } });
      const events: string[] = [];
      p.on('failover', (e) => events.push(e.state));
      const discarded: string[] = [];
      p.on('discard', (_c, reason) => discarded.push(reason));
      await p.query('SELECT 1');
      const [warm] = (await server.processlist(account.user)).map((r) => r.id);
      await server.setReadOnly(true);
      const marker = Math.floor(Math.random() * 1e9);
      const write = p.query('INSERT INTO t (v) VALUES (?)', [marker]);
      await eventually(() => discarded.length >= 2, 5000, 'two probes found the server read-only');
      assert.deepEqual(new Set(discarded), new Set(['failover-probe']), 'only probes are closed; the refused connection stays');
      await server.setReadOnly(false);
      await write;
      const [rows] = await p.query('SELECT COUNT(*) AS n FROM t WHERE v = ?', [marker]);
      assert.equal((rows as Array<{ n: number }>)[0].n, 1, 'the statement ran exactly once');
      assert.deepEqual(events, ['started', 'ended']);
      assert.ok(
        (await server.processlist(account.user)).some((r) => r.id === warm),
        'the same server: the refused connection still serves',
      );
    });

    it('a write refused as read-only fails with the server error once failover.waitMs passes', async function () {
      const account = await newUser();
      const p = pool({
        connectionLimit: 2,
        user: account.user,
        password: account.password,
        failover: { waitMs: 150, probeIntervalMs: 20 },
      });
      await p.query('SELECT 1');
      await server.setReadOnly(true);
      for (const write of [() => p.query('INSERT INTO t (v) VALUES (0)'), () => p.execute('INSERT INTO t (v) VALUES (?)', [0])]) {
        const error = await write().then(
          () => assert.fail('the write went through'),
          (e: ReadOnlyError) => e,
        );
        assert.ok(error instanceof ReadOnlyError, String(error));
        assert.equal(error.code, 'CREDSWAP_READ_ONLY');
        assert.equal(error.errno, 1290, 'the server error number, for code that checks errno');
        assert.equal(isReadOnlyError(error), true);
        assert.match(error.message, /after waiting 150 ms/);
        assert.equal((error.cause as { errno?: number }).errno, 1290);
      }
      const [rows] = await p.query('SELECT 1 AS one');
      assert.equal((rows as Array<{ one: number }>)[0].one, 1, 'reads go on meanwhile');
    });

    it("in a full pool, the retry waits for the refused connection's slot instead of discarding an idle connection", async function () {
      const account = await newUser();
      const p = pool({ connectionLimit: 2, user: account.user, password: account.password, failover: false });
      const [a, b] = await Promise.all([p.getConnection(), p.getConnection()]);
      const warm = [a.threadId, b.threadId];
      a.release();
      b.release();
      const discarded: string[] = [];
      p.on('discard', (_c, reason) => discarded.push(reason));
      await server.setReadOnly(true);
      await assert.rejects(p.query('INSERT INTO t (v) VALUES (0)'), (e: Error & { errno: number }) => e.errno === 1290);
      assert.deepEqual(discarded, ['read-only', 'read-only'], 'the refused connection and the refused retry; no make-room');
      const ids = (await server.processlist(account.user)).map((r) => r.id);
      assert.equal(warm.filter((id) => ids.includes(id)).length, 1, 'the connection the query did not use is still open');
    });

    it('with failover: false, every connection refused as read-only is destroyed', async function () {
      const account = await newUser();
      const p = pool({ connectionLimit: 2, user: account.user, password: account.password, failover: false });
      let opened = 0;
      p.on('connection', () => opened++);
      await p.query('SELECT 1');
      await server.setReadOnly(true);
      await assert.rejects(p.query('INSERT INTO t (v) VALUES (0)'), (e: Error & { errno: number }) => e.errno === 1290);
      assert.equal(opened, 2, 'the retry ran on a fresh connection');
      await server.setReadOnly(false);
      await p.query('INSERT INTO t (v) VALUES (0)');
      assert.equal(opened, 3, 'the read-only connections were not reused');
    });

    it('a statement refused on a connection from getConnection is never retried; getConnection then waits for a writable server', async function () {
      const account = await newUser();
      const p = pool({ connectionLimit: 2, user: account.user, password: account.password, failover: { probeIntervalMs: 20 } });
      const conn = await p.getConnection();
      const id = conn.threadId;
      await server.setReadOnly(true);
      await conn.beginTransaction();
      const refused = await conn.query('INSERT INTO t (v) VALUES (0)').then(
        () => assert.fail('the write went through'),
        (e: ReadOnlyError) => e,
      );
      assert.ok(refused instanceof ReadOnlyError && refused.retryable && refused.errno === 1290, String(refused));
      assert.match(refused.message, /transaction .* can be retried/);
      await conn.rollback();
      conn.release();
      let handedOut = false;
      const next = p.getConnection().then((c) => {
        handedOut = true;
        return c;
      });
      await sleep(100);
      assert.equal(handedOut, false, 'no connection while the server refuses writes');
      await server.setReadOnly(false);
      const writable = await next;
      await writable.query('INSERT INTO t (v) VALUES (0)');
      writable.release();
      assert.ok(
        (await server.processlist(account.user)).some((r) => r.id === id),
        'the same server: the refused connection is kept',
      );
    });

    it('keeps read-only connections when rejectReadOnly is false', async function () {
      const account = await newUser();
      const p = pool({ connectionLimit: 1, user: account.user, password: account.password, rejectReadOnly: false });
      const conn = await p.getConnection();
      const id = conn.threadId;
      conn.release();
      await server.setReadOnly(true);
      await assert.rejects(p.query('INSERT INTO t (v) VALUES (0)'));
      await server.setReadOnly(false);
      const again = await p.getConnection();
      assert.equal(again.threadId, id);
      again.release();
    });
  });

  describe('mysql2 compatibility', function () {
    it('unprepare closes the statement on every connection that prepared it', async function () {
      const account = await newUser();
      const p = pool({ ...account, connectionLimit: 2 });
      const sql = 'SELECT ? + 0 AS unprepare_probe';
      const held = await p.getConnection();
      await Promise.all([held.execute(sql, [1]), p.execute(sql, [2])]);
      // Statements open on the whole server; only this test's pool prepares any while it runs.
      const open = async (): Promise<number> => {
        const rows = await server.query<Array<{ Value: string }>>("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'");
        return Number(rows[0].Value);
      };
      assert.equal(await open(), 2);
      assert.ok(p.pool.unprepare(sql) !== undefined, 'a statement was closed');
      assert.equal(p.pool.unprepare(sql), undefined, 'nothing left to close');
      // COM_STMT_CLOSE has no answer: a query on each connection afterwards orders it.
      await Promise.all([held.query('SELECT 1'), p.query('SELECT 1')]);
      held.release();
      assert.equal(await open(), 0);
    });

    it('works without credentials exactly like mysql2, callback style', async function () {
      const account = await newUser();
      const p = createCallbackPool({ host: server.host, port: server.port, database, user: account.user, password: account.password });
      pools.push({ end: () => new Promise<void>((resolve) => p.end(() => resolve())) });
      const rows = await new Promise<unknown>((resolve, reject) =>
        p.query('SELECT ? AS x', [42], (err, r) => (err ? reject(err) : resolve(r))),
      );
      assert.deepEqual(rows, [{ x: 42 }]);
      const executed = await new Promise<unknown>((resolve, reject) =>
        p.execute('SELECT ? AS x', [7], (err, r) => (err ? reject(err) : resolve(r))),
      );
      assert.deepEqual(executed, [{ x: 7 }]);
      assert.equal(p.escape("a'b"), "'a\\'b'");
      assert.equal(p.escapeId('t'), '`t`');
      assert.equal(p.format('SELECT ?', [1]), 'SELECT 1');
      const [promised] = await p.promise().query('SELECT 1 AS one');
      assert.deepEqual(promised, [{ one: 1 }]);
      assert.equal(p.promise(), p.promise(), 'one promise wrapper per pool');
    });

    it('streams rows from pool.query without a callback', async function () {
      const account = await newUser();
      const p = createCallbackPool({ host: server.host, port: server.port, database, user: account.user, password: account.password });
      pools.push({ end: () => new Promise<void>((resolve) => p.end(() => resolve())) });
      const rows: unknown[] = [];
      await new Promise<void>((resolve, reject) => {
        p.query('SELECT 1 AS a UNION ALL SELECT 2')
          .on('result', (row: unknown) => rows.push(row))
          .on('error', reject)
          .on('end', () => resolve());
      });
      assert.deepEqual(rows, [{ a: 1 }, { a: 2 }]);
    });

    it('queues requests beyond connectionLimit in order and loses none', async function () {
      const account = await newUser();
      const p = pool({ connectionLimit: 2, user: account.user, password: account.password });
      const order: number[] = [];
      await Promise.all(Array.from({ length: 20 }, (_, i) => p.query('SELECT ? AS i', [i]).then(() => order.push(i))));
      assert.equal(order.length, 20);
    });

    it('fails queued requests with a ClosedError when the pool ends', async function () {
      const account = await newUser();
      const p = createPool({
        host: server.host,
        port: server.port,
        database,
        user: account.user,
        password: account.password,
        connectionLimit: 1,
      });
      const held = await p.getConnection();
      const queued = p.query('SELECT 1');
      const ended = p.end();
      await assert.rejects(queued, (e: Error & { code: string }) => e.code === 'CREDSWAP_CLOSED');
      held.release();
      await ended;
    });

    it('fails requests whose connection was still opening with a ClosedError when the pool ends, and counts no connection after', async function () {
      const account = await newUser();
      const p = createPool({
        host: server.host,
        port: server.port,
        database,
        user: account.user,
        password: account.password,
        connectionLimit: 4,
      });
      await p.query('SELECT 1');
      const opening = [1, 2, 3].map(() => p.getConnection().then((c) => c.release()));
      await p.end();
      const outcomes = await Promise.allSettled(opening);
      for (const o of outcomes) {
        if (o.status === 'rejected') assert.equal((o.reason as { code?: string }).code, 'CREDSWAP_CLOSED');
      }
      assert.ok(
        outcomes.some((o) => o.status === 'rejected'),
        'at least one connection was still opening',
      );
      assert.equal(p.stats.total, 0);
    });

    it('supports await using through Symbol.asyncDispose', async function () {
      const account = await newUser();
      let ref: PromisePool;
      {
        await using p = createPool({ host: server.host, port: server.port, database, user: account.user, password: account.password });
        ref = p;
        await p.query('SELECT 1');
      }
      await assert.rejects(ref.query('SELECT 1'), (e: Error & { code: string }) => e.code === 'CREDSWAP_CLOSED');
    });
  });

  describe('secrets', function () {
    it('never shows a password in errors, inspect output, JSON or events', async function () {
      const account = await newUser();
      const secret = `Secret-${Math.random().toString(36).slice(2)}`;
      await server.setPassword(account.user, secret);
      const events: unknown[] = [];
      const p = pool({ connectionLimit: 2, credentials: async () => ({ user: account.user, password: secret }) });
      p.on('rotate', (e) => events.push(e));
      // While the connection event runs, mysql2's handshake command (which copied the password)
      // is still the connection's current command.
      const connected: string[] = [];
      p.on('connection', (c) => connected.push(inspect(c, { depth: 6 })));
      p.pool.on('connection', (c) => connected.push(inspect(c, { depth: 6 }), inspect(p.pool, { depth: 8 })));
      const conn = await p.getConnection();
      assert.equal(connected.length, 3);
      const shown = [
        ...connected,
        inspect(conn, { depth: 6 }),
        inspect(conn.connection, { depth: 8 }),
        inspect(p, { depth: 5 }),
        inspect(p.pool, { depth: 5 }),
        JSON.stringify(p.pool),
        inspect(conn.connection.config, { depth: 5 }),
        JSON.stringify(conn.connection.config),
        inspect(p.pool.config, { depth: 5 }),
        inspect(p.coordinator!.current, { depth: 5 }),
        JSON.stringify(p.coordinator!.current),
        inspect(events, { depth: 5 }),
        JSON.stringify(events),
      ];
      conn.release();
      await server.setPassword(account.user, 'something-else');
      const held = await p.getConnection();
      held.destroy();
      const err = await p.query('SELECT 1').then(
        () => undefined,
        (e: Error) => e,
      );
      assert.ok(err, 'expected a 1045');
      shown.push(err.message, inspect(err), JSON.stringify(err), String(err.stack));
      for (const text of shown) assert.ok(!text.includes(secret), `password leaked in: ${text.slice(0, 200)}`);
    });
  });

  describe('options', function () {
    const cases: Array<[string, PoolOptions, RegExp]> = [
      [
        'a misspelt credswap key',
        { credential: async () => undefined } as PoolOptions,
        /'credential' is not a known option \(did you mean 'credentials'\?\)/,
      ],
      [
        'a credswap key in another case',
        { Credentials: async () => undefined } as PoolOptions,
        /'Credentials' .*did you mean 'credentials'/,
      ],
      ['a misspelt rotation', { rotations: {} } as PoolOptions, /'rotations' .*did you mean 'rotation'/],
      ['a misspelt rejectReadOnly', { rejectReadonly: false } as PoolOptions, /'rejectReadonly' .*did you mean 'rejectReadOnly'/],
      ['a misspelt failover', { failovr: false } as PoolOptions, /'failovr' .*did you mean 'failover'/],
      ['an unknown rotation key', { credentials: async () => undefined, rotation: { timeout: 5 } as never }, /'rotation.timeout'/],
      ['a negative duration', { credentials: async () => undefined, rotation: { timeoutMs: -1 } }, /'rotation.timeoutMs'/],
      ['a wrong type', { connectionLimit: '10' as never }, /'connectionLimit' must be an integer/],
      ['a bad drain mode', { credentials: async () => undefined, rotation: { drain: 'soft' as never } }, /'rotation.drain'/],
      ['a password with credentials', { credentials: async () => undefined, password: 'x' }, /'password' must not be set/],
      ['rotation without credentials', { rotation: {} }, /'rotation' has no effect/],
      ['credentials of the wrong type', { credentials: 'secret' as never }, /'credentials'/],
      ['failover with rejectReadOnly: false', { rejectReadOnly: false, failover: { waitMs: 100 } }, /'failover' has no effect/],
      ['an unknown failover key', { failover: { wait: 100 } as never }, /'failover.wait'/],
      ['a negative failover.waitMs', { failover: { waitMs: -1 } }, /'failover.waitMs'/],
      ['failover.probeIntervalMs of 0', { failover: { probeIntervalMs: 0 } }, /'failover.probeIntervalMs'/],
      ['failover of the wrong type', { failover: true as never }, /'failover'/],
      ['maxLifetimeMs of the wrong type', { maxLifetimeMs: '1h' as never }, /'maxLifetimeMs'/],
    ];
    for (const [what, options, message] of cases) {
      it(`rejects ${what} with a TypeError naming the option`, function () {
        assert.throws(
          () => createPool(options),
          (e: Error) => e instanceof TypeError && e instanceof InvalidOptionError && message.test(e.message),
        );
      });
    }

    it('passes keys credswap does not know to mysql2, which warns once per pool about those it ignores, as for its own pools', async function () {
      const account = await newUser();
      const options = { host: server.host, port: server.port, database, ...account, connectionLimit: 3, jsonStrings: true, fooBar: 1 };
      const printed: string[] = [];
      const original = console.error;
      console.error = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
      const warnings = (): number => printed.filter((line) => /\b(jsonStrings|fooBar)\b/.test(line)).length;
      let credswap: number;
      try {
        const p = pool(options);
        await Promise.all([p.query('SELECT 1'), p.query('SELECT 1'), p.query('SELECT 1')]);
        credswap = warnings();
        printed.length = 0;
        const plain = mysql2Promise.createPool(options);
        await Promise.all([plain.query('SELECT 1'), plain.query('SELECT 1'), plain.query('SELECT 1')]);
        await plain.end();
      } finally {
        console.error = original;
      }
      assert.equal(credswap, 1, 'credswap: one warning, for fooBar');
      assert.equal(warnings(), 1, 'mysql2: one warning, for fooBar');
    });

    it('with credentials, mysql2 still warns once per pool, not again at each rotation', async function () {
      const first = await newUser();
      const source = passwordSource(first.user, first.password);
      const printed: string[] = [];
      const original = console.error;
      console.error = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
      try {
        const p = pool({ connectionLimit: 2, credentials: source.provider, fooBar: 1 } as PoolOptions);
        await Promise.all([p.query('SELECT 1'), p.query('SELECT 1')]);
        const next = await newUser();
        source.user = next.user;
        source.password = next.password;
        await p.pool.coordinator!.refresh();
        const loggedIn = async (): Promise<boolean> => {
          const [rows] = await p.query('SELECT CURRENT_USER() AS u');
          return (rows as Array<{ u: string }>)[0].u.startsWith(`${next.user}@`);
        };
        await eventually(loggedIn, 5000, 'the new user logs in');
      } finally {
        console.error = original;
      }
      assert.equal(printed.filter((line) => line.includes('fooBar')).length, 1, printed.join('\n'));
    });

    it('never echoes an option value in its error', function () {
      assert.throws(
        () => createPool({ credentials: async () => undefined, password: 'hunter2' }),
        (e: Error) => !e.message.includes('hunter2'),
      );
    });
  });
});
