/**
 * Fails loudly when mysql2 changes a private member credswap relies on (lib/mysql2/internals.ts).
 * If this fails after a mysql2 upgrade, update internals.ts and the peer range together.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as mysql2 from 'mysql2';
import * as mysql2Promise from 'mysql2/promise';
import type { Credentials } from '../../lib/credentials.js';
import { knexConnection } from '../../lib/integrations/knex.js';
import { createPool } from '../../lib/mysql2/index.js';
import { PoolConnection, ConnectionConfig, createQuery, derivedOptions, isMariaDBConnection } from '../../lib/mysql2/internals.js';
import { startTestServer } from '../../lib/testing/mariadb.js';
import { resolvePoolOptions, type PoolOptions } from '../../lib/mysql2/pool-options.js';

const require = createRequire(__filename);
const mysql2Dir = dirname(require.resolve('mysql2/package.json'));

/** mysql2's warning for an option it does not know, up to the option's name. */
const ignoring = (key: string): string => `Ignoring invalid configuration option passed to Connection: ${key}.`;

/** Runs `fn` with console.error captured; returns what was printed, one string per call. */
function consoleErrors(fn: () => void): string[] {
  const printed: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
  try {
    fn();
  } finally {
    console.error = original;
  }
  return printed;
}

/** A pool that never connects, ended at once: its constructor is what the tests observe. */
function createIdlePool(options: PoolOptions): ReturnType<typeof createPool> {
  const pool = createPool(options);
  pool.end();
  return pool;
}

describe('mysql2 internals credswap relies on', function () {
  it('exports PoolConnection, ConnectionConfig, createQuery and PromisePool', function () {
    assert.equal(typeof PoolConnection, 'function');
    assert.equal(typeof ConnectionConfig, 'function');
    assert.equal(typeof ConnectionConfig.parseUrl, 'function');
    assert.equal(typeof createQuery, 'function');
    assert.equal(typeof (mysql2Promise as unknown as { PromisePool: unknown }).PromisePool, 'function');
  });

  it('PoolConnection calls back into its pool through releaseConnection, _removeConnection and _closed', function () {
    const source = readFileSync(join(mysql2Dir, 'lib/pool_connection.js'), 'utf8');
    for (const member of [
      'this._pool.releaseConnection(this)',
      'pool._removeConnection(this)',
      'this._pool._closed',
      '_realEnd',
      '_released',
    ]) {
      assert.ok(source.includes(member), `mysql2's PoolConnection no longer uses ${member}`);
    }
    const proto = (PoolConnection as unknown as { prototype: Record<string, unknown> }).prototype;
    for (const method of ['release', 'destroy', '_removeFromPool', '_realEnd', 'addCommand', 'query', 'execute', 'connect', 'reset']) {
      assert.equal(typeof proto[method], 'function', `PoolConnection.prototype.${method}`);
    }
  });

  it('commands report errors through onResult or an error event', function () {
    const source = readFileSync(join(mysql2Dir, 'lib/commands/command.js'), 'utf8');
    assert.match(source, /this\.onResult\(err\)/);
    assert.match(source, /this\.emit\('error', err\)/);
  });

  describe('options credswap passes through to ConnectionConfig', function () {
    it('an option mysql2 accepts and credswap does not handle reaches mysql2, without a warning', function () {
      let pool: ReturnType<typeof createPool> | undefined;
      const printed = consoleErrors(() => {
        pool = createIdlePool({ host: '127.0.0.1', jsonStrings: true, gracefulEnd: true });
      });
      assert.deepEqual(printed, []);
      const config = (pool!.config as unknown as { connectionConfig: Record<string, unknown> }).connectionConfig;
      assert.equal(config.jsonStrings, true);
      assert.equal(config.gracefulEnd, true);
    });

    it("an option mysql2 does not know gets mysql2's own warning, once, and the pool is created", function () {
      const printed = consoleErrors(() => {
        createIdlePool({ host: '127.0.0.1', fooBar: 1 } as PoolOptions);
      });
      assert.equal(printed.length, 1, printed.join('\n'));
      assert.ok(printed[0].startsWith(ignoring('fooBar')), printed[0]);
    });

    it('ConnectionConfig checks only own keys, so derived options do not warn again and build the same config', function () {
      const options = { host: 'db', database: 'app', fooBar: 1, jsonStrings: true, flags: '-FOUND_ROWS' };
      const overrides = { user: 'u', password: 'p', database: 'other' };
      let spread: unknown;
      assert.equal(consoleErrors(() => (spread = new ConnectionConfig({ ...options, ...overrides }))).length, 1);
      let derived: unknown;
      assert.deepEqual(
        consoleErrors(() => (derived = new ConnectionConfig(derivedOptions(options, overrides)))),
        [],
      );
      assert.deepEqual(derived, spread);
    });

    it("no option mysql2 accepts is taken for a misspelt credswap option (mysql2's private validOptions)", function () {
      const source = readFileSync(join(mysql2Dir, 'lib/connection_config.js'), 'utf8');
      const block = /const validOptions = \{([\s\S]*?)\};/.exec(source);
      assert.ok(block, 'validOptions not found in mysql2/lib/connection_config.js');
      const names = [...block[1].matchAll(/^\s*([A-Za-z0-9_]+):\s*1,?/gm)].map((m) => m[1]);
      assert.ok(names.includes('jsonStrings'), 'validOptions was read');
      const hotSwap = async (): Promise<Credentials> => ({ user: 'u', password: 'p' });
      for (const name of names) {
        // undefined: only the check of the key itself, not of a value, could throw.
        assert.doesNotThrow(() => resolvePoolOptions({ [name]: undefined }), name);
        const connection = knexConnection({ credentials: hotSwap, [name]: undefined });
        void connection.close();
      }
    });
  });

  it('stores passwords on ConnectionConfig under the keys credswap hides', function () {
    const config = new ConnectionConfig({ user: 'u', password: 'p', password2: 'q', password3: 'r', passwordSha1: 's' });
    for (const key of ['password', 'password2', 'password3', 'passwordSha1']) assert.ok(key in config, key);
  });

  it('tells from the handshake that the server is MariaDB, also when the login is refused', async function () {
    const server = await startTestServer();
    const refused = mysql2.createConnection({ host: server.host, port: server.port, user: 'nobody', password: 'wrong-password' });
    const error = await new Promise<unknown>((resolve) => refused.connect(resolve));
    assert.equal((error as { errno?: number }).errno, 1045);
    assert.equal(isMariaDBConnection(refused), server.flavour === 'mariadb');
    refused.destroy();
    await server.stop();
  });

  it('is a mysql2 version inside the peer range credswap declares', function () {
    const version = (mysql2 as unknown as { version?: string }).version ?? require('mysql2/package.json').version;
    const [major, minor] = String(version).split('.').map(Number);
    assert.equal(major, 3);
    assert.ok(minor >= 24, `mysql2 ${version} is older than the tested range`);
  });
});
