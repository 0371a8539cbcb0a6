/**
 * Rotations: the rotation functions registered in-process, `RotateSecret` running them through
 * the four steps (holding at the pauses set), `CancelRotateSecret`, and waiting for a rotation
 * to end.
 *
 * @packageDocumentation
 */

import { randomUUID } from 'node:crypto';
import { ClosedError, InvalidOptionError } from '../../errors.js';
import { duration, expectObject, rejectUnknownKeys } from '../../options.js';
import { deferred, type Deferred } from './deferred.js';
import { checkToken, optBool, optInt, optObject, optString } from './input.js';
import { Pauses, type PauseRotationOptions, type RotationPause } from './pauses.js';
import { AwsError, invalidParameter, invalidRequest } from './protocol.js';
import { ROTATION_STEPS, type RotationEvent, type RotationHandler, type RotationStep } from './rotation-steps.js';
import { CURRENT, DAY_MS, PENDING, type SecretStore } from './store.js';
import type { Input, RotationRules, Secret, Value } from './types.js';

/** The state of one rotation, from {@link SecretsManagerEmulator.rotations} and {@link SecretsManagerEmulator.waitForRotation}. */
export interface RotationResult {
  /** The secret's ARN. */
  readonly secretArn: string;
  /** The secret's name. */
  readonly name: string;
  /** The new version's id (the `ClientRequestToken` of the events). */
  readonly versionId: string;
  /** The ARN of the rotation function that ran. */
  readonly functionArn: string;
  /**
   * `'running'`; `'succeeded'` when every step returned; `'failed'` when a step threw
   * (`failedStep` and `error` tell which and what); `'cancelled'` when the emulator was closed
   * or the rotation was cancelled with `CancelRotateSecret` first.
   */
  readonly status: 'running' | 'succeeded' | 'failed' | 'cancelled';
  /** The steps that completed, in order. */
  readonly steps: readonly RotationStep[];
  /** The step that threw, when `status` is `'failed'`. */
  readonly failedStep?: RotationStep;
  /** What the failed step threw. */
  readonly error?: unknown;
  /** When the rotation started. */
  readonly startedAt: Date;
  /** When it ended, unless it is still running. */
  readonly finishedAt?: Date;
}

/** Options of {@link SecretsManagerEmulator.waitForRotation}. */
export interface WaitForRotationOptions {
  /**
   * Reject with an `Error` when the rotation has not ended after this many milliseconds.
   * @defaultValue none (wait until it ends or the emulator closes)
   */
  timeoutMs?: number;
}

interface Rotation {
  secret: Secret;
  versionId: string;
  functionArn: string;
  status: RotationResult['status'];
  steps: RotationStep[];
  failedStep?: RotationStep;
  error?: unknown;
  startedAt: number;
  finishedAt?: number;
  done: Deferred<void>;
  cancelled: boolean;
}

function snapshot(rotation: Rotation): RotationResult {
  const result: { -readonly [K in keyof RotationResult]: RotationResult[K] } = {
    secretArn: rotation.secret.arn,
    name: rotation.secret.name,
    versionId: rotation.versionId,
    functionArn: rotation.functionArn,
    status: rotation.status,
    steps: [...rotation.steps],
    startedAt: new Date(rotation.startedAt),
  };
  if (rotation.failedStep !== undefined) result.failedStep = rotation.failedStep;
  if (rotation.status === 'failed') result.error = rotation.error;
  if (rotation.finishedAt !== undefined) result.finishedAt = new Date(rotation.finishedAt);
  return result;
}

/** The rotation functions of one emulator, its rotations and the pauses set on them. */
export class Rotations {
  readonly #functions = new Map<string, RotationHandler>();
  readonly #rotations: Rotation[] = [];
  readonly #rotationWaiters = new Set<{ secret: Secret; resolve: (r: Rotation) => void; reject: (e: unknown) => void }>();
  readonly #running = new Set<Promise<void>>();
  readonly #pauses: Pauses;
  #closed = false;

  constructor(
    private readonly store: SecretStore,
    private readonly region: string,
    private readonly accountId: string,
  ) {
    this.#pauses = new Pauses(store);
  }

  /** See {@link SecretsManagerEmulator.registerRotationFunction}. */
  registerRotationFunction(name: string, handler: RotationHandler): string {
    if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      throw new InvalidOptionError('registerRotationFunction(name)', 'must be 1-64 letters, digits, - or _');
    }
    if (typeof handler !== 'function') {
      throw new InvalidOptionError('registerRotationFunction(handler)', 'must be a function');
    }
    const arn = `arn:aws:lambda:${this.region}:${this.accountId}:function:${name}`;
    this.#functions.set(arn, handler);
    return arn;
  }

  /** See {@link SecretsManagerEmulator.pauseRotation}. */
  pauseRotation(options: PauseRotationOptions = {}): RotationPause {
    return this.#pauses.add(options);
  }

  /** See {@link SecretsManagerEmulator.waitForRotation}. */
  waitForRotation(secretId: string, options: WaitForRotationOptions = {}): Promise<RotationResult> {
    const bag = expectObject(options, 'waitForRotation.options') ?? {};
    rejectUnknownKeys(bag, new Set(['timeoutMs']), 'waitForRotation.options.');
    const timeoutMs = bag.timeoutMs === undefined ? undefined : duration(bag, 'timeoutMs', 'waitForRotation.options.', 0);
    const secret = this.store.find(secretId);
    if (secret === undefined) {
      return Promise.reject(new Error(`Secrets Manager emulator: no secret '${secretId}'`));
    }
    if (this.#closed) return Promise.reject(new ClosedError('Secrets Manager emulator'));
    const mine = this.#rotations.filter((r) => r.secret === secret);
    const running = mine.find((r) => r.status === 'running');
    const last = mine.at(-1);
    let started: Promise<Rotation>;
    let stopWaiting = (): void => {};
    if (running) started = Promise.resolve(running);
    else if (last) return Promise.resolve(snapshot(last));
    else {
      const waiter = { secret, ...deferred<Rotation>() };
      const entry = { secret, resolve: waiter.resolve, reject: waiter.reject };
      this.#rotationWaiters.add(entry);
      stopWaiting = () => this.#rotationWaiters.delete(entry);
      started = waiter.promise;
    }
    const ended = started.then(async (rotation) => {
      await rotation.done.promise;
      return snapshot(rotation);
    });
    if (timeoutMs === undefined) return ended;
    return new Promise<RotationResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        stopWaiting();
        reject(new Error(`Secrets Manager emulator: the rotation of '${secretId}' did not end within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      ended.then(
        (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** See {@link SecretsManagerEmulator.rotations}. */
  list(secretId: string): RotationResult[] {
    const secret = this.store.find(secretId);
    return this.#rotations.filter((r) => r.secret === secret).map(snapshot);
  }

  rotateSecret(input: Input): Record<string, unknown> {
    const secret = this.store.require(input);
    const token = optString(input, 'ClientRequestToken') ?? randomUUID();
    checkToken(token);
    const lambdaArn = optString(input, 'RotationLambdaARN');
    const rules = optObject(input, 'RotationRules');
    const immediately = optBool(input, 'RotateImmediately') ?? true;
    let parsedRules: RotationRules | undefined;
    if (rules !== undefined) {
      const days = optInt(rules, 'AutomaticallyAfterDays');
      if (days !== undefined && (days < 1 || days > 1000)) {
        throw invalidParameter('RotationRules.AutomaticallyAfterDays must be within 1-1000.');
      }
      parsedRules = {};
      if (days !== undefined) parsedRules.AutomaticallyAfterDays = days;
      const rotationWindow = optString(rules, 'Duration');
      if (rotationWindow !== undefined) parsedRules.Duration = rotationWindow;
      const schedule = optString(rules, 'ScheduleExpression');
      if (schedule !== undefined) parsedRules.ScheduleExpression = schedule;
    }
    const functionArn = lambdaArn ?? secret.rotationLambdaArn;
    if (functionArn === undefined) {
      throw invalidRequest('No Lambda rotation function ARN is associated with this secret.');
    }
    const handler =
      this.#functions.get(functionArn) ?? this.#functions.get(`arn:aws:lambda:${this.region}:${this.accountId}:function:${functionArn}`);
    if (handler === undefined) {
      throw new AwsError(
        'AccessDeniedException',
        'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
        400,
        true,
      );
    }
    const pending = this.store.versionWithStage(secret, PENDING);
    if (pending !== undefined && !pending.stages.includes(CURRENT) && pending.id !== token) {
      throw invalidRequest("A previous rotation isn't complete. That rotation will be reattempted.");
    }
    const current = this.store.versionWithStage(secret, CURRENT);
    if (current === undefined) {
      throw invalidRequest("You can't rotate a secret that has no AWSCURRENT version.");
    }
    const running = this.#rotations.find((r) => r.secret === secret && r.status === 'running');
    if (running !== undefined && running.versionId === token) {
      return { ARN: secret.arn, Name: secret.name, VersionId: token };
    }
    if (running !== undefined) throw invalidRequest("A previous rotation isn't complete. That rotation will be reattempted.");

    if (parsedRules !== undefined) secret.rotationRules = parsedRules;
    secret.rotationEnabled = true;
    const resolvedArn = this.#functions.has(functionArn)
      ? functionArn
      : `arn:aws:lambda:${this.region}:${this.accountId}:function:${functionArn}`;
    secret.rotationLambdaArn = resolvedArn;
    // AWS creates the AWSPENDING version id before the function runs; createSecret fills it in.
    // A configuration test (RotateImmediately=false) runs testSecret on a copy of AWSCURRENT.
    const placeholder: Value | undefined = immediately
      ? undefined
      : current.string !== undefined
        ? { string: current.string }
        : current.binary !== undefined
          ? { binary: current.binary }
          : undefined;
    if (secret.versions.get(token) === undefined) this.store.addVersion(secret, token, placeholder, [PENDING]);
    else this.store.attach(secret, PENDING, secret.versions.get(token)!);

    const rotation: Rotation = {
      secret,
      versionId: token,
      functionArn: resolvedArn,
      status: 'running',
      steps: [],
      startedAt: Date.now(),
      done: deferred<void>(),
      cancelled: false,
    };
    this.#rotations.push(rotation);
    for (const waiter of this.#rotationWaiters) {
      if (waiter.secret === secret) {
        waiter.resolve(rotation);
        this.#rotationWaiters.delete(waiter);
      }
    }
    const steps: readonly RotationStep[] = immediately ? ROTATION_STEPS : ['testSecret'];
    // After the answer is written: the function calls back into this server.
    const run = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#runRotation(rotation, handler, steps, immediately));
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
    return { ARN: secret.arn, Name: secret.name, VersionId: token };
  }

  async #runRotation(rotation: Rotation, handler: RotationHandler, steps: readonly RotationStep[], immediately: boolean): Promise<void> {
    const rotationToken = randomUUID();
    const { secret } = rotation;
    try {
      for (const step of steps) {
        if (rotation.cancelled || this.#closed) {
          rotation.status = 'cancelled';
          break;
        }
        const event: RotationEvent = {
          Step: step,
          SecretId: secret.arn,
          ClientRequestToken: rotation.versionId,
          RotationToken: rotationToken,
        };
        try {
          await handler({ ...event });
        } catch (err) {
          // A function cut off by close() (its calls back into the server fail) was cancelled, not broken.
          if (rotation.cancelled || this.#closed) {
            rotation.status = 'cancelled';
            break;
          }
          rotation.status = 'failed';
          rotation.failedStep = step;
          rotation.error = err;
          break;
        }
        rotation.steps.push(step);
        await this.#pauses.after(secret, step, event);
      }
      if (rotation.status === 'running') {
        if (rotation.cancelled || this.#closed) rotation.status = 'cancelled';
        else {
          rotation.status = 'succeeded';
          if (immediately) {
            const now = Date.now();
            secret.lastRotated = now;
            const days = secret.rotationRules?.AutomaticallyAfterDays;
            if (days !== undefined) secret.nextRotation = now + days * DAY_MS;
          } else {
            // RotateImmediately=false only tests the configuration: the pending version goes away.
            const version = secret.versions.get(rotation.versionId);
            if (version && !version.stages.includes(CURRENT)) secret.versions.delete(version.id);
          }
        }
      }
    } finally {
      rotation.finishedAt = Date.now();
      rotation.done.resolve();
    }
  }

  cancelRotateSecret(input: Input): Record<string, unknown> {
    const secret = this.store.require(input);
    if (secret.rotationLambdaArn === undefined) {
      throw invalidRequest(
        "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured " +
          "and you didn't include such an ARN as a parameter in this call.",
      );
    }
    secret.rotationEnabled = false;
    let versionId: string | undefined;
    for (const rotation of this.#rotations) {
      if (rotation.secret === secret && rotation.status === 'running') {
        rotation.cancelled = true;
        versionId = rotation.versionId;
      }
    }
    const output: Record<string, unknown> = { ARN: secret.arn, Name: secret.name };
    if (versionId !== undefined) output.VersionId = versionId;
    return output;
  }

  /** Marks the running rotations of `secret` cancelled: each stops before its next step. */
  cancel(secret: Secret): void {
    for (const rotation of this.#rotations) if (rotation.secret === secret && rotation.status === 'running') rotation.cancelled = true;
  }

  /** Releases every pause, answers pending waits and cancels running rotations before their next step. */
  close(): void {
    this.#closed = true;
    this.#pauses.close();
    for (const waiter of this.#rotationWaiters) waiter.reject(new ClosedError('Secrets Manager emulator'));
    this.#rotationWaiters.clear();
    for (const rotation of this.#rotations) if (rotation.status === 'running') rotation.cancelled = true;
  }

  /** Resolves when the rotations running now have stopped. */
  async settled(): Promise<void> {
    await Promise.all([...this.#running]);
  }
}
