/**
 * providers/file/read.ts: one read of a credentials file, which problems are worth reading
 * again for, and the bounded retries of `getCredentials()`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sinon from 'sinon';
import { InvalidCredentialsError } from '../../lib/errors.js';
import { FileProviderError } from '../../providers/file/errors.js';
import {
  FILE_READ_RETRIES,
  MAX_CREDENTIALS_FILE_BYTES,
  readCredentialsFile,
  readWithRetries,
  type FileRead,
} from '../../providers/file/read.js';

const PASSWORD = 'Zq9!xK#7vPmW';

describe('reading a credentials file', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'credswap-file-read-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('readCredentialsFile', () => {
    it('gives sealed credentials for a good file', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, JSON.stringify({ username: 'app', password: PASSWORD }));
      const result = await readCredentialsFile(path, 'auto');
      assert.ok(result.ok);
      assert.equal(result.creds.user, 'app');
      assert.equal(result.creds.password, PASSWORD);
      assert.ok(Object.isFrozen(result.creds));
    });

    it('takes a missing file for a writer caught in the middle: transient, with the ENOENT as cause', async () => {
      const path = join(dir, 'absent.json');
      const result = await readCredentialsFile(path, 'auto');
      assert.ok(!result.ok);
      assert.equal(result.transient, true);
      assert.ok(result.error instanceof FileProviderError);
      assert.equal(result.error.path, path);
      assert.equal((result.error.cause as NodeJS.ErrnoException).code, 'ENOENT');
    });

    it('takes an invalid content for a writer caught in the middle too', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, '{"username":');
      const result = await readCredentialsFile(path, 'auto');
      assert.ok(!result.ok);
      assert.equal(result.transient, true);
      assert.ok(result.error instanceof InvalidCredentialsError);
    });

    it('refuses a directory and a file larger than 64 KiB for good', async () => {
      const big = join(dir, 'big.log');
      await writeFile(big, 'x'.repeat(MAX_CREDENTIALS_FILE_BYTES + 1));
      for (const [path, problem] of [
        [dir, /is not a regular file/],
        [big, /is larger than 65536 bytes/],
      ] as const) {
        const result = await readCredentialsFile(path, 'auto');
        assert.ok(!result.ok);
        assert.equal(result.transient, false);
        assert.ok(result.error instanceof FileProviderError);
        assert.match(result.error.message, problem);
      }
    });
  });

  describe('readWithRetries', () => {
    let clock: sinon.SinonFakeTimers;

    beforeEach(() => {
      clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    });

    afterEach(() => {
      clock.restore();
    });

    const good: FileRead = { ok: true, creds: { user: 'app', password: PASSWORD } };
    const missing = (n: number): FileRead => ({ ok: false, transient: true, error: new Error(`missing #${n}`) });

    /** A read that gives `results` in turn (the last one from then on), counting its calls. */
    function scripted(...results: FileRead[]) {
      let calls = 0;
      return { read: async () => results[Math.min(calls++, results.length - 1)], calls: () => calls };
    }

    it('resolves with the first good read, waiting retryIntervalMs between reads', async () => {
      const script = scripted(missing(1), missing(2), good);
      const pending = readWithRetries(script.read, 250);
      await clock.tickAsync(249);
      assert.equal(script.calls(), 1, 'the second read waits for the interval');
      await clock.tickAsync(1);
      assert.equal(script.calls(), 2);
      await clock.tickAsync(250);
      assert.equal(await pending, good);
      assert.equal(script.calls(), 3);
    });

    it(`gives up with the last error after ${FILE_READ_RETRIES} retries of a transient problem`, async () => {
      let n = 0;
      const pending = readWithRetries(async () => missing(++n), 10);
      const settled = assert.rejects(pending, (error: Error) => error.message === `missing #${FILE_READ_RETRIES + 1}`);
      await clock.tickAsync(10 * FILE_READ_RETRIES);
      await settled;
      assert.equal(n, FILE_READ_RETRIES + 1);
    });

    it('throws a problem that is not transient at once', async () => {
      const broken = new Error('not a regular file');
      const script = scripted({ ok: false, transient: false, error: broken });
      await assert.rejects(readWithRetries(script.read, 10), (error) => error === broken);
      assert.equal(script.calls(), 1);
    });

    it("stops waiting with the first signal's reason when one aborts", async () => {
      const caller = new AbortController();
      const closing = new AbortController();
      const script = scripted(missing(1));
      const pending = readWithRetries(script.read, 60_000, caller.signal, closing.signal);
      const reason = new Error('closed');
      const settled = assert.rejects(pending, (error) => error === reason);
      await clock.tickAsync(0);
      closing.abort(reason);
      await settled;
      assert.equal(script.calls(), 1);
    });
  });
});
