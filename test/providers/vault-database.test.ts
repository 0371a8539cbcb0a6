import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { createConnection } from 'mysql2/promise';
import vaultClient from 'node-vault';
import type { Credentials, SealedCredentials } from '../../lib/credentials.js';
import { ClosedError, InvalidOptionError } from '../../lib/errors.js';
import { VaultError } from '../../providers/vault/errors.js';
import type { FetchContext, FetchReason } from '../../lib/provider.js';
import { startTestServer, type MariaDBServer } from '../../lib/testing/mariadb.js';
import { startVaultEmulator, type VaultEmulator } from '../../lib/testing/vault.js';
import { VaultDatabaseProvider, type VaultDatabaseProviderOptions, type VaultLeaseEvent } from '../../providers/vault/database.js';
import { eventually } from '../helpers/load.js';

const context = (reason: FetchReason): FetchContext => ({ reason });

describe('credswap/vault: VaultDatabaseProvider', function () {
  let server: MariaDBServer;
  let database: string;
  let vault: VaultEmulator;
  let providers: VaultDatabaseProvider[];
  let n = 0;
  let role: string;

  before(async function () {
    server = await startTestServer();
    database = await server.createDatabase('vaultdb');
    vault = await startVaultEmulator({ server });
  });

  after(async function () {
    await vault?.close();
    await server?.stop();
  });

  beforeEach(function () {
    providers = [];
    n += 1;
    role = `app${n}`;
    vault.faults.clear();
    vault.resetCalls();
  });

  afterEach(async function () {
    if (vault.sealed) vault.unseal();
    vault.faults.clear();
    await Promise.all(providers.map((p) => p.close().catch(() => undefined)));
  });

  function configure(defaultTtlS: number, maxTtlS: number): void {
    vault.configureDatabaseRole(role, { dbName: database, defaultTtlS, maxTtlS });
  }

  function provider(options: Partial<VaultDatabaseProviderOptions> = {}, events?: VaultLeaseEvent[]): VaultDatabaseProvider {
    const p = new VaultDatabaseProvider({ role, vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken } }, ...options });
    if (events) p.on('lease', (e: VaultLeaseEvent) => events.push(e));
    providers.push(p);
    return p;
  }

  async function get(p: VaultDatabaseProvider, current?: Credentials, reason: FetchReason = current ? 'expiring' : 'initial') {
    const creds = await p.getCredentials(new AbortController().signal, current as SealedCredentials | undefined, context(reason));
    assert.ok(creds);
    return creds as SealedCredentials;
  }

  function subscribe(p: VaultDatabaseProvider) {
    const changes: Credentials[] = [];
    const errors: Error[] = [];
    p.subscribe(
      (c) => changes.push(c),
      (e) => errors.push(e),
    );
    return { changes, errors };
  }

  async function canLogIn(creds: Credentials): Promise<boolean> {
    try {
      const c = await createConnection({ host: server.host, port: server.port, user: creds.user, password: creds.password, database });
      await c.end();
      return true;
    } catch {
      return false;
    }
  }

  async function accountExists(user: string): Promise<boolean> {
    const rows = await server.query<Array<{ n: number }>>('SELECT COUNT(*) AS n FROM mysql.user WHERE User = ?', [user]);
    return Number(rows[0]?.n) > 0;
  }

  const leaseOf = (user: string) => vault.leases().find((l) => l.username === user)!;

  describe('issuing', function () {
    it('returns a working database user with expiresAt from the local clock plus lease_duration', async function () {
      configure(60, 120);
      const before = Date.now();

      const creds = await get(provider());

      assert.ok(await canLogIn(creds));
      assert.ok(creds.expiresAt! >= before + 60_000 && creds.expiresAt! <= Date.now() + 60_000, String(creds.expiresAt));
      assert.equal(vault.calls['database/creds/:role'], 1);
    });

    it('emits an issued lease event with the lease id and user, never the password', async function () {
      configure(60, 120);
      const events: VaultLeaseEvent[] = [];

      const creds = await get(provider({}, events));

      assert.equal(events.length, 1);
      assert.equal(events[0].type, 'issued');
      assert.equal(events[0].user, creds.user);
      assert.equal(events[0].leaseId, leaseOf(creds.user).leaseId);
      assert.ok(events[0].ttlMs > 59_000 && events[0].ttlMs <= 60_000);
      assert.ok(!JSON.stringify(events).includes(creds.password));
    });

    it('an unknown role is a non-retryable VaultError naming the path', async function () {
      const p = provider({ role: 'no-such-role' });

      await assert.rejects(get(p), (error: unknown) => {
        assert.ok(error instanceof VaultError);
        assert.equal(error.retryable, false);
        assert.equal(error.path, 'database/creds/no-such-role');
        return true;
      });
    });

    it('reads from the mount it is given', async function () {
      const other = await startVaultEmulator({ server, databaseMount: 'mysql-prod' });
      try {
        other.configureDatabaseRole('app', { dbName: database, defaultTtlS: 60 });
        const p = provider({ role: 'app', mount: 'mysql-prod', vault: { endpoint: other.endpoint, auth: { token: other.rootToken } } });

        const creds = await get(p);

        assert.ok(await canLogIn(creds));
        assert.equal(p.name, 'vault-database:mysql-prod/app');
        await p.close();
      } finally {
        await other.close();
      }
    });
  });

  describe('renewing', function () {
    it('renews the lease at about two thirds of its duration and pushes the same credentials with a later expiresAt', async function () {
      configure(3, 60);
      const events: VaultLeaseEvent[] = [];
      const p = provider({}, events);
      const creds = await get(p);
      const { changes } = subscribe(p);

      await eventually(() => changes.length >= 1, 10_000, 'a renewal');

      assert.equal(changes[0].user, creds.user);
      assert.equal(changes[0].password, creds.password);
      assert.ok((changes[0].expiresAt as number) > creds.expiresAt!);
      assert.equal(events.at(-1)?.type, 'renewed');
      assert.equal(vault.calls['sys/leases/renew'], 1);
    });

    it('reports a lease whose renewal comes back short as capped at its hard end, and stops renewing it', async function () {
      configure(2, 3);
      const events: VaultLeaseEvent[] = [];
      const p = provider({}, events);
      const creds = await get(p);
      const { changes } = subscribe(p);

      await eventually(() => events.some((e) => e.type === 'capped'), 10_000, 'the lease to be capped');
      const capped = events.find((e) => e.type === 'capped')!;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, capped.ttlMs - 100)));

      assert.equal(capped.user, creds.user);
      assert.ok(capped.ttlMs <= 1_000, `ttlMs ${capped.ttlMs}`);
      assert.equal(changes.filter((c) => c.user === creds.user).at(-1)?.expiresAt, capped.expiresAt);
      assert.equal(vault.calls['sys/leases/renew'], 1, 'no renewal after the capped one');
    });

    it('replaces the credentials by itself when their lease ends before anyone asked for new ones', async function () {
      configure(2, 3);
      const events: VaultLeaseEvent[] = [];
      const p = provider({}, events);
      const creds = await get(p);
      const { changes } = subscribe(p);

      await eventually(() => changes.some((c) => c.user !== creds.user), 10_000, 'new credentials');

      assert.ok(events.some((e) => e.type === 'expired' && e.user === creds.user));
      assert.ok(await canLogIn(changes.find((c) => c.user !== creds.user)!));
    });

    it("'expiring' leaves a lease that can still be renewed to the provider's own renewals: the same credentials, no request to Vault", async function () {
      configure(30, 120);
      const p = provider();
      const creds = await get(p);

      const again = await get(p, creds, 'expiring');

      assert.equal(again.user, creds.user);
      assert.equal(again.expiresAt, creds.expiresAt);
      assert.equal(vault.calls['sys/leases/renew'], undefined);
      assert.equal(vault.calls['database/creds/:role'], 1);
    });

    it('a renewal Vault refuses for good is reported once and caps the lease at its end, with no more renewals', async function () {
      configure(2, 60);
      const events: VaultLeaseEvent[] = [];
      const p = provider({}, events);
      const creds = await get(p);
      const { changes, errors } = subscribe(p);
      vault.faults.forbid(Number.POSITIVE_INFINITY, { path: 'sys/leases/renew' });

      await eventually(() => events.some((e) => e.type === 'capped'), 10_000, 'the lease to be capped');
      await new Promise((resolve) => setTimeout(resolve, 500));

      const capped = events.find((e) => e.type === 'capped')!;
      assert.equal(capped.user, creds.user);
      assert.equal(capped.expiresAt, creds.expiresAt, 'it ends where it did');
      assert.equal(changes.at(-1)?.expiresAt, creds.expiresAt);
      assert.equal(vault.calls['sys/leases/renew'], 1);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof VaultError && errors[0].statusCode === 403 && !errors[0].retryable, String(errors[0]));
    });

    it("'expiring' on a capped lease returns new credentials", async function () {
      configure(2, 3);
      const events: VaultLeaseEvent[] = [];
      const p = provider({}, events);
      const creds = await get(p);
      await eventually(() => events.some((e) => e.type === 'capped'), 10_000, 'the lease to be capped');

      const next = await get(p, creds, 'expiring');

      assert.notEqual(next.user, creds.user);
      assert.ok(await canLogIn(next));
    });

    it("'manual' and 'rejected' always return new credentials", async function () {
      configure(60, 120);
      const p = provider();
      const first = await get(p);

      const second = await get(p, first, 'manual');
      const third = await get(p, second, 'rejected');

      assert.equal(new Set([first.user, second.user, third.user]).size, 3);
    });

    it('retries a renewal with backoff while Vault is sealed, reporting each failure, and recovers', async function () {
      configure(3, 60);
      const events: VaultLeaseEvent[] = [];
      const p = provider({}, events);
      const creds = await get(p);
      const { errors } = subscribe(p);
      vault.seal();

      await eventually(() => errors.length >= 2, 10_000, 'failed renewals');
      vault.unseal();
      await eventually(() => events.some((e) => e.type === 'renewed'), 10_000, 'a renewal after unseal');

      assert.ok(errors.every((e) => e instanceof VaultError && e.retryable && e.statusCode === 503));
      assert.ok(await canLogIn(creds));
    });
  });

  describe('ending', function () {
    it('retire() revokes the lease, and Vault drops its user', async function () {
      configure(60, 120);
      const events: VaultLeaseEvent[] = [];
      const p = provider({}, events);
      const old = await get(p);
      await get(p, old, 'manual');

      await p.retire(old);

      assert.equal(await accountExists(old.user), false);
      assert.equal(leaseOf(old.user).endReason, 'revoked');
      assert.equal(events.at(-1)?.type, 'revoked');
      assert.equal(events.at(-1)?.user, old.user);
    });

    it('retire() leaves the lease to run out with revokeOnRetire: false', async function () {
      configure(60, 120);
      const p = provider({ revokeOnRetire: false });
      const old = await get(p);
      await get(p, old, 'manual');

      await p.retire(old);

      assert.equal(await accountExists(old.user), true);
      assert.equal(vault.calls['sys/leases/revoke'], undefined);
    });

    it('close() revokes every lease it holds', async function () {
      configure(60, 120);
      const p = provider();
      const first = await get(p);
      const second = await get(p, first, 'manual');

      await p.close();

      for (const user of [first.user, second.user]) {
        assert.equal(await accountExists(user), false, user);
        assert.equal(leaseOf(user).endReason, 'revoked');
      }
      await assert.rejects(get(p), ClosedError);
    });

    it('close() leaves the leases with revokeOnClose: false', async function () {
      configure(60, 120);
      const p = provider({ revokeOnClose: false });
      const creds = await get(p);

      await p.close();

      assert.equal(await accountExists(creds.user), true);
    });

    it('when Vault revokes its token (and its leases), logs in again and pushes new credentials', async function () {
      configure(3, 60);
      const { roleId, secretId } = vault.configureAppRole(`login-${n}`, { tokenTtlS: 60 });
      const client = vaultClient({ endpoint: vault.endpoint });
      const events: VaultLeaseEvent[] = [];
      const p = provider({ client, vault: { auth: { appRole: { roleId, secretId } } } }, events);
      const old = await get(p);
      const { changes } = subscribe(p);

      await vault.revokeToken(client.token);
      await eventually(() => changes.some((c) => c.user !== old.user), 10_000, 'new credentials');

      const next = changes.find((c) => c.user !== old.user)!;
      assert.ok(await canLogIn(next));
      assert.equal(await accountExists(old.user), false);
      assert.ok(events.some((e) => e.type === 'expired' && e.user === old.user));
      assert.equal(vault.calls['auth/approle/login'], 2);
    });

    it('a lease ends with the token that created it: capped at the token’s end, then replaced', async function () {
      configure(60, 120);
      const { roleId, secretId } = vault.configureAppRole(`short-${n}`, { tokenTtlS: 2, tokenMaxTtlS: 3 });
      const events: VaultLeaseEvent[] = [];
      const p = provider({ vault: { endpoint: vault.endpoint, auth: { appRole: { roleId, secretId } } } }, events);
      const old = await get(p);
      const { changes } = subscribe(p);

      await eventually(() => events.some((e) => e.type === 'capped'), 10_000, 'the lease to be capped by its token');
      const capped = changes.at(-1)!;
      const next = await get(p, capped, 'expiring');

      assert.ok((capped.expiresAt as number) < old.expiresAt! - 50_000, 'capped well before the lease’s own end');
      assert.notEqual(next.user, old.user);
      assert.equal(vault.calls['auth/approle/login'], 2);
    });
  });

  describe('options and secrets', function () {
    it('rejects unknown keys, a missing role and a malformed mount', function () {
      const base = { vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken } } };
      for (const [options, option] of [
        [{ ...base, role: 'app', ttl: 5 }, 'ttl'],
        [{ ...base }, 'role'],
        [{ ...base, role: 'app', mount: '../sys' }, 'mount'],
        [{ ...base, role: 'app', revokeOnClose: 'yes' }, 'revokeOnClose'],
        [{ role: 'app' }, 'vault'],
      ] as const) {
        assert.throws(
          () => new VaultDatabaseProvider(options as unknown as VaultDatabaseProviderOptions),
          (error: unknown) => error instanceof InvalidOptionError && error.option === option,
          option,
        );
      }
    });

    it('never shows a password or the token in inspect() or JSON of the provider, its credentials and its events', async function () {
      configure(60, 120);
      const events: VaultLeaseEvent[] = [];
      const p = provider({}, events);
      const creds = await get(p);

      for (const text of [inspect(p, { depth: 10 }), inspect(creds), JSON.stringify(creds), JSON.stringify(events), inspect(events)]) {
        assert.ok(!text.includes(creds.password), text);
        assert.ok(!text.includes(vault.rootToken), text);
      }
    });
  });
});
