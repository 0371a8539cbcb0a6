/**
 * The four steps of a rotation, as AWS's rotation functions for RDS MySQL run them. Each can run
 * twice with the same token and does its work once. setSecret is the strategy's, and so is what
 * the database still has to do after finishSecret moved AWSCURRENT (dual passwords: discard the
 * old one).
 *
 * @packageDocumentation
 */

import { AWSCURRENT, AWSPENDING } from '../secret-json.js';
import { alternatingUsers } from './alternating-users.js';
import { dualPassword } from './dual-password.js';
import { StepProblem, type Invocation, type RotationStrategy } from './invocation.js';
import type { RotationSettings } from './options.js';
import { isNotFound } from './secrets.js';
import { singleUser } from './single-user.js';
import { close, ping, type Connection } from './sql.js';

const STRATEGIES: Record<RotationSettings['strategy'], RotationStrategy> = {
  'single-user': singleUser,
  'alternating-users': alternatingUsers,
  'dual-password': dualPassword,
};

/**
 * Runs the step the invocation was asked for. First, with DescribeSecret, checks that rotation is
 * enabled and that the token is a version carrying AWSPENDING; a version that already carries
 * AWSCURRENT means the rotation is done, and the step returns (a finishSecret after running
 * what the strategy does after it, which a failure may have left undone).
 */
export async function runStep(invocation: Invocation): Promise<void> {
  const { secretId, token } = invocation;
  const { rotationEnabled, versions } = await invocation.secrets.describe(secretId);
  if (rotationEnabled === false) throw new StepProblem('rotation is not enabled for the secret');
  const stages = versions[token];
  if (stages === undefined) throw new StepProblem(`version ${token} has no stage for rotation of the secret`);
  const strategy = STRATEGIES[invocation.settings.strategy];
  if (stages.includes(AWSCURRENT)) {
    if (invocation.request.step === 'finishSecret' && strategy.afterFinish !== undefined) {
      return finishAgain(invocation, strategy.afterFinish, versions);
    }
    invocation.info(`version ${token} is already AWSCURRENT; nothing to do`);
    return;
  }
  if (!stages.includes(AWSPENDING)) throw new StepProblem(`version ${token} is not AWSPENDING for rotation of the secret`);

  switch (invocation.request.step) {
    case 'createSecret':
      return createSecret(invocation, strategy);
    case 'setSecret':
      return strategy.setSecret(invocation);
    case 'testSecret':
      return testSecret(invocation);
    case 'finishSecret':
      await finishSecret(invocation, versions);
      return strategy.afterFinish?.(invocation);
  }
}

/**
 * A finishSecret that finds AWSCURRENT on the token's version already: an earlier attempt moved
 * it and may have failed after that. Runs what the strategy does after finishSecret again,
 * unless another version carries AWSPENDING: a newer rotation is then under way, and its
 * passwords are not this one's to touch.
 */
async function finishAgain(
  invocation: Invocation,
  afterFinish: (invocation: Invocation) => Promise<void>,
  versions: Record<string, string[]>,
): Promise<void> {
  const { token } = invocation;
  const newer = Object.entries(versions).find(([version, stages]) => version !== token && stages.includes(AWSPENDING));
  if (newer !== undefined) {
    invocation.info(`version ${token} is already AWSCURRENT and version ${newer[0]} is AWSPENDING; nothing to do`);
    return;
  }
  invocation.info(`version ${token} is already AWSCURRENT; finishing what finishSecret does after that`);
  await afterFinish(invocation);
}

/**
 * Stores a copy of the current secret with a password from GetRandomPassword (and the strategy's
 * user name) as the pending version, unless the token's version already has a value.
 */
async function createSecret(invocation: Invocation, strategy: RotationStrategy): Promise<void> {
  const { secretId, token, settings } = invocation;
  const current = await invocation.secret(AWSCURRENT);
  try {
    await invocation.secret(AWSPENDING, token);
    invocation.info(`createSecret: version ${token} already holds the pending secret`);
    return;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const user = strategy.pendingUser(invocation, current.credentials.user);
  const password = await invocation.secrets.randomPassword(secretId, settings.passwordLength, settings.excludeCharacters);
  if (password === undefined) throw new StepProblem('GetRandomPassword returned no password');
  const pending = { ...current.raw, username: user, password };
  await invocation.secrets.putPending(secretId, token, pending, invocation.request.rotationToken);
  invocation.info(`createSecret: stored a new password for user '${user}' as version ${token} (AWSPENDING)`);
}

/** Logs in with the pending credentials and runs a query. */
async function testSecret(invocation: Invocation): Promise<void> {
  const pending = invocation.login(await invocation.secret(AWSPENDING, invocation.token), 'AWSPENDING');
  let connection: Connection;
  try {
    connection = await invocation.connect(pending);
  } catch (error) {
    throw new StepProblem('unable to log into the database with the AWSPENDING secret', pending.user, { cause: error });
  }
  try {
    await ping(connection);
  } catch (error) {
    throw new StepProblem('logged in with the AWSPENDING secret, but a query failed', pending.user, { cause: error });
  } finally {
    await close(connection);
  }
  invocation.info(`testSecret: logged in as '${pending.user}' with the AWSPENDING secret`);
}

/** Moves AWSCURRENT to the pending version. */
async function finishSecret(invocation: Invocation, versions: Record<string, string[]>): Promise<void> {
  const { secretId, token } = invocation;
  let currentVersion: string | undefined;
  for (const [version, stages] of Object.entries(versions)) {
    if (stages.includes(AWSCURRENT)) {
      currentVersion = version;
      break;
    }
  }
  // runStep() returned already when the token's version is AWSCURRENT.
  await invocation.secrets.moveCurrent(secretId, token, currentVersion);
  invocation.info(`finishSecret: version ${token} is now AWSCURRENT (was ${currentVersion ?? 'none'})`);
}
