/**
 * Alternating-users rotation: an administrator (the secret named by the `masterarn` key) keeps
 * two users, `app` and `app_clone`, and each rotation gives the other one a new password and the
 * grants of the current one, so the old credentials keep working until the next rotation.
 *
 * @packageDocumentation
 */

import { randomBytes } from 'node:crypto';
import { administratorSecretId, logInAsAdministrator } from './administrator.js';
import { rewriteGrant } from './grants.js';
import { StepProblem, type Invocation, type RotationStrategy } from './invocation.js';
import {
  account,
  close,
  copyTlsRequirement,
  createUser,
  grant,
  setPassword,
  showGrants,
  userHosts,
  type Connection,
  type Login,
} from './sql.js';

/**
 * The longest user name MySQL accepts (32 characters since 5.7.8; MariaDB accepts 80). An
 * alternate user name longer than this is refused in `createSecret`, before anything changes.
 * @example
 * ```ts
 * if (`${user}_clone`.length > MYSQL_MAX_USER_NAME_LENGTH) console.warn('use single-user rotation');
 * ```
 */
export const MYSQL_MAX_USER_NAME_LENGTH = 32;

export const alternatingUsers: RotationStrategy = {
  pendingUser(invocation, currentUser) {
    const user = alternate(currentUser, invocation.settings.cloneSuffix);
    if (user.length > MYSQL_MAX_USER_NAME_LENGTH) {
      throw new StepProblem(
        `the alternate user name '${user}' is longer than MySQL's limit of ${MYSQL_MAX_USER_NAME_LENGTH} characters; use a shorter user name or cloneSuffix`,
        currentUser,
      );
    }
    return user;
  },
  setSecret,
};

/** The other user name: with the clone suffix added, or removed when it is there. */
function alternate(user: string, suffix: string): string {
  return user.endsWith(suffix) ? user.slice(0, -suffix.length) : user + suffix;
}

/**
 * Checks that the pending secret is for the alternate of the current user, logs in with the
 * current secret, then, as the administrator, makes the pending user a copy of the current one.
 */
async function setSecret(invocation: Invocation): Promise<void> {
  const { settings } = invocation;
  const secrets = await invocation.pendingToSet();
  if (secrets === undefined) return;
  const { current, pending, pendingLogin } = secrets;
  const currentUser = current.credentials.user;
  if (alternate(currentUser, settings.cloneSuffix) !== pendingLogin.user) {
    throw new StepProblem(
      `refusing to modify user '${pendingLogin.user}': it is neither the current user '${currentUser}' nor its alternate`,
      pendingLogin.user,
    );
  }
  if (current.credentials.host !== pending.credentials.host) {
    throw new StepProblem('refusing to modify a user on another host than the AWSCURRENT secret names', pendingLogin.user);
  }
  // Log in with the current secret first, so that only a secret that works can get its user
  // copied (the check AWS's function makes against a confused deputy).
  const currentLogin = invocation.login(current, 'AWSCURRENT');
  try {
    await close(await invocation.connect(currentLogin));
  } catch (error) {
    throw new StepProblem('unable to log into the database with the AWSCURRENT secret', currentUser, { cause: error });
  }

  const masterId = administratorSecretId(invocation, current, true);
  const { connection } = await logInAsAdministrator(invocation, masterId, current);
  try {
    await copyUser(invocation, connection, currentUser, pendingLogin);
  } catch (error) {
    if (error instanceof StepProblem) throw error;
    throw new StepProblem(
      `could not give user '${pendingLogin.user}' the grants of '${currentUser}' and the pending password`,
      pendingLogin.user,
      {
        cause: error,
      },
    );
  } finally {
    await close(connection);
  }
}

/**
 * As the administrator: make `pending` a copy of `currentUser` with the pending password, on
 * every host of either name. The pending password is set last, in one statement, so that a
 * login with it (the check that makes a repeated setSecret return early) means that the grants
 * are in place; a new user is created with a throwaway password until then.
 */
async function copyUser(invocation: Invocation, connection: Connection, currentUser: string, pending: Login): Promise<void> {
  const currentHosts = await userHosts(connection, currentUser);
  if (currentHosts.length === 0) throw new StepProblem(`user '${currentUser}' does not exist in mysql.user`, currentUser);
  const existing = await userHosts(connection, pending.user);
  const created: string[] = [];
  const placeholder = randomBytes(24).toString('base64url');
  invocation.passwords.add(placeholder);
  for (const host of currentHosts) {
    if (existing.includes(host)) continue;
    await createUser(connection, pending.user, host, placeholder);
    created.push(host);
  }
  for (const host of currentHosts) {
    const target = account(connection, pending.user, host);
    for (const line of await showGrants(connection, currentUser, host)) {
      const rewritten = rewriteGrant(line, currentUser, host, target);
      if (rewritten === undefined) {
        throw new StepProblem(`could not find the grantee in a SHOW GRANTS line of '${currentUser}'@'${host}'`, currentUser);
      }
      await grant(connection, rewritten);
    }
    await copyTlsRequirement(connection, currentUser, host, target);
  }
  const all = [...new Set([...existing, ...currentHosts])];
  await setPassword(connection, pending.user, all, pending.password);
  const hosts = all.map((h) => `'${h}'`).join(', ');
  invocation.info(
    `setSecret: user '${pending.user}' on host(s) ${hosts} has the grants of '${currentUser}' and the pending password` +
      (created.length > 0 ? ` (created on ${created.map((h) => `'${h}'`).join(', ')})` : ''),
  );
}
