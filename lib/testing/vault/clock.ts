/**
 * The emulator's monotonic clock and its timers. Every timer is `unref()`ed, so that an emulator
 * never keeps a process alive, and {@link Timers.clear} stops them all on close.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { sleep } from '../../abort.js';
import { MAX_TIMER_MS } from '../../backoff.js';

/** Milliseconds on the monotonic clock (`performance.now()`). */
export const now = (): number => performance.now();

/** A set of timers that can all be cleared at once. */
export class Timers {
  private readonly live = new Set<NodeJS.Timeout>();
  /** Aborted by {@link Timers.clear}: wakes every sleeper. */
  private readonly clearing = new AbortController();
  private cleared = false;

  /**
   * Calls `fn` once the monotonic clock reaches `atMs` (at once when it already has; a wait
   * longer than one timer can hold is re-armed). Returns a function that cancels the call. After
   * {@link Timers.clear}, nothing is scheduled.
   */
  at(atMs: number, fn: () => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      if (this.cleared) return;
      const delay = Math.min(Math.max(0, Math.ceil(atMs - now())), MAX_TIMER_MS);
      const current = setTimeout(() => {
        this.live.delete(current);
        timer = undefined;
        if (now() < atMs - 1) arm();
        else fn();
      }, delay);
      current.unref();
      this.live.add(current);
      timer = current;
    };
    arm();
    return () => {
      if (timer === undefined) return;
      clearTimeout(timer);
      this.live.delete(timer);
      timer = undefined;
    };
  }

  /** Resolves after `ms`, or at once when the timers are cleared (then with `false`). */
  sleep(ms: number): Promise<boolean> {
    return sleep(ms, this.clearing.signal).then(
      () => true,
      () => false,
    );
  }

  /** Cancels every timer and wakes every sleeper; nothing can be scheduled afterwards. */
  clear(): void {
    this.cleared = true;
    for (const timer of this.live) clearTimeout(timer);
    this.live.clear();
    this.clearing.abort();
  }
}
