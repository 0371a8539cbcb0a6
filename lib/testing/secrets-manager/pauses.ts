/**
 * Rotation pauses: {@link SecretsManagerEmulator.pauseRotation} holds the next matching rotation
 * between two steps, to drill what clients do while the database and the secret disagree.
 *
 * @packageDocumentation
 */

import { ClosedError } from '../../errors.js';
import { duration, expectObject, oneOf, rejectUnknownKeys, string } from '../../options.js';
import { deferred, type Deferred } from './deferred.js';
import { ROTATION_STEPS, type RotationEvent, type RotationStep } from './rotation-steps.js';
import type { SecretStore } from './store.js';
import type { Secret } from './types.js';

/** Options of {@link SecretsManagerEmulator.pauseRotation}. Unknown keys are rejected. */
export interface PauseRotationOptions {
  /**
   * Pause only a rotation of this secret (name or ARN).
   * @defaultValue any secret
   */
  secretId?: string;
  /**
   * The step after which the rotation stops.
   * @defaultValue `'setSecret'`: the window in which the database has the new password and
   *   `AWSCURRENT` still holds the old one
   */
  after?: RotationStep;
  /**
   * Release the pause by itself this many milliseconds after it is reached.
   * @defaultValue none: the rotation waits for {@link RotationPause.release} (or `close()`)
   */
  ms?: number;
}

/** A pause set with {@link SecretsManagerEmulator.pauseRotation}. It holds the next matching rotation once. */
export interface RotationPause {
  /**
   * Resolves with the event of the step after which the rotation stopped, once it stopped.
   * Rejects with a `ClosedError` if the emulator closes before any rotation got there.
   */
  readonly reached: Promise<RotationEvent>;
  /** Lets the rotation go on (or drops the pause if it was not reached yet). Idempotent. */
  release(): void;
}

interface Pause {
  readonly secretId: string | undefined;
  readonly after: RotationStep;
  readonly ms: number | undefined;
  readonly reached: Deferred<RotationEvent>;
  readonly released: Deferred<void>;
  isReached: boolean;
  isReleased: boolean;
  timer?: NodeJS.Timeout;
}

const PAUSE_KEYS = new Set(['secretId', 'after', 'ms']);
const PREFIX = 'pauseRotation.options.';

/** The pauses set on one emulator's rotations and not yet released. */
export class Pauses {
  readonly #pauses = new Set<Pause>();
  #closed = false;

  constructor(private readonly store: SecretStore) {}

  /** See {@link SecretsManagerEmulator.pauseRotation}. */
  add(options: PauseRotationOptions = {}): RotationPause {
    const bag = expectObject(options, 'pauseRotation.options') ?? {};
    rejectUnknownKeys(bag, PAUSE_KEYS, PREFIX);
    const secretId = string(bag, 'secretId', PREFIX);
    const after = oneOf(bag, 'after', PREFIX, ROTATION_STEPS, 'setSecret');
    const ms = bag.ms === undefined ? undefined : duration(bag, 'ms', PREFIX, 0);
    if (this.#closed) throw new ClosedError('Secrets Manager emulator');
    const pause: Pause = {
      secretId,
      after,
      ms,
      reached: deferred<RotationEvent>(),
      released: deferred<void>(),
      isReached: false,
      isReleased: false,
    };
    // The caller may never await `reached`; a rejection on close must not go unhandled.
    pause.reached.promise.catch(() => {});
    this.#pauses.add(pause);
    return {
      reached: pause.reached.promise,
      release: () => this.#release(pause),
    };
  }

  /**
   * Called after a rotation of `secret` completed `step`: holds it until the first pause set
   * for that step (and secret) is released; returns at once when none is.
   */
  async after(secret: Secret, step: RotationStep, event: RotationEvent): Promise<void> {
    for (const pause of this.#pauses) {
      if (pause.isReached || pause.isReleased) continue;
      if (pause.after !== step) continue;
      if (pause.secretId !== undefined && this.store.find(pause.secretId) !== secret) continue;
      pause.isReached = true;
      if (pause.ms !== undefined) {
        pause.timer = setTimeout(() => this.#release(pause), pause.ms);
        pause.timer.unref();
      }
      pause.reached.resolve({ ...event });
      await pause.released.promise;
      return;
    }
  }

  /** Releases every pause; those not reached yet reject their `reached` with a `ClosedError`. */
  close(): void {
    this.#closed = true;
    for (const pause of this.#pauses) {
      if (!pause.isReached) pause.reached.reject(new ClosedError('Secrets Manager emulator'));
      this.#release(pause);
    }
  }

  #release(pause: Pause): void {
    if (pause.isReleased) return;
    pause.isReleased = true;
    if (pause.timer) clearTimeout(pause.timer);
    this.#pauses.delete(pause);
    pause.released.resolve();
  }
}
