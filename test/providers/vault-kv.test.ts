import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import vaultClient from 'node-vault';
import sinon from 'sinon';
import type { Credentials, SealedCredentials } from '../../lib/credentials.js';
import { ClosedError, InvalidCredentialsError, InvalidOptionError } from '../../lib/errors.js';
import { VaultError } from '../../providers/vault/errors.js';
import type { FetchContext } from '../../lib/provider.js';
import { startVaultEmulator, type VaultEmulator } from '../../lib/testing/vault.js';
import { VaultKvProvider, type VaultKvProviderOptions } from '../../providers/vault/kv.js';
import { eventually } from '../helpers/load.js';
import { spySubscriber } from '../helpers/subscriber.js';

const PASSWORD = 'Zq9!xK#7vPmW-kv-current';
const NEW_PASSWORD = 'Hy4$rT@2nLcB-kv-next';
const INITIAL: FetchContext = { reason: 'initial' };
const REJECTED: FetchContext = { reason: 'rejected' };
const DATA = 'secret/data/:path';
const METADATA = 'secret/metadata/:path';

describe('VaultKvProvider', function () {
  let vault: VaultEmulator;
  let providers: VaultKvProvider[];

  before(async function () {
    vault = await startVaultEmulator();
  });

  after(async function () {
    await vault?.close();
  });

  let n = 0;
  let path: string;

  beforeEach(function () {
    providers = [];
    n += 1;
    path = `orders/mysql-${n}`;
    vault.writeKv(path, { username: 'app', password: PASSWORD, host: '127.0.0.1', port: 3306, dbname: 'orders', engine: 'mysql' });
    vault.faults.clear();
    vault.resetCalls();
  });

  afterEach(async function () {
    await Promise.all(providers.map((p) => p.close()));
    if (vault.sealed) vault.unseal();
    sinon.restore();
  });

  function provider(options: Partial<VaultKvProviderOptions> = {}): VaultKvProvider {
    const p = new VaultKvProvider({
      path,
      vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken }, requestTimeoutMs: 2_000 },
      refreshIntervalMs: 0,
      ...options,
    });
    providers.push(p);
    return p;
  }

  function get(p: VaultKvProvider, current?: Credentials, context = INITIAL) {
    return p.getCredentials(new AbortController().signal, current as SealedCredentials | undefined, context);
  }

  describe('options', function () {
    it('rejects an unknown option with InvalidOptionError naming it', function () {
      assert.throws(
        () => provider({ version: 2 } as never),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'version',
      );
    });

    it('requires a path without empty or .. segments', function () {
      for (const bad of [undefined, '', '/orders', 'orders/', 'orders/../sys']) {
        assert.throws(
          () => provider({ path: bad as string }),
          (error: unknown) => error instanceof InvalidOptionError && error.option === 'path',
          String(bad),
        );
      }
    });

    it('requires vault or client', function () {
      assert.throws(
        () => new VaultKvProvider({ path }),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'vault',
      );
    });

    it('refuses a negative refreshIntervalMs', function () {
      assert.throws(
        () => provider({ refreshIntervalMs: -1 }),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'refreshIntervalMs',
      );
    });

    it('is named after the secret it reads', function () {
      assert.equal(provider({ mount: 'kv' }).name, `vault:kv/data/${path}`);
    });
  });

  describe('getCredentials()', function () {
    it('reads username, password, host, port and dbname from the current version', async function () {
      const creds = await get(provider());

      assert.deepEqual(
        { ...creds, password: creds?.password },
        { user: 'app', password: PASSWORD, host: '127.0.0.1', port: 3306, database: 'orders' },
      );
    });

    it('reads the user and database spellings and a port given as a string', async function () {
      vault.writeKv(path, { user: 'app2', password: PASSWORD, database: 'shop', port: '3307' });

      const creds = await get(provider());

      assert.equal(creds?.user, 'app2');
      assert.equal(creds?.database, 'shop');
      assert.equal(creds?.port, 3307);
    });

    it('reads a secret on another mount', async function () {
      vault.writeKv('team/db', { username: 'team', password: PASSWORD }, { mount: 'kv' });

      const creds = await get(provider({ mount: 'kv', path: 'team/db' }));

      assert.equal(creds?.user, 'team');
    });

    it('fails with InvalidCredentialsError naming the path and the key, never the values, when the password is missing', async function () {
      vault.writeKv(path, { username: 'app', pass: PASSWORD });

      await assert.rejects(get(provider()), (error: unknown) => {
        assert.ok(error instanceof InvalidCredentialsError);
        assert.equal(error.key, 'password');
        assert.ok(error.message.includes(`secret/data/${path}`), error.message);
        assert.ok(!error.message.includes(PASSWORD));
        return true;
      });
    });

    it('fails with a non-retryable VaultError naming the path for a secret that does not exist', async function () {
      await assert.rejects(get(provider({ path: 'no/such/secret' })), (error: unknown) => {
        assert.ok(error instanceof VaultError);
        assert.equal(error.statusCode, 404);
        assert.equal(error.retryable, false);
        assert.equal(error.path, 'secret/data/no/such/secret');
        return true;
      });
    });

    it('fails with a retryable VaultError while Vault is sealed', async function () {
      vault.seal();

      await assert.rejects(get(provider()), (error: unknown) => error instanceof VaultError && error.retryable && error.statusCode === 503);
    });

    it('after a refused login, reads only the metadata when the version has not changed, and reports nothing new', async function () {
      const p = provider();
      const creds = await get(p);
      vault.resetCalls();

      assert.equal(await get(p, creds, REJECTED), undefined);
      assert.deepEqual(vault.calls, { [METADATA]: 1 });
    });

    it('after a refused login, returns the credentials of a new version', async function () {
      const p = provider();
      const creds = await get(p);
      vault.writeKv(path, { username: 'app', password: NEW_PASSWORD });

      const next = await get(p, creds, REJECTED);

      assert.equal(next?.password, NEW_PASSWORD);
    });

    it('reads the secret itself when a policy denies the metadata, and says so once', async function () {
      const p = provider();
      const creds = await get(p);
      const { onError } = spySubscriber(p);
      vault.faults.forbid(Infinity, { path: METADATA });
      vault.writeKv(path, { username: 'app', password: NEW_PASSWORD });

      const next = await get(p, creds, REJECTED);
      await get(p, next, REJECTED);

      assert.equal(next?.password, NEW_PASSWORD);
      assert.equal(onError.callCount, 1);
      assert.ok(onError.firstCall.args[0] instanceof VaultError);
      assert.match(onError.firstCall.args[0].message, /metadata is denied/);
      assert.equal(vault.calls[METADATA], 1);
    });

    it('never shows the password or the token in inspect() or JSON', async function () {
      const p = provider();
      const creds = await get(p);

      for (const text of [inspect(p, { depth: 10, showHidden: true }), JSON.stringify(p), inspect(creds), JSON.stringify(creds)]) {
        assert.ok(!text.includes(PASSWORD), text);
        assert.ok(!text.includes(vault.rootToken), text);
      }
    });
  });

  describe('subscribe()', function () {
    it('pushes the credentials of a new version, reading the secret once per version', async function () {
      const p = provider({ refreshIntervalMs: 50 });
      await get(p);
      const { onChange, onError } = spySubscriber(p);
      await eventually(() => (vault.calls[METADATA] ?? 0) >= 2, 5_000, 'two looks');
      assert.equal(vault.calls[DATA], 1, 'an unchanged version is not read');

      vault.writeKv(path, { username: 'app', password: NEW_PASSWORD });

      await eventually(() => onChange.callCount === 1, 5_000, 'the new version');
      assert.equal(onChange.firstCall.args[0].password, NEW_PASSWORD);
      assert.equal(vault.calls[DATA], 2);
      assert.equal(onError.callCount, 0);
    });

    it('does not push a new version whose credentials are the same', async function () {
      const p = provider({ refreshIntervalMs: 50 });
      await get(p);
      const { onChange } = spySubscriber(p);

      vault.writeKv(path, {
        username: 'app',
        password: PASSWORD,
        host: '127.0.0.1',
        port: 3306,
        dbname: 'orders',
        note: 'rotated by hand',
      });
      await eventually(() => vault.calls[DATA] === 2, 5_000, 'the new version to be read');
      await new Promise((resolve) => setTimeout(resolve, 100));

      assert.equal(onChange.callCount, 0);
    });

    it('reports a sealed Vault as a retryable error and picks up the new version after unseal', async function () {
      const p = provider({ refreshIntervalMs: 50 });
      await get(p);
      const { onChange, onError } = spySubscriber(p);
      vault.seal();
      await eventually(() => onError.callCount >= 1, 5_000, 'the sealed error');
      assert.ok(onError.firstCall.args[0] instanceof VaultError && onError.firstCall.args[0].retryable);

      vault.unseal();
      vault.writeKv(path, { username: 'app', password: NEW_PASSWORD });

      await eventually(() => onChange.callCount === 1, 10_000, 'the new version after unseal');
      assert.equal(onChange.firstCall.args[0].password, NEW_PASSWORD);
    });

    it('follows a secret that was deleted and written again, whose versions start over', async function () {
      vault.writeKv(path, { username: 'app', password: PASSWORD });
      const p = provider({ refreshIntervalMs: 50 });
      await get(p);
      const { onChange, onError } = spySubscriber(p);

      await vaultClient({ endpoint: vault.endpoint, token: vault.rootToken }).delete(`secret/metadata/${path}`);
      await eventually(() => onError.callCount >= 1, 5_000, 'the missing secret to be reported');
      vault.writeKv(path, { username: 'app', password: NEW_PASSWORD });

      await eventually(() => onChange.callCount === 1, 5_000, 'the new version 1');
      assert.equal(onChange.firstCall.args[0].password, NEW_PASSWORD);
      assert.equal((onError.firstCall.args[0] as VaultError).statusCode, 404);
    });

    it('does not look in the background with refreshIntervalMs 0', async function () {
      const p = provider({ refreshIntervalMs: 0 });
      await get(p);
      spySubscriber(p);

      await new Promise((resolve) => setTimeout(resolve, 200));

      assert.equal(vault.calls[METADATA], undefined);
      assert.equal(vault.calls[DATA], 1);
    });

    it('stops looking after the last unsubscribe', async function () {
      const p = provider({ refreshIntervalMs: 50 });
      await get(p);
      const { unsubscribe } = spySubscriber(p);
      unsubscribe();
      vault.resetCalls();

      await new Promise((resolve) => setTimeout(resolve, 200));

      assert.equal(vault.calls[METADATA], undefined);
    });
  });

  describe('close()', function () {
    it('stops looking and refuses further calls with ClosedError', async function () {
      const p = provider({ refreshIntervalMs: 50 });
      await get(p);
      spySubscriber(p);

      await p.close();
      vault.resetCalls();
      await new Promise((resolve) => setTimeout(resolve, 200));

      assert.equal(vault.calls[METADATA], undefined);
      await assert.rejects(get(p), ClosedError);
    });
  });
});
