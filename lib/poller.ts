import { backoffDelay, unrefTimer } from './backoff.js';
import type { Credentials } from './credentials.js';

type Subscriber = { onChange: (credentials: Credentials) => void; onError: (error: Error) => void };

/** What a {@link Poller} asks of the provider that owns it. */
export interface PollerOptions {
  /**
   * Milliseconds until the next look, given the number of looks that failed in a row;
   * `undefined` for no background looks at all.
   */
  nextDelay(failures: number): number | undefined;
  /** One look. Resolves with credentials for every subscriber, or `undefined` for "nothing new". */
  look(): Promise<Credentials | undefined>;
  /**
   * Whether a failed look counts towards the backoff; a failure that does not (a configuration
   * error, say) resets it, so looks go on at the normal pace.
   * @defaultValue every failure counts
   */
  isRetryable?(error: unknown): boolean;
  /** The error subscribers get for a thrown value that is not an Error. */
  toError(error: unknown): Error;
  /** Called with `true` when the first subscriber arrives and `false` when the last one leaves. */
  onActive?(active: boolean): void;
}

/**
 * The background half of a provider's `subscribe()`: the subscribers, one timer, one look at a
 * time, and a jittered backoff after failed looks. Subscribers never see each other's throws:
 * what `onChange` throws goes to that subscriber's `onError`, and what `onError` throws is
 * dropped. The timer is unref'd and cleared by the last unsubscribe and by `close()`.
 */
export class Poller {
  readonly #options: PollerOptions;
  readonly #subscribers = new Set<Subscriber>();
  #timer: NodeJS.Timeout | undefined;
  #looking = false;
  #failures = 0;
  #closed = false;

  constructor(options: PollerOptions) {
    this.#options = options;
  }

  /** True while a look is running. */
  get looking(): boolean {
    return this.#looking;
  }

  /** Adds a subscriber and starts looking (unless a look is already scheduled). */
  subscribe(onChange: (credentials: Credentials) => void, onError: (error: Error) => void): () => void {
    const subscriber: Subscriber = { onChange, onError };
    this.#subscribers.add(subscriber);
    if (this.#subscribers.size === 1) this.#options.onActive?.(true);
    if (this.#timer === undefined) this.reschedule();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.#subscribers.delete(subscriber);
      if (this.#subscribers.size > 0) return;
      this.#clearTimer();
      this.#options.onActive?.(false);
    };
  }

  /** Reports `error` to every subscriber. */
  report(error: Error): void {
    for (const s of [...this.#subscribers]) {
      try {
        s.onError(error);
      } catch {
        // What onError throws has nowhere else to go.
      }
    }
  }

  /** Replaces the scheduled look with one at `nextDelay()` from now (unless a look is running). */
  reschedule(): void {
    this.#clearTimer();
    if (this.#closed || this.#looking || this.#subscribers.size === 0) return;
    const delay = this.#options.nextDelay(this.#failures);
    if (delay === undefined) return;
    this.#timer = unrefTimer(() => {
      this.#timer = undefined;
      void this.#look();
    }, delay);
  }

  /** Stops for good: forgets the subscribers and clears the timer. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const active = this.#subscribers.size > 0;
    this.#subscribers.clear();
    this.#clearTimer();
    if (active) this.#options.onActive?.(false);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #look(): Promise<void> {
    if (this.#closed || this.#subscribers.size === 0) return;
    this.#looking = true;
    try {
      const credentials = await this.#options.look();
      this.#failures = 0;
      if (credentials === undefined || this.#closed) return;
      for (const s of [...this.#subscribers]) {
        try {
          s.onChange(credentials);
        } catch (error) {
          this.#reportTo(s, error);
        }
      }
    } catch (error) {
      if (this.#closed) return;
      const counts = this.#options.isRetryable?.(error) ?? true;
      this.#failures = counts ? this.#failures + 1 : 0;
      for (const s of [...this.#subscribers]) this.#reportTo(s, error);
    } finally {
      this.#looking = false;
      this.reschedule();
    }
  }

  #reportTo(subscriber: Subscriber, error: unknown): void {
    try {
      subscriber.onError(error instanceof Error ? error : this.#options.toError(error));
    } catch {
      // What onError throws has nowhere else to go.
    }
  }
}

/**
 * The usual `nextDelay`: every `intervalMs`, randomised between half and all of it; after
 * failures, a backoff from `min(retryBaseMs, intervalMs)` up to `intervalMs`. `0` turns looks off.
 */
export function intervalDelay(intervalMs: number, retryBaseMs: number): (failures: number) => number | undefined {
  return (failures) => {
    if (intervalMs === 0) return undefined;
    return failures > 0
      ? backoffDelay(failures, Math.min(retryBaseMs, intervalMs), intervalMs)
      : intervalMs / 2 + (Math.random() * intervalMs) / 2;
  };
}
