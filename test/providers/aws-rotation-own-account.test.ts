/**
 * providers/aws/rotation/own-account.ts on a real MySQL server: a user changing its own password
 * gives the password it logged in with as `REPLACE`, so that `PASSWORD REQUIRE CURRENT` accounts
 * rotate with single-user and dual-password rotation, and a current password that logs in only
 * as the retained secondary one is a clear error (3891) instead of a lost password.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { RotateSecretCommand, SecretsManagerClient, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { createConnection } from 'mysql2/promise';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import { startMySQL } from '../../lib/testing/mysql.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../lib/testing/secrets-manager.js';
import { RotationStepError } from '../../providers/aws/errors.js';
import type { RotationStep } from '../../providers/aws/rotation/event.js';
import { createRotationHandler, type RotationHandler } from '../../providers/aws/rotation/handler.js';
import type { RotationHandlerOptions } from '../../providers/aws/rotation/options.js';
import { describeWithMySQL } from '../helpers/servers.js';

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
const ACCOUNTS = ['%', 'localhost'];

describeWithMySQL('createRotationHandler: changing its own password on MySQL', function () {
  let server: MariaDBServer;
  let emulator: SecretsManagerEmulator;
  let client: SecretsManagerClient;
  let database: string;
  let noopArn: string;
  let n = 0;

  before(async function () {
    [server, emulator] = await Promise.all([startMySQL(), startSecretsManagerEmulator()]);
    client = new SecretsManagerClient({ ...emulator.clientConfig(), maxAttempts: 1 });
    database = await server.createDatabase('own');
    noopArn = emulator.registerRotationFunction('noop', () => undefined);
  });

  after(async function () {
    client?.destroy();
    await emulator?.close();
    await server?.stop();
  });

  /** An application user on hosts '%' and 'localhost'; `alter` is appended to `ALTER USER` of each. */
  async function appUser(options: { alter?: string; privileges?: string } = {}): Promise<{ user: string; password: string }> {
    const account = await server.createUser({ prefix: 'own', grants: `SELECT ON \`${database}\`.*` });
    for (const host of ACCOUNTS) {
      if (options.alter !== undefined) await server.query(`ALTER USER ?@? ${options.alter}`, [account.user, host]);
      if (options.privileges !== undefined) await server.query(`GRANT ${options.privileges} ON *.* TO ?@?`, [account.user, host]);
    }
    return account;
  }

  function newSecret(user: string, password: string): string {
    n += 1;
    const name = `rotation/own-${n}`;
    emulator.putSecret(name, { engine: 'mysql', host: server.host, port: server.port, username: user, password, dbname: database });
    return name;
  }

  async function startRotation(secretId: string): Promise<string> {
    const out = await client.send(new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: noopArn }));
    await emulator.waitForRotation(secretId, { timeoutMs: 10_000 });
    return out.VersionId!;
  }

  function handler(strategy: RotationHandlerOptions['strategy']): RotationHandler {
    return createRotationHandler({ strategy, client, connectTimeoutMs: 5_000 });
  }

  async function run(h: RotationHandler, secretId: string, token: string, steps: readonly RotationStep[] = STEPS): Promise<void> {
    for (const step of steps) await h({ Step: step, SecretId: secretId, ClientRequestToken: token });
  }

  function password(secretId: string, stage = 'AWSCURRENT'): string {
    return String((JSON.parse(emulator.secretValue(secretId, { versionStage: stage }) as string) as { password: unknown }).password);
  }

  async function login(user: string, pass: string): Promise<'ok' | number> {
    try {
      await (await createConnection({ host: server.host, port: server.port, user, password: pass })).end();
      return 'ok';
    } catch (error) {
      return (error as { errno: number }).errno;
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

  it('single-user rotates an account without PASSWORD REQUIRE CURRENT: MySQL takes the REPLACE all the same', async function () {
    const { user, password: old } = await appUser();
    const secretId = newSecret(user, old);

    await run(handler('single-user'), secretId, await startRotation(secretId));

    assert.equal(await login(user, password(secretId)), 'ok');
    assert.equal(await login(user, old), 1045);
  });

  it('single-user rotates a PASSWORD REQUIRE CURRENT account', async function () {
    const { user, password: old } = await appUser({ alter: 'PASSWORD REQUIRE CURRENT' });
    const secretId = newSecret(user, old);

    await run(handler('single-user'), secretId, await startRotation(secretId));

    assert.equal(await login(user, password(secretId)), 'ok');
    assert.equal(await login(user, old), 1045);
  });

  it('dual-password rotates a PASSWORD REQUIRE CURRENT account', async function () {
    const { user, password: old } = await appUser({ alter: 'PASSWORD REQUIRE CURRENT', privileges: 'APPLICATION_PASSWORD_ADMIN' });
    const secretId = newSecret(user, old);
    const token = await startRotation(secretId);
    const h = handler('dual-password');

    await run(h, secretId, token, ['createSecret', 'setSecret']);
    assert.equal(await login(user, old), 'ok');
    await run(h, secretId, token, ['testSecret', 'finishSecret']);

    assert.equal(await login(user, password(secretId)), 'ok');
    assert.equal(await login(user, old), 1045);
  });

  it('single-user with a current password that logs in only as the secondary one fails with the 3891, saying why, and changes nothing', async function () {
    const { user, password: old } = await appUser();
    // Someone else changed the password and kept the old one as the secondary password.
    for (const host of ACCOUNTS)
      await server.query('ALTER USER ?@? IDENTIFIED BY ? RETAIN CURRENT PASSWORD', [user, host, 'Elsewhere-42!']);
    const secretId = newSecret(user, old);
    const token = await startRotation(secretId);
    const h = handler('single-user');
    await run(h, secretId, token, ['createSecret']);

    const error = await rejection(h({ Step: 'setSecret', SecretId: secretId, ClientRequestToken: token }));

    assert.equal((error.cause as { errno?: number }).errno, 3891);
    assert.match(error.message, /MySQL refused the AWSCURRENT password as the current password of '.+'@'localhost' \(REPLACE\)/);
    assert.match(error.message, /secondary password that RETAIN CURRENT PASSWORD kept/);
    assert.equal(await login(user, old), 'ok');
    assert.equal(await login(user, 'Elsewhere-42!'), 'ok');
  });

  it('dual-password after a rotation abandoned in its window fails with the 3891 instead of dropping the AWSCURRENT password', async function () {
    const { user, password: old } = await appUser({ privileges: 'APPLICATION_PASSWORD_ADMIN' });
    const secretId = newSecret(user, old);
    const h = handler('dual-password');
    const abandoned = await startRotation(secretId);
    await run(h, secretId, abandoned, ['createSecret', 'setSecret']);
    await client.send(
      new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: 'AWSPENDING', RemoveFromVersionId: abandoned }),
    );
    const token = await startRotation(secretId);
    await run(h, secretId, token, ['createSecret']);

    const error = await rejection(h({ Step: 'setSecret', SecretId: secretId, ClientRequestToken: token }));

    assert.equal((error.cause as { errno?: number }).errno, 3891);
    assert.match(error.message, /an earlier dual-password rotation did not finish/);
    assert.equal(await login(user, old), 'ok', 'RETAIN CURRENT PASSWORD would have kept the abandoned password instead');
  });
});
