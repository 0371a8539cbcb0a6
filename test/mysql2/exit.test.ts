import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type MariaDBServer, startTestServer } from '../../lib/testing/mariadb.js';
import { runToExit } from '../helpers/child.js';

describe('process exit', function () {
  let server: MariaDBServer;

  before(async function () {
    server = await startTestServer();
  });

  after(async function () {
    await server?.stop();
  });

  it('a script that creates a pool, queries and ends it exits by itself', async function () {
    const database = await server.createDatabase('exit');
    const account = await server.createUser({ prefix: 'exit', grants: `ALL ON ${database}.*` });
    const fixture = join(__dirname, '../fixtures/create-query-end.ts');
    const { code, out } = await runToExit([fixture, server.host, String(server.port), database, account.user, account.password]);
    assert.equal(code, 0, out);
    assert.match(out, /ended unsubscribed=true/);
  });

  it('a getConnection() waiting for a writable server keeps the process alive until the wait ends', async function () {
    const database = await server.createDatabase('exit_ro');
    const account = await server.createUser({ prefix: 'exitro', grants: `ALL ON ${database}.*` });
    await server.setReadOnly(true);
    try {
      const fixture = join(__dirname, '../fixtures/read-only-wait-exit.ts');
      const { code, out } = await runToExit([fixture, server.host, String(server.port), database, account.user, account.password]);
      assert.equal(code, 0, out);
      assert.match(out, /refused: ReadOnlyError 1290\nhanded out after the wait/);
    } finally {
      await server.setReadOnly(false);
    }
  });
});
