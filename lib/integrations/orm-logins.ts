/**
 * Logins of a pool an ORM owns (Sequelize's, Knex's) through the coordinator's login gate, as
 * credswap's own pool logs in (`lib/mysql2/pool-logins.ts`): credentials that may be refused
 * are tried by one login at a time, a refusal is not repeated while the coordinator asks or
 * cools down, and an account the server refuses whatever its password is reported, not rotated.
 *
 * @packageDocumentation
 */

import type { RotationCoordinator } from '../coordinator.js';
import { AccountUnavailableError } from '../errors.js';
import type { LoginTicket } from '../login-gate.js';
import { accountProblemOf, isAccessDenied } from '../mysql2/classify.js';

/**
 * A copy of an earlier refusal that the login gate answered with instead of a login: the same
 * `errno` (1045), `code`, `sqlState` and message, with a note that it was not tried.
 */
export class NotTried {
  /** The copy. */
  readonly refusal: Error;
  constructor(refusal: Error) {
    this.refusal = refusal;
  }
}

/**
 * Waits until the coordinator's login gate lets a login with `generation`'s credentials start.
 * Resolves with the ticket the login reports through ({@link settleLogin}); resolves with a
 * {@link NotTried} when these credentials were refused a moment ago and may not be tried yet.
 */
export function enterGate(coordinator: RotationCoordinator, generation: number): Promise<LoginTicket | NotTried> {
  return coordinator.logins.enter(generation).catch((refusal: Error) => new NotTried(refusal));
}

/** Reports a failed login's `driverError` through its ticket: a 1045 is a refusal, anything else says nothing about the credentials. */
export function settleLogin(ticket: LoginTicket, driverError: unknown): void {
  if (isAccessDenied(driverError)) ticket.refused(driverError as Error);
  else ticket.failed();
}

/**
 * An {@link AccountUnavailableError} for `user` when a login's `driverError` says the account is
 * refused whatever its password (locked, blocked after failed logins, password expired);
 * `undefined` for any other error. The ORM's failed login gives no connection to read the
 * server's flavour from, and none is needed: at login, MySQL's numbers for these (3118, 3955)
 * are unused by MariaDB, and MariaDB's (4150, 4151) are MySQL's bulk-load parser errors, which a
 * login never raises.
 */
export function accountUnavailable(user: string, driverError: unknown): AccountUnavailableError | undefined {
  const problem = accountProblemOf(driverError, false) ?? accountProblemOf(driverError, true);
  return problem === undefined ? undefined : new AccountUnavailableError(user, problem, driverError as Error);
}
