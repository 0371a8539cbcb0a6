/**
 * Reading a credentials file: once, as a result that tells a problem worth retrying (a writer
 * caught in the middle) from one that is not, and with retries. Not part of the public API:
 * `credswap/file` exports only {@link FILE_READ_RETRIES} and {@link MAX_CREDENTIALS_FILE_BYTES}
 * from here.
 *
 * @packageDocumentation
 */

import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { sleep, waitUnder } from '../../lib/abort.js';
import { sealCredentials, type SealedCredentials } from '../../lib/credentials.js';
import { InvalidCredentialsError } from '../../lib/errors.js';
import { FileProviderError } from './errors.js';
import { parseCredentialsText, type FileFormat } from './parse.js';

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

/**
 * What one read of a credentials file gave: sealed credentials, or an error and whether reading
 * again soon may fix it (a missing file, an invalid content). @internal
 */
export type FileRead =
  { readonly ok: true; readonly creds: SealedCredentials } | { readonly ok: false; readonly transient: boolean; readonly error: Error };

/**
 * Reads and parses the credentials file at `path` once. Never rejects.
 * @internal
 */
export async function readCredentialsFile(path: string, format: FileFormat): Promise<FileRead> {
  let text: string;
  try {
    text = await readSmallFile(path);
  } catch (err) {
    if (err instanceof FileProviderError) return { ok: false, transient: false, error: err };
    const code = errorCode(err);
    return {
      ok: false,
      // A missing file is what a writer that deletes and re-creates leaves for a moment.
      transient: code === 'ENOENT',
      error: new FileProviderError(path, `could not be read (${code ?? 'unknown error'})`, { cause: err }),
    };
  }
  try {
    return { ok: true, creds: sealCredentials(parseCredentialsText(text, format, path), path) };
  } catch (err) {
    if (err instanceof InvalidCredentialsError) return { ok: false, transient: true, error: err };
    // Not expected; described without the content.
    return { ok: false, transient: false, error: new FileProviderError(path, 'could not be parsed', { cause: err }) };
  }
}

/**
 * Calls `read` until it succeeds, again after `retryIntervalMs` while its problem is transient,
 * up to {@link FILE_READ_RETRIES} times. Resolves with the successful result.
 *
 * @throws the last result's error when it is not transient or the retries are spent.
 * @throws the reason of the first of `signals` to abort, at once (a read under way is left to
 * finish, its result unused).
 * @internal
 */
export async function readWithRetries<T extends FileRead>(
  read: () => Promise<T>,
  retryIntervalMs: number,
  ...signals: AbortSignal[]
): Promise<T & { readonly ok: true }> {
  for (let attempt = 0; ; attempt++) {
    const result: FileRead = await waitUnder(read(), ...signals);
    if (result.ok) return result as T & { readonly ok: true };
    if (!result.transient || attempt >= FILE_READ_RETRIES) throw result.error;
    await sleep(retryIntervalMs, ...signals);
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

/** The `code` of a file system error (`ENOENT`, ...), if it has one. @internal */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
