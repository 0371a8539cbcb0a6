import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ServerStartError } from '../../../lib/testing/server/errors.js';
import { baseDir, findExecutable, run, searchDirs } from '../../../lib/testing/server/executables.js';
import { fakeBinary, removeScratchDirs, scratchDir, withPath } from './fake-binaries.js';

describe('testing/server/executables', function () {
  afterEach(removeScratchDirs);

  describe('findExecutable()', function () {
    it('prefers an earlier name in a later directory to a later name in an earlier one', function () {
      const [first, second] = [scratchDir(), scratchDir()];
      fakeBinary(first, 'mysqld');
      const mariadbd = fakeBinary(second, 'mariadbd');

      assert.equal(findExecutable(['mariadbd', 'mysqld'], [first, second]), mariadbd);
    });

    it('takes the first directory that has the name', function () {
      const [first, second] = [scratchDir(), scratchDir()];
      const wanted = fakeBinary(first, 'mariadbd');
      fakeBinary(second, 'mariadbd');

      assert.equal(findExecutable(['mariadbd'], [first, second]), wanted);
    });

    it('skips files that are not executable and directories of that name', function () {
      const [plain, folder, real] = [scratchDir(), scratchDir(), scratchDir()];
      fs.writeFileSync(path.join(plain, 'mariadbd'), '', { mode: 0o644 });
      fs.mkdirSync(path.join(folder, 'mariadbd'));
      const wanted = fakeBinary(real, 'mariadbd');

      assert.equal(findExecutable(['mariadbd'], [plain, folder, real]), wanted);
    });

    it('returns undefined when no directory has any of the names', function () {
      assert.equal(findExecutable(['mariadbd', 'mysqld'], [scratchDir()]), undefined);
    });
  });

  it('searches PATH first, then the extra directories, each once', function () {
    const [a, b, c] = [scratchDir(), scratchDir(), scratchDir()];

    const dirs = withPath([a, b, ''], () => searchDirs([b, c]));

    assert.deepEqual(dirs, [a, b, c]);
  });

  it('finds the installation directory of a server through symbolic links', function () {
    const root = scratchDir();
    const real = fakeBinary(root, 'opt/mariadb/sbin/mariadbd');
    fs.mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
    const link = path.join(root, 'usr/sbin/mariadbd');
    fs.symlinkSync(real, link);

    assert.equal(baseDir(link), path.dirname(path.dirname(fs.realpathSync(real))));
  });

  describe('run()', function () {
    it('resolves with what the tool printed', async function () {
      const tool = fakeBinary(scratchDir(), 'tool', 'echo "out $1"; echo err >&2');

      assert.equal(await run(tool, ['one'], 10_000), 'out one\nerr\n');
    });

    it('rejects with a ServerStartError carrying the last lines of a failing tool', async function () {
      const tool = fakeBinary(scratchDir(), 'install-db', 'echo starting; echo "[ERROR] no space left" >&2; exit 3');

      await assert.rejects(run(tool, [], 10_000), (error: unknown) => {
        assert.ok(error instanceof ServerStartError);
        assert.match(error.message, /^install-db failed: /);
        assert.match(error.logTail, /\[ERROR\] no space left$/);
        return true;
      });
    });
  });
});
