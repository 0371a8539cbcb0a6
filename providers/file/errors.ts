/**
 * The errors of `credswap/file`.
 *
 * @packageDocumentation
 */

import { CredswapError, defineCode } from '../../lib/errors.js';

/** A credentials file is missing, unreadable or could not be watched. `path` names it. */
export class FileProviderError extends CredswapError {
  readonly path: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super('CREDSWAP_FILE_ERROR', `credswap: credentials file '${path}' ${problem}`, options);
    this.path = path;
  }
}
defineCode(FileProviderError, 'CREDSWAP_FILE_ERROR', 'FileProviderError');
