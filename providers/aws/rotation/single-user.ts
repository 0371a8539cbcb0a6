/**
 * Single-user rotation: the user changes its own password. Between setSecret and finishSecret,
 * new connections with the old password fail.
 *
 * @packageDocumentation
 */

import type { Invocation, RotationStrategy } from './invocation.js';
import { alsoOtherHosts, changeOwnPassword, logInAsUser, previousSecret } from './own-account.js';
import { close } from './sql.js';

export const singleUser: RotationStrategy = {
  pendingUser: (_invocation, currentUser) => currentUser,
  setSecret,
};

/**
 * Logs in with AWSCURRENT (else AWSPREVIOUS, should an earlier attempt have changed the password
 * already) and sets the AWSPENDING password; on MySQL with `REPLACE` and the password it logged
 * in with, which `PASSWORD REQUIRE CURRENT` accounts need.
 */
async function setSecret(invocation: Invocation): Promise<void> {
  const previous = await previousSecret(invocation);
  const secrets = await invocation.pendingToSet();
  if (secrets === undefined) return;
  const { current, pending, pendingLogin } = secrets;
  const session = await logInAsUser(invocation, current, previous, pending);
  try {
    await changeOwnPassword(invocation, session, pendingLogin, false);
    invocation.info(`setSecret: changed the password of '${session.account ?? pendingLogin.user}'`);
    await alsoOtherHosts(invocation, session, pendingLogin, false);
  } finally {
    await close(session.connection);
  }
}
