import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type * as mysql2Promise from 'mysql2/promise';
import type { Credentials } from '../../lib/credentials.js';
import { InvalidOptionError } from '../../lib/errors.js';
import type { FetchContext } from '../../lib/provider.js';
import {
  type Connection,
  type ConnectionOptions,
  type PromiseConnection,
  createConnection,
  createPromiseConnection,
} from '../../lib/mysql2/connection.js';
import { type MariaDBServer, startTestServer } from '../../lib/testing/mariadb.js';
import { lingeringProvider } from '../fixtures/lingering-provider.js';
import { runToExit } from '../helpers/child.js';
import { eventually } from '../helpers/load.js';

/** A hot-swap function answering `password(call)` for `user`, recording the reason of each call. */
function countingSource(user: string, password: (call: number) => string) {
  const source = {
    reasons: [] as string[],
    get calls() {
      return source.reasons.length;
    },
    fn: async (_signal: AbortSignal, _current: unknown, context: FetchContext): Promise<Credentials> => {
      source.reasons.push(context.reason);
      return { user, password: password(source.reasons.length) };
    },
  };
  return source;
}

/** A TCP port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('credswap/mysql2 createConnection', function () {
  let server: MariaDBServer;
  let database: string;
  const opened: Array<{ destroy(): void }> = [];

  before(async function () {
    server = await startTestServer();
    database = await server.createDatabase('conn');
  });

  after(async function () {
    await server?.stop();
  });

  afterEach(function () {
    for (const connection of opened.splice(0)) connection.destroy();
  });

  function newUser(): Promise<{ user: string; password: string }> {
    return server.createUser({ prefix: 'conn', grants: `ALL ON ${database}.*` });
  }

  /** A new user whose password has just changed, and a source that returns the old one first, then the new. */
  async function sourceAfterPasswordChange(): Promise<ReturnType<typeof countingSource>> {
    const account = await newUser();
    const next = `rotated-${Math.random().toString(36).slice(2)}`;
    await server.setPassword(account.user, next);
    return countingSource(account.user, (call) => (call === 1 ? account.password : next));
  }

  async function connect(options: ConnectionOptions): Promise<PromiseConnection> {
    const connection = await createPromiseConnection({ host: server.host, port: server.port, database, ...options });
    opened.push(connection);
    return connection;
  }

  it('logs in with credentials from a hot-swap function and runs queries', async function () {
    const account = await newUser();
    const source = countingSource(account.user, () => account.password);
    const conn = await connect({ credentials: source.fn });
    const typed: mysql2Promise.Connection = conn; // what mysql2/promise's createConnection resolves to
    const [rows] = await typed.query<mysql2Promise.RowDataPacket[]>('SELECT CURRENT_USER() AS who, 1 + 1 AS two');
    assert.equal(rows[0].two, 2);
    assert.match(rows[0].who, new RegExp(`^${account.user}@`));
    assert.deepEqual(source.reasons, ['initial']);
    assert.equal(conn.coordinator?.generation, 1);
  });

  it('after the password changed, rotates exactly once: the old password is refused, the new one logs in', async function () {
    const source = await sourceAfterPasswordChange();
    const conn = await connect({ credentials: source.fn });
    await conn.query('SELECT 1');
    assert.deepEqual(source.reasons, ['initial', 'rejected']);
    assert.equal(conn.coordinator?.generation, 2);
  });

  it('passes an option unknown to credswap to mysql2, which warns once, not again at the retried login', async function () {
    const source = await sourceAfterPasswordChange();
    const printed: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
    try {
      const conn = await connect({ credentials: source.fn, fooBar: 1 } as ConnectionOptions);
      await conn.query('SELECT 1');
    } finally {
      console.error = original;
    }
    assert.deepEqual(source.reasons, ['initial', 'rejected']);
    assert.equal(printed.filter((line) => line.includes('fooBar')).length, 1, printed.join('\n'));
  });

  it('fails with the server 1045, annotated, after rotation.maxAttempts logins with wrong passwords', async function () {
    const account = await newUser();
    const passwords: string[] = [];
    const source = countingSource(account.user, (call) => {
      passwords.push(`wrong-${call}-${Math.random().toString(36).slice(2)}`);
      return passwords.at(-1)!;
    });
    let closed = 0;
    const provider = { name: 'always-wrong', getCredentials: source.fn, close: () => void (closed += 1) };
    const options = { credentials: provider, rotation: { maxAttempts: 3, cooldownMs: 0 } };
    const error = await connect(options).then(
      () => assert.fail('connected'),
      (err: Error & { errno?: number; code?: string }) => err,
    );
    assert.equal(error.errno, 1045);
    assert.equal(error.code, 'ER_ACCESS_DENIED_ERROR');
    assert.match(error.message, /\[credswap: 3 logins with credentials from provider 'always-wrong' refused/);
    assert.equal(source.calls, 3, 'one fetch per login');
    assert.equal(closed, 1, 'the provider is closed when no login works');
    const shown = `${error.message} ${error.stack} ${inspect(error, { depth: 6 })} ${JSON.stringify(error)}`;
    for (const password of [...passwords, account.password]) assert.ok(!shown.includes(password), 'no password in the error');
  });

  it('fails after one refused login when the provider has nothing new, the 1045 naming the provider', async function () {
    const account = await newUser();
    const source = countingSource(account.user, () => 'not-the-password');
    await assert.rejects(connect({ credentials: source.fn }), (err: Error & { errno?: number }) => {
      assert.equal(err.errno, 1045);
      assert.match(err.message, /\[credswap: provider 'function:fn' returned no new credentials\]/);
      assert.ok(!err.message.includes('not-the-password'));
      return true;
    });
    assert.deepEqual(source.reasons, ['initial', 'rejected']);
  });

  it('fails at once on an error other than 1045, without asking the provider again', async function () {
    const account = await newUser();
    const source = countingSource(account.user, () => account.password);
    const port = await closedPort();
    await assert.rejects(connect({ port, credentials: source.fn }), { code: 'ECONNREFUSED' });
    assert.deepEqual(source.reasons, ['initial']);
  });

  it('end() closes the coordinator and the provider before it resolves', async function () {
    const account = await newUser();
    const provider = lingeringProvider('lingering', account.user, account.password);
    const conn = await connect({ credentials: provider });
    await conn.query('SELECT 1');
    assert.equal(conn.coordinator?.closed, false);
    await conn.end();
    assert.equal(conn.coordinator?.closed, true);
    assert.equal(provider.unsubscribed, 1);
    assert.equal(provider.closed, 1);
  });

  it('destroy(), and the server killing the connection, close the coordinator', async function () {
    const account = await newUser();
    const destroyed = await connect({ credentials: lingeringProvider('a', account.user, account.password) });
    destroyed.destroy();
    assert.equal(destroyed.coordinator?.closed, true);

    const provider = lingeringProvider('b', account.user, account.password);
    const killed = await connect({ credentials: provider });
    const errors: Error[] = [];
    killed.on('error', (err: Error) => errors.push(err));
    await server.query(`KILL ${killed.threadId}`);
    await eventually(() => killed.coordinator?.closed === true, 10_000, 'the coordinator to close');
    await eventually(() => provider.closed === 1, 10_000, 'the provider to close');
  });

  it('a script that creates a connection, queries and ends it exits by itself', async function () {
    const account = await newUser();
    const script = `
      const { createPromiseConnection } = require(${JSON.stringify(join(__dirname, '../../lib/mysql2/connection.ts'))});
      const { lingeringProvider } = require(${JSON.stringify(join(__dirname, '../fixtures/lingering-provider.ts'))});
      (async () => {
        const provider = lingeringProvider('child', ${JSON.stringify(account.user)}, ${JSON.stringify(account.password)});
        const conn = await createPromiseConnection({
          host: ${JSON.stringify(server.host)}, port: ${server.port}, database: ${JSON.stringify(database)}, credentials: provider,
        });
        await conn.query('SELECT 1');
        await conn.end();
        process.stdout.write('ended unsubscribed=' + provider.unsubscribed + ' closed=' + provider.closed + '\\n');
      })().catch((error) => {
        process.stderr.write(String(error) + '\\n');
        process.exitCode = 1;
      });
    `;
    const { code, out } = await runToExit(['-e', script]);
    assert.equal(code, 0, out);
    assert.match(out, /ended unsubscribed=1 closed=1/);
  });

  it('rejects invalid options with an InvalidOptionError naming the option, in both flavours', async function () {
    const credentials = async () => ({ user: 'u', password: 'p' });
    const cases: Array<[string, Record<string, unknown>]> = [
      ['connectionLimit', { credentials, connectionLimit: 1 }],
      ['queueLimit', { queueLimit: 1 }],
      ['waitForConnections', { waitForConnections: false }],
      ['rejectReadOnly', { rejectReadOnly: false }],
      ['rotation.drain', { credentials, rotation: { drain: 'none' } }],
      ['rotation.drainTimeoutMs', { credentials, rotation: { drainTimeoutMs: 1 } }],
      ['rotation.maxAttempts', { credentials, rotation: { maxAttempts: 0 } }],
      ['rotation.timeoutMs', { credentials, rotation: { timeoutMs: -1 } }],
      ['rotation.bogus', { credentials, rotation: { bogus: 1 } }],
      ['rotation', { rotation: { maxAttempts: 2 } }],
      ['password', { credentials, password: 'secret' }],
      ['credentials', { credentials: 42 }],
      ['rotations', { credentials, rotations: {} }], // a misspelt credswap key; other unknown keys go to mysql2
    ];
    for (const [option, options] of cases) {
      const check = (err: unknown) => {
        assert.ok(err instanceof InvalidOptionError, `${option}: ${String(err)}`);
        assert.equal(err.option, option);
        assert.ok(!err.message.includes('secret'));
        return true;
      };
      assert.throws(() => createPromiseConnection(options), check);
      assert.throws(() => createConnection(options, () => assert.fail('called back')), check);
    }
    assert.throws(() => createConnection({}, undefined as never), TypeError);
  });

  it('keeps the password out of util.inspect and JSON.stringify, in both flavours', async function () {
    const account = await newUser();
    const conn = await connect({ credentials: async () => account, rotation: { maxAttempts: 1 } });
    await conn.query('SELECT 1');
    const callbackConn = await new Promise<Connection>((resolve, reject) =>
      createConnection({ host: server.host, port: server.port, credentials: async () => account }, (err, c) =>
        err ? reject(err) : resolve(c),
      ),
    );
    opened.push(callbackConn);
    for (const shown of [
      inspect(conn, { depth: 6 }),
      inspect(callbackConn, { depth: 6 }),
      JSON.stringify(conn.config),
      JSON.stringify(callbackConn.config),
    ]) {
      assert.ok(!shown.includes(account.password), 'password shown');
    }
    assert.equal(callbackConn.config.password, account.password, 'still there for mysql2 (changeUser, ...)');
  });

  it('callback flavour: calls back with a connected mysql2 connection; end(cb) closes the coordinator', async function () {
    const account = await newUser();
    const source = countingSource(account.user, () => account.password);
    const rows = await new Promise<unknown>((resolve, reject) => {
      createConnection({ host: server.host, port: server.port, database, credentials: source.fn }, (err, conn) => {
        if (err) return reject(err);
        assert.ok(conn.threadId > 0, 'connected before the callback');
        conn.query('SELECT 1 AS one', (queryErr, result) => {
          if (queryErr) return reject(queryErr);
          conn.end((endErr) => {
            if (endErr) return reject(endErr);
            assert.equal(conn.coordinator?.closed, true);
            resolve(result);
          });
        });
      });
    });
    assert.deepEqual(rows, [{ one: 1 }]);
    assert.deepEqual(source.reasons, ['initial']);
    const port = await closedPort();
    const error = await new Promise<Error | null>((resolve) =>
      createConnection({ host: '127.0.0.1', port, credentials: source.fn }, (err) => resolve(err)),
    );
    assert.equal((error as { code?: string } | null)?.code, 'ECONNREFUSED');
  });

  it("without credentials behaves like mysql2's createConnection", async function () {
    const account = await newUser();
    const conn = await connect({ user: account.user, password: account.password });
    assert.equal(conn.coordinator, undefined);
    const [rows] = await conn.query<mysql2Promise.RowDataPacket[]>('SELECT 2 AS two');
    assert.equal(rows[0].two, 2);
    assert.ok(!inspect(conn, { depth: 6 }).includes(account.password));
    await conn.end();
    await assert.rejects(connect({ user: account.user, password: 'wrong' }), (err: Error & { errno?: number }) => {
      assert.equal(err.errno, 1045);
      assert.ok(!err.message.includes('[credswap:'), 'no rotation, no annotation');
      return true;
    });
  });
});
