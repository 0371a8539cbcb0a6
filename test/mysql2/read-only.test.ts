import assert from 'node:assert/strict';
import sinon from 'sinon';
import { isReadOnlyError } from '../../lib/mysql2/classify.js';
import { createPool, type FailoverOptions, type PromisePool } from '../../lib/mysql2/promise.js';
import { Failover, type FailoverEvent, type FailoverHost } from '../../lib/mysql2/failover.js';
import type { ServerRole } from '../../lib/mysql2/server-identity.js';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import { describeEachFlavour, startServer } from '../helpers/servers.js';

describe('Failover', function () {
  let clock: sinon.SinonFakeTimers;
  let host: FakeHost;
  let failover: Failover;

  /** A pool as a Failover sees it: probes answer with the role the test says. */
  class FakeHost implements FailoverHost {
    _closed = false;
    probes: Array<(role: ServerRole) => void> = [];
    kept = 0;
    closed = 0;
    moved: number[] = [];
    events: FailoverEvent[] = [];
    _probe(cb: Parameters<FailoverHost['_probe']>[0]): void {
      this.probes.push((role) => {
        const server = failover.loggedIn(role);
        cb(null, {
          writable: role.writable && server === failover.server,
          keep: () => (this.kept += 1),
          close: () => (this.closed += 1),
        });
      });
    }
    _serverMoved(server: number): void {
      this.moved.push(server);
    }
    _episode(event: FailoverEvent): void {
      this.events.push(event);
    }
  }

  const A = { identity: 'a', writable: true };
  const readOnlyA = { identity: 'a', writable: false };
  const B = { identity: 'b', writable: true };

  beforeEach(function () {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    host = new FakeHost();
    failover = new Failover(host, { waitMs: 1_000, probeIntervalMs: 40, checkIntervalMs: 0 });
  });

  afterEach(function () {
    clock.restore();
  });

  it('numbers servers as logins reach them, and reports a move to another server', function () {
    assert.equal(failover.loggedIn(A), 1);
    assert.equal(failover.loggedIn(A), 1);
    assert.deepEqual(host.moved, []);
    assert.equal(failover.loggedIn(B), 2);
    assert.deepEqual(host.moved, [2]);
    assert.equal(failover.server, 2);
    assert.equal(failover.loggedIn(undefined), 0, 'a server that would not say is unknown');
  });

  it('a refusal starts an episode with one probe; further refusals add none', function () {
    failover.loggedIn(A);
    failover.refused(1);
    failover.refused(1);
    assert.equal(failover.active, true);
    assert.equal(host.probes.length, 1);
    assert.deepEqual(host.events, [{ state: 'started' }]);
  });

  it('probes one at a time, probeIntervalMs apart while someone waits, until a login reaches a writable server', async function () {
    failover.loggedIn(A);
    failover.refused(1);
    let resumed = 0;
    failover.whenWritable(
      () => (resumed += 1),
      () => assert.fail('gave up'),
    );
    host.probes[0](readOnlyA);
    assert.equal(host.closed, 1, 'a read-only probe is closed');
    await clock.tickAsync(39);
    assert.equal(host.probes.length, 1);
    await clock.tickAsync(1);
    assert.equal(host.probes.length, 2);
    host.probes[1](B);
    await clock.tickAsync(0);
    assert.equal(failover.active, false);
    assert.equal(host.kept, 1, 'the writable probe joins the pool');
    assert.equal(resumed, 1);
    assert.deepEqual(host.moved, [2]);
    const ended = host.events[1] as Extract<FailoverEvent, { state: 'ended' }>;
    assert.deepEqual({ ...ended, durationMs: 0 }, { state: 'ended', outcome: 'writable', moved: true, durationMs: 0, probes: 2 });
  });

  it('any login that reaches a writable server ends the episode, not only a probe', async function () {
    failover.loggedIn(A);
    failover.refused(1);
    let resumed = 0;
    failover.whenWritable(() => (resumed += 1), assert.fail);
    failover.loggedIn(A);
    await clock.tickAsync(0);
    assert.equal(resumed, 1);
    assert.equal(failover.active, false);
    assert.deepEqual(host.moved, [], 'the same server took writes again: nothing to discard');
  });

  it('gives up on a caller after waitMs; with nobody waiting, probes once a second and ends after 10 s without a refusal', async function () {
    failover.loggedIn(A);
    failover.refused(1);
    let gaveUp = 0;
    failover.whenWritable(assert.fail, () => (gaveUp += 1));
    host.probes[0](readOnlyA);
    await clock.tickAsync(999);
    assert.equal(gaveUp, 0);
    await clock.tickAsync(1);
    assert.equal(gaveUp, 1);
    const probesAtGiveUp = host.probes.length;
    host.probes.at(-1)!(readOnlyA);
    await clock.tickAsync(999);
    assert.equal(host.probes.length, probesAtGiveUp, 'no probe sooner than a second with nobody waiting');
    await clock.tickAsync(1);
    assert.equal(host.probes.length, probesAtGiveUp + 1);
    for (let i = 0; i < 12 && failover.active; i += 1) {
      host.probes.at(-1)!(readOnlyA);
      await clock.tickAsync(1_000);
    }
    assert.equal(failover.active, false);
    assert.equal((host.events.at(-1) as { outcome?: string }).outcome, 'quiet');
  });

  it('a refusal from a server the address no longer leads to starts nothing', function () {
    failover.loggedIn(A);
    failover.loggedIn(B);
    failover.refused(1);
    assert.equal(failover.active, false);
    assert.equal(host.probes.length, 0);
  });

  it('waitMs 0 gives up at once; close() ends the episode and resumes the callers', async function () {
    const impatient = new Failover(host, { waitMs: 0, probeIntervalMs: 40, checkIntervalMs: 0 });
    impatient.loggedIn(A);
    impatient.refused(1);
    let gaveUp = 0;
    impatient.whenWritable(assert.fail, () => (gaveUp += 1));
    await clock.tickAsync(0);
    assert.equal(gaveUp, 1);
    failover.loggedIn(A);
    failover.refused(1);
    let resumed = 0;
    failover.whenWritable(() => (resumed += 1), assert.fail);
    failover.close();
    await clock.tickAsync(0);
    assert.equal(resumed, 1);
    assert.equal((host.events.at(-1) as { outcome?: string }).outcome, 'closed');
  });
});

describe('isReadOnlyError', function () {
  it('knows 1290, 1792, 1836 and 1874 by errno, and nothing else', function () {
    for (const errno of [1290, 1792, 1836, 1874]) assert.equal(isReadOnlyError({ errno }), true, String(errno));
    // 1036 (a table is read-only) is not a server-wide state; 1045 is a refused login.
    for (const errno of [1036, 1045, '1290', undefined]) assert.equal(isReadOnlyError({ errno }), false, String(errno));
    assert.equal(isReadOnlyError(null), false);
    assert.equal(isReadOnlyError(Object.assign(new Error('x'), { code: 'ER_OPTION_PREVENTS_STATEMENT' })), false, 'never by code text');
  });
});

describeEachFlavour('read-only refusals of a real server', (flavour) => {
  let server: MariaDBServer;
  let database: string;
  let account: { user: string; password: string };
  let pool: PromisePool | undefined;

  before(async function () {
    server = await startServer(flavour);
    database = await server.createDatabase('readonly');
    await server.query(`CREATE TABLE \`${database}\`.items (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL)`);
    account = await server.createUser({ prefix: 'ro', grants: `ALL ON \`${database}\`.*` });
  });

  after(async function () {
    await server?.stop();
  });

  afterEach(async function () {
    await pool?.end();
    pool = undefined;
    await server.setReadOnly(false);
  });

  /** A pool of the test's user, its logins so far and the reasons of its discards. */
  function readOnlyPool(failover?: FailoverOptions): { p: PromisePool; seen: { logins: number; discards: string[] } } {
    pool = createPool({
      failover,
      host: server.host,
      port: server.port,
      database,
      connectionLimit: 4,
      credentials: async () => account,
    });
    const seen = { logins: 0, discards: [] as string[] };
    pool.on('connection', () => (seen.logins += 1));
    pool.on('discard', (_connection, reason) => seen.discards.push(reason));
    return { p: pool, seen };
  }

  async function refusal(statement: Promise<unknown>): Promise<Error & { errno?: number }> {
    return statement.then(
      () => assert.fail('expected the server to refuse the write'),
      (error: Error & { errno?: number }) => error,
    );
  }

  // On MySQL, setReadOnly(true) sets super_read_only: the application's writes get the same 1290.
  it('refuses writes with 1290 once read-only: isReadOnlyError knows it, the pool keeps the connection and probes one login at a time', async function () {
    const { p, seen } = readOnlyPool({ waitMs: 200, probeIntervalMs: 20 });
    await p.query('SELECT 1');
    await server.setReadOnly(true);
    const error = await refusal(p.query('INSERT INTO items (n) VALUES (1)'));
    assert.equal(error.errno, 1290);
    assert.ok(isReadOnlyError(error));
    assert.ok(seen.logins >= 2 && seen.logins <= 1 + 200 / 20, `${seen.logins} logins: the first, then one probe per 20 ms at most`);
    assert.deepEqual(new Set(seen.discards), new Set(['failover-probe']), 'the refused connection is kept; read-only probes are closed');
    await server.setReadOnly(false);
    await p.query('INSERT INTO items (n) VALUES (2)');
  });

  it('refuses a write in a READ ONLY transaction with 1792: isReadOnlyError knows it, and the pool discards that connection', async function () {
    const { p, seen } = readOnlyPool();
    const connection = await p.getConnection();
    await connection.query('START TRANSACTION READ ONLY');
    const error = await refusal(connection.query('INSERT INTO items (n) VALUES (3)'));
    connection.release();
    assert.equal(error.errno, 1792);
    assert.ok(isReadOnlyError(error));
    assert.deepEqual(seen.discards, ['read-only']);
  });
});
