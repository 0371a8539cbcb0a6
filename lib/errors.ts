/**
 * Error classes. Every error credswap raises carries a literal `name`, a stable `code`, and
 * (where it wraps something) a `cause`. `instanceof` works across two copies of the package
 * because the check is by brand (`Symbol.for`), not by prototype identity.
 *
 * Messages name the source (provider name, option, file path); they never contain a password.
 */

const BRAND = Symbol.for('credswap.error');
const CODE_BRAND = Symbol.for('credswap.error.code');

/** Every error code credswap raises. The README's errors table is checked against this list. */
export const ERROR_CODES = [
  'CREDSWAP_INVALID_OPTION',
  'CREDSWAP_INVALID_CREDENTIALS',
  'CREDSWAP_CREDENTIALS_UNAVAILABLE',
  'CREDSWAP_PROVIDER_FAILED',
  'CREDSWAP_ROTATION_TIMEOUT',
  'CREDSWAP_ROTATION_COOLDOWN',
  'CREDSWAP_CLOSED',
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

function defineCode<T extends abstract new (...args: never[]) => Error>(
  cls: T,
  code: CredswapErrorCode,
  name: string,
): void {
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
    super(
      'CREDSWAP_INVALID_CREDENTIALS',
      `credswap: credentials from ${source} are invalid: ${problem}`,
      options,
    );
    this.source = source;
    this.key = options?.key;
  }
}
defineCode(InvalidCredentialsError, 'CREDSWAP_INVALID_CREDENTIALS', 'InvalidCredentialsError');

/** The provider had no credentials to give for the first connection (it returned `undefined`). */
export class CredentialsUnavailableError extends CredswapError {
  readonly provider: string;

  constructor(provider: string) {
    super(
      'CREDSWAP_CREDENTIALS_UNAVAILABLE',
      `credswap: provider '${provider}' returned no credentials for the first connection`,
    );
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
    super(
      'CREDSWAP_PROVIDER_FAILED',
      message ?? `credswap: provider '${provider}' failed: ${describeCause(cause)}`,
      { cause },
    );
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

/** A credentials file is missing, unreadable or could not be watched. `path` names it. */
export class FileProviderError extends CredswapError {
  readonly path: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super('CREDSWAP_FILE_ERROR', `credswap: credentials file '${path}' ${problem}`, options);
    this.path = path;
  }
}
defineCode(FileProviderError, 'CREDSWAP_FILE_ERROR', 'FileProviderError');

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
 * AWS Secrets Manager (or the Lambda secrets extension) answered with an error. `secretId` names
 * the secret, `awsError` is the service's error name (`ResourceNotFoundException`, ...), and
 * `retryable` tells whether trying again later can help (throttling, 5xx, network) or the
 * configuration must change first (missing secret, permissions, KMS, malformed request).
 */
export class SecretsManagerError extends CredswapError {
  readonly secretId: string;
  readonly awsError: string;
  readonly retryable: boolean;

  constructor(
    secretId: string,
    awsError: string,
    problem: string,
    options: { retryable: boolean; cause?: unknown },
  ) {
    super('CREDSWAP_SECRETS_MANAGER_ERROR', `credswap: secret '${secretId}': ${problem}`, { cause: options.cause });
    this.secretId = secretId;
    this.awsError = awsError;
    this.retryable = options.retryable;
  }
}
defineCode(SecretsManagerError, 'CREDSWAP_SECRETS_MANAGER_ERROR', 'SecretsManagerError');

/**
 * A step of a rotation could not be done; Secrets Manager will call the step again (and, after
 * repeated failures, mark the rotation as failed). `secretId`, `step` and `user` (when one was
 * involved) say where; `cause` is what failed underneath: a {@link SecretsManagerError}, an
 * {@link InvalidCredentialsError} for a malformed secret, or a mysql2 error (with any password
 * removed from its message and its `sql` property deleted).
 *
 * @example
 * ```ts
 * try {
 *   await handler(event);
 * } catch (error) {
 *   if (error instanceof RotationStepError) console.error(error.step, error.user, error.message);
 *   throw error;
 * }
 * ```
 */
export class RotationStepError extends CredswapError {
  /** The secret being rotated. */
  readonly secretId: string;
  /** The step that failed, as the event named it. */
  readonly step: string;
  /** The database user concerned, when there was one. */
  readonly user: string | undefined;

  constructor(secretId: string, step: string, problem: string, options?: { user?: string; cause?: unknown }) {
    super(
      'CREDSWAP_ROTATION_STEP_FAILED',
      `credswap: rotation of secret '${secretId}' failed in ${step}${options?.user !== undefined ? ` (user '${options.user}')` : ''}: ${problem}`,
      { cause: options?.cause },
    );
    this.secretId = secretId;
    this.step = step;
    this.user = options?.user;
  }
}
defineCode(RotationStepError, 'CREDSWAP_ROTATION_STEP_FAILED', 'RotationStepError');

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

/**
 * `credswap drill` could not reach or prepare what it was pointed at: the MySQL server of
 * `--mysql`, the secret of `--secret-id`, the Vault of `--vault-addr`. `target` names it (a URL
 * with its password redacted, a secret id, a Vault path), never a secret value; `cause` is
 * what failed underneath.
 *
 * @example
 * ```ts
 * try {
 *   await runDrill({ scenario: 'function', mysqlUrl: 'mysql://admin:secret@db.staging:3306/' });
 * } catch (error) {
 *   if (error instanceof DrillTargetError) console.error(error.target, error.message);
 * }
 * ```
 */
export class DrillTargetError extends CredswapError {
  readonly target: string;

  constructor(target: string, problem: string, options?: { cause?: unknown }) {
    super('CREDSWAP_DRILL_TARGET_FAILED', `credswap: drill target ${target}: ${problem}`, options);
    this.target = target;
  }
}
defineCode(DrillTargetError, 'CREDSWAP_DRILL_TARGET_FAILED', 'DrillTargetError');

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
