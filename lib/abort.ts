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
