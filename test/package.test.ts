/**
 * The package as a user gets it: `npm pack`, installed into fresh projects; loaded with both
 * `require` and `import`; its declarations compiled by a consumer with `skipLibCheck: false`,
 * with and without the optional peers; `attw` and `publint`; the CLI on a plain install; and
 * AWS Lambda's layout, where the AWS SDK is reachable only through `NODE_PATH`.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../lib/testing/index.js';

const root = join(__dirname, '..');
const fixtures = join(__dirname, 'fixtures', 'consumer');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
/** The banner the README gives for ES module bundles (esbuild's `require` shim needs a real one). */
const ESM_REQUIRE_BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";
const version = (name: string): string => require(`${name}/package.json`).version as string;
/** The installed version of a package whose `exports` hide its package.json. */
const installedVersion = (name: string): string =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

function run(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
}

/** Runs node on `file` without blocking this process (which serves the emulator); resolves with stdout. */
async function runNode(file: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return (await promisify(execFile)(process.execPath, [file], { cwd, env, timeout: 60_000 })).stdout;
}

/** Runs a command that may fail; resolves with its exit code and output. */
function attempt(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: env ?? process.env, timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A new project in `dir` with `packages` installed from the registry's cache where possible. */
function install(dir: string, packages: string[], type: 'module' | 'commonjs' = 'commonjs'): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type }));
  run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...packages], dir);
}

/** Compiles `files` in `dir` with the project's TypeScript; resolves with the compiler's output. */
function typecheck(dir: string, files: string[], resolution: 'nodenext' | 'bundler'): { code: number | null; out: string } {
  const compilerOptions = {
    ...(resolution === 'nodenext'
      ? { module: 'nodenext', moduleResolution: 'nodenext' }
      : { module: 'preserve', moduleResolution: 'bundler' }),
    target: 'es2022',
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    esModuleInterop: true,
    typeRoots: [join(root, 'node_modules', '@types')],
    types: ['node'],
  };
  const config = `tsconfig.${resolution}.json`;
  writeFileSync(join(dir, config), JSON.stringify({ compilerOptions, files }, null, 2));
  return attempt(process.execPath, [tsc, '-p', config], dir);
}

describe('the packed package', function () {
  this.timeout(300_000);
  let work: string;
  let tarball: string;
  let project: string;

  before(function () {
    work = mkdtempSync(join(tmpdir(), 'credswap-pack-'));
    run(npm, ['pack', '--silent', '--pack-destination', work], root);
    const name = readdirSync(work).find((f) => f.endsWith('.tgz'));
    assert.ok(name, 'npm pack produced no tarball');
    tarball = join(work, name);
    project = join(work, 'app');
    install(project, [tarball, `mysql2@${version('mysql2')}`]);
  });

  after(function () {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const entryPoints: Record<string, string[]> = {
    credswap: ['RotationCoordinator', 'fromFunction', 'CredswapError', 'ProviderError', 'RotationTimeoutError'],
    'credswap/mysql2': ['createPool', 'createPoolCluster', 'createConnection'],
    'credswap/mysql2/promise': ['createPool', 'createPoolCluster', 'createConnection'],
    'credswap/sequelize': ['attachCredentials', 'SequelizeCredentials'],
    'credswap/knex': ['knexConnection'],
    'credswap/file': ['FileProvider'],
    'credswap/aws': ['SecretsManagerProvider', 'parseSecretString', 'RdsIamProvider'],
    'credswap/vault': ['VaultDatabaseProvider', 'VaultStaticRoleProvider', 'VaultKvProvider', 'VaultError'],
    'credswap/testing': ['startTestServer', 'startMariaDB', 'startTcpProxy', 'startLoadGenerator', 'defaultQueries', 'startRdsIamFrontEnd'],
    'credswap/drill': ['runDrill', 'renderTable', 'validateReport'],
    'credswap/otel': ['CredswapMetrics'],
  };

  for (const [entry, names] of Object.entries(entryPoints)) {
    it(`${entry} loads with require`, function () {
      const out = run(
        process.execPath,
        ['-e', `const m = require('${entry}'); console.log(JSON.stringify(${JSON.stringify(names)}.map((n) => typeof m[n])))`],
        project,
      );
      assert.deepEqual(
        JSON.parse(out),
        names.map(() => 'function'),
      );
    });

    it(`${entry} loads with import`, function () {
      const code = `import * as m from '${entry}'; console.log(JSON.stringify(${JSON.stringify(names)}.map((n) => typeof m[n])))`;
      const out = run(process.execPath, ['--input-type=module', '-e', code], project);
      assert.deepEqual(
        JSON.parse(out),
        names.map(() => 'function'),
      );
    });
  }

  it('import and require share one module instance', function () {
    const code = `import { createRequire } from 'node:module'; import { CredswapError } from 'credswap';
      const req = createRequire(process.cwd() + '/'); console.log(req('credswap').CredswapError === CredswapError)`;
    assert.equal(run(process.execPath, ['--input-type=module', '-e', code], project).trim(), 'true');
  });

  it('importing credswap/mysql2, credswap/aws or credswap/vault loads neither the AWS SDK nor node-vault', function () {
    const code = `require('credswap/mysql2'); require('credswap/mysql2/promise'); require('credswap/aws'); require('credswap/vault');
      console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /@aws-sdk|node-vault/.test(k))))`;
    assert.deepEqual(JSON.parse(run(process.execPath, ['-e', code], project)), []);
  });

  it('credswap/aws loads without the AWS SDK and names it at the first request', function () {
    const code = `const { SecretsManagerProvider } = require('credswap/aws');
      const p = new SecretsManagerProvider({ secretId: 'prod/db', clientConfig: { region: 'eu-west-1' } });
      p.getCredentials(new AbortController().signal, undefined, { reason: 'initial' }).then(
        () => console.log('resolved'),
        (e) => console.log(JSON.stringify({ code: e.code, dependency: e.dependency })));`;
    assert.deepEqual(JSON.parse(run(process.execPath, ['-e', code], project)), {
      code: 'CREDSWAP_MISSING_DEPENDENCY',
      dependency: '@aws-sdk/client-secrets-manager',
    });
  });

  it('credswap/aws loads without @aws-sdk/rds-signer and names it at the first token', function () {
    const code = `const { RdsIamProvider } = require('credswap/aws');
      const p = new RdsIamProvider({ hostname: 'db.rds.amazonaws.com', username: 'app', region: 'eu-west-1' });
      p.getCredentials(new AbortController().signal, undefined, { reason: 'initial' }).then(
        () => console.log('resolved'),
        (e) => console.log(JSON.stringify({ code: e.code, dependency: e.dependency })));`;
    assert.deepEqual(JSON.parse(run(process.execPath, ['-e', code], project)), {
      code: 'CREDSWAP_MISSING_DEPENDENCY',
      dependency: '@aws-sdk/rds-signer',
    });
  });

  it('ships declarations for every entry point, a LICENSE, and no tests', function () {
    const files = run('tar', ['-tzf', tarball], work);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, string | Record<string, Record<string, string>>>;
    };
    for (const target of Object.values(pkg.exports)) {
      if (typeof target === 'string') continue;
      for (const flavour of ['import', 'require']) {
        for (const file of Object.values(target[flavour])) assert.ok(files.includes(`package/${file.slice(2)}`), file);
      }
    }
    assert.ok(files.includes('package/LICENSE'), 'LICENSE');
    assert.ok(!files.includes('package/test/'), 'tests are not shipped');
  });

  describe('declarations, compiled by a consumer with skipLibCheck: false', function () {
    it('compile under nodenext, as an ES module and as CommonJS, without optional peers', function () {
      const source = readFileSync(join(fixtures, 'types.ts'), 'utf8');
      writeFileSync(join(project, 'types.mts'), source);
      writeFileSync(join(project, 'types.cts'), source);
      const { code, out } = typecheck(project, ['types.mts', 'types.cts'], 'nodenext');
      assert.equal(code, 0, out);
    });

    it('compile under bundler resolution, without optional peers', function () {
      copyFileSync(join(fixtures, 'types.ts'), join(project, 'types.ts'));
      const { code, out } = typecheck(project, ['types.ts'], 'bundler');
      assert.equal(code, 0, out);
    });

    it("accept the AWS SDK clients, the RDS signer's credentials and node-vault when the optional peers are installed", function () {
      const peers = join(work, 'app-peers');
      install(
        peers,
        [
          tarball,
          `mysql2@${version('mysql2')}`,
          `@aws-sdk/client-secrets-manager@${version('@aws-sdk/client-secrets-manager')}`,
          `@aws-sdk/rds-signer@${version('@aws-sdk/rds-signer')}`,
          `node-vault@${version('node-vault')}`,
        ],
        'module',
      );
      copyFileSync(join(fixtures, 'types.ts'), join(peers, 'types.ts'));
      copyFileSync(join(fixtures, 'with-peers.ts'), join(peers, 'with-peers.ts'));
      for (const resolution of ['nodenext', 'bundler'] as const) {
        const { code, out } = typecheck(peers, ['types.ts', 'with-peers.ts'], resolution);
        assert.equal(code, 0, `${resolution}: ${out}`);
      }
    });

    it('are what arethetypeswrong and publint expect of every entry point', function () {
      // The JSON schema has no types to check, and node10 resolution cannot reach a subpath file.
      const attw = attempt(
        process.execPath,
        [join(root, 'node_modules', '.bin', 'attw'), tarball, '--format', 'ascii', '--exclude-entrypoints', 'drill/report-schema.json'],
        work,
      );
      assert.equal(attw.code, 0, attw.out);
      const publint = attempt(process.execPath, [join(root, 'node_modules', '.bin', 'publint'), '--strict', tarball], work);
      assert.equal(publint.code, 0, publint.out);
      assert.match(publint.out, /All good/);
    });
  });

  describe('credswap/otel, with and without @opentelemetry/api', function () {
    /** A consumer's use of credswap/otel, with the SDK's MeterProvider when `withSdk`. */
    const consumer = (withSdk: boolean) =>
      [
        "import { DIAGNOSTICS_CHANNELS, type RotationMessage } from 'credswap';",
        "import { CredswapMetrics, type MeterProviderLike } from 'credswap/otel';",
        ...(withSdk ? ["import { MeterProvider } from '@opentelemetry/sdk-metrics';"] : []),
        'export const channel: string = DIAGNOSTICS_CHANNELS.rotation;',
        'export const generation = (m: RotationMessage): number => m.generation;',
        'export const metrics = (p: MeterProviderLike) => new CredswapMetrics({ meterProvider: p });',
        ...(withSdk ? ['export const sdk = new CredswapMetrics({ meterProvider: new MeterProvider() });'] : []),
        '',
      ].join('\n');

    it('without it, credswap/otel loads, its declarations compile, and CredswapMetrics without a meterProvider names the package', function () {
      const code = `const { CredswapMetrics } = require('credswap/otel');
        try { new CredswapMetrics(); console.log('created'); } catch (e) { console.log(JSON.stringify({ code: e.code, dependency: e.dependency })); }`;
      assert.deepEqual(JSON.parse(run(process.execPath, ['-e', code], project)), {
        code: 'CREDSWAP_MISSING_DEPENDENCY',
        dependency: '@opentelemetry/api',
      });
      writeFileSync(join(project, 'otel.ts'), consumer(false));
      for (const resolution of ['nodenext', 'bundler'] as const) {
        const { code: exit, out } = typecheck(project, ['otel.ts'], resolution);
        assert.equal(exit, 0, `${resolution}: ${out}`);
      }
    });

    it("with it, credswap/mysql2 still loads no OpenTelemetry, and the SDK's MeterProvider records a rotation", async function () {
      const app = join(work, 'app-otel');
      install(app, [
        tarball,
        `mysql2@${version('mysql2')}`,
        `@opentelemetry/api@${installedVersion('@opentelemetry/api')}`,
        `@opentelemetry/sdk-metrics@${installedVersion('@opentelemetry/sdk-metrics')}`,
      ]);
      const loaded = `require('credswap'); require('credswap/mysql2'); require('credswap/mysql2/promise');
        console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /@opentelemetry/.test(k))))`;
      assert.deepEqual(JSON.parse(run(process.execPath, ['-e', loaded], app)), []);
      const script = `import { RotationCoordinator } from 'credswap';
        import { CredswapMetrics } from 'credswap/otel';
        import { metrics } from '@opentelemetry/api';
        import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
        class Reader extends MetricReader { async onForceFlush() {} async onShutdown() {} }
        const reader = new Reader();
        metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
        const recording = new CredswapMetrics();
        const coordinator = new RotationCoordinator({ provider: async () => ({ user: 'app', password: 'p' }) });
        await coordinator.acquire();
        await coordinator.close();
        recording.disable();
        const { resourceMetrics } = await reader.collect();
        const rotations = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'credswap.rotations');
        console.log(JSON.stringify(rotations.dataPoints.map((p) => [p.attributes['credswap.rotation.reason'], p.value])));`;
      writeFileSync(join(app, 'otel.mjs'), script);
      assert.deepEqual(JSON.parse(await runNode('otel.mjs', app, process.env)), [['initial', 1]]);
      writeFileSync(join(app, 'otel.ts'), consumer(true));
      for (const resolution of ['nodenext', 'bundler'] as const) {
        const { code, out } = typecheck(app, ['otel.ts'], resolution);
        assert.equal(code, 0, `${resolution}: ${out}`);
      }
    });
  });

  describe('the credswap command on a plain install (no optional peers)', function () {
    const credswap = (args: string[]) => attempt(process.execPath, [join(project, 'node_modules', '.bin', 'credswap'), ...args], project);

    it('prints its version', function () {
      const { code, out } = credswap(['--version']);
      assert.equal(code, 0, out);
      assert.equal(out.trim(), JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    });

    it('prints its usage when run bare', function () {
      const { code, out } = credswap([]);
      assert.equal(code, 0, out);
      assert.match(out, /credswap drill/);
    });

    it('runs the default drill, falling back to a scenario that needs no optional peer', function () {
      const { code, out } = credswap(['drill', '--duration', '2s', '--json']);
      assert.equal(code, 0, out);
      assert.match(out, /@aws-sdk\/client-secrets-manager is not installed/);
      assert.match(out, /"scenario":\s*"function"/);
    });
  });

  describe("AWS Lambda's layout: the runtime's AWS SDK only on NODE_PATH", function () {
    let emulator: SecretsManagerEmulator;
    let task: string;
    let runtime: string;
    let env: NodeJS.ProcessEnv;

    before(async function () {
      emulator = await startSecretsManagerEmulator();
      emulator.putSecret('prod/db', { engine: 'mysql', host: '127.0.0.1', username: 'lambda_app', password: 'not-printed' });
      const client = emulator.clientConfig();
      env = {
        ...process.env,
        SECRET_ID: 'prod/db',
        SM_REGION: client.region,
        SM_ENDPOINT: client.endpoint,
        SM_KEY_ID: client.credentials.accessKeyId,
        SM_SECRET_KEY: client.credentials.secretAccessKey,
      };
      delete env.NODE_PATH;
      // The function's own folder (/var/task): credswap and mysql2, no AWS SDK.
      task = project;
      buildSync({
        entryPoints: [join(fixtures, 'lambda-handler.ts')],
        outfile: join(task, 'handler.js'),
        format: 'cjs',
        platform: 'node',
        logLevel: 'silent',
      });
      // The runtime's folder on NODE_PATH (/var/runtime/node_modules): the AWS SDK only.
      runtime = join(work, 'runtime');
      install(runtime, [`@aws-sdk/client-secrets-manager@${version('@aws-sdk/client-secrets-manager')}`]);
    });

    after(async function () {
      await emulator?.close();
    });

    const lambdaEnv = () => ({ ...env, NODE_PATH: join(runtime, 'node_modules') });

    it('without NODE_PATH the handler is told which package is missing', async function () {
      assert.equal((await runNode('handler.js', task, env)).trim(), 'error=CREDSWAP_MISSING_DEPENDENCY');
    });

    it('SecretsManagerProvider finds the SDK on NODE_PATH', async function () {
      assert.equal((await runNode('handler.js', task, lambdaEnv())).trim(), 'user=lambda_app');
    });

    for (const format of ['cjs', 'esm'] as const) {
      it(`an esbuild ${format} bundle with the SDK external finds it on NODE_PATH`, async function () {
        const out = join(work, `bundle-${format}`, format === 'esm' ? 'index.mjs' : 'index.js');
        buildSync({
          entryPoints: [join(fixtures, 'lambda-handler.ts')],
          nodePaths: [join(task, 'node_modules')],
          bundle: true,
          outfile: out,
          format,
          platform: 'node',
          target: 'node20',
          external: ['@aws-sdk/*'],
          // What esbuild needs for any CommonJS dependency (mysql2, credswap) in an ES module bundle.
          banner: format === 'esm' ? { js: ESM_REQUIRE_BANNER } : {},
          logLevel: 'silent',
        });
        assert.equal((await runNode(out, join(work, `bundle-${format}`), lambdaEnv())).trim(), 'user=lambda_app');
      });
    }
  });
});
