/**
 * providers/aws/rotation/dual-password.ts: rotation with MySQL's dual passwords (`RETAIN CURRENT
 * PASSWORD`, then `DISCARD OLD PASSWORD` in finishSecret) on a real MySQL server, through the
 * Secrets Manager emulator and the real SDK client; a credswap pool under load through one; and
 * the clear refusal on MariaDB.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createConnection } from 'mysql2/promise';
import sinon from 'sinon';
import type { RotateEvent } from '../../lib/coordinator.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { createPool, type PromisePool } from '../../lib/mysql2/promise.js';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../lib/testing/secrets-manager.js';
import { RotationStepError } from '../../providers/aws/errors.js';
import type { RotationStep } from '../../providers/aws/rotation/event.js';
import { createRotationHandler, type RotationHandler } from '../../providers/aws/rotation/handler.js';
import type { RotationHandlerOptions } from '../../providers/aws/rotation/options.js';
import { SecretsManagerProvider } from '../../providers/aws/secrets-manager.js';
import { eventually, startLoad, stopAllLoads } from '../helpers/load.js';
import { describeWithMySQL, startServer } from '../helpers/servers.js';

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
const ACCOUNTS = ['%', 'localhost'];

/** What the rotation tests need of a server and the emulator, for one flavour. */
function rotationKit(flavour: 'mysql' | 'mariadb') {
  const kit = {
    server: undefined as unknown as MariaDBServer,
    emulator: undefined as unknown as SecretsManagerEmulator,
    client: undefined as unknown as SecretsManagerClient,
    database: '',
    noopArn: '',
    n: 0,
  };

  before(async function () {
    [kit.server, kit.emulator] = await Promise.all([startServer(flavour), startSecretsManagerEmulator()]);
    kit.client = new SecretsManagerClient({ ...kit.emulator.clientConfig(), maxAttempts: 1 });
    kit.database = await kit.server.createDatabase('dual');
    // A rotation function that does nothing: RotateSecret then leaves an AWSPENDING version
    // without a value, and a test calls the handler's steps itself.
    kit.noopArn = kit.emulator.registerRotationFunction('noop', () => undefined);
  });

  after(async function () {
    kit.client?.destroy();
    await kit.emulator?.close();
    await kit.server?.stop();
  });

  afterEach(function () {
    sinon.restore();
  });

  return {
    kit,
    /** An application user on hosts '%' and 'localhost', with `privileges` on both accounts. */
    async appUser(privileges?: string): Promise<{ user: string; password: string }> {
      const account = await kit.server.createUser({ prefix: 'dual', grants: `SELECT, INSERT ON \`${kit.database}\`.*` });
      if (privileges !== undefined) {
        for (const host of ACCOUNTS) await kit.server.query(`GRANT ${privileges} ON *.* TO ?@?`, [account.user, host]);
      }
      return account;
    },
    secretJson(user: string, password: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
      const { server, database } = kit;
      return { engine: 'mysql', host: server.host, port: server.port, username: user, password, dbname: database, ...extra };
    },
    newSecret(value: Record<string, unknown>): string {
      kit.n += 1;
      const name = `rotation/dual-${kit.n}`;
      kit.emulator.putSecret(name, value);
      return name;
    },
    async startRotation(secretId: string): Promise<string> {
      const out = await kit.client.send(new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: kit.noopArn }));
      await kit.emulator.waitForRotation(secretId, { timeoutMs: 10_000 });
      return out.VersionId!;
    },
    handler(options: Partial<RotationHandlerOptions> = {}): RotationHandler {
      return createRotationHandler({ strategy: 'dual-password', client: kit.client, connectTimeoutMs: 5_000, ...options });
    },
    value(secretId: string, stage = 'AWSCURRENT'): Record<string, unknown> {
      return JSON.parse(kit.emulator.secretValue(secretId, { versionStage: stage }) as string) as Record<string, unknown>;
    },
    /** `'ok'` when the login works, else the server's errno. */
    async login(user: unknown, password: unknown): Promise<'ok' | number> {
      try {
        const connection = await createConnection({
          host: kit.server.host,
          port: kit.server.port,
          user: String(user),
          password: String(password),
        });
        await connection.end();
        return 'ok';
      } catch (error) {
        return (error as { errno: number }).errno;
      }
    },
  };
}

async function run(h: RotationHandler, secretId: string, token: string, steps: readonly RotationStep[] = STEPS): Promise<void> {
  for (const step of steps) await h({ Step: step, SecretId: secretId, ClientRequestToken: token });
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

/** Fails when any 8-character piece of a password appears in the error's message or inspection. */
function assertNoPasswords(error: unknown, passwords: string[]): void {
  const texts = [String((error as Error).message), inspect(error, { depth: 10 })];
  for (const password of passwords) {
    for (let i = 0; i + 8 <= password.length; i++) {
      for (const text of texts) assert.ok(!text.includes(password.slice(i, i + 8)), `found a piece of a password in: ${text}`);
    }
  }
}

/** The hosts of `user`'s accounts that have a secondary password (MySQL's `additional_password`). */
async function hostsWithSecondary(server: MariaDBServer, user: string): Promise<string[]> {
  const rows = await server.query<Array<{ host: string }>>(
    "SELECT Host AS host FROM mysql.user WHERE User = ? AND JSON_CONTAINS_PATH(User_attributes, 'one', '$.additional_password')",
    [user],
  );
  return rows.map((r) => r.host).sort();
}

/** The password hash of each account of `user`, by host. */
async function passwordHashes(server: MariaDBServer, user: string): Promise<Map<string, string>> {
  const rows = await server.query<Array<{ host: string; hash: string }>>(
    'SELECT Host AS host, authentication_string AS hash FROM mysql.user WHERE User = ?',
    [user],
  );
  return new Map(rows.map((r) => [r.host, r.hash]));
}

/** Refused logins the server counted so far, every account: MySQL's `Aborted_connects`. */
async function abortedConnects(server: MariaDBServer): Promise<number> {
  const rows = await server.query<Array<{ Value: string }>>("SHOW GLOBAL STATUS LIKE 'Aborted_connects'");
  return Number(rows[0]?.Value);
}

describeWithMySQL('createRotationHandler: dual-password (mysql)', function () {
  const t = rotationKit('mysql');
  const { kit } = t;

  it('keeps the old password working from setSecret to finishSecret, then discards it: 1045 afterwards', async function () {
    const { user, password } = await t.appUser('APPLICATION_PASSWORD_ADMIN');
    const secretId = t.newSecret(t.secretJson(user, password));
    const token = await t.startRotation(secretId);
    const h = t.handler();

    await run(h, secretId, token, ['createSecret', 'setSecret', 'testSecret']);
    const pending = t.value(secretId, 'AWSPENDING').password;
    assert.equal(await t.login(user, password), 'ok', 'the old password logs in between setSecret and finishSecret');
    assert.equal(await t.login(user, pending), 'ok', 'the new password logs in from setSecret on');

    await run(h, secretId, token, ['finishSecret']);

    assert.equal(t.value(secretId).password, pending);
    assert.equal(await t.login(user, pending), 'ok');
    assert.equal(await t.login(user, password), 1045);
    assert.deepEqual(await hostsWithSecondary(kit.server, user), []);
  });

  it("with discardOldPassword 'at-next-rotation', the old password logs in until the next rotation's setSecret replaces it", async function () {
    const { user, password: p0 } = await t.appUser('APPLICATION_PASSWORD_ADMIN');
    const secretId = t.newSecret(t.secretJson(user, p0));
    const h = t.handler({ discardOldPassword: 'at-next-rotation' });

    const first = await t.startRotation(secretId);
    await run(h, secretId, first, ['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
    const p1 = t.value(secretId).password;
    assert.equal(await t.login(user, p1), 'ok');
    assert.equal(await t.login(user, p0), 'ok', 'finishSecret left the old password');

    const second = await t.startRotation(secretId);
    await run(h, secretId, second, ['createSecret', 'setSecret']);
    const p2 = t.value(secretId, 'AWSPENDING').password;
    assert.equal(await t.login(user, p0), 1045, "the next setSecret's RETAIN CURRENT PASSWORD replaced it");
    assert.equal(await t.login(user, p1), 'ok', 'the current password is now the secondary one');
    assert.equal(await t.login(user, p2), 'ok');
    await run(h, secretId, second, ['testSecret', 'finishSecret']);
    assert.equal(await t.login(user, p1), 'ok', 'and stays until the rotation after');
  });

  it('changes every host of the user, keeping the old password on each, when the user may alter accounts (CREATE USER)', async function () {
    const { user, password } = await t.appUser('CREATE USER');
    await kit.server.query('GRANT SELECT ON mysql.* TO ?@?', [user, 'localhost']);
    const secretId = t.newSecret(t.secretJson(user, password));
    const token = await t.startRotation(secretId);
    const h = t.handler();
    const before = await passwordHashes(kit.server, user);

    await run(h, secretId, token, ['createSecret', 'setSecret']);
    const after = await passwordHashes(kit.server, user);
    assert.deepEqual([...after.keys()].sort(), [...ACCOUNTS].sort());
    for (const host of ACCOUNTS) assert.notEqual(after.get(host), before.get(host), `the password of '${user}'@'${host}' changed`);
    assert.deepEqual(await hostsWithSecondary(kit.server, user), [...ACCOUNTS].sort());

    await run(h, secretId, token, ['testSecret', 'finishSecret']);
    assert.deepEqual(await hostsWithSecondary(kit.server, user), []);
  });

  it('without APPLICATION_PASSWORD_ADMIN, fails setSecret with the 1227 and the GRANT to run, and changes nothing', async function () {
    const { user, password } = await t.appUser();
    const secretId = t.newSecret(t.secretJson(user, password));
    const token = await t.startRotation(secretId);
    const h = t.handler();
    await run(h, secretId, token, ['createSecret']);

    const error = await rejection(h({ Step: 'setSecret', SecretId: secretId, ClientRequestToken: token }));

    assert.equal(error.step, 'setSecret');
    assert.equal(error.user, user);
    assert.equal((error.cause as { errno?: number }).errno, 1227);
    assert.ok(
      error.message.includes(
        `grant it the APPLICATION_PASSWORD_ADMIN privilege (GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO '${user}'@'localhost')`,
      ),
      error.message,
    );
    assert.equal(await t.login(user, password), 'ok');
    assert.equal(await t.login(user, t.value(secretId, 'AWSPENDING').password), 1045);
    assertNoPasswords(error, [password, String(t.value(secretId, 'AWSPENDING').password)]);
  });

  it('setSecret run again with the same token changes nothing: the old password still logs in', async function () {
    const { user, password } = await t.appUser('APPLICATION_PASSWORD_ADMIN');
    const secretId = t.newSecret(t.secretJson(user, password));
    const token = await t.startRotation(secretId);
    const info = sinon.spy((_message: string) => {});
    const h = t.handler({ logger: { info } });
    await run(h, secretId, token, ['createSecret', 'setSecret']);
    info.resetHistory();

    await run(h, secretId, token, ['setSecret']);

    assert.match(info.firstCall.args[0], /AWSPENDING password already works/);
    assert.equal(await t.login(user, password), 'ok', 'a second RETAIN would have dropped the old password');
    assert.equal(await t.login(user, t.value(secretId, 'AWSPENDING').password), 'ok');
  });

  it('finishSecret run twice moves AWSCURRENT once and discards the old password', async function () {
    const { user, password } = await t.appUser('APPLICATION_PASSWORD_ADMIN');
    const secretId = t.newSecret(t.secretJson(user, password));
    const token = await t.startRotation(secretId);
    const h = t.handler();
    await run(h, secretId, token, ['createSecret', 'setSecret', 'testSecret']);
    kit.emulator.resetCalls();

    await run(h, secretId, token, ['finishSecret', 'finishSecret']);

    assert.equal(kit.emulator.calls.UpdateSecretVersionStage, 1);
    assert.equal(await t.login(user, password), 1045);
    assert.equal(await t.login(user, t.value(secretId).password), 'ok');
  });

  it('a finishSecret that failed after moving AWSCURRENT discards the old password when Secrets Manager retries it', async function () {
    const { user, password } = await t.appUser('APPLICATION_PASSWORD_ADMIN');
    const secretId = t.newSecret(t.secretJson(user, password));
    const token = await t.startRotation(secretId);
    const h = t.handler();
    await run(h, secretId, token, ['createSecret', 'setSecret', 'testSecret']);
    await kit.server.query('REVOKE APPLICATION_PASSWORD_ADMIN ON *.* FROM ?@?', [user, 'localhost']);

    const error = await rejection(h({ Step: 'finishSecret', SecretId: secretId, ClientRequestToken: token }));
    assert.match(error.message, /AWSCURRENT moved, but '.+'@'localhost' may not discard its old password/);
    assert.match(error.message, /GRANT APPLICATION_PASSWORD_ADMIN ON \*\.\* TO '.+'@'localhost'/);
    assert.equal(t.value(secretId).password, t.value(secretId, 'AWSPENDING').password, 'AWSCURRENT moved first');
    assert.equal(await t.login(user, password), 'ok', 'the old password is not discarded yet');

    await kit.server.query('GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO ?@?', [user, 'localhost']);
    await run(h, secretId, token, ['finishSecret']);

    assert.equal(await t.login(user, password), 1045);
    assert.equal(await t.login(user, t.value(secretId).password), 'ok');
  });

  it("a finishSecret retried while a newer rotation is in its window leaves that rotation's passwords alone", async function () {
    const { user, password } = await t.appUser('APPLICATION_PASSWORD_ADMIN');
    const secretId = t.newSecret(t.secretJson(user, password));
    const h = t.handler();
    const first = await t.startRotation(secretId);
    await run(h, secretId, first);
    const current = t.value(secretId).password;
    const second = await t.startRotation(secretId);
    await run(h, secretId, second, ['createSecret', 'setSecret']);

    await run(h, secretId, first, ['finishSecret']);

    assert.equal(await t.login(user, current), 'ok', "AWSCURRENT's password is the newer rotation's secondary one");
    assert.equal(await t.login(user, t.value(secretId, 'AWSPENDING').password), 'ok');
  });

  it('through an administrator secret (masterarn): every host, the user needing no privilege', async function () {
    const { user, password } = await t.appUser();
    const admin = await kit.server.createUser({ prefix: 'dualadmin' });
    for (const host of ACCOUNTS) await kit.server.query('GRANT CREATE USER, SELECT ON *.* TO ?@?', [admin.user, host]);
    const masterId = t.newSecret(t.secretJson(admin.user, admin.password));
    const secretId = t.newSecret(t.secretJson(user, password, { masterarn: masterId }));
    const token = await t.startRotation(secretId);
    const h = t.handler();

    await run(h, secretId, token, ['createSecret', 'setSecret', 'testSecret']);
    assert.deepEqual(await hostsWithSecondary(kit.server, user), [...ACCOUNTS].sort());
    assert.equal(await t.login(user, password), 'ok');
    await run(h, secretId, token, ['finishSecret']);

    assert.deepEqual(await hostsWithSecondary(kit.server, user), []);
    assert.equal(await t.login(user, password), 1045);
    assert.equal(t.value(secretId).masterarn, masterId);
  });

  it('an administrator without CREATE USER fails setSecret with the 1227 and the GRANT to run', async function () {
    const { user, password } = await t.appUser();
    const admin = await kit.server.createUser({ prefix: 'weakadmin', grants: 'SELECT ON mysql.*' });
    const masterId = t.newSecret(t.secretJson(admin.user, admin.password));
    const secretId = t.newSecret(t.secretJson(user, password, { masterarn: masterId }));
    const token = await t.startRotation(secretId);
    const h = t.handler();
    await run(h, secretId, token, ['createSecret']);

    const error = await rejection(h({ Step: 'setSecret', SecretId: secretId, ClientRequestToken: token }));

    assert.equal((error.cause as { errno?: number }).errno, 1227);
    assert.ok(
      error.message.includes(`grant it the CREATE USER privilege (GRANT CREATE USER ON *.* TO '${admin.user}'@'localhost')`),
      error.message,
    );
    assert.equal(await t.login(user, password), 'ok');
    assertNoPasswords(error, [password, admin.password, String(t.value(secretId, 'AWSPENDING').password)]);
  });

  describe('a credswap pool under load through RotateSecret', function () {
    let pool: PromisePool | undefined;

    afterEach(async function () {
      await stopAllLoads();
      await pool?.end();
      pool = undefined;
    });

    /**
     * Workers that can be parked between two tasks: while held, no task starts, and `hold()`
     * resolves once none is running, so that sessions can be killed without killing a query.
     */
    function parkableLoad(p: PromisePool, workers: number) {
      let running = 0;
      let gate: { promise: Promise<void>; open: () => void } | undefined;
      const load = startLoad(workers, async (worker, i) => {
        while (gate !== undefined) await gate.promise;
        running += 1;
        try {
          if (worker % 2 === 0) {
            await p.query('SELECT 1');
            return;
          }
          const connection = await p.getConnection();
          try {
            await connection.query('SELECT 1');
          } finally {
            // Some connections are closed, so that new logins keep happening.
            if (i % 8 === 0) connection.destroy();
            else connection.release();
          }
        } finally {
          running -= 1;
        }
      });
      return {
        load,
        async hold(): Promise<void> {
          let open = (): void => {};
          const promise = new Promise<void>((resolve) => (open = resolve));
          gate = { promise, open };
          await eventually(() => running === 0, 10_000, 'the workers to park');
        },
        release(): void {
          const held = gate;
          gate = undefined;
          held?.open();
        },
      };
    }

    for (const discardOldPassword of ['at-finish', 'at-next-rotation'] as const) {
      it(`holds the setSecret..finishSecret window open 3 s with the sessions killed in it: zero failed queries, zero refused logins in the window (discardOldPassword '${discardOldPassword}')`, async function () {
        const { server, emulator } = kit;
        const { user, password } = await t.appUser('APPLICATION_PASSWORD_ADMIN');
        const secretId = t.newSecret(t.secretJson(user, password));
        const functionArn = emulator.registerRotationFunction(
          `dual-${kit.n}`,
          t.handler({ client: undefined, clientConfig: emulator.clientConfig(), discardOldPassword }),
        );
        const client = new SecretsManagerClient(emulator.clientConfig());
        pool = createPool({
          connectionLimit: 8,
          credentials: new SecretsManagerProvider({ secretId, client, refreshIntervalMs: 500 }),
        });
        const p = pool;
        const rotations: RotateEvent[] = [];
        p.on('rotate', (e) => rotations.push(e));
        let logins = 0;
        p.on('connection', () => (logins += 1));
        const worked = parkableLoad(p, 16);
        try {
          await worked.load.untilOk(300);

          const pause = emulator.pauseRotation({ secretId, after: 'setSecret' });
          await kit.client.send(new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: functionArn }));
          await pause.reached;
          const windowStart = Date.now();
          const refusedAtStart = await abortedConnects(server);
          const loginsBefore = logins;

          // Every session of the user is killed: the pool logs in again, with AWSCURRENT (the old password).
          await worked.hold();
          for (const session of await server.processlist(user)) {
            await server.query(`KILL CONNECTION ${Number(session.id)}`).catch(() => {}); // gone already
          }
          await eventually(() => p.stats.total === 0, 10_000, 'the pool to see its sessions killed');
          worked.release();
          await worked.load.untilOk(worked.load.result.ok + 300);
          while (Date.now() - windowStart < 3_000) await new Promise((resolve) => setTimeout(resolve, 50));

          const refusedAtEnd = await abortedConnects(server);
          const generationsInWindow = rotations.length;
          const loginsInWindow = logins - loginsBefore;
          const heldMs = Date.now() - windowStart;
          pause.release();
          const result = await emulator.waitForRotation(secretId, { timeoutMs: 30_000 });
          assert.equal(result.status, 'succeeded', `rotation ${result.status} in ${result.failedStep}: ${inspect(result.error)}`);
          await eventually(() => rotations.length === 2, 10_000, 'the pool to follow AWSCURRENT');
          await worked.load.untilOk(worked.load.result.ok + 300);
          const refusedAfter = (await abortedConnects(server)) - refusedAtEnd;
          const refusedInWindow = refusedAtEnd - refusedAtStart;

          assert.ok(heldMs >= 3_000, `window held ${heldMs} ms`);
          assert.ok(loginsInWindow >= 8, `${loginsInWindow} new logins in the window`);
          assert.equal(refusedInWindow, 0, 'no login was refused in the window (Aborted_connects did not move)');
          assert.equal(generationsInWindow, 1, 'the pool kept the AWSCURRENT password all through the window');
          assert.equal(rotations[1].user, user);
          if (discardOldPassword === 'at-finish') {
            // finishSecret discards the old password as soon as AWSCURRENT has moved: logins the pool
            // opens with it before it re-reads the secret are refused, and retried with the new one.
            // The login gate lets at most two try it at once, below any lockout threshold.
            assert.ok(refusedAfter <= 2, `${refusedAfter} refused logins after finishSecret`);
          } else {
            // The old password keeps logging in after finishSecret: not one login refused.
            assert.equal(refusedAfter, 0, `${refusedAfter} refused logins after finishSecret`);
          }
        } finally {
          worked.release();
          const outcome = await worked.load.stop();
          assert.deepEqual(
            outcome.failed.map((e) => e.message),
            [],
          );
        }
        const expected = discardOldPassword === 'at-finish' ? 1045 : 'ok';
        assert.equal(await t.login(user, password), expected, 'the old password after finishSecret');
      });
    }
  });
});

describe('createRotationHandler: dual-password (mariadb)', function () {
  const t = rotationKit('mariadb');

  it('fails setSecret saying that MariaDB has no dual passwords and which strategy to use, and changes nothing', async function () {
    const { user, password } = await t.appUser();
    const secretId = t.newSecret(t.secretJson(user, password));
    const token = await t.startRotation(secretId);
    const h = t.handler();
    await run(h, secretId, token, ['createSecret']);

    const error = await rejection(h({ Step: 'setSecret', SecretId: secretId, ClientRequestToken: token }));

    assert.equal(error.step, 'setSecret');
    assert.match(error.message, /the server is MariaDB \(.*MariaDB.*\), which has no dual passwords \(RETAIN CURRENT PASSWORD\)/);
    assert.match(error.message, /use strategy 'single-user' .* or 'alternating-users' instead; nothing was changed/);
    assert.equal(await t.login(user, password), 'ok');
    assert.equal(await t.login(user, t.value(secretId, 'AWSPENDING').password), 1045);
  });
});

describe('createRotationHandler: the strategy option', function () {
  it("accepts 'dual-password' and names all three strategies when none is given", function () {
    createRotationHandler({ strategy: 'dual-password' });
    assert.throws(
      () => createRotationHandler({} as RotationHandlerOptions),
      (error: unknown) => error instanceof InvalidOptionError && /'single-user', 'alternating-users', 'dual-password'/.test(error.message),
    );
  });

  it('takes discardOldPassword with the dual-password strategy only, naming the option', function () {
    createRotationHandler({ strategy: 'dual-password', discardOldPassword: 'at-next-rotation' });
    assert.throws(
      () => createRotationHandler({ strategy: 'single-user', discardOldPassword: 'at-finish' }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === 'discardOldPassword',
    );
    assert.throws(
      () => createRotationHandler({ strategy: 'dual-password', discardOldPassword: 'never' as never }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === 'discardOldPassword',
    );
  });
});
