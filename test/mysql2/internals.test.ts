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
import { MYSQL2_OPTION_NAMES, PoolConnection, ConnectionConfig, createQuery } from '../../lib/mysql2/internals.js';

const require = createRequire(__filename);
const mysql2Dir = dirname(require.resolve('mysql2/package.json'));

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
    for (const member of ['this._pool.releaseConnection(this)', 'pool._removeConnection(this)', 'this._pool._closed', '_realEnd', '_released']) {
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

  it('ConnectionConfig accepts exactly the option names credswap knows', function () {
    const source = readFileSync(join(mysql2Dir, 'lib/connection_config.js'), 'utf8');
    const block = /const validOptions = \{([\s\S]*?)\};/.exec(source);
    assert.ok(block, 'validOptions not found in mysql2/lib/connection_config.js');
    const names = [...block[1].matchAll(/^\s*([A-Za-z0-9_]+):\s*1,?/gm)].map((m) => m[1]);
    assert.deepEqual([...names].sort(), [...MYSQL2_OPTION_NAMES].sort());
  });

  it('stores passwords on ConnectionConfig under the keys credswap hides', function () {
    const config = new ConnectionConfig({ user: 'u', password: 'p', password2: 'q', password3: 'r', passwordSha1: 's' });
    for (const key of ['password', 'password2', 'password3', 'passwordSha1']) assert.ok(key in config, key);
  });

  it('is a mysql2 version inside the peer range credswap declares', function () {
    const version = (mysql2 as unknown as { version?: string }).version ?? require('mysql2/package.json').version;
    const [major, minor] = String(version).split('.').map(Number);
    assert.equal(major, 3);
    assert.ok(minor >= 24, `mysql2 ${version} is older than the tested range`);
  });
});
