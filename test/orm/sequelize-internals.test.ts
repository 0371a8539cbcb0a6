/**
 * The parts of Sequelize that lib/integrations/sequelize-internals.ts relies on, checked against
 * the installed Sequelize and a real server. If Sequelize changes any of them, this fails first.
 */
import assert from 'node:assert/strict';
import { QueryTypes, Sequelize } from 'sequelize';
import {
  type PoolAcquireOptions,
  type SequelizeConnectionConfig,
  type SequelizeMysqlConnection,
  beforePoolAcquire,
  connectErrorsOf,
  interceptConnectionManager,
  observeConnectionErrors,
  unsupportedReason,
} from '../../lib/integrations/sequelize-internals.js';
import { type MariaDBServer, startTestServer } from '../../lib/testing/mariadb.js';

describe('Sequelize internals credswap relies on', function () {
  let server: MariaDBServer;
  let database: string;
  let account: { user: string; password: string };
  let sequelize: Sequelize | undefined;

  before(async function () {
    server = await startTestServer();
    database = await server.createDatabase('seqint');
    account = await server.createUser({ prefix: 'seqint', grants: `ALL ON ${database}.*` });
  });

  after(async function () {
    await server?.stop();
  });

  afterEach(async function () {
    await sequelize?.close();
    sequelize = undefined;
  });

  /** A Sequelize instance whose connection manager records every call that credswap intercepts. */
  function recorded(options: { password?: string; validate?: boolean } = {}) {
    const db = new Sequelize({
      dialect: 'mysql',
      host: server.host,
      port: server.port,
      database,
      username: account.user,
      password: options.password ?? account.password,
      logging: false,
      pool: { max: 2 },
    });
    sequelize = db;
    const calls: string[] = [];
    const configs: SequelizeConnectionConfig[] = [];
    const connections: SequelizeMysqlConnection[] = [];
    interceptConnectionManager(db as never, {
      connect: async (original, config) => {
        calls.push('connect');
        configs.push(config);
        const connection = await original(config);
        connections.push(connection);
        return connection;
      },
      disconnect: (original, connection) => {
        calls.push('disconnect');
        return original(connection);
      },
      validate: (original, connection) => {
        calls.push('validate');
        return options.validate === false ? false : original(connection);
      },
      releaseConnection: (original, connection) => {
        calls.push('release');
        original(connection);
      },
      close: (original) => {
        calls.push('close');
        return original();
      },
    });
    return { db, calls, configs, connections };
  }

  it('a mysql-dialect instance has every connection manager method credswap wraps', function () {
    sequelize = new Sequelize({ dialect: 'mysql', host: server.host, logging: false });
    assert.equal(unsupportedReason(sequelize), undefined);
  });

  it('opens every connection through connect(config) with the Sequelize config keys credswap sets', async function () {
    const { db, calls, configs, connections } = recorded();
    await db.query('SELECT 1');
    assert.ok(calls.filter((c) => c === 'connect').length >= 1);
    for (const key of ['host', 'port', 'username', 'password', 'database'] as const) {
      assert.ok(key in configs[0], `config has ${key}`);
    }
    assert.equal(configs[0].username, account.user);
    assert.equal(typeof connections[0].addCommand, 'function');
    assert.equal(typeof connections[0].config, 'object');
  });

  it('connect(config) uses a copy with other credentials (a non-enumerable password included)', async function () {
    const db = new Sequelize({ dialect: 'mysql', host: server.host, port: server.port, database, username: 'nobody', logging: false });
    sequelize = db;
    interceptConnectionManager(db as never, {
      connect: (original, config) => {
        const copy: SequelizeConnectionConfig = { ...config, username: account.user };
        Object.defineProperty(copy, 'password', { value: account.password, enumerable: false });
        return original(copy);
      },
      disconnect: (original, c) => original(c),
      validate: (original, c) => original(c),
      releaseConnection: (original, c) => original(c),
      close: (original) => original(),
    });
    const [rows] = (await db.query('SELECT CURRENT_USER() AS u')) as [Array<{ u: string }>, unknown];
    assert.equal(rows[0].u.split('@')[0], account.user);
  });

  it('a refused login rejects connect() with an error whose parent is the server error (1045)', async function () {
    const { db } = recorded({ password: 'wrong-password' });
    const error = (await db.query('SELECT 1').then(
      () => assert.fail('should be refused'),
      (e: unknown) => e,
    )) as { name: string; parent?: { errno?: number } };
    assert.equal(error.name, 'SequelizeAccessDeniedError');
    assert.equal(error.parent?.errno, 1045);
  });

  it('gives connections back through releaseConnection, from queries and from transactions', async function () {
    const { db, calls } = recorded();
    await db.query('SELECT 1');
    assert.equal(calls.filter((c) => c === 'release').length, 1);
    await db.transaction(async (transaction) => {
      await db.query('SELECT 1', { transaction });
    });
    assert.equal(calls.filter((c) => c === 'release').length, 2);
  });

  it('asks validate(connection) before reusing an idle connection, and drops it when validate says no', async function () {
    const { db, calls } = recorded({ validate: false });
    await db.query('SELECT 1');
    const connectsBefore = calls.filter((c) => c === 'connect').length;
    await db.query('SELECT 1');
    assert.ok(calls.includes('validate'));
    assert.ok(calls.includes('disconnect'), 'the refused connection is closed');
    assert.ok(calls.filter((c) => c === 'connect').length > connectsBefore, 'a new connection replaces it');
  });

  it('destroyConnection(connection) takes a connection out of the pool and disconnects it', async function () {
    const { db, calls } = recorded();
    const manager = db.connectionManager as unknown as { getConnection(): Promise<object>; destroyConnection(c: object): Promise<void> };
    const connection = await manager.getConnection();
    await manager.destroyConnection(connection);
    assert.ok(calls.includes('disconnect'));
    assert.equal((manager as unknown as { pool: { size: number } }).pool.size, 0);
  });

  it('sequelize.close() goes through the connection manager and disconnects idle connections', async function () {
    const { db, calls } = recorded();
    await db.query('SELECT 1');
    await db.close();
    sequelize = undefined;
    assert.ok(calls.includes('close'));
    assert.ok(calls.includes('disconnect'));
  });

  it("observeConnectionErrors sees the error of a statement Sequelize runs, which still reaches Sequelize's caller", async function () {
    const { db, connections } = recorded();
    await db.query('SELECT 1');
    const seen: number[] = [];
    for (const connection of connections) {
      observeConnectionErrors(connection, (err) => {
        seen.push((err as Error & { errno: number }).errno);
        return err;
      });
    }
    await assert.rejects(db.query('SELECT * FROM no_such_table'), (e: { parent?: { errno?: number } }) => e.parent?.errno === 1146);
    assert.deepEqual(seen, [1146]);
  });

  it("the instance's constructor has the error classes Sequelize's connect wraps login errors in, keeping the driver's error as parent and original", async function () {
    const { db } = recorded({ password: 'wrong-password' });
    const errors = connectErrorsOf(db as never);
    assert.ok(errors, 'AccessDeniedError and ConnectionError');
    const refused = (await db.query('SELECT 1').then(
      () => assert.fail('should be refused'),
      (e: unknown) => e,
    )) as Error;
    assert.ok(refused instanceof errors.AccessDeniedError, 'a 1045 comes out of connect() as this AccessDeniedError');
    const cause = new Error('a driver error');
    for (const SequelizeError of [errors.AccessDeniedError, errors.ConnectionError]) {
      const wrapped = new SequelizeError(cause) as Error & { parent?: unknown; original?: unknown };
      assert.ok(wrapped instanceof errors.ConnectionError);
      assert.equal(wrapped.parent, cause);
      assert.equal(wrapped.original, cause);
      assert.equal(wrapped.message, cause.message);
    }
  });

  it('awaits the beforePoolAcquire hook before each acquisition, with type SELECT for reads', async function () {
    const { db, calls } = recorded();
    await db.query('SELECT 1'); // an idle connection: the next acquisition validates it
    const seen: unknown[] = [];
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    assert.equal(
      beforePoolAcquire(db as never, async (options: PoolAcquireOptions | undefined) => {
        seen.push(options?.type);
        if (seen.length === 1) {
          await gate;
          calls.push('hook done');
        }
      }),
      true,
    );
    calls.splice(0);
    const first = db.query('SELECT 1');
    await new Promise((resolve) => setTimeout(resolve, 20));
    release!();
    await first;
    assert.deepEqual(calls.slice(0, 2), ['hook done', 'validate'], 'the acquisition waited for the hook');
    await db.query('SELECT 1', { type: QueryTypes.SELECT });
    await db.transaction(async (transaction) => db.query('SELECT 1', { transaction }));
    assert.equal(seen[1], 'SELECT');
    assert.equal(seen.length, 3, 'once per acquisition: not for statements of a transaction');
  });
});
