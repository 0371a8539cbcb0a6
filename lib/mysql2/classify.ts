/**
 * Server error classification, by `errno` (never by message or `code` text).
 */

/** ER_ACCESS_DENIED_ERROR: the server refused the credentials of a new connection. */
export const ER_ACCESS_DENIED = 1045;

/**
 * Errors by which a server says it is read-only; the statement did not run:
 * 1290 ER_OPTION_PREVENTS_STATEMENT (`--read-only`, Aurora during failover),
 * 1792 ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION, 1836 ER_READ_ONLY_MODE, 1874
 * ER_INNODB_READ_ONLY (MySQL started with `--innodb-read-only`).
 */
export const READ_ONLY_ERRNOS: ReadonlySet<number> = new Set([1290, 1792, 1836, 1874]);

function errnoOf(err: unknown): number | undefined {
  const errno = (err as { errno?: unknown } | null)?.errno;
  return typeof errno === 'number' ? errno : undefined;
}

/** True for a 1045 access-denied error. */
export function isAccessDenied(err: unknown): boolean {
  return errnoOf(err) === ER_ACCESS_DENIED;
}

/** True for the read-only errors in {@link READ_ONLY_ERRNOS}. */
export function isReadOnlyError(err: unknown): boolean {
  const errno = errnoOf(err);
  return errno !== undefined && READ_ONLY_ERRNOS.has(errno);
}

/**
 * True for 1792 (ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION): the transaction or session is read-only
 * (`START TRANSACTION READ ONLY`), not the server.
 */
export function isReadOnlyTransactionError(err: unknown): boolean {
  return errnoOf(err) === 1792;
}

/**
 * Why a server refuses an account whatever its password, when it does: not a rotation, so
 * credswap neither asks the provider nor retries the login.
 * - `temporarily-locked`: too many refused logins in a row (MySQL `FAILED_LOGIN_ATTEMPTS`, 3955);
 * - `blocked`: the same on MariaDB (`max_password_errors`, 4150), until `FLUSH PRIVILEGES`;
 * - `locked`: `ALTER USER ... ACCOUNT LOCK` (MySQL 3118, MariaDB 4151);
 * - `password-expired`: the password must be changed first (1820, 1862).
 */
export type AccountProblem = 'temporarily-locked' | 'blocked' | 'locked' | 'password-expired';

const MYSQL_ACCOUNT_PROBLEMS: ReadonlyMap<number, AccountProblem> = new Map([
  [3955, 'temporarily-locked'],
  [3118, 'locked'],
  [1820, 'password-expired'],
  [1862, 'password-expired'],
]);

const MARIADB_ACCOUNT_PROBLEMS: ReadonlyMap<number, AccountProblem> = new Map([
  [4150, 'blocked'],
  [4151, 'locked'],
  [1820, 'password-expired'],
  [1862, 'password-expired'],
]);

/**
 * The {@link AccountProblem} a login error means, by `errno` and server flavour (the same numbers
 * mean different things on MySQL and MariaDB); `undefined` for any other error.
 *
 * @param mariadb - whether the server said it is MariaDB in its handshake
 */
export function accountProblemOf(err: unknown, mariadb: boolean): AccountProblem | undefined {
  const errno = errnoOf(err);
  if (errno === undefined) return undefined;
  return (mariadb ? MARIADB_ACCOUNT_PROBLEMS : MYSQL_ACCOUNT_PROBLEMS).get(errno);
}
