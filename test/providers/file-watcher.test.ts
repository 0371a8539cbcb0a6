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

// Captured before any test fakes them: waiting for the file system is real time.
const realSetTimeout = setTimeout;
const realNow = () => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => realSetTimeout(r, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = realNow() + timeoutMs;
  while (!condition()) {
    if (realNow() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Fakes the watcher's timers (debounce, re-watch, poll) and its clock; the file system stays real. */
function fakeTimers(): sinon.SinonFakeTimers {
  return sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
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
    sinon.restore();
    for (const w of watches) w.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks for one read after a burst of changes in the directory, debounceMs after the last', async () => {
    const clock = fakeTimers();
    const { onCheck } = watch({ path: join(dir, 'creds.json'), debounceMs: 100 });
    for (let i = 0; i < 5; i++) await writeFile(join(dir, 'creds.json'), `{"n":${i}}`);
    await waitFor(() => clock.countTimers() === 1, 'the debounce timer');
    await sleep(50); // the burst's other events, if they come late, only move the timer
    assert.equal(onCheck.callCount, 0, 'read before the debounce');
    clock.tick(99);
    assert.equal(onCheck.callCount, 0, 'read before the debounce');
    clock.tick(1);
    assert.equal(onCheck.callCount, 1);
    assert.equal(clock.countTimers(), 0);
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
    const clock = fakeTimers();
    const { onCheck, onError } = watch({ path });
    assert.equal(onError.callCount, 1, 'reported before watchDirectory returns');
    const error = onError.firstCall.args[0];
    assert.ok(error instanceof FileProviderError);
    assert.equal(error.path, path);
    assert.match(error.message, /could not be watched: its directory '.*not-yet' gave ENOENT; polling continues/);

    clock.tick(20 + 40 + 80); // three re-watch attempts with backoff, the directory still missing
    assert.equal(onError.callCount, 1, 'reported again');
    assert.equal(onCheck.callCount, 0);
    mkdirSync(missing);
    clock.tick(160); // the next attempt watches it, and asks for a read of what changed meanwhile
    assert.equal(onCheck.callCount, 1);
    clock.restore();
    onCheck.resetHistory();
    await writeFile(path, '{}');
    await waitFor(() => onCheck.called, 'a change seen by the new watch');
  });

  it('calls nothing after close', async () => {
    const clock = fakeTimers();
    const path = join(dir, 'creds.json');
    const { onCheck, onError, handle } = watch({ path, pollIntervalMs: 20 });
    handle.close();
    handle.close();
    await writeFile(path, '{}');
    clock.tick(60_000); // polls and a debounced read would both have run by now
    assert.equal(clock.countTimers(), 0);
    assert.equal(onCheck.callCount, 0);
    assert.equal(onError.callCount, 0);
  });
});
