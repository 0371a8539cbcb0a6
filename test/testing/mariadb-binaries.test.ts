import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  findInstallDb,
  findMariaDBBinary,
  installDbArgs,
  mariadbdArgs,
  mariadbTemplate,
  resolveBinary,
  serverVersion,
} from '../../lib/testing/mariadb-binaries.js';
import { serverFiles } from '../../lib/testing/server/data-dir.js';
import { ServerNotFoundError, ServerStartError } from '../../lib/testing/server/errors.js';
import { fakeBinary, removeScratchDirs, scratchDir, withPath } from './server/fake-binaries.js';

describe('testing/mariadb-binaries', function () {
  afterEach(removeScratchDirs);

  it('prefers mariadbd anywhere on PATH to a mysqld earlier on PATH', function () {
    const [first, second] = [scratchDir(), scratchDir()];
    fakeBinary(first, 'mysqld');
    const mariadbd = fakeBinary(second, 'mariadbd');

    assert.equal(withPath([first, second], findMariaDBBinary), mariadbd);
  });

  it('rejects a named binary that is not executable with ServerNotFoundError naming it', function () {
    const file = path.join(scratchDir(), 'mariadbd');
    fs.writeFileSync(file, '', { mode: 0o644 });

    assert.throws(
      () => resolveBinary(file),
      (error: unknown) => {
        assert.ok(error instanceof ServerNotFoundError);
        assert.equal(error.binary, file);
        return true;
      },
    );
  });

  describe('findInstallDb()', function () {
    it("finds mariadb-install-db in the server's installation when it is not on PATH", function () {
      const root = scratchDir();
      const binary = fakeBinary(root, 'sbin/mariadbd');
      fakeBinary(root, 'bin/mysql_install_db');
      const installDb = fakeBinary(root, 'scripts/mariadb-install-db');

      assert.equal(
        withPath([], () => findInstallDb(binary)),
        installDb,
      );
    });

    it('throws a ServerStartError that says how to install MariaDB when there is none', function () {
      const binary = fakeBinary(scratchDir(), 'sbin/mariadbd');

      assert.throws(
        () => withPath([], () => findInstallDb(binary)),
        (error: unknown) => {
          assert.ok(error instanceof ServerStartError);
          assert.match(error.message, /mariadb-install-db not found .*apt-get install mariadb-server/);
          return true;
        },
      );
    });
  });

  describe('serverVersion()', function () {
    it('resolves with the version line of a MariaDB server', async function () {
      const line = 'mariadbd  Ver 10.11.19-MariaDB for debian-linux-gnu on x86_64';
      const binary = fakeBinary(scratchDir(), 'mariadbd', `echo "${line}"`);

      assert.equal(await serverVersion(binary), line);
    });

    it('rejects a MySQL server with a ServerStartError', async function () {
      const line = 'mysqld  Ver 9.7.0 for Linux on x86_64 (MySQL Community Server - GPL)';
      const binary = fakeBinary(scratchDir(), 'mysqld', `echo "${line}"`);

      await assert.rejects(serverVersion(binary), (error: unknown) => {
        assert.ok(error instanceof ServerStartError);
        assert.match(error.message, /is not MariaDB \(mysqld {2}Ver 9\.7\.0/);
        return true;
      });
    });
  });

  describe('command lines', function () {
    it('starts mariadb-install-db with --no-defaults first and the data directory to fill', function () {
      const args = installDbArgs('/opt/mariadb', '/tmp/staging/data');

      assert.equal(args[0], '--no-defaults');
      assert.ok(args.includes('--basedir=/opt/mariadb'));
      assert.ok(args.includes('--datadir=/tmp/staging/data'));
      assert.ok(args.includes('--auth-root-authentication-method=normal'));
    });

    it('starts mariadbd with --no-defaults first, on 127.0.0.1 only, and the extra options last', function () {
      const files = serverFiles('/tmp/credswap-mariadb-x');

      const args = mariadbdArgs(files, 41234, ['--port-open-timeout=10']);

      assert.equal(args[0], '--no-defaults');
      assert.ok(args.includes('--port=41234'));
      assert.ok(args.includes('--bind-address=127.0.0.1'));
      assert.ok(args.includes(`--datadir=${files.data}`));
      assert.equal(args.at(-1), '--port-open-timeout=10');
    });

    it('runs both with the same server options, so servers start from the template as it was made', function () {
      const serverOptions = (args: string[]) => args.filter((arg) => /^--(innodb|max-connections|character-set)/.test(arg));

      assert.deepEqual(serverOptions(installDbArgs('/usr', '/d')), serverOptions(mariadbdArgs(serverFiles('/s'), 1)));
      assert.ok(serverOptions(installDbArgs('/usr', '/d')).includes('--max-connections=1000'));
    });
  });

  it('makes the template with the mariadb-install-db of the server it is for', async function () {
    const root = scratchDir();
    const binary = fakeBinary(root, 'sbin/mariadbd');
    const recorded = path.join(root, 'args');
    fakeBinary(root, 'scripts/mariadb-install-db', `printf '%s\\n' "$@" > '${recorded}'`);
    const dataDir = path.join(root, 'data');

    await withPath([], () => mariadbTemplate(binary, 'mariadbd Ver 10.11').initialise(dataDir));

    const args = fs.readFileSync(recorded, 'utf8').trimEnd().split('\n');
    assert.deepEqual(args, installDbArgs(fs.realpathSync(root), dataDir));
  });
});
