import { unrefTimer } from './backoff.js';

/** A signal that fires when any of its sources does or a time limit passes; see {@link linkSignals}. */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** True when the time limit fired (not a source). */
  readonly timedOut: boolean;
  /** Removes the listeners from the sources and clears the timer. Call it when the work settles. */
  dispose(): void;
}

/**
 * Links `sources` and an optional time limit into one signal for a single request. Unlike
 * `AbortSignal.any`, it removes its listeners from long-lived sources (a provider's own
 * "closing" signal) when disposed, so many requests never accumulate on them. The signal's
 * reason is the source's reason, or a `TimeoutError` `DOMException` for the time limit.
 */
export function linkSignals(sources: readonly AbortSignal[], timeoutMs?: number): LinkedSignal {
  const controller = new AbortController();
  let timedOut = false;
  const cleanups: Array<() => void> = [];
  const dispose = (): void => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  };
  const abort = (reason: unknown): void => {
    dispose();
    controller.abort(reason);
  };
  for (const source of sources) {
    if (source.aborted) {
      abort(source.reason);
      break;
    }
    const onAbort = (): void => abort(source.reason);
    source.addEventListener('abort', onAbort, { once: true });
    cleanups.push(() => source.removeEventListener('abort', onAbort));
  }
  if (timeoutMs !== undefined && !controller.signal.aborted) {
    const timer = unrefTimer(() => {
      timedOut = true;
      abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError'));
    }, timeoutMs);
    cleanups.push(() => clearTimeout(timer));
  }
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    dispose,
  };
}

/**
 * Waits for `work` under `signals`: the first signal to abort (at once if one already has)
 * rejects the wait with its reason, while the work itself goes on for whoever else waits for it.
 * Listeners are removed when the wait settles.
 *
 * @example
 * ```ts
 * const credentials = await waitUnder(sharedFetch, callerSignal, closingSignal);
 * ```
 */
export function waitUnder<T>(work: Promise<T>, ...signals: AbortSignal[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cancel = onFirstAbort(signals, (reason) => reject(reason));
    work.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        cancel();
        reject(error);
      },
    );
  });
}

/**
 * Resolves after `ms`, or rejects with the reason of the first of `signals` to abort (at once if
 * one already has). The timer never keeps the process alive and is cleared on abort.
 *
 * @example
 * ```ts
 * await sleep(backoffDelay(attempt, 500, 30_000), signal);
 * ```
 */
export function sleep(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const cancel = onFirstAbort(signals, (reason) => {
      clearTimeout(timer);
      reject(reason);
    });
    if (signals.some((signal) => signal.aborted)) return;
    timer = unrefTimer(() => {
      cancel();
      resolve();
    }, ms);
  });
}

/**
 * Calls `onAbort(reason)` once, when the first of `signals` aborts (synchronously if one already
 * has). Returns a function that removes every listener; it runs by itself on the first abort.
 */
function onFirstAbort(signals: readonly AbortSignal[], onAbort: (reason: unknown) => void): () => void {
  const removers: Array<() => void> = [];
  const cancel = (): void => {
    for (const remove of removers.splice(0)) remove();
  };
  const already = signals.find((signal) => signal.aborted);
  if (already) {
    onAbort(already.reason);
    return cancel;
  }
  for (const signal of signals) {
    const listener = (): void => {
      cancel();
      onAbort(signal.reason);
    };
    signal.addEventListener('abort', listener, { once: true });
    removers.push(() => signal.removeEventListener('abort', listener));
  }
  return cancel;
}
