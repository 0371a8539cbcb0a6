import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import vaultClient from 'node-vault';
import { ClosedError, InvalidOptionError } from '../../lib/errors.js';
import { VaultError } from '../../providers/vault/errors.js';
import { startVaultEmulator, type VaultEmulator } from '../../lib/testing/vault.js';
import { VaultSession, type VaultTokenEvent } from '../../providers/vault/session.js';
import type { VaultSessionOptions } from '../../providers/vault/options.js';
import { eventually } from '../helpers/load.js';

const KV_PATH = 'secret/data/app/db';

/** A JWT with the given `sub` claim (unsigned: the emulator does not check signatures). */
function jwtFor(sub: string, nonce = ''): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ iss: 'kubernetes/serviceaccount', sub, nonce })}.c2lnbmF0dXJl`;
}

/** Runs `fn`, which must reject, and returns what it threw. */
async function failure(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  assert.fail('expected a rejection');
}

const signal = (): AbortSignal => new AbortController().signal;

describe('credswap/vault: VaultSession', function () {
  let vault: VaultEmulator;
  let sessions: VaultSession[];
  let dir: string;

  before(async function () {
    vault = await startVaultEmulator();
    dir = mkdtempSync(join(tmpdir(), 'credswap-vault-client-'));
  });

  after(async function () {
    await vault?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(function () {
    sessions = [];
    vault.faults.clear();
    vault.resetCalls();
    vault.writeKv('app/db', { username: 'app', password: 'kv-password' });
  });

  afterEach(async function () {
    await Promise.all(sessions.map((s) => s.close()));
    vault.faults.clear();
  });

  function session(options: VaultSessionOptions, events?: VaultTokenEvent[], errors?: Error[]): VaultSession {
    const s = new VaultSession(options, 'test');
    if (events) s.onToken((e) => events.push(e));
    if (errors) s.onError((e) => errors.push(e));
    sessions.push(s);
    return s;
  }

  function appRole(options: Parameters<VaultEmulator['configureAppRole']>[1] = {}) {
    const { roleId, secretId } = vault.configureAppRole(`app-${sessions.length}-${Date.now()}`, options);
    return { roleId, secretId, auth: { appRole: { roleId, secretId } } };
  }

  describe('options', function () {
    it('rejects unknown keys, naming them', function () {
      assert.throws(
        () => new VaultSession({ vault: { endpoint: vault.endpoint, auth: { token: 't' }, timeout: 5 } } as never, 'test'),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'vault.timeout',
      );
      assert.throws(
        () =>
          new VaultSession(
            { vault: { endpoint: vault.endpoint, auth: { appRole: { roleId: 'r', secretId: 's', path: 'x' } } } } as never,
            'test',
          ),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'vault.auth.appRole.path',
      );
    });

    it('needs exactly one login method, an endpoint without client, and no endpoint with client', function () {
      const client = vaultClient({ endpoint: vault.endpoint });
      for (const [options, option] of [
        [{ vault: { endpoint: vault.endpoint, auth: { token: 't', appRole: { roleId: 'r', secretId: 's' } } } }, 'vault.auth'],
        [{ vault: { endpoint: vault.endpoint, auth: {} } }, 'vault.auth'],
        [{ vault: { auth: { token: 't' } } }, 'vault.endpoint'],
        [{ vault: { endpoint: vault.endpoint } }, 'vault.auth'],
        [{}, 'vault'],
        [{ client, vault: { endpoint: vault.endpoint } }, 'vault.endpoint'],
        [{ client: {} }, 'client'],
        [{ vault: { endpoint: vault.endpoint, auth: { token: 't' }, requestTimeoutMs: 0 } }, 'vault.requestTimeoutMs'],
        [{ vault: { endpoint: 'ftp://vault', auth: { token: 't' } } }, 'vault.endpoint'],
      ] as const) {
        assert.throws(
          () => new VaultSession(options as VaultSessionOptions, 'test'),
          (error: unknown) => error instanceof InvalidOptionError && error.option === option,
          option,
        );
      }
    });

    it('never echoes a token or secret id in an option error', function () {
      const error = (() => {
        try {
          new VaultSession(
            { vault: { endpoint: vault.endpoint, auth: { appRole: { roleId: 'r', secretId: 'sEcReT-id-1234' } }, extra: 1 } } as never,
            'test',
          );
        } catch (e) {
          return e as Error;
        }
        return undefined;
      })();
      assert.ok(error instanceof InvalidOptionError);
      assert.ok(!error.message.includes('sEcReT-id-1234'));
    });

    it('loading the module does not load node-vault; the first request does', function () {
      const script = [
        "const { VaultSession } = require('./providers/vault/session.ts');",
        'const loaded = () => Object.keys(require.cache).some((k) => /node_modules[\\\\/]node-vault[\\\\/]/.test(k));',
        'const before = loaded();',
        "const s = new VaultSession({ vault: { endpoint: 'http://127.0.0.1:9', auth: { token: 't' }, requestTimeoutMs: 200 } }, 'x');",
        's.read("secret/data/x", new AbortController().signal).catch(() => {}).finally(() => { console.log(JSON.stringify({ before, after: loaded() })); s.close(); });',
      ].join('\n');
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--eval', script], { cwd: join(__dirname, '../..'), encoding: 'utf8' });
      assert.equal(child.status, 0, child.stderr);
      assert.deepEqual(JSON.parse(child.stdout.trim().split('\n').at(-1)!), { before: false, after: true });
    });
  });

  describe('token auth', function () {
    it('reads with the token it was given', async function () {
      const s = session({ vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken } } });

      const answer = await s.read(KV_PATH, signal());

      assert.equal((answer.data?.data as Record<string, unknown>).username, 'app');
    });

    it('renews the token with renew-self before it expires', async function () {
      const token = vault.createToken({ ttlS: 2 });
      const events: VaultTokenEvent[] = [];
      const s = session({ vault: { endpoint: vault.endpoint, auth: { token } } }, events);
      await s.read(KV_PATH, signal());

      await eventually(() => events.filter((e) => e.type === 'renewed').length >= 2, 10_000, 'two renewals');
      await s.read(KV_PATH, signal()); // past the first TTL

      assert.ok((vault.calls['auth/token/renew-self'] ?? 0) >= 2);
      assert.equal(vault.calls['auth/token/lookup-self'], 1, 'the TTL is looked up once');
    });

    it('reports a token that cannot be renewed past its max TTL', async function () {
      const token = vault.createToken({ ttlS: 2, maxTtlS: 3 });
      const events: VaultTokenEvent[] = [];
      const errors: Error[] = [];
      const s = session({ vault: { endpoint: vault.endpoint, auth: { token } } }, events, errors);
      await s.read(KV_PATH, signal());

      await eventually(() => events.some((e) => e.type === 'capped'), 10_000, 'the token to be capped');

      assert.equal(events.find((e) => e.type === 'capped')?.final, true);
      assert.ok(errors.some((e) => e instanceof VaultError && /cannot be renewed/.test(e.message)));
      assert.ok(!s.canLogIn);
    });

    it('a revoked token gives a non-retryable 403 that says so', async function () {
      const token = vault.createToken({ ttlS: 60 });
      const events: VaultTokenEvent[] = [];
      const s = session({ vault: { endpoint: vault.endpoint, auth: { token } } }, events);
      await s.read(KV_PATH, signal());
      await vault.revokeToken(token);

      const error = await failure(() => s.read(KV_PATH, signal()));

      assert.ok(error instanceof VaultError);
      assert.equal(error.statusCode, 403);
      assert.equal(error.retryable, false);
      assert.match(error.message, /expired or revoked/);
      assert.ok(events.some((e) => e.type === 'lost'));
    });

    it("uses and renews the token of a node-vault client of the user's own", async function () {
      const token = vault.createToken({ ttlS: 2 });
      const client = vaultClient({ endpoint: vault.endpoint, token });
      const events: VaultTokenEvent[] = [];
      const s = session({ client }, events);

      await s.read(KV_PATH, signal());
      await eventually(() => events.some((e) => e.type === 'renewed'), 10_000, 'a renewal');

      assert.equal(client.token, token);
    });
  });

  describe('AppRole', function () {
    it('logs in once for many concurrent first requests', async function () {
      const { auth } = appRole({ tokenTtlS: 60 });
      const s = session({ vault: { endpoint: vault.endpoint, auth } });

      await Promise.all(Array.from({ length: 8 }, () => s.read(KV_PATH, signal())));

      assert.equal(vault.calls['auth/approle/login'], 1);
    });

    it('renews its token, then logs in again when renewal stops extending it', async function () {
      const { auth } = appRole({ tokenTtlS: 2, tokenMaxTtlS: 4 });
      const events: VaultTokenEvent[] = [];
      const s = session({ vault: { endpoint: vault.endpoint, auth } }, events);
      await s.read(KV_PATH, signal());

      await eventually(() => events.filter((e) => e.type === 'login').length >= 2, 10_000, 'a second login');
      await s.read(KV_PATH, signal());

      const capped = events.findIndex((e) => e.type === 'capped');
      assert.ok(capped > 0, 'capped after the first login');
      assert.deepEqual(
        events.slice(capped, capped + 2).map((e) => `${e.type}:${e.serial}`),
        ['capped:1', 'login:2'],
      );
      assert.ok(
        events.some((e) => e.type === 'renewed' && e.serial === 1),
        'renewed before it was capped',
      );
    });

    it('logs in again after Vault revoked its token, reports the token lost, and the request succeeds', async function () {
      const { auth } = appRole({ tokenTtlS: 60 });
      const client = vaultClient({ endpoint: vault.endpoint });
      const events: VaultTokenEvent[] = [];
      const s = session({ client, vault: { auth } }, events);
      await s.read(KV_PATH, signal());
      await vault.revokeToken(client.token);

      await s.read(KV_PATH, signal());

      assert.deepEqual(
        events.map((e) => `${e.type}:${e.serial}`),
        ['login:1', 'lost:1', 'login:2'],
      );
      assert.equal(vault.calls['auth/approle/login'], 2);
    });

    it('logs in on the mount it is given', async function () {
      const other = await startVaultEmulator({ approleMount: 'ar' });
      try {
        const { roleId, secretId } = other.configureAppRole('app');
        other.writeKv('app/db', { username: 'app', password: 'p' });
        const s = session({ vault: { endpoint: other.endpoint, auth: { appRole: { roleId, secretId, mount: 'ar' } } } });

        await s.read(KV_PATH, signal());

        assert.equal(other.calls['auth/ar/login'], 1);
      } finally {
        await other.close();
      }
    });
  });

  describe('Kubernetes', function () {
    it('logs in on its mount with the JWT from jwtPath, re-read at every login', async function () {
      const jwtPath = join(dir, 'token');
      const first = jwtFor('system:serviceaccount:shop:app', 'one');
      const second = jwtFor('system:serviceaccount:shop:app', 'two');
      writeFileSync(jwtPath, `${first}\n`);
      vault.configureKubernetesRole('shop', { jwt: first, mount: 'k8s', tokenTtlS: 60 });
      const client = vaultClient({ endpoint: vault.endpoint });
      const s = session({ client, vault: { auth: { kubernetes: { role: 'shop', jwtPath, mount: 'k8s' } } } });
      await s.read(KV_PATH, signal());

      // The kubelet rotated the service account token; Vault now accepts only the new one.
      writeFileSync(jwtPath, second);
      vault.configureKubernetesRole('shop', { jwt: second, mount: 'k8s', tokenTtlS: 60 });
      await vault.expireToken(client.token);
      await s.read(KV_PATH, signal());

      assert.equal(vault.calls['auth/k8s/login'], 2);
      assert.equal(vault.calls['unknown'], undefined, 'never posted to auth//login');
    });

    it('a missing JWT file is a non-retryable error naming the file', async function () {
      const jwtPath = join(dir, 'missing-token');
      const s = session({ vault: { endpoint: vault.endpoint, auth: { kubernetes: { role: 'shop', jwtPath } } } });

      const error = await failure(() => s.read(KV_PATH, signal()));

      assert.ok(error instanceof VaultError);
      assert.equal(error.retryable, false);
      assert.ok(error.message.includes(jwtPath));
      assert.equal(error.path, 'auth/kubernetes/login');
    });
  });

  describe('errors', function () {
    it('a 403 from a policy is not retryable and does not log in again', async function () {
      const { auth } = appRole({ tokenTtlS: 60 });
      const s = session({ vault: { endpoint: vault.endpoint, auth } });
      await s.read(KV_PATH, signal());
      vault.faults.forbid(1, { path: KV_PATH });

      const error = await failure(() => s.read(KV_PATH, signal()));

      assert.ok(error instanceof VaultError);
      assert.equal(error.statusCode, 403);
      assert.equal(error.retryable, false);
      assert.equal(vault.calls['auth/approle/login'], 1);
    });

    it('a 403 after logging in again once is not retryable', async function () {
      const { auth } = appRole({ tokenTtlS: 60 });
      const client = vaultClient({ endpoint: vault.endpoint });
      const s = session({ client, vault: { auth } });
      await s.read(KV_PATH, signal());
      await vault.revokeToken(client.token);
      // The first read is refused (its token is gone), and so is the read after the new login.
      vault.faults.forbid(2, { path: KV_PATH });

      const error = await failure(() => s.read(KV_PATH, signal()));

      assert.ok(error instanceof VaultError);
      assert.equal(error.retryable, false);
      assert.equal(vault.calls['auth/approle/login'], 2, 'one login again, not more');
    });

    it('a 404 names the path and is not retryable', async function () {
      const s = session({ vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken } } });

      const error = await failure(() => s.read('secret/data/nope', signal()));

      assert.ok(error instanceof VaultError);
      assert.equal(error.statusCode, 404);
      assert.equal(error.retryable, false);
      assert.equal(error.path, 'secret/data/nope');
      assert.match(error.message, /secret\/data\/nope/);
    });

    for (const status of [412, 429, 500, 502, 503]) {
      it(`${status} is retryable`, async function () {
        const s = session({ vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken } } });
        await s.read(KV_PATH, signal());
        vault.faults.status(1, status, { path: KV_PATH });

        const error = await failure(() => s.read(KV_PATH, signal()));

        assert.ok(error instanceof VaultError);
        assert.equal(error.statusCode, status);
        assert.equal(error.retryable, true);
      });
    }

    it('a sealed Vault is retryable and says so', async function () {
      const s = session({ vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken } } });
      await s.read(KV_PATH, signal());
      vault.seal();
      try {
        const error = await failure(() => s.read(KV_PATH, signal()));

        assert.ok(error instanceof VaultError);
        assert.equal(error.retryable, true);
        assert.match(error.message, /sealed/);
      } finally {
        vault.unseal();
      }
    });

    it('a dropped connection is a retryable network error', async function () {
      const s = session({ vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken } } });
      await s.read(KV_PATH, signal());
      vault.faults.dropConnections(1, { path: KV_PATH });

      const error = await failure(() => s.read(KV_PATH, signal()));

      assert.ok(error instanceof VaultError);
      assert.equal(error.statusCode, undefined);
      assert.equal(error.retryable, true);
    });

    it('gives up on a request after requestTimeoutMs with a retryable error', async function () {
      const s = session({ vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken }, requestTimeoutMs: 150 } });
      await s.read(KV_PATH, signal());
      vault.faults.latency(2_000, { path: KV_PATH, count: 1 });

      const error = await failure(() => s.read(KV_PATH, signal()));

      assert.ok(error instanceof VaultError);
      assert.equal(error.retryable, true);
    });

    it("honours the caller's signal while a request hangs", async function () {
      const s = session({ vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken } } });
      await s.read(KV_PATH, signal());
      vault.faults.latency(2_000, { path: KV_PATH, count: 1 });
      const controller = new AbortController();
      const reason = new Error('caller gave up');

      const pending = s.read(KV_PATH, controller.signal);
      setTimeout(() => controller.abort(reason), 50);

      assert.equal(await failure(() => pending), reason);
    });

    it('never shows the token, the secret id or the JWT in errors, inspect() or JSON', async function () {
      const { auth, secretId } = appRole({ tokenTtlS: 60 });
      const client = vaultClient({ endpoint: vault.endpoint });
      const s = session({ client, vault: { auth } });
      await s.read(KV_PATH, signal());
      const token = client.token;
      const errors: Error[] = [];
      vault.faults.status(1, 500, { path: KV_PATH, errors: [`boom ${token} ${secretId}`] });
      errors.push(await failure(() => s.read(KV_PATH, signal())));
      vault.faults.dropConnections(1, { path: KV_PATH });
      errors.push(await failure(() => s.read(KV_PATH, signal())));
      await vault.revokeToken(token);
      vault.faults.status(1, 400, { path: /^auth\/approle\/login$/, errors: [`invalid secret id ${secretId}`] });
      errors.push(await failure(() => s.read(KV_PATH, signal())));
      assert.equal((errors.at(-1) as VaultError).path, 'auth/approle/login');

      for (const text of [...errors.flatMap((e) => [inspect(e, { depth: 10 }), JSON.stringify(e), String(e)]), inspect(s, { depth: 10 })]) {
        assert.ok(!text.includes(token), text);
        assert.ok(!text.includes(secretId), text);
      }
    });

    it("keeps node-vault's debug output silent even when DEBUG enables it", async function () {
      const { auth, secretId } = appRole({ tokenTtlS: 60 });
      // node-vault's own logger: the `debug` package, channel `node-vault`.
      const debugModule = 'debug';
      const debug = ((await import(debugModule)) as { default: { enable(ns: string): void; disable(): string } }).default;
      const written: string[] = [];
      const write = process.stderr.write;
      debug.enable('node-vault');
      process.stderr.write = (chunk: unknown, ...rest: unknown[]) => {
        written.push(String(chunk));
        return (write as (...args: unknown[]) => boolean).call(process.stderr, chunk, ...rest);
      };
      try {
        const s = session({ vault: { endpoint: vault.endpoint, auth } });
        await s.read(KV_PATH, signal());
      } finally {
        process.stderr.write = write;
        debug.disable();
      }

      assert.ok(!written.join('').includes(secretId));
      assert.deepEqual(
        written.filter((w) => w.includes('node-vault')),
        [],
      );
    });
  });

  describe('close()', function () {
    it('aborts requests under way and refuses new ones with ClosedError', async function () {
      const s = session({ vault: { endpoint: vault.endpoint, auth: { token: vault.rootToken } } });
      await s.read(KV_PATH, signal());
      vault.faults.latency(2_000, { path: KV_PATH, count: 1 });

      const pending = s.read(KV_PATH, signal());
      await new Promise((resolve) => setTimeout(resolve, 20));
      await s.close();

      assert.ok((await failure(() => pending)) instanceof ClosedError);
      assert.ok((await failure(() => s.read(KV_PATH, signal()))) instanceof ClosedError);
    });
  });
});
