/**
 * The cold-start allowance of the Lambda extension: on a cold start, the function's first
 * request can reach the port before the extension listens, or while it answers "not ready".
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { sleep } from '../../../lib/abort.js';
import { backoffDelay } from '../../../lib/backoff.js';

/** Backoff while the extension is starting: 25 ms, doubling, at most 250 ms apart. */
const STARTUP_BACKOFF_BASE_MS = 25;
const STARTUP_BACKOFF_CAP_MS = 250;

/** The retries of one read, from {@link StartupRetries.begin}. */
export interface StartupAttempts {
  /**
   * After a request that got no answer (nothing listens yet): waits before the next attempt, or
   * throws `error` when the time is up, or when an earlier read already ran out of it.
   */
  noAnswer(error: unknown, attempt: number, signal: AbortSignal): Promise<void>;
  /** After a "not ready" answer: waits before the next attempt, or throws `giveUp()` when the time is up. */
  notReady(attempt: number, signal: AbortSignal, giveUp: () => Error): Promise<void>;
  /** The extension answered: it is reachable again. */
  answered(): void;
}

/**
 * How long each read may keep asking an extension that is starting: `retryMs`, with backoff from
 * 25 ms to 250 ms. Once a read has used it up without any answer, the extension counts as
 * unreachable and later reads ask once, until it answers again.
 */
export class StartupRetries {
  readonly #retryMs: number;
  #unreachable = false;

  constructor(retryMs: number) {
    this.#retryMs = retryMs;
  }

  /** Starts the allowance of one read, now. */
  begin(): StartupAttempts {
    const started = performance.now();
    const left = (): number => this.#retryMs - (performance.now() - started);
    const backoff = (attempt: number): number => backoffDelay(attempt, STARTUP_BACKOFF_BASE_MS, STARTUP_BACKOFF_CAP_MS);
    return {
      noAnswer: async (error, attempt, signal) => {
        const remaining = left();
        if (this.#unreachable || remaining <= 0) {
          this.#unreachable = true;
          throw error;
        }
        await sleep(Math.min(remaining, backoff(attempt)), signal);
      },
      notReady: async (attempt, signal, giveUp) => {
        const remaining = left();
        if (remaining <= 0) throw giveUp();
        await sleep(Math.min(remaining, backoff(attempt)), signal);
      },
      answered: () => {
        this.#unreachable = false;
      },
    };
  }
}
