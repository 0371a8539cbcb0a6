/**
 * `credswap/file`: credentials from a file that something else keeps up to date, such as a
 * Kubernetes Secret volume or a Vault Agent template.
 *
 * @packageDocumentation
 */

import { constants, statSync, watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { sameCredentials, sealCredentials, type Credentials, type SealedCredentials } from '../../lib/credentials.js';
import { ClosedError, InvalidCredentialsError, InvalidOptionError } from '../../lib/errors.js';
import { FileProviderError } from './errors.js';
import { checkSubscriber, type CredentialsProvider, type FetchContext } from '../../lib/provider.js';
import { FILE_FORMATS, parseCredentialsText, type FileFormat } from './parse.js';

export type { FileFormat } from './parse.js';
export { FileProviderError } from './errors.js';

/**
 * Default of {@link FileProviderOptions.debounceMs}: 100 ms.
 * @example
 * ```ts
 * new FileProvider({ path, debounceMs: DEFAULT_FILE_DEBOUNCE_MS * 5 }); // a slow writer
 * ```
 */
export const DEFAULT_FILE_DEBOUNCE_MS = 100;
/**
 * Default of {@link FileProviderOptions.pollIntervalMs}: 10 s.
 * @example
 * ```ts
 * new FileProvider({ path, pollIntervalMs: DEFAULT_FILE_POLL_INTERVAL_MS * 6 }); // once a minute
 * ```
 */
export const DEFAULT_FILE_POLL_INTERVAL_MS = 10_000;
/**
 * Default of {@link FileProviderOptions.retryIntervalMs}: 250 ms.
 * @example
 * ```ts
 * // How long a file may stay half-written before it is reported, by default about 1 s:
 * const patience = DEFAULT_FILE_RETRY_INTERVAL_MS * FILE_READ_RETRIES;
 * ```
 */
export const DEFAULT_FILE_RETRY_INTERVAL_MS = 250;
/**
 * How many times a missing, empty or invalid file is re-read, `retryIntervalMs` apart, before
 * the problem is reported: a writer that is not atomic leaves such a file for a moment.
 * @example
 * ```ts
 * const patience = DEFAULT_FILE_RETRY_INTERVAL_MS * FILE_READ_RETRIES; // 1000 ms
 * ```
 */
export const FILE_READ_RETRIES = 4;
/**
 * Files larger than this (64 KiB) are refused with a {@link FileProviderError}: a credentials
 * file is a few hundred bytes, and a wrong path (a log, a device) must not be read whole.
 * @example
 * ```ts
 * if (stats.size > MAX_CREDENTIALS_FILE_BYTES) console.warn('not a credentials file');
 * ```
 */
export const MAX_CREDENTIALS_FILE_BYTES = 64 * 1024;

const MAX_TIMER_MS = 2_147_483_647;
const MAX_REWATCH_DELAY_MS = 30_000;
const OPTION_KEYS = new Set(['path', 'format', 'debounceMs', 'pollIntervalMs', 'retryIntervalMs', 'name']);

/**
 * Options of {@link FileProvider}.
 *
 * @example
 * ```ts
 * const options: FileProviderOptions = { path: '/etc/db-credentials/credentials.json', pollIntervalMs: 30_000 };
 * ```
 */
export interface FileProviderOptions {
  /** The credentials file. Relative paths are resolved against the working directory once, at construction. */
  path: string;
  /**
   * How to read the file: `json` (`user`/`username`, `password`, `host`, `port`,
   * `database`/`dbname`), `url` (`mysql://user:pass@host:port/db`, user and password
   * percent-encoded), `env` (`DB_USER=...` lines) or `auto` (by content: `{` is JSON,
   * `scheme://` is a URL, anything else is `KEY=VALUE` lines).
   * @defaultValue `'auto'`
   */
  format?: FileFormat;
  /**
   * How long to wait after the last change in the file's directory before re-reading it, so
   * that a burst of events is read once. A steady stream of events delays the read by at most
   * ten times this.
   * @defaultValue {@link DEFAULT_FILE_DEBOUNCE_MS} (100)
   */
  debounceMs?: number;
  /**
   * While subscribed, re-read the file this often even without a change event: a backstop for
   * changes a directory watch cannot see (network file systems, a path that is a symlink into
   * another directory) and for watchers that died. `0` disables polling.
   * @defaultValue {@link DEFAULT_FILE_POLL_INTERVAL_MS} (10000)
   */
  pollIntervalMs?: number;
  /**
   * When the file is missing, empty or invalid, re-read it after this long, up to
   * {@link FILE_READ_RETRIES} times, before reporting the error.
   * @defaultValue {@link DEFAULT_FILE_RETRY_INTERVAL_MS} (250)
   */
  retryIntervalMs?: number;
  /**
   * The provider's name in messages and events.
   * @defaultValue `file:<absolute path>`
   */
  name?: string;
}

interface Subscriber {
  readonly onChange: (credentials: Credentials) => void;
  readonly onError: (error: Error) => void;
}

type ReadResult =
  | { readonly ok: true; readonly seq: number; readonly creds: SealedCredentials }
  | { readonly ok: false; readonly seq: number; readonly transient: boolean; readonly error: Error };

/**
 * Reads database credentials from a file and notices when the file changes.
 *
 * `getCredentials()` reads the file each time it is called. `subscribe()` watches the file's
 * directory (not the file: a Kubernetes Secret update swaps a `..data` symlink and an editor
 * renames a new file over the old one, and a watch on the file itself stops seeing anything
 * after either), re-reads the file through its path after a change, and reports new
 * credentials only when they differ from the last ones read. A half-written file is retried
 * and never reported as credentials; the last good credentials stay in use. A poll every
 * `pollIntervalMs` catches what the watch misses.
 *
 * Several subscribers share one watcher; each change is reported to all of them. One provider
 * should serve one pool: credentials returned by `getCredentials()` count as seen and are not
 * reported again to subscribers.
 *
 * Watchers and timers never keep the process alive; `close()` (called by the pool's `end()`)
 * stops them.
 *
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2';
 * import { FileProvider } from 'credswap/file';
 *
 * // A Kubernetes Secret mounted at /etc/db-credentials, with key credentials.json.
 * const pool = createPool({
 *   host: 'mysql.internal',
 *   credentials: new FileProvider({ path: '/etc/db-credentials/credentials.json' }),
 * });
 * ```
 */
export class FileProvider implements CredentialsProvider {
  /** The provider's name in messages and events. Never a secret. */
  readonly name: string;
  /** The absolute path of the credentials file. */
  readonly path: string;

  readonly #format: FileFormat;
  readonly #debounceMs: number;
  readonly #pollIntervalMs: number;
  readonly #retryIntervalMs: number;
  readonly #dir: string;

  /** The last good credentials read, by either path. Private: `util.inspect` does not show it. */
  #last: SealedCredentials | undefined;
  /** Reads are numbered when they start; only a read newer than the last committed one commits. */
  #seq = 0;
  #committed = 0;
  #closed = false;
  readonly #closing = new AbortController();

  readonly #subscribers = new Set<Subscriber>();
  /** Bumped when watching stops, so that late results of an earlier watch are dropped. */
  #generation = 0;
  #watcher: FSWatcher | undefined;
  #watchedDirId: string | undefined;
  #watchReported = false;
  #rewatchAttempt = 0;
  #reading = false;
  #readAgain = false;
  #failedReads = 0;
  #reportedError: string | undefined;
  #debounceStartedAt = 0;
  #debounceTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #rewatchTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;

  /**
   * @throws InvalidOptionError for an unknown option, a wrong type or a negative duration,
   * naming the option (`FileProvider.pollIntervalMs`). The file is not read here.
   *
   * @example
   * ```ts
   * const provider = new FileProvider({ path: '/vault/secrets/db.env', format: 'env' });
   * ```
   */
  constructor(options: FileProviderOptions) {
    const o = validateOptions(options);
    this.path = resolve(o.path);
    this.#dir = dirname(this.path);
    this.#format = o.format ?? 'auto';
    this.#debounceMs = o.debounceMs ?? DEFAULT_FILE_DEBOUNCE_MS;
    this.#pollIntervalMs = o.pollIntervalMs ?? DEFAULT_FILE_POLL_INTERVAL_MS;
    this.#retryIntervalMs = o.retryIntervalMs ?? DEFAULT_FILE_RETRY_INTERVAL_MS;
    this.name = o.name ?? `file:${this.path}`;
  }

  /**
   * Reads the file now. Resolves to sealed credentials, or `undefined` when they equal
   * `current`. A missing, empty or invalid file is re-read up to {@link FILE_READ_RETRIES}
   * times, `retryIntervalMs` apart, before the call fails.
   *
   * @throws FileProviderError naming the path when the file is missing or unreadable (`cause`
   * is the file system error).
   * @throws InvalidCredentialsError naming the path and the key when the content is not usable.
   * @throws ClosedError after {@link FileProvider.close}.
   * @throws `signal.reason` once `signal` fires.
   *
   * @example
   * ```ts
   * const creds = await provider.getCredentials(AbortSignal.timeout(5000), undefined, { reason: 'manual' });
   * ```
   */
  async getCredentials(
    signal: AbortSignal,
    current: SealedCredentials | undefined,
    _context?: FetchContext,
  ): Promise<Credentials | undefined> {
    if (this.#closed) throw this.#closedError();
    signal.throwIfAborted();
    for (let attempt = 0; ; attempt++) {
      const result = await this.#abortable(this.#readOnce(), signal);
      if (result.ok) {
        this.#commit(result);
        return sameCredentials(result.creds, current) ? undefined : result.creds;
      }
      if (!result.transient || attempt >= FILE_READ_RETRIES) throw result.error;
      await this.#delay(this.#retryIntervalMs, signal);
    }
  }

  /**
   * Watches the file and calls `onChange` with new credentials each time its content changes
   * to different valid credentials. `onError` receives a {@link FileProviderError} or an
   * `InvalidCredentialsError` when the file stays missing or invalid after the retries, or
   * cannot be watched; each problem is reported once until the file reads well again. If
   * `onChange` throws, the error goes to `onError`; what `onError` throws is ignored.
   *
   * Changes are relative to the last credentials this provider read: call `getCredentials()`
   * first (the pool does). Without one, the first read only sets the baseline.
   *
   * @returns a function that unsubscribes; the last unsubscribe stops the watcher and every timer.
   * @throws ClosedError after {@link FileProvider.close}.
   *
   * @example
   * ```ts
   * const unsubscribe = provider.subscribe(
   *   (creds) => console.log('new credentials for', creds.user),
   *   (err) => console.error(err.message),
   * );
   * // later
   * unsubscribe();
   * ```
   */
  subscribe(onChange: (credentials: Credentials) => void, onError: (error: Error) => void): () => void {
    if (this.#closed) throw this.#closedError();
    checkSubscriber('FileProvider', onChange, onError);
    const subscriber: Subscriber = { onChange, onError };
    this.#subscribers.add(subscriber);
    if (this.#subscribers.size === 1) this.#start();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.#subscribers.delete(subscriber);
      if (this.#subscribers.size === 0) this.#stop();
    };
  }

  /**
   * Stops the watcher and every timer and forgets the last credentials. Later calls of
   * `getCredentials()` and `subscribe()` fail with `ClosedError`; a call waiting to retry
   * fails with it at once. Idempotent.
   *
   * @example
   * ```ts
   * provider.close();
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(this.#closedError());
    this.#subscribers.clear();
    this.#stop();
    this.#last = undefined;
  }

  // ---------------------------------------------------------------- reading

  /** Reads and parses the file once. Never rejects. */
  async #readOnce(): Promise<ReadResult> {
    const seq = ++this.#seq;
    let text: string;
    try {
      text = await readSmallFile(this.path);
    } catch (err) {
      if (err instanceof FileProviderError) return { ok: false, seq, transient: false, error: err };
      const code = errorCode(err);
      return {
        ok: false,
        seq,
        // A missing file is what a writer that deletes and re-creates leaves for a moment.
        transient: code === 'ENOENT',
        error: new FileProviderError(this.path, `could not be read (${code ?? 'unknown error'})`, { cause: err }),
      };
    }
    try {
      return { ok: true, seq, creds: sealCredentials(parseCredentialsText(text, this.#format, this.path), this.path) };
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return { ok: false, seq, transient: true, error: err };
      // Not expected; described without the content.
      return { ok: false, seq, transient: false, error: new FileProviderError(this.path, 'could not be parsed', { cause: err }) };
    }
  }

  /** Makes a successful read the last good credentials, unless a newer read already did. */
  #commit(result: ReadResult & { ok: true }): boolean {
    if (result.seq <= this.#committed || this.#closed) return false;
    this.#committed = result.seq;
    this.#last = result.creds;
    return true;
  }

  #closedError(): ClosedError {
    return new ClosedError(`provider '${this.name}'`);
  }

  /** Settles with `promise`, or rejects with `signal.reason` or `ClosedError` first. */
  #abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
    return this.#whileNotAborted(signal, (resolve, reject) => promise.then(resolve, reject));
  }

  #delay(ms: number, signal: AbortSignal): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return this.#whileNotAborted<void>(
      signal,
      (resolve) => {
        timer = setTimeout(resolve, ms);
        timer.unref();
      },
      () => clearTimeout(timer),
    );
  }

  #whileNotAborted<T>(
    signal: AbortSignal,
    run: (resolve: (value: T) => void, reject: (reason: unknown) => void) => void,
    cleanup?: () => void,
  ): Promise<T> {
    const closing = this.#closing.signal;
    return new Promise<T>((resolve, reject) => {
      const settle = (fn: () => void): void => {
        signal.removeEventListener('abort', onAbort);
        closing.removeEventListener('abort', onClose);
        cleanup?.();
        fn();
      };
      const onAbort = (): void => settle(() => reject(signal.reason));
      const onClose = (): void => settle(() => reject(closing.reason));
      if (signal.aborted) return onAbort();
      if (closing.aborted) return onClose();
      signal.addEventListener('abort', onAbort, { once: true });
      closing.addEventListener('abort', onClose, { once: true });
      run(
        (value) => settle(() => resolve(value)),
        (reason) => settle(() => reject(reason)),
      );
    });
  }

  // ---------------------------------------------------------------- watching

  #start(): void {
    this.#startWatcher();
    if (this.#pollIntervalMs > 0) {
      this.#pollTimer = setInterval(() => this.#poll(), this.#pollIntervalMs);
      this.#pollTimer.unref();
    }
    // Catches a change between the last read and the start of the watch.
    this.#check();
  }

  #stop(): void {
    this.#generation++;
    this.#closeWatcher();
    for (const timer of [this.#debounceTimer, this.#retryTimer, this.#rewatchTimer]) clearTimeout(timer);
    clearInterval(this.#pollTimer);
    this.#debounceTimer = this.#retryTimer = this.#rewatchTimer = this.#pollTimer = undefined;
    this.#reading = this.#readAgain = this.#watchReported = false;
    this.#failedReads = this.#rewatchAttempt = 0;
    this.#reportedError = undefined;
  }

  #startWatcher(): void {
    if (this.#watcher !== undefined || this.#subscribers.size === 0) return;
    let watcher: FSWatcher;
    let dirId: string;
    try {
      // The directory's identity first: if it is replaced in between, the poll notices.
      const s = statSync(this.#dir);
      dirId = `${s.dev}:${s.ino}`;
      watcher = watch(this.#dir, { persistent: false }, () => this.#onEvent());
    } catch (err) {
      this.#watchFailed(err);
      return;
    }
    watcher.on('error', () => {
      if (this.#watcher !== watcher) return;
      // Re-created shortly; reported only if that fails.
      this.#closeWatcher();
      this.#scheduleRewatch();
    });
    this.#watcher = watcher;
    this.#watchedDirId = dirId;
    this.#watchReported = false;
    this.#rewatchAttempt = 0;
  }

  #closeWatcher(): void {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    this.#watchedDirId = undefined;
    if (watcher === undefined) return;
    watcher.removeAllListeners('change');
    watcher.close();
  }

  #watchFailed(err: unknown): void {
    if (!this.#watchReported) {
      this.#watchReported = true;
      const error = new FileProviderError(
        this.path,
        `could not be watched: its directory '${this.#dir}' gave ${errorCode(err) ?? 'an error'}; polling continues`,
        { cause: err },
      );
      this.#broadcastError(error);
    }
    this.#scheduleRewatch();
  }

  /** Capped exponential backoff from `retryIntervalMs`. */
  #scheduleRewatch(): void {
    if (this.#rewatchTimer !== undefined || this.#subscribers.size === 0) return;
    const cap = this.#pollIntervalMs > 0 ? Math.min(this.#pollIntervalMs, MAX_REWATCH_DELAY_MS) : MAX_REWATCH_DELAY_MS;
    const delay = Math.min(Math.max(this.#retryIntervalMs, 10) * 2 ** this.#rewatchAttempt, cap);
    this.#rewatchAttempt = Math.min(this.#rewatchAttempt + 1, 20);
    this.#rewatchTimer = setTimeout(() => {
      this.#rewatchTimer = undefined;
      this.#startWatcher();
      // Whatever changed while nobody watched.
      if (this.#watcher !== undefined) this.#check();
    }, delay);
    this.#rewatchTimer.unref();
  }

  #onEvent(): void {
    if (this.#subscribers.size === 0) return;
    const now = Date.now();
    if (this.#debounceTimer !== undefined) {
      // Under a steady stream of events, read anyway after ten debounce periods.
      if (now - this.#debounceStartedAt >= this.#debounceMs * 10) return;
      clearTimeout(this.#debounceTimer);
    } else {
      this.#debounceStartedAt = now;
    }
    this.#debounceTimer = setTimeout(() => {
      this.#debounceTimer = undefined;
      this.#check();
    }, this.#debounceMs);
    this.#debounceTimer.unref();
  }

  #poll(): void {
    this.#verifyWatcher();
    this.#check();
  }

  /** Re-creates a watcher that is gone or that watches a directory that was replaced. */
  #verifyWatcher(): void {
    if (this.#watcher === undefined) {
      if (this.#rewatchTimer === undefined) {
        this.#startWatcher();
      }
      return;
    }
    const watcher = this.#watcher;
    const expected = this.#watchedDirId;
    stat(this.#dir).then(
      (s) => {
        if (this.#watcher !== watcher || `${s.dev}:${s.ino}` === expected) return;
        this.#closeWatcher();
        this.#startWatcher();
        // Whatever changed since the old directory stopped mattering.
        if (this.#watcher !== undefined) this.#check();
      },
      () => {
        if (this.#watcher !== watcher) return;
        this.#closeWatcher();
        this.#startWatcher(); // fails, reports once, and retries with backoff
      },
    );
  }

  /** Reads the file for the subscribers: one read at a time, another one after if asked meanwhile. */
  #check(): void {
    if (this.#subscribers.size === 0) return;
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    this.#reading = true;
    const generation = this.#generation;
    void this.#readOnce().then((result) => {
      if (generation !== this.#generation) return;
      this.#reading = false;
      this.#handleRead(result);
      if (this.#readAgain) {
        this.#readAgain = false;
        this.#check();
      }
    });
  }

  #handleRead(result: ReadResult): void {
    // A newer read (a getCredentials() call) has already settled what the file holds.
    if (result.seq <= this.#committed) return;
    if (result.ok) {
      this.#failedReads = 0;
      this.#reportedError = undefined;
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      const previous = this.#last;
      this.#commit(result);
      if (previous !== undefined && !sameCredentials(previous, result.creds)) this.#broadcastChange(result.creds);
      return;
    }
    if (result.transient && this.#failedReads < FILE_READ_RETRIES) {
      this.#failedReads++;
      if (this.#retryTimer === undefined) {
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#check();
        }, this.#retryIntervalMs);
        this.#retryTimer.unref();
      }
      return;
    }
    // Retries exhausted: report, and read again only on the next event or poll until it reads well.
    const id = errorIdentity(result.error);
    if (id === this.#reportedError) return;
    this.#reportedError = id;
    this.#broadcastError(result.error);
  }

  #broadcastChange(creds: Credentials): void {
    for (const subscriber of [...this.#subscribers]) {
      if (!this.#subscribers.has(subscriber)) continue;
      try {
        subscriber.onChange(creds);
      } catch (err) {
        callOnError(subscriber, err instanceof Error ? err : new Error('onChange threw a non-Error value'));
      }
    }
  }

  #broadcastError(error: Error): void {
    for (const subscriber of [...this.#subscribers]) {
      if (this.#subscribers.has(subscriber)) callOnError(subscriber, error);
    }
  }
}

function callOnError(subscriber: Subscriber, error: Error): void {
  try {
    subscriber.onError(error);
  } catch {
    // Documented: what onError throws is ignored (background work must not crash the process).
  }
}

/** Reads a regular file of at most {@link MAX_CREDENTIALS_FILE_BYTES}, following symlinks. */
async function readSmallFile(path: string): Promise<string> {
  // O_NONBLOCK: opening a FIFO by mistake must not block a thread of the pool.
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new FileProviderError(path, 'is not a regular file');
    if (info.size > MAX_CREDENTIALS_FILE_BYTES) {
      throw new FileProviderError(path, `is larger than ${MAX_CREDENTIALS_FILE_BYTES} bytes`);
    }
    return await handle.readFile({ encoding: 'utf8' });
  } finally {
    await handle.close();
  }
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** What makes two failures "the same problem" for reporting once: never a value. */
function errorIdentity(error: Error): string {
  const key = error instanceof InvalidCredentialsError ? (error.key ?? '') : '';
  return `${error.name}|${key}|${errorCode((error as { cause?: unknown }).cause) ?? ''}`;
}

function validateOptions(options: FileProviderOptions): FileProviderOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('FileProvider', 'needs an options object with a path');
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new InvalidOptionError(`FileProvider.${key}`, 'is not a known option');
  }
  const { path, format, debounceMs, pollIntervalMs, retryIntervalMs, name } = options;
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new InvalidOptionError('FileProvider.path', 'must be a non-empty string');
  }
  if (format !== undefined && !FILE_FORMATS.includes(format)) {
    throw new InvalidOptionError('FileProvider.format', `must be one of ${FILE_FORMATS.join(', ')}`);
  }
  for (const [key, value] of [
    ['debounceMs', debounceMs],
    ['pollIntervalMs', pollIntervalMs],
    ['retryIntervalMs', retryIntervalMs],
  ] as const) {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_TIMER_MS)) {
      throw new InvalidOptionError(`FileProvider.${key}`, `must be a number of milliseconds from 0 to ${MAX_TIMER_MS}`);
    }
  }
  if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
    throw new InvalidOptionError('FileProvider.name', 'must be a non-empty string');
  }
  return options;
}
