/**
 * When the coordinator asks for credentials before the current ones expire: one timer, set
 * `refreshBeforeExpiryMs` before `expiresAt` (at most a third of the lifetime before) with
 * jitter, and after a refresh that failed or brought nothing new, again after a backoff while
 * the credentials are valid. The coordinator (`./coordinator.ts`) decides what a refresh does.
 *
 * @packageDocumentation
 */

import { backoffDelay, unrefTimer } from './backoff.js';
import type { ResolvedTimings } from './coordinator-options.js';

/** The refresh timer of one coordinator. Unref'd; {@link ExpiryRefresh.clear} stops it. @internal */
export class ExpiryRefresh {
  readonly #timings: ResolvedTimings;
  readonly #onDue: () => void;
  #timer: NodeJS.Timeout | undefined;
  /** Refreshes since the credentials last changed: the backoff of the next retry. */
  #streak = 0;

  /** @param onDue - called when a refresh falls due (the timer is no longer pending then) */
  constructor(timings: ResolvedTimings, onDue: () => void) {
    this.#timings = timings;
    this.#onDue = onDue;
  }

  /** True while a refresh or its retry is waiting for its time. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** New credentials (or a new `expiresAt`): the next refresh falls before `expiresAt`, or none without one. */
  schedule(expiresAt: number | undefined): void {
    this.clear();
    this.#streak = 0;
    if (expiresAt === undefined) return;
    const now = Date.now();
    const lifetime = Math.max(0, expiresAt - now);
    const lead = Math.min(this.#timings.refreshBeforeExpiryMs, lifetime / 3);
    this.#arm(expiresAt - now - lead * (1 + 0.1 * Math.random()));
  }

  /** A refresh failed or brought nothing new: ask again after a backoff, while `expiresAt` has not passed. */
  retry(expiresAt: number | undefined): void {
    if (expiresAt === undefined || Date.now() >= expiresAt) return;
    this.#streak += 1;
    const delay = backoffDelay(this.#streak, Math.max(this.#timings.cooldownMs, 100), this.#timings.maxCooldownMs);
    this.#arm(Math.min(delay, expiresAt - Date.now()));
  }

  /** Stops the timer. */
  clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delay: number): void {
    this.#timer = unrefTimer(() => {
      this.#timer = undefined;
      this.#onDue();
    }, delay);
  }
}
