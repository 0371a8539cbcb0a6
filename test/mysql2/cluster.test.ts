import assert from 'node:assert/strict';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type { Credentials } from '../../lib/credentials.js';
import { ClosedError, InvalidOptionError } from '../../lib/errors.js';
import type { PoolCluster } from '../../lib/mysql2/cluster.js';
import type { ClusterConnection } from '../../lib/mysql2/cluster-namespace.js';
import { createPoolCluster } from '../../lib/mysql2/factories.js';
import type { CredentialsProvider } from '../../lib/provider.js';
import { type MariaDBServer, startMariaDB, startTestServer } from '../../lib/testing/mariadb.js';
import { startTcpProxy, type TcpProxy } from '../../lib/testing/proxy.js';
import { runToExit } from '../helpers/child.js';
import { refusedAsReadOnly } from '../helpers/failover.js';
import { eventually, startLoad, stopAllLoads } from '../helpers/load.js';

/** One server with a database, a table `items (id, n)` and a user of its own. */
interface Site {
  readonly server: MariaDBServer;
  readonly database: string;
  readonly user: string;
  password: string;
}

const TABLE = 'items (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL)';
const DATABASE = 'cluster_db';

async function prepare(server: MariaDBServer, user: string, password: string): Promise<Site> {
  await server.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
  await server.query(`CREATE TABLE IF NOT EXISTS ${DATABASE}.${TABLE}`);
  for (const host of ['%', 'localhost']) {
    await server.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [user, host, password]);
    await server.query(`GRANT ALL ON ${DATABASE}.* TO ?@?`, [user, host]);
  }
  return { server, database: DATABASE, user, password };
}

/** A hot-swap provider reading a site's current password, counting its calls. */
function siteProvider(site: Site, name: string): CredentialsProvider & { calls: number } {
  const provider = {
    name,
    calls: 0,
    async getCredentials(): Promise<Credentials> {
      provider.calls += 1;
      return { user: site.user, password: site.password };
    },
  };
  return provider;
}

function nodeOptions(site: Site, extra: Record<string, unknown> = {}) {
  return { host: site.server.host, port: site.server.port, database: site.database, connectionLimit: 4, ...extra };
}

function getConnection(cluster: PoolCluster, pattern = '*', selector?: string): Promise<ClusterConnection> {
  return new Promise((resolve, reject) =>
    cluster.getConnection(pattern, selector, (err, connection) => (err ? reject(err) : resolve(connection!))),
  );
}

function query<T = unknown>(cluster: PoolCluster, pattern: string, sql: string, values?: unknown[], selector?: string): Promise<T> {
  return new Promise((resolve, reject) =>
    cluster.of(pattern, selector).query(sql, values, (err, rows) => (err ? reject(err) : resolve(rows as T))),
  );
}

function execute<T = unknown>(cluster: PoolCluster, pattern: string, sql: string, values: unknown[], selector?: string): Promise<T> {
  return new Promise((resolve, reject) =>
    cluster.of(pattern, selector).execute(sql, values, (err, rows) => (err ? reject(err) : resolve(rows as T))),
  );
}

function end(cluster: PoolCluster): Promise<void> {
  return new Promise((resolve, reject) => cluster.end((err) => (err ? reject(err) : resolve())));
}

/** The port of the server a connection is logged in to. */
async function serverPort(connection: ClusterConnection): Promise<number> {
  const [rows] = await connection.promise().query('SELECT @@port AS port');
  return Number((rows as Array<{ port: number }>)[0].port);
}

async function idsOf(cluster: PoolCluster, pattern: string, selector: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const connection = await getConnection(cluster, pattern, selector);
    ids.push(connection._clusterId!);
    connection.release();
  }
  return ids;
}

/** A query, then a short pause in which the connection sits idle (so `maxIdle: 0` can close it). */
async function queryThenPause(cluster: PoolCluster, pattern: string): Promise<void> {
  await query(cluster, pattern, 'SELECT 1');
  await new Promise((resolve) => setTimeout(resolve, 2));
}

async function count(site: Site): Promise<number> {
  const rows = await site.server.query<Array<{ n: number }>>(`SELECT COUNT(*) AS n FROM ${DATABASE}.items`);
  return Number(rows[0].n);
}

describe('credswap/mysql2 createPoolCluster', function () {
  let a: Site;
  let b: Site;
  let cluster: PoolCluster | undefined;
  let proxy: TcpProxy | undefined;

  before(async function () {
    const [serverA, serverB] = await Promise.all([startTestServer(), startMariaDB()]);
    a = await prepare(serverA, 'cluster_a', 'pw-a-0');
    b = await prepare(serverB, 'cluster_b', 'pw-b-0');
  });

  after(async function () {
    await Promise.all([a?.server.stop(), b?.server.stop()]);
  });

  afterEach(async function () {
    await stopAllLoads();
    if (cluster) await end(cluster);
    cluster = undefined;
    await proxy?.close();
    proxy = undefined;
    await a.server.setReadOnly(false);
    await b.server.setReadOnly(false);
  });

  describe('mysql2 API', function () {
    it('getConnection(pattern) reaches the node the pattern names, tagged with its id', async function () {
      cluster = createPoolCluster();
      cluster.add('MASTER', nodeOptions(a, { user: a.user, password: a.password }));
      cluster.add('SLAVE1', nodeOptions(b, { user: b.user, password: b.password }));
      const master = await getConnection(cluster, 'MASTER');
      const slave = await getConnection(cluster, 'SLAVE*');
      try {
        assert.equal(master._clusterId, 'MASTER');
        assert.equal(await serverPort(master), a.server.port);
        assert.equal(slave._clusterId, 'SLAVE1');
        assert.equal(await serverPort(slave), b.server.port);
      } finally {
        master.release();
        slave.release();
      }
    });

    it('selectors: RR alternates, ORDER takes the first node, RANDOM stays in the pattern', async function () {
      cluster = createPoolCluster();
      for (const id of ['SLAVE1', 'SLAVE2', 'OTHER']) cluster.add(id, nodeOptions(a, { user: a.user, password: a.password }));
      assert.deepEqual(await idsOf(cluster, 'SLAVE*', 'RR', 4), ['SLAVE1', 'SLAVE2', 'SLAVE1', 'SLAVE2']);
      assert.deepEqual(await idsOf(cluster, 'SLAVE*', 'ORDER', 3), ['SLAVE1', 'SLAVE1', 'SLAVE1']);
      for (const id of await idsOf(cluster, 'SLAVE*', 'random', 6)) assert.match(id, /^SLAVE[12]$/);
      assert.equal(cluster.of('SLAVE*', 'RR'), cluster.of('SLAVE*', 'rr'), 'one namespace per pattern and selector');
    });

    it('add(config) names nodes CLUSTER::<n>; adding an id twice keeps the first node', async function () {
      cluster = createPoolCluster({ defaultSelector: 'ORDER' });
      cluster.add(nodeOptions(a, { user: a.user, password: a.password }));
      cluster.add(nodeOptions(b, { user: b.user, password: b.password }));
      cluster.add('CLUSTER::1', nodeOptions(b, { user: b.user, password: b.password }));
      assert.deepEqual(
        cluster.nodes.map((n) => n.id),
        ['CLUSTER::1', 'CLUSTER::2'],
      );
      const connection = await getConnection(cluster);
      assert.equal(await serverPort(connection), a.server.port);
      connection.release();
    });

    it('query and execute run on a node of the namespace', async function () {
      cluster = createPoolCluster();
      cluster.add('MASTER', nodeOptions(a, { user: a.user, password: a.password }));
      cluster.add('SLAVE1', nodeOptions(b, { user: b.user, password: b.password }));
      const rows = await query<Array<{ port: number }>>(cluster, 'SLAVE*', 'SELECT @@port AS port');
      assert.equal(Number(rows[0].port), b.server.port);
      const executed = await execute<Array<{ x: number }>>(cluster, 'MASTER', 'SELECT ? + 1 AS x', [41]);
      assert.equal(Number(executed[0].x), 42);
      const any = await new Promise<unknown[]>((resolve, reject) =>
        cluster!.query('SELECT 1 AS one', (err: Error | null, r?: unknown) => (err ? reject(err) : resolve(r as unknown[]))),
      );
      assert.equal(any.length, 1);
    });

    it('a pattern without nodes fails with POOL_NOEXIST', async function () {
      cluster = createPoolCluster();
      cluster.add('MASTER', nodeOptions(a, { user: a.user, password: a.password }));
      await assert.rejects(getConnection(cluster, 'SLAVE*'), { code: 'POOL_NOEXIST' });
    });

    it('remove(pattern) ends the pools of the matching nodes and stops picking them', async function () {
      cluster = createPoolCluster();
      cluster.add('SLAVE1', nodeOptions(a, { user: a.user, password: a.password }));
      cluster.add('SLAVE2', nodeOptions(b, { user: b.user, password: b.password }));
      const pools = cluster.nodes.map((n) => n.pool);
      cluster.remove('SLAVE1');
      assert.deepEqual(
        cluster.nodes.map((n) => n.id),
        ['SLAVE2'],
      );
      assert.equal(pools[0]._closed, true);
      assert.deepEqual(await idsOf(cluster, 'SLAVE*', 'RR', 3), ['SLAVE2', 'SLAVE2', 'SLAVE2']);
    });

    it('a node that cannot be reached goes offline after removeNodeErrorCount failures and comes back online after restoreNodeTimeout', async function () {
      proxy = await startTcpProxy({ target: a.server });
      proxy.refuse(true);
      cluster = createPoolCluster({ removeNodeErrorCount: 2, restoreNodeTimeout: 200, defaultSelector: 'ORDER' });
      const events: string[] = [];
      cluster.on('offline', (id: string, reason: string) => events.push(`offline ${id} ${reason}`));
      cluster.on('online', (id: string) => events.push(`online ${id}`));
      cluster.on('warn', () => events.push('warn'));
      cluster.add('WRITER1', {
        host: proxy.host,
        port: proxy.port,
        database: a.database,
        user: a.user,
        password: a.password,
        connectTimeout: 2000,
      });
      cluster.add('WRITER2', nodeOptions(b, { user: b.user, password: b.password }));

      const connection = await getConnection(cluster, 'WRITER*');
      assert.equal(connection._clusterId, 'WRITER2', 'the retry reached the other node');
      connection.release();
      assert.deepEqual(events, ['warn', 'offline WRITER1 errors', 'warn']);
      assert.equal(cluster.nodes[0].state, 'offline');

      proxy.refuse(false);
      await eventually(async () => (await idsOf(cluster!, 'WRITER*', 'ORDER', 1))[0] === 'WRITER1', 10_000, 'WRITER1 back');
      assert.equal(events.at(-1), 'online WRITER1');
      assert.equal(cluster.nodes[0].state, 'online');
    });

    it('without restoreNodeTimeout a node that keeps failing is removed (remove event); without canRetry the error reaches the caller', async function () {
      proxy = await startTcpProxy({ target: a.server });
      proxy.refuse(true);
      cluster = createPoolCluster({ removeNodeErrorCount: 2, canRetry: false });
      const removed: string[] = [];
      cluster.on('remove', (id: string) => removed.push(id));
      cluster.add('MASTER', { host: proxy.host, port: proxy.port, database: a.database, user: a.user, password: a.password });
      const first = await getConnection(cluster, 'MASTER').then(
        () => undefined,
        (e: Error) => e,
      );
      assert.ok(first && !(first instanceof ClosedError), 'the connection error itself');
      await assert.rejects(getConnection(cluster, 'MASTER'));
      assert.deepEqual(removed, ['MASTER']);
      await assert.rejects(getConnection(cluster, 'MASTER'), { code: 'POOL_NOEXIST' });
    });

    it('bad options throw InvalidOptionError naming the option, never echoing a value', function () {
      const cases: Array<[() => unknown, string]> = [
        [() => createPoolCluster({ restoreNodeTimout: 1 } as never), 'restoreNodeTimout'],
        [() => createPoolCluster({ removeNodeErrorCount: 0 }), 'removeNodeErrorCount'],
        [() => createPoolCluster({ restoreNodeTimeout: -1 }), 'restoreNodeTimeout'],
        [() => createPoolCluster({ canRetry: 'yes' } as never), 'canRetry'],
        [() => createPoolCluster({ defaultSelector: 'NEAREST' } as never), 'defaultSelector'],
        [() => createPoolCluster({ selector: 'hunter2-selector' } as never), 'selector'],
        [() => createPoolCluster({ readOnlyNodeTimeoutMs: Number.NaN }), 'readOnlyNodeTimeoutMs'],
        [() => createPoolCluster({ credentials: 'hunter2-secret' } as never), 'credentials'],
        [() => createPoolCluster({ rotation: { drain: 'hunter2' } } as never), 'rotation.drain'],
        [() => createPoolCluster().of('*', 'hunter2'), 'selector'],
        [() => createPoolCluster().add('', { host: '127.0.0.1' }), 'id'],
        [() => createPoolCluster({ credential: async () => undefined } as never), 'credential'],
        [() => createPoolCluster().add('X', { host: '127.0.0.1', rejectReadonly: false } as never), 'rejectReadonly'],
        [() => createPoolCluster().add('X', { host: '127.0.0.1', password: 'hunter2', credentials: async () => undefined }), 'password'],
      ];
      for (const [make, option] of cases) {
        assert.throws(make, (error: unknown) => {
          assert.ok(error instanceof InvalidOptionError, String(error));
          assert.equal(error.option, option);
          assert.doesNotMatch(error.message, /hunter2/);
          return true;
        });
      }
    });

    it('says which option a misspelt one looks like, for the cluster and for a node', function () {
      assert.throws(
        () => createPoolCluster({ restoreNodeTimout: 1 } as never),
        /'restoreNodeTimout' is not a known option \(did you mean 'restoreNodeTimeout'\?\)/,
      );
      const made = createPoolCluster();
      assert.throws(() => made.add('X', { host: '127.0.0.1', credential: async () => undefined } as never), /did you mean 'credentials'/);
      made.end();
    });

    it("passes a node's keys that are not credswap's to mysql2, which warns once about those it ignores", function () {
      const made = createPoolCluster();
      const printed: string[] = [];
      const original = console.error;
      console.error = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
      try {
        made.add('X', { host: '127.0.0.1', jsonStrings: true, connectionLimt: 3 } as never);
      } finally {
        console.error = original;
        made.end();
      }
      assert.equal(printed.length, 1, printed.join('\n'));
      assert.match(printed[0], /^Ignoring invalid configuration option passed to Connection: connectionLimt\./);
    });

    it("accepts TypeORM's replication options object as is, taking its selector", function () {
      const replication = {
        master: { host: 'h' },
        slaves: [{ host: 'h' }],
        canRetry: true,
        removeNodeErrorCount: 3,
        restoreNodeTimeout: 10,
        selector: 'ORDER',
        defaultMode: 'master',
      };
      const made = createPoolCluster(replication);
      assert.equal(made.config.defaultSelector, 'ORDER');
      assert.equal(made.config.removeNodeErrorCount, 3);
      made.end();
    });

    it('end() ends every node; the cluster then refuses work with ClosedError', async function () {
      cluster = createPoolCluster();
      cluster.add('MASTER', nodeOptions(a, { user: a.user, password: a.password }));
      cluster.add('SLAVE1', nodeOptions(b, { user: b.user, password: b.password }));
      await query(cluster, '*', 'SELECT 1');
      const pools = cluster.nodes.map((n) => n.pool);
      await end(cluster);
      await end(cluster); // idempotent
      assert.ok(pools.every((p) => p._closed));
      await assert.rejects(getConnection(cluster, 'MASTER'), (e: unknown) => e instanceof ClosedError);
      assert.throws(
        () => cluster!.add('NEW', nodeOptions(a)),
        (e: unknown) => e instanceof ClosedError,
      );
    });

    it('passwords never show in util.inspect or JSON.stringify of the cluster', async function () {
      cluster = createPoolCluster({ credentials: siteProvider(a, 'site-a') });
      cluster.add('MASTER', nodeOptions(a));
      cluster.add('SLAVE1', nodeOptions(b, { user: b.user, password: b.password }));
      await query(cluster, '*', 'SELECT 1');
      await query(cluster, '*', 'SELECT 1');
      const shown = `${inspect(cluster, { depth: 6 })} ${JSON.stringify(cluster)} ${inspect(cluster.config)}`;
      assert.doesNotMatch(shown, /pw-a-|pw-b-/);
      assert.match(shown, /MASTER/);
    });
  });

  describe('rotation', function () {
    it('each node rotates its own credentials under load: no failed query, one provider call per rotation per node', async function () {
      const providerA = siteProvider(a, 'site-a');
      const providerB = siteProvider(b, 'site-b');
      // maxIdle 0: connections idle when the pool looks (every second) are closed, so new
      // logins keep happening under load.
      cluster = createPoolCluster();
      cluster.add('A', nodeOptions(a, { credentials: providerA, maxIdle: 0, connectionLimit: 8 }));
      cluster.add('B', nodeOptions(b, { credentials: providerB, maxIdle: 0, connectionLimit: 8 }));
      const c = cluster;
      const load = startLoad(16, (worker) => queryThenPause(c, worker % 2 === 0 ? 'A' : 'B'));
      await load.untilOk(200);
      const generation = (id: string) => c.nodes.find((n) => n.id === id)!.pool.stats.generation;

      for (let round = 1; round <= 2; round++) {
        a.password = `pw-a-${round}`;
        await a.server.setPassword(a.user, a.password);
        await eventually(() => generation('A') === round + 1, 20_000, `A at generation ${round + 1}`);
        b.password = `pw-b-${round}`;
        await b.server.setPassword(b.user, b.password);
        await eventually(() => generation('B') === round + 1, 20_000, `B at generation ${round + 1}`);
      }
      await load.untilOk(load.result.ok + 200);
      const result = await load.stop();
      assert.deepEqual(
        result.failed.map((e) => e.message),
        [],
      );
      assert.equal(providerA.calls, 3, 'A: the first login and two rotations');
      assert.equal(providerB.calls, 3, 'B: the first login and two rotations');
    });

    it("nodes without credentials share the cluster's provider: each rotates on its own, keeps its own host, and end() closes the provider once", async function () {
      // One user and password on both servers, as with one secret for writer and readers.
      const shared: Site = { server: a.server, database: DATABASE, user: 'cluster_shared', password: 'pw-s-0' };
      await prepare(a.server, shared.user, shared.password);
      await prepare(b.server, shared.user, shared.password);
      let calls = 0;
      let closes = 0;
      const provider: CredentialsProvider = {
        name: 'shared-secret',
        // The secret names the writer, as RDS secrets do.
        getCredentials: async () => {
          calls += 1;
          return { user: shared.user, password: shared.password, host: a.server.host, port: a.server.port };
        },
        close: () => {
          closes += 1;
        },
      };
      cluster = createPoolCluster({ credentials: provider, rotation: { drain: 'graceful' } });
      cluster.add('MASTER', nodeOptions(a, { maxIdle: 0, connectionLimit: 8 }));
      cluster.add('SLAVE1', nodeOptions(b, { maxIdle: 0, connectionLimit: 8 }));
      const rotations: string[] = [];
      cluster.on('rotate', (event: { node: string; generation: number }) => rotations.push(`${event.node}:${event.generation}`));
      const c = cluster;

      const slave = await getConnection(c, 'SLAVE1');
      assert.equal(await serverPort(slave), b.server.port, "the node's own port wins over the secret's");
      slave.release();

      const load = startLoad(16, (worker) => queryThenPause(c, worker % 2 === 0 ? 'MASTER' : 'SLAVE*'));
      await load.untilOk(200);
      shared.password = 'pw-s-1';
      await Promise.all([a.server.setPassword(shared.user, shared.password), b.server.setPassword(shared.user, shared.password)]);
      await eventually(() => c.nodes.every((n) => n.pool.stats.generation === 2), 20_000, 'both nodes rotated');
      await load.untilOk(load.result.ok + 200);
      const result = await load.stop();
      assert.deepEqual(
        result.failed.map((e) => e.message),
        [],
      );
      assert.equal(calls, 4, 'per node: one first fetch and one rotation');
      assert.deepEqual(rotations.sort(), ['MASTER:1', 'MASTER:2', 'SLAVE1:1', 'SLAVE1:2']);

      cluster.remove('SLAVE1');
      await eventually(() => c.nodes.length === 1);
      assert.equal(closes, 0, "removing a node leaves the cluster's provider open");
      await end(c);
      assert.equal(closes, 1);
    });

    it('credentials shared by two nodes are retired once, after both nodes have moved off them', async function () {
      const site = await prepare(a.server, 'cluster_ret', 'pw-r-0');
      const retired: string[] = [];
      const provider: CredentialsProvider = {
        name: 'leases',
        getCredentials: async () => ({ user: site.user, password: site.password }),
        retire: (credentials) => {
          retired.push(credentials.password);
        },
      };
      cluster = createPoolCluster({ credentials: provider });
      cluster.add('A1', nodeOptions(a));
      cluster.add('A2', nodeOptions(a));
      await query(cluster, 'A1', 'SELECT 1');
      await query(cluster, 'A2', 'SELECT 1');
      const [a1, a2] = cluster.nodes.map((n) => n.pool);
      site.password = 'pw-r-1';
      await a.server.setPassword(site.user, site.password);

      await a1.coordinator!.refresh();
      await eventually(() => a1.stats.total === 1 && a1.stats.generation === 2, 10_000, 'A1 drained');
      await query(cluster, 'A2', 'SELECT 1');
      assert.deepEqual(retired, [], 'A2 still uses them');

      await a2.coordinator!.refresh();
      await eventually(() => retired.length === 1, 10_000, 'retired after A2 drained');
      assert.deepEqual(retired, ['pw-r-0']);
    });

    it('a provider passed to several nodes is closed once, when the last of them is gone', async function () {
      let closes = 0;
      const provider: CredentialsProvider = {
        name: 'per-node',
        getCredentials: async () => ({ user: a.user, password: a.password }),
        close: () => {
          closes += 1;
        },
      };
      cluster = createPoolCluster();
      cluster.add('A1', nodeOptions(a, { credentials: provider }));
      cluster.add('A2', nodeOptions(a, { credentials: provider }));
      await query(cluster, 'A1', 'SELECT 1');
      await query(cluster, 'A2', 'SELECT 1');
      cluster.remove('A1');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(closes, 0, 'A2 still uses it');
      await query(cluster, 'A2', 'SELECT 1');
      cluster.remove('A2');
      await eventually(() => closes === 1, 5_000, 'provider closed');
    });
  });

  describe('failover', function () {
    /** Writes through the cluster: two thirds `query`, one third transactions on held connections. */
    function writeLoad(c: PoolCluster, pattern: string, selector?: string) {
      return startLoad(16, async (worker, i) => {
        if (i % 3 === 0) {
          const connection = (await getConnection(c, pattern, selector)).promise();
          try {
            await connection.beginTransaction();
            await connection.query('INSERT INTO items (n) VALUES (?)', [worker]);
            await connection.commit();
          } catch (error) {
            await connection.rollback().catch(() => {});
            throw error;
          } finally {
            connection.release();
          }
          return;
        }
        await query(c, pattern, 'INSERT INTO items (n) VALUES (?)', [i], selector);
      });
    }

    it('a writer node that turns read-only is passed over: writes continue on the other writer, failing only statements the server refused', async function () {
      cluster = createPoolCluster({ defaultSelector: 'ORDER' });
      cluster.add('WRITER-A', nodeOptions(a, { credentials: siteProvider(a, 'site-a') }));
      cluster.add('WRITER-B', nodeOptions(b, { credentials: siteProvider(b, 'site-b') }));
      const offline: string[] = [];
      cluster.on('offline', (id: string, reason: string) => offline.push(`${id} ${reason}`));
      const c = cluster;
      const beforeB = await count(b);
      const load = writeLoad(c, 'WRITER*');
      await load.untilOk(200);
      assert.equal(await count(b), beforeB, 'ORDER: everything went to WRITER-A');

      await a.server.setReadOnly(true);
      await eventually(() => offline.length > 0, 10_000, 'WRITER-A passed over');
      // Requests queued in WRITER-A's pool before that still run there (and are refused).
      const poolA = c.nodes[0].pool;
      await eventually(() => poolA.stats.queued === 0 && poolA.stats.total === poolA.stats.idle, 10_000, 'WRITER-A idle');
      const afterPassedOver = load.result.failedCount;
      await load.untilOk(load.result.ok + 400);
      const result = await load.stop();

      assert.deepEqual(offline, ['WRITER-A read-only']);
      assert.ok(result.failed.every(refusedAsReadOnly), `only read-only refusals: ${result.failed.map((e) => e.message).join('; ')}`);
      assert.equal(result.failedCount, afterPassedOver, 'no failure once WRITER-A was passed over');
      assert.ok((await count(b)) - beforeB >= 400, 'the writes went to WRITER-B');
      assert.equal(c.nodes[0].state, 'read-only');
    });

    it('cluster query and execute refused as read-only are retried on another node of the pattern and succeed', async function () {
      cluster = createPoolCluster({ defaultSelector: 'ORDER' });
      cluster.add('WRITER-A', nodeOptions(a, { user: a.user, password: a.password }));
      cluster.add('WRITER-B', nodeOptions(b, { user: b.user, password: b.password }));
      const warnings: unknown[] = [];
      cluster.on('warn', (error) => warnings.push(error));
      await query(cluster, 'WRITER*', 'SELECT 1'); // a pooled connection to A, open before the flip
      await a.server.setReadOnly(true);
      const beforeB = await count(b);
      await query(cluster, 'WRITER*', 'INSERT INTO items (n) VALUES (1)');
      assert.ok(warnings.length >= 1 && warnings.every(refusedAsReadOnly), 'the refusal was reported as a warning');
      await execute(cluster, 'WRITER*', 'INSERT INTO items (n) VALUES (?)', [2]);
      assert.equal((await count(b)) - beforeB, 2);
    });

    it('with no other node in the pattern, the read-only node is still used: a fresh connection follows the endpoint to the new primary', async function () {
      proxy = await startTcpProxy({ target: a.server });
      // One account that both servers know, as after a real failover.
      const shared = { user: 'cluster_dns', password: 'pw-dns' };
      await prepare(a.server, shared.user, shared.password);
      await prepare(b.server, shared.user, shared.password);
      cluster = createPoolCluster({ credentials: async () => shared });
      cluster.add('MASTER', { host: proxy.host, port: proxy.port, database: DATABASE, connectionLimit: 8 });
      cluster.add('SLAVE1', nodeOptions(b));
      const c = cluster;
      const reads = startLoad(2, () => query(c, 'SLAVE*', 'SELECT COUNT(*) FROM items'));
      const load = writeLoad(c, 'MASTER');
      await load.untilOk(200);
      await a.server.setReadOnly(true);
      await new Promise((resolve) => setTimeout(resolve, 300));
      proxy.flip(b.server);
      await load.untilOk(load.result.ok + 300);
      const afterFlip = load.result.failedCount;
      await load.untilOk(load.result.ok + 400);
      const result = await load.stop();
      const readResult = await reads.stop();

      assert.ok(result.failed.every(refusedAsReadOnly), `only read-only refusals: ${result.failed.map((e) => e.message).join('; ')}`);
      assert.equal(result.failedCount, afterFlip, 'no failure once the endpoint had moved');
      assert.equal(readResult.failedCount, 0, 'reads from SLAVE* never failed');
      assert.equal(proxy.stats.openByTarget[`${a.server.host}:${a.server.port}`] ?? 0, 0, 'no connection left on the old primary');
      assert.ok(
        c.nodes.some((n) => n.id === 'MASTER'),
        'MASTER was never removed',
      );
    });

    it('a read-only node is picked again after readOnlyNodeTimeoutMs (online event)', async function () {
      cluster = createPoolCluster({ defaultSelector: 'ORDER', readOnlyNodeTimeoutMs: 200 });
      cluster.add('WRITER-A', nodeOptions(a, { user: a.user, password: a.password }));
      cluster.add('WRITER-B', nodeOptions(b, { user: b.user, password: b.password }));
      const events: string[] = [];
      cluster.on('offline', (id: string, reason: string) => events.push(`offline ${id} ${reason}`));
      cluster.on('online', (id: string) => events.push(`online ${id}`));
      await a.server.setReadOnly(true);
      await query(cluster, 'WRITER*', 'INSERT INTO items (n) VALUES (1)');
      assert.deepEqual(await idsOf(cluster, 'WRITER*', 'ORDER', 2), ['WRITER-B', 'WRITER-B']);
      await a.server.setReadOnly(false);
      const c = cluster;
      await eventually(async () => (await idsOf(c, 'WRITER*', 'ORDER', 1))[0] === 'WRITER-A', 10_000, 'WRITER-A picked again');
      assert.deepEqual(events, ['offline WRITER-A read-only', 'online WRITER-A']);
    });
  });

  describe('shutdown', function () {
    it('a script that creates a cluster, queries and ends it exits by itself', async function () {
      const fixture = join(__dirname, '../fixtures/cluster-end-exit.ts');
      const nodes = [a, b].map((s) => `${s.server.host}:${s.server.port}:${s.user}:${s.password}`);
      const { code, out } = await runToExit([fixture, DATABASE, ...nodes]);
      assert.equal(code, 0, out);
      assert.match(out, /ended unsubscribed=2 closed=2/);
    });
  });
});
