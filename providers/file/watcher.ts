/**
 * Noticing that a credentials file may have changed. The watch is on the file's directory, not
 * on the file: a Kubernetes Secret update swaps a `..data` symlink and an editor renames a new
 * file over the old one, and a watch on the file itself stops seeing anything after either.
 * Events are debounced; a watch that fails is re-created with backoff; a poll catches what the
 * watch misses and re-creates a watch whose directory was replaced. Not part of the public API.
 *
 * @packageDocumentation
 */

import { statSync, watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { unrefTimer } from '../../lib/backoff.js';
import { FileProviderError } from './errors.js';
import { errorCode } from './read.js';

/** The longest wait before a watch that failed is tried again. */
const MAX_REWATCH_DELAY_MS = 30_000;

/** What {@link watchDirectory} watches and whom it tells. Durations in milliseconds. @internal */
export interface DirectoryWatchOptions {
  /** The credentials file: its directory is watched, and errors name it. */
  readonly path: string;
  /** Quiet time after the last event before `onCheck`; under a steady stream, at most ten times this. */
  readonly debounceMs: number;
  /** Calls `onCheck` this often whatever the watch sees, and checks the watch itself; `0`: never. */
  readonly pollIntervalMs: number;
  /** The first wait before a failed watch is tried again; it doubles up to the poll interval or 30 s. */
  readonly retryIntervalMs: number;
  /** The file may have changed: read it. */
  readonly onCheck: () => void;
  /** The directory cannot be watched (polling goes on). Once until a watch works again. */
  readonly onError: (error: FileProviderError) => void;
}

/** A running {@link watchDirectory}. @internal */
export interface DirectoryWatch {
  /** Stops the watch and every timer; no callback runs after it. Idempotent. */
  close(): void;
}

/**
 * Starts watching the directory of `options.path`. A directory that cannot be watched is reported
 * through `onError` before this returns. The watch and its timers never keep the process alive.
 *
 * @internal
 */
export function watchDirectory(options: DirectoryWatchOptions): DirectoryWatch {
  return new Watch(options);
}

class Watch implements DirectoryWatch {
  readonly #options: DirectoryWatchOptions;
  readonly #dir: string;
  #closed = false;
  #watcher: FSWatcher | undefined;
  /** `dev:ino` of the directory the watcher was created on. */
  #watchedDirId: string | undefined;
  #failureReported = false;
  #rewatchAttempt = 0;
  #debounceStartedAt = 0;
  #debounceTimer: NodeJS.Timeout | undefined;
  #rewatchTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;

  constructor(options: DirectoryWatchOptions) {
    this.#options = options;
    this.#dir = dirname(options.path);
    this.#open();
    if (options.pollIntervalMs > 0) {
      this.#pollTimer = setInterval(() => this.#poll(), options.pollIntervalMs);
      this.#pollTimer.unref();
    }
  }

  close(): void {
    this.#closed = true;
    this.#closeWatcher();
    clearTimeout(this.#debounceTimer);
    clearTimeout(this.#rewatchTimer);
    clearInterval(this.#pollTimer);
    this.#debounceTimer = this.#rewatchTimer = this.#pollTimer = undefined;
  }

  #open(): void {
    if (this.#watcher !== undefined || this.#closed) return;
    let watcher: FSWatcher;
    let dirId: string;
    try {
      // The directory's identity first: if it is replaced in between, the poll notices.
      const s = statSync(this.#dir);
      dirId = `${s.dev}:${s.ino}`;
      watcher = watch(this.#dir, { persistent: false }, () => this.#onEvent());
    } catch (err) {
      this.#failed(err);
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
    this.#failureReported = false;
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

  #failed(err: unknown): void {
    if (!this.#failureReported) {
      this.#failureReported = true;
      const { path, onError } = this.#options;
      onError(
        new FileProviderError(
          path,
          `could not be watched: its directory '${this.#dir}' gave ${errorCode(err) ?? 'an error'}; polling continues`,
          {
            cause: err,
          },
        ),
      );
    }
    this.#scheduleRewatch();
  }

  /** Capped exponential backoff from `retryIntervalMs`. */
  #scheduleRewatch(): void {
    if (this.#rewatchTimer !== undefined || this.#closed) return;
    const { pollIntervalMs, retryIntervalMs } = this.#options;
    const cap = pollIntervalMs > 0 ? Math.min(pollIntervalMs, MAX_REWATCH_DELAY_MS) : MAX_REWATCH_DELAY_MS;
    const delay = Math.min(Math.max(retryIntervalMs, 10) * 2 ** this.#rewatchAttempt, cap);
    this.#rewatchAttempt = Math.min(this.#rewatchAttempt + 1, 20);
    this.#rewatchTimer = unrefTimer(() => {
      this.#rewatchTimer = undefined;
      this.#open();
      // Whatever changed while nobody watched.
      if (this.#watcher !== undefined) this.#options.onCheck();
    }, delay);
  }

  #onEvent(): void {
    if (this.#closed) return;
    const { debounceMs } = this.#options;
    const now = Date.now();
    if (this.#debounceTimer !== undefined) {
      // Under a steady stream of events, read anyway after ten debounce periods.
      if (now - this.#debounceStartedAt >= debounceMs * 10) return;
      clearTimeout(this.#debounceTimer);
    } else {
      this.#debounceStartedAt = now;
    }
    this.#debounceTimer = unrefTimer(() => {
      this.#debounceTimer = undefined;
      this.#options.onCheck();
    }, debounceMs);
  }

  #poll(): void {
    this.#verify();
    this.#options.onCheck();
  }

  /** Re-creates a watcher that is gone or that watches a directory that was replaced. */
  #verify(): void {
    if (this.#watcher === undefined) {
      if (this.#rewatchTimer === undefined) this.#open();
      return;
    }
    const watcher = this.#watcher;
    const expected = this.#watchedDirId;
    stat(this.#dir).then(
      (s) => {
        if (this.#watcher !== watcher || `${s.dev}:${s.ino}` === expected) return;
        this.#closeWatcher();
        this.#open();
        // Whatever changed since the old directory stopped mattering.
        if (this.#watcher !== undefined) this.#options.onCheck();
      },
      () => {
        if (this.#watcher !== watcher) return;
        this.#closeWatcher();
        this.#open(); // fails, reports once, and retries with backoff
      },
    );
  }
}
