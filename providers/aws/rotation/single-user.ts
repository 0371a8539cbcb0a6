/**
 * Single-user rotation: the user changes its own password. Between setSecret and finishSecret,
 * new connections with the old password fail.
 *
 * @packageDocumentation
 */

import { InvalidCredentialsError, describeCause } from '../../../lib/errors.js';
import { redactError, sqlEscaped } from '../../../lib/redact.js';
import type { ParsedSecret } from '../secret-json.js';
import { StepProblem, type Invocation, type RotationStrategy } from './invocation.js';
import { isNotFound } from './secrets.js';
import { close, currentAccount, isMariaDB, setOwnPassword, setPassword, userHosts, type Connection, type Login } from './sql.js';

const AWSPREVIOUS = 'AWSPREVIOUS';

export const singleUser: RotationStrategy = {
  pendingUser: (_invocation, currentUser) => currentUser,
  setSecret,
};

/**
 * Logs in with AWSCURRENT (else AWSPREVIOUS, should an earlier attempt have changed the password
 * already) and sets the AWSPENDING password.
 */
async function setSecret(invocation: Invocation): Promise<void> {
  let previous: ParsedSecret | undefined;
  try {
    previous = await invocation.secret(AWSPREVIOUS);
  } catch (error) {
    if (!isNotFound(error) && !(error instanceof InvalidCredentialsError)) throw error;
  }
  const secrets = await invocation.pendingToSet();
  if (secrets === undefined) return;
  const { current, pending, pendingLogin } = secrets;
  sameAccount(current, pending, 'AWSCURRENT');

  let connection: Connection | undefined;
  let lastError: unknown;
  try {
    connection = await invocation.connect(invocation.login(current, 'AWSCURRENT'));
  } catch (error) {
    lastError = error;
  }
  if (connection === undefined && previous !== undefined) {
    sameAccount(previous, pending, 'AWSPREVIOUS');
    try {
      connection = await invocation.connect(invocation.login(previous, 'AWSPREVIOUS'));
    } catch (error) {
      lastError = error;
    }
  }
  if (connection === undefined) {
    throw new StepProblem('unable to log into the database with the AWSPREVIOUS, AWSCURRENT or AWSPENDING secret', pendingLogin.user, {
      cause: lastError,
    });
  }
  try {
    const mariadb = await isMariaDB(connection);
    const self = await currentAccount(connection);
    try {
      await setOwnPassword(connection, mariadb, pendingLogin.password);
    } catch (error) {
      throw new StepProblem('could not change the password', pendingLogin.user, { cause: error });
    }
    invocation.info(`setSecret: changed the password of '${self ?? pendingLogin.user}'`);
    await alsoOtherHosts(invocation, connection, pendingLogin, self);
  } finally {
    await close(connection);
  }
}

/**
 * The same user name may have accounts on other hosts (`'app'@'%'` and `'app'@'localhost'`), and
 * the server picks the most specific one at login. Give them the new password too when the user
 * is allowed to; warn when it is not.
 */
async function alsoOtherHosts(invocation: Invocation, connection: Connection, pending: Login, account: string | undefined): Promise<void> {
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
    for (const host of hosts) await setPassword(connection, pending.user, [host], pending.password);
    invocation.info(`setSecret: also changed the password of user '${pending.user}' on host(s) ${list}`);
  } catch (error) {
    redactError(error, invocation.passwords, [sqlEscaped]);
    invocation.warn(
      `setSecret: user '${pending.user}' also exists on host(s) ${list}, whose password could not be changed ` +
        `(${describeCause(error)}); logins that match those accounts will keep failing with the new password`,
    );
  }
}

/** The pending secret must be for the same user and host as `other`. */
function sameAccount(other: ParsedSecret, pending: ParsedSecret, stage: string): void {
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
