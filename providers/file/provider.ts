/**
 * `FileProvider`: credentials from a file, read on request and followed for subscribers. Its
 * options live in `./options.ts`, reading in `./read.ts`, watching the directory in
 * `./watcher.ts`, parsing in `./parse.ts`.
 *
 * @packageDocumentation
 */

import { unrefTimer } from '../../lib/backoff.js';
import { sameCredentials, type Credentials, type SealedCredentials } from '../../lib/credentials.js';
import { ClosedError, InvalidCredentialsError } from '../../lib/errors.js';
import { checkSubscriber, type CredentialsProvider, type FetchContext } from '../../lib/provider.js';
import { resolveFileProviderOptions, type FileProviderOptions } from './options.js';
import type { FileFormat } from './parse.js';
import { errorCode, FILE_READ_RETRIES, readCredentialsFile, readWithRetries, type FileRead } from './read.js';
import { watchDirectory, type DirectoryWatch } from './watcher.js';

interface Subscriber {
  readonly onChange: (credentials: Credentials) => void;
  readonly onError: (error: Error) => void;
}

/** A read, numbered when it started. */
type ReadResult = FileRead & { readonly seq: number };

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

  /** The last good credentials read, by either path. Private: `util.inspect` does not show it. */
  #last: SealedCredentials | undefined;
  /** Reads are numbered when they start; only a read newer than the last committed one commits. */
  #seq = 0;
  #committed = 0;
  #closed = false;
  readonly #abortOnClose = new AbortController();

  readonly #subscribers = new Set<Subscriber>();
  /** The watch while anyone is subscribed. */
  #watch: DirectoryWatch | undefined;
  /** Counts the watches stopped so far: a read for subscribers that started before a stop is dropped. */
  #watchCount = 0;
  #reading = false;
  #readAgain = false;
  #failedReads = 0;
  #reportedError: string | undefined;
  #retryTimer: NodeJS.Timeout | undefined;

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
    const o = resolveFileProviderOptions(options);
    this.path = o.path;
    this.#format = o.format;
    this.#debounceMs = o.debounceMs;
    this.#pollIntervalMs = o.pollIntervalMs;
    this.#retryIntervalMs = o.retryIntervalMs;
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
    const result = await readWithRetries(() => this.#read(), this.#retryIntervalMs, signal, this.#abortOnClose.signal);
    this.#commit(result);
    return sameCredentials(result.creds, current) ? undefined : result.creds;
  }

  /**
   * Watches the file and calls `onChange` with new credentials each time its content changes
   * to different valid credentials. `onError` receives a `FileProviderError` or an
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
    this.#abortOnClose.abort(this.#closedError());
    this.#subscribers.clear();
    this.#stop();
    this.#last = undefined;
  }

  // ---------------------------------------------------------------- reading

  /** Reads the file once, numbering the read. Never rejects. */
  async #read(): Promise<ReadResult> {
    const seq = ++this.#seq;
    return { ...(await readCredentialsFile(this.path, this.#format)), seq };
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

  // ---------------------------------------------------------------- following the file for subscribers

  #start(): void {
    const count = this.#watchCount;
    const watch = watchDirectory({
      path: this.path,
      debounceMs: this.#debounceMs,
      pollIntervalMs: this.#pollIntervalMs,
      retryIntervalMs: this.#retryIntervalMs,
      onCheck: () => this.#check(),
      onError: (error) => this.#broadcastError(error),
    });
    // The last subscriber left from its onError while the watch started: it is not wanted.
    if (count !== this.#watchCount) {
      watch.close();
      return;
    }
    this.#watch = watch;
    // Catches a change between the last read and the start of the watch.
    this.#check();
  }

  #stop(): void {
    this.#watchCount++;
    this.#watch?.close();
    this.#watch = undefined;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#reading = this.#readAgain = false;
    this.#failedReads = 0;
    this.#reportedError = undefined;
  }

  /** Reads the file for the subscribers: one read at a time, another one after if asked meanwhile. */
  #check(): void {
    if (this.#subscribers.size === 0) return;
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    this.#reading = true;
    const watch = this.#watchCount;
    void this.#read().then((result) => {
      if (watch !== this.#watchCount) return;
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
      this.#retryTimer ??= unrefTimer(() => {
        this.#retryTimer = undefined;
        this.#check();
      }, this.#retryIntervalMs);
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

/** What makes two failures "the same problem" for reporting once: never a value. */
function errorIdentity(error: Error): string {
  const key = error instanceof InvalidCredentialsError ? (error.key ?? '') : '';
  return `${error.name}|${key}|${errorCode((error as { cause?: unknown }).cause) ?? ''}`;
}
