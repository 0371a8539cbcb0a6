/**
 * One provider call of the coordinator (a *flight*): under a timeout, abandoned when it times
 * out, is superseded by a push or the coordinator closes, keeping the process alive only while
 * a caller waits for it, and turning what the provider threw into the error its waiters get.
 * When to start one, and what its result does to the generations, is the coordinator's business
 * (`./coordinator.ts`).
 *
 * @packageDocumentation
 */

import { unrefTimer } from './backoff.js';
import type { CredentialsSnapshot } from './coordinator-options.js';
import type { SealedCredentials } from './credentials.js';
import { ProviderError, RotationTimeoutError, describeCause, isCredswapError } from './errors.js';
import { type CredentialsProvider, type FetchReason, isProgrammerError } from './provider.js';

/** The abort reason of a call that a newer generation (a push) made useless. */
const SUPERSEDED = 'credswap: superseded by newer credentials';

/** What a flight needs from its coordinator. @internal */
export interface FlightOptions {
  readonly provider: CredentialsProvider;
  readonly reason: FetchReason;
  /** The credentials the provider is told about (on `rejected`, the refused ones). */
  readonly current: SealedCredentials | undefined;
  readonly timeoutMs: number;
  /**
   * Turns the provider's result into a snapshot, synchronously when the call returns (so a
   * snapshot is current before any waiter runs). What it throws is what the waiters get.
   */
  accept(result: unknown): CredentialsSnapshot;
}

/** One provider call, shared by every caller that waits for it. @internal */
export interface Flight {
  readonly reason: FetchReason;
  /**
   * Settles with the snapshot, or rejects with what the waiters get. For background work (a
   * refresh before expiry): it does not keep the process alive.
   */
  readonly promise: Promise<CredentialsSnapshot>;
  /**
   * The same promise, for a caller that waits for it: from now until the call settles or times
   * out, the process stays alive, so a script awaiting its first query gets an answer (an
   * error, at worst after `timeoutMs`) instead of exiting with the promise pending.
   */
  wait(): Promise<CredentialsSnapshot>;
  /** Abandons the call: its signal fires with `reason`, its waiters get `reason`, a late result is ignored. */
  abort(reason: unknown): void;
  /** Settles the flight early with a newer generation's snapshot (a push won) and abandons the call. */
  supersede(snapshot: CredentialsSnapshot): void;
}

/**
 * Calls the provider once, under `timeoutMs`. The timeout timer is the only timer; it is
 * unref'd until a caller {@link Flight.wait | waits}, and cleared when the call settles or is
 * abandoned.
 * @internal
 */
export function startFlight(options: FlightOptions): Flight {
  const { provider, reason, timeoutMs } = options;
  const controller = new AbortController();
  let settleEarly: ((snapshot: CredentialsSnapshot) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;

  const promise = new Promise<CredentialsSnapshot>((resolve, reject) => {
    settleEarly = resolve;
    timer = unrefTimer(() => controller.abort(new RotationTimeoutError(provider.name, timeoutMs)), timeoutMs);
    const onAbort = () => {
      clearTimeout(timer); // close() or a push may abort a call that ignores its signal
      reject(controller.signal.reason);
    };
    controller.signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      controller.signal.removeEventListener('abort', onAbort);
    };
    let call: Promise<unknown>;
    try {
      call = Promise.resolve(provider.getCredentials(controller.signal, options.current, { reason }));
    } catch (error) {
      call = Promise.reject(error);
    }
    call.then(
      (result) => {
        done();
        if (controller.signal.aborted) return; // abandoned: a late result is ignored
        try {
          resolve(options.accept(result));
        } catch (error) {
          reject(error);
        }
      },
      (error: unknown) => {
        done();
        if (controller.signal.aborted) return;
        reject(providerFailure(provider.name, error));
      },
    );
  });

  return {
    reason,
    promise,
    wait: () => {
      timer?.ref(); // a no-op once the timer was cleared
      return promise;
    },
    abort: (why) => controller.abort(why),
    supersede: (snapshot) => {
      settleEarly?.(snapshot);
      controller.abort(new DOMException(SUPERSEDED, 'AbortError'));
    },
  };
}

/**
 * What the waiters of a failed provider call get: a credswap error as it is (the provider's own
 * typed error), anything else wrapped in a `ProviderError` whose `cause` is what was thrown. A
 * programmer error (see {@link isProgrammerError}) gets a message that says it is a bug and is
 * not retried.
 * @internal
 */
export function providerFailure(providerName: string, error: unknown): Error {
  if (isCredswapError(error)) return error;
  if (isProgrammerError(error)) {
    return new ProviderError(
      providerName,
      error,
      `credswap: provider '${providerName}' threw ${describeCause(error)}; this is a bug in the provider, not an outage, so it is not retried`,
    );
  }
  return new ProviderError(providerName, error);
}

/**
 * True for what {@link providerFailure} made of a programmer error, and for credswap's own
 * `InvalidOptionError` (a `TypeError`) thrown by a provider.
 * @internal
 */
export function isProgrammerFailure(error: Error | undefined): boolean {
  return isProgrammerError(error) || (error instanceof ProviderError && isProgrammerError(error.cause));
}
