import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { mysqldArgs, mysqlTemplate, mysqlVersion, resolveMySQL } from '../../lib/testing/mysql-binaries.js';
import { MySQLNotFoundError, startMySQL } from '../../lib/testing/mysql.js';
import type { MariaDBServer } from '../../lib/testing/server/admin.js';
import { createServerDir, removeServerDir } from '../../lib/testing/server/data-dir.js';
import { PortInUseError, ServerNotFoundError } from '../../lib/testing/server/errors.js';
import { connectExternal } from '../../lib/testing/server/external.js';
import { launch } from '../../lib/testing/server/process.js';
import { templateDataDir } from '../../lib/testing/server/template.js';
import { describeEachFlavour, describeWithMySQL, startServer } from '../helpers/servers.js';
import { errno, isPortFree, selectOne, withConnection } from '../helpers/sql.js';

const ER_ACCESS_DENIED_ERROR = 1045;
const ER_OPTION_PREVENTS_STATEMENT = 1290;
const ER_USER_ACCESS_DENIED_FOR_USER_ACCOUNT_BLOCKED_BY_PASSWORD_LOCK = 3955;

/** Both accounts of a user made by createUser(), for statements that must name them all. */
function accounts(user: string): string {
  return `'${user}'@'%', '${user}'@'localhost'`;
}

describeWithMySQL('testing/mysql', function () {
  describe('startMySQL()', function () {
    let server: MariaDBServer;

    before(async function () {
      const started = Date.now();
      server = await startMySQL();
      console.log(`      first start: ${Date.now() - started} ms (unpacks the packages and makes the template unless done before)`);
    });

    after(async function () {
      await server?.stop();
    });

    it('starts another server from the template and prints how long that took', async function () {
      const started = Date.now();
      const another = await startMySQL();
      const elapsed = Date.now() - started;
      try {
        console.log(`      start from the template: ${elapsed} ms`);
        assert.deepEqual(await selectOne(another, 'root', ''), [{ one: 1 }]);
      } finally {
        await another.stop();
      }
    });

    it('answers SELECT 1 as root with no password over TCP on 127.0.0.1, and says it is MySQL', async function () {
      assert.equal(server.host, '127.0.0.1');
      assert.equal(server.external, false);
      assert.equal(server.flavour, 'mysql');
      assert.deepEqual(await selectOne(server, 'root', ''), [{ one: 1 }]);
      const [{ version }] = await server.query<Array<{ version: string }>>('SELECT VERSION() AS version');
      assert.doesNotMatch(version, /mariadb/i);
    });

    it('runs two servers at once, on different ports and each with its own server UUID', async function () {
      const [first, second] = await Promise.all([startMySQL(), startMySQL()]);
      try {
        assert.notEqual(first.port, second.port);
        const database = await first.createDatabase();

        assert.deepEqual(await second.query('SHOW DATABASES LIKE ?', [database]), []);
        const uuid = async (s: MariaDBServer) => (await s.query<Array<{ uuid: string }>>('SELECT @@server_uuid AS uuid'))[0].uuid;
        assert.notEqual(await uuid(first), await uuid(second));
      } finally {
        await Promise.all([first.stop(), second.stop()]);
      }
    });

    it('gives created users caching_sha2_password, whose first login over plain TCP succeeds', async function () {
      const { user, password } = await server.createUser();

      const plugins = await server.query<Array<{ plugin: string }>>('SELECT DISTINCT plugin FROM mysql.user WHERE user = ?', [user]);
      const cipher = await withConnection(server, user, password, async (connection) => {
        const [rows] = await connection.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
        return (rows as Array<{ Value: string }>)[0].Value;
      });

      assert.deepEqual(plugins, [{ plugin: 'caching_sha2_password' }]);
      assert.equal(cipher, '', 'the connection is not TLS');
    });

    it("matches a TCP login from 127.0.0.1 to the user's 'localhost' account", async function () {
      const { user, password } = await server.createUser();

      const current = await withConnection(server, user, password, async (connection) => {
        const [rows] = await connection.query('SELECT CURRENT_USER() AS account');
        return (rows as Array<{ account: string }>)[0].account;
      });

      assert.equal(current, `${user}@localhost`);
    });

    it('makes the old password fail with errno 1045 for new connections after setPassword', async function () {
      const { user, password } = await server.createUser();

      await server.setPassword(user, 'new-password-1');

      await assert.rejects(selectOne(server, user, password), errno(ER_ACCESS_DENIED_ERROR));
      assert.deepEqual(await selectOne(server, user, 'new-password-1'), [{ one: 1 }]);
    });

    it('lets both passwords log in after ALTER USER ... RETAIN CURRENT PASSWORD', async function () {
      const { user, password } = await server.createUser();

      await server.query(
        `ALTER USER '${user}'@'%' IDENTIFIED BY 'second-1' RETAIN CURRENT PASSWORD, ` +
          `'${user}'@'localhost' IDENTIFIED BY 'second-1' RETAIN CURRENT PASSWORD`,
      );

      assert.deepEqual(await selectOne(server, user, password), [{ one: 1 }]);
      assert.deepEqual(await selectOne(server, user, 'second-1'), [{ one: 1 }]);
    });

    it('makes the retained password fail with errno 1045 after ALTER USER ... DISCARD OLD PASSWORD', async function () {
      const { user, password } = await server.createUser();
      await server.query(
        `ALTER USER '${user}'@'%' IDENTIFIED BY 'second-2' RETAIN CURRENT PASSWORD, ` +
          `'${user}'@'localhost' IDENTIFIED BY 'second-2' RETAIN CURRENT PASSWORD`,
      );

      await server.query(`ALTER USER ${accounts(user)} DISCARD OLD PASSWORD`);

      await assert.rejects(selectOne(server, user, password), errno(ER_ACCESS_DENIED_ERROR));
      assert.deepEqual(await selectOne(server, user, 'second-2'), [{ one: 1 }]);
    });

    describe('setReadOnly()', function () {
      afterEach(async function () {
        await server.setReadOnly(false);
      });

      it("sets super_read_only, so a user's INSERT fails with errno 1290", async function () {
        const database = await server.createDatabase();
        await server.query(`CREATE TABLE ${database}.t (id INT PRIMARY KEY)`);
        const { user, password } = await server.createUser({ grants: `ALL ON ${database}.*` });

        await server.setReadOnly(true);

        assert.deepEqual(await server.query('SELECT @@read_only AS ro, @@super_read_only AS sro'), [{ ro: 1, sro: 1 }]);
        await withConnection(server, user, password, async (connection) => {
          await assert.rejects(connection.query(`INSERT INTO ${database}.t VALUES (1)`), errno(ER_OPTION_PREVENTS_STATEMENT));
        });
      });

      it("refuses the administrator's writes with errno 1290 too while on", async function () {
        await server.setReadOnly(true);

        await assert.rejects(server.createDatabase(), errno(ER_OPTION_PREVENTS_STATEMENT));
      });

      it('turns read_only and super_read_only off again', async function () {
        await server.setReadOnly(true);

        await server.setReadOnly(false);

        assert.deepEqual(await server.query('SELECT @@read_only AS ro, @@super_read_only AS sro'), [{ ro: 0, sro: 0 }]);
      });
    });

    it('locks an account with FAILED_LOGIN_ATTEMPTS 3: the third wrong password gets errno 3955, and so does the right one', async function () {
      const { user, password } = await server.createUser();
      await server.query(`ALTER USER ${accounts(user)} FAILED_LOGIN_ATTEMPTS 3 PASSWORD_LOCK_TIME 1`);

      await assert.rejects(selectOne(server, user, 'wrong'), errno(ER_ACCESS_DENIED_ERROR));
      await assert.rejects(selectOne(server, user, 'wrong'), errno(ER_ACCESS_DENIED_ERROR));
      await assert.rejects(selectOne(server, user, 'wrong'), errno(ER_USER_ACCESS_DENIED_FOR_USER_ACCOUNT_BLOCKED_BY_PASSWORD_LOCK));

      await assert.rejects(selectOne(server, user, password), errno(ER_USER_ACCESS_DENIED_FOR_USER_ACCOUNT_BLOCKED_BY_PASSWORD_LOCK));
    });

    it("lists a user's connections in processlist", async function () {
      const { user, password } = await server.createUser();

      const ids = await withConnection(server, user, password, async (connection) => {
        const listed = await server.processlist(user);
        return { own: connection.threadId, listed: listed.map((row) => row.id) };
      });

      assert.deepEqual(ids.listed, [ids.own]);
    });

    it("recognises MySQL's error for a taken port, so that another port is tried", async function () {
      const binary = await resolveMySQL(undefined);
      const template = await templateDataDir(mysqlTemplate(binary, await mysqlVersion(binary)));
      const files = await createServerDir('mysql', template);
      const holder = net.createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const { port } = holder.address() as net.AddressInfo;
      try {
        const args = [...binary.commandArgs, ...mysqldArgs(binary, files, port)];

        await assert.rejects(launch({ name: 'mysqld', binary: binary.command, args, files, port, timeoutMs: 30_000 }), (error: unknown) => {
          assert.ok(error instanceof PortInUseError);
          assert.match(error.logTail, /Bind on TCP\/IP port: Address already in use/);
          return true;
        });
      } finally {
        await new Promise((resolve) => holder.close(resolve));
        await removeServerDir(files);
      }
    });
  });

  describe('an external MySQL server (MYSQL_URL)', function () {
    let server: MariaDBServer;

    before(async function () {
      server = await startMySQL();
    });

    after(async function () {
      await server?.stop();
    });

    it('puts read_only and super_read_only back, and drops its users, on stop after setReadOnly', async function () {
      const external = await connectExternal(server.adminUrl);
      const { user } = await external.createUser();
      await external.setReadOnly(true);

      await external.stop();

      assert.deepEqual(await server.query('SELECT @@read_only AS ro, @@super_read_only AS sro'), [{ ro: 0, sro: 0 }]);
      assert.deepEqual(await server.query('SELECT user FROM mysql.user WHERE user = ?', [user]), []);
    });
  });
});

describe('testing/mysql, before any server starts', function () {
  it('rejects with a MySQLNotFoundError, a ServerNotFoundError, when the binary option names a missing file', async function () {
    await assert.rejects(startMySQL({ binary: '/nonexistent/mysqld' }), (error: unknown) => {
      assert.ok(error instanceof MySQLNotFoundError);
      assert.ok(error instanceof ServerNotFoundError);
      assert.equal(error.binary, '/nonexistent/mysqld');
      assert.match(error.message, /the binary option: \/nonexistent\/mysqld does not exist or is not executable/);
      return true;
    });
  });

  it('rejects an unknown option', async function () {
    await assert.rejects(
      startMySQL({ bianry: '/usr/sbin/mysqld' } as never),
      /option 'bianry' is not a known option \(did you mean 'binary'\?\)/,
    );
  });
});

describeEachFlavour('testing/server', function (flavour) {
  let server: MariaDBServer;

  before(async function () {
    server = await startServer(flavour);
  });

  after(async function () {
    await server?.stop();
  });

  it('says which flavour it is, and so does an external server at its URL', async function () {
    const external = await connectExternal(server.adminUrl);
    await external.stop();

    assert.equal(server.flavour, flavour);
    assert.equal(external.flavour, flavour);
  });

  it("makes a user's INSERT fail with errno 1290 while read-only", async function () {
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

  it('keeps data and port across restart', async function () {
    const restarted = await startServer(flavour);
    try {
      const database = await restarted.createDatabase();
      await restarted.query(`CREATE TABLE ${database}.t (id INT PRIMARY KEY)`);
      await restarted.query(`INSERT INTO ${database}.t VALUES (42)`);
      const port = restarted.port;

      await restarted.restart();

      assert.equal(restarted.port, port);
      assert.deepEqual(await restarted.query(`SELECT id FROM ${database}.t`), [{ id: 42 }]);
    } finally {
      await restarted.stop();
    }
  });

  it('removes the data directory and frees the port on stop', async function () {
    const stopped = await startServer(flavour);
    const [{ dataDir }] = await stopped.query<Array<{ dataDir: string }>>('SELECT @@datadir AS dataDir');
    assert.ok(fs.existsSync(dataDir));

    await stopped.stop();

    assert.equal(fs.existsSync(dataDir), false);
    assert.equal(await isPortFree(stopped.port), true);
  });
});
