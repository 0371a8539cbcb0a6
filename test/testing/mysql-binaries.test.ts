import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  findMySQLBinary,
  initialiseArgs,
  locateMySQL,
  mysqlAvailability,
  mysqldArgs,
  MySQLNotFoundError,
  mysqlRequired,
  mysqlTemplate,
  mysqlVersion,
  resolveMySQL,
  versionProblem,
  type MySQLBinary,
} from '../../lib/testing/mysql-binaries.js';
import { downloadDir, downloadMySQLPackages, downloadProblem, packagesToFetch } from '../../lib/testing/mysql-download.js';
import { startMySQL } from '../../lib/testing/mysql.js';
import { packagesProblem } from '../../lib/testing/mysql-packages.js';
import { serverFiles } from '../../lib/testing/server/data-dir.js';
import { ServerNotFoundError, ServerStartError } from '../../lib/testing/server/errors.js';
import { fakeBinary, removeScratchDirs, scratchDir, withPath } from './server/fake-binaries.js';

const MYSQL_97 = 'mysqld  Ver 9.7.4-2 for Linux on x86_64 ((Debian))';
const MARIADB = 'mysqld  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)';

/** A fake `mysqld` in `dir` whose `--version` prints `line`. */
function fakeMysqld(dir: string, line: string): string {
  return fakeBinary(dir, 'mysqld', `echo "${line}"`);
}

/** A folder that looks like MySQL's packages (the server's .deb need not be a real one to be found). */
function fakePackagesDir(): string {
  const dir = scratchDir();
  fs.writeFileSync(path.join(dir, 'mysql-server-core_9.7.4-2_amd64.deb'), '');
  return dir;
}

/** The environment of a machine where neither variable is set, there are no packages, and none are fetched. */
function bareEnv(): NodeJS.ProcessEnv {
  return { CREDSWAP_MYSQL_DEBS: path.join(scratchDir(), 'no-debs'), CREDSWAP_MYSQL_DOWNLOAD: '0' };
}

/** Skips a test that needs packages to be usable here: x86_64 Linux with dpkg-deb. */
function skipUnlessPackagesCanRun(context: Mocha.Context): void {
  const problem = packagesProblem(fakePackagesDir());
  if (problem !== undefined) {
    context.test!.title += ` (skipped: ${problem})`;
    context.skip();
  }
}

function binaryAt(mysqld: string, more: Partial<MySQLBinary> = {}): MySQLBinary {
  return { source: 'PATH', mysqld, command: mysqld, commandArgs: [], serverOptions: [], ...more };
}

describe('testing/mysql-binaries', function () {
  afterEach(removeScratchDirs);

  describe('locateMySQL()', function () {
    it('takes the mysqld named by CREDSWAP_MYSQLD before a MySQL mysqld on PATH', function () {
      const onPath = scratchDir();
      fakeMysqld(onPath, MYSQL_97);
      const named = fakeMysqld(scratchDir(), MYSQL_97);

      const found = withPath([onPath], () => locateMySQL({ ...bareEnv(), CREDSWAP_MYSQLD: named }, []));

      assert.deepEqual(found, { kind: 'binary', source: 'CREDSWAP_MYSQLD', mysqld: named });
    });

    it('passes over a MariaDB mysqld earlier on PATH for a MySQL one later on PATH', function () {
      const [first, second] = [scratchDir(), scratchDir()];
      fakeMysqld(first, MARIADB);
      const mysql = fakeMysqld(second, MYSQL_97);

      const found = withPath([first, second], () => locateMySQL(bareEnv(), []));

      assert.deepEqual(found, { kind: 'binary', source: 'PATH', mysqld: mysql });
    });

    it('takes a MySQL mysqld on PATH before the packages', function () {
      skipUnlessPackagesCanRun(this);
      const dir = scratchDir();
      const mysql = fakeMysqld(dir, MYSQL_97);

      const found = withPath([dir], () => locateMySQL({ CREDSWAP_MYSQL_DEBS: fakePackagesDir() }, []));

      assert.deepEqual(found, { kind: 'binary', source: 'PATH', mysqld: mysql });
    });

    it('falls back to the packages in CREDSWAP_MYSQL_DEBS when PATH has only MariaDB', function () {
      skipUnlessPackagesCanRun(this);
      const dir = scratchDir();
      fakeMysqld(dir, MARIADB);
      const debs = fakePackagesDir();

      const found = withPath([dir], () => locateMySQL({ CREDSWAP_MYSQL_DEBS: debs }, []));

      assert.deepEqual(found, { kind: 'packages', dir: debs });
    });

    it('says what it tried when there is nothing: the variable, each mysqld on PATH, the packages', function () {
      const [mariadb, old] = [scratchDir(), scratchDir()];
      const mariadbd = fakeMysqld(mariadb, MARIADB);
      const mysql57 = fakeMysqld(old, 'mysqld  Ver 5.7.44 for Linux on x86_64 (MySQL Community Server (GPL))');
      const env = bareEnv();

      const found = withPath([mariadb, old], () => locateMySQL(env, []));

      assert.deepEqual(found, {
        kind: 'none',
        tried: [
          'CREDSWAP_MYSQLD not set',
          `${mariadbd} is MariaDB (${MARIADB})`,
          `${mysql57} is MySQL 5.7.44, older than 8.0.30`,
          `no packages folder ${env.CREDSWAP_MYSQL_DEBS}`,
          'CREDSWAP_MYSQL_DOWNLOAD is off',
        ],
      });
    });

    it('says when PATH has no mysqld at all, and when the packages folder has no server package', function () {
      const debs = scratchDir();
      fs.writeFileSync(path.join(debs, 'libc6_2.43-7_amd64.deb'), '');

      const found = withPath([scratchDir()], () => locateMySQL({ CREDSWAP_MYSQL_DEBS: debs, CREDSWAP_MYSQL_DOWNLOAD: 'false' }, []));

      assert.deepEqual(found, {
        kind: 'none',
        tried: [
          'CREDSWAP_MYSQLD not set',
          'no mysqld on PATH',
          `no mysql-server-core_*_amd64.deb in ${debs}`,
          'CREDSWAP_MYSQL_DOWNLOAD is off',
        ],
      });
    });

    it("falls back to fetching the packages from Debian's archive where apt can, and says why it cannot elsewhere", function () {
      const found = withPath([scratchDir()], () => locateMySQL({ CREDSWAP_MYSQL_DEBS: path.join(scratchDir(), 'no-debs') }, []));
      const problem = downloadProblem({});
      if (problem === undefined) {
        // Fetched by an earlier run on this machine: its folder, unpacked like any other.
        const expected = packagesProblem(downloadDir()) === undefined ? { kind: 'packages', dir: downloadDir() } : { kind: 'download' };
        assert.deepEqual(found, expected);
        assert.equal(mysqlAvailability({ CREDSWAP_MYSQL_DEBS: path.join(scratchDir(), 'no-debs') }, []).available, true);
      } else {
        assert.equal(found.kind, 'none');
        assert.equal((found as { tried: readonly string[] }).tried.at(-1), problem);
      }
    });
  });

  describe('mysqlAvailability()', function () {
    it('is available, without running it, when CREDSWAP_MYSQLD names a mysqld', function () {
      assert.deepEqual(mysqlAvailability({ CREDSWAP_MYSQLD: '/opt/mysql/bin/mysqld' }, []), {
        available: true,
        source: 'CREDSWAP_MYSQLD',
        path: '/opt/mysql/bin/mysqld',
      });
    });

    it('requires MySQL when CREDSWAP_REQUIRE_MYSQL is set to anything but 0 or false', function () {
      for (const value of ['1', 'true', 'yes']) assert.equal(mysqlRequired({ CREDSWAP_REQUIRE_MYSQL: value }), true, value);
      for (const value of [undefined, '', '0', 'false', 'FALSE']) {
        assert.equal(mysqlRequired({ CREDSWAP_REQUIRE_MYSQL: value }), false, String(value));
      }
    });
  });

  describe('resolveMySQL()', function () {
    it('rejects with a MySQLNotFoundError, a ServerNotFoundError, listing what it tried', async function () {
      await assert.rejects(
        withPath([], () => resolveMySQL(undefined, bareEnv(), [])),
        (error: unknown) => {
          assert.ok(error instanceof MySQLNotFoundError);
          assert.ok(error instanceof ServerNotFoundError);
          assert.equal(error.name, 'MySQLNotFoundError');
          assert.equal(error.tried[0], 'CREDSWAP_MYSQLD not set');
          assert.match(error.message, /^no MySQL server to run \(CREDSWAP_MYSQLD not set; .*\); install MySQL 8\.0\.30 or later/);
          assert.match(error.message, /set CREDSWAP_MYSQLD to its mysqld, or CREDSWAP_MYSQL_DEBS to a folder of its Debian packages$/);
          return true;
        },
      );
    });

    it('rejects a CREDSWAP_MYSQLD that does not exist, naming it, instead of looking elsewhere', async function () {
      const missing = path.join(scratchDir(), 'mysqld');

      await assert.rejects(resolveMySQL(undefined, { CREDSWAP_MYSQLD: missing }), (error: unknown) => {
        assert.ok(error instanceof MySQLNotFoundError);
        assert.equal(error.binary, missing);
        assert.deepEqual(error.tried, [`CREDSWAP_MYSQLD: ${missing} does not exist or is not executable`]);
        return true;
      });
    });

    it('runs a mysqld found on PATH as is', async function () {
      const dir = scratchDir();
      const mysql = fakeMysqld(dir, MYSQL_97);

      const binary = await withPath([dir], () => resolveMySQL(undefined, bareEnv(), []));

      assert.deepEqual(binary, { source: 'PATH', mysqld: mysql, command: mysql, commandArgs: [], serverOptions: [] });
    });

    it('resolves to undefined in findMySQLBinary() when there is nothing', async function () {
      assert.equal(await withPath([], () => findMySQLBinary(bareEnv(), [])), undefined);
    });
  });

  describe('mysqlVersion()', function () {
    it('resolves with the version line of a MySQL server', async function () {
      const mysqld = fakeMysqld(scratchDir(), MYSQL_97);

      assert.equal(await mysqlVersion(binaryAt(mysqld)), MYSQL_97);
    });

    it('rejects a MariaDB server named by CREDSWAP_MYSQLD with a ServerStartError', async function () {
      const mysqld = fakeMysqld(scratchDir(), MARIADB);

      await assert.rejects(mysqlVersion(binaryAt(mysqld, { source: 'CREDSWAP_MYSQLD' })), (error: unknown) => {
        assert.ok(error instanceof ServerStartError);
        assert.match(error.message, /\(from CREDSWAP_MYSQLD\) is MariaDB \(mysqld {2}Ver 10\.11\.19-MariaDB/);
        return true;
      });
    });

    it('runs the version check through the command and its arguments, as a loader would', async function () {
      const dir = scratchDir();
      const mysqld = fakeMysqld(dir, MYSQL_97);
      const loader = fakeBinary(dir, 'ld.so', 'shift 2; exec "$@"');

      const binary = binaryAt(mysqld, { command: loader, commandArgs: ['--library-path', '/nowhere', mysqld] });

      assert.equal(await mysqlVersion(binary), MYSQL_97);
    });
  });

  it('accepts MySQL 8.0.30 and later, and no MariaDB, nor a line without a version', function () {
    assert.equal(versionProblem(MYSQL_97), undefined);
    assert.equal(versionProblem('mysqld  Ver 8.0.30 for Linux on x86_64 (MySQL Community Server - GPL)'), undefined);
    assert.equal(versionProblem('mysqld  Ver 8.4.5 for Linux on x86_64'), undefined);
    assert.equal(versionProblem('mysqld  Ver 8.0.29 for Linux on x86_64'), 'is MySQL 8.0.29, older than 8.0.30');
    assert.match(versionProblem(MARIADB)!, /^is MariaDB/);
    assert.equal(versionProblem(''), 'does not print a version (nothing)');
  });

  describe('command lines', function () {
    const packaged = binaryAt('/cache/root/usr/sbin/mysqld', {
      source: 'packages',
      serverOptions: ['--basedir=/cache/root/usr', '--lc-messages-dir=/cache/root/usr/share/mysql'],
    });

    it('starts mysqld with --no-defaults first, on 127.0.0.1 only, with its files, and the extra options last', function () {
      const files = serverFiles('/tmp/credswap-mysql-x');

      const args = mysqldArgs(packaged, files, 41234, ['--port-open-timeout=10']);

      assert.equal(args[0], '--no-defaults');
      for (const option of [
        '--port=41234',
        '--bind-address=127.0.0.1',
        `--socket=${files.socket}`,
        `--datadir=${files.data}`,
        '--basedir=/cache/root/usr',
        '--secure-file-priv=NULL',
        '--mysqlx=OFF',
        '--performance-schema=OFF',
        '--innodb-buffer-pool-size=32M',
        '--innodb-redo-log-capacity=8M',
      ]) {
        assert.ok(args.includes(option), option);
      }
      assert.equal(args.at(-1), '--port-open-timeout=10');
    });

    it('initialises with --no-defaults first, no root password, and the same server options', function () {
      const args = initialiseArgs(packaged, '/tmp/staging/data');
      const serverOptions = (list: string[]) =>
        list.filter((arg) => /^--(secure-file|mysqlx|performance|innodb-buffer|max-conn|basedir)/.test(arg));

      assert.equal(args[0], '--no-defaults');
      assert.ok(args.includes('--datadir=/tmp/staging/data'));
      assert.equal(args.at(-1), '--initialize-insecure');
      assert.deepEqual(serverOptions(args), serverOptions(mysqldArgs(packaged, serverFiles('/s'), 1)));
    });
  });

  it('makes the template with the binary and its arguments, leaving out the server UUID', async function () {
    const dir = scratchDir();
    const recorded = path.join(dir, 'args');
    const mysqld = fakeBinary(
      dir,
      'mysqld',
      `printf '%s\\n' "$@" > '${recorded}'; d=$(printf '%s\\n' "$@" | sed -n 's/^--datadir=//p'); ` +
        'mkdir -p "$d"; echo "server-uuid=1" > "$d/auto.cnf"; touch "$d/ibdata1"',
    );
    const binary = binaryAt(mysqld, { commandArgs: ['--first'] });
    const dataDir = path.join(dir, 'data');

    await mysqlTemplate(binary, MYSQL_97).initialise(dataDir);

    assert.deepEqual(fs.readFileSync(recorded, 'utf8').trimEnd().split('\n'), ['--first', ...initialiseArgs(binary, dataDir)]);
    assert.deepEqual(fs.readdirSync(dataDir), ['ibdata1']);
  });

  describe("fetching from Debian's archive", function () {
    it('fetches the server, the client and the libraries, without perl, apt or other programs', function () {
      const plan = [
        'NOTE: This is only a simulation!',
        'Inst gcc-16-base (16.1.0-1 Debian:unstable [amd64])',
        'Inst libc6 (2.43-7 Debian:unstable [amd64])',
        'Inst perl-base (5.42.0-1 Debian:unstable [amd64])',
        'Inst apt (3.1.2 Debian:unstable [amd64])',
        'Inst liblocale-gettext-perl (1.07-7 Debian:unstable [amd64])',
        'Inst libperl5.42 (5.42.0-1 Debian:unstable [amd64])',
        'Inst zlib1g (1:1.3.dfsg-3 Debian:unstable [amd64])',
        'Inst openssl-provider-legacy (3.5.0-1 Debian:unstable [amd64])',
        'Inst ca-certificates (20250419 Debian:unstable [all])',
        'Inst mysql-client-core (9.7.4-2 Debian:unstable [amd64])',
        'Inst mysql-server-core (9.7.4-2 Debian:unstable [amd64])',
        'Conf libc6 (2.43-7 Debian:unstable [amd64])',
      ].join('\n');
      assert.deepEqual(packagesToFetch(plan), [
        'gcc-16-base',
        'libc6',
        'zlib1g',
        'openssl-provider-legacy',
        'mysql-client-core',
        'mysql-server-core',
      ]);
    });

    it('is off with CREDSWAP_MYSQL_DOWNLOAD=0 or false, whatever the machine', function () {
      assert.equal(downloadProblem({ CREDSWAP_MYSQL_DOWNLOAD: '0' }), 'CREDSWAP_MYSQL_DOWNLOAD is off');
      assert.equal(downloadProblem({ CREDSWAP_MYSQL_DOWNLOAD: ' False ' }), 'CREDSWAP_MYSQL_DOWNLOAD is off');
    });

    // Fetches about 90 packages from Debian's archive: run with CREDSWAP_TEST_MYSQL_DOWNLOAD=1.
    it('fetches the packages once, and a MySQL server starts from them', async function () {
      if (process.env.CREDSWAP_TEST_MYSQL_DOWNLOAD !== '1' || downloadProblem() !== undefined) {
        this.test!.title += ` (skipped: ${downloadProblem() ?? 'set CREDSWAP_TEST_MYSQL_DOWNLOAD=1 to fetch from Debian'})`;
        this.skip();
      }
      this.timeout(600_000);
      const lines: string[] = [];
      const dir = await downloadMySQLPackages((line) => lines.push(line));
      assert.equal(dir, downloadDir());
      assert.equal(packagesProblem(dir), undefined);
      const before = process.env.CREDSWAP_MYSQL_DEBS;
      process.env.CREDSWAP_MYSQL_DEBS = dir; // the fetched packages, not the pinned ones
      const server = await startMySQL().finally(() => {
        if (before === undefined) delete process.env.CREDSWAP_MYSQL_DEBS;
        else process.env.CREDSWAP_MYSQL_DEBS = before;
      });
      try {
        const [row] = await server.query<Array<{ v: string }>>('SELECT VERSION() AS v');
        assert.match(row.v, /^\d+\.\d+\.\d+/);
      } finally {
        await server.stop();
      }
    });
  });
});
