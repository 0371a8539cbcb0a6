/**
 * The event Secrets Manager invokes a rotation function with, and what one invocation is asked
 * to do.
 *
 * @packageDocumentation
 */

import { RotationStepError } from '../errors.js';

/** The four steps Secrets Manager calls a rotation function with, in this order. */
export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

/**
 * The event Secrets Manager invokes a rotation Lambda with.
 * @example
 * ```ts
 * await handler({ Step: 'testSecret', SecretId: 'prod/app/db', ClientRequestToken: token });
 * ```
 */
export interface RotationEvent {
  /** Which step to run. */
  Step: RotationStep;
  /** The secret's ARN (or name). */
  SecretId: string;
  /** The id of the version being rotated to (it carries `AWSPENDING`). */
  ClientRequestToken: string;
  /**
   * Identifies this rotation; passed on to PutSecretValue when present (Secrets Manager needs
   * it there when the function rotates a secret through an assumed role).
   */
  RotationToken?: string;
}

/** One step of one rotation of one secret, as an event asks for it. */
export interface StepRequest {
  readonly secretId: string;
  /** The version being rotated to (the event's `ClientRequestToken`). */
  readonly token: string;
  readonly step: RotationStep;
  readonly rotationToken: string | undefined;
}

/**
 * Reads what an event asks for.
 *
 * @throws RotationStepError when the event is not a rotation step's (no SecretId, no
 * ClientRequestToken, an unknown Step).
 */
export function readEvent(event: unknown): StepRequest {
  const e = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
  const secretId = typeof e.SecretId === 'string' && e.SecretId !== '' ? e.SecretId : undefined;
  const token = typeof e.ClientRequestToken === 'string' && e.ClientRequestToken !== '' ? e.ClientRequestToken : undefined;
  const step = typeof e.Step === 'string' ? e.Step : undefined;
  const id = secretId ?? '(no SecretId)';
  if (secretId === undefined || token === undefined) {
    throw new RotationStepError(
      id,
      step ?? '(no Step)',
      'the event needs SecretId and ClientRequestToken strings; is this function invoked by Secrets Manager rotation?',
    );
  }
  if (step === undefined || !(STEPS as readonly string[]).includes(step)) {
    throw new RotationStepError(id, step ?? '(no Step)', `invalid step parameter; expected one of ${STEPS.join(', ')}`);
  }
  const rotationToken = typeof e.RotationToken === 'string' && e.RotationToken !== '' ? e.RotationToken : undefined;
  return { secretId, token, step: step as RotationStep, rotationToken };
}
