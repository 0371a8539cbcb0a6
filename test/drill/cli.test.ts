/**
 * `credswap drill` as a user runs it: a child process, its exit code, stdout and stderr.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createRotationHandler } from '../../providers/aws/rotation/handler.js';
import { startMariaDB, type MariaDBServer } from '../../lib/testing/mariadb.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../lib/testing/secrets-manager.js';
import { validateReport } from '../../lib/drill/validate.js';
import { DRILL_USAGE, FALLBACK_SCENARIO, parseDrillArgs } from '../../lib/drill/args.js';
import { chooseDrillScenario, main, readPackageVersion, USAGE, type CliDeps, type CliIo } from '../../lib/drill/cli.js';
import { MissingDependencyError } from '../../lib/errors.js';
import type { DrillReport } from '../../lib/drill/report.js';
import type { DrillOptions } from '../../lib/drill/run.js';

const ROOT = join(__dirname, '../..');
const CLI = join(ROOT, 'lib/drill/cli.ts');
const BIN = join(ROOT, 'dist/lib/drill/cli.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const AWS_SDK = '@aws-sdk/client-secrets-manager';
const FALLBACK_LINE = `credswap drill: ${AWS_SDK} is not installed; running the 'function' scenario instead (npm install ${AWS_SDK} for aws-single-user)\n`;

/** A CliIo that keeps what main() writes; not a TTY. */
function capture(): { io: CliIo; stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  const sink = (append: (text: string) => void) =>
    ({ write: (chunk: string | Uint8Array) => (append(String(chunk)), true) }) as unknown as NodeJS.WritableStream;
  return { io: { stdout: sink((t) => (out += t)), stderr: sink((t) => (err += t)), env: {} }, stdout: () => out, stderr: () => err };
}

/** A runDrill that runs nothing: it records its options and resolves with a passing report of their scenario. */
function fakeRunDrill(): { runDrill: CliDeps['runDrill']; calls: DrillOptions[] } {
  const calls: DrillOptions[] = [];
  const runDrill = async (options: DrillOptions) => {
    calls.push(options);
    return { scenario: options.scenario, ok: true } as unknown as DrillReport;
  };
  return { runDrill, calls };
}

/** An AWS SDK loader as on a plain install (the SDK is not installed); counts its calls. */
function missingSdk(): { load: () => Promise<unknown>; calls: () => number } {
  let calls = 0;
  const load = async () => {
    calls += 1;
    throw new MissingDependencyError(AWS_SDK, 'credswap drill');
  };
  return { load, calls: () => calls };
}

/** Runs the CLI from source; stdout and stderr apart. The kill is a hang guard only. */
async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
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
    assert.match(
      stdout,
      /PASS: credswap failed 0 of [\d,]+ queries beyond the [\d,]+ writes the read-only primary refused before the flip/,
    );
  });

  it('exits 1 when credswap queries failed (its writes refused by a read-only server outside any failover)', async function () {
    const server = await startMariaDB();
    try {
      // A drill pointed at a read-only replica by mistake: the administrator may still create the
      // drill's database and user, but the drill's writes are refused, and no failover explains it.
      await server.setReadOnly(true);
      const { code, stdout, stderr } = await run([
        'drill',
        'function',
        '--mysql',
        server.adminUrl,
        '--duration',
        '2s',
        '--concurrency',
        '4',
      ]);
      assert.equal(code, 1, stderr);
      assert.match(stdout, /FAIL: credswap failed [\d,]+ of [\d,]+ queries \([\d,]+ CREDSWAP_READ_ONLY\)/);
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
    assert.match(stderr, /mysql:\/\/root:\[redacted\]@127\.0\.0\.1:1\//);
    assert.doesNotMatch(stderr, /hunter2/);
  });

  it('--help prints the usage and exits 0', async function () {
    const { code, stdout } = await run(['drill', '--help']);
    assert.equal(code, 0);
    assert.match(stdout, /Usage: credswap drill \[scenario\] \[options\]/);
  });

  it('--version prints the version in package.json and exits 0 (from the source tree)', async function () {
    const { code, stdout, stderr } = await run(['--version']);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, `${VERSION}\n`);
  });

  it('--version prints the version in package.json and exits 0 (the compiled bin in dist/)', function () {
    // dist/ is built by `npm run build`; an older build than this source would test old code.
    if (!existsSync(BIN) || statSync(BIN).mtimeMs < statSync(CLI).mtimeMs) this.skip();
    const child = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, `${VERSION}\n`);
  });

  describe('main() (in process, no drill run)', function () {
    it('--version and -v print the version in package.json and return 0', async function () {
      for (const flag of ['--version', '-v']) {
        const { io, stdout, stderr } = capture();
        assert.equal(await main([flag], io), 0);
        assert.equal(stdout(), `${VERSION}\n`);
        assert.equal(stderr(), '');
      }
    });

    it("returns 3 when credswap's package.json cannot be found", async function () {
      const { io, stdout, stderr } = capture();
      assert.equal(await main(['--version'], io, { version: () => undefined }), 3);
      assert.equal(stdout(), '');
      assert.match(stderr(), /cannot find credswap's package\.json/);
    });

    it('a bare credswap prints the list of commands on stdout and returns 0', async function () {
      const { io, stdout, stderr } = capture();
      assert.equal(await main([], io), 0);
      assert.equal(stdout(), USAGE);
      assert.equal(stderr(), '');
      assert.match(USAGE, /^Usage: credswap <command>/);
      for (const command of [/^ {2}drill \[scenario\] \[options\]/m, /^ {2}-v, --version/m, /^ {2}-h, --help/m])
        assert.match(USAGE, command);
    });

    it('--help, -h and help print the same list', async function () {
      for (const flag of ['--help', '-h', 'help']) {
        const { io, stdout } = capture();
        assert.equal(await main([flag], io), 0);
        assert.equal(stdout(), USAGE);
      }
    });

    it('an unknown command returns 2 and points to --help', async function () {
      const { io, stdout, stderr } = capture();
      assert.equal(await main(['dril'], io), 2);
      assert.equal(stdout(), '');
      assert.equal(stderr(), "credswap: unknown command 'dril'; try: credswap --help\n");
    });

    it('drill --help describes the fallback of a drill without a scenario', async function () {
      const { io, stdout } = capture();
      assert.equal(await main(['drill', '--help'], io), 0);
      assert.equal(stdout(), DRILL_USAGE);
      assert.match(
        DRILL_USAGE,
        /^Without a scenario: aws-single-user --compare mysql2; when @aws-sdk\/client-secrets-manager is\nnot installed, function --compare mysql2 instead/m,
      );
    });

    it('without the AWS SDK, a drill without a scenario runs function --compare mysql2 and says why on stderr', async function () {
      const { io, stdout, stderr } = capture();
      const fake = fakeRunDrill();
      const sdk = missingSdk();
      assert.equal(
        await main(['drill', '--duration', '2s', '--json'], io, { runDrill: fake.runDrill, loadSecretsManagerSdk: sdk.load }),
        0,
      );
      assert.equal(FALLBACK_SCENARIO, 'function');
      assert.deepEqual(fake.calls, [{ scenario: 'function', compare: 'mysql2', durationMs: 2_000 }]);
      assert.equal(sdk.calls(), 1);
      assert.equal(stderr(), FALLBACK_LINE);
      assert.equal(JSON.parse(stdout()).scenario, 'function', 'the report names the scenario that ran');
    });

    it('with the AWS SDK, a drill without a scenario runs aws-single-user --compare mysql2, silently', async function () {
      const { io, stderr } = capture();
      const fake = fakeRunDrill();
      assert.equal(await main(['drill', '--json'], io, { runDrill: fake.runDrill, loadSecretsManagerSdk: async () => ({}) }), 0);
      assert.deepEqual(fake.calls, [{ scenario: 'aws-single-user', compare: 'mysql2' }]);
      assert.equal(stderr(), '');
    });

    it('a named scenario runs as named: the SDK is not looked for, nothing falls back', async function () {
      const { io, stderr } = capture();
      const fake = fakeRunDrill();
      const sdk = missingSdk();
      assert.equal(await main(['drill', 'aws-single-user', '--json'], io, { runDrill: fake.runDrill, loadSecretsManagerSdk: sdk.load }), 0);
      assert.deepEqual(fake.calls, [{ scenario: 'aws-single-user' }]);
      assert.equal(sdk.calls(), 0);
      assert.equal(stderr(), '');
    });

    it('a named scenario whose optional peer is missing returns 3, naming the package to install', async function () {
      const { io, stdout, stderr } = capture();
      const runDrill = async (): Promise<DrillReport> => {
        throw new MissingDependencyError(AWS_SDK, 'the aws-single-user scenario');
      };
      assert.equal(await main(['drill', 'aws-single-user'], io, { runDrill, loadSecretsManagerSdk: missingSdk().load }), 3);
      assert.equal(stdout(), '');
      assert.equal(
        stderr(),
        `credswap drill: the aws-single-user scenario needs the package '${AWS_SDK}'; install it with: npm install ${AWS_SDK}\n`,
      );
    });

    it('a bad option returns 2 without the fallback line and without running anything', async function () {
      const { io, stderr } = capture();
      const fake = fakeRunDrill();
      assert.equal(
        await main(['drill', '--write-ratio', '5'], io, { runDrill: fake.runDrill, loadSecretsManagerSdk: missingSdk().load }),
        2,
      );
      assert.deepEqual(fake.calls, []);
      assert.match(stderr(), /^credswap drill: '--write-ratio' must be from 0 to 1\n/);
      assert.doesNotMatch(stderr(), /not installed/);
    });

    it('an AWS SDK that is installed but fails to load returns 3 and runs nothing', async function () {
      const { io, stderr } = capture();
      const fake = fakeRunDrill();
      const broken = async () => {
        throw Object.assign(new Error('Unexpected token in the SDK'), { code: 'ERR_BROKEN' });
      };
      assert.equal(await main(['drill'], io, { runDrill: fake.runDrill, loadSecretsManagerSdk: broken }), 3);
      assert.deepEqual(fake.calls, []);
      assert.match(stderr(), /Unexpected token in the SDK/);
    });
  });

  describe('chooseDrillScenario()', function () {
    it('keeps aws-single-user when --secret-id, --region or --rotate-locally ask for AWS', async function () {
      const sdk = missingSdk();
      for (const args of [
        ['--secret-id', 'staging/app'],
        ['--secret-id', 'staging/app', '--region', 'eu-west-1'],
        ['--secret-id', 'staging/app', '--rotate-locally'],
      ]) {
        const parsed = parseDrillArgs(args);
        const choice = await chooseDrillScenario(parsed, sdk.load);
        assert.equal(choice.options.scenario, 'aws-single-user');
        assert.equal(choice.notice, undefined);
      }
      assert.equal(sdk.calls(), 0);
    });

    it('falls back with the other options as they were', async function () {
      const parsed = parseDrillArgs(['--mysql', 'mysql://admin:pw@db:3306/', '--concurrency', '4', '--compare', 'mysql2']);
      const choice = await chooseDrillScenario(parsed, missingSdk().load);
      assert.deepEqual(choice.options, { ...parsed.options, scenario: 'function' });
      assert.equal(`credswap drill: ${choice.notice}\n`, FALLBACK_LINE);
    });
  });

  describe('readPackageVersion()', function () {
    it("finds credswap's package.json above a folder of the source tree", function () {
      assert.equal(readPackageVersion(join(ROOT, 'lib/drill')), VERSION);
      assert.equal(readPackageVersion(ROOT), VERSION);
    });

    it('is undefined outside the package', function () {
      const outside = mkdtempSync(join(tmpdir(), 'credswap-version-'));
      try {
        assert.equal(readPackageVersion(outside), undefined);
      } finally {
        rmSync(outside, { recursive: true, force: true });
      }
    });
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
      sm.putSecret('staging/app', {
        engine: 'mysql',
        host: server.host,
        port: server.port,
        username: account.user,
        password: account.password,
        dbname: database,
      });
      const aws = sm.clientConfig();
      // Rotation enabled on the secret (the handler requires it), without rotating it now.
      const admin = new SecretsManagerClient(aws);
      const arn = sm.registerRotationFunction('rotate-app', createRotationHandler({ strategy: 'single-user', clientConfig: aws }));
      await admin.send(new RotateSecretCommand({ SecretId: 'staging/app', RotationLambdaARN: arn, RotateImmediately: false }));
      admin.destroy();
      await sm.waitForRotation('staging/app', { timeoutMs: 10_000 });
      sm.resetCalls();
      const { code, stdout, stderr } = await run(
        ['drill', 'aws-single-user', '--secret-id', 'staging/app', '--rotate-locally', '--duration', '3s', '--json'],
        {
          AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint,
          AWS_REGION: aws.region,
          AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
        },
      );
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
});
