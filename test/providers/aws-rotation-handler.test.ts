import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { inspect } from 'node:util';
import {
  CancelRotateSecretCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { createConnection } from 'mysql2/promise';
import sinon from 'sinon';
import { InvalidOptionError, isCredswapError } from '../../lib/errors.js';
import { startTestServer, type MariaDBServer } from '../../lib/testing/mariadb.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../lib/testing/secrets-manager.js';
import { createRotationHandler, type RotationHandler } from '../../providers/aws/rotation/handler.js';
import type { RotationStep } from '../../providers/aws/rotation/event.js';
import { rewriteGrant } from '../../providers/aws/rotation/grants.js';
import type { RotationHandlerOptions } from '../../providers/aws/rotation/options.js';
import { RotationStepError } from '../../providers/aws/errors.js';
import { eventually } from '../helpers/load.js';

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
const ACCOUNTS = ['%', 'localhost'];

describe('createRotationHandler', function () {
  let server: MariaDBServer;
  let emulator: SecretsManagerEmulator;
  let client: SecretsManagerClient;
  let database: string;
  let noopArn: string;
  let n = 0;

  before(async function () {
    [server, emulator] = await Promise.all([startTestServer(), startSecretsManagerEmulator()]);
    client = new SecretsManagerClient({ ...emulator.clientConfig(), maxAttempts: 1 });
    database = await server.createDatabase('rotation');
    await server.query(`CREATE TABLE \`${database}\`.orders (id INT PRIMARY KEY)`);
    // A rotation function that does nothing: RotateSecret then leaves the secret as AWS leaves
    // it before its function's first step (rotation enabled, an AWSPENDING version without a
    // value), so that a test can call the handler's steps itself.
    noopArn = emulator.registerRotationFunction('noop', () => undefined);
  });

  after(async function () {
    client?.destroy();
    await emulator?.close();
    await server?.stop();
  });

  afterEach(function () {
    sinon.restore();
  });

  // --- Helpers ---------------------------------------------------------------------------------

  /** An application user with privileges on the test database, on hosts '%' and 'localhost'. */
  function appUser(prefix = 'app'): Promise<{ user: string; password: string }> {
    return server.createUser({ prefix, grants: `SELECT, INSERT ON \`${database}\`.*` });
  }

  /** An administrator that can create users and grant anything it has. */
  async function adminUser(): Promise<{ user: string; password: string }> {
    const admin = await server.createUser({ prefix: 'admin' });
    for (const host of ACCOUNTS) await server.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [admin.user, host]);
    return admin;
  }

  function secretJson(user: string, password: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { engine: 'mysql', host: server.host, port: server.port, username: user, password, dbname: database, ...extra };
  }

  /** Creates the administrator's secret and an application secret naming it under `key`; returns both names. */
  function secretsWithAdmin(user: string, password: string, admin: { user: string; password: string }, key = 'masterarn') {
    const masterId = newSecret(secretJson(admin.user, admin.password));
    return { masterId, secretId: newSecret(secretJson(user, password, { [key]: masterId })) };
  }

  /** Creates a secret with this value and returns its name. */
  function newSecret(value: Record<string, unknown>): string {
    n += 1;
    const name = `rotation/test-${n}`;
    emulator.putSecret(name, value);
    return name;
  }

  /** Starts a rotation whose function does nothing and returns its token (the AWSPENDING version). */
  async function startRotation(secretId: string): Promise<string> {
    const out = await client.send(new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: noopArn }));
    await emulator.waitForRotation(secretId, { timeoutMs: 10_000 });
    return out.VersionId!;
  }

  function handler(options: Partial<RotationHandlerOptions> = {}): RotationHandler {
    return createRotationHandler({ strategy: 'single-user', client, connectTimeoutMs: 2_000, ...options });
  }

  async function run(h: RotationHandler, secretId: string, token: string, steps: readonly RotationStep[] = STEPS): Promise<void> {
    for (const step of steps) await h({ Step: step, SecretId: secretId, ClientRequestToken: token });
  }

  /** Rotates through RotateSecret, with `h` registered as the rotation function. */
  async function rotateSecret(secretId: string, h: RotationHandler): Promise<void> {
    n += 1;
    const arn = emulator.registerRotationFunction(`rotate-${n}`, h);
    await client.send(new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: arn }));
    const result = await emulator.waitForRotation(secretId, { timeoutMs: 20_000 });
    assert.equal(result.status, 'succeeded', `rotation ${result.status} in ${result.failedStep}: ${inspect(result.error)}`);
  }

  function value(secretId: string, stage = 'AWSCURRENT'): Record<string, unknown> {
    return JSON.parse(emulator.secretValue(secretId, { versionStage: stage }) as string) as Record<string, unknown>;
  }

  function versionWith(secretId: string, stage: string): string | undefined {
    return emulator.versions(secretId).find((v) => v.stages.includes(stage))?.versionId;
  }

  /** `'ok'` when the login works, else the server's errno. */
  async function login(user: unknown, password: unknown): Promise<'ok' | number> {
    try {
      const connection = await createConnection({ host: server.host, port: server.port, user: String(user), password: String(password) });
      await connection.end();
      return 'ok';
    } catch (error) {
      return (error as { errno: number }).errno;
    }
  }

  /** SHOW GRANTS of each account of `user`, with the user name and password hash taken out. */
  async function grantsOf(user: string): Promise<string[]> {
    const lines: string[] = [];
    for (const host of ACCOUNTS) {
      const rows = await server.query<Array<Record<string, string>>>('SHOW GRANTS FOR ?@?', [user, host]);
      for (const row of rows) {
        lines.push(
          Object.values(row)[0]
            .replace(`\`${user}\``, '`<user>`')
            .replace(/ IDENTIFIED BY PASSWORD '[^']*'/, ''),
        );
      }
    }
    return lines.sort();
  }

  async function passwordHashes(user: string): Promise<Map<string, string>> {
    const rows = await server.query<Array<{ host: string; hash: string }>>(
      'SELECT Host AS host, authentication_string AS hash FROM mysql.user WHERE User = ?',
      [user],
    );
    return new Map(rows.map((r) => [r.host, r.hash]));
  }

  /** Fails when any 8-character piece of a password appears in the error's message or inspection. */
  function assertNoPasswords(error: unknown, passwords: string[]): void {
    const texts = [String((error as Error).message), inspect(error, { depth: 10 }), JSON.stringify(error)];
    for (const password of passwords) {
      for (let i = 0; i + 8 <= password.length; i++) {
        const piece = password.slice(i, i + 8);
        for (const text of texts) assert.ok(!text.includes(piece), `found a piece of a password in: ${text}`);
      }
    }
  }

  async function rejection(promise: Promise<unknown>): Promise<RotationStepError> {
    try {
      await promise;
    } catch (error) {
      assert.ok(error instanceof RotationStepError, `expected a RotationStepError, got ${inspect(error)}`);
      return error;
    }
    assert.fail('expected a rejection');
  }

  // --- Single user -----------------------------------------------------------------------------

  describe('single user', function () {
    it('changes the password: the old one is refused with 1045, the new one works', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);

      await run(handler(), secretId, token);

      const current = value(secretId);
      assert.equal(current.username, user);
      assert.notEqual(current.password, password);
      assert.equal(await login(user, password), 1045);
      assert.equal(await login(user, current.password), 'ok');
    });

    it('moves AWSCURRENT to the new version and AWSPREVIOUS to the old one', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const before = versionWith(secretId, 'AWSCURRENT');
      const token = await startRotation(secretId);

      await run(handler(), secretId, token);

      assert.equal(versionWith(secretId, 'AWSCURRENT'), token);
      assert.equal(versionWith(secretId, 'AWSPREVIOUS'), before);
    });

    it('keeps every other key of the secret in the new version', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password, { dbInstanceIdentifier: 'orders-db', port: String(server.port) }));
      const token = await startRotation(secretId);

      await run(handler(), secretId, token, ['createSecret']);

      const { password: _new, ...rest } = value(secretId, 'AWSPENDING');
      const { password: _old, ...expected } = secretJson(user, password, { dbInstanceIdentifier: 'orders-db', port: String(server.port) });
      assert.deepEqual(rest, expected);
    });

    it('rotates when Secrets Manager runs it through RotateSecret', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));

      await rotateSecret(
        secretId,
        createRotationHandler({ strategy: 'single-user', clientConfig: { ...emulator.clientConfig(), maxAttempts: 1 } }),
      );

      assert.equal(await login(user, value(secretId).password), 'ok');
      assert.equal(await login(user, password), 1045);
    });

    it('logs in with AWSPREVIOUS when the database never got the AWSCURRENT password', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      emulator.putSecret(secretId, secretJson(user, 'never-set-in-the-database'));
      const token = await startRotation(secretId);

      await run(handler(), secretId, token);

      assert.equal(await login(user, value(secretId).password), 'ok');
    });

    it('changes the password on every host of the user when the user may alter accounts', async function () {
      const { user, password } = await appUser();
      for (const host of ACCOUNTS) await server.query('GRANT CREATE USER ON *.* TO ?@?', [user, host]);
      await server.query('GRANT SELECT ON mysql.* TO ?@?', [user, '%']);
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);

      await run(handler(), secretId, token);

      const hashes = await passwordHashes(user);
      assert.equal(hashes.size, 2);
      assert.equal(hashes.get('%'), hashes.get('localhost'));
    });

    it('warns, naming the hosts, when the user may not change its accounts on other hosts', async function () {
      const { user, password } = await appUser();
      await server.query('GRANT SELECT ON mysql.* TO ?@?', [user, '%']);
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);
      const warn = sinon.spy((_message: string) => {});

      await run(handler({ logger: { warn } }), secretId, token);

      assert.equal(warn.callCount, 1);
      assert.match(warn.firstCall.args[0], new RegExp(`user '${user}' also exists on host\\(s\\) 'localhost'`));
      assertNoPasswords(new Error(warn.firstCall.args[0]), [password, String(value(secretId).password)]);
    });

    it('refuses a pending secret for another user than AWSCURRENT', async function () {
      const { user, password } = await appUser();
      const other = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);
      // The pending version holds another user's name: setSecret must not change that user.
      await client.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          SecretString: JSON.stringify(secretJson(other.user, 'a-new-password-for-someone-else')),
          VersionStages: ['AWSPENDING'],
        }),
      );

      const error = await rejection(handler()({ Step: 'setSecret', SecretId: secretId, ClientRequestToken: token }));

      assert.match(error.message, new RegExp(`refusing to modify user '${other.user}'`));
      assert.equal(await login(other.user, other.password), 'ok');
    });
  });

  // --- Alternating users ------------------------------------------------------------------------

  describe('alternating users', function () {
    it('creates the clone with the same grants on every host, then goes back to the original user with a new password', async function () {
      const { user, password } = await appUser();
      const admin = await adminUser();
      const { masterId, secretId } = secretsWithAdmin(user, password, admin);
      const h = handler({ strategy: 'alternating-users' });

      await run(h, secretId, await startRotation(secretId));

      const first = value(secretId);
      assert.equal(first.username, `${user}_clone`);
      assert.equal(first.masterarn, masterId);
      assert.deepEqual(await grantsOf(`${user}_clone`), await grantsOf(user));
      assert.equal(await login(first.username, first.password), 'ok');
      assert.equal(await login(user, password), 'ok', 'the previous user keeps working until the next rotation');

      await run(h, secretId, await startRotation(secretId));

      const second = value(secretId);
      assert.equal(second.username, user);
      assert.notEqual(second.password, password);
      assert.equal(await login(user, second.password), 'ok');
      assert.equal(await login(user, password), 1045);
      assert.equal(await login(first.username, first.password), 'ok', 'the clone keeps working until the next rotation');
    });

    it('gives the clone a password on every host of the user', async function () {
      const { user, password } = await appUser();
      const admin = await adminUser();
      const { secretId } = secretsWithAdmin(user, password, admin);

      await run(handler({ strategy: 'alternating-users' }), secretId, await startRotation(secretId));

      const hashes = await passwordHashes(`${user}_clone`);
      assert.deepEqual([...hashes.keys()].sort(), [...ACCOUNTS].sort());
      assert.equal(hashes.get('%'), hashes.get('localhost'));
    });

    it('copies role grants, the default role and WITH GRANT OPTION', async function () {
      const { user, password } = await appUser();
      const role = `reporting_${n}`;
      await server.query(`CREATE ROLE ${role}`);
      await server.query(`GRANT SELECT ON \`${database}\`.* TO ${role}`);
      await server.query(`GRANT ${role} TO ?@'%'`, [user]);
      await server.query(`SET DEFAULT ROLE ${role} FOR ?@'%'`, [user]);
      await server.query(`GRANT UPDATE ON \`${database}\`.* TO ?@'%' WITH GRANT OPTION`, [user]);
      const admin = await adminUser();
      // Granting a role takes the role's ADMIN OPTION, as AWS's function needs too.
      await server.query(`GRANT ${role} TO ?@'%' WITH ADMIN OPTION`, [admin.user]);
      const { secretId } = secretsWithAdmin(user, password, admin);

      await run(handler({ strategy: 'alternating-users' }), secretId, await startRotation(secretId));

      const grants = await grantsOf(`${user}_clone`);
      assert.deepEqual(grants, await grantsOf(user));
      assert.ok(grants.some((line) => line.startsWith('SET DEFAULT ROLE')));
      assert.ok(grants.some((line) => line.endsWith('WITH GRANT OPTION')));
    });

    it('finishes a setSecret that failed halfway when it is called again', async function () {
      const { user, password } = await appUser();
      const role = `auditing_${n}`;
      await server.query(`CREATE ROLE ${role}`);
      await server.query(`GRANT ${role} TO ?@'%'`, [user]);
      const admin = await adminUser(); // without the role's ADMIN OPTION: copying that grant fails
      const { secretId } = secretsWithAdmin(user, password, admin);
      const token = await startRotation(secretId);
      const h = handler({ strategy: 'alternating-users' });
      await run(h, secretId, token, ['createSecret']);
      const pending = value(secretId, 'AWSPENDING');

      await rejection(h({ Step: 'setSecret', SecretId: secretId, ClientRequestToken: token }));
      assert.equal(await login(pending.username, pending.password), 1045, 'the pending password is set last');
      await server.query(`GRANT ${role} TO ?@'%' WITH ADMIN OPTION`, [admin.user]);
      await run(h, secretId, token, ['setSecret']);

      assert.deepEqual(await grantsOf(`${user}_clone`), await grantsOf(user));
      assert.equal(await login(pending.username, pending.password), 'ok');
    });

    it('rotates when Secrets Manager runs it through RotateSecret', async function () {
      const { user, password } = await appUser();
      const admin = await adminUser();
      const { secretId } = secretsWithAdmin(user, password, admin);

      await rotateSecret(secretId, handler({ strategy: 'alternating-users' }));

      const current = value(secretId);
      assert.equal(current.username, `${user}_clone`);
      assert.equal(await login(current.username, current.password), 'ok');
    });

    it('refuses, in createSecret, a clone name longer than 32 characters', async function () {
      const { user, password } = await appUser('a_rather_long_prefix'); // 29 characters
      const secretId = newSecret(secretJson(user, password, { masterarn: 'unused' }));
      const token = await startRotation(secretId);
      emulator.resetCalls();

      const error = await rejection(
        handler({ strategy: 'alternating-users' })({ Step: 'createSecret', SecretId: secretId, ClientRequestToken: token }),
      );

      assert.match(error.message, /longer than MySQL's limit of 32 characters/);
      assert.equal(emulator.calls.PutSecretValue ?? 0, 0);
    });

    it('fails setSecret when the secret names no administrator secret', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);
      const h = handler({ strategy: 'alternating-users' });
      await run(h, secretId, token, ['createSecret']);

      const error = await rejection(h({ Step: 'setSecret', SecretId: secretId, ClientRequestToken: token }));

      assert.equal(error.step, 'setSecret');
      assert.match(error.message, /'masterarn' must name the administrator secret/);
    });

    it('names the step and user but no password when the administrator may not create users', async function () {
      const { user, password } = await appUser();
      const weak = await server.createUser({ prefix: 'weakadmin', grants: 'SELECT ON mysql.*' });
      const masterId = newSecret(secretJson(weak.user, weak.password));
      const secretId = newSecret(secretJson(user, password, { masterarn: masterId }));
      const token = await startRotation(secretId);
      const h = handler({ strategy: 'alternating-users' });
      await run(h, secretId, token, ['createSecret']);

      const error = await rejection(h({ Step: 'setSecret', SecretId: secretId, ClientRequestToken: token }));

      assert.equal(error.user, `${user}_clone`);
      assert.equal((error.cause as { errno?: number }).errno, 1227);
      assertNoPasswords(error, [password, weak.password, String(value(secretId, 'AWSPENDING').password)]);
    });
  });

  // --- Idempotence ---------------------------------------------------------------------------

  describe('each step run twice with the same token', function () {
    it('createSecret stores one pending version', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);
      const h = handler();
      emulator.resetCalls();

      await run(h, secretId, token, ['createSecret']);
      const pending = value(secretId, 'AWSPENDING').password;
      await run(h, secretId, token, ['createSecret']);

      assert.equal(emulator.calls.PutSecretValue, 1);
      assert.equal(value(secretId, 'AWSPENDING').password, pending);
    });

    it('setSecret changes the password once', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);
      const info = sinon.spy((_message: string) => {});
      const h = handler({ logger: { info } });
      await run(h, secretId, token, ['createSecret', 'setSecret']);
      info.resetHistory();

      await run(h, secretId, token, ['setSecret']);

      assert.ok(info.calledOnce);
      assert.match(info.firstCall.args[0], /AWSPENDING password already works/);
      assert.equal(await login(user, value(secretId, 'AWSPENDING').password), 'ok');
    });

    it('setSecret of alternating users changes nothing the second time', async function () {
      const { user, password } = await appUser();
      const admin = await adminUser();
      const { secretId } = secretsWithAdmin(user, password, admin);
      const token = await startRotation(secretId);
      const h = handler({ strategy: 'alternating-users' });
      await run(h, secretId, token, ['createSecret', 'setSecret']);
      const hashes = await passwordHashes(`${user}_clone`);

      await run(h, secretId, token, ['setSecret']);

      assert.deepEqual(await passwordHashes(`${user}_clone`), hashes);
    });

    it('testSecret succeeds both times', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);
      const h = handler();
      await run(h, secretId, token, ['createSecret', 'setSecret']);

      await run(h, secretId, token, ['testSecret', 'testSecret']);
    });

    it('finishSecret moves the labels once and then finds the rotation done', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const before = versionWith(secretId, 'AWSCURRENT');
      const token = await startRotation(secretId);
      const h = handler();
      await run(h, secretId, token, ['createSecret', 'setSecret', 'testSecret']);
      emulator.resetCalls();

      await run(h, secretId, token, ['finishSecret', 'finishSecret']);

      assert.equal(emulator.calls.UpdateSecretVersionStage, 1);
      assert.equal(versionWith(secretId, 'AWSCURRENT'), token);
      assert.equal(versionWith(secretId, 'AWSPREVIOUS'), before);
    });

    it('the whole rotation run twice ends as one run does', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);
      const h = handler();

      for (const step of STEPS) await run(h, secretId, token, [step, step]);

      assert.equal(versionWith(secretId, 'AWSCURRENT'), token);
      assert.equal(await login(user, value(secretId).password), 'ok');
    });
  });

  // --- Checks before every step ----------------------------------------------------------------

  describe('checks before every step', function () {
    it('rejects a token that is not a version of the secret', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      await startRotation(secretId);

      const error = await rejection(
        handler()({ Step: 'createSecret', SecretId: secretId, ClientRequestToken: '00000000-0000-4000-8000-000000000000' }),
      );

      assert.match(error.message, /version 00000000-0000-4000-8000-000000000000 has no stage for rotation/);
    });

    it('rejects a secret whose rotation is disabled', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);
      await client.send(new CancelRotateSecretCommand({ SecretId: secretId }));

      const error = await rejection(handler()({ Step: 'createSecret', SecretId: secretId, ClientRequestToken: token }));

      assert.match(error.message, /rotation is not enabled/);
    });

    it('rejects a version that is not AWSPENDING', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const old = versionWith(secretId, 'AWSCURRENT')!;
      await run(handler(), secretId, await startRotation(secretId));
      assert.equal(versionWith(secretId, 'AWSPREVIOUS'), old);

      const error = await rejection(handler()({ Step: 'setSecret', SecretId: secretId, ClientRequestToken: old }));

      assert.match(error.message, /is not AWSPENDING/);
    });

    it('does nothing when the version is already AWSCURRENT', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const current = versionWith(secretId, 'AWSCURRENT')!;
      await startRotation(secretId);
      emulator.resetCalls();

      await run(handler(), secretId, current);

      assert.deepEqual(Object.keys(emulator.calls), ['DescribeSecret']);
      assert.equal(await login(user, password), 'ok');
    });

    it('rejects an event with an unknown step before calling AWS', async function () {
      emulator.resetCalls();

      const error = await rejection(handler()({ Step: 'dropSecret' as RotationStep, SecretId: 'x', ClientRequestToken: 'y' }));

      assert.match(error.message, /invalid step parameter/);
      assert.deepEqual(emulator.calls, {});
    });

    it('rejects a missing secret with the Secrets Manager error as the cause', async function () {
      const error = await rejection(
        handler()({ Step: 'createSecret', SecretId: 'rotation/no-such-secret', ClientRequestToken: 'y'.repeat(36) }),
      );

      assert.equal((error.cause as { awsError?: string }).awsError, 'ResourceNotFoundException');
      assert.equal(error.secretId, 'rotation/no-such-secret');
    });
  });

  // --- Errors --------------------------------------------------------------------------------

  describe('errors', function () {
    it('a failed login names the secret, step and user, with the 1045 as cause and no password', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);
      const h = handler();
      await run(h, secretId, token, ['createSecret']);

      const error = await rejection(h({ Step: 'testSecret', SecretId: secretId, ClientRequestToken: token }));

      assert.ok(isCredswapError(error));
      assert.equal(error.code, 'CREDSWAP_ROTATION_STEP_FAILED');
      assert.equal(error.name, 'RotationStepError');
      assert.equal(error.secretId, secretId);
      assert.equal(error.step, 'testSecret');
      assert.equal(error.user, user);
      assert.equal((error.cause as { errno?: number }).errno, 1045);
      assertNoPasswords(error, [password, String(value(secretId, 'AWSPENDING').password)]);
    });

    it('a failed password change carries no password, not even in the statement mysql2 keeps', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);
      const h = handler();
      await run(h, secretId, token, ['createSecret']);
      await server.setReadOnly(true);
      let error: RotationStepError;
      try {
        error = await rejection(h({ Step: 'setSecret', SecretId: secretId, ClientRequestToken: token }));
      } finally {
        await server.setReadOnly(false);
      }

      assert.equal((error.cause as { errno?: number }).errno, 1290);
      assert.equal((error.cause as { sql?: string }).sql, undefined);
      assertNoPasswords(error, [password, String(value(secretId, 'AWSPENDING').password)]);
    });

    it('gives up after connectTimeoutMs against a server that never answers', async function () {
      const sockets = new Set<Socket>();
      const silent: Server = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const { user, password } = await appUser();
        const secretId = newSecret(secretJson(user, password));
        const token = await startRotation(secretId);
        const port = (silent.address() as { port: number }).port;
        await run(handler(), secretId, token, ['createSecret']);

        const error = await rejection(
          handler({ host: '127.0.0.1', port, connectTimeoutMs: 200 })({
            Step: 'testSecret',
            SecretId: secretId,
            ClientRequestToken: token,
          }),
        );

        assert.equal((error.cause as { code?: string }).code, 'ETIMEDOUT');
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });
  });

  // --- Connections -----------------------------------------------------------------------------

  describe('database connections', function () {
    it("connects to the host and port options instead of the secret's", async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password, { host: 'db.example.invalid', port: 3306 }));
      const token = await startRotation(secretId);

      await run(handler({ host: server.host, port: server.port }), secretId, token);

      assert.equal(await login(user, value(secretId).password), 'ok');
      assert.equal(value(secretId).host, 'db.example.invalid');
    });

    it('reads a port given as a string in the secret', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password, { port: String(server.port) }));

      await run(handler(), secretId, await startRotation(secretId));

      assert.equal(await login(user, value(secretId).password), 'ok');
    });

    it('closes every connection it opens, also when a step fails', async function () {
      const { user, password } = await appUser();
      const admin = await adminUser();
      const { secretId } = secretsWithAdmin(user, password, admin);
      const token = await startRotation(secretId);
      const h = handler({ strategy: 'alternating-users' });
      await run(h, secretId, token);
      const next = await startRotation(secretId);
      await run(h, secretId, next, ['createSecret']);
      await rejection(h({ Step: 'testSecret', SecretId: secretId, ClientRequestToken: next }));

      await eventually(
        async () => {
          const open = await server.processlist();
          return !open.some((p) => [user, `${user}_clone`, admin.user].includes(p.user));
        },
        5_000,
        "the handler's connections to close",
      );
    });
  });

  // --- Options -------------------------------------------------------------------------------

  describe('options', function () {
    it('rejects an unknown option key', function () {
      assert.throws(
        () => createRotationHandler({ strategy: 'single-user', passwordLenght: 40 } as unknown as RotationHandlerOptions),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'passwordLenght',
      );
    });

    it('requires a strategy', function () {
      assert.throws(
        () => createRotationHandler({} as RotationHandlerOptions),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'strategy',
      );
    });

    it('rejects client together with clientConfig', function () {
      assert.throws(
        () => createRotationHandler({ strategy: 'single-user', client, clientConfig: {} }),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'clientConfig',
      );
    });

    it('rejects a password length above 4096', function () {
      assert.throws(
        () => createRotationHandler({ strategy: 'single-user', passwordLength: 5000 }),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'passwordLength',
      );
    });

    it('generates passwords of passwordLength without the excluded characters', async function () {
      const { user, password } = await appUser();
      const secretId = newSecret(secretJson(user, password));
      const token = await startRotation(secretId);

      await run(handler({ passwordLength: 48, excludeCharacters: 'abcdefABCDEF0123' }), secretId, token, ['createSecret']);

      const pending = String(value(secretId, 'AWSPENDING').password);
      assert.equal(pending.length, 48);
      assert.doesNotMatch(pending, /[a-fA-F0-3]/);
    });

    it('uses cloneSuffix and masterSecretKey', async function () {
      const { user, password } = await appUser();
      const admin = await adminUser();
      const { secretId } = secretsWithAdmin(user, password, admin, 'adminSecret');

      await run(
        handler({ strategy: 'alternating-users', cloneSuffix: '_b', masterSecretKey: 'adminSecret' }),
        secretId,
        await startRotation(secretId),
      );

      assert.equal(value(secretId).username, `${user}_b`);
    });
  });
});

describe('rewriteGrant', function () {
  const target = "'app_clone'@'%'";

  it('replaces the grantee and drops the password hash MariaDB prints', function () {
    assert.equal(
      rewriteGrant(
        "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*F285FD17C5463A26C85986799E22DA2953C6CC65'",
        'app',
        '%',
        target,
      ),
      "GRANT USAGE ON *.* TO 'app_clone'@'%'",
    );
  });

  it('keeps WITH GRANT OPTION and resource limits', function () {
    assert.equal(
      rewriteGrant(
        "GRANT USAGE ON *.* TO 'app'@'%' IDENTIFIED BY PASSWORD '*AB' REQUIRE SSL WITH MAX_USER_CONNECTIONS 5",
        'app',
        '%',
        target,
      ),
      "GRANT USAGE ON *.* TO 'app_clone'@'%' WITH MAX_USER_CONNECTIONS 5",
    );
    assert.equal(
      rewriteGrant('GRANT SELECT ON `db`.* TO `app`@`%` WITH GRANT OPTION', 'app', '%', target),
      "GRANT SELECT ON `db`.* TO 'app_clone'@'%' WITH GRANT OPTION",
    );
  });

  it('rewrites role grants, default roles and partial revokes', function () {
    assert.equal(rewriteGrant('GRANT `r1`@`%` TO `app`@`%`', 'app', '%', target), "GRANT `r1`@`%` TO 'app_clone'@'%'");
    assert.equal(rewriteGrant('SET DEFAULT ROLE `r1` FOR `app`@`%`', 'app', '%', target), "SET DEFAULT ROLE `r1` FOR 'app_clone'@'%'");
    assert.equal(
      rewriteGrant('REVOKE INSERT ON `mysql`.* FROM `app`@`%`', 'app', '%', target),
      "REVOKE INSERT ON `mysql`.* FROM 'app_clone'@'%'",
    );
  });

  it('is not fooled by quoted names that contain TO', function () {
    assert.equal(rewriteGrant('GRANT SELECT ON ` TO `.* TO `app`@`%`', 'app', '%', target), "GRANT SELECT ON ` TO `.* TO 'app_clone'@'%'");
  });

  it('returns undefined for a line of another grantee', function () {
    assert.equal(rewriteGrant('GRANT SELECT ON *.* TO `other`@`%`', 'app', '%', target), undefined);
  });
});
