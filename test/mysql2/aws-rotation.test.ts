/**
 * Rotations through AWS Secrets Manager, end to end: real MariaDB and MySQL, the real AWS SDK
 * client, the Secrets Manager emulator running credswap's rotation handler through RotateSecret,
 * and a credswap pool under load.
 */
import assert from 'node:assert/strict';
import { CreateSecretCommand, RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { RotateEvent } from '../../lib/coordinator.js';
import { createPool, type PromisePool } from '../../lib/mysql2/promise.js';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../lib/testing/secrets-manager.js';
import { createRotationHandler } from '../../providers/aws/rotation/handler.js';
import { SecretsManagerProvider } from '../../providers/aws/secrets-manager.js';
import { eventually, sampleMax, startLoad, stopAllLoads, type Load } from '../helpers/load.js';
import { describeEachFlavour, mariadbOnly, startTestServerOf } from '../helpers/servers.js';

describeEachFlavour('credswap/mysql2 pool with SecretsManagerProvider', (flavour) => {
  let server: MariaDBServer;
  let database: string;
  let emulator: SecretsManagerEmulator;
  let admin: SecretsManagerClient;
  let pool: PromisePool | undefined;
  let clients: SecretsManagerClient[];
  let n = 0;
  const itOnMariaDB = mariadbOnly(flavour);

  before(async function () {
    [server, emulator] = await Promise.all([startTestServerOf(flavour), startSecretsManagerEmulator()]);
    database = await server.createDatabase('aws');
    admin = new SecretsManagerClient({ ...emulator.clientConfig(), maxAttempts: 1 });
  });

  after(async function () {
    admin?.destroy();
    await emulator?.close();
    await server?.stop();
  });

  beforeEach(function () {
    clients = [];
    n += 1;
  });

  afterEach(async function () {
    await stopAllLoads();
    await pool?.end();
    pool = undefined;
    for (const c of clients) c.destroy();
    emulator.faults.clear();
  });

  async function createSecret(name: string, value: Record<string, unknown>): Promise<string> {
    const out = await admin.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }));
    return out.ARN!;
  }

  /** A user and its secret, in the shape RDS stores; `masterarn` for alternating users. */
  async function appSecret(prefix: string, extra: Record<string, unknown> = {}) {
    const account = await server.createUser({ prefix, grants: `ALL ON ${database}.*` });
    const secretId = `app/${prefix}-${n}`;
    await createSecret(secretId, {
      engine: 'mysql',
      host: server.host,
      port: server.port,
      username: account.user,
      password: account.password,
      dbname: database,
      ...extra,
    });
    return { ...account, secretId };
  }

  /** The provider's own client, with a count of the requests it sends, by command. */
  function countingClient(options: { maxAttempts?: number } = {}) {
    const client = new SecretsManagerClient({ ...emulator.clientConfig(), ...options });
    clients.push(client);
    const sent: Record<string, number> = {};
    client.middlewareStack.add(
      (next, context) => (args) => {
        sent[context.commandName as string] = (sent[context.commandName as string] ?? 0) + 1;
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );
    return { client, sent };
  }

  /**
   * Half the workers use `pool.query`; the others check out a connection and sometimes destroy
   * it, so that new logins keep happening all through a rotation.
   */
  function load(p: PromisePool, workers: number, churn: () => boolean = () => true): Load {
    return startLoad(workers, async (worker, i) => {
      if (worker % 2 === 0) {
        await p.query('SELECT 1');
        return;
      }
      const connection = await p.getConnection();
      try {
        await connection.query('SELECT 1');
      } finally {
        if (i % 8 === 0 && churn()) connection.destroy();
        else connection.release();
      }
    });
  }

  async function rotate(secretId: string, functionArn: string, holdMs = 0) {
    const pause = holdMs > 0 ? emulator.pauseRotation({ secretId, after: 'setSecret', ms: holdMs }) : undefined;
    await admin.send(new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: functionArn }));
    await pause?.reached;
    const result = await emulator.waitForRotation(secretId, { timeoutMs: 30_000 });
    assert.equal(result.status, 'succeeded', `rotation failed at ${result.failedStep}: ${String(result.error)}`);
  }

  it('rides out a single-user RotateSecret with the setSecret..finishSecret window held 3 s under 32 workers: zero failed queries', async function () {
    const app = await appSecret('single');
    const functionArn = emulator.registerRotationFunction(
      `single-${n}`,
      createRotationHandler({ strategy: 'single-user', clientConfig: emulator.clientConfig() }),
    );
    const { client, sent } = countingClient();
    pool = createPool({
      connectionLimit: 16,
      credentials: new SecretsManagerProvider({ secretId: app.secretId, client, refreshIntervalMs: 500 }),
    });
    const p = pool;
    const rotations: RotateEvent[] = [];
    p.on('rotate', (e) => rotations.push(e));
    let logins = 0;
    p.on('connection', () => (logins += 1));
    const running = load(p, 32);
    await running.untilOk(300);

    const pause = emulator.pauseRotation({ secretId: app.secretId, after: 'setSecret', ms: 3_000 });
    await admin.send(new RotateSecretCommand({ SecretId: app.secretId, RotationLambdaARN: functionArn }));
    await pause.reached;
    const loginsBefore = logins;
    const okBefore = running.result.ok;
    await eventually(() => (emulator.rotations(app.secretId).at(-1)?.steps.length ?? 0) >= 3, 10_000, 'testSecret after the window');
    const loginsInWindow = logins - loginsBefore;
    assert.ok(running.result.ok > okBefore, 'queries ran during the window');
    const result = await emulator.waitForRotation(app.secretId, { timeoutMs: 30_000 });
    assert.equal(result.status, 'succeeded');
    await running.untilOk(running.result.ok + 300);

    const outcome = await running.stop();
    assert.deepEqual(
      outcome.failed.map((e) => e.message),
      [],
    );
    assert.ok(loginsInWindow > 0, 'new logins happened while the old password was refused');
    assert.deepEqual(
      rotations.map((e) => e.reason),
      ['initial', 'rejected'],
      'one generation for the pending password, none when finishSecret moved AWSCURRENT to it',
    );
    assert.ok((sent.DescribeSecretCommand ?? 0) >= 1);
    assert.ok((sent.GetSecretValueCommand ?? 0) <= 2, `GetSecretValue calls: ${sent.GetSecretValueCommand}`);
  });

  it('follows an alternating-users rotation twice in a row under load: zero failed queries, connections move to the new user', async function () {
    const masterArn = await createSecret(`admin/master-${n}`, {
      engine: 'mysql',
      host: server.host,
      port: server.port,
      username: server.adminUser,
      password: server.adminPassword,
    });
    const app = await appSecret('alt', { masterarn: masterArn });
    const clone = `${app.user}_clone`;
    const functionArn = emulator.registerRotationFunction(
      `alternating-${n}`,
      createRotationHandler({ strategy: 'alternating-users', clientConfig: emulator.clientConfig() }),
    );
    pool = createPool({
      connectionLimit: 8,
      credentials: new SecretsManagerProvider({ secretId: app.secretId, clientConfig: emulator.clientConfig(), refreshIntervalMs: 200 }),
    });
    const p = pool;
    const rotations: RotateEvent[] = [];
    p.on('rotate', (e) => rotations.push(e));
    // The rotation handler's testSecret logs in as the pending user too: count the pool's own
    // connections only, by thread id, in one processlist read for both users.
    const threads = new Set<number>();
    p.on('connection', (connection) => threads.add(connection.threadId));
    const running = load(p, 16);
    const peak = sampleMax(20, async () => (await server.processlist()).filter((c) => threads.has(c.id)).length);
    await running.untilOk(200);

    try {
      for (const [round, user, old] of [
        [1, clone, app.user],
        [2, app.user, clone],
      ] as const) {
        await rotate(app.secretId, functionArn);
        await eventually(() => rotations.length === round + 1, 10_000, `the pool to follow rotation ${round}`);
        assert.equal(rotations.at(-1)!.user, user);
        assert.equal(rotations.at(-1)!.reason, 'push');
        await eventually(async () => (await server.processlist(old)).length === 0, 15_000, `${old}'s connections to drain`);
        await running.untilOk(running.result.ok + 200);
        assert.ok((await server.processlist(user)).length > 0, `connections on ${user}`);
      }
    } finally {
      const outcome = await running.stop();
      assert.deepEqual(
        outcome.failed.map((e) => e.message),
        [],
      );
    }
    const most = await peak.stop();
    assert.ok(most <= 8, `never more than connectionLimit connections across both users (saw ${most})`);
  });

  it('200 logins refused at once cost one DescribeSecret and at most two GetSecretValue calls', async function () {
    const app = await appSecret('storm');
    const functionArn = emulator.registerRotationFunction(
      `storm-${n}`,
      createRotationHandler({ strategy: 'single-user', clientConfig: emulator.clientConfig() }),
    );
    const { client, sent } = countingClient();
    pool = createPool({
      connectionLimit: 200,
      credentials: new SecretsManagerProvider({ secretId: app.secretId, client, refreshIntervalMs: 0 }),
    });
    const p = pool;
    (await p.getConnection()).release();
    assert.deepEqual({ ...sent }, { GetSecretValueCommand: 1 });

    const pause = emulator.pauseRotation({ secretId: app.secretId, after: 'setSecret' });
    await admin.send(new RotateSecretCommand({ SecretId: app.secretId, RotationLambdaARN: functionArn }));
    await pause.reached;
    // 200 checkouts at once: one idle connection, 199 new logins with the refused password.
    const connections = await Promise.all(Array.from({ length: 200 }, () => p.getConnection()));
    const threads = new Set(
      await Promise.all(
        connections.map(async (c) => ((await c.query('SELECT CONNECTION_ID() AS id')) as [Array<{ id: number }>, unknown])[0][0].id),
      ),
    );
    for (const c of connections) c.release();
    pause.release();
    await emulator.waitForRotation(app.secretId, { timeoutMs: 30_000 });

    assert.equal(threads.size, 200, 'every checkout got a working connection of its own');
    assert.equal(sent.DescribeSecretCommand, 1);
    assert.ok(sent.GetSecretValueCommand - 1 <= 2, `GetSecretValue calls after the first: ${sent.GetSecretValueCommand - 1}`);
  });

  // The SDK's retries of Secrets Manager's faults are the subject; the server sees the same
  // single-user rotation as in the first test.
  itOnMariaDB(
    'rides out throttling and 500s from Secrets Manager during a single-user rotation window with no failed query',
    async function () {
      const app = await appSecret('throttled');
      const functionArn = emulator.registerRotationFunction(
        `throttled-${n}`,
        createRotationHandler({ strategy: 'single-user', clientConfig: emulator.clientConfig() }),
      );
      // The SDK's default retry policy (3 attempts, backoff with jitter) stays on.
      const { client, sent } = countingClient();
      pool = createPool({
        connectionLimit: 8,
        credentials: new SecretsManagerProvider({ secretId: app.secretId, client, refreshIntervalMs: 0 }),
      });
      const p = pool;
      // No new logins until the faults are in place: the pool's connections stay open, so the
      // rotation starts only when the workers begin to close some again.
      let churn = false;
      const running = load(p, 16, () => churn);
      await running.untilOk(200);
      const pause = emulator.pauseRotation({ secretId: app.secretId, after: 'setSecret' });
      await admin.send(new RotateSecretCommand({ SecretId: app.secretId, RotationLambdaARN: functionArn }));
      await pause.reached;
      emulator.resetCalls();
      emulator.faults.throttle(2, { operation: 'DescribeSecret', secretId: app.secretId });
      emulator.faults.fail(1, { operation: 'GetSecretValue', secretId: app.secretId, status: 500 });
      churn = true;
      await eventually(() => (emulator.calls.GetSecretValue ?? 0) >= 2, 15_000, 'the pending password to be fetched');
      await running.untilOk(running.result.ok + 300);
      const inWindow = emulator.calls;
      pause.release();
      await emulator.waitForRotation(app.secretId, { timeoutMs: 30_000 });
      const outcome = await running.stop();
      assert.deepEqual(
        outcome.failed.map((e) => e.message),
        [],
      );
      assert.equal(inWindow.DescribeSecret, 3, 'two throttled DescribeSecret attempts, then one that worked');
      assert.equal(inWindow.GetSecretValue, 2, 'one failed GetSecretValue attempt, then one that worked');
      assert.equal(sent.DescribeSecretCommand, 1, 'one DescribeSecret command, retried by the SDK');
    },
  );
});
