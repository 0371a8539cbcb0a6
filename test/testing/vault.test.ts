import assert from 'node:assert/strict';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createConnection, type Connection } from 'mysql2/promise';
import vaultClient from 'node-vault';
import { ClosedError, InvalidOptionError } from '../../lib/errors.js';
import { startTestServer, type MariaDBServer } from '../../lib/testing/mariadb.js';
import { startVaultEmulator, type VaultEmulator, type VaultEmulatorOptions } from '../../lib/testing/vault.js';
import { Admin, AdminQueryError } from '../../lib/testing/vault/admin.js';
import { runToExit } from '../helpers/child.js';

const ER_ACCESS_DENIED_ERROR = 1045;
const ER_TABLEACCESS_DENIED_ERROR = 1142;
const CAPPED_WARNING = /^TTL of "1m" exceeded the effective max_ttl of "\d+s"; TTL value is capped accordingly$/;

type Client = ReturnType<typeof vaultClient>;
/** What node-vault rejects with: an error carrying the response, or a raw axios network error. */
type VaultClientError = Error & { response?: { statusCode: number; body: { errors?: string[] } }; code?: string };

let server: MariaDBServer;
let database: string;
let vault: VaultEmulator;
let connections: Connection[];

async function start(options: VaultEmulatorOptions = {}): Promise<VaultEmulator> {
  await vault?.close();
  vault = await startVaultEmulator({ server, ...options });
  return vault;
}

function client(token: string | undefined = vault.rootToken, extra: Record<string, unknown> = {}): Client {
  return vaultClient({ endpoint: vault.endpoint, token, ...extra });
}

/** Runs `fn`, which must reject, and returns what it threw. */
async function failure(fn: () => Promise<unknown>): Promise<VaultClientError> {
  try {
    await fn();
  } catch (error) {
    return error as VaultClientError;
  }
  assert.fail('expected a rejection');
}

/** The status code a request answered with. */
async function statusOf(request: Promise<unknown>): Promise<number | undefined> {
  try {
    await request;
    return 200;
  } catch (error) {
    return (error as VaultClientError).response?.statusCode;
  }
}

async function connect(user: string, password: string): Promise<Connection> {
  const connection = await createConnection({ host: server.host, port: server.port, user, password });
  connection.on('error', () => undefined);
  connections.push(connection);
  return connection;
}

async function accountExists(user: string): Promise<boolean> {
  const rows = await server.query<Array<{ n: number }>>('SELECT COUNT(*) AS n FROM mysql.user WHERE User = ?', [user]);
  return Number(rows[0]?.n) > 0;
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function errno(expected: number): (error: unknown) => boolean {
  return (error) => {
    assert.equal((error as { errno?: unknown }).errno, expected);
    return true;
  };
}

/** A JWT with the given `sub` claim (unsigned: the emulator does not check signatures). */
function jwtFor(sub: string): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ iss: 'kubernetes/serviceaccount', sub })}.c2lnbmF0dXJl`;
}

describe('testing/vault', function () {
  before(async function () {
    server = await startTestServer();
    database = await server.createDatabase('vault');
    await server.query(`CREATE TABLE \`${database}\`.items (id INT PRIMARY KEY)`);
    await server.query(`INSERT INTO \`${database}\`.items VALUES (1)`);
  });

  after(async function () {
    await vault?.close();
    await server?.stop();
  });

  beforeEach(async function () {
    connections = [];
    await start();
  });

  afterEach(async function () {
    await Promise.all(connections.map((c) => c.end().catch(() => c.destroy())));
    await vault.close();
  });

  describe('startVaultEmulator()', function () {
    it('rejects an unknown option with InvalidOptionError', async function () {
      await assert.rejects(startVaultEmulator({ server, ttl: 5 } as VaultEmulatorOptions), (error: unknown) => {
        assert.ok(error instanceof InvalidOptionError);
        assert.equal(error.option, 'ttl');
        return true;
      });
    });

    it('rejects an unknown option of a setup helper with InvalidOptionError', function () {
      assert.throws(
        () => vault.configureDatabaseRole('app', { dbName: database, ttl: 60 } as never),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'configureDatabaseRole.ttl',
      );
    });

    it('never shows its tokens in inspect() or JSON', function () {
      const token = vault.createToken();

      for (const text of [inspect(vault, { depth: 10 }), JSON.stringify(vault)]) {
        assert.ok(!text.includes(vault.rootToken) && !text.includes(token), text);
      }
    });

    it('refuses to listen on an address that is not loopback', async function () {
      await assert.rejects(startVaultEmulator({ host: '0.0.0.0' }), InvalidOptionError);
    });

    it('answers sys/health like an active, unsealed Vault', async function () {
      const health = await client().health();

      assert.equal(health.initialized, true);
      assert.equal(health.sealed, false);
      assert.equal(health.standby, false);
      assert.equal(typeof health.version, 'string');
      assert.equal((await fetch(`${vault.endpoint}/v1/sys/health`)).status, 200);
    });

    it('listens on the address it reports, with the root token it was given', async function () {
      await start({ rootToken: 'root' });

      assert.match(vault.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(vault.address, vault.endpoint);
      assert.equal((await client('root').tokenLookupSelf()).data.id, 'root');
    });
  });

  describe('tokens', function () {
    it('looks up the root token as a root token that never expires', async function () {
      const { data } = await client().tokenLookupSelf();

      assert.deepEqual(data.policies, ['root']);
      assert.equal(data.ttl, 0);
      assert.equal(data.expire_time, null);
      assert.equal(data.path, 'auth/token/root');
    });

    it('refuses a request without a token with 403 permission denied', async function () {
      const error = await failure(() => client('').read('database/creds/app'));

      assert.equal(error.response?.statusCode, 403);
      assert.match(error.message, /permission denied/);
    });

    it('refuses an unknown token with 403 permission denied and invalid token', async function () {
      const error = await failure(() => client('hvs.not-a-token').tokenLookupSelf());

      assert.equal(error.response?.statusCode, 403);
      assert.match(error.message, /permission denied/);
      assert.match(error.message, /invalid token/);
    });

    it('accepts the token as an Authorization: Bearer header', async function () {
      const response = await fetch(`${vault.endpoint}/v1/auth/token/lookup-self`, {
        headers: { Authorization: `Bearer ${vault.rootToken}` },
      });

      assert.equal(response.status, 200);
    });

    it('creates a child token over HTTP with the requested TTL and policies', async function () {
      const { auth } = await client().tokenCreate({ ttl: '1m', policies: ['app'] });

      assert.equal(auth.lease_duration, 60);
      assert.deepEqual(auth.policies, ['app', 'default']);
      assert.equal(auth.orphan, false);
      assert.equal(auth.renewable, true);
      assert.equal((await client(auth.client_token).tokenLookupSelf()).data.ttl, 60);
    });

    it('renews a token from now by the increment', async function () {
      const token = vault.createToken({ ttlS: 5 });

      const { auth } = await client(token).tokenRenewSelf({ increment: 30 });

      assert.equal(auth.lease_duration, 30);
      assert.equal(auth.client_token, token);
    });

    it("caps a token renewal at its max TTL with Vault's warning", async function () {
      const token = vault.createToken({ ttlS: 2, maxTtlS: 3 });

      const renewed = await client(token).tokenRenewSelf({ increment: '1m' });

      assert.ok(renewed.auth.lease_duration <= 3 && renewed.auth.lease_duration >= 1, String(renewed.auth.lease_duration));
      assert.match(renewed.warnings[0], CAPPED_WARNING);
    });

    it('refuses to renew a non-renewable token with 400 lease is not renewable', async function () {
      const token = vault.createToken({ ttlS: 30, renewable: false });

      const error = await failure(() => client(token).tokenRenewSelf({ increment: 60 }));

      assert.equal(error.response?.statusCode, 400);
      assert.equal(error.message, 'lease is not renewable');
    });

    it('refuses a token after revoke-self with 403', async function () {
      const token = vault.createToken({ ttlS: 30 });
      const self = client(token);

      await self.tokenRevokeSelf();

      assert.equal((await failure(() => self.tokenLookupSelf())).response?.statusCode, 403);
    });

    it('refuses a token with 403 once its TTL has passed', async function () {
      const token = vault.createToken({ ttlS: 1 });
      const self = client(token);
      await self.tokenLookupSelf();

      await waitFor(async () => (await statusOf(self.tokenLookupSelf())) === 403, 'the token to expire');
    });

    it('revokes the child tokens of a revoked token', async function () {
      const parent = vault.createToken({ ttlS: 60 });
      const { auth } = await client(parent).tokenCreate({ ttl: '1m' });

      await vault.revokeToken(parent);

      assert.equal((await failure(() => client(auth.client_token).tokenLookupSelf())).response?.statusCode, 403);
    });

    it('never puts the token in the error for a token it does not know', async function () {
      const token = 'hvs.SecretTokenValue1234';

      await assert.rejects(vault.revokeToken(token), (error: Error) => !error.message.includes(token));
    });
  });

  describe('AppRole and Kubernetes login', function () {
    it("logs in with AppRole and gets a renewable token with the role's TTL", async function () {
      const { roleId, secretId } = vault.configureAppRole('app', { tokenTtlS: 20, tokenMaxTtlS: 40, policies: ['db'] });
      const app = client(undefined);

      const { auth } = await app.approleLogin({ role_id: roleId, secret_id: secretId });

      assert.equal(auth.lease_duration, 20);
      assert.equal(auth.renewable, true);
      assert.deepEqual(auth.policies, ['db', 'default']);
      assert.deepEqual(auth.metadata, { role_name: 'app' });
      assert.equal((await app.tokenLookupSelf()).data.display_name, 'approle');
    });

    it('refuses a wrong secret id with 400 invalid role or secret ID', async function () {
      const { roleId } = vault.configureAppRole('app', { tokenTtlS: 20 });

      const error = await failure(() => client(undefined).approleLogin({ role_id: roleId, secret_id: 'wrong' }));

      assert.equal(error.response?.statusCode, 400);
      assert.equal(error.message, 'invalid role or secret ID');
    });

    it("caps renewals of a login token at the role's max TTL", async function () {
      const { roleId, secretId } = vault.configureAppRole('app', { tokenTtlS: 2, tokenMaxTtlS: 3 });
      const app = client(undefined);
      await app.approleLogin({ role_id: roleId, secret_id: secretId });

      const renewed = await app.tokenRenewSelf({ increment: 60 });

      assert.ok(renewed.auth.lease_duration <= 3, String(renewed.auth.lease_duration));
      assert.match(renewed.warnings[0], CAPPED_WARNING);
    });

    it('logs in with Kubernetes on a custom mount when the JWT is the one registered', async function () {
      const jwt = jwtFor('system:serviceaccount:shop:app');
      vault.configureKubernetesRole('app', { jwt, tokenTtlS: 15, mount: 'k8s-east' });

      const { auth } = await client(undefined).kubernetesLogin({ mount_point: 'k8s-east', role: 'app', jwt });

      assert.equal(auth.lease_duration, 15);
      assert.equal(auth.metadata.service_account_namespace, 'shop');
    });

    it('accepts a Kubernetes JWT by its sub claim', async function () {
      vault.configureKubernetesRole('app', { subject: 'system:serviceaccount:shop:app', tokenTtlS: 15 });

      const { auth } = await client(undefined).kubernetesLogin({
        mount_point: 'kubernetes',
        role: 'app',
        jwt: jwtFor('system:serviceaccount:shop:app'),
      });

      assert.equal(auth.lease_duration, 15);
    });

    it('refuses a Kubernetes JWT the role does not accept with 403', async function () {
      vault.configureKubernetesRole('app', { subject: 'system:serviceaccount:shop:app' });

      const error = await failure(() =>
        client(undefined).kubernetesLogin({ mount_point: 'kubernetes', role: 'app', jwt: jwtFor('system:serviceaccount:shop:other') }),
      );

      assert.equal(error.response?.statusCode, 403);
    });
  });

  describe('KV version 2', function () {
    it('writeKv() rejects a path with a leading slash, or data that is not an object, with InvalidOptionError', function () {
      const named = (option: string) => (error: unknown) => error instanceof InvalidOptionError && error.option === option;

      assert.throws(() => vault.writeKv('/app/db', { password: 'one' }), named('writeKv(path)'));
      assert.throws(() => vault.writeKv('app/db', ['one'] as never), named('writeKv(data)'));
    });

    it('writes versions and reads the current one with its metadata', async function () {
      const root = client();
      const first = await root.write('secret/data/app/db', { data: { password: 'one' } });
      await root.write('secret/data/app/db', { data: { password: 'two' } });

      const { data } = await root.read('secret/data/app/db');

      assert.equal(first.data.version, 1);
      assert.deepEqual(data.data, { password: 'two' });
      assert.equal(data.metadata.version, 2);
    });

    it('reads an older version with ?version=', async function () {
      vault.writeKv('app/db', { password: 'one' });
      vault.writeKv('app/db', { password: 'two' });

      const { data } = await client().read('secret/data/app/db?version=1');

      assert.deepEqual(data.data, { password: 'one' });
    });

    it('refuses a write whose check-and-set version is not the current one', async function () {
      vault.writeKv('app/db', { password: 'one' });

      const error = await failure(() => client().write('secret/data/app/db', { data: { password: 'x' }, options: { cas: 0 } }));

      assert.equal(error.response?.statusCode, 400);
      assert.match(error.message, /check-and-set/);
    });

    it('answers 404 with an empty errors list for a secret that does not exist', async function () {
      const error = await failure(() => client().read('secret/data/missing'));

      assert.equal(error.response?.statusCode, 404);
      assert.deepEqual(error.response?.body, { errors: [] });
    });

    it('deletes every version of a secret with DELETE metadata', async function () {
      vault.writeKv('app/db', { password: 'one' }, { mount: 'kv' });
      const root = client();
      assert.equal((await root.read('kv/metadata/app/db')).data.current_version, 1);

      await root.delete('kv/metadata/app/db');

      assert.equal((await failure(() => root.read('kv/data/app/db'))).response?.statusCode, 404);
    });
  });

  describe('dynamic database credentials', function () {
    beforeEach(function () {
      vault.configureDatabaseRole('app', { grants: `SELECT ON \`${database}\`.*`, defaultTtlS: 30, maxTtlS: 60 });
    });

    it('creates a MariaDB user that can log in and use its grants', async function () {
      const creds = await client().read('database/creds/app');
      const connection = await connect(creds.data.username, creds.data.password);

      const [rows] = await connection.query(`SELECT id FROM \`${database}\`.items`);

      assert.deepEqual(rows, [{ id: 1 }]);
      assert.equal(creds.lease_duration, 30);
      assert.equal(creds.renewable, true);
      assert.match(creds.lease_id, /^database\/creds\/app\/[0-9A-Za-z]{24}$/);
    });

    it("names users after Vault's MySQL template and makes passwords of Vault's default policy", async function () {
      const { data } = await client().read('database/creds/app');

      assert.match(data.username, /^v-root-app-[0-9A-Za-z]{20}-/);
      assert.ok(data.username.length <= 32);
      assert.match(data.password, /^[A-Za-z0-9-]{20}$/);
      for (const pattern of [/[a-z]/, /[A-Z]/, /[0-9]/, /-/]) assert.match(data.password, pattern);
    });

    it('names users after the legacy template in at most 16 characters', async function () {
      vault.configureDatabaseRole('legacy', { dbName: database, usernameTemplate: 'legacy' });

      const { data } = await client().read('database/creds/legacy');

      assert.match(data.username, /^v-lega-[0-9A-Za-z]{9}$/);
    });

    it("answers 500 with the database's error when the grants are invalid, and leaves no user behind", async function () {
      vault.configureDatabaseRole('broken', { grants: 'NOTHING ON nowhere' });

      const error = await failure(() => client().read('database/creds/broken'));

      assert.equal(error.response?.statusCode, 500);
      assert.match(error.message, /Error 1064/);
      const rows = await server.query<unknown[]>("SELECT User FROM mysql.user WHERE User LIKE 'v-root-broken-%'");
      assert.deepEqual(rows, []);
    });

    it('shows a password quoted in a database error as [redacted]', async function () {
      const admin = new Admin({ host: server.host, port: server.port, user: server.adminUser, password: server.adminPassword });
      const password = "Vq7-it's-a-secret";

      const error: unknown = await admin
        .run((query) => query('SELEC ?', [password]), [password])
        .then(
          () => assert.fail('expected a syntax error'),
          (e: unknown) => e,
        );
      await admin.close();

      assert.ok(error instanceof AdminQueryError);
      assert.equal(error.errno, 1064);
      assert.match(error.message, /near 'SELEC '\[redacted\]''/);
      assert.ok(!error.message.includes('secret'), error.message);
    });

    it('answers 400 unknown role for a role that is not configured', async function () {
      const error = await failure(() => client().read('database/creds/nope'));

      assert.equal(error.response?.statusCode, 400);
      assert.equal(error.message, 'unknown role: nope');
    });

    it('renews a lease from now by the increment', async function () {
      const root = client();
      const creds = await root.read('database/creds/app');

      const renewed = await root.renew({ lease_id: creds.lease_id, increment: 45 });

      assert.equal(renewed.lease_id, creds.lease_id);
      assert.equal(renewed.lease_duration, 45);
      assert.equal(renewed.renewable, true);
    });

    it("caps a renewal at the role's max TTL with Vault's warning", async function () {
      vault.configureDatabaseRole('short', { dbName: database, defaultTtlS: 2, maxTtlS: 3 });
      const root = client();
      const creds = await root.read('database/creds/short');

      const renewed = await root.renew({ lease_id: creds.lease_id, increment: 60 });

      assert.ok(renewed.lease_duration < 60 && renewed.lease_duration <= 3, String(renewed.lease_duration));
      assert.equal(renewed.renewable, true);
      assert.match(renewed.warnings[0], CAPPED_WARNING);
    });

    it('looks a lease up with sys/leases/lookup', async function () {
      const root = client();
      const creds = await root.read('database/creds/app');

      const { data } = await root.write('sys/leases/lookup', { lease_id: creds.lease_id });

      assert.equal(data.id, creds.lease_id);
      assert.equal(data.renewable, true);
      assert.ok(data.ttl > 0 && data.ttl <= 30);
    });

    it('revoking a lease drops its user; an open session stays connected but loses its privileges', async function () {
      const root = client();
      const creds = await root.read('database/creds/app');
      const session = await connect(creds.data.username, creds.data.password);

      await root.revoke({ lease_id: creds.lease_id });

      assert.equal(await accountExists(creds.data.username), false);
      assert.equal((await server.processlist(creds.data.username)).length, 1);
      await assert.rejects(session.query(`SELECT id FROM \`${database}\`.items`), errno(ER_TABLEACCESS_DENIED_ERROR));
      await assert.rejects(connect(creds.data.username, creds.data.password), errno(ER_ACCESS_DENIED_ERROR));
    });

    it('drops the user of a lease whose TTL has passed', async function () {
      vault.configureDatabaseRole('short', { dbName: database, defaultTtlS: 1, maxTtlS: 2 });
      const creds = await client().read('database/creds/short');
      assert.equal(await accountExists(creds.data.username), true);

      await waitFor(async () => !(await accountExists(creds.data.username)), 'the lease to expire');

      const [lease] = vault.leases();
      assert.equal(lease?.revoked, true);
      assert.equal(lease?.endReason, 'expired');
    });

    it('expireLease() runs the revocation at once', async function () {
      const creds = await client().read('database/creds/app');

      await vault.expireLease(creds.lease_id);

      assert.equal(await accountExists(creds.data.username), false);
      const error = await failure(() => client().renew({ lease_id: creds.lease_id, increment: 10 }));
      assert.equal(error.response?.statusCode, 400);
      assert.equal(error.message, 'lease not found');
    });

    it('accepts the revocation of an unknown lease, as Vault does', async function () {
      await client().revoke({ lease_id: 'database/creds/app/unknown' });
    });

    it('revokes the leases of a token when the token is revoked', async function () {
      const { roleId, secretId } = vault.configureAppRole('app', { tokenTtlS: 60 });
      const app = client(undefined);
      const { auth } = await app.approleLogin({ role_id: roleId, secret_id: secretId });
      const creds = await app.read('database/creds/app');

      await vault.revokeToken(auth.client_token);

      assert.equal(await accountExists(creds.data.username), false);
      assert.equal(vault.leases()[0]?.endReason, 'token-revoked');
    });

    it('revokes the leases of a token when the token expires', async function () {
      const token = vault.createToken({ ttlS: 2 });
      const creds = await client(token).read('database/creds/app');

      await waitFor(async () => !(await accountExists(creds.data.username)), "the token's lease to be revoked");
    });

    it('appends the namespace id to leases issued in a namespace and records the namespace', async function () {
      const creds = await client(vault.rootToken, { namespace: 'team-a' }).read('database/creds/app');

      assert.match(creds.lease_id, /^database\/creds\/app\/[0-9A-Za-z]{24}\.[0-9A-Za-z]{5}$/);
      assert.equal(vault.requests.at(-1)?.namespace, 'team-a');
      await client().renew({ lease_id: creds.lease_id, increment: 10 });
    });
  });

  describe('static roles', function () {
    let account: { user: string; password: string };

    beforeEach(async function () {
      account = await server.createUser({ prefix: 'static', grants: `SELECT ON \`${database}\`.*` });
    });

    it('sets a new password at registration and returns it with its rotation data', async function () {
      await vault.configureStaticRole('app', { username: account.user, rotationPeriodS: 3600 });

      const { data, lease_duration } = await client().read('database/static-creds/app');

      assert.equal(data.username, account.user);
      assert.notEqual(data.password, account.password);
      assert.equal(data.rotation_period, 3600);
      assert.ok(data.ttl > 3590 && data.ttl <= 3600, String(data.ttl));
      assert.ok(!Number.isNaN(Date.parse(data.last_vault_rotation)));
      assert.equal(lease_duration, 0);
      await connect(data.username, data.password);
    });

    it('rotate-role changes the password and the old one fails with 1045', async function () {
      await vault.configureStaticRole('app', { username: account.user, rotationPeriodS: 3600 });
      const root = client();
      const before = (await root.read('database/static-creds/app')).data.password;

      await root.write('database/rotate-role/app', {});

      const after = (await root.read('database/static-creds/app')).data.password;
      assert.notEqual(after, before);
      await assert.rejects(connect(account.user, before), errno(ER_ACCESS_DENIED_ERROR));
      await connect(account.user, after);
    });

    it('rotates the password by itself every rotation period', async function () {
      await vault.configureStaticRole('app', { username: account.user, rotationPeriodS: 1 });
      const root = client();
      const first = (await root.read('database/static-creds/app')).data.password;

      await waitFor(async () => (await root.read('database/static-creds/app')).data.password !== first, 'a rotation');
    });

    it('refuses to manage an account that does not exist', async function () {
      await assert.rejects(vault.configureStaticRole('app', { username: 'nobody_here', rotationPeriodS: 60 }), /no database account/);
    });
  });

  describe('seal', function () {
    it('answers 503 Vault is sealed to every request while sealed', async function () {
      vault.seal();

      const error = await failure(() => client().read('database/creds/app'));

      assert.equal(error.response?.statusCode, 503);
      assert.equal(error.message, 'Vault is sealed');
    });

    it('reports sealed in sys/health with status 503, or the sealedcode asked for', async function () {
      vault.seal();

      assert.equal((await client().health()).sealed, true);
      assert.equal((await fetch(`${vault.endpoint}/v1/sys/health`)).status, 503);
      assert.equal((await fetch(`${vault.endpoint}/v1/sys/health?sealedcode=200`)).status, 200);
    });

    it('expires nothing while sealed and runs what fell due on unseal', async function () {
      vault.configureDatabaseRole('short', { dbName: database, defaultTtlS: 2, maxTtlS: 2 });
      const creds = await client().read('database/creds/short');
      vault.seal();
      await waitFor(() => vault.leases()[0].expiresAt < performance.now(), 'the lease to fall due');
      assert.equal(await accountExists(creds.data.username), true);

      vault.unseal();

      await waitFor(async () => !(await accountExists(creds.data.username)), 'the revocation after unseal');
    });
  });

  describe('faults', function () {
    it('forbid() answers 403 to the next matching requests only', async function () {
      const root = client();
      vault.writeKv('app/db', { password: 'one' });
      vault.faults.forbid(1, { path: 'secret/data/:path' });

      await root.tokenLookupSelf();
      const error = await failure(() => root.read('secret/data/app/db'));
      await root.read('secret/data/app/db');

      assert.equal(error.response?.statusCode, 403);
      assert.match(error.message, /permission denied/);
    });

    it("status() answers the status code with Vault's message", async function () {
      vault.faults.status(1, 429, { path: 'auth/token/lookup-self' });

      const error = await failure(() => client().tokenLookupSelf());

      assert.equal(error.response?.statusCode, 429);
      assert.match(error.message, /rate limit quota exceeded/);
    });

    it("latency() makes a request outlast the client's timeout", async function () {
      vault.faults.latency(2000, { path: 'auth/token/lookup-self', count: 1 });

      const error = await failure(() => client(vault.rootToken, { requestOptions: { timeout: 100 } }).tokenLookupSelf());

      assert.equal(error.code, 'ECONNABORTED');
      assert.equal(error.response, undefined);
    });

    it('dropConnections() destroys the socket: node-vault sees a network error, then recovers', async function () {
      const root = client();
      vault.faults.dropConnections(1);

      const error = await failure(() => root.tokenLookupSelf());
      await root.tokenLookupSelf();

      assert.equal(error.response, undefined);
      assert.match(String(error.code), /ECONNRESET|ERR_BAD_RESPONSE|EPIPE/);
    });

    it('close() drops a request held by latency at once', async function () {
      // Longer than the test's timeout: a close() that waited for the latency would fail the test.
      vault.faults.latency(600_000, { path: 'auth/token/lookup-self' });
      const request = failure(() => client().tokenLookupSelf());
      await waitFor(() => vault.calls['auth/token/lookup-self'] === 1, 'the request');

      await vault.close();
      const error = await request;

      assert.equal(error.response, undefined);
    });

    it('rejects a malformed scope with InvalidOptionError naming the option', function () {
      const named = (option: string) => (error: unknown) => error instanceof InvalidOptionError && error.option === option;

      assert.throws(() => vault.faults.forbid(1, { paht: 'sys/health' } as never), named('faults.forbid(scope).paht'));
      assert.throws(() => vault.faults.status(1, 429, ['sys/health'] as never), named('faults.status(options)'));
      assert.throws(() => vault.faults.latency(10, { path: '' }), named('faults.latency(options).path'));
    });

    it('clear() removes every fault', async function () {
      vault.faults.forbid(Infinity);
      vault.faults.clear();

      await client().tokenLookupSelf();
    });

    it('counts requests per route until resetCalls()', async function () {
      vault.configureDatabaseRole('app', { dbName: database });
      const root = client();
      await root.read('database/creds/app');
      await root.read('database/creds/app');
      await root.health();

      assert.equal(vault.calls['database/creds/:role'], 2);
      assert.equal(vault.calls['sys/health'], 1);
      vault.resetCalls();
      assert.deepEqual(vault.calls, {});
    });
  });

  describe('close()', function () {
    it('revokes the leases still active and can be called twice', async function () {
      vault.configureDatabaseRole('app', { dbName: database, defaultTtlS: 3600 });
      const creds = await client().read('database/creds/app');

      await Promise.all([vault.close(), vault.close()]);

      assert.equal(await accountExists(creds.data.username), false);
      assert.equal(vault.leases()[0]?.endReason, 'closed');
      assert.throws(() => vault.createToken(), ClosedError);
    });

    it('leaves the users in place with revokeLeasesOnClose: false', async function () {
      await start({ revokeLeasesOnClose: false });
      vault.configureDatabaseRole('app', { dbName: database, defaultTtlS: 3600 });
      const creds = await client().read('database/creds/app');

      await vault.close();

      assert.equal(await accountExists(creds.data.username), true);
      await server.query('DROP USER ?@?, ?@?', [creds.data.username, '%', creds.data.username, 'localhost']);
    });

    it('a process that starts the emulator, uses it and closes it exits by itself with no timer left', async function () {
      const account = await server.createUser({ prefix: 'exit' });
      // Counts the emulator's own timers that are neither fired nor cleared after close().
      const script = `
        const pending = new Map();
        const realSetTimeout = global.setTimeout;
        const realClearTimeout = global.clearTimeout;
        global.setTimeout = function (fn, ms, ...args) {
          const stack = new Error().stack;
          const timer = realSetTimeout(function (...a) { pending.delete(timer); return fn.apply(this, a); }, ms, ...args);
          pending.set(timer, stack);
          return timer;
        };
        global.clearTimeout = function (timer) { pending.delete(timer); return realClearTimeout(timer); };
        const { startVaultEmulator } = require(process.env.EMULATOR_MODULE);
        (async () => {
          const server = JSON.parse(process.env.EMULATOR_SERVER);
          const vault = await startVaultEmulator({ server });
          vault.configureDatabaseRole('app', { grants: 'USAGE ON *.*', defaultTtlS: 3600 });
          await vault.configureStaticRole('static', { username: process.env.EMULATOR_ACCOUNT, rotationPeriodS: 3600 });
          const token = vault.createToken({ ttlS: 3600 });
          const response = await fetch(vault.endpoint + '/v1/database/creds/app', { headers: { 'X-Vault-Token': token } });
          vault.faults.latency(3600000);
          fetch(vault.endpoint + '/v1/sys/health').catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, 50));
          await vault.close();
          const left = [...pending.values()].filter((stack) => /testing[\\\\/]vault/.test(stack)).length;
          process.stdout.write('closed ' + response.status + ' timers=' + left + '\\n');
        })().catch((error) => { console.error(error); process.exitCode = 1; });
      `;
      const { code, out } = await runToExit(['-e', script], {
        ...process.env,
        EMULATOR_MODULE: join(__dirname, '../../lib/testing/vault.ts'),
        EMULATOR_SERVER: JSON.stringify({
          host: server.host,
          port: server.port,
          adminUser: server.adminUser,
          adminPassword: server.adminPassword,
        }),
        EMULATOR_ACCOUNT: account.user,
      });

      assert.equal(code, 0, out);
      assert.match(out, /closed 200 timers=0/);
    });
  });
});
