import assert from 'node:assert/strict';
import { createPool, type Pool } from '../../lib/mysql2/promise.js';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import { eventually } from '../helpers/load.js';
import { describeEachFlavour, startServer } from '../helpers/servers.js';

/** What differs between MySQL and MariaDB at the edges a pool meets: idle disconnects and first logins. */
describeEachFlavour('credswap/mysql2 pool: server behaviours', (flavour) => {
  let server: MariaDBServer;
  let pool: Pool | undefined;

  before(async function () {
    server = await startServer(flavour);
  });

  after(async () => {
    await server?.stop();
  });

  afterEach(async () => {
    await pool?.end();
    pool = undefined;
  });

  it('drops a connection the server closed for being idle (MySQL: an error event with code 4031) and serves the next query on a new one', async function () {
    const account = await server.createUser({ prefix: 'idle' });
    pool = createPool({
      host: server.host,
      port: server.port,
      connectionLimit: 2,
      credentials: async () => ({ user: account.user, password: account.password }),
      // The pool must sit idle until the server closes its connection: no server check login.
      failover: { checkIntervalMs: 0 },
    });
    const p = pool;
    const [first] = await p.query<Array<{ id: number }> & import('mysql2').RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
    const errors: unknown[] = [];
    const connection = await p.getConnection();
    connection.connection.on('error', (error: unknown) => errors.push(error));
    await connection.query('SET SESSION wait_timeout = 1');
    connection.release();
    await eventually(() => p.stats.total === 0, 10_000, 'the server to close the idle connection');
    if (flavour === 'mysql') {
      // MySQL says why before it closes: an error whose code is the number 4031, fatal.
      const error = errors[0] as { code?: unknown; fatal?: unknown } | undefined;
      assert.equal(error?.code, 4031);
      assert.equal(error?.fatal, true);
    }
    const [second] = await p.query<Array<{ id: number }> & import('mysql2').RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
    assert.notEqual(second[0].id, first[0].id, 'a new connection');
  });

  it('logs in with a new user over plain TCP and, on MySQL, over TLS (caching_sha2_password, its first login)', async function () {
    // The throwaway MariaDB has no certificate; MySQL makes its own at initialisation.
    const modes = flavour === 'mysql' ? [undefined, { rejectUnauthorized: false }] : [undefined];
    for (const ssl of modes) {
      const account = await server.createUser({ prefix: ssl ? 'tls' : 'tcp' });
      pool = createPool({
        host: server.host,
        port: server.port,
        ...(ssl ? { ssl } : {}),
        credentials: async () => ({ user: account.user, password: account.password }),
      });
      const [rows] = await pool.query<Array<{ u: string }> & import('mysql2').RowDataPacket[]>('SELECT CURRENT_USER() AS u');
      assert.match(rows[0].u, new RegExp(`^${account.user}@`));
      if (flavour === 'mysql') {
        const [status] = await pool.query<Array<{ Value: string }> & import('mysql2').RowDataPacket[]>(
          "SHOW SESSION STATUS LIKE 'Ssl_cipher'",
        );
        assert.equal(status[0].Value !== '', ssl !== undefined, ssl ? 'over TLS' : 'over plain TCP');
        const plugins = await server.query<Array<{ plugin: string }>>('SELECT DISTINCT plugin FROM mysql.user WHERE user = ?', [
          account.user,
        ]);
        assert.deepEqual(
          plugins.map((row) => row.plugin),
          ['caching_sha2_password'],
        );
      }
      await pool.end();
      pool = undefined;
    }
  });
});
