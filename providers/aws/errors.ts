/**
 * The errors of `credswap/aws`: Secrets Manager's answers and the rotation handler's steps.
 *
 * @packageDocumentation
 */

import { CredswapError, defineCode } from '../../lib/errors.js';

/**
 * AWS Secrets Manager (or the Lambda secrets extension) answered with an error. `secretId` names
 * the secret, `awsError` is the service's error name (`ResourceNotFoundException`, ...), and
 * `retryable` tells whether trying again later can help (throttling, 5xx, network) or the
 * configuration must change first (missing secret, permissions, KMS, malformed request).
 */
export class SecretsManagerError extends CredswapError {
  readonly secretId: string;
  readonly awsError: string;
  readonly retryable: boolean;

  constructor(secretId: string, awsError: string, problem: string, options: { retryable: boolean; cause?: unknown }) {
    super('CREDSWAP_SECRETS_MANAGER_ERROR', `credswap: secret '${secretId}': ${problem}`, { cause: options.cause });
    this.secretId = secretId;
    this.awsError = awsError;
    this.retryable = options.retryable;
  }
}
defineCode(SecretsManagerError, 'CREDSWAP_SECRETS_MANAGER_ERROR', 'SecretsManagerError');

/**
 * A step of a rotation could not be done; Secrets Manager will call the step again (and, after
 * repeated failures, mark the rotation as failed). `secretId`, `step` and `user` (when one was
 * involved) say where; `cause` is what failed underneath: a {@link SecretsManagerError}, an
 * {@link InvalidCredentialsError} for a malformed secret, or a mysql2 error (with any password
 * removed from its message and its `sql` property deleted).
 *
 * @example
 * ```ts
 * try {
 *   await handler(event);
 * } catch (error) {
 *   if (error instanceof RotationStepError) console.error(error.step, error.user, error.message);
 *   throw error;
 * }
 * ```
 */
export class RotationStepError extends CredswapError {
  /** The secret being rotated. */
  readonly secretId: string;
  /** The step that failed, as the event named it. */
  readonly step: string;
  /** The database user concerned, when there was one. */
  readonly user: string | undefined;

  constructor(secretId: string, step: string, problem: string, options?: { user?: string; cause?: unknown }) {
    super(
      'CREDSWAP_ROTATION_STEP_FAILED',
      `credswap: rotation of secret '${secretId}' failed in ${step}${options?.user !== undefined ? ` (user '${options.user}')` : ''}: ${problem}`,
      { cause: options?.cause },
    );
    this.secretId = secretId;
    this.step = step;
    this.user = options?.user;
  }
}
defineCode(RotationStepError, 'CREDSWAP_ROTATION_STEP_FAILED', 'RotationStepError');
