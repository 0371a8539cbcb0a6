import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { ClosedError, InvalidOptionError } from '../../lib/errors.js';
import {
  DEFAULT_EMULATOR_ACCESS_KEY_ID,
  startSecretsManagerEmulator,
  type RotationEvent,
  type RotationHandler,
  type SecretsManagerEmulator,
} from '../../lib/testing/secrets-manager.js';

const PASSWORD = 'Zq9!xK#7vPmW';

let emulator: SecretsManagerEmulator;
let clients: SecretsManagerClient[];

function client(extra: Partial<SecretsManagerClientConfig> = {}): SecretsManagerClient {
  const c = new SecretsManagerClient({ ...emulator.clientConfig(), ...extra });
  clients.push(c);
  return c;
}

/** Runs `fn`, which must reject, and returns what it threw. */
async function failure(fn: () => Promise<unknown>): Promise<Error & { $metadata: { httpStatusCode?: number; requestId?: string } }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { $metadata: { httpStatusCode?: number } };
  }
  assert.fail('expected a rejection');
}

function dbSecret(password: string): string {
  return JSON.stringify({ engine: 'mysql', host: '127.0.0.1', port: 3306, username: 'app', password });
}

/**
 * A rotation function written the way AWS's rotation templates are: it checks the version's
 * stages, creates the pending value with GetRandomPassword + PutSecretValue(AWSPENDING), and
 * moves AWSCURRENT in finishSecret. `onSet` plays the part of changing the database password.
 */
function templateRotation(
  sm: SecretsManagerClient,
  events: RotationEvent[],
  onSet?: (password: string) => Promise<void> | void,
): RotationHandler {
  return async (event) => {
    events.push(event);
    const { SecretId: arn, ClientRequestToken: token } = event;
    const meta = await sm.send(new DescribeSecretCommand({ SecretId: arn }));
    const stages = meta.VersionIdsToStages?.[token];
    if (stages === undefined) throw new Error(`version ${token} has no stage`);
    if (stages.includes('AWSCURRENT')) return;
    if (!stages.includes('AWSPENDING')) throw new Error(`version ${token} is not AWSPENDING`);
    switch (event.Step) {
      case 'createSecret': {
        const current = await sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' }));
        try {
          await sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: token, VersionStage: 'AWSPENDING' }));
        } catch (err) {
          if ((err as Error).name !== 'ResourceNotFoundException') throw err;
          const { RandomPassword } = await sm.send(new GetRandomPasswordCommand({ ExcludeCharacters: '/@"\'\\' }));
          const value = { ...JSON.parse(current.SecretString!), password: RandomPassword };
          await sm.send(
            new PutSecretValueCommand({
              SecretId: arn,
              ClientRequestToken: token,
              SecretString: JSON.stringify(value),
              VersionStages: ['AWSPENDING'],
            }),
          );
        }
        return;
      }
      case 'setSecret': {
        const pending = await sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: token, VersionStage: 'AWSPENDING' }));
        await onSet?.(JSON.parse(pending.SecretString!).password);
        return;
      }
      case 'testSecret':
        await sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: token, VersionStage: 'AWSPENDING' }));
        return;
      case 'finishSecret': {
        const current = Object.entries(meta.VersionIdsToStages ?? {}).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
        await sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: arn,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: token,
            RemoveFromVersionId: current,
          }),
        );
      }
    }
  };
}

function stagesOf(name: string): Record<string, string[]> {
  return Object.fromEntries(emulator.versions(name).map((v) => [v.versionId, [...v.stages].sort()]));
}

describe('Secrets Manager emulator', () => {
  beforeEach(async () => {
    emulator = await startSecretsManagerEmulator();
    clients = [];
  });

  afterEach(async () => {
    for (const c of clients) c.destroy();
    await emulator.close();
  });

  describe('starting and stopping', () => {
    it('listens on a free loopback port and hands out a configuration for the SDK client', () => {
      assert.match(emulator.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(emulator.port, 0);
      const config = emulator.clientConfig();
      assert.equal(config.region, 'us-east-1');
      assert.equal(config.endpoint, emulator.endpoint);
      assert.equal(config.credentials.accessKeyId, DEFAULT_EMULATOR_ACCESS_KEY_ID);
    });

    it('rejects unknown options with InvalidOptionError', async () => {
      await assert.rejects(startSecretsManagerEmulator({ regoin: 'eu-west-1' } as never), InvalidOptionError);
      await assert.rejects(startSecretsManagerEmulator({ port: -1 }), InvalidOptionError);
    });

    it('closes its keep-alive connections, refuses new ones, and can be closed twice', async () => {
      const sm = client();
      emulator.putSecret('app/db', dbSecret(PASSWORD));
      await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
      await emulator.close();
      await emulator.close();
      const err = await failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'app/db' })));
      assert.match(String((err as { code?: string }).code ?? err.message), /ECONNREFUSED|ECONNRESET|socket hang up/);
    });
  });

  describe('CreateSecret and GetSecretValue', () => {
    it('creates a secret with an AWS-style ARN and returns its AWSCURRENT value', async () => {
      const sm = client();
      const created = await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: dbSecret(PASSWORD) }));
      assert.match(created.ARN!, /^arn:aws:secretsmanager:us-east-1:123456789012:secret:app\/db-[A-Za-z0-9]{6}$/);
      const got = await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
      assert.equal(got.SecretString, dbSecret(PASSWORD));
      assert.equal(got.VersionId, created.VersionId);
      assert.deepEqual(got.VersionStages, ['AWSCURRENT']);
      assert.ok(got.CreatedDate instanceof Date);
      assert.equal(got.ARN, created.ARN);
    });

    it('stores binary secrets', async () => {
      const sm = client();
      const bytes = new Uint8Array([0, 1, 2, 250, 255]);
      await sm.send(new CreateSecretCommand({ Name: 'bin', SecretBinary: bytes }));
      const got = await sm.send(new GetSecretValueCommand({ SecretId: 'bin' }));
      assert.deepEqual([...got.SecretBinary!], [...bytes]);
      assert.equal(got.SecretString, undefined);
    });

    it('finds a secret by name, by full ARN and by partial ARN', async () => {
      const sm = client();
      const { ARN } = await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'x' }));
      for (const id of ['app/db', ARN!, ARN!.slice(0, -7)]) {
        const got = await sm.send(new GetSecretValueCommand({ SecretId: id }));
        assert.equal(got.ARN, ARN);
      }
    });

    it('answers a missing secret with ResourceNotFoundException, HTTP 400 and AWS wording', async () => {
      const err = await failure(() => client().send(new GetSecretValueCommand({ SecretId: 'nope' })));
      assert.equal(err.name, 'ResourceNotFoundException');
      assert.equal(err.message, "Secrets Manager can't find the specified secret.");
      assert.equal(err.$metadata.httpStatusCode, 400);
      assert.match(err.$metadata.requestId!, /^[0-9a-f-]{36}$/);
    });

    it('refuses a second secret with the same name with ResourceExistsException', async () => {
      const sm = client();
      await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'a' }));
      const err = await failure(() => sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'b' })));
      assert.equal(err.name, 'ResourceExistsException');
      assert.equal(err.message, 'The operation failed because the secret app/db already exists.');
    });

    it('treats a CreateSecret retried with the same ClientRequestToken as the same request', async () => {
      const sm = client();
      const token = randomUUID();
      const first = await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'a', ClientRequestToken: token }));
      const again = await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'a', ClientRequestToken: token }));
      assert.equal(again.ARN, first.ARN);
      assert.equal(again.VersionId, token);
    });

    it('refuses a VersionStage that is not on the requested VersionId', async () => {
      const sm = client();
      const { VersionId } = await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'a' }));
      const err = await failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'app/db', VersionId, VersionStage: 'AWSPENDING' })));
      assert.equal(err.name, 'InvalidRequestException');
    });

    it('reports a missing staging label as ResourceNotFoundException naming the label', async () => {
      const sm = client();
      await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'a' }));
      const err = await failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'app/db', VersionStage: 'AWSPENDING' })));
      assert.equal(err.name, 'ResourceNotFoundException');
      assert.equal(err.message, "Secrets Manager can't find the specified secret value for staging label: AWSPENDING");
    });
  });

  describe('PutSecretValue', () => {
    it('moves AWSCURRENT to the new version and AWSPREVIOUS to the old one', async () => {
      const sm = client();
      const first = await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'one' }));
      const second = await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'two' }));
      assert.deepEqual(second.VersionStages, ['AWSCURRENT']);
      assert.deepEqual(stagesOf('app/db'), { [first.VersionId!]: ['AWSPREVIOUS'], [second.VersionId!]: ['AWSCURRENT'] });
      const third = await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'three' }));
      assert.deepEqual(stagesOf('app/db'), {
        [first.VersionId!]: [],
        [second.VersionId!]: ['AWSPREVIOUS'],
        [third.VersionId!]: ['AWSCURRENT'],
      });
      const got = await sm.send(new GetSecretValueCommand({ SecretId: 'app/db', VersionStage: 'AWSPREVIOUS' }));
      assert.equal(got.SecretString, 'two');
    });

    it('leaves AWSCURRENT alone when the new version gets only AWSPENDING', async () => {
      const sm = client();
      const first = await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'one' }));
      const pending = await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'two', VersionStages: ['AWSPENDING'] }));
      assert.deepEqual(stagesOf('app/db'), { [first.VersionId!]: ['AWSCURRENT'], [pending.VersionId!]: ['AWSPENDING'] });
    });

    it('succeeds again without a new version for the same ClientRequestToken and value', async () => {
      const sm = client();
      await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'one' }));
      const token = randomUUID();
      await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'two', ClientRequestToken: token }));
      const again = await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'two', ClientRequestToken: token }));
      assert.equal(again.VersionId, token);
      assert.equal(emulator.versions('app/db').length, 2);
    });

    it('refuses the same ClientRequestToken with a different value with ResourceExistsException', async () => {
      const sm = client();
      await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'one' }));
      const token = randomUUID();
      await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'two', ClientRequestToken: token }));
      const err = await failure(() =>
        sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: PASSWORD, ClientRequestToken: token })),
      );
      assert.equal(err.name, 'ResourceExistsException');
      assert.ok(!err.message.includes(PASSWORD));
    });

    it('refuses a ClientRequestToken shorter than 32 characters with InvalidParameterException', async () => {
      const sm = client();
      await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'one' }));
      const err = await failure(() =>
        sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'two', ClientRequestToken: 'short' })),
      );
      assert.equal(err.name, 'InvalidParameterException');
      assert.equal(err.$metadata.httpStatusCode, 400);
    });
  });

  describe('UpdateSecretVersionStage', () => {
    it('moves AWSCURRENT and gives AWSPREVIOUS to the version that had it', async () => {
      const sm = client();
      const first = await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'one' }));
      const pending = await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'two', VersionStages: ['AWSPENDING'] }));
      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: 'app/db',
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: pending.VersionId,
          RemoveFromVersionId: first.VersionId,
        }),
      );
      assert.deepEqual(stagesOf('app/db'), { [first.VersionId!]: ['AWSPREVIOUS'], [pending.VersionId!]: ['AWSCURRENT', 'AWSPENDING'] });
    });

    it('refuses to move a label that is on another version without RemoveFromVersionId', async () => {
      const sm = client();
      await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'one' }));
      const second = await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'two', VersionStages: ['AWSPENDING'] }));
      const err = await failure(() =>
        sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'app/db', VersionStage: 'AWSCURRENT', MoveToVersionId: second.VersionId })),
      );
      assert.equal(err.name, 'InvalidParameterException');
    });

    it('refuses a RemoveFromVersionId that does not hold the label', async () => {
      const sm = client();
      await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'one' }));
      const second = await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'two', VersionStages: ['AWSPENDING'] }));
      const err = await failure(() =>
        sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: 'app/db',
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: second.VersionId,
            RemoveFromVersionId: second.VersionId,
          }),
        ),
      );
      assert.equal(err.name, 'InvalidParameterException');
    });

    it('removes a custom label with RemoveFromVersionId alone', async () => {
      const sm = client();
      const first = await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'one' }));
      await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'app/db', VersionStage: 'blue', MoveToVersionId: first.VersionId }));
      assert.deepEqual(stagesOf('app/db'), { [first.VersionId!]: ['AWSCURRENT', 'blue'] });
      await sm.send(
        new UpdateSecretVersionStageCommand({ SecretId: 'app/db', VersionStage: 'blue', RemoveFromVersionId: first.VersionId }),
      );
      assert.deepEqual(stagesOf('app/db'), { [first.VersionId!]: ['AWSCURRENT'] });
    });
  });

  describe('DescribeSecret and ListSecretVersionIds', () => {
    it('describes a secret with its labels and dates', async () => {
      const sm = client();
      const created = await sm.send(
        new CreateSecretCommand({ Name: 'app/db', SecretString: 'one', Description: 'the db', Tags: [{ Key: 'team', Value: 'a' }] }),
      );
      await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
      const meta = await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }));
      assert.equal(meta.ARN, created.ARN);
      assert.equal(meta.Description, 'the db');
      assert.equal(meta.RotationEnabled, false);
      assert.deepEqual(meta.VersionIdsToStages, { [created.VersionId!]: ['AWSCURRENT'] });
      assert.ok(meta.CreatedDate instanceof Date && meta.LastChangedDate instanceof Date && meta.LastAccessedDate instanceof Date);
      assert.deepEqual(meta.Tags, [{ Key: 'team', Value: 'a' }]);
      assert.equal(meta.DeletedDate, undefined);
    });

    it('lists labelled versions, and deprecated ones only when asked', async () => {
      const sm = client();
      await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'one' }));
      for (const value of ['two', 'three']) await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: value }));
      const listed = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'app/db' }));
      assert.equal(listed.Versions!.length, 2);
      assert.ok(listed.Versions!.every((v) => v.CreatedDate instanceof Date && v.VersionStages!.length === 1));
      const all = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'app/db', IncludeDeprecated: true }));
      assert.equal(all.Versions!.length, 3);
    });

    it('pages through versions with MaxResults and NextToken', async () => {
      const sm = client();
      await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'one' }));
      for (const value of ['two', 'three']) await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: value }));
      const first = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'app/db', IncludeDeprecated: true, MaxResults: 2 }));
      assert.equal(first.Versions!.length, 2);
      assert.ok(first.NextToken);
      const rest = await sm.send(
        new ListSecretVersionIdsCommand({ SecretId: 'app/db', IncludeDeprecated: true, MaxResults: 2, NextToken: first.NextToken }),
      );
      assert.equal(rest.Versions!.length, 1);
      assert.equal(rest.NextToken, undefined);
    });
  });

  describe('GetRandomPassword', () => {
    it('returns 32 characters with every character type by default', async () => {
      const { RandomPassword } = await client().send(new GetRandomPasswordCommand({}));
      assert.equal(RandomPassword!.length, 32);
      for (const re of [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/]) assert.match(RandomPassword!, re);
    });

    it('honours the length and the exclusions', async () => {
      const { RandomPassword } = await client().send(
        new GetRandomPasswordCommand({ PasswordLength: 64, ExcludePunctuation: true, ExcludeCharacters: 'abc012' }),
      );
      assert.equal(RandomPassword!.length, 64);
      assert.doesNotMatch(RandomPassword!, /[^A-Za-z0-9]|[abc012]/);
    });

    it('refuses a length too short for the required types with InvalidParameterException', async () => {
      const err = await failure(() => client().send(new GetRandomPasswordCommand({ PasswordLength: 3 })));
      assert.equal(err.name, 'InvalidParameterException');
    });
  });

  describe('signatures and the wire protocol', () => {
    it('refuses a signature made with the wrong secret key with InvalidSignatureException', async () => {
      const sm = client({ credentials: { accessKeyId: DEFAULT_EMULATOR_ACCESS_KEY_ID, secretAccessKey: 'not-the-key' } });
      const err = await failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'x' })));
      assert.equal(err.name, 'InvalidSignatureException');
      assert.equal(err.$metadata.httpStatusCode, 400);
    });

    it('refuses an unknown access key with UnrecognizedClientException', async () => {
      const sm = client({ credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' } });
      const err = await failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'x' })));
      assert.equal(err.name, 'UnrecognizedClientException');
      assert.equal(err.message, 'The security token included in the request is invalid.');
      assert.equal(err.$metadata.httpStatusCode, 400);
    });

    it('refuses a client signing for another region', async () => {
      const err = await failure(() => client({ region: 'eu-west-1' }).send(new GetSecretValueCommand({ SecretId: 'x' })));
      assert.equal(err.name, 'InvalidSignatureException');
    });

    it('refuses a signature more than 15 minutes old as expired', async () => {
      emulator.putSecret('app/db', 'one');
      const late = client({ maxAttempts: 1, systemClockOffset: -20 * 60 * 1000 });
      const err = await failure(() => late.send(new GetSecretValueCommand({ SecretId: 'app/db' })));
      assert.equal(err.name, 'InvalidSignatureException');
      assert.match(err.message, /^Signature expired: \d{8}T\d{6}Z is now earlier than/);
    });

    it('lets the SDK correct a skewed clock from the Date header and retry', async () => {
      emulator.putSecret('app/db', 'one');
      const late = client({ systemClockOffset: -20 * 60 * 1000 });
      assert.equal((await late.send(new GetSecretValueCommand({ SecretId: 'app/db' }))).SecretString, 'one');
    });

    it('refuses an unsigned request with MissingAuthenticationTokenException', async () => {
      const res = await fetch(emulator.endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'secretsmanager.GetSecretValue' },
        body: JSON.stringify({ SecretId: 'x' }),
      });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
      assert.equal(res.headers.get('content-type'), 'application/x-amz-json-1.1');
      assert.ok(res.headers.get('x-amzn-requestid'));
      const body = (await res.json()) as { __type: string };
      assert.equal(body.__type, 'MissingAuthenticationTokenException');
    });

    it('serves unsigned requests when requireSignature is false', async () => {
      const open = await startSecretsManagerEmulator({ requireSignature: false });
      try {
        open.putSecret('x', 'value');
        const res = await fetch(open.endpoint, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'secretsmanager.GetSecretValue' },
          body: JSON.stringify({ SecretId: 'x' }),
        });
        assert.equal(res.status, 200);
        const body = (await res.json()) as { SecretString: string; CreatedDate: unknown };
        assert.equal(body.SecretString, 'value');
        assert.equal(typeof body.CreatedDate, 'number');
      } finally {
        await open.close();
      }
    });

    it('answers an operation it does not know with UnknownOperationException', async () => {
      const res = await fetch(emulator.endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'secretsmanager.FlyToTheMoon' },
        body: '{}',
      });
      // Signature checks come first, as at AWS.
      assert.equal(res.status, 400);
      const open = await startSecretsManagerEmulator({ requireSignature: false });
      try {
        const unknown = await fetch(open.endpoint, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'secretsmanager.FlyToTheMoon' },
          body: '{}',
        });
        assert.equal(unknown.status, 400);
        assert.equal(((await unknown.json()) as { __type: string }).__type, 'UnknownOperationException');
      } finally {
        await open.close();
      }
    });
  });

  describe('RotateSecret', () => {
    it('runs the rotation function through the four steps with AWS-shaped events', async () => {
      const sm = client();
      emulator.putSecret('app/db', dbSecret(PASSWORD));
      const events: RotationEvent[] = [];
      let setTo: string | undefined;
      const arn = emulator.registerRotationFunction(
        'rotate',
        templateRotation(sm, events, (p) => void (setTo = p)),
      );
      assert.equal(arn, 'arn:aws:lambda:us-east-1:123456789012:function:rotate');
      const out = await sm.send(
        new RotateSecretCommand({ SecretId: 'app/db', RotationLambdaARN: arn, RotationRules: { AutomaticallyAfterDays: 30 } }),
      );
      const result = await emulator.waitForRotation('app/db', { timeoutMs: 10_000 });
      assert.equal(result.status, 'succeeded');
      assert.deepEqual(
        events.map((e) => e.Step),
        ['createSecret', 'setSecret', 'testSecret', 'finishSecret'],
      );
      for (const e of events) {
        assert.equal(e.SecretId, out.ARN);
        assert.equal(e.ClientRequestToken, out.VersionId);
        assert.equal(typeof e.RotationToken, 'string');
      }
      const current = await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
      assert.equal(current.VersionId, out.VersionId);
      assert.equal(JSON.parse(current.SecretString!).password, setTo);
      const previous = await sm.send(new GetSecretValueCommand({ SecretId: 'app/db', VersionStage: 'AWSPREVIOUS' }));
      assert.equal(JSON.parse(previous.SecretString!).password, PASSWORD);
      const meta = await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }));
      assert.equal(meta.RotationEnabled, true);
      assert.equal(meta.RotationLambdaARN, arn);
      assert.equal(meta.RotationRules?.AutomaticallyAfterDays, 30);
      assert.ok(meta.LastRotatedDate instanceof Date && meta.NextRotationDate instanceof Date);
    });

    it('holds the rotation after setSecret until the pause is released', async () => {
      const sm = client();
      emulator.putSecret('app/db', dbSecret(PASSWORD));
      const events: RotationEvent[] = [];
      const arn = emulator.registerRotationFunction('rotate', templateRotation(sm, events));
      const pause = emulator.pauseRotation({ secretId: 'app/db', after: 'setSecret' });
      const out = await sm.send(new RotateSecretCommand({ SecretId: 'app/db', RotationLambdaARN: arn }));
      const reached = await pause.reached;
      assert.equal(reached.Step, 'setSecret');
      // Inside the window: AWSCURRENT is still the old value, AWSPENDING the new one.
      const current = await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
      assert.equal(JSON.parse(current.SecretString!).password, PASSWORD);
      const pending = await sm.send(new GetSecretValueCommand({ SecretId: 'app/db', VersionStage: 'AWSPENDING' }));
      assert.equal(pending.VersionId, out.VersionId);
      assert.equal(emulator.rotations('app/db')[0].status, 'running');
      assert.deepEqual(
        events.map((e) => e.Step),
        ['createSecret', 'setSecret'],
      );
      pause.release();
      const result = await emulator.waitForRotation('app/db', { timeoutMs: 10_000 });
      assert.equal(result.status, 'succeeded');
      assert.deepEqual(result.steps, ['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
    });

    it('releases a pause with ms by itself', async () => {
      const sm = client();
      emulator.putSecret('app/db', dbSecret(PASSWORD));
      const arn = emulator.registerRotationFunction('rotate', templateRotation(sm, []));
      const pause = emulator.pauseRotation({ after: 'createSecret', ms: 50 });
      await sm.send(new RotateSecretCommand({ SecretId: 'app/db', RotationLambdaARN: arn }));
      assert.equal((await pause.reached).Step, 'createSecret');
      assert.equal((await emulator.waitForRotation('app/db', { timeoutMs: 10_000 })).status, 'succeeded');
    });

    it('stops at a failing step, keeps AWSPENDING, and refuses the next rotation until it is resolved', async () => {
      const sm = client();
      const { versionId: original } = emulator.putSecret('app/db', dbSecret(PASSWORD));
      const events: RotationEvent[] = [];
      const template = templateRotation(sm, events);
      const arn = emulator.registerRotationFunction('rotate', async (event) => {
        if (event.Step === 'setSecret') throw new Error('database unreachable');
        return template(event);
      });
      const out = await sm.send(new RotateSecretCommand({ SecretId: 'app/db', RotationLambdaARN: arn }));
      const result = await emulator.waitForRotation('app/db', { timeoutMs: 10_000 });
      assert.equal(result.status, 'failed');
      assert.equal(result.failedStep, 'setSecret');
      assert.equal((result.error as Error).message, 'database unreachable');
      assert.deepEqual(result.steps, ['createSecret']);
      assert.deepEqual(stagesOf('app/db'), { [original]: ['AWSCURRENT'], [out.VersionId!]: ['AWSPENDING'] });
      const err = await failure(() => sm.send(new RotateSecretCommand({ SecretId: 'app/db' })));
      assert.equal(err.name, 'InvalidRequestException');
      assert.equal(err.message, "A previous rotation isn't complete. That rotation will be reattempted.");
    });

    it('rotates again after a successful rotation, moving AWSPREVIOUS along', async () => {
      const sm = client();
      const { versionId: original } = emulator.putSecret('app/db', dbSecret(PASSWORD));
      const arn = emulator.registerRotationFunction('rotate', templateRotation(sm, []));
      const first = await sm.send(new RotateSecretCommand({ SecretId: 'app/db', RotationLambdaARN: arn }));
      assert.equal((await emulator.waitForRotation('app/db', { timeoutMs: 10_000 })).status, 'succeeded');
      const second = await sm.send(new RotateSecretCommand({ SecretId: 'app/db' }));
      assert.equal((await emulator.waitForRotation('app/db', { timeoutMs: 10_000 })).status, 'succeeded');
      assert.deepEqual(stagesOf('app/db'), {
        [original]: [],
        [first.VersionId!]: ['AWSPREVIOUS'],
        [second.VersionId!]: ['AWSCURRENT', 'AWSPENDING'],
      });
      assert.equal(emulator.rotations('app/db').length, 2);
    });

    it('only runs testSecret, and keeps no new version, when RotateImmediately is false', async () => {
      const sm = client();
      const { versionId: original } = emulator.putSecret('app/db', dbSecret(PASSWORD));
      const events: RotationEvent[] = [];
      const arn = emulator.registerRotationFunction('rotate', templateRotation(sm, events));
      await sm.send(new RotateSecretCommand({ SecretId: 'app/db', RotationLambdaARN: arn, RotateImmediately: false }));
      const result = await emulator.waitForRotation('app/db', { timeoutMs: 10_000 });
      assert.equal(result.status, 'succeeded');
      assert.deepEqual(
        events.map((e) => e.Step),
        ['testSecret'],
      );
      assert.deepEqual(stagesOf('app/db'), { [original]: ['AWSCURRENT'] });
      assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }))).RotationEnabled, true);
    });

    it('refuses a rotation function it cannot invoke with AccessDeniedException', async () => {
      emulator.putSecret('app/db', dbSecret(PASSWORD));
      const err = await failure(() =>
        client().send(
          new RotateSecretCommand({ SecretId: 'app/db', RotationLambdaARN: 'arn:aws:lambda:us-east-1:123456789012:function:missing' }),
        ),
      );
      assert.equal(err.name, 'AccessDeniedException');
    });

    it('stops a held rotation and answers pending waits when the emulator closes', async () => {
      const sm = client();
      emulator.putSecret('app/db', dbSecret(PASSWORD));
      const events: RotationEvent[] = [];
      const arn = emulator.registerRotationFunction('rotate', templateRotation(sm, events));
      const pause = emulator.pauseRotation();
      const unreached = emulator.pauseRotation({ after: 'testSecret' });
      await sm.send(new RotateSecretCommand({ SecretId: 'app/db', RotationLambdaARN: arn }));
      await pause.reached;
      const waiting = emulator.waitForRotation('app/db');
      await emulator.close();
      const result = await waiting;
      assert.equal(result.status, 'cancelled');
      assert.deepEqual(
        events.map((e) => e.Step),
        ['createSecret', 'setSecret'],
      );
      await assert.rejects(unreached.reached, ClosedError);
    });

    it('can be cancelled with CancelRotateSecret', async () => {
      const sm = client();
      emulator.putSecret('app/db', dbSecret(PASSWORD));
      const arn = emulator.registerRotationFunction('rotate', templateRotation(sm, []));
      const pause = emulator.pauseRotation();
      await sm.send(new RotateSecretCommand({ SecretId: 'app/db', RotationLambdaARN: arn }));
      await pause.reached;
      await sm.send(new CancelRotateSecretCommand({ SecretId: 'app/db' }));
      pause.release();
      const result = await emulator.waitForRotation('app/db', { timeoutMs: 10_000 });
      assert.equal(result.status, 'cancelled');
      const meta = await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }));
      assert.equal(meta.RotationEnabled, false);
    });

    it('holds only a rotation of the secret a pause names', async () => {
      const sm = client();
      emulator.putSecret('app/db', dbSecret(PASSWORD));
      emulator.putSecret('other/db', dbSecret(PASSWORD));
      const arn = emulator.registerRotationFunction('rotate', templateRotation(sm, []));
      const pause = emulator.pauseRotation({ secretId: 'app/db' });
      await sm.send(new RotateSecretCommand({ SecretId: 'other/db', RotationLambdaARN: arn }));
      assert.equal((await emulator.waitForRotation('other/db', { timeoutMs: 10_000 })).status, 'succeeded');
      await sm.send(new RotateSecretCommand({ SecretId: 'app/db', RotationLambdaARN: arn }));
      assert.equal((await pause.reached).SecretId, emulator.rotations('app/db')[0].secretArn);
      pause.release();
      assert.equal((await emulator.waitForRotation('app/db', { timeoutMs: 10_000 })).status, 'succeeded');
    });

    it('rejects malformed pause and wait options with InvalidOptionError naming the option', () => {
      const named = (option: string) => (error: unknown) => error instanceof InvalidOptionError && error.option === option;
      assert.throws(() => emulator.pauseRotation({ after: 'rotate' as never }), named('pauseRotation.options.after'));
      assert.throws(() => emulator.pauseRotation({ ms: -1 }), named('pauseRotation.options.ms'));
      assert.throws(() => emulator.pauseRotation({ secretid: 'app/db' } as never), named('pauseRotation.options.secretid'));
      emulator.putSecret('app/db', dbSecret(PASSWORD));
      assert.throws(() => emulator.waitForRotation('app/db', { timeoutMs: Number.NaN }), named('waitForRotation.options.timeoutMs'));
    });
  });

  describe('DeleteSecret and RestoreSecret', () => {
    it('answers a secret scheduled for deletion with InvalidRequestException until it is restored', async () => {
      const sm = client();
      emulator.putSecret('app/db', 'one');
      const deleted = await sm.send(new DeleteSecretCommand({ SecretId: 'app/db', RecoveryWindowInDays: 7 }));
      assert.ok(deleted.DeletionDate instanceof Date && deleted.DeletionDate.getTime() > Date.now());
      const err = await failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'app/db' })));
      assert.equal(err.name, 'InvalidRequestException');
      assert.equal(err.message, "You can't perform this operation on the secret because it was marked for deletion.");
      const meta = await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }));
      assert.ok(meta.DeletedDate instanceof Date);
      await sm.send(new RestoreSecretCommand({ SecretId: 'app/db' }));
      assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }))).SecretString, 'one');
    });

    it('removes the secret at once with ForceDeleteWithoutRecovery', async () => {
      const sm = client();
      emulator.putSecret('app/db', 'one');
      await sm.send(new DeleteSecretCommand({ SecretId: 'app/db', ForceDeleteWithoutRecovery: true }));
      const err = await failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'app/db' })));
      assert.equal(err.name, 'ResourceNotFoundException');
    });
  });

  describe('fault injection', () => {
    it('throttles the next n matching calls with ThrottlingException', async () => {
      const sm = client({ maxAttempts: 1 });
      emulator.putSecret('app/db', 'one');
      emulator.faults.throttle(2, { operation: 'GetSecretValue' });
      for (let i = 0; i < 2; i++) {
        const err = await failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'app/db' })));
        assert.equal(err.name, 'ThrottlingException');
        assert.equal(err.message, 'Rate exceeded');
        assert.equal(err.$metadata.httpStatusCode, 400);
      }
      await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }));
      assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }))).SecretString, 'one');
    });

    it('is retried by the SDK by default, each attempt counted as a call', async () => {
      const sm = client();
      emulator.putSecret('app/db', 'one');
      emulator.faults.fail(2);
      const got = await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
      assert.equal(got.SecretString, 'one');
      assert.equal(emulator.calls.GetSecretValue, 3);
    });

    it('fails the next n calls with InternalServiceError and HTTP 500', async () => {
      const sm = client({ maxAttempts: 1 });
      emulator.putSecret('app/db', 'one');
      emulator.faults.fail(1, { operation: 'GetSecretValue' });
      const err = await failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'app/db' })));
      assert.equal(err.name, 'InternalServiceError');
      assert.equal(err.$metadata.httpStatusCode, 500);
    });

    it('delays matching calls until the latency is cleared', async () => {
      const sm = client();
      emulator.putSecret('app/db', 'one');
      emulator.faults.latency(150, { operation: 'GetSecretValue' });
      const order: string[] = [];
      const delayed = sm.send(new GetSecretValueCommand({ SecretId: 'app/db' })).then(() => order.push('GetSecretValue'));
      while (emulator.calls.GetSecretValue === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
      // Sent after the delayed call, to an operation without latency: answered first.
      await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' })).then(() => order.push('DescribeSecret'));
      await delayed;
      assert.deepEqual(order, ['DescribeSecret', 'GetSecretValue']);
      emulator.faults.clear();
      await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
    });

    it('answers with an error of choice for one secret only', async () => {
      const sm = client({ maxAttempts: 1 });
      emulator.putSecret('app/db', 'one');
      emulator.putSecret('other', 'two');
      emulator.faults.error(1, { name: 'DecryptionFailure', secretId: 'app/db' });
      emulator.faults.error(1, { name: 'AccessDeniedException', secretId: 'app/db' });
      assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'other' }))).SecretString, 'two');
      const decryption = await failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'app/db' })));
      assert.equal(decryption.name, 'DecryptionFailure');
      const denied = await failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'app/db' })));
      assert.equal(denied.name, 'AccessDeniedException');
      assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }))).SecretString, 'one');
    });

    it('drops a call held by latency, unanswered, when the emulator closes', async () => {
      const sm = client({ maxAttempts: 1 });
      emulator.putSecret('app/db', 'one');
      // Longer than the test's timeout: a call the emulator did not drop would fail the test.
      emulator.faults.latency(600_000, { operation: 'GetSecretValue' });
      const call = failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'app/db' })));
      while (emulator.calls.GetSecretValue === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
      await emulator.close();
      const err = await call;
      assert.equal(err.$metadata.httpStatusCode, undefined, 'no answer was written');
    });

    it('rejects malformed fault options with InvalidOptionError', () => {
      assert.throws(() => emulator.faults.throttle(0), InvalidOptionError);
      assert.throws(() => emulator.faults.fail(1, { status: 404 }), InvalidOptionError);
      assert.throws(() => emulator.faults.latency(10, { operaton: 'x' } as never), InvalidOptionError);
    });
  });

  describe('call counts', () => {
    it('counts calls per operation, rejected ones included, and resets', async () => {
      const sm = client({ maxAttempts: 1 });
      emulator.putSecret('app/db', 'one');
      await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
      await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }));
      await failure(() => sm.send(new GetSecretValueCommand({ SecretId: 'missing' })));
      const bad = client({ maxAttempts: 1, credentials: { accessKeyId: DEFAULT_EMULATOR_ACCESS_KEY_ID, secretAccessKey: 'wrong' } });
      await failure(() => bad.send(new GetSecretValueCommand({ SecretId: 'app/db' })));
      assert.deepEqual(emulator.calls, { GetSecretValue: 3, DescribeSecret: 1 });
      assert.deepEqual(emulator.callsFor('app/db'), { GetSecretValue: 2, DescribeSecret: 1 });
      emulator.resetCalls();
      assert.deepEqual(emulator.calls, {});
    });
  });

  describe('helpers without HTTP', () => {
    it('putSecret creates a secret, then adds AWSCURRENT versions; versions and secretValue show them', async () => {
      const first = emulator.putSecret('app/db', { username: 'app', password: PASSWORD });
      const second = emulator.putSecret('app/db', 'plain');
      assert.equal(second.arn, first.arn);
      assert.deepEqual(stagesOf('app/db'), { [first.versionId]: ['AWSPREVIOUS'], [second.versionId]: ['AWSCURRENT'] });
      assert.equal(emulator.secretValue('app/db'), 'plain');
      assert.equal(
        emulator.secretValue(first.arn, { versionStage: 'AWSPREVIOUS' }),
        JSON.stringify({ username: 'app', password: PASSWORD }),
      );
      const got = await client().send(new GetSecretValueCommand({ SecretId: 'app/db' }));
      assert.equal(got.VersionId, second.versionId);
    });
  });
});
