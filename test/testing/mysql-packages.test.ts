import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findMySQLBinary, mysqlVersion } from '../../lib/testing/mysql-binaries.js';
import { packagesDir, packagesProblem, unpackMySQL } from '../../lib/testing/mysql-packages.js';
import { ServerStartError } from '../../lib/testing/server/errors.js';
import { removeScratchDirs, scratchDir, withPath } from './server/fake-binaries.js';

const LOADER = 'usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2';
const VERSION = 'mysqld  Ver 9.7.4-2 for Linux on x86_64 ((Debian))';

/**
 * Builds `<name>_<version>_amd64.deb` in `dir` holding `files` (path to `/bin/sh` script), with
 * a version of its own so that no two tests share an unpacked folder.
 */
function buildDeb(dir: string, name: string, files: Record<string, string>): string {
  const version = `1.0-${randomBytes(4).toString('hex')}`;
  const root = path.join(scratchDir(), 'pkg');
  fs.mkdirSync(path.join(root, 'DEBIAN'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'DEBIAN', 'control'),
    `Package: ${name}\nVersion: ${version}\nArchitecture: amd64\nMaintainer: credswap tests <tests@example.com>\nDescription: test\n`,
  );
  for (const [file, script] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  }
  const deb = path.join(dir, `${name}_${version}_amd64.deb`);
  execFileSync('dpkg-deb', ['--build', '--root-owner-group', '-Zgzip', root, deb], { stdio: 'ignore' });
  return deb;
}

/** A folder with a fake server package and a fake C library whose loader runs the program after `--library-path <dir>`. */
function fakePackages(): string {
  const dir = scratchDir();
  buildDeb(dir, 'mysql-server-core', { 'usr/sbin/mysqld': `echo "${VERSION}"` });
  buildDeb(dir, 'libc6', { [LOADER]: 'shift 2; exec "$@"' });
  return dir;
}

/** A second, independent copy of the module, as another process would have: nothing unpacked yet. */
function loadSecondCopy(): typeof import('../../lib/testing/mysql-packages.js') {
  const file = require.resolve('../../lib/testing/mysql-packages.js');
  const original = require.cache[file];
  delete require.cache[file];
  try {
    return require(file) as typeof import('../../lib/testing/mysql-packages.js');
  } finally {
    require.cache[file] = original;
  }
}

/** Why packages cannot be unpacked on this machine (not x86_64 Linux, or no dpkg-deb), if so. */
function machineProblem(): string | undefined {
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'credswap-test-'));
  try {
    fs.writeFileSync(path.join(probe, 'mysql-server-core_0_amd64.deb'), '');
    return packagesProblem(probe)?.replace(` in ${probe}`, '');
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
}

const problem = machineProblem();

(problem === undefined ? describe : describe.skip)(
  `testing/mysql-packages${problem === undefined ? '' : ` (skipped: ${problem})`}`,
  function () {
    const unpackedDirs = new Set<string>();

    afterEach(function () {
      for (const dir of unpackedDirs) fs.rmSync(dir, { recursive: true, force: true });
      unpackedDirs.clear();
      removeScratchDirs();
    });

    async function unpack(dir: string) {
      const unpacked = await unpackMySQL(dir);
      unpackedDirs.add(path.dirname(unpacked.root));
      return unpacked;
    }

    it('unpacks every package into one folder under the temporary directory', async function () {
      const unpacked = await unpack(fakePackages());

      assert.equal(path.dirname(path.dirname(unpacked.root)), os.tmpdir());
      assert.equal(unpacked.mysqld, path.join(unpacked.root, 'usr/sbin/mysqld'));
      assert.equal(unpacked.loader, path.join(unpacked.root, LOADER));
      assert.ok(fs.existsSync(unpacked.mysqld) && fs.existsSync(unpacked.loader));
      assert.ok(unpacked.serverOptions.includes(`--basedir=${path.join(unpacked.root, 'usr')}`));
    });

    it('unpacks once for callers that ask at the same time, and again for other packages', async function () {
      const dir = fakePackages();

      const [first, second, other] = await Promise.all([unpack(dir), unpack(dir), unpack(fakePackages())]);

      assert.equal(first.root, second.root);
      assert.notEqual(first.root, other.root);
    });

    it('uses a folder another process unpacked, without unpacking again', async function () {
      const dir = fakePackages();
      const { root } = await unpack(dir);
      // Same names and sizes, but no longer packages: unpacking them again would fail.
      for (const deb of fs.readdirSync(dir)) fs.writeFileSync(path.join(dir, deb), Buffer.alloc(fs.statSync(path.join(dir, deb)).size));

      const again = await loadSecondCopy().unpackMySQL(dir);

      assert.equal(again.root, root);
    });

    it('runs mysqld through the unpacked loader when the packages are what is found', async function () {
      const dir = fakePackages();

      const binary = (await withPath([], () => findMySQLBinary({ CREDSWAP_MYSQL_DEBS: dir }, [])))!;
      const root = path.resolve(binary.mysqld, '../../..');
      unpackedDirs.add(path.dirname(root));

      assert.equal(binary.source, 'packages');
      assert.equal(binary.command, path.join(root, LOADER));
      assert.deepEqual(binary.commandArgs, ['--library-path', path.dirname(binary.command), binary.mysqld]);
      assert.equal(await mysqlVersion(binary), VERSION);
    });

    it('fails with a ServerStartError naming the folder when the packages lack the loader, and keeps nothing', async function () {
      const dir = scratchDir();
      buildDeb(dir, 'mysql-server-core', { 'usr/sbin/mysqld': `echo "${VERSION}"` });
      const before = new Set(fs.readdirSync(os.tmpdir()));

      await assert.rejects(unpackMySQL(dir), (error: unknown) => {
        assert.ok(error instanceof ServerStartError);
        assert.equal(error.message, `the packages in ${dir} have no /${LOADER}: they are not MySQL with its libraries`);
        return true;
      });

      const added = fs.readdirSync(os.tmpdir()).filter((name) => !before.has(name) && name.startsWith('credswap-mysql-packages-'));
      assert.deepEqual(added, []);
    });

    it('refuses a folder without the server package before unpacking anything', async function () {
      const dir = scratchDir();
      buildDeb(dir, 'libc6', { [LOADER]: 'exit 0' });

      await assert.rejects(unpackMySQL(dir), new ServerStartError(`cannot unpack MySQL: no mysql-server-core_*_amd64.deb in ${dir}`));
    });

    it('looks in CREDSWAP_MYSQL_DEBS, else in ../shared/mysql-server/debs next to the project', function () {
      const project = path.resolve(__dirname, '..', '..');

      assert.equal(packagesDir({ CREDSWAP_MYSQL_DEBS: '/srv/debs' }), '/srv/debs');
      assert.equal(packagesDir({}), path.resolve(project, '..', 'shared', 'mysql-server', 'debs'));
    });
  },
);
