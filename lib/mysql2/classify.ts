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
