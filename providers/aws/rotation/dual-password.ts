/**
 * Dual-password rotation (MySQL 8.0.14 and later): setSecret changes the user's password with
 * `RETAIN CURRENT PASSWORD`, so that from setSecret to finishSecret the old and the new password
 * both log in, and finishSecret, once AWSCURRENT is on the new version, discards the old one
 * (`DISCARD OLD PASSWORD`). No login is refused while the rotation is under way.
 *
 * The user changes its own password, which needs the APPLICATION_PASSWORD_ADMIN privilege; or,
 * when the secret names an administrator secret (`masterarn`), the administrator does, which
 * needs CREATE USER. MariaDB has no dual passwords: setSecret says so and changes nothing.
 *
 * @packageDocumentation
 */

import { describeCause } from '../../../lib/errors.js';
import { redactError, sqlEscaped } from '../../../lib/redact.js';
import { AWSCURRENT, type ParsedSecret } from '../secret-json.js';
import { administratorSecretId, logInAsAdministrator, type AdministratorSession } from './administrator.js';
import { StepProblem, type Invocation, type RotationStrategy } from './invocation.js';
import { alsoOtherHosts, changeOwnPassword, logInAsUser, previousSecret, quotedAccount } from './own-account.js';
import {
  close,
  currentAccount,
  discardOldPassword,
  discardOwnOldPassword,
  errnoOf,
  hostsWithOldPassword,
  serverInfo,
  setPassword,
  userHosts,
  type Connection,
  type Login,
  type ServerInfo,
} from './sql.js';

const ER_SPECIFIC_ACCESS_DENIED = 1227;

export const dualPassword: RotationStrategy = {
  pendingUser: (_invocation, currentUser) => currentUser,
  setSecret,
  afterFinish: discardOld,
};

/**
 * Logs in as the user with AWSCURRENT (else AWSPREVIOUS), so that only a secret that works gets
 * its user's password changed, and sets the AWSPENDING password, keeping the current one as the
 * secondary password: as the user itself (with `REPLACE`, for `PASSWORD REQUIRE CURRENT`
 * accounts), or as the administrator when the secret names one (on every host of the user, in
 * one statement).
 */
async function setSecret(invocation: Invocation): Promise<void> {
  const previous = await previousSecret(invocation);
  const secrets = await invocation.pendingToSet();
  if (secrets === undefined) return;
  const { current, pending, pendingLogin } = secrets;
  const masterId = administratorSecretId(invocation, current, false);
  const session = await logInAsUser(invocation, current, previous, pending);
  if (masterId !== undefined) {
    await close(session.connection);
    return setAsAdministrator(invocation, masterId, current, pendingLogin);
  }
  try {
    requireDualPasswords(session.server, pendingLogin.user);
    await changeOwnPassword(invocation, session, pendingLogin, true);
    invocation.info(
      `setSecret: changed the password of '${session.account ?? pendingLogin.user}'; the ${session.stage} password keeps logging in until finishSecret`,
    );
    await alsoOtherHosts(invocation, session, pendingLogin, true);
  } finally {
    await close(session.connection);
  }
}

/** As the administrator: the pending password on every host of the user, the current one retained. */
async function setAsAdministrator(invocation: Invocation, masterId: string, current: ParsedSecret, pending: Login): Promise<void> {
  const admin = await logInAsAdministrator(invocation, masterId, current);
  try {
    requireDualPasswords(await serverInfo(admin.connection), pending.user);
    const adminAccount = await currentAccount(admin.connection);
    const hosts = await accountsOf(admin, pending.user, () => userHosts(admin.connection, pending.user));
    if (hosts.length === 0) throw new StepProblem(`user '${pending.user}' does not exist in mysql.user`, pending.user);
    try {
      await setPassword(admin.connection, pending.user, hosts, pending.password, { retain: true });
    } catch (error) {
      throw refusedToAdministrator(error, quotedAccount(adminAccount, admin.login.user), masterId, pending.user, 'RETAIN CURRENT PASSWORD');
    }
    invocation.info(
      `setSecret: as the administrator, changed the password of user '${pending.user}' on host(s) ${list(hosts)}; ` +
        'the AWSCURRENT password keeps logging in until finishSecret',
    );
  } finally {
    await close(admin.connection);
  }
}

/**
 * finishSecret, after AWSCURRENT moved to the token's version: discards the old password, as the
 * user (logged in with the new AWSCURRENT) or as the administrator. `DISCARD OLD PASSWORD` does
 * nothing when there is none, so a retried finishSecret discards what is left, or nothing. With
 * `discardOldPassword: 'at-next-rotation'` it leaves the old password: the next setSecret's
 * `RETAIN CURRENT PASSWORD` replaces it.
 */
async function discardOld(invocation: Invocation): Promise<void> {
  if (invocation.settings.discardOldPassword === 'at-next-rotation') {
    invocation.info(
      "finishSecret: the old password keeps logging in until the next rotation replaces it (discardOldPassword: 'at-next-rotation')",
    );
    return;
  }
  const secret = await invocation.secret(AWSCURRENT, invocation.token);
  const user = secret.credentials.user;
  const login = invocation.login(secret, 'AWSCURRENT');
  const masterId = administratorSecretId(invocation, secret, false);
  let connection: Connection;
  try {
    connection = await invocation.connect(login);
  } catch (error) {
    throw new StepProblem('AWSCURRENT moved, but the old password is not discarded: unable to log in with the AWSCURRENT secret', user, {
      cause: error,
    });
  }
  if (masterId !== undefined) {
    await close(connection);
    return discardAsAdministrator(invocation, masterId, secret);
  }
  try {
    if (!(await serverInfo(connection)).dualPasswords) {
      invocation.info('finishSecret: the server has no dual passwords; no old password to discard');
      return;
    }
    const account = await currentAccount(connection);
    try {
      await discardOwnOldPassword(connection);
    } catch (error) {
      throw refusedDiscard(error, quotedAccount(account, user), user);
    }
    invocation.info(`finishSecret: discarded the old password of '${account ?? user}'`);
    await discardOnOtherHosts(invocation, connection, user, account);
  } finally {
    await close(connection);
  }
}

/** As the administrator: discards the old password of every account of the user that has one. */
async function discardAsAdministrator(invocation: Invocation, masterId: string, secret: ParsedSecret): Promise<void> {
  const user = secret.credentials.user;
  const admin = await logInAsAdministrator(invocation, masterId, secret);
  try {
    if (!(await serverInfo(admin.connection)).dualPasswords) {
      invocation.info('finishSecret: the server has no dual passwords; no old password to discard');
      return;
    }
    const adminAccount = await currentAccount(admin.connection);
    const hosts = await accountsOf(admin, user, () => hostsWithOldPassword(admin.connection, user));
    if (hosts.length === 0) {
      invocation.info(`finishSecret: user '${user}' has no old password left to discard`);
      return;
    }
    try {
      await discardOldPassword(admin.connection, user, hosts);
    } catch (error) {
      throw refusedToAdministrator(error, quotedAccount(adminAccount, admin.login.user), masterId, user, 'DISCARD OLD PASSWORD');
    }
    invocation.info(`finishSecret: as the administrator, discarded the old password of user '${user}' on host(s) ${list(hosts)}`);
  } finally {
    await close(admin.connection);
  }
}

/**
 * The user's accounts on other hosts that still have an old password: discarded too when the
 * user may (CREATE USER); a warning when it may not. Nothing when it cannot read mysql.user:
 * then setSecret could not change them either.
 */
async function discardOnOtherHosts(
  invocation: Invocation,
  connection: Connection,
  user: string,
  account: string | undefined,
): Promise<void> {
  const ownHost = account === undefined ? undefined : account.slice(account.lastIndexOf('@') + 1);
  let hosts: string[];
  try {
    hosts = (await hostsWithOldPassword(connection, user)).filter((host) => host !== ownHost);
  } catch {
    return;
  }
  if (hosts.length === 0) return;
  try {
    await discardOldPassword(connection, user, hosts);
    invocation.info(`finishSecret: also discarded the old password of user '${user}' on host(s) ${list(hosts)}`);
  } catch (error) {
    redactError(error, invocation.passwords, [sqlEscaped]);
    invocation.warn(
      `finishSecret: the old password of user '${user}' on host(s) ${list(hosts)} could not be discarded ` +
        `(${describeCause(error)}); it keeps logging in there`,
    );
  }
}

/** Dual passwords need MySQL 8.0.14 or later; MariaDB has none. */
function requireDualPasswords(server: ServerInfo, user: string): void {
  if (server.dualPasswords) return;
  const which = server.mariadb
    ? `the server is MariaDB (${server.version}), which has no dual passwords (RETAIN CURRENT PASSWORD)`
    : `the server is MySQL ${server.version}; dual passwords (RETAIN CURRENT PASSWORD) need MySQL 8.0.14 or later`;
  throw new StepProblem(
    `${which}: use strategy 'single-user' (SecretsManagerProvider reads AWSPENDING while the old password is refused) ` +
      "or 'alternating-users' instead; nothing was changed",
    user,
  );
}

/** The administrator's read of mysql.user, with a failure that says so. */
async function accountsOf(admin: AdministratorSession, user: string, read: () => Promise<string[]>): Promise<string[]> {
  try {
    return await read();
  } catch (error) {
    throw new StepProblem(`the administrator '${admin.login.user}' could not read the accounts of user '${user}' from mysql.user`, user, {
      cause: error,
    });
  }
}

/** What a refused `RETAIN`/`DISCARD` on another account, as the administrator, means. */
function refusedToAdministrator(error: unknown, admin: string, masterId: string, user: string, clause: string): StepProblem {
  if (errnoOf(error) === ER_SPECIFIC_ACCESS_DENIED) {
    return new StepProblem(
      `the administrator ${admin} of secret '${masterId}' may not use ${clause} on user '${user}': ` +
        `grant it the CREATE USER privilege (GRANT CREATE USER ON *.* TO ${admin})`,
      user,
      { cause: error },
    );
  }
  return new StepProblem(`could not ${clause === 'DISCARD OLD PASSWORD' ? 'discard the old password' : 'change the password'}`, user, {
    cause: error,
  });
}

/** What a refused `DISCARD OLD PASSWORD` on one's own account means. */
function refusedDiscard(error: unknown, account: string, user: string): StepProblem {
  if (errnoOf(error) === ER_SPECIFIC_ACCESS_DENIED) {
    return new StepProblem(
      `AWSCURRENT moved, but ${account} may not discard its old password (DISCARD OLD PASSWORD), which keeps logging in: ` +
        `grant it the APPLICATION_PASSWORD_ADMIN privilege (GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO ${account})`,
      user,
      { cause: error },
    );
  }
  return new StepProblem('AWSCURRENT moved, but the old password could not be discarded', user, { cause: error });
}

function list(hosts: readonly string[]): string {
  return hosts.map((h) => `'${h}'`).join(', ');
}
