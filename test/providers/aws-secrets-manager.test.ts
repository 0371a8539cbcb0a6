import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import sinon from 'sinon';
import type { Credentials, SealedCredentials } from '../../lib/credentials.js';
import { InvalidCredentialsError, InvalidOptionError } from '../../lib/errors.js';
import { SecretsManagerError } from '../../providers/aws/errors.js';
import type { FetchContext } from '../../lib/provider.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../lib/testing/secrets-manager.js';
import { SecretsManagerProvider, type SecretsManagerProviderOptions } from '../../providers/aws/secrets-manager.js';
import { eventually } from '../helpers/load.js';

const PASSWORD = 'Zq9!xK#7vPmW-current';
const PENDING_PASSWORD = 'Hy4$rT@2nLcB-pending';
const INITIAL: FetchContext = { reason: 'initial' };
const REJECTED: FetchContext = { reason: 'rejected' };

function secret(password: string, user = 'app'): string {
  return JSON.stringify({ engine: 'mysql', host: '127.0.0.1', port: 3306, username: user, password, dbname: 'orders' });
}

describe('SecretsManagerProvider', function () {
  let emulator: SecretsManagerEmulator;
  let admin: SecretsManagerClient;
  let providers: SecretsManagerProvider[];
  let n = 0;
  let secretId: string;

  before(async function () {
    emulator = await startSecretsManagerEmulator();
    admin = new SecretsManagerClient({ ...emulator.clientConfig(), maxAttempts: 1 });
  });

  after(async function () {
    admin?.destroy();
    await emulator?.close();
  });

  beforeEach(async function () {
    providers = [];
    n += 1;
    secretId = `test/db-${n}`;
    await admin.send(new CreateSecretCommand({ Name: secretId, SecretString: secret(PASSWORD) }));
    emulator.faults.clear();
    emulator.resetCalls();
  });

  afterEach(async function () {
    await Promise.all(providers.map((p) => p.close()));
    sinon.restore();
  });

  function provider(options: Partial<SecretsManagerProviderOptions> = {}): SecretsManagerProvider {
    const p = new SecretsManagerProvider({
      secretId,
      clientConfig: { ...emulator.clientConfig(), maxAttempts: 1 },
      refreshIntervalMs: 0,
      ...options,
    });
    providers.push(p);
    return p;
  }

  async function get(p: SecretsManagerProvider, current?: Credentials, context = INITIAL) {
    return p.getCredentials(new AbortController().signal, current as SealedCredentials | undefined, context);
  }

  /** What `setSecret` of a single-user rotation leaves: AWSPENDING on a new version, AWSCURRENT unchanged. */
  async function putPending(password: string, user = 'app'): Promise<string> {
    const out = await admin.send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: secret(password, user), VersionStages: ['AWSPENDING'] }),
    );
    return out.VersionId!;
  }

  /** What `finishSecret` does: move AWSCURRENT to the given version. */
  async function finish(versionId: string): Promise<void> {
    const described = await admin.send(new DescribeSecretCommand({ SecretId: secretId }));
    const current = Object.entries(described.VersionIdsToStages ?? {}).find(([, stages]) => stages.includes('AWSCURRENT'))![0];
    await admin.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: versionId,
        RemoveFromVersionId: current,
      }),
    );
  }

  function calls(): { get: number; describe: number } {
    return { get: emulator.calls.GetSecretValue ?? 0, describe: emulator.calls.DescribeSecret ?? 0 };
  }

  describe('fetching', function () {
    it('reads AWSCURRENT with one GetSecretValue at the first connection', async function () {
      const creds = await get(provider());
      assert.deepEqual(
        { ...creds, password: creds!.password },
        {
          user: 'app',
          password: PASSWORD,
          host: '127.0.0.1',
          port: 3306,
          database: 'orders',
        },
      );
      assert.deepEqual(calls(), { get: 1, describe: 0 });
    });

    it('after a 1045 with AWSCURRENT unchanged, returns the AWSPENDING version: one DescribeSecret and one GetSecretValue', async function () {
      const p = provider();
      const current = await get(p);
      await putPending(PENDING_PASSWORD);
      emulator.resetCalls();
      const next = await get(p, current, REJECTED);
      assert.equal(next?.password, PENDING_PASSWORD);
      assert.deepEqual(calls(), { get: 1, describe: 1 });
    });

    it('after a 1045 with a new AWSCURRENT, returns it', async function () {
      const p = provider();
      const current = await get(p);
      await admin.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: secret('brand-new-password') }));
      emulator.resetCalls();
      assert.equal((await get(p, current, REJECTED))?.password, 'brand-new-password');
      assert.deepEqual(calls(), { get: 1, describe: 1 });
    });

    it('after a 1045 with nothing new, answers "unchanged" after one DescribeSecret', async function () {
      const p = provider();
      const current = await get(p);
      emulator.resetCalls();
      assert.equal(await get(p, current, REJECTED), undefined);
      assert.deepEqual(calls(), { get: 0, describe: 1 });
    });

    it('does not fetch a version it has seen again when the rotation finishes', async function () {
      const p = provider();
      const current = await get(p);
      const pendingId = await putPending(PENDING_PASSWORD);
      const pending = await get(p, current, REJECTED);
      await finish(pendingId);
      emulator.resetCalls();
      assert.equal(await get(p, pending, { reason: 'manual' }), undefined);
      assert.deepEqual(calls(), { get: 0, describe: 1 });
    });

    it('treats the value-less AWSPENDING version that RotateSecret creates before createSecret as no pending version', async function () {
      const p = provider();
      const current = await get(p);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const arn = emulator.registerRotationFunction(`hold-${n}`, async (event) => {
        if (event.Step === 'createSecret') await held;
        else throw new Error('only createSecret is expected');
      });
      await admin.send(new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: arn }));
      emulator.resetCalls();
      assert.equal(await get(p, current, REJECTED), undefined);
      assert.deepEqual(calls(), { get: 1, describe: 1 }, 'it looked for the pending value and found none');
      release();
      await emulator.waitForRotation(secretId);
    });

    it('ignores AWSPENDING when usePendingVersion is false', async function () {
      const p = provider({ usePendingVersion: false });
      const current = await get(p);
      await putPending(PENDING_PASSWORD);
      assert.equal(await get(p, current, REJECTED), undefined);
    });

    it('reads another staging label when versionStage names it', async function () {
      const p = provider({ versionStage: 'AWSPENDING' });
      await putPending(PENDING_PASSWORD);
      assert.equal((await get(p))?.password, PENDING_PASSWORD);
    });

    it('works with only GetSecretValue allowed: DescribeSecret denied falls back to reading by stage', async function () {
      const p = provider();
      const current = await get(p);
      await putPending(PENDING_PASSWORD);
      emulator.faults.error(1, { operation: 'DescribeSecret', name: 'AccessDeniedException' });
      assert.equal((await get(p, current, REJECTED))?.password, PENDING_PASSWORD);
      emulator.resetCalls();
      // Later looks skip DescribeSecret altogether.
      assert.equal(await get(p, current, { reason: 'manual' }), undefined);
      assert.deepEqual(calls(), { get: 1, describe: 0 });
    });

    it('honours the caller’s signal while a request hangs', async function () {
      const p = provider();
      emulator.faults.latency(5_000, { operation: 'GetSecretValue' });
      const controller = new AbortController();
      const reason = new Error('caller gave up');
      const call = p.getCredentials(controller.signal, undefined, INITIAL);
      setTimeout(() => controller.abort(reason), 50);
      await assert.rejects(call, (error) => error === reason);
    });

    it('gives up on a request after requestTimeoutMs with a retryable error', async function () {
      const p = provider({ requestTimeoutMs: 100 });
      emulator.faults.latency(5_000, { operation: 'GetSecretValue' });
      await assert.rejects(get(p), (error: unknown) => {
        assert.ok(error instanceof SecretsManagerError);
        assert.equal(error.retryable, true);
        assert.match(error.message, /GetSecretValue did not answer within 100 ms/);
        return true;
      });
    });
  });

  describe('errors', function () {
    it('a missing secret is a non-retryable error that names it', async function () {
      const p = new SecretsManagerProvider({
        secretId: 'test/no-such-secret',
        clientConfig: { ...emulator.clientConfig(), maxAttempts: 1 },
      });
      providers.push(p);
      await assert.rejects(get(p), (error: unknown) => {
        assert.ok(error instanceof SecretsManagerError);
        assert.equal(error.awsError, 'ResourceNotFoundException');
        assert.equal(error.retryable, false);
        assert.equal(error.secretId, 'test/no-such-secret');
        assert.match(error.message, /secret 'test\/no-such-secret'.*check the secret id, the region and the account/);
        return true;
      });
    });

    it('a secret scheduled for deletion is a non-retryable InvalidRequestException', async function () {
      await admin.send(new DeleteSecretCommand({ SecretId: secretId, RecoveryWindowInDays: 7 }));
      await assert.rejects(get(provider()), (error: unknown) => {
        assert.ok(error instanceof SecretsManagerError);
        assert.equal(error.awsError, 'InvalidRequestException');
        assert.equal(error.retryable, false);
        return true;
      });
    });

    for (const [name, hint] of [
      ['AccessDeniedException', /secretsmanager:GetSecretValue/],
      ['DecryptionFailure', /kms:Decrypt/],
    ] as const) {
      it(`${name} is not retryable and says what to fix`, async function () {
        emulator.faults.error(1, { operation: 'GetSecretValue', name });
        await assert.rejects(get(provider()), (error: unknown) => {
          assert.ok(error instanceof SecretsManagerError);
          assert.equal(error.awsError, name);
          assert.equal(error.retryable, false);
          assert.match(error.message, hint);
          return true;
        });
      });
    }

    it('throttling and 500s are retryable', async function () {
      emulator.faults.throttle(1, { operation: 'GetSecretValue' });
      await assert.rejects(
        get(provider()),
        (error: unknown) => error instanceof SecretsManagerError && error.retryable && error.awsError === 'ThrottlingException',
      );
      emulator.faults.fail(1, { operation: 'GetSecretValue', status: 500 });
      await assert.rejects(
        get(provider()),
        (error: unknown) => error instanceof SecretsManagerError && error.retryable && error.awsError === 'InternalServiceError',
      );
    });

    it('a malformed secret is an InvalidCredentialsError naming the secret and the key, not the value', async function () {
      await admin.send(
        new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify({ username: 'app', pass: PASSWORD }) }),
      );
      await assert.rejects(get(provider()), (error: unknown) => {
        assert.ok(error instanceof InvalidCredentialsError);
        assert.equal(error.key, 'password');
        assert.match(error.message, new RegExp(`secret '${secretId}'`));
        assert.ok(!inspect(error).includes(PASSWORD));
        return true;
      });
    });

    it('never shows a password in inspect or JSON of the provider or its credentials', async function () {
      const p = provider();
      const creds = await get(p);
      for (const text of [inspect(p, { depth: 10, showHidden: true }), JSON.stringify(p), inspect(creds), JSON.stringify(creds)]) {
        assert.ok(!text.includes(PASSWORD), text);
      }
    });
  });

  describe('background refresh', function () {
    it('pushes a new AWSCURRENT, looking with DescribeSecret and fetching only what changed', async function () {
      const p = provider({ refreshIntervalMs: 50 });
      await get(p);
      const changes: Credentials[] = [];
      const errors: Error[] = [];
      const unsubscribe = p.subscribe(
        (c) => changes.push(c),
        (e) => errors.push(e),
      );
      await eventually(() => (emulator.calls.DescribeSecret ?? 0) >= 3, 5_000, 'three looks');
      assert.equal(changes.length, 0);
      assert.equal(emulator.calls.GetSecretValue, 1);
      await admin.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: secret('rotated-password', 'app_clone') }));
      await eventually(() => changes.length === 1, 5_000, 'the change');
      assert.equal(changes[0].user, 'app_clone');
      assert.equal(emulator.calls.GetSecretValue, 2);
      unsubscribe();
      assert.deepEqual(errors, []);
    });

    it('backs off while throttled, reports each failure, and recovers', async function () {
      const p = provider({ refreshIntervalMs: 50 });
      await get(p);
      const changes: Credentials[] = [];
      const errors: Error[] = [];
      emulator.faults.throttle(3, { operation: 'DescribeSecret' });
      p.subscribe(
        (c) => changes.push(c),
        (e) => errors.push(e),
      );
      await admin.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: secret('after-throttling') }));
      await eventually(() => changes.length === 1, 15_000, 'the change after throttling');
      assert.equal(errors.length, 3);
      for (const e of errors) assert.ok(e instanceof SecretsManagerError && e.retryable && e.awsError === 'ThrottlingException');
    });

    it('stops polling when the provider is closed', async function () {
      const p = provider({ refreshIntervalMs: 20 });
      await get(p);
      p.subscribe(
        () => {},
        () => {},
      );
      await eventually(() => (emulator.calls.DescribeSecret ?? 0) >= 1, 5_000, 'a look');
      await p.close();
      const seen = emulator.calls.DescribeSecret ?? 0;
      await new Promise((r) => setTimeout(r, 150));
      assert.ok((emulator.calls.DescribeSecret ?? 0) <= seen + 1);
      await assert.rejects(get(p), { code: 'CREDSWAP_CLOSED' });
    });
  });

  describe('options', function () {
    it('rejects unknown keys, a missing secretId, and client with clientConfig', function () {
      assert.throws(
        () => new SecretsManagerProvider({ secretId: 'x', refreshMs: 5 } as never),
        (e: unknown) => e instanceof InvalidOptionError && e.option === 'refreshMs',
      );
      assert.throws(
        () => new SecretsManagerProvider({} as never),
        (e: unknown) => e instanceof InvalidOptionError && e.option === 'secretId',
      );
      assert.throws(
        () => new SecretsManagerProvider({ secretId: 'x', client: admin, clientConfig: {} }),
        (e: unknown) => e instanceof InvalidOptionError && e.option === 'clientConfig',
      );
      assert.throws(
        () => new SecretsManagerProvider({ secretId: 'x', client: {} as never }),
        (e: unknown) => e instanceof InvalidOptionError && e.option === 'client',
      );
    });

    it('uses a client of the user’s own and does not destroy it', async function () {
      const client = new SecretsManagerClient({ ...emulator.clientConfig(), maxAttempts: 1 });
      const destroy = sinon.spy(client, 'destroy');
      const p = new SecretsManagerProvider({ secretId, client });
      assert.equal((await get(p))?.password, PASSWORD);
      await p.close();
      assert.equal(destroy.callCount, 0);
      client.destroy();
    });

    it('is named after the secret', function () {
      assert.equal(provider().name, `secrets-manager:${secretId}`);
      assert.equal(provider({ name: 'orders-db' }).name, 'orders-db');
    });
  });
});
