import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { createConnection } from 'mysql2/promise';
import vaultClient from 'node-vault';
import sinon from 'sinon';
import type { Credentials, SealedCredentials } from '../../lib/credentials.js';
import { ClosedError, InvalidCredentialsError, InvalidOptionError } from '../../lib/errors.js';
import { VaultError } from '../../providers/vault/errors.js';
import type { FetchContext } from '../../lib/provider.js';
import { startTestServer, type MariaDBServer } from '../../lib/testing/mariadb.js';
import { startVaultEmulator, type VaultEmulator } from '../../lib/testing/vault.js';
import { VaultStaticRoleProvider, type VaultStaticRoleProviderOptions } from '../../providers/vault/static-role.js';
import { eventually } from '../helpers/load.js';
import { spySubscriber } from '../helpers/subscriber.js';

const INITIAL: FetchContext = { reason: 'initial' };
const REJECTED: FetchContext = { reason: 'rejected' };
const ROUTE = 'database/static-creds/:role';

describe('VaultStaticRoleProvider', function () {
  let server: MariaDBServer;
  let database: string;
  let vault: VaultEmulator;
  let account: { user: string; password: string };
  let providers: VaultStaticRoleProvider[];

  before(async function () {
    server = await startTestServer();
    database = await server.createDatabase('vstatic');
  });

  after(async function () {
    await server?.stop();
  });

  beforeEach(async function () {
    providers = [];
    vault = await startVaultEmulator({ server });
    account = await server.createUser({ prefix: 'static', grants: `SELECT ON \`${database}\`.*` });
    await vault.configureStaticRole('app', { username: account.user, rotationPeriodS: 3600 });
    vault.resetCalls();
  });

  afterEach(async function () {
    await Promise.all(providers.map((p) => p.close()));
    await vault.close();
    sinon.restore();
  });

  function provider(options: Partial<VaultStaticRoleProviderOptions> = {}): VaultStaticRoleProvider {
    const p = new VaultStaticRoleProvider({
      role: 'app',
      vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken }, requestTimeoutMs: 2_000 },
      refreshJitterMs: 50,
      ...options,
    });
    providers.push(p);
    return p;
  }

  function get(p: VaultStaticRoleProvider, current?: Credentials, context = INITIAL) {
    return p.getCredentials(new AbortController().signal, current as SealedCredentials | undefined, context);
  }

  /** What Vault returns for the role now. */
  async function vaultPassword(): Promise<string> {
    return (await vaultClient({ endpoint: vault.endpoint, token: vault.rootToken }).read('database/static-creds/app')).data.password;
  }

  async function canLogIn(creds: Credentials): Promise<boolean> {
    try {
      const connection = await createConnection({ host: server.host, port: server.port, user: creds.user, password: creds.password });
      await connection.end();
      return true;
    } catch {
      return false;
    }
  }

  describe('options', function () {
    it('rejects an unknown option with InvalidOptionError naming it', function () {
      assert.throws(
        () => provider({ ttl: 5 } as never),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'ttl',
      );
    });

    it('requires a role', function () {
      assert.throws(
        () => new VaultStaticRoleProvider({ vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken } } } as never),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'role',
      );
    });

    it('refuses a mount with .. in it', function () {
      assert.throws(
        () => provider({ mount: '../sys' }),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'mount',
      );
    });

    it('refuses a negative refreshJitterMs', function () {
      assert.throws(
        () => provider({ refreshJitterMs: -1 }),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'refreshJitterMs',
      );
    });

    it('is named after the path it reads, and sends nothing to Vault when constructed', function () {
      const p = provider({ mount: 'db-prod' });

      assert.equal(p.name, 'vault:db-prod/static-creds/app');
      assert.equal(p.path, 'db-prod/static-creds/app');
      assert.deepEqual(vault.calls, {});
    });
  });

  describe('getCredentials()', function () {
    it("reads the role's username and password, which log in to the database", async function () {
      const creds = await get(provider());

      assert.equal(creds?.user, account.user);
      assert.equal(creds?.password, await vaultPassword());
      assert.equal(creds?.expiresAt, undefined, 'a static password has no expiry');
      assert.ok(await canLogIn(creds));
    });

    it('reads the role at once after a refused login and returns the rotated password', async function () {
      const p = provider();
      const before = await get(p);
      await vault.rotateStaticRole('app');

      const after = await get(p, before, REJECTED);

      assert.notEqual(after?.password, before?.password);
      assert.equal(after?.password, await vaultPassword());
      assert.ok(await canLogIn(after));
    });

    it('after a refused login, reads a few more times while Vault still returns the refused password, then reports nothing new', async function () {
      const p = provider();
      const before = await get(p);
      vault.resetCalls();

      const after = await get(p, before, REJECTED);

      assert.equal(after, undefined);
      assert.equal(vault.calls[ROUTE], 4);
    });

    it('returns undefined for a manual refresh when the password has not changed', async function () {
      const p = provider();
      const before = await get(p);

      assert.equal(await get(p, before, { reason: 'manual' }), undefined);
    });

    it('logs in with AppRole to read the role', async function () {
      const { roleId, secretId } = vault.configureAppRole('db-reader', { tokenTtlS: 60 });
      const p = provider({ vault: { endpoint: vault.endpoint, auth: { appRole: { roleId, secretId } } } });

      const creds = await get(p);

      assert.equal(creds?.user, account.user);
      assert.equal(vault.calls['auth/approle/login'], 1);
    });

    it('fails with a non-retryable VaultError naming the path for a role Vault does not know', async function () {
      await assert.rejects(get(provider({ role: 'nope' })), (error: unknown) => {
        assert.ok(error instanceof VaultError);
        assert.equal(error.path, 'database/static-creds/nope');
        assert.equal(error.retryable, false);
        assert.match(error.message, /unknown role: nope/);
        return true;
      });
    });

    it('fails with a retryable VaultError while Vault is sealed', async function () {
      vault.seal();

      await assert.rejects(get(provider()), (error: unknown) => {
        assert.ok(error instanceof VaultError);
        assert.equal(error.statusCode, 503);
        assert.equal(error.retryable, true);
        return true;
      });
    });

    it('fails with InvalidCredentialsError when the answer has no password', async function () {
      const client = vaultClient({ endpoint: vault.endpoint, token: vault.rootToken });
      sinon.stub(client, 'read').resolves({ data: { username: 'app', ttl: 60 } });
      const p = provider({ client, vault: undefined });

      await assert.rejects(get(p), (error: unknown) => error instanceof InvalidCredentialsError && error.key === 'password');
    });

    it('rejects with the signal reason when the signal fires during the request', async function () {
      vault.faults.latency(5_000, { path: ROUTE, count: 1 });
      const controller = new AbortController();
      const reason = new Error('caller gave up');

      const pending = provider().getCredentials(controller.signal, undefined, INITIAL);
      setTimeout(() => controller.abort(reason), 50);

      await assert.rejects(pending, (error: unknown) => error === reason);
    });

    it('never shows the password or the token in inspect() or JSON', async function () {
      const p = provider();
      const creds = await get(p);

      for (const text of [inspect(p, { depth: 10, showHidden: true }), JSON.stringify(p), inspect(creds), JSON.stringify(creds)]) {
        assert.ok(!text.includes(creds!.password), text);
        assert.ok(!text.includes(vault.rootToken), text);
      }
    });
  });

  describe('subscribe()', function () {
    it('does not read again before the ttl Vault returned has passed, and reads at the ttl', async function () {
      // The provider's timers and the emulator's clock (performance.now()) stand still unless the
      // test moves them; HTTP and the database stay real. A read is counted when the provider
      // calls its node-vault client. (The role's rotation timer from beforeEach is a real one.)
      const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'], shouldClearNativeTimers: true });
      try {
        await vault.configureStaticRole('app', { username: account.user, rotationPeriodS: 60 }); // Vault answers ttl 60
        const client = vaultClient({ endpoint: vault.endpoint, token: vault.rootToken });
        const read = sinon.spy(client, 'read');
        const reads = () => read.args.filter(([path]) => path === 'database/static-creds/app').length;
        const p = provider({ client, vault: undefined, refreshJitterMs: 0 });
        await get(p);
        spySubscriber(p);

        await clock.tickAsync(59_999);
        assert.equal(reads(), 1, 'read again before the ttl');
        await clock.tickAsync(1);
        assert.equal(reads(), 2, 'not read again at the ttl');
      } finally {
        clock.restore();
      }
      await eventually(() => (vault.calls[ROUTE] ?? 0) >= 2, 10_000, 'the second read to reach Vault');
    });

    it("pushes the new password once Vault's rotation period has passed", async function () {
      await vault.configureStaticRole('app', { username: account.user, rotationPeriodS: 1 });
      const p = provider();
      const first = await get(p);
      const { onChange, onError } = spySubscriber(p);

      await eventually(() => onChange.callCount >= 1, 10_000, 'the new password');

      const pushed = onChange.firstCall.args[0];
      assert.equal(pushed.user, account.user);
      assert.notEqual(pushed.password, first?.password);
      assert.equal(onError.callCount, 0);
    });

    it('reports a sealed Vault as a retryable error and pushes the rotation that ran on unseal', async function () {
      await vault.configureStaticRole('app', { username: account.user, rotationPeriodS: 1 });
      const p = provider();
      const first = await get(p);
      vault.seal();
      const { onChange, onError } = spySubscriber(p);

      await eventually(() => onError.callCount >= 1, 10_000, 'the sealed error');
      const error = onError.firstCall.args[0];
      assert.ok(error instanceof VaultError && error.retryable && error.statusCode === 503, String(error));
      assert.equal(onChange.callCount, 0);
      vault.unseal();

      await eventually(() => onChange.callCount >= 1, 10_000, 'the rotation after unseal');
      assert.notEqual(onChange.lastCall.args[0].password, first?.password);
    });

    it('stops reading after the last unsubscribe', async function () {
      await vault.configureStaticRole('app', { username: account.user, rotationPeriodS: 1 });
      const p = provider();
      await get(p);
      vault.resetCalls();
      const { unsubscribe } = spySubscriber(p);
      unsubscribe();

      await new Promise((resolve) => setTimeout(resolve, 1_500));

      assert.equal(vault.calls[ROUTE] ?? 0, 0);
    });
  });

  describe('close()', function () {
    it('refuses further calls with ClosedError and can be called twice', async function () {
      const p = provider();
      await get(p);

      await Promise.all([p.close(), p.close()]);

      await assert.rejects(get(p), ClosedError);
      assert.throws(
        () =>
          p.subscribe(
            () => {},
            () => {},
          ),
        ClosedError,
      );
    });

    it('aborts a request in flight with ClosedError', async function () {
      vault.faults.latency(5_000, { path: ROUTE, count: 1 });
      const p = provider();
      const pending = get(p);
      await new Promise((resolve) => setTimeout(resolve, 50));

      await p.close();

      await assert.rejects(pending, ClosedError);
    });
  });
});
