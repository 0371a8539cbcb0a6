/**
 * providers/file/watcher.ts: the directory watch behind `FileProvider.subscribe()`, on a real
 * directory. (What a subscriber sees end to end is in file.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sinon from 'sinon';
import { FileProviderError } from '../../providers/file/errors.js';
import { watchDirectory, type DirectoryWatch, type DirectoryWatchOptions } from '../../providers/file/watcher.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('watching the directory of a credentials file', () => {
  let dir: string;
  let watches: DirectoryWatch[];

  function watch(options: Partial<DirectoryWatchOptions> & Pick<DirectoryWatchOptions, 'path'>) {
    const onCheck = sinon.spy();
    const onError = sinon.spy((_error: FileProviderError) => {});
    const handle = watchDirectory({ debounceMs: 20, pollIntervalMs: 0, retryIntervalMs: 20, onCheck, onError, ...options });
    watches.push(handle);
    return { onCheck, onError, handle };
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'credswap-file-watch-'));
    watches = [];
  });

  afterEach(() => {
    for (const w of watches) w.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks for one read after a burst of changes in the directory', async () => {
    const { onCheck } = watch({ path: join(dir, 'creds.json'), debounceMs: 100 });
    for (let i = 0; i < 5; i++) await writeFile(join(dir, 'creds.json'), `{"n":${i}}`);
    await waitFor(() => onCheck.called, 'onCheck');
    await sleep(300);
    assert.equal(onCheck.callCount, 1);
  });

  it('sees a file renamed over the old one', async () => {
    const path = join(dir, 'creds.json');
    await writeFile(path, '{}');
    const { onCheck } = watch({ path });
    await writeFile(`${path}.tmp`, '{"new":true}');
    await rename(`${path}.tmp`, path);
    await waitFor(() => onCheck.called, 'onCheck');
  });

  it('asks for a read every pollIntervalMs without any change', async () => {
    const { onCheck } = watch({ path: join(dir, 'creds.json'), pollIntervalMs: 30 });
    await waitFor(() => onCheck.callCount >= 3, 'three polls');
  });

  it('reports a directory it cannot watch once, and watches it once it exists', async () => {
    const missing = join(dir, 'not-yet');
    const path = join(missing, 'creds.json');
    const { onCheck, onError } = watch({ path });
    assert.equal(onError.callCount, 1, 'reported before watchDirectory returns');
    const error = onError.firstCall.args[0];
    assert.ok(error instanceof FileProviderError);
    assert.equal(error.path, path);
    assert.match(error.message, /could not be watched: its directory '.*not-yet' gave ENOENT; polling continues/);

    await sleep(100); // retried with backoff, still missing: not reported again
    assert.equal(onError.callCount, 1);
    mkdirSync(missing);
    await waitFor(() => onCheck.called, 'the read after the watch started');
    onCheck.resetHistory();
    await writeFile(path, '{}');
    await waitFor(() => onCheck.called, 'a change seen by the new watch');
  });

  it('calls nothing after close', async () => {
    const path = join(dir, 'creds.json');
    const { onCheck, onError, handle } = watch({ path, pollIntervalMs: 20 });
    handle.close();
    handle.close();
    await writeFile(path, '{}');
    await sleep(150);
    assert.equal(onCheck.callCount, 0);
    assert.equal(onError.callCount, 0);
  });
});
