import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ServerNotFoundError, startMariaDB, startTestServer, type MariaDBServer } from '../../lib/testing/mariadb.js';
import { errno, selectOne, withConnection } from '../helpers/sql.js';

const ER_ACCESS_DENIED_ERROR = 1045;
const ER_OPTION_PREVENTS_STATEMENT = 1290;
const ER_CANNOT_USER = 1396;

/** Set when MYSQL_URL names an existing server: throwaway-only tests are skipped then. */
const external = (process.env.MYSQL_URL ?? '') !== '';

describe('testing/mariadb', function () {
  describe('startTestServer()', function () {
    let server: MariaDBServer;

    before(async function () {
      server = await startTestServer();
    });

    after(async function () {
      await server?.stop();
    });

    it('answers SELECT 1 as the admin over TCP on a loopback address', async function () {
      assert.deepEqual(await selectOne(server, server.adminUser, server.adminPassword), [{ one: 1 }]);
    });

    it('lets a created user log in with its password', async function () {
      const { user, password } = await server.createUser();

      assert.deepEqual(await selectOne(server, user, password), [{ one: 1 }]);
    });

    it('makes the old password fail with errno 1045 for new connections after setPassword', async function () {
      const { user, password } = await server.createUser();

      await server.setPassword(user, 'new-password-1');

      await assert.rejects(selectOne(server, user, password), errno(ER_ACCESS_DENIED_ERROR));
      assert.deepEqual(await selectOne(server, user, 'new-password-1'), [{ one: 1 }]);
    });

    it('keeps the new password out of the error when setPassword fails', async function () {
      const { user } = await server.createUser();
      await server.query('DROP USER ?@?', [user, '%']);

      await assert.rejects(server.setPassword(user, 'never-shown-7Q'), (error: unknown) => {
        assert.equal((error as { errno?: unknown }).errno, ER_CANNOT_USER);
        assert.doesNotMatch(inspect(error), /never-shown-7Q/);
        return true;
      });
    });

    it('makes an INSERT by a non-admin user fail with errno 1290 while read-only', async function () {
      const database = await server.createDatabase();
      await server.query(`CREATE TABLE ${database}.t (id INT PRIMARY KEY)`);
      const { user, password } = await server.createUser({ grants: `ALL ON ${database}.*` });

      await server.setReadOnly(true);
      try {
        await withConnection(server, user, password, async (connection) => {
          await assert.rejects(connection.query(`INSERT INTO ${database}.t VALUES (1)`), errno(ER_OPTION_PREVENTS_STATEMENT));
        });
      } finally {
        await server.setReadOnly(false);
      }
    });

    it("lists a user's connections in processlist", async function () {
      const { user, password } = await server.createUser();

      const ids = await withConnection(server, user, password, async (connection) => {
        const listed = await server.processlist(user);
        return { own: connection.threadId, listed: listed.map((row) => row.id) };
      });

      assert.deepEqual(ids.listed, [ids.own]);
    });

    it('leaves its own admin connections out of processlist', async function () {
      const marker = `SELECT SLEEP(0.5) AS admin_${Date.now()}`;
      const sleeping = server.query(marker);
      try {
        await withConnection(server, server.adminUser, server.adminPassword, async (observer) => {
          for (;;) {
            const [rows] = await observer.query('SELECT 1 FROM information_schema.PROCESSLIST WHERE INFO = ?', [marker]);
            if ((rows as unknown[]).length > 0) break;
          }
        });

        const listed = await server.processlist();

        assert.deepEqual(
          listed.filter((row) => row.info === marker),
          [],
        );
      } finally {
        await sleeping;
      }
    });
  });

  describe('startMariaDB()', function () {
    beforeEach(function () {
      if (external) {
        this.currentTest!.title += ' (skipped: needs a throwaway server, and MYSQL_URL is set)';
        this.skip();
      }
    });

    it('starts a server that answers SELECT 1 as root with no password over TCP on 127.0.0.1', async function () {
      const server = await startMariaDB();
      try {
        assert.equal(server.host, '127.0.0.1');
        assert.equal(server.external, false);
        assert.deepEqual(await selectOne(server, 'root', ''), [{ one: 1 }]);
      } finally {
        await server.stop();
      }
    });

    it('runs two servers at once on different ports', async function () {
      const [first, second] = await Promise.all([startMariaDB(), startMariaDB()]);
      try {
        assert.notEqual(first.port, second.port);
        const database = await first.createDatabase();

        const onSecond = await second.query<unknown[]>('SHOW DATABASES LIKE ?', [database]);

        assert.deepEqual(onSecond, []);
        assert.deepEqual(await selectOne(second, 'root', ''), [{ one: 1 }]);
      } finally {
        await Promise.all([first.stop(), second.stop()]);
      }
    });
  });

  it('rejects with ServerNotFoundError when the binary option names a missing file', async function () {
    await assert.rejects(startMariaDB({ binary: '/nonexistent/mariadbd' }), (error: unknown) => {
      assert.ok(error instanceof ServerNotFoundError);
      assert.match(error.message, /apt-get install mariadb-server/);
      return true;
    });
  });
});
