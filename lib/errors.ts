/**
 * Error classes. Every error credswap raises carries a literal `name`, a stable `code`, and
 * (where it wraps something) a `cause`. `instanceof` works across two copies of the package
 * because the check is by brand (`Symbol.for`), not by prototype identity.
 *
 * Messages name the source (provider name, option, file path); they never contain a password.
 */

const BRAND = Symbol.for('credswap.error');
const CODE_BRAND = Symbol.for('credswap.error.code');

/** Every error code credswap raises. The errors table in docs/errors.md is checked against this list. */
export const ERROR_CODES = [
  'CREDSWAP_INVALID_OPTION',
  'CREDSWAP_INVALID_CREDENTIALS',
  'CREDSWAP_CREDENTIALS_UNAVAILABLE',
  'CREDSWAP_PROVIDER_FAILED',
  'CREDSWAP_ROTATION_TIMEOUT',
  'CREDSWAP_ROTATION_COOLDOWN',
  'CREDSWAP_CLOSED',
  'CREDSWAP_ACCOUNT_UNAVAILABLE',
  'CREDSWAP_READ_ONLY',
  'CREDSWAP_FILE_ERROR',
  'CREDSWAP_MISSING_DEPENDENCY',
  'CREDSWAP_SECRETS_MANAGER_ERROR',
  'CREDSWAP_ROTATION_STEP_FAILED',
  'CREDSWAP_VAULT_ERROR',
  'CREDSWAP_DRILL_TARGET_FAILED',
] as const;

/** A stable, documented error code. */
export type CredswapErrorCode = (typeof ERROR_CODES)[number];

function brandedHasInstance(code: CredswapErrorCode | undefined, value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<symbol, unknown>;
  if (v[BRAND] !== true) return false;
  return code === undefined || v[CODE_BRAND] === code;
}

/**
 * Base class of every error credswap raises.
 *
 * @example
 * ```ts
 * pool.query('SELECT 1', (err) => {
 *   if (err instanceof CredswapError) console.error(err.code, err.message);
 * });
 * ```
 */
export class CredswapError extends Error {
  /** A stable code, one per subclass. */
  readonly code: CredswapErrorCode;

  constructor(code: CredswapErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
    Object.defineProperty(this, CODE_BRAND, { value: code });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return brandedHasInstance(undefined, value);
  }
}
Object.defineProperty(CredswapError.prototype, 'name', { value: 'CredswapError', writable: true, configurable: true });

/**
 * @internal Gives an error class its literal `name` and a brand check by `code`, so that
 * `instanceof` works across copies of the package. For the error classes of each entry point.
 */
export function defineCode<T extends abstract new (...args: never[]) => Error>(cls: T, code: CredswapErrorCode, name: string): void {
  Object.defineProperty(cls, Symbol.hasInstance, {
    value: (value: unknown) => brandedHasInstance(code, value),
  });
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
}

/**
 * An option passed to `createPool`, a provider or the coordinator is unknown, has the wrong
 * type or is out of range. A `TypeError`, as the ecosystem expects for programmer errors; the
 * message names the option and never echoes its value.
 */
export class InvalidOptionError extends TypeError {
  readonly code = 'CREDSWAP_INVALID_OPTION' as const;
  /** The option's path, e.g. `rotation.timeoutMs`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`credswap: option '${option}' ${message}`);
    this.option = option;
    Object.defineProperty(this, BRAND, { value: true });
    Object.defineProperty(this, CODE_BRAND, { value: this.code });
  }
}
defineCode(InvalidOptionError, 'CREDSWAP_INVALID_OPTION', 'InvalidOptionError');

/**
 * A provider returned, or a source (file, secret) contained, something that is not usable as
 * credentials. `source` names where it came from; `key` names the offending field, if any.
 */
export class InvalidCredentialsError extends CredswapError {
  readonly source: string;
  readonly key: string | undefined;

  constructor(source: string, problem: string, options?: { key?: string; cause?: unknown }) {
    super('CREDSWAP_INVALID_CREDENTIALS', `credswap: credentials from ${source} are invalid: ${problem}`, options);
    this.source = source;
    this.key = options?.key;
  }
}
defineCode(InvalidCredentialsError, 'CREDSWAP_INVALID_CREDENTIALS', 'InvalidCredentialsError');

/** The provider had no credentials to give for the first connection (it returned `undefined`). */
export class CredentialsUnavailableError extends CredswapError {
  readonly provider: string;

  constructor(provider: string) {
    super('CREDSWAP_CREDENTIALS_UNAVAILABLE', `credswap: provider '${provider}' returned no credentials for the first connection`);
    this.provider = provider;
  }
}
defineCode(CredentialsUnavailableError, 'CREDSWAP_CREDENTIALS_UNAVAILABLE', 'CredentialsUnavailableError');

/**
 * The provider threw (or rejected). `cause` is what it threw. The last good credentials stay
 * in use.
 */
export class ProviderError extends CredswapError {
  readonly provider: string;

  constructor(provider: string, cause: unknown, message?: string) {
    super('CREDSWAP_PROVIDER_FAILED', message ?? `credswap: provider '${provider}' failed: ${describeCause(cause)}`, { cause });
    this.provider = provider;
  }
}
defineCode(ProviderError, 'CREDSWAP_PROVIDER_FAILED', 'ProviderError');

/**
 * The provider did not settle within `rotation.timeoutMs`. Its signal was aborted and its
 * result, should it arrive later, is ignored.
 */
export class RotationTimeoutError extends CredswapError {
  readonly provider: string;
  readonly timeoutMs: number;

  constructor(provider: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(
      'CREDSWAP_ROTATION_TIMEOUT',
      `credswap: provider '${provider}' did not answer within ${timeoutMs} ms; its call was abandoned`,
      options,
    );
    this.provider = provider;
    this.timeoutMs = timeoutMs;
  }
}
defineCode(RotationTimeoutError, 'CREDSWAP_ROTATION_TIMEOUT', 'RotationTimeoutError');

/**
 * The provider failed a moment ago and the coordinator is cooling down: it will not call the
 * provider again before `retryAt` (epoch ms). `cause` is the failure that started the cooldown.
 * A 1045 inside a cooldown is passed on as the original server error instead.
 */
export class RotationCooldownError extends CredswapError {
  readonly provider: string;
  readonly retryAt: number;

  constructor(provider: string, retryAt: number, options?: { cause?: unknown }) {
    super(
      'CREDSWAP_ROTATION_COOLDOWN',
      `credswap: provider '${provider}' failed recently; next attempt not before ${new Date(retryAt).toISOString()}`,
      options,
    );
    this.provider = provider;
    this.retryAt = retryAt;
  }
}
defineCode(RotationCooldownError, 'CREDSWAP_ROTATION_COOLDOWN', 'RotationCooldownError');

/** The pool or coordinator was closed (`end()`), so the request cannot be served. */
export class ClosedError extends CredswapError {
  constructor(what: string) {
    super('CREDSWAP_CLOSED', `credswap: ${what} is closed`);
  }
}
defineCode(ClosedError, 'CREDSWAP_CLOSED', 'ClosedError');

/**
 * An optional peer dependency that a provider needs is not installed, e.g.
 * `@aws-sdk/client-secrets-manager` for `credswap/aws`. `dependency` names the npm package.
 */
export class MissingDependencyError extends CredswapError {
  readonly dependency: string;

  constructor(dependency: string, neededBy: string, options?: { cause?: unknown }) {
    super(
      'CREDSWAP_MISSING_DEPENDENCY',
      `credswap: ${neededBy} needs the package '${dependency}'; install it with: npm install ${dependency}`,
      options,
    );
    this.dependency = dependency;
  }
}
defineCode(MissingDependencyError, 'CREDSWAP_MISSING_DEPENDENCY', 'MissingDependencyError');

/**
 * The server refuses the account whatever the password: locked after too many refused logins,
 * locked by an administrator, or its password expired. Not a rotation: credswap does not ask the
 * provider for new credentials and does not retry. `user` names the account, `problem` says which
 * (see `AccountProblem` in `credswap/mysql2`), `cause` is the server's error (`errno` 3955, 3118,
 * 4150, 4151, 1820 or 1862).
 *
 * @example
 * ```ts
 * pool.query('SELECT 1').catch((error) => {
 *   if (error instanceof AccountUnavailableError) alert(`database account ${error.user}: ${error.problem}`);
 * });
 * ```
 */
export class AccountUnavailableError extends CredswapError {
  readonly user: string;
  readonly problem: string;

  constructor(user: string, problem: string, cause: Error) {
    super(
      'CREDSWAP_ACCOUNT_UNAVAILABLE',
      `credswap: the server refuses account '${user}' (${problem}): ${cause.message}; this is not a password rotation, so no new credentials are fetched`,
      { cause },
    );
    this.user = user;
    this.problem = problem;
  }
}
defineCode(AccountUnavailableError, 'CREDSWAP_ACCOUNT_UNAVAILABLE', 'AccountUnavailableError');

/**
 * The server refused a statement as read-only (`errno` 1290, 1836 or 1874): the primary is
 * failing over. The statement did not run. On a connection you hold, a transaction it was part
 * of is lost: retry the whole transaction (`retryable` is true); `getConnection()` waits for a
 * writable server while the failover lasts. From `pool.query`/`pool.execute`, it means the
 * statement waited `failover.waitMs` for a writable server in vain.
 *
 * `errno`, `sqlState` and `sqlMessage` are the server's, so code that checks `errno` (and
 * `isReadOnlyError`) keeps working; `cause` is mysql2's error.
 */
export class ReadOnlyError extends CredswapError {
  /** The server's error number: 1290, 1836 or 1874. */
  readonly errno: number;
  readonly sqlState: string | undefined;
  readonly sqlMessage: string | undefined;
  /** Always true: the statement did not run, so running it (or its transaction) again is safe. */
  readonly retryable = true;

  constructor(cause: Error & { errno?: number; sqlState?: string; sqlMessage?: string }, waitedMs?: number) {
    const waited = waitedMs === undefined ? '' : ` after waiting ${waitedMs} ms for a writable server (failover.waitMs)`;
    super(
      'CREDSWAP_READ_ONLY',
      `credswap: the server refused the statement as read-only (errno ${cause.errno}; a failover is under way)${waited}. It did not run; a transaction it was part of is lost and can be retried as a whole: getConnection() waits for a writable server`,
      { cause },
    );
    this.errno = cause.errno ?? 0;
    this.sqlState = cause.sqlState;
    this.sqlMessage = cause.sqlMessage;
  }
}
defineCode(ReadOnlyError, 'CREDSWAP_READ_ONLY', 'ReadOnlyError');

/** True for any error credswap raised (from any copy of the package). */
export function isCredswapError(value: unknown): value is CredswapError {
  return brandedHasInstance(undefined, value);
}

/**
 * A short description of a thrown value for a message: its name, code and message, which are
 * the thrower's responsibility. Never the value itself when it is not an Error.
 */
export function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${cause.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${cause.message}`;
  }
  return `a non-Error value (${typeof cause})`;
}
