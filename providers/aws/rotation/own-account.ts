/**
 * A user changing its own password, as single-user and dual-password rotation do: logging in as
 * the secret's user (with AWSCURRENT, else AWSPREVIOUS), the change itself (with `REPLACE` on
 * MySQL, so that `PASSWORD REQUIRE CURRENT` accounts can change too), the user's accounts on
 * other hosts, and what the server's refusals of a change mean.
 *
 * @packageDocumentation
 */

import { InvalidCredentialsError, describeCause } from '../../../lib/errors.js';
import { redactError, sqlEscaped } from '../../../lib/redact.js';
import type { ParsedSecret } from '../secret-json.js';
import { StepProblem, type Invocation } from './invocation.js';
import { isNotFound } from './secrets.js';
import {
  close,
  currentAccount,
  errnoOf,
  serverInfo,
  setOwnPassword,
  setPassword,
  userHosts,
  type Connection,
  type Login,
  type ServerInfo,
} from './sql.js';

const AWSPREVIOUS = 'AWSPREVIOUS';

/** MySQL's errors for a password change it refuses. */
const ER_SPECIFIC_ACCESS_DENIED = 1227;
const ER_INCORRECT_CURRENT_PASSWORD = 3891;
const ER_MISSING_CURRENT_PASSWORD = 3892;

/** A session as the secret's own user. */
export interface OwnSession {
  readonly connection: Connection;
  /** The password it logged in with: the `REPLACE` of a change of its own password. */
  readonly password: string;
  /** The version it logged in with. */
  readonly stage: 'AWSCURRENT' | 'AWSPREVIOUS';
  /** The account the server matched the login to, as `CURRENT_USER()` says it (`user@host`). */
  readonly account: string | undefined;
  readonly server: ServerInfo;
}

/** The secret's AWSPREVIOUS version, or `undefined` when it has none (or not one for a database). */
export async function previousSecret(invocation: Invocation): Promise<ParsedSecret | undefined> {
  try {
    return await invocation.secret(AWSPREVIOUS);
  } catch (error) {
    if (isNotFound(error) || error instanceof InvalidCredentialsError) return undefined;
    throw error;
  }
}

/**
 * Logs in as the pending secret's user with AWSCURRENT, else with AWSPREVIOUS (should an earlier
 * attempt have changed the password already), and reads what the server is.
 */
export async function logInAsUser(
  invocation: Invocation,
  current: ParsedSecret,
  previous: ParsedSecret | undefined,
  pending: ParsedSecret,
): Promise<OwnSession> {
  sameAccount(current, pending, 'AWSCURRENT');
  let connection: Connection | undefined;
  let stage: OwnSession['stage'] = 'AWSCURRENT';
  let password = current.credentials.password;
  let lastError: unknown;
  try {
    connection = await invocation.connect(invocation.login(current, 'AWSCURRENT'));
  } catch (error) {
    lastError = error;
  }
  if (connection === undefined && previous !== undefined) {
    sameAccount(previous, pending, AWSPREVIOUS);
    try {
      connection = await invocation.connect(invocation.login(previous, AWSPREVIOUS));
      stage = AWSPREVIOUS;
      password = previous.credentials.password;
    } catch (error) {
      lastError = error;
    }
  }
  if (connection === undefined) {
    throw new StepProblem(
      'unable to log into the database with the AWSPREVIOUS, AWSCURRENT or AWSPENDING secret',
      pending.credentials.user,
      {
        cause: lastError,
      },
    );
  }
  try {
    return { connection, password, stage, account: await currentAccount(connection), server: await serverInfo(connection) };
  } catch (error) {
    await close(connection);
    throw error;
  }
}

/**
 * Changes the password of the session's own account to the pending one, keeping the current
 * one as the secondary password with `retain` (MySQL 8.0.14+), and turns the server's refusals
 * into a {@link StepProblem} that says what to do.
 */
export async function changeOwnPassword(invocation: Invocation, session: OwnSession, pending: Login, retain: boolean): Promise<void> {
  try {
    await setOwnPassword(session.connection, session.server, pending.password, { current: session.password, retain });
  } catch (error) {
    throw refusedChange(invocation, error, session, pending.user, retain);
  }
}

/** What a refused change of one's own password means. */
function refusedChange(invocation: Invocation, error: unknown, session: OwnSession, user: string, retain: boolean): StepProblem {
  const account = quotedAccount(session.account, user);
  switch (errnoOf(error)) {
    case ER_SPECIFIC_ACCESS_DENIED:
      if (!retain) break;
      return new StepProblem(
        `${account} may not keep its current password as a secondary one (RETAIN CURRENT PASSWORD): ` +
          `grant it the APPLICATION_PASSWORD_ADMIN privilege (GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO ${account}), ` +
          `or name an administrator secret whose user has CREATE USER under the secret's '${invocation.settings.masterSecretKey}' key`,
        user,
        { cause: error },
      );
    case ER_INCORRECT_CURRENT_PASSWORD:
      return new StepProblem(
        `MySQL refused the ${session.stage} password as the current password of ${account} (REPLACE): it logs in, ` +
          'so it is the secondary password that RETAIN CURRENT PASSWORD kept, not the primary one (an earlier ' +
          `dual-password rotation did not finish); finish that rotation, or give ${account} the ${session.stage} password as its only password, then rotate again`,
        user,
        { cause: error },
      );
    case ER_MISSING_CURRENT_PASSWORD:
      return new StepProblem(
        `${account} requires its current password to change it (PASSWORD REQUIRE CURRENT), and this server ` +
          `(${session.server.version}) takes none in SET PASSWORD (REPLACE came with MySQL 8.0.13)`,
        user,
        { cause: error },
      );
  }
  return new StepProblem('could not change the password', user, { cause: error });
}

/** `'user'@'host'` of a `CURRENT_USER()` answer, for messages; `'user'` when there is none. */
export function quotedAccount(account: string | undefined, user: string): string {
  if (account === undefined || !account.includes('@')) return `'${user}'`;
  const at = account.lastIndexOf('@');
  return `'${account.slice(0, at)}'@'${account.slice(at + 1)}'`;
}

/**
 * The same user name may have accounts on other hosts (`'app'@'%'` and `'app'@'localhost'`), and
 * the server picks the most specific one at login. Give them the new password too (keeping the
 * current one with `retain`) when the user is allowed to (CREATE USER); warn when it is not.
 */
export async function alsoOtherHosts(invocation: Invocation, session: OwnSession, pending: Login, retain: boolean): Promise<void> {
  const { account, connection } = session;
  const ownHost = account === undefined ? undefined : account.slice(account.lastIndexOf('@') + 1);
  let hosts: string[];
  try {
    hosts = (await userHosts(connection, pending.user)).filter((host) => host !== ownHost);
  } catch {
    return; // The user cannot read mysql.user, so it cannot change other accounts either.
  }
  if (hosts.length === 0) return;
  const list = hosts.map((h) => `'${h}'`).join(', ');
  try {
    for (const host of hosts) await setPassword(connection, pending.user, [host], pending.password, { retain });
    invocation.info(
      `setSecret: also changed the password of user '${pending.user}' on host(s) ${list}` +
        (retain ? ', keeping the current one as the secondary password' : ''),
    );
  } catch (error) {
    redactError(error, invocation.passwords, [sqlEscaped]);
    invocation.warn(
      `setSecret: user '${pending.user}' also exists on host(s) ${list}, whose password could not be changed ` +
        `(${describeCause(error)}); logins that match those accounts will keep failing with the new password`,
    );
  }
}

/** The pending secret must be for the same user and host as `other`. */
export function sameAccount(other: ParsedSecret, pending: ParsedSecret, stage: string): void {
  if (other.credentials.user !== pending.credentials.user) {
    throw new StepProblem(
      `refusing to modify user '${pending.credentials.user}': the ${stage} user is '${other.credentials.user}'`,
      pending.credentials.user,
    );
  }
  if (other.credentials.host !== pending.credentials.host) {
    throw new StepProblem(`refusing to modify a user on another host than the ${stage} secret names`, pending.credentials.user);
  }
}
