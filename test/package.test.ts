/**
 * The package as a user gets it: `npm pack`, installed into a fresh project, loaded with both
 * `require` and `import`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('the packed package', function () {
  this.timeout(240_000);
  let work: string;
  let project: string;

  before(function () {
    work = mkdtempSync(join(tmpdir(), 'credswap-pack-'));
    run(npm, ['pack', '--silent', '--pack-destination', work], root);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack produced no tarball');
    project = join(work, 'app');
    run('mkdir', ['-p', project], work);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true }));
    const mysql2Version = require('mysql2/package.json').version as string;
    run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, tarball), `mysql2@${mysql2Version}`], project);
  });

  after(function () {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const entryPoints: Record<string, string[]> = {
    credswap: ['RotationCoordinator', 'fromFunction', 'CredswapError', 'ProviderError', 'RotationTimeoutError'],
    'credswap/mysql2': ['createPool', 'createPoolCluster'],
    'credswap/mysql2/promise': ['createPool', 'createPoolCluster'],
    'credswap/sequelize': ['attachCredentials', 'SequelizeCredentials'],
    'credswap/knex': ['knexConnection'],
    'credswap/file': ['FileProvider'],
    'credswap/aws': ['SecretsManagerProvider', 'parseSecretString'],
    'credswap/vault': ['VaultDatabaseProvider', 'VaultStaticRoleProvider', 'VaultKvProvider', 'VaultError'],
    'credswap/testing': ['startTestServer', 'startMariaDB', 'startTcpProxy', 'startLoadGenerator', 'defaultQueries'],
    'credswap/drill': ['runDrill', 'renderTable', 'validateReport'],
  };

  for (const [entry, names] of Object.entries(entryPoints)) {
    it(`${entry} loads with require`, function () {
      const out = run(process.execPath, ['-e', `const m = require('${entry}'); console.log(JSON.stringify(${JSON.stringify(names)}.map((n) => typeof m[n])))`], project);
      assert.deepEqual(JSON.parse(out), names.map(() => 'function'));
    });

    it(`${entry} loads with import`, function () {
      const code = `import * as m from '${entry}'; console.log(JSON.stringify(${JSON.stringify(names)}.map((n) => typeof m[n])))`;
      const out = run(process.execPath, ['--input-type=module', '-e', code], project);
      assert.deepEqual(JSON.parse(out), names.map(() => 'function'));
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

  it('ships type declarations for every entry point', function () {
    const files = run('tar', ['-tzf', join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!)], work);
    for (const d of ['dist/lib/index.d.ts', 'dist/lib/mysql2/index.d.ts', 'dist/lib/mysql2/promise.d.ts', 'dist/providers/file/index.d.ts', 'dist/providers/aws/index.d.ts', 'dist/providers/vault/index.d.ts', 'dist/lib/testing/index.d.ts']) {
      assert.ok(files.includes(`package/${d}`), d);
    }
    assert.ok(!files.includes('package/test/'), 'tests are not shipped');
  });
});
