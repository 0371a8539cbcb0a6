import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type MariaDBServer, startTestServer } from '../../lib/testing/mariadb.js';

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
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fixture, server.host, String(server.port), database, account.user, account.password],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    // A hang guard only: the child must exit on its own, it is never killed on success.
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(guard);
    assert.equal(code, 0, out);
    assert.match(out, /ended unsubscribed=true/);
  });
});
