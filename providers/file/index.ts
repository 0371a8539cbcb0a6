/**
 * `credswap/file`: credentials from a file that something else keeps up to date, such as a
 * Kubernetes Secret volume or a Vault Agent template.
 *
 * @packageDocumentation
 */

export { FileProvider } from './provider.js';
export { DEFAULT_FILE_DEBOUNCE_MS, DEFAULT_FILE_POLL_INTERVAL_MS, DEFAULT_FILE_RETRY_INTERVAL_MS } from './options.js';
export type { FileProviderOptions } from './options.js';
export { FILE_READ_RETRIES, MAX_CREDENTIALS_FILE_BYTES } from './read.js';
export type { FileFormat } from './parse.js';
export { FileProviderError } from './errors.js';
