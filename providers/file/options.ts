/**
 * The options of `FileProvider`: their defaults, and the check that resolves them.
 *
 * @packageDocumentation
 */

import { resolve } from 'node:path';
import { MAX_TIMER_MS } from '../../lib/backoff.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { expectObject, inRange, oneOf, rejectUnknownKeys, string } from '../../lib/options.js';
import { FILE_FORMATS, type FileFormat } from './parse.js';

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
   * `FILE_READ_RETRIES` times, before reporting the error.
   * @defaultValue {@link DEFAULT_FILE_RETRY_INTERVAL_MS} (250)
   */
  retryIntervalMs?: number;
  /**
   * The provider's name in messages and events.
   * @defaultValue `file:<absolute path>`
   */
  name?: string;
}

const PREFIX = 'FileProvider.';
const OPTION_KEYS = new Set(['path', 'format', 'debounceMs', 'pollIntervalMs', 'retryIntervalMs', 'name']);

/** {@link FileProviderOptions} checked, with the defaults applied. @internal */
export interface ResolvedFileProviderOptions {
  /** Absolute. */
  readonly path: string;
  readonly format: FileFormat;
  readonly debounceMs: number;
  readonly pollIntervalMs: number;
  readonly retryIntervalMs: number;
  /** `undefined`: the provider names itself after the path. */
  readonly name: string | undefined;
}

/**
 * Checks the options of a `FileProvider` and applies the defaults.
 *
 * @throws InvalidOptionError naming the option (`FileProvider.pollIntervalMs`).
 * @internal
 */
export function resolveFileProviderOptions(options: FileProviderOptions): ResolvedFileProviderOptions {
  const o = expectObject(options, 'FileProvider')!;
  rejectUnknownKeys(o, OPTION_KEYS, PREFIX);
  const path = string(o, 'path', PREFIX);
  if (path === undefined) throw new InvalidOptionError(`${PREFIX}path`, 'is required');
  if (path.includes('\0')) throw new InvalidOptionError(`${PREFIX}path`, 'must not contain a NUL character');
  // Each is the delay of one timer, which cannot wait longer than MAX_TIMER_MS.
  const delay = (key: string, fallback: number): number =>
    inRange(o, key, PREFIX, fallback, { min: 0, max: MAX_TIMER_MS, unit: 'milliseconds' });
  return {
    path: resolve(path),
    format: oneOf(o, 'format', PREFIX, FILE_FORMATS, 'auto'),
    debounceMs: delay('debounceMs', DEFAULT_FILE_DEBOUNCE_MS),
    pollIntervalMs: delay('pollIntervalMs', DEFAULT_FILE_POLL_INTERVAL_MS),
    retryIntervalMs: delay('retryIntervalMs', DEFAULT_FILE_RETRY_INTERVAL_MS),
    name: string(o, 'name', PREFIX),
  };
}
