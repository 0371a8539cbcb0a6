import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { inspect } from 'node:util';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import sinon from 'sinon';
import type { Credentials, SealedCredentials } from '../../lib/credentials.js';
import { ClosedError, InvalidCredentialsError, InvalidOptionError } from '../../lib/errors.js';
import { SecretsManagerError } from '../../providers/aws/errors.js';
import { fromFunction, type FetchContext, type FetchReason } from '../../lib/provider.js';
import { chain, shouldTryNextProvider } from '../../lib/chain.js';
import {
  startLambdaExtensionEmulator,
  type LambdaExtensionEmulator,
  type LambdaExtensionEmulatorOptions,
} from '../../lib/testing/lambda-extension.js';
import { startSecretsManagerEmulator } from '../../lib/testing/secrets-manager.js';
import type { LambdaExtensionProviderOptions } from '../../providers/aws/lambda-extension/options.js';
import { LambdaExtensionProvider } from '../../providers/aws/lambda-extension/provider.js';
import { spySubscriber } from '../helpers/subscriber.js';

type SecretsManagerEmulator = Awaited<ReturnType<typeof startSecretsManagerEmulator>>;

/** Session tokens here have no 4-character run that could occur in a message by chance. */
const TOKEN = 'Qz7Xw2Vb9Kq4Jt8Yp3Rm6Ln1Hd5Gs0Fc';
const PASSWORD = 'Zq9!xK#7vPmW';
const NEW_PASSWORD = 'Hy4$rT@2nLcB';
const PENDING_PASSWORD = 'Pd3%wQ^8sVjN';
const ENV_KEYS = ['AWS_SESSION_TOKEN', 'PARAMETERS_SECRETS_EXTENSION_HTTP_PORT'] as const;

let sm: SecretsManagerEmulator;
let smClient: SecretsManagerClient;
let emulators: LambdaExtensionEmulator[];
let providers: LambdaExtensionProvider[];
let savedEnv: Record<string, string | undefined>;
let secretCounter = 0;

function dbSecret(password: string): Record<string, unknown> {
  return { engine: 'mysql', host: '127.0.0.1', port: 3306, username: 'app', password, dbname: 'shop' };
}

/** A fresh secret per test, so that no test sees another's versions. */
/** Stores a new version of the secret with `password`, labelled `stage`, through the real SDK client. */
async function putVersion(secretId: string, token: string, password: string, stage: string): Promise<void> {
  await smClient.send(
    new PutSecretValueCommand({
      SecretId: secretId,
      ClientRequestToken: token,
      SecretString: JSON.stringify(dbSecret(password)),
      VersionStages: [stage],
    }),
  );
}

function newSecret(password = PASSWORD): string {
  const name = `lambda-ext/test-${process.pid}-${++secretCounter}`;
  sm.putSecret(name, dbSecret(password));
  return name;
}

async function extension(options: Partial<LambdaExtensionEmulatorOptions> = {}): Promise<LambdaExtensionEmulator> {
  const e = await startLambdaExtensionEmulator({
    secretsManager: { ...sm.clientConfig(), maxAttempts: 1 },
    token: TOKEN,
    ...options,
  });
  emulators.push(e);
  return e;
}

function provider(options: LambdaExtensionProviderOptions): LambdaExtensionProvider {
  const p = new LambdaExtensionProvider({ host: '127.0.0.1', requestTimeoutMs: 2000, ...options });
  providers.push(p);
  return p;
}

function read(p: LambdaExtensionProvider, reason: FetchReason = 'initial', current?: Credentials, signal?: AbortSignal) {
  const context: FetchContext = { reason };
  return p.getCredentials(signal ?? new AbortController().signal, current as SealedCredentials | undefined, context);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

/** Every 4-character piece of `secret`: none may appear in `text`. */
function assertNoPartOf(secret: string, text: string): void {
  for (let i = 0; i + 4 <= secret.length; i++) {
    const piece = secret.slice(i, i + 4);
    assert.ok(!text.includes(piece), `found '${piece}' in: ${text}`);
  }
}

/** Everything an error shows: message, stack, inspect (with causes). */
function shown(error: unknown): string {
  return `${(error as Error).message}\n${(error as Error).stack}\n${inspect(error, { depth: 5 })}`;
}

/** A TCP port on which nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('LambdaExtensionProvider', () => {
  before(async () => {
    sm = await startSecretsManagerEmulator();
    smClient = new SecretsManagerClient({ ...sm.clientConfig(), maxAttempts: 1 });
  });

  after(async () => {
    smClient.destroy();
    await sm.close();
  });

  beforeEach(() => {
    emulators = [];
    providers = [];
    savedEnv = {};
    for (const key of ENV_KEYS) savedEnv[key] = process.env[key];
    process.env.AWS_SESSION_TOKEN = TOKEN;
    delete process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT;
  });

  afterEach(async () => {
    await Promise.all(providers.map((p) => p.close()));
    await Promise.all(emulators.map((e) => e.close()));
    for (const key of ENV_KEYS) {
      if (savedEnv[key] === undefined) delete process.env[key];
      else process.env[key] = savedEnv[key];
    }
  });

  describe('reading the secret', () => {
    it('reads the secret with the token from AWS_SESSION_TOKEN and the port from PARAMETERS_SECRETS_EXTENSION_HTTP_PORT', async () => {
      const ext = await extension();
      const secretId = newSecret();
      process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT = String(ext.port);
      const creds = await read(provider({ secretId }));
      assert.deepEqual(
        { ...creds, password: creds?.password },
        { user: 'app', password: PASSWORD, host: '127.0.0.1', port: 3306, database: 'shop' },
      );
      assert.equal(ext.calls.GetSecretValue, 1);
      assert.equal(ext.requests[0]?.versionStage, 'AWSCURRENT');
      assert.equal(ext.requests[0]?.refreshNow, undefined);
    });

    it('returns undefined when the secret still holds the current credentials', async () => {
      const ext = await extension();
      const secretId = newSecret();
      const p = provider({ secretId, port: ext.port });
      const first = await read(p);
      assert.equal(await read(p, 'manual', first), undefined);
    });

    it('reads the token given as an option instead of AWS_SESSION_TOKEN', async () => {
      const ext = await extension();
      const secretId = newSecret();
      process.env.AWS_SESSION_TOKEN = 'some-other-token';
      const creds = await read(provider({ secretId, port: ext.port, token: TOKEN }));
      assert.equal(creds?.password, PASSWORD);
    });

    it('reads the configured staging label', async () => {
      const ext = await extension();
      const secretId = newSecret();
      await putVersion(secretId, 'labelled-version-0000000000000000000000', NEW_PASSWORD, 'BLUE');
      const creds = await read(provider({ secretId, port: ext.port, versionStage: 'BLUE' }));
      assert.equal(creds?.password, NEW_PASSWORD);
    });

    it('rejects a secret that is not database credentials, naming the secret and the key', async () => {
      const ext = await extension();
      const secretId = `lambda-ext/test-${process.pid}-${++secretCounter}`;
      sm.putSecret(secretId, { username: 'app', pass: PASSWORD });
      const error = await rejection(read(provider({ secretId, port: ext.port })));
      assert.ok(error instanceof InvalidCredentialsError);
      assert.equal(error.key, 'password');
      assert.match(error.message, new RegExp(secretId));
      assertNoPartOf(PASSWORD, shown(error));
    });
  });

  describe('errors', () => {
    for (const flavor of ['agent', 'lambda-extension'] as const) {
      it(`rejects a wrong token with a non-retryable error that does not show the token (${flavor})`, async () => {
        const ext = await extension({ flavor });
        const secretId = newSecret();
        const wrong = 'Wx3Zq8Vk2Jb7Yt4Rp9Lm1Nd6Hs5Gc0Fq';
        const error = await rejection(read(provider({ secretId, port: ext.port, token: wrong })));
        assert.ok(error instanceof SecretsManagerError, inspect(error));
        assert.equal(error.awsError, 'ExtensionTokenRejected');
        assert.equal(error.retryable, false);
        assert.match(error.message, /token/);
        assertNoPartOf(wrong, shown(error));
        assertNoPartOf(TOKEN, shown(error));
        assert.equal(ext.calls.GetSecretValue, 0);
      });
    }

    it('fails without asking the extension when there is no token at all', async () => {
      const ext = await extension();
      const secretId = newSecret();
      delete process.env.AWS_SESSION_TOKEN;
      const error = await rejection(read(provider({ secretId, port: ext.port })));
      assert.ok(error instanceof SecretsManagerError);
      assert.equal(error.awsError, 'MissingSessionToken');
      assert.equal(error.retryable, false);
      assert.equal(ext.calls.requests, 0);
    });

    it('names an unknown secret with a non-retryable ResourceNotFoundException', async () => {
      const ext = await extension();
      const error = await rejection(read(provider({ secretId: 'lambda-ext/no-such-secret', port: ext.port })));
      assert.ok(error instanceof SecretsManagerError);
      assert.equal(error.awsError, 'ResourceNotFoundException');
      assert.equal(error.retryable, false);
      assert.equal(error.secretId, 'lambda-ext/no-such-secret');
      assert.match(error.message, /lambda-ext\/no-such-secret/);
    });

    it('marks throttling passed on from Secrets Manager as retryable', async () => {
      const ext = await extension();
      const secretId = newSecret();
      sm.faults.throttle(1);
      const error = await rejection(read(provider({ secretId, port: ext.port })));
      assert.ok(error instanceof SecretsManagerError, inspect(error));
      assert.equal(error.awsError, 'ThrottlingException');
      assert.equal(error.retryable, true);
    });

    it('gives up on a request after requestTimeoutMs with a retryable error', async () => {
      const sockets = new Set<Socket>();
      const silent: Server = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const port = (silent.address() as { port: number }).port;
        const error = await rejection(read(provider({ secretId: 'any', port, requestTimeoutMs: 100 })));
        assert.ok(error instanceof SecretsManagerError);
        assert.equal(error.awsError, 'RequestTimeout');
        assert.equal(error.retryable, true);
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it('keeps the token and every password out of error messages and util.inspect', async () => {
      const ext = await extension();
      const secretId = newSecret();
      const p = provider({ secretId, port: ext.port, token: TOKEN });
      const errors: unknown[] = [];
      errors.push(await rejection(read(provider({ secretId, port: ext.port, token: `${TOKEN}x` }))));
      errors.push(await rejection(read(provider({ secretId: 'lambda-ext/missing', port: ext.port, token: TOKEN }))));
      errors.push(await rejection(read(provider({ secretId, port: await closedPort(), token: TOKEN, startupRetryMs: 0 }))));
      const badId = `lambda-ext/test-${process.pid}-${++secretCounter}`;
      sm.putSecret(badId, `{"username":"app","password":"${PASSWORD}",`);
      errors.push(await rejection(read(provider({ secretId: badId, port: ext.port, token: TOKEN }))));
      const creds = await read(p);
      const text = [...errors.map(shown), inspect(p, { depth: 5 }), inspect(creds), JSON.stringify(creds), String(creds)].join('\n');
      assertNoPartOf(TOKEN, text);
      assertNoPartOf(PASSWORD, text);
      assert.equal(errors.length, 4);
    });
  });

  describe('cold start', () => {
    it('retries refused connections until the extension listens', async () => {
      const ext = await extension({ listenAfterMs: 300 });
      const secretId = newSecret();
      const creds = await read(provider({ secretId, port: ext.port, startupRetryMs: 5000 }));
      assert.equal(creds?.password, PASSWORD);
      assert.ok(ext.listening);
    });

    it('waits while the Lambda extension answers that it is not ready', async () => {
      const ext = await extension({ flavor: 'lambda-extension', notReadyForMs: 200 });
      const secretId = newSecret();
      const creds = await read(provider({ secretId, port: ext.port, startupRetryMs: 5000 }));
      assert.equal(creds?.password, PASSWORD);
      assert.equal(ext.requests[0]?.status, 400);
      assert.equal(ext.requests.at(-1)?.status, 200);
    });

    it('asks the fallback provider when the extension never listens', async () => {
      const ext = await extension({ listenAfterMs: Number.POSITIVE_INFINITY });
      const secretId = newSecret();
      const fallbackCreds = { user: 'app', password: NEW_PASSWORD };
      const fallback = sinon.spy(
        async (_signal: AbortSignal, _current: SealedCredentials | undefined, _context: FetchContext) => fallbackCreds,
      );
      const p = provider({ secretId, port: ext.port, startupRetryMs: 200, fallback: fromFunction(fallback, { name: 'sdk' }) });
      const signal = new AbortController().signal;
      const creds = await p.getCredentials(signal, undefined, { reason: 'initial' });
      assert.equal(creds, fallbackCreds);
      sinon.assert.calledOnceWithExactly(fallback, signal, undefined, { reason: 'initial' });
    });

    it('fails with a retryable ExtensionUnreachable error when the extension never listens and there is no fallback', async () => {
      const error = await rejection(read(provider({ secretId: 'any', port: await closedPort(), startupRetryMs: 100 })));
      assert.ok(error instanceof SecretsManagerError);
      assert.equal(error.awsError, 'ExtensionUnreachable');
      assert.equal(error.retryable, true);
      assert.match(error.message, /ECONNREFUSED/);
    });

    it('does not switch to the fallback for an error the extension answers with', async () => {
      const ext = await extension();
      const fallback = sinon.spy(async () => ({ user: 'app', password: NEW_PASSWORD }));
      const p = provider({ secretId: 'lambda-ext/missing', port: ext.port, fallback: fromFunction(fallback) });
      const error = await rejection(read(p));
      assert.ok(error instanceof SecretsManagerError);
      assert.equal(error.awsError, 'ResourceNotFoundException');
      sinon.assert.notCalled(fallback);
    });

    it('in a chain, an extension that never listens hands over to the next provider', async () => {
      const next = sinon.spy(async () => ({ user: 'app', password: NEW_PASSWORD }));
      const credentials = chain(provider({ secretId: 'any', port: await closedPort(), startupRetryMs: 50 }), fromFunction(next));
      const creds = await credentials.getCredentials(new AbortController().signal, undefined, { reason: 'initial' });
      assert.equal(creds?.password, NEW_PASSWORD);
      sinon.assert.calledOnce(next);
    });

    it('in a chain, an error the extension answers with stops the chain', async () => {
      const ext = await extension();
      const next = sinon.spy(async () => ({ user: 'app', password: NEW_PASSWORD }));
      const credentials = chain(provider({ secretId: 'lambda-ext/missing', port: ext.port }), fromFunction(next));
      const error = await rejection(credentials.getCredentials(new AbortController().signal, undefined, { reason: 'initial' }));
      assert.ok(error instanceof SecretsManagerError);
      assert.equal(error.awsError, 'ResourceNotFoundException');
      assert.equal(shouldTryNextProvider(error), false);
      sinon.assert.notCalled(next);
    });
  });

  describe('after the server refused the credentials (1045)', () => {
    it('asks past a stale cache with refreshNow and gets the new password', async () => {
      const ext = await extension();
      const secretId = newSecret();
      const p = provider({ secretId, port: ext.port });
      const first = await read(p);
      sm.putSecret(secretId, dbSecret(NEW_PASSWORD));
      // The extension's cache still holds the old value:
      assert.equal(await read(p, 'expiring', first), undefined);
      const creds = await read(p, 'rejected', first);
      assert.equal(creds?.password, NEW_PASSWORD);
      assert.equal(ext.requests.at(-1)?.refreshNow, 'true');
      assert.equal(ext.requests.at(-1)?.source, 'secrets-manager');
    });

    it('returns the AWSPENDING credentials during a single-user rotation window', async () => {
      const ext = await extension();
      const secretId = newSecret();
      const p = provider({ secretId, port: ext.port });
      const first = await read(p);
      // createSecret put the pending version; setSecret changed the database password; AWSCURRENT has not moved.
      await putVersion(secretId, 'rotation-token-00000000000000000000000001', PENDING_PASSWORD, 'AWSPENDING');
      const creds = await read(p, 'rejected', first);
      assert.equal(creds?.password, PENDING_PASSWORD);
      assert.deepEqual(
        ext.requests.slice(-2).map((r) => [r.versionStage, r.refreshNow]),
        [
          ['AWSCURRENT', 'true'],
          ['AWSPENDING', 'true'],
        ],
      );
    });

    it('finds the AWSPENDING credentials behind the Lambda extension layer, which serves its cache despite refreshNow', async () => {
      const ext = await extension({ flavor: 'lambda-extension' });
      const secretId = newSecret();
      const p = provider({ secretId, port: ext.port });
      const first = await read(p);
      await putVersion(secretId, 'rotation-token-00000000000000000000000002', PENDING_PASSWORD, 'AWSPENDING');
      const creds = await read(p, 'rejected', first);
      assert.equal(creds?.password, PENDING_PASSWORD);
      assert.equal(ext.requests.at(-2)?.source, 'cache');
    });

    it('returns undefined when AWSCURRENT is unchanged and no version is pending', async () => {
      const ext = await extension();
      const secretId = newSecret();
      const p = provider({ secretId, port: ext.port });
      const first = await read(p);
      assert.equal(await read(p, 'rejected', first), undefined);
    });

    it('does not look for AWSPENDING when usePendingVersion is false', async () => {
      const ext = await extension();
      const secretId = newSecret();
      const p = provider({ secretId, port: ext.port, usePendingVersion: false });
      const first = await read(p);
      assert.equal(await read(p, 'rejected', first), undefined);
      assert.ok(ext.requests.every((r) => r.versionStage === 'AWSCURRENT'));
    });

    it('asks again without refreshNow, and stops sending it, when the endpoint rejects it (Secrets Manager Agent 1.0)', async () => {
      const ext = await extension({ flavor: 'agent-1.0', ttlMs: 0 });
      const secretId = newSecret();
      const p = provider({ secretId, port: ext.port });
      const first = await read(p);
      sm.putSecret(secretId, dbSecret(NEW_PASSWORD));
      const creds = await read(p, 'rejected', first);
      assert.equal(creds?.password, NEW_PASSWORD);
      assert.deepEqual(
        ext.requests.slice(1).map((r) => [r.refreshNow, r.status]),
        [
          ['true', 400],
          [undefined, 200],
        ],
      );
      await read(p, 'rejected', creds);
      assert.ok(ext.requests.slice(3).every((r) => r.refreshNow === undefined));
    });

    it('fails with RefreshNowUnsupported when refreshNow is true and the endpoint rejects it', async () => {
      const ext = await extension({ flavor: 'agent-1.0' });
      const secretId = newSecret();
      const error = await rejection(read(provider({ secretId, port: ext.port, refreshNow: true })));
      assert.ok(error instanceof SecretsManagerError);
      assert.equal(error.awsError, 'RefreshNowUnsupported');
      assert.equal(error.retryable, false);
    });

    it('never sends refreshNow when the option is false', async () => {
      const ext = await extension();
      const secretId = newSecret();
      const p = provider({ secretId, port: ext.port, refreshNow: false });
      const first = await read(p);
      await read(p, 'rejected', first);
      assert.ok(ext.requests.every((r) => r.refreshNow === undefined));
    });
  });

  describe('cancellation and closing', () => {
    it('rejects at once with the reason of an already aborted signal', async () => {
      const ext = await extension();
      const reason = new Error('gave up');
      const error = await rejection(read(provider({ secretId: 'any', port: ext.port }), 'initial', undefined, AbortSignal.abort(reason)));
      assert.equal(error, reason);
      assert.equal(ext.calls.requests, 0);
    });

    it('rejects with the signal reason when aborted while waiting for the extension to start', async () => {
      const ext = await extension({ listenAfterMs: Number.POSITIVE_INFINITY });
      const controller = new AbortController();
      const reason = new Error('rotation timeout');
      const pending = read(provider({ secretId: 'any', port: ext.port, startupRetryMs: 10_000 }), 'initial', undefined, controller.signal);
      setTimeout(() => controller.abort(reason), 100);
      assert.equal(await rejection(pending), reason);
    });

    it('rejects with the signal reason when aborted during a request that does not answer', async () => {
      const sockets = new Set<Socket>();
      const silent: Server = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const port = (silent.address() as { port: number }).port;
        const controller = new AbortController();
        const pending = read(provider({ secretId: 'any', port, requestTimeoutMs: 10_000 }), 'initial', undefined, controller.signal);
        setTimeout(() => controller.abort('stop'), 100);
        assert.equal(await rejection(pending), 'stop');
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it('close() ends a call waiting for the extension with ClosedError and closes the fallback', async () => {
      const ext = await extension({ listenAfterMs: Number.POSITIVE_INFINITY });
      const close = sinon.spy();
      const fallback = { name: 'stub', getCredentials: async () => undefined, close };
      const p = provider({ secretId: 'any', port: ext.port, startupRetryMs: 10_000, fallback });
      const pending = read(p);
      setTimeout(() => void p.close(), 100);
      assert.ok((await rejection(pending)) instanceof ClosedError);
      sinon.assert.calledOnce(close);
      assert.ok((await rejection(read(p))) instanceof ClosedError);
    });
  });

  describe('background polling', () => {
    it('reports a new AWSCURRENT version to subscribers when refreshIntervalMs is set', async () => {
      const ext = await extension({ ttlMs: 0 });
      const secretId = newSecret();
      const p = provider({ secretId, port: ext.port, refreshIntervalMs: 50 });
      await read(p);
      const { onChange, onError, unsubscribe } = spySubscriber(p);
      try {
        sm.putSecret(secretId, dbSecret(NEW_PASSWORD));
        const deadline = Date.now() + 5000;
        while (onChange.callCount === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        sinon.assert.calledOnce(onChange);
        assert.equal(onChange.firstCall.args[0].password, NEW_PASSWORD);
        sinon.assert.notCalled(onError);
      } finally {
        unsubscribe();
      }
    });

    it('does not poll by default', async () => {
      const ext = await extension();
      const secretId = newSecret();
      const p = provider({ secretId, port: ext.port });
      await read(p);
      const unsubscribe = p.subscribe(
        () => {},
        () => {},
      );
      await new Promise((r) => setTimeout(r, 200));
      unsubscribe();
      assert.equal(ext.calls.requests, 1);
    });
  });

  describe('options', () => {
    it('rejects unknown options, naming them', () => {
      assert.throws(
        () => new LambdaExtensionProvider({ secretId: 'x', ttl: 5 } as unknown as LambdaExtensionProviderOptions),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'LambdaExtensionProvider.ttl',
      );
    });

    it('requires a secretId', () => {
      assert.throws(() => new LambdaExtensionProvider({} as LambdaExtensionProviderOptions), InvalidOptionError);
    });

    it('refuses a host that is not a loopback address, since the request carries the session token', () => {
      assert.throws(
        () => new LambdaExtensionProvider({ secretId: 'x', host: 'extension.example.com' }),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'LambdaExtensionProvider.host',
      );
      assert.doesNotThrow(() => new LambdaExtensionProvider({ secretId: 'x', host: '::1' }));
    });

    it("rejects a refreshNow that is not 'auto', true or false", () => {
      assert.throws(() => new LambdaExtensionProvider({ secretId: 'x', refreshNow: 'yes' as unknown as boolean }), InvalidOptionError);
    });
  });
});

describe('startLambdaExtensionEmulator', () => {
  let smEmulator: SecretsManagerEmulator;
  let ext: LambdaExtensionEmulator | undefined;

  before(async () => {
    smEmulator = await startSecretsManagerEmulator();
    smEmulator.putSecret('emulator/db', dbSecret(PASSWORD));
  });

  after(() => smEmulator.close());

  afterEach(async () => {
    await ext?.close();
    ext = undefined;
  });

  async function start(options: Partial<LambdaExtensionEmulatorOptions> = {}): Promise<LambdaExtensionEmulator> {
    ext = await startLambdaExtensionEmulator({
      secretsManager: { ...smEmulator.clientConfig(), maxAttempts: 1 },
      token: TOKEN,
      ...options,
    });
    return ext;
  }

  function get(e: LambdaExtensionEmulator, query: string, headers: Record<string, string> = { 'X-Aws-Parameters-Secrets-Token': TOKEN }) {
    return fetch(`${e.endpoint}/secretsmanager/get?${query}`, { headers });
  }

  it('answers a GetSecretValue-shaped JSON body', async () => {
    const e = await start();
    const res = await get(e, 'secretId=emulator/db');
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.Name, 'emulator/db');
    assert.deepEqual(body.VersionStages, ['AWSCURRENT']);
    assert.equal(JSON.parse(body.SecretString as string).password, PASSWORD);
    assert.equal(typeof body.VersionId, 'string');
  });

  it('serves repeated reads from its cache', async () => {
    const e = await start();
    await (await get(e, 'secretId=emulator/db')).text();
    await (await get(e, 'secretId=emulator/db')).text();
    assert.equal(e.calls.GetSecretValue, 1);
    assert.equal(e.requests[1]?.source, 'cache');
  });

  it('revalidates an expired entry with DescribeSecret, as the Secrets Manager Agent does', async () => {
    const e = await start({ ttlMs: 50 });
    await (await get(e, 'secretId=emulator/db')).text();
    await new Promise((r) => setTimeout(r, 80));
    await (await get(e, 'secretId=emulator/db')).text();
    assert.equal(e.calls.GetSecretValue, 1);
    assert.equal(e.calls.DescribeSecret, 1);
  });

  it('skips the cache for refreshNow=true', async () => {
    const e = await start();
    await (await get(e, 'secretId=emulator/db')).text();
    await (await get(e, 'secretId=emulator/db&refreshNow=true')).text();
    assert.equal(e.calls.GetSecretValue, 2);
  });

  it('answers 403 Bad Token to a request without the token, and /ping without one', async () => {
    const e = await start();
    const res = await get(e, 'secretId=emulator/db', {});
    assert.equal(res.status, 403);
    assert.equal(await res.text(), 'Bad Token');
    const ping = await fetch(`${e.endpoint}/ping`);
    assert.equal(await ping.text(), 'healthy');
  });

  it('passes Secrets Manager errors on with their status and __type', async () => {
    const e = await start();
    const res = await get(e, 'secretId=emulator/missing');
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { __type: string }).__type, 'ResourceNotFoundException');
  });

  it('refuses connections until it is told to listen', async () => {
    const e = await start({ listenAfterMs: Number.POSITIVE_INFINITY });
    await assert.rejects(get(e, 'secretId=emulator/db'));
    await e.listen();
    await e.ready();
    assert.equal((await get(e, 'secretId=emulator/db')).status, 200);
  });

  it('closes idempotently, with a keep-alive connection open', async () => {
    const e = await start();
    await (await get(e, 'secretId=emulator/db')).text();
    await Promise.all([e.close(), e.close()]);
    await e.close();
  });
});
