/**
 * A Secrets Manager rotation function for MySQL and MariaDB: `createRotationHandler()` returns
 * the handler of a rotation Lambda. It follows AWS's published rotation functions for RDS MySQL
 * (single user and alternating users) step for step, and works on MariaDB 10.x/11.x and MySQL 8
 * and later; on MySQL it can also rotate with dual passwords.
 *
 * @packageDocumentation
 */

import { readEvent, type RotationEvent } from './event.js';
import { Invocation, stepError } from './invocation.js';
import { readOptions, type RotationHandlerOptions } from './options.js';
import { RotationSecrets } from './secrets.js';
import { runStep } from './steps.js';

/**
 * A rotation Lambda handler, as returned by {@link createRotationHandler}. The second argument
 * (the Lambda context) is not used.
 * @example
 * ```ts
 * export const handler: RotationHandler = createRotationHandler({ strategy: 'single-user' });
 * ```
 */
export type RotationHandler = (event: RotationEvent, context?: unknown) => Promise<void>;

/**
 * Creates a Secrets Manager rotation function for a MySQL or MariaDB secret: the handler of a
 * rotation Lambda. It implements the four steps as AWS's rotation functions for RDS MySQL do:
 *
 * - every step first checks, with DescribeSecret, that rotation is enabled and that the
 *   event's token is a version of the secret carrying `AWSPENDING`; a version that already
 *   carries `AWSCURRENT` means the rotation is done, and the step returns.
 * - `createSecret` stores a copy of the current secret with a password from GetRandomPassword
 *   (and, alternating users, the other user name) as the pending version;
 * - `setSecret` makes the pending credentials valid in the database: the user changes its own
 *   password (single user), or the administrator creates or updates the other user with the
 *   current user's grants, on every host entry of the user name (alternating users), or the
 *   password changes with `RETAIN CURRENT PASSWORD`, so that the current one keeps logging in
 *   (dual password; MySQL 8.0.14 and later);
 * - `testSecret` logs in with the pending credentials and runs a query;
 * - `finishSecret` moves `AWSCURRENT` to the pending version (the service moves `AWSPREVIOUS`),
 *   then, with dual passwords, discards the old password (`DISCARD OLD PASSWORD`); a retried
 *   finishSecret that finds `AWSCURRENT` moved discards what is left.
 *
 * Every step can run twice with the same token and does its work once. A failing step throws a
 * {@link RotationStepError}, and Secrets Manager calls it again later. Each step opens its own
 * short-lived database connections and closes them before returning, also on failure.
 *
 * The secret is JSON: `{ engine?, host, port?, username, password, dbname?, masterarn? }`;
 * `port` may be a number or a numeric string. The Lambda needs network access to the database
 * and to Secrets Manager, and the permissions `secretsmanager:DescribeSecret`,
 * `GetSecretValue`, `PutSecretValue`, `UpdateSecretVersionStage` and `GetRandomPassword`
 * (plus `GetSecretValue` on the administrator secret for alternating users, and for dual
 * password when the secret names one). On MySQL, a change of the user's own password gives the
 * password it logged in with as `REPLACE '<current>'`, which `PASSWORD REQUIRE CURRENT` accounts
 * need.
 *
 * @throws InvalidOptionError for an unknown, missing or malformed option.
 *
 * @example
 * ```ts
 * // rotate.ts, the rotation Lambda's handler file (runtime nodejs22.x, handler rotate.handler)
 * import { createRotationHandler } from 'credswap/aws';
 *
 * export const handler = createRotationHandler({
 *   strategy: 'alternating-users', // the secret's `masterarn` names an administrator secret
 *   logger: console,
 * });
 * ```
 */
export function createRotationHandler(options: RotationHandlerOptions): RotationHandler {
  const settings = readOptions(options);
  const openSecrets = RotationSecrets.forHandler(settings.client, settings.clientConfig, 'credswap/aws createRotationHandler');

  return async function rotationHandler(event: RotationEvent): Promise<void> {
    const request = readEvent(event);
    const passwords = new Set<string>();
    try {
      await runStep(new Invocation(settings, request, await openSecrets(passwords), passwords));
    } catch (error) {
      throw stepError(request, error, passwords);
    }
  };
}
