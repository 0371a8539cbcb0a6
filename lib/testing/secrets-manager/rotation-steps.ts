/**
 * What a rotation function sees: the four steps of a rotation and the event it receives for
 * each, shaped as Secrets Manager's Lambda invocation payload.
 *
 * @packageDocumentation
 */

/**
 * The four steps of a rotation, in the order Secrets Manager runs them.
 * @example
 * ```ts
 * assert.deepEqual(emulator.rotations('prod/db')[0].steps, ROTATION_STEPS);
 * ```
 */
export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

/**
 * A step of a rotation function: `createSecret` (store the new value as `AWSPENDING`),
 * `setSecret` (change the password in the database), `testSecret`, `finishSecret` (move
 * `AWSCURRENT` to the new version).
 * @example
 * ```ts
 * const step: RotationStep = 'setSecret';
 * ```
 */
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** The event a rotation function receives, shaped as Secrets Manager's Lambda invocation payload. */
export interface RotationEvent {
  /** The step to perform. */
  Step: RotationStep;
  /** The secret's full ARN. */
  SecretId: string;
  /** The version id of the new version (the version labelled `AWSPENDING`). */
  ClientRequestToken: string;
  /** An opaque token identifying this rotation; rotation functions may pass it to `PutSecretValue`. */
  RotationToken: string;
}

/**
 * A rotation function, registered with {@link SecretsManagerEmulator.registerRotationFunction}.
 * It is called once per step; it usually calls back into the emulator with the SDK. A throw or
 * rejection fails the rotation at that step.
 * @example
 * ```ts
 * const handler: RotationHandler = async (event) => {
 *   if (event.Step === 'setSecret') await server.setPassword('app', newPassword);
 * };
 * ```
 */
export type RotationHandler = (event: RotationEvent) => unknown;
