/**
 * {@link VaultError}, and node-vault's errors as VaultErrors: by HTTP status (node-vault's error classes are not
 * exported), without the raw error (which holds the request's token and body).
 *
 * @packageDocumentation
 */

import { CredswapError, defineCode, isCredswapError } from '../../lib/errors.js';

/**
 * HashiCorp Vault refused or failed a request. `path` names the Vault path (never a token or a
 * secret value), `statusCode` is Vault's HTTP status when it answered, and `retryable` tells
 * whether trying again later can help (sealed, standby, rate limited, network) or the
 * configuration must change first (permissions, a wrong path or role).
 */
export class VaultError extends CredswapError {
  readonly path: string;
  readonly statusCode: number | undefined;
  readonly retryable: boolean;

  constructor(path: string, problem: string, options: { statusCode?: number; retryable: boolean; cause?: unknown }) {
    super('CREDSWAP_VAULT_ERROR', `credswap: Vault path '${path}': ${problem}`, { cause: options.cause });
    this.path = path;
    this.statusCode = options.statusCode;
    this.retryable = options.retryable;
  }
}
defineCode(VaultError, 'CREDSWAP_VAULT_ERROR', 'VaultError');

/** What node-vault rejects with: an error carrying the response, or a raw axios network error. */
interface NodeVaultError {
  message?: unknown;
  name?: unknown;
  code?: unknown;
  response?: { statusCode?: unknown; body?: { errors?: unknown } };
}

/** The status code of a node-vault error, if Vault answered. */
export function vaultStatusOf(error: unknown): number | undefined {
  const status = (error as NodeVaultError | null)?.response?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Vault's `errors` list, flattened: `"1 error occurred:\n\t* permission denied\n\n"` becomes `permission denied`. */
function vaultMessages(error: NodeVaultError): string[] {
  const errors = error.response?.body?.errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .filter((e): e is string => typeof e === 'string')
    .flatMap((e) => e.split('\n'))
    .map((line) => line.trim().replace(/^\*\s*/, ''))
    .filter((line) => line !== '' && !/^\d+ errors? occurred:$/.test(line));
}

/**
 * Turns what a node-vault call threw into a {@link VaultError} for `path`. credswap's own
 * errors (a missing node-vault, a VaultError already made) are returned as they are. The raw
 * error is not kept (axios errors hold the request's headers and body: the token, a secret
 * id); the `cause` is a plain Error with its name, code and message. `redact` removes known
 * secrets from the texts.
 *
 * - 403: not retryable (the session first checks whether its token was lost, and logs in again);
 * - 404: not retryable, naming the path;
 * - 412 (performance standby), 429, 5xx (503: sealed), no answer at all (network, timeout):
 *   retryable;
 * - other 4xx: not retryable, with Vault's message.
 *
 * @example
 * ```ts
 * try {
 *   await client.read('database/creds/app');
 * } catch (error) {
 *   const mapped = toVaultError('database/creds/app', error);
 *   if (mapped instanceof VaultError && mapped.retryable) scheduleRetry();
 * }
 * ```
 */
export function toVaultError(path: string, error: unknown, redact: (text: string) => string = (t) => t): Error {
  if (isCredswapError(error)) return error;
  const e = (error ?? {}) as NodeVaultError;
  const statusCode = vaultStatusOf(error);
  const said = redact(vaultMessages(e).join('; '));
  const code = typeof e.code === 'string' ? e.code : undefined;
  const rawMessage = redact(typeof e.message === 'string' ? e.message : String(error));
  const cause = Object.assign(new Error(statusCode === undefined ? rawMessage : said || `status ${statusCode}`), {
    name: statusCode === undefined ? (typeof e.name === 'string' ? e.name : 'Error') : 'VaultResponseError',
    ...(code !== undefined ? { code } : {}),
    ...(statusCode !== undefined ? { statusCode } : {}),
  });
  const suffix = said ? `: ${said}` : '';
  if (statusCode === undefined) {
    if (error instanceof TypeError || (error instanceof Error && (error as { dataPath?: unknown }).dataPath !== undefined)) {
      return new VaultError(path, `the request could not be made: ${rawMessage}`, { retryable: false, cause });
    }
    const what = code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? 'no answer in time' : 'network error';
    return new VaultError(path, `${what}${code ? ` (${code})` : ''}: ${rawMessage} (will retry)`, { retryable: true, cause });
  }
  if (statusCode === 403) {
    return new VaultError(path, `refused (HTTP 403)${suffix}; the token's policies must allow this path`, {
      statusCode,
      retryable: false,
      cause,
    });
  }
  if (statusCode === 404) {
    return new VaultError(path, `not found (HTTP 404)${suffix}; check the mount and the name`, { statusCode, retryable: false, cause });
  }
  if (statusCode === 503) {
    return new VaultError(path, `Vault is unavailable or sealed (HTTP 503)${suffix} (will retry)`, { statusCode, retryable: true, cause });
  }
  if (statusCode === 412 || statusCode === 429 || statusCode >= 500) {
    return new VaultError(path, `HTTP ${statusCode}${suffix} (will retry)`, { statusCode, retryable: true, cause });
  }
  return new VaultError(path, `HTTP ${statusCode}${suffix}`, { statusCode, retryable: false, cause });
}

/** Vault's answer to a request with a token it does not know (any more). */
export function isInvalidToken(error: unknown): boolean {
  return vaultStatusOf(error) === 403;
}

/** The error for a token Vault refuses, with token auth (which cannot log in again). */
export function deadTokenError(path: string, cause?: unknown): VaultError {
  return new VaultError(
    path,
    'the token was refused (HTTP 403): it is unknown, expired or revoked, and token auth cannot log in again; give the provider a valid token',
    { statusCode: 403, retryable: false, cause },
  );
}
