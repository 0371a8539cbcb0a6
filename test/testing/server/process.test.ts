import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { serverFiles } from '../../../lib/testing/server/data-dir.js';
import { PortInUseError, ServerStartError } from '../../../lib/testing/server/errors.js';
import { freePort } from '../../../lib/testing/server/ports.js';
import { launch, serverArgs, terminate } from '../../../lib/testing/server/process.js';
import { fakeBinary, removeScratchDirs, scratchDir } from './fake-binaries.js';

describe('testing/server/process', function () {
  afterEach(removeScratchDirs);

  describe('launch()', function () {
    async function launchFake(script: string, timeoutMs = 10_000): Promise<ChildProcess> {
      const dir = scratchDir();
      const files = serverFiles(dir);
      const port = await freePort();
      const binary = fakeBinary(dir, 'fakedbd', script);
      return launch({ name: 'fakedbd', binary, args: serverArgs(files, port), files, port, timeoutMs });
    }

    it('fails with the tail of the error log when the server exits during startup', async function () {
      await assert.rejects(launchFake(`echo "[ERROR] unknown option '--bogus'" >&2; exit 1`), (error: unknown) => {
        assert.ok(error instanceof ServerStartError);
        assert.ok(!(error instanceof PortInUseError));
        assert.match(error.message, /^fakedbd on 127\.0\.0\.1:\d+ exited during startup \(exit code 1\)/);
        assert.equal(error.logTail, "[ERROR] unknown option '--bogus'");
        return true;
      });
    });

    it('fails with a PortInUseError when the server could not bind its port', async function () {
      const log = "[ERROR] Can't start server: Bind on TCP/IP port. Got error: 98: Address already in use";

      await assert.rejects(launchFake(`echo "${log}" >&2; exit 1`), PortInUseError);
    });

    it('fails when the server does not answer SELECT 1 in time', async function () {
      await assert.rejects(launchFake('exec sleep 30', 200), /did not answer SELECT 1 within 200 ms/);
    });
  });

  it('starts every server with --no-defaults first', function () {
    assert.equal(serverArgs(serverFiles('/tmp/x'), 3306)[0], '--no-defaults');
  });

  describe('terminate()', function () {
    it('stops a process with SIGTERM', async function () {
      const child = spawn('sleep', ['30']);
      await once(child, 'spawn');

      await terminate(child);

      assert.equal(child.signalCode, 'SIGTERM');
    });

    it('kills a process that ignores SIGTERM once the grace period is over', async function () {
      const stubborn = "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)";
      const child = spawn(process.execPath, ['-e', stubborn]);
      await once(child.stdout, 'data');

      await terminate(child, 100);

      assert.equal(child.signalCode, 'SIGKILL');
    });
  });
});
