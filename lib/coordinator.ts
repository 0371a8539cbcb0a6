/**
 * The rotation coordinator: decides *when* a provider is asked for credentials (once per
 * rotation however many connections fail at once, under a timeout, with cooldown and backoff,
 * before credentials expire, and on a provider's push), numbers each change as a generation,
 * and tells the provider when old credentials are unused. It never talks to a database.
 *
 * One provider call (its timeout, abandoning it, what its failure becomes) lives in
 * `./coordinator-flight.ts`; the timer of the refresh before expiry in `./coordinator-refresh.ts`;
 * options and event payloads in `./coordinator-options.ts`.
 *
 * @packageDocumentation
 */

import { EventEmitter } from 'node:events';
import { backoffDelay } from './backoff.js';
import { type Flight, isProgrammerFailure, startFlight } from './coordinator-flight.js';
import { ExpiryRefresh } from './coordinator-refresh.js';
import { type SealedCredentials, fingerprint, sameCredentials, sealCredentials } from './credentials.js';
import { ProviderCall, publishRotation, publishRotationError } from './diagnostics.js';
import { DEFAULT_LOGIN_TRUST_MS, LoginGate } from './login-gate.js';
import { ClosedError, CredentialsUnavailableError, ProviderError, RotationCooldownError } from './errors.js';
import {
  type CoordinatorOptions,
  type CredentialsSnapshot,
  type ResolvedTimings,
  type RotateEvent,
  type RotateReason,
  type RotationErrorReason,
  COORDINATOR_TIMING_KEYS,
  resolveTimings,
} from './coordinator-options.js';
import { expectObject, rejectUnknownKeys } from './options.js';
import { type CredentialsProvider, type FetchReason, toProvider } from './provider.js';

export {
  DEFAULT_TIMEOUT_MS,
  DEFAULT_COOLDOWN_MS,
  DEFAULT_MAX_COOLDOWN_MS,
  DEFAULT_REFRESH_BEFORE_EXPIRY_MS,
  COORDINATOR_TIMING_KEYS,
  resolveTimings,
} from './coordinator-options.js';
export type {
  CoordinatorOptions,
  CoordinatorTimingOptions,
  CredentialsSnapshot,
  ResolvedTimings,
  RotateEvent,
  RotateReason,
  RotationErrorInfo,
  RotationErrorReason,
} from './coordinator-options.js';

/**
 * Decides when credentials change. It calls the provider once per rotation however many
 * connections fail at once, under a timeout, with cooldown and backoff, and proactively
 * before credentials expire. Every change starts a new *generation*; pools tag each
 * connection with the generation it was opened with.
 *
 * Events: `rotate` ({@link RotateEvent}) and `rotation-error` (the error, and a
 * {@link RotationErrorInfo}); what a `rotate` listener throws is a `rotation-error` with the
 * reason `listener`, and does not undo the rotation. A caller waiting for credentials keeps the
 * process alive until the provider answers or `timeoutMs` passes.
 *
 * @example
 * ```ts
 * const coordinator = new RotationCoordinator({ provider: new FileProvider({ path }) });
 * const { credentials } = await coordinator.acquire();
 * coordinator.on('rotate', (e) => console.log('now generation', e.generation, e.fingerprint));
 * ```
 */
export class RotationCoordinator extends EventEmitter {
  /** The provider this coordinator calls. */
  readonly provider: CredentialsProvider;
  /**
   * Lockout-safe logins for everything that uses this coordinator's credentials: credentials
   * that may be refused are tried by one login at a time, and refused ones are not tried again
   * while the provider is being asked or the coordinator cools down.
   */
  readonly logins: LoginGate = new LoginGate(DEFAULT_LOGIN_TRUST_MS, () => (this.#flight ? Infinity : this.#cooldownUntil));
  readonly #timings: ResolvedTimings;
  #generation = 0;
  #credentials: SealedCredentials | undefined;
  #snapshot: CredentialsSnapshot | undefined;
  #flight: Flight | undefined;
  #streak = 0;
  #cooldownUntil = 0;
  #lastFailure: Error | undefined;
  /** The last provider call failed with a programmer error: the provider is not held back by the cooldown. */
  #lastCallWasBug = false;
  readonly #refresh: ExpiryRefresh;
  #unsubscribe: (() => void) | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: CoordinatorOptions) {
    super();
    const bag = expectObject(options, 'coordinator options')!;
    rejectUnknownKeys(bag, new Set(['provider', ...COORDINATOR_TIMING_KEYS]), '');
    this.provider = toProvider(bag.provider, 'provider');
    this.#timings = resolveTimings(bag, '');
    this.#refresh = new ExpiryRefresh(this.#timings, () => this.#refreshNow());
  }

  /** @internal Builds a coordinator from options already validated by a pool. */
  static fromResolved(provider: CredentialsProvider, timings: ResolvedTimings): RotationCoordinator {
    const { timeoutMs, cooldownMs, maxCooldownMs, refreshBeforeExpiryMs } = timings;
    return new RotationCoordinator({ provider, timeoutMs, cooldownMs, maxCooldownMs, refreshBeforeExpiryMs });
  }

  /** The current generation: 0 before the first credentials arrive. */
  get generation(): number {
    return this.#generation;
  }

  /** The current snapshot, or `undefined` before the first fetch. Synchronous: the hot path. */
  get current(): CredentialsSnapshot | undefined {
    return this.#snapshot;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The current credentials, fetching them first if there are none yet (the first fetch happens
   * before the first connection). Concurrent callers share one fetch.
   */
  acquire(): Promise<CredentialsSnapshot> {
    if (this.#closed) return Promise.reject(new ClosedError('the rotation coordinator'));
    if (this.#snapshot) return Promise.resolve(this.#snapshot);
    if (this.#flight) return this.#flight.wait();
    const blocked = this.#cooldownError();
    if (blocked) return Promise.reject(blocked);
    return this.#start('initial').wait();
  }

  /**
   * Reports that the server refused `generation`'s credentials with 1045. Resolves with
   * credentials to retry with, or rejects: with `accessDenied` itself (annotated with the
   * provider's name) when the provider has nothing new or the coordinator is cooling down,
   * with a `ProviderError` or `RotationTimeoutError` when the provider failed.
   *
   * - an older generation: resolves at once with the newest credentials (no provider call);
   * - a call in flight: joins it;
   * - otherwise: calls the provider once.
   */
  reportRejected(generation: number, accessDenied: Error): Promise<CredentialsSnapshot> {
    if (this.#closed) return Promise.reject(new ClosedError('the rotation coordinator'));
    if (this.#snapshot && generation < this.#generation) return Promise.resolve(this.#snapshot);
    let flight = this.#flight;
    if (!flight) {
      if (this.#holdsProvider()) {
        return Promise.reject(
          annotateAccessDenied(accessDenied, `provider '${this.provider.name}' is cooling down after a failed rotation`),
        );
      }
      flight = this.#start('rejected');
    }
    return flight.wait().then((snapshot) => {
      if (snapshot.generation === generation) {
        throw annotateAccessDenied(accessDenied, `provider '${this.provider.name}' returned no new credentials`);
      }
      return snapshot;
    });
  }

  /** Reports a successful connection with `generation`: resets the cooldown and backoff. */
  reportSuccess(generation: number): void {
    if (generation === this.#generation && (this.#streak !== 0 || this.#cooldownUntil !== 0)) {
      this.#streak = 0;
      this.#cooldownUntil = 0;
      this.#lastFailure = undefined;
    }
  }

  /**
   * Tells the provider that no connection uses the credentials of `generation` any more (see
   * {@link CredentialsProvider.retire}). Errors are reported as `rotation-error` events.
   */
  retire(generation: number, credentials: SealedCredentials): void {
    const retire = this.provider.retire;
    if (this.#closed || retire === undefined || generation >= this.#generation) return;
    let result: void | Promise<void>;
    try {
      result = retire.call(this.provider, credentials);
    } catch (error) {
      this.#reportError(new ProviderError(this.provider.name, error), 'retire');
      return;
    }
    Promise.resolve(result).catch((error: unknown) => {
      if (!this.#closed) this.#reportError(new ProviderError(this.provider.name, error), 'retire');
    });
  }

  /** Asks the provider for new credentials now (joins a call in flight). */
  refresh(): Promise<CredentialsSnapshot> {
    if (this.#closed) return Promise.reject(new ClosedError('the rotation coordinator'));
    if (this.#flight) return this.#flight.wait();
    return this.#start(this.#snapshot ? 'manual' : 'initial').wait();
  }

  /**
   * Stops everything: aborts a provider call in flight (its waiters get a `ClosedError`),
   * clears timers, unsubscribes from the provider and calls its `close()`.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#refresh.clear();
    this.#flight?.abort(new ClosedError('the rotation coordinator'));
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    this.#closing = (async () => {
      try {
        unsubscribe?.();
        await this.provider.close?.();
      } catch (error) {
        this.#reportError(new ProviderError(this.provider.name, error), 'close');
      }
    })();
    return this.#closing;
  }

  /**
   * Inside a cooldown the provider is not called, except after a programmer error: waiting cannot
   * fix a bug, so callers get its error at once (`logins` still holds refused credentials back).
   */
  #holdsProvider(): boolean {
    return Date.now() < this.#cooldownUntil && !this.#lastCallWasBug;
  }

  #cooldownError(): Error | undefined {
    if (!this.#holdsProvider()) return undefined;
    return new RotationCooldownError(this.provider.name, this.#cooldownUntil, { cause: this.#lastFailure });
  }

  #start(reason: FetchReason): Flight {
    const startedGeneration = this.#generation;
    const call = new ProviderCall(this.provider.name, reason, startedGeneration);
    const flight = call.run(() =>
      startFlight({
        provider: this.provider,
        reason,
        current: this.#credentials,
        timeoutMs: this.#timings.timeoutMs,
        accept: (result) => this.#accept(result, reason, startedGeneration, call),
      }),
    );
    call.follow(flight.promise);
    this.#flight = flight;
    flight.promise.then(
      () => {
        if (this.#flight === flight) this.#flight = undefined;
        this.#afterCall(reason, undefined);
      },
      (error: Error) => {
        if (this.#flight === flight) this.#flight = undefined;
        this.#afterCall(reason, error);
      },
    );
    return flight;
  }

  /** Turns a provider result into the current snapshot; runs synchronously when the call returns. */
  #accept(result: unknown, reason: FetchReason, startedGeneration: number, call: ProviderCall): CredentialsSnapshot {
    if (this.#closed) throw new ClosedError('the rotation coordinator');
    if (this.#generation !== startedGeneration) return this.#snapshot!; // a newer generation won
    if (result === undefined || result === null) {
      if (!this.#snapshot) throw new CredentialsUnavailableError(this.provider.name);
      return this.#snapshot;
    }
    const sealed = sealCredentials(result as SealedCredentials, `provider '${this.provider.name}'`);
    if (this.#credentials && sameCredentials(sealed, this.#credentials)) {
      this.#renew(sealed);
      return this.#snapshot!;
    }
    return this.#advance(sealed, reason, call);
  }

  /** The same credentials with another `expiresAt`: no new generation, only a new refresh time. */
  #renew(sealed: SealedCredentials): void {
    if (sealed.expiresAt === this.#credentials?.expiresAt) return;
    this.#credentials = sealed;
    this.#snapshot = { generation: this.#generation, credentials: sealed };
    this.#scheduleRefresh();
  }

  #advance(credentials: SealedCredentials, reason: RotateReason, call?: ProviderCall): CredentialsSnapshot {
    const previousGeneration = this.#generation;
    this.#generation += 1;
    this.#credentials = credentials;
    this.logins.forgetBefore(previousGeneration);
    const snapshot: CredentialsSnapshot = { generation: this.#generation, credentials };
    this.#snapshot = snapshot;
    this.#scheduleRefresh();
    this.#subscribeOnce();
    const event: RotateEvent = {
      generation: this.#generation,
      previousGeneration,
      reason,
      provider: this.provider.name,
      user: credentials.user,
      fingerprint: fingerprint(credentials),
      ...(credentials.expiresAt !== undefined ? { expiresAt: credentials.expiresAt } : {}),
    };
    publishRotation(event, call);
    this.#emitRotate(event);
    return snapshot;
  }

  /**
   * Tells each `rotate` listener. What one throws does not change the rotation (it has happened)
   * nor keep the next listeners from hearing of it: it is reported as a `rotation-error` with
   * the reason `listener`.
   */
  #emitRotate(event: RotateEvent): void {
    for (const listener of this.rawListeners('rotate')) {
      try {
        Reflect.apply(listener, this, [event]);
      } catch (error) {
        this.#reportError(error instanceof Error ? error : new Error('a rotate listener threw a non-Error value'), 'listener');
      }
    }
  }

  #afterCall(reason: FetchReason, error: Error | undefined): void {
    if (this.#closed) return;
    if (reason === 'rejected' || error) {
      // A rotation that has not yet been followed by a successful connection: space out the
      // next one. reportSuccess() clears this as soon as a connection works.
      this.#streak += 1;
      this.#cooldownUntil = Date.now() + backoffDelay(this.#streak, this.#timings.cooldownMs, this.#timings.maxCooldownMs);
    }
    this.#lastCallWasBug = isProgrammerFailure(error);
    if (error) {
      this.#lastFailure = error;
      this.#reportError(error, reason);
    }
    // A refresh that failed, brought nothing new, or fell due during this call (#refreshNow
    // skips it then) has no timer left: ask again after a backoff while time remains. Not
    // after a programmer error: the next refresh comes when a caller needs one.
    if (!this.#refresh.pending && !this.#lastCallWasBug) this.#refresh.retry(this.#credentials?.expiresAt);
  }

  /**
   * Emits `rotation-error`. A listener of it that throws has nowhere left to report to: its error
   * is rethrown on the next tick, as an uncaught exception, instead of breaking the
   * coordinator's own bookkeeping.
   */
  #reportError(error: Error, reason: RotationErrorReason): void {
    publishRotationError(error, reason, this.provider.name);
    try {
      this.emit('rotation-error', error, { reason, provider: this.provider.name });
    } catch (thrown) {
      process.nextTick(() => {
        throw thrown;
      });
    }
  }

  #scheduleRefresh(): void {
    if (!this.#closed) this.#refresh.schedule(this.#credentials?.expiresAt);
  }

  #refreshNow(): void {
    if (this.#closed || this.#flight) return;
    // Errors are reported through `rotation-error` by #afterCall.
    this.#start('expiring').promise.catch(() => {});
  }

  #subscribeOnce(): void {
    if (this.#unsubscribe || !this.provider.subscribe || this.#closed) return;
    this.#unsubscribe = this.provider.subscribe(
      (credentials) => this.#onPush(credentials),
      (error) => this.#reportError(error, 'push'),
    );
  }

  #onPush(input: unknown): void {
    if (this.#closed) return;
    let sealed: SealedCredentials;
    try {
      sealed = sealCredentials(input as SealedCredentials, `provider '${this.provider.name}'`);
    } catch (error) {
      this.#reportError(error as Error, 'push');
      return;
    }
    if (this.#credentials && sameCredentials(sealed, this.#credentials)) {
      this.#renew(sealed);
      return;
    }
    const snapshot = this.#advance(sealed, 'push');
    // The push beat a provider call in flight: abandon it; its waiters retry with these.
    this.#flight?.supersede(snapshot);
  }
}

/**
 * Adds credswap's explanation to a server's 1045 error without changing its class, `errno`,
 * `code` or `sqlState`, so existing handlers keep working. Idempotent.
 */
export function annotateAccessDenied(error: Error, why: string): Error {
  const marker = ' [credswap: ';
  if (!error.message.includes(marker)) error.message = `${error.message}${marker}${why}]`;
  return error;
}
