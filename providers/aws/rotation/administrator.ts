/**
 * The administrator secret a rotation may act through: the secret named by the rotated secret's
 * `masterarn` key (`masterSecretKey`), as AWS's multi-user rotation functions read it.
 * Alternating-users rotation needs one; dual-password rotation uses one when the secret names it.
 *
 * @packageDocumentation
 */

import { InvalidCredentialsError } from '../../../lib/errors.js';
import { AWSCURRENT, type ParsedSecret } from '../secret-json.js';
import { StepProblem, type Invocation } from './invocation.js';
import type { Connection, Login } from './sql.js';

/**
 * The id of the administrator secret `secret` names, or `undefined` when it names none and
 * `required` is false.
 *
 * @throws InvalidCredentialsError when the key holds something else than a non-empty string, or
 *   is missing and `required`.
 */
export function administratorSecretId(invocation: Invocation, secret: ParsedSecret, required: true): string;
export function administratorSecretId(invocation: Invocation, secret: ParsedSecret, required: boolean): string | undefined;
export function administratorSecretId(invocation: Invocation, secret: ParsedSecret, required: boolean): string | undefined {
  const key = invocation.settings.masterSecretKey;
  const id = secret.raw[key];
  if (id === undefined && !required) return undefined;
  if (typeof id !== 'string' || id === '') {
    throw new InvalidCredentialsError(
      `secret '${invocation.secretId}'`,
      `'${key}' must name the administrator secret for ${invocation.settings.strategy} rotation`,
      { key },
    );
  }
  return id;
}

/** A session as the administrator. */
export interface AdministratorSession {
  readonly connection: Connection;
  readonly login: Login;
}

/**
 * Logs in as the administrator of secret `masterId` (its AWSCURRENT version), on the host of
 * `current` unless the administrator secret names it; without a database.
 */
export async function logInAsAdministrator(invocation: Invocation, masterId: string, current: ParsedSecret): Promise<AdministratorSession> {
  const master = await invocation.secrets.get(masterId, AWSCURRENT);
  if (
    master.credentials.host !== undefined &&
    current.credentials.host !== undefined &&
    master.credentials.host !== current.credentials.host
  ) {
    throw new StepProblem(`the administrator secret '${masterId}' is for another host than the secret`, current.credentials.user);
  }
  const login: Login = {
    ...invocation.login(master, `administrator secret '${masterId}'`, current),
    database: undefined,
  };
  try {
    return { connection: await invocation.connect(login), login };
  } catch (error) {
    throw new StepProblem(`unable to log into the database with the administrator secret '${masterId}'`, login.user, {
      cause: error,
    });
  }
}
