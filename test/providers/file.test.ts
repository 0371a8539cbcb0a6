import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, watch } from 'node:fs';
import fsPromises, { mkdir, rename, rm, symlink, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';
import sinon from 'sinon';
import { sealCredentials, type Credentials } from '../../lib/credentials.js';
import { RotationCoordinator } from '../../lib/coordinator.js';
import { ClosedError, InvalidCredentialsError, InvalidOptionError, RotationCooldownError } from '../../lib/errors.js';
import { FileProviderError } from '../../providers/file/errors.js';
import type { FetchContext } from '../../lib/provider.js';
import { FileProvider, type FileProviderOptions } from '../../providers/file/index.js';
import { spySubscriber } from '../helpers/subscriber.js';

const PASSWORD = 'Zq9!xK#7vPmW';
const NEW_PASSWORD = 'Hy4$rT@2nLcB';
const SENTINEL = 'Sentinel-8wQ';
const INITIAL: FetchContext = { reason: 'initial' };
/** Fast settings for watch tests; no polling, so that only the watcher can see a change. */
const FAST = { debounceMs: 20, retryIntervalMs: 50, pollIntervalMs: 0 } satisfies Partial<FileProviderOptions>;

let dir: string;
let providers: FileProvider[];

function provider(options: FileProviderOptions): FileProvider {
  const p = new FileProvider(options);
  providers.push(p);
  return p;
}

function json(password: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ username: 'app', password, host: '127.0.0.1', port: 3306, dbname: 'shop', ...extra });
}

function read(p: FileProvider, current?: Credentials): Promise<Credentials | undefined> {
  return p.getCredentials(new AbortController().signal, current as never, INITIAL);
}

// Captured before any test fakes them: waiting for the file system is real time.
const realSetTimeout = setTimeout;
const sleep = (ms: number): Promise<void> => new Promise((r) => realSetTimeout(r, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * The provider's reads of the file so far. Each read opens the file once (with `open` of
 * `node:fs/promises`) and is over when it closes it, or when the open fails. `open` is wrapped
 * to count them, and still opens the real file.
 */
const reads = { started: 0, ended: 0 };

function countReads(): sinon.SinonStub {
  reads.started = reads.ended = 0;
  const open = fsPromises.open;
  return sinon.stub(fsPromises, 'open').callsFake(async (...args: Parameters<typeof open>) => {
    reads.started++;
    let handle: FileHandle;
    try {
      handle = await open(...args);
    } catch (err) {
      reads.ended++;
      throw err;
    }
    const close = handle.close.bind(handle);
    handle.close = () => close().finally(() => reads.ended++);
    return handle;
  });
}

/** Waits until no read of the file is under way and what the last one found has been handled. */
async function readsSettled(): Promise<void> {
  await waitFor(() => reads.ended === reads.started, 'the reads under way');
  await sleep(0); // after the file is closed, a read ends in promise callbacks: they have run by now
}

/**
 * Fakes the timers a subscription reads on (debounce, retries, poll): after a change, the file
 * is read only when the test runs the clock. The file system and the watch's events stay real.
 */
function fakeTimers(): sinon.SinonFakeTimers {
  return sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
}

/**
 * With {@link fakeTimers}: waits for the watch to see a change (its debounce timer is then the
 * one timer pending), runs the debounce, and waits for the one read it starts to be over.
 */
async function debouncedRead(clock: sinon.SinonFakeTimers): Promise<void> {
  await waitFor(() => clock.countTimers() === 1, 'the watch to see the change');
  const started = reads.started;
  clock.tick(FAST.debounceMs);
  assert.equal(reads.started, started + 1, 'the debounce started one read');
  await readsSettled();
}

/**
 * Resolves once a watch of the test's own on `directory` reports `name`, after every other watch
 * of the directory has been told too: the kernel's notice reaches them all in the same turn.
 */
function watchFor(directory: string, name: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(directory, { persistent: false }, (_event, filename) => {
      if (filename !== name) return;
      watcher.close();
      setImmediate(resolve);
    });
  });
}

/** Every 4-character piece of the password: none may appear in a message. */
function assertNoPartOf(password: string, text: string): void {
  for (let i = 0; i + 4 <= password.length; i++) {
    const piece = password.slice(i, i + 4);
    assert.ok(!text.includes(piece), `found '${piece}' of the password in: ${text}`);
  }
}

/**
 * Writes `SENTINEL` credentials with `write` and waits for their report: reads follow one
 * another, so any report the test did not expect comes before it. Returns the passwords
 * reported, the sentinel's last. This is how a test checks that nothing else was reported,
 * instead of sleeping and counting.
 */
async function reportsUntilSentinel(
  onChange: sinon.SinonSpy<[Credentials], void>,
  write: (content: string) => Promise<void>,
): Promise<string[]> {
  await write(json(SENTINEL));
  await waitFor(() => onChange.args.some(([c]) => c.password === SENTINEL), 'the sentinel credentials');
  return onChange.args.map(([c]) => c.password);
}

/** Subscribes with spies, then waits for the read that starts every subscription to be over. */
async function subscribe(p: FileProvider) {
  const subscription = spySubscriber(p);
  await readsSettled();
  return subscription;
}

describe('FileProvider', () => {
  let openStub: sinon.SinonStub;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'credswap-file-'));
    providers = [];
    openStub = countReads();
  });

  afterEach(() => {
    for (const p of providers) p.close();
    openStub.restore();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('reading the file', () => {
    it('reads JSON with username and dbname, as AWS Secrets Manager stores database secrets', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD, { engine: 'mysql', dbInstanceIdentifier: 'db-1' }));
      const creds = await read(provider({ path }));
      assert.deepEqual(
        { ...creds, password: creds?.password },
        { user: 'app', password: PASSWORD, host: '127.0.0.1', port: 3306, database: 'shop' },
      );
    });

    it('reads JSON with user, database and a port given as a string', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, JSON.stringify({ user: 'app', password: PASSWORD, database: 'shop', port: '3307' }));
      const creds = await read(provider({ path }));
      assert.equal(creds?.user, 'app');
      assert.equal(creds?.password, PASSWORD);
      assert.equal(creds?.database, 'shop');
      assert.equal(creds?.port, 3307);
    });

    it('reads a mysql:// URL and percent-decodes the user and the password', async () => {
      const path = join(dir, 'db-url');
      await writeFile(path, `mysql://${encodeURIComponent('app@eu')}:${encodeURIComponent(PASSWORD)}@127.0.0.1:3307/shop\n`);
      const creds = await read(provider({ path }));
      assert.equal(creds?.user, 'app@eu');
      assert.equal(creds?.password, PASSWORD);
      assert.equal(creds?.host, '127.0.0.1');
      assert.equal(creds?.port, 3307);
      assert.equal(creds?.database, 'shop');
    });

    it('reads KEY=VALUE lines with comments, blank lines, quotes, export and lower-case keys', async () => {
      const path = join(dir, 'db.env');
      await writeFile(
        path,
        [
          '# rendered by Vault Agent',
          '',
          'export DB_USER=app',
          `db_password="${PASSWORD}"`,
          "DB_HOST='127.0.0.1'",
          '  DB_PORT = 3307  ',
          'DB_NAME=shop',
          'UNRELATED=ignored',
        ].join('\n'),
      );
      const creds = await read(provider({ path }));
      assert.equal(creds?.user, 'app');
      assert.equal(creds?.password, PASSWORD);
      assert.equal(creds?.host, '127.0.0.1');
      assert.equal(creds?.port, 3307);
      assert.equal(creds?.database, 'shop');
    });

    it('reads the short KEY=VALUE spellings USER, PASSWORD, HOST, PORT and DATABASE', async () => {
      const path = join(dir, 'db.env');
      await writeFile(path, `USER=app\nPASSWORD=${PASSWORD}\nHOST=db\nPORT=3306\nDATABASE=shop\n`);
      const creds = await read(provider({ path }));
      assert.deepEqual(JSON.parse(JSON.stringify(creds)), {
        user: 'app',
        password: '[redacted]',
        host: 'db',
        port: 3306,
        database: 'shop',
      });
    });

    it('reads the format it is told even where auto-detection would guess differently', async () => {
      const path = join(dir, 'creds');
      await writeFile(path, json(PASSWORD));
      await assert.rejects(read(provider({ path, format: 'env', retryIntervalMs: 0 })), InvalidCredentialsError);
      assert.equal((await read(provider({ path, format: 'json' })))?.password, PASSWORD);
    });

    it('resolves to undefined when the file holds the credentials the pool already uses', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const p = provider({ path });
      const current = await read(p);
      assert.ok(current);
      assert.equal(await read(p, current), undefined);
      assert.ok(await read(p, sealCredentials({ user: 'app', password: 'old' }, 'test')));
    });

    it('returns sealed credentials that redact the password in inspect and JSON', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const creds = await read(provider({ path }));
      assert.ok(Object.isFrozen(creds));
      assertNoPartOf(PASSWORD, inspect(creds, { showHidden: true, depth: 5 }));
      assertNoPartOf(PASSWORD, JSON.stringify(creds));
    });
  });

  describe('errors', () => {
    it('rejects malformed JSON with an InvalidCredentialsError naming the file and quoting none of it', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, `{"username":"app","password":"${PASSWORD}","port": }`);
      const err = await read(provider({ path, retryIntervalMs: 0 })).catch((e: unknown) => e);
      assert.ok(err instanceof InvalidCredentialsError);
      assert.equal(err.source, path);
      assert.ok(err.message.includes(path), err.message);
      assertNoPartOf(PASSWORD, inspect(err));
    });

    it('rejects a bad port with an error naming the file and the key but not the password', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD, { port: '33o6' }));
      const err = await read(provider({ path, retryIntervalMs: 0 })).catch((e: unknown) => e);
      assert.ok(err instanceof InvalidCredentialsError);
      assert.equal(err.key, 'port');
      assert.ok(err.message.includes(path) && err.message.includes("'port'"), err.message);
      assertNoPartOf(PASSWORD, inspect(err));
    });

    it('names the KEY=VALUE key as written in the file when its value is bad', async () => {
      const path = join(dir, 'db.env');
      await writeFile(path, `DB_USER=app\nDB_PASSWORD=${PASSWORD}\nDB_PORT=${PASSWORD}\n`);
      const err = await read(provider({ path, retryIntervalMs: 0 })).catch((e: unknown) => e);
      assert.ok(err instanceof InvalidCredentialsError);
      assert.equal(err.key, 'DB_PORT');
      assert.ok(err.message.includes('DB_PORT'), err.message);
      assertNoPartOf(PASSWORD, inspect(err));
    });

    it('rejects a file without a password, naming the missing key', async () => {
      const path = join(dir, 'db.env');
      await writeFile(path, 'DB_USER=app\nDB_HOST=127.0.0.1\n');
      const err = await read(provider({ path, retryIntervalMs: 0 })).catch((e: unknown) => e);
      assert.ok(err instanceof InvalidCredentialsError);
      assert.equal(err.key, 'password');
      assert.ok(err.message.includes('DB_PASSWORD'), err.message);
    });

    it('rejects a URL with a malformed percent-escape in the password without quoting it', async () => {
      const path = join(dir, 'db-url');
      await writeFile(path, `mysql://app:${encodeURIComponent(PASSWORD)}%zz@127.0.0.1/shop`);
      const err = await read(provider({ path, retryIntervalMs: 0 })).catch((e: unknown) => e);
      assert.ok(err instanceof InvalidCredentialsError);
      assert.equal(err.key, 'password');
      assertNoPartOf(PASSWORD, inspect(err));
    });

    it('rejects a missing file at start with a FileProviderError naming the path', async () => {
      const path = join(dir, 'absent.json');
      const err = await read(provider({ path, retryIntervalMs: 0 })).catch((e: unknown) => e);
      assert.ok(err instanceof FileProviderError);
      assert.equal(err.path, path);
      assert.ok(err.message.includes(path) && err.message.includes('ENOENT'), err.message);
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'ENOENT');
    });

    it('fails a pool’s first fetch after the retries when the file is missing, and reads it after the cooldown once it appears', async () => {
      const path = join(dir, 'late.json');
      const coordinator = new RotationCoordinator({ provider: provider({ path, retryIntervalMs: 5 }), cooldownMs: 50 });
      try {
        const first = await coordinator.acquire().catch((e: unknown) => e);
        assert.ok(first instanceof FileProviderError, inspect(first));
        assert.equal(first.path, path);
        const cooling = await coordinator.acquire().catch((e: unknown) => e);
        assert.ok(cooling instanceof RotationCooldownError, inspect(cooling));
        assert.equal(cooling.cause, first);
        await writeFile(path, json(PASSWORD));
        await sleep(cooling.retryAt - Date.now() + 1); // the cooldown's end: then a fetch must happen
        const { credentials } = await coordinator.acquire();
        assert.equal(credentials.password, PASSWORD);
      } finally {
        await coordinator.close();
      }
    });

    it('rejects a directory given as the file with a FileProviderError', async () => {
      const err = await read(provider({ path: dir, retryIntervalMs: 0 })).catch((e: unknown) => e);
      assert.ok(err instanceof FileProviderError);
      assert.equal(err.path, dir);
    });

    it('waits out a file that appears while it retries', async () => {
      const path = join(dir, 'late.json');
      const pending = read(provider({ path, retryIntervalMs: 50 }));
      await sleep(80);
      await writeFile(path, json(PASSWORD));
      assert.equal((await pending)?.password, PASSWORD);
    });

    it("rejects with the signal's reason when the signal has already fired", async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const reason = new Error('caller gave up');
      await assert.rejects(provider({ path }).getCredentials(AbortSignal.abort(reason), undefined, INITIAL), (e) => e === reason);
    });

    it("rejects with the signal's reason at once when the signal fires during a retry wait", async () => {
      const path = join(dir, 'absent.json');
      const controller = new AbortController();
      const reason = new Error('timeout');
      // A retry wait longer than the test's timeout: only the abort can settle the call in time.
      const pending = provider({ path, retryIntervalMs: 600_000 }).getCredentials(controller.signal, undefined, INITIAL);
      setTimeout(() => controller.abort(reason), 30);
      await assert.rejects(pending, (e) => e === reason);
    });

    it('rejects with ClosedError after close, also a call waiting to retry', async () => {
      const path = join(dir, 'absent.json');
      const p = provider({ path, retryIntervalMs: 60_000 });
      const pending = read(p);
      await sleep(20);
      p.close();
      await assert.rejects(pending, ClosedError);
      await assert.rejects(read(p), ClosedError);
      assert.throws(
        () =>
          p.subscribe(
            () => {},
            () => {},
          ),
        ClosedError,
      );
    });

    it('rejects unknown options, wrong types and negative durations, naming the option', () => {
      const path = join(dir, 'creds.json');
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ path, pollInterval: 100 }, 'FileProvider.pollInterval'],
        [{ path, pollIntervalMs: -1 }, 'FileProvider.pollIntervalMs'],
        [{ path, debounceMs: '100' }, 'FileProvider.debounceMs'],
        [{ path, retryIntervalMs: Number.NaN }, 'FileProvider.retryIntervalMs'],
        [{ path, retryIntervalMs: 2 ** 31 }, 'FileProvider.retryIntervalMs'],
        [{ path, format: 'yaml' }, 'FileProvider.format'],
        [{ path, name: '' }, 'FileProvider.name'],
        [{ path: '' }, 'FileProvider.path'],
        [{}, 'FileProvider.path'],
      ];
      for (const [options, option] of cases) {
        assert.throws(
          () => new FileProvider(options as never),
          (e: unknown) => e instanceof InvalidOptionError && e.option === option && e.message.includes(option),
          option,
        );
      }
      assert.throws(() => new FileProvider(undefined as never), InvalidOptionError);
    });

    it('accepts 0 for every duration', () => {
      assert.doesNotThrow(() => provider({ path: 'x', debounceMs: 0, pollIntervalMs: 0, retryIntervalMs: 0 }));
    });

    it('is named after the absolute path unless given a name', () => {
      assert.equal(provider({ path: 'relative/creds.json' }).name, `file:${resolve('relative/creds.json')}`);
      assert.equal(provider({ path: 'x', name: 'db-secret' }).name, 'db-secret');
    });
  });

  describe('watching for changes', () => {
    /** Updates a Secret volume the way the kubelet's atomic writer does. */
    async function kubeletUpdate(from: string, to: string, content: string): Promise<void> {
      await mkdir(join(dir, to));
      await writeFile(join(dir, to, 'credentials.json'), content);
      await symlink(to, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      await rm(join(dir, from), { recursive: true });
    }

    it('reports each Kubernetes Secret update (a ..data symlink swap) once, with the new credentials', async () => {
      // The layout the kubelet's atomic writer builds in a Secret volume.
      const v1 = '..2026_01_01_00_00_00.000000001';
      mkdirSync(join(dir, v1));
      await writeFile(join(dir, v1, 'credentials.json'), json(PASSWORD));
      symlinkSync(v1, join(dir, '..data'));
      symlinkSync('..data/credentials.json', join(dir, 'credentials.json'));

      const p = provider({ path: join(dir, 'credentials.json'), ...FAST });
      assert.equal((await read(p))?.password, PASSWORD);
      const { onChange, onError } = await subscribe(p);

      await kubeletUpdate(v1, '..2026_01_01_00_05_00.000000002', json(NEW_PASSWORD));
      await waitFor(() => onChange.called, 'onChange');
      // A watch on the file itself would have died with the first update's old directory.
      await kubeletUpdate('..2026_01_01_00_05_00.000000002', '..2026_01_01_00_10_00.000000003', json(PASSWORD));
      await waitFor(() => onChange.callCount === 2, 'a second onChange');
      const reported = await reportsUntilSentinel(onChange, (content) =>
        kubeletUpdate('..2026_01_01_00_10_00.000000003', '..2026_01_01_00_15_00.000000004', content),
      );
      assert.deepEqual(reported, [NEW_PASSWORD, PASSWORD, SENTINEL], 'an update reported twice');
      assert.equal(onError.callCount, 0);
    });

    it('reports each file replaced by an atomic rename, as editors and Vault Agent write it', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const p = provider({ path, ...FAST });
      await read(p);
      const { onChange } = await subscribe(p);

      for (const [i, password] of [NEW_PASSWORD, PASSWORD].entries()) {
        await writeFile(`${path}.tmp`, json(password));
        await rename(`${path}.tmp`, path);
        await waitFor(() => onChange.callCount === i + 1, `onChange #${i + 1}`);
        assert.equal(onChange.getCall(i).args[0].password, password);
      }
    });

    it('reports a file rewritten in place', async () => {
      const path = join(dir, 'db.env');
      await writeFile(path, `DB_USER=app\nDB_PASSWORD=${PASSWORD}\n`);
      const p = provider({ path, ...FAST });
      await read(p);
      const { onChange } = await subscribe(p);

      await writeFile(path, `DB_USER=app\nDB_PASSWORD=${NEW_PASSWORD}\n`);

      await waitFor(() => onChange.called, 'onChange');
      assert.equal(onChange.firstCall.args[0].password, NEW_PASSWORD);
    });

    it('does not report a file rewritten with the same credentials', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const p = provider({ path, ...FAST });
      await read(p);
      const { onChange } = await subscribe(p);

      // Same credentials, different bytes (key order, whitespace, a field that is not compared).
      await writeFile(
        `${path}.tmp`,
        `{ "password": "${PASSWORD}", "username": "app", "dbname": "shop",
        "host": "127.0.0.1", "port": "3306", "engine": "mysql" }`,
      );
      await rename(`${path}.tmp`, path);
      await sleep(300); // so that it is read on its own, not together with the change below
      // Then a real change: it must be the only one reported.
      await writeFile(path, json(NEW_PASSWORD));
      await waitFor(() => onChange.called, 'onChange');
      assert.deepEqual(await reportsUntilSentinel(onChange, (content) => writeFile(path, content)), [NEW_PASSWORD, SENTINEL]);
    });

    it('reads a burst of writes once and reports only the final credentials', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const p = provider({ path, ...FAST, debounceMs: 150 });
      await read(p);
      const { onChange } = await subscribe(p);

      for (let i = 1; i <= 5; i++) await writeFile(path, json(`${NEW_PASSWORD}-${i}`));

      await waitFor(() => onChange.called, 'onChange');
      const reported = await reportsUntilSentinel(onChange, (content) => writeFile(path, content));
      assert.deepEqual(reported, [`${NEW_PASSWORD}-5`, SENTINEL]);
    });

    it('keeps the last good credentials through a half-written file and reports only the complete one', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const p = provider({ path, ...FAST, retryIntervalMs: 200 });
      await read(p);
      const { onChange, onError } = await subscribe(p);

      const complete = json(NEW_PASSWORD);
      await writeFile(path, complete.slice(0, complete.length - 20)); // a writer that has not finished
      await sleep(300); // so that it is read, found invalid, and retried at least once
      await writeFile(path, complete);
      await waitFor(() => onChange.called, 'onChange');
      assert.deepEqual(await reportsUntilSentinel(onChange, (content) => writeFile(path, content)), [NEW_PASSWORD, SENTINEL]);
      assert.equal(onError.callCount, 0);
    });

    it('reports a file that stays invalid once, after the retries, and recovers when it is fixed', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const p = provider({ path, ...FAST, retryIntervalMs: 30 });
      await read(p);
      const { onChange, onError } = await subscribe(p);

      await writeFile(path, `{"username":"app","password":"${NEW_PASSWORD}"`);
      await waitFor(() => onError.called, 'onError');
      // From here the test runs the watch's timers: the next content is read once, when it says.
      const clock = fakeTimers();
      try {
        await writeFile(path, `{"username":"app","password":"${NEW_PASSWORD}",`); // still invalid: same problem
        await debouncedRead(clock);
        assert.equal(onError.callCount, 1);
        const err = onError.firstCall.args[0];
        assert.ok(err instanceof InvalidCredentialsError);
        assertNoPartOf(NEW_PASSWORD, inspect(err));
        assert.equal(onChange.callCount, 0);

        await writeFile(path, json(NEW_PASSWORD));
        await debouncedRead(clock);
        assert.deepEqual(
          onChange.args.map(([c]) => c.password),
          [NEW_PASSWORD],
        );
      } finally {
        clock.restore();
      }
    });

    it('picks up by polling a change that no watcher event announces', async () => {
      // The path is a symlink into another directory: the watch on the path's directory sees
      // nothing when the target directory changes.
      const { onChange, change } = await symlinkedElsewhere({ pollIntervalMs: 100 });
      await change();
      await waitFor(() => onChange.called, 'onChange', 3000);
      assert.equal(onChange.firstCall.args[0].password, NEW_PASSWORD);
    });

    it('without polling, misses that change (which is what the poll is for)', async () => {
      // Every timer the provider could read on is fake, so nothing reads the file unless the
      // test runs the clock: a watch that saw the change would leave a debounce timer pending.
      const clock = fakeTimers();
      try {
        const { onChange, change, elsewhere } = await symlinkedElsewhere({ pollIntervalMs: 0 });
        const started = reads.started;
        const told = watchFor(elsewhere, 'real.json');
        await change();
        await told; // a watch on the target's directory would have been told by now
        assert.equal(clock.countTimers(), 0, 'a read is scheduled: the change was seen, or a poll runs');
        assert.equal(reads.started, started, 'the file was read again');
        assert.equal(onChange.callCount, 0);
      } finally {
        clock.restore();
      }
    });

    /** A provider subscribed to a symlink into another directory, and how to change the target. */
    async function symlinkedElsewhere(options: Partial<FileProviderOptions>) {
      const watched = join(dir, 'watched');
      const elsewhere = join(dir, 'elsewhere');
      mkdirSync(watched);
      mkdirSync(elsewhere);
      await writeFile(join(elsewhere, 'real.json'), json(PASSWORD));
      symlinkSync(join(elsewhere, 'real.json'), join(watched, 'creds.json'));
      const p = provider({ path: join(watched, 'creds.json'), ...FAST, ...options });
      await read(p);
      const spies = await subscribe(p);
      const change = async (): Promise<void> => {
        await writeFile(join(elsewhere, 'real.json.tmp'), json(NEW_PASSWORD));
        await rename(join(elsewhere, 'real.json.tmp'), join(elsewhere, 'real.json'));
      };
      return { ...spies, change, elsewhere };
    }

    it('watches the new directory after the directory was replaced', async () => {
      // Only setInterval is faked: the poll runs when the test says, so that the change at the
      // end can only be seen by a watcher on the new directory.
      const clock = sinon.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      try {
        const secrets = join(dir, 'secrets');
        mkdirSync(secrets);
        await writeFile(join(secrets, 'creds.json'), json(PASSWORD));
        const p = provider({ path: join(secrets, 'creds.json'), ...FAST, pollIntervalMs: 60_000 });
        await read(p);
        const { onChange, onError } = await subscribe(p);

        await rename(secrets, join(dir, 'secrets.old'));
        mkdirSync(secrets);
        await writeFile(join(secrets, 'creds.json'), json(PASSWORD));
        await sleep(100);
        clock.tick(60_000); // the poll notices the directory is another one and watches it
        await sleep(100);

        await writeFile(join(secrets, 'creds.json'), json(NEW_PASSWORD));
        await waitFor(() => onChange.called, 'onChange');
        assert.equal(onChange.firstCall.args[0].password, NEW_PASSWORD);
        // No poll runs from here on: only a watcher on the new directory can see this.
        await writeFile(join(secrets, 'creds.json'), json(PASSWORD));
        await waitFor(() => onChange.callCount === 2, 'a second onChange');
        assert.equal(onChange.secondCall.args[0].password, PASSWORD);
        assert.equal(onError.callCount, 0);
      } finally {
        clock.restore();
      }
    });

    it('reports a directory it cannot watch, and watches it once it exists', async () => {
      const secrets = join(dir, 'not-yet');
      const path = join(secrets, 'creds.json');
      const p = provider({ path, ...FAST, retryIntervalMs: 20 });
      const { onChange, onError } = await subscribe(p);
      // Reported once each: the directory cannot be watched, the file cannot be read.
      const reported = (what: string) => onError.args.filter(([e]) => e.message.includes(what)).length;
      await waitFor(() => reported('could not be watched') === 1 && reported('could not be read') === 1, 'both errors');
      assert.ok(onError.args.every(([e]) => e instanceof FileProviderError && e.path === path));

      mkdirSync(secrets);
      await writeFile(path, json(PASSWORD));
      assert.equal((await read(p))?.password, PASSWORD); // as the pool's next attempt would
      await writeFile(path, json(NEW_PASSWORD));
      await waitFor(() => onChange.callCount === 1, 'onChange');
      assert.equal(onChange.firstCall.args[0].password, NEW_PASSWORD);
      // Without polling, only a watcher on the directory can see this.
      await writeFile(path, json(PASSWORD));
      await waitFor(() => onChange.callCount === 2, 'a second onChange');
      assert.equal(onChange.secondCall.args[0].password, PASSWORD);
      assert.equal(onError.callCount, 2);
    });

    it('tells every subscriber, and stops telling one that unsubscribed', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const p = provider({ path, ...FAST });
      await read(p);
      const first = await subscribe(p);
      const second = await subscribe(p);

      await writeFile(path, json(NEW_PASSWORD));
      await waitFor(() => first.onChange.called && second.onChange.called, 'both subscribers');

      first.unsubscribe();
      await writeFile(path, json(PASSWORD));
      await waitFor(() => second.onChange.callCount === 2, 'the remaining subscriber');
      assert.equal(first.onChange.callCount, 1);
    });

    it('passes an error thrown by onChange to onError', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const p = provider({ path, ...FAST });
      await read(p);
      const thrown = new Error('listener bug');
      const onError = sinon.spy();
      p.subscribe(() => {
        throw thrown;
      }, onError);

      await writeFile(path, json(NEW_PASSWORD));
      await waitFor(() => onError.called, 'onError');
      assert.equal(onError.firstCall.args[0], thrown);
    });

    it('does not report credentials already returned by getCredentials', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const p = provider({ path, ...FAST });
      await read(p);
      const { onChange } = await subscribe(p);

      // The debounced read runs when the test says: after the pool's read.
      const clock = fakeTimers();
      try {
        await writeFile(path, json(NEW_PASSWORD));
        await waitFor(() => clock.countTimers() === 1, 'the watch to see the change');
        // The pool asks (say after a 1045) before the debounced read runs.
        assert.equal((await read(p))?.password, NEW_PASSWORD);
        await debouncedRead(clock);
        assert.equal(onChange.callCount, 0);
      } finally {
        clock.restore();
      }
    });
  });

  describe('cleaning up', () => {
    /** Tracks timers and directory watchers created while `track` runs. */
    async function handlesLeftBehind(track: () => Promise<void>): Promise<string[]> {
      const live = new Map<number, string>();
      let recording = false;
      const hook = createHook({
        init(id, type) {
          if (recording && (type === 'Timeout' || type === 'FSEVENTWRAP')) live.set(id, type);
        },
        destroy(id) {
          live.delete(id);
        },
      }).enable();
      try {
        // Mocha arms its own timeout timer once the test function has returned its promise.
        await Promise.resolve();
        recording = true;
        await track();
        recording = false;
        // Destroy hooks run shortly after a handle closes or a timer is cleared.
        const deadline = Date.now() + 1000;
        while (live.size > 0 && Date.now() < deadline) await sleep(20);
        return [...live.values()];
      } finally {
        hook.disable();
      }
    }

    /** Subscribes with a poll timer and a pending retry timer, then runs `stop`. */
    async function busySubscription(stop: (p: FileProvider, unsubscribe: () => void) => void): Promise<void> {
      const debounceMs = 20;
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const p = provider({ path, debounceMs, pollIntervalMs: 60_000, retryIntervalMs: 60_000 });
      await read(p);
      const { onChange, unsubscribe } = await subscribe(p);
      await writeFile(path, json(NEW_PASSWORD));
      await waitFor(() => onChange.called, 'onChange');
      const before = reads.started;
      await writeFile(path, '{"username":');
      // Read and found invalid: a retry timer is pending.
      await waitFor(() => reads.started > before, 'the read of the invalid file');
      await readsSettled();

      const stopped = reads.started;
      stop(p, unsubscribe);
      const told = watchFor(dir, 'creds.json');
      await writeFile(`${path}.tmp`, json(PASSWORD));
      await rename(`${path}.tmp`, path);
      await told;
      // A watch still running was told of the rename too, and armed its debounce timer before
      // this timer of the same length: it would have fired, and started a read, by now.
      await sleep(debounceMs);
      assert.equal(reads.started, stopped, 'the file was read after stopping');
      assert.equal(onChange.callCount, 1, 'a change after stopping was reported');
    }

    it('unsubscribe stops the watcher and every timer', async () => {
      await Promise.resolve(); // past the arming of mocha's timeout timer
      const before = process.getActiveResourcesInfo();
      const left = await handlesLeftBehind(() => busySubscription((_p, unsubscribe) => unsubscribe()));
      assert.deepEqual(left, []);
      assert.deepEqual(process.getActiveResourcesInfo().sort(), before.sort());
    });

    it('close stops the watcher and every timer', async () => {
      await Promise.resolve(); // past the arming of mocha's timeout timer
      const before = process.getActiveResourcesInfo();
      const left = await handlesLeftBehind(() => busySubscription((p) => p.close()));
      assert.deepEqual(left, []);
      assert.deepEqual(process.getActiveResourcesInfo().sort(), before.sort());
    });

    it('leaves nothing running when closed from onError while the watch starts', async () => {
      await Promise.resolve(); // past the arming of mocha's timeout timer
      const before = process.getActiveResourcesInfo();
      const left = await handlesLeftBehind(async () => {
        // The directory cannot be watched: onError runs before subscribe() returns.
        const p = provider({ path: join(dir, 'not-yet', 'creds.json'), pollIntervalMs: 60_000, retryIntervalMs: 60_000 });
        const onError = sinon.spy(() => p.close());
        p.subscribe(() => {}, onError);
        assert.equal(onError.callCount, 1);
        await sleep(50);
      });
      assert.deepEqual(left, []);
      assert.deepEqual(process.getActiveResourcesInfo().sort(), before.sort());
    });

    it('does not keep the process alive while subscribed', async function () {
      this.timeout(30_000);
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const script = join(dir, 'child.ts');
      const entry = resolve(__dirname, '../../providers/file/index.ts');
      await writeFile(
        script,
        `import { FileProvider } from ${JSON.stringify(entry)};
        const p = new FileProvider({ path: ${JSON.stringify(path)} });
        p.getCredentials(new AbortController().signal, undefined, { reason: 'initial' }).then(() => {
          p.subscribe(() => {}, () => {});
          console.log('subscribed');
        });`,
      );
      const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((done) => {
        const child = execFile(
          process.execPath,
          ['--require', 'tsx/cjs', script],
          { cwd: resolve(__dirname, '../..'), timeout: 20_000 },
          (err, out) => done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout: out }),
        );
        child.stdin?.end();
      });
      assert.equal(stdout.trim(), 'subscribed');
      assert.equal(code, 0);
    });
  });

  describe('keeping secrets', () => {
    it('shows no password in inspect or JSON of the provider after reading and watching', async () => {
      const path = join(dir, 'creds.json');
      await writeFile(path, json(PASSWORD));
      const p = provider({ path, ...FAST });
      await read(p);
      const { unsubscribe } = await subscribe(p);
      assertNoPartOf(PASSWORD, inspect(p, { showHidden: true, depth: 10 }));
      assertNoPartOf(PASSWORD, JSON.stringify(p));
      unsubscribe();
    });
  });
});
