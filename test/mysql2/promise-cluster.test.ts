import assert from 'node:assert/strict';
import { ClosedError } from '../../lib/errors.js';
import { createPoolCluster, type PromisePoolCluster } from '../../lib/mysql2/promise.js';
import { type MariaDBServer, startTestServer } from '../../lib/testing/mariadb.js';

describe('credswap/mysql2/promise createPoolCluster', function () {
  let server: MariaDBServer;
  let database: string;
  let account: { user: string; password: string };
  let cluster: PromisePoolCluster | undefined;

  before(async function () {
    server = await startTestServer();
    database = await server.createDatabase('pcluster');
    account = await server.createUser({ prefix: 'pcluster', grants: `ALL ON ${database}.*` });
  });

  after(async function () {
    await server?.stop();
  });

  afterEach(async function () {
    await cluster?.end();
    cluster = undefined;
  });

  function node(extra: Record<string, unknown> = {}) {
    return { host: server.host, port: server.port, database, connectionLimit: 2, ...extra };
  }

  it('of(pattern).query and execute resolve with [rows, fields]', async function () {
    cluster = createPoolCluster({ credentials: async () => account });
    cluster.add('MASTER', node());
    cluster.add('SLAVE1', node());
    const [rows, fields] = await cluster.of('SLAVE*').query('SELECT ? + 1 AS x', [1]);
    assert.deepEqual(rows, [{ x: 2 }]);
    assert.ok(Array.isArray(fields));
    const [executed] = await cluster.of('MASTER').execute('SELECT ? * 2 AS y', [21]);
    assert.deepEqual(executed, [{ y: 42 }]);
    const [any] = await cluster.query('SELECT 1 AS one');
    assert.deepEqual(any, [{ one: 1 }]);
  });

  it('getConnection(pattern, selector) resolves with a promise connection of the node', async function () {
    cluster = createPoolCluster({ credentials: async () => account });
    cluster.add('SLAVE1', node());
    cluster.add('SLAVE2', node());
    const first = await cluster.getConnection('SLAVE*', 'ORDER');
    const second = await cluster.getConnection('SLAVE*', 'ORDER');
    try {
      assert.equal((first.connection as unknown as { _clusterId: string })._clusterId, 'SLAVE1');
      assert.equal((second.connection as unknown as { _clusterId: string })._clusterId, 'SLAVE1');
      await first.beginTransaction();
      const [rows] = await first.query('SELECT 1 AS one');
      await first.commit();
      assert.deepEqual(rows, [{ one: 1 }]);
    } finally {
      first.release();
      second.release();
    }
  });

  it('re-emits the cluster events and rejects with POOL_NOEXIST for an unknown pattern', async function () {
    cluster = createPoolCluster({ credentials: async () => account });
    cluster.add('MASTER', node());
    const rotations: string[] = [];
    cluster.on('rotate', (event: { node: string; reason: string }) => rotations.push(`${event.node} ${event.reason}`));
    await cluster.of('MASTER').query('SELECT 1');
    assert.deepEqual(rotations, ['MASTER initial']);
    await assert.rejects(cluster.getConnection('SLAVE*'), { code: 'POOL_NOEXIST' });
  });

  it('end() resolves once every node ended; await using ends it too', async function () {
    {
      await using scoped = createPoolCluster({ credentials: async () => account });
      scoped.add('MASTER', node());
      await scoped.query('SELECT 1');
      cluster = scoped;
    }
    assert.ok(cluster.nodes.length === 0 || cluster.poolCluster._closed);
    await assert.rejects(cluster.query('SELECT 1'), (e: unknown) => e instanceof ClosedError);
  });
});
