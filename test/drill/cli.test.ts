/**
 * `credswap drill` as a user runs it: a child process, its exit code, stdout and stderr.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createRotationHandler } from '../../providers/aws/rotation-handler.js';
import { startMariaDB, type MariaDBServer } from '../../lib/testing/mariadb.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../lib/testing/secrets-manager.js';
import { validateReport } from '../../lib/drill/validate.js';
import { parseDrillArgs, parseDuration } from '../../lib/drill/cli.js';

const CLI = join(__dirname, '../../lib/drill/cli.ts');

/** Runs the CLI from source; stdout and stderr apart. The kill is a hang guard only. */
async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const guard = setTimeout(() => child.kill('SIGKILL'), 50_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(guard);
  return { code, stdout, stderr };
}

describe('credswap drill (CLI)', function () {
  this.timeout(60_000);

  it('prints a JSON report of the documented shape and exits 0 when no credswap query failed', async function () {
    const { code, stdout, stderr } = await run(['drill', 'function', '--duration', '2s', '--concurrency', '4', '--json']);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout);
    assert.deepEqual(validateReport(report), []);
    assert.equal(report.scenario, 'function');
    assert.equal(report.ok, true);
    assert.match(stderr, /rotation 1/, 'progress goes to stderr');
  });

  it('exits 0 for a failover whose only failures are writes the read-only primary refused before the flip', async function () {
    const { code, stdout, stderr } = await run(['drill', 'failover', '--duration', '2s', '--flip-delay', '300ms', '--concurrency', '4']);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /PASS: credswap failed 0 of [\d,]+ queries beyond the [\d,]+ writes the read-only primary refused before the flip/);
  });

  it('exits 1 when credswap queries failed (its writes refused by a read-only server outside any failover)', async function () {
    const server = await startMariaDB();
    try {
      // A drill pointed at a read-only replica by mistake: the administrator may still create the
      // drill's database and user, but the drill's writes are refused, and no failover explains it.
      await server.setReadOnly(true);
      const { code, stdout, stderr } = await run(['drill', 'function', '--mysql', server.adminUrl, '--duration', '2s', '--concurrency', '4']);
      assert.equal(code, 1, stderr);
      assert.match(stdout, /FAIL: credswap failed [\d,]+ of [\d,]+ queries \([\d,]+ ER_OPTION_PREVENTS_STATEMENT\)/);
    } finally {
      await server.stop();
    }
  });

  it('exits 2 for an unknown flag, naming it', async function () {
    const { code, stderr } = await run(['drill', '--bogus']);
    assert.equal(code, 2);
    assert.match(stderr, /'--bogus'/);
  });

  it('exits 2 for a bad value, naming the flag and not echoing the value', async function () {
    const { code, stderr } = await run(['drill', 'function', '--concurrency', 'many-s3cret']);
    assert.equal(code, 2);
    assert.match(stderr, /'--concurrency' must be an integer/);
    assert.doesNotMatch(stderr, /s3cret/);
  });

  it('exits 2 for --mysql with failover, which needs servers it may set read-only', async function () {
    const { code, stderr } = await run(['drill', 'failover', '--mysql', 'mysql://root:hunter2@127.0.0.1:3306/']);
    assert.equal(code, 2);
    assert.match(stderr, /'--mysql' cannot be used with failover/);
    assert.doesNotMatch(stderr, /hunter2/);
  });

  it('exits 3 when the --mysql server cannot be reached, with the password redacted', async function () {
    const { code, stderr } = await run(['drill', 'function', '--mysql', 'mysql://root:hunter2@127.0.0.1:1/']);
    assert.equal(code, 3, stderr);
    assert.match(stderr, /mysql:\/\/root:\*\*\*@127\.0\.0\.1:1\//);
    assert.doesNotMatch(stderr, /hunter2/);
  });

  it('--help prints the usage and exits 0', async function () {
    const { code, stdout } = await run(['drill', '--help']);
    assert.equal(code, 0);
    assert.match(stdout, /Usage: credswap drill \[scenario\] \[options\]/);
  });

  describe('--secret-id on a Secrets Manager reached through the AWS SDK environment', function () {
    let server: MariaDBServer;
    let sm: SecretsManagerEmulator;

    before(async function () {
      [server, sm] = await Promise.all([startMariaDB(), startSecretsManagerEmulator()]);
    });

    after(async function () {
      await sm?.close();
      await server?.stop();
    });

    it('--rotate-locally rotates the named secret with the rotation handler in the process: zero failed queries', async function () {
      const database = await server.createDatabase('app');
      const account = await server.createUser({ prefix: 'app', grants: `SELECT ON \`${database}\`.*` });
      sm.putSecret('staging/app', { engine: 'mysql', host: server.host, port: server.port, username: account.user, password: account.password, dbname: database });
      const aws = sm.clientConfig();
      // Rotation enabled on the secret (the handler requires it), without rotating it now.
      const admin = new SecretsManagerClient(aws);
      const arn = sm.registerRotationFunction('rotate-app', createRotationHandler({ strategy: 'single-user', clientConfig: aws }));
      await admin.send(new RotateSecretCommand({ SecretId: 'staging/app', RotationLambdaARN: arn, RotateImmediately: false }));
      admin.destroy();
      await sm.waitForRotation('staging/app', { timeoutMs: 10_000 });
      sm.resetCalls();
      const { code, stdout, stderr } = await run(['drill', 'aws-single-user', '--secret-id', 'staging/app', '--rotate-locally', '--duration', '3s', '--json'], {
        AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint,
        AWS_REGION: aws.region,
        AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
      });
      assert.equal(code, 0, stderr);
      const report = JSON.parse(stdout);
      assert.deepEqual(validateReport(report), []);
      assert.equal(report.embedded, false);
      assert.equal(report.targets[0].queries.failed, 0);
      assert.equal(sm.versions('staging/app').length, 2, 'the secret got a new version');
      assert.equal(sm.calls.RotateSecret ?? 0, 0, 'rotated by the handler in the drill, not RotateSecret');
    });

    it('without --rotate-locally, a secret with no rotation function is refused before anything changes (exit 3)', async function () {
      sm.putSecret('staging/norotation', { engine: 'mysql', host: server.host, port: server.port, username: 'x', password: 'y' });
      const aws = sm.clientConfig();
      const { code, stderr } = await run(['drill', 'aws-single-user', '--secret-id', 'staging/norotation', '--duration', '2s'], {
        AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint,
        AWS_REGION: aws.region,
        AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
      });
      assert.equal(code, 3);
      assert.match(stderr, /secret staging\/norotation: has no rotation function/);
      assert.equal(sm.versions('staging/norotation').length, 1);
    });
  });

  describe('argument parsing', function () {
    it('without a scenario: aws-single-user compared with mysql2', function () {
      assert.deepEqual(parseDrillArgs([]).options, { scenario: 'aws-single-user', compare: 'mysql2' });
    });

    it('reads durations as 500ms, 10s, 2m or seconds', function () {
      assert.deepEqual(['500ms', '10s', '2m', '3'].map((t) => parseDuration(t, '--duration')), [500, 10_000, 120_000, 3_000]);
      assert.throws(() => parseDuration('soon', '--duration'), /'--duration'/);
    });

    it('takes the Vault token from VAULT_TOKEN only', function () {
      const { options } = parseDrillArgs(['vault-static', '--vault-addr', 'http://127.0.0.1:8200', '--vault-role', 'app'], { VAULT_TOKEN: 't0k' });
      assert.equal(options.vaultToken, 't0k');
      assert.throws(() => parseDrillArgs(['vault-static', '--vault-token', 'x']), /'--vault-token'/);
    });
  });
});
