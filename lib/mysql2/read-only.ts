/**
 * What a pool does with connections refused as read-only while a failover is under way.
 *
 * The first refusal in a failover is answered by discarding the connection and retrying on a
 * freshly opened one, which follows DNS to the new primary. When that fresh connection is refused
 * too, the address still leads to the read-only server: opening yet another connection for every
 * refused write would only pile logins onto it. For a short hold, growing from `initialMs` to
 * `maxMs`, refused connections stay in the pool (reads keep working on them) and writes fail
 * without a retry; the first refusal after the hold discards and retries again. A retried
 * statement that succeeds proves the address moved: the episode ends, and the pool discards the
 * connections opened before that proof.
 */
import { performance } from 'node:perf_hooks';

/** ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: the transaction, not the server, is read-only. */
const READ_ONLY_TRANSACTION = 1792;

/** Options of the pool's `readOnlyBackoff`. */
export interface ReadOnlyBackoffOptions {
  /** The first hold, once a freshly opened connection is refused as read-only too. @defaultValue 25 */
  initialMs?: number;
  /** Holds double up to this. `0` turns holds off: every refused connection is discarded. @defaultValue 250 */
  maxMs?: number;
}

export const DEFAULT_READ_ONLY_BACKOFF: Required<ReadOnlyBackoffOptions> = Object.freeze({ initialMs: 25, maxMs: 250 });

/** `discard`: close the connection and retry where allowed; `keep`: hand the error back, keep the connection. */
export type ReadOnlyVerdict = 'discard' | 'keep';

/**
 * Tracks read-only episodes for one pool. Connections are numbered in the order they were
 * opened. A refusal on a connection opened after the pool last discarded one to look for a
 * writable server says that the address still leads to the read-only server: that starts a hold.
 */
export class ReadOnlyEpisodes {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #now: () => number;
  /** An episode ends when no refusal came for this long. */
  readonly #quietMs: number;
  #opened = 0;
  /** `#opened` when the episode began or the pool last looked for a writable server; -1 outside an episode. */
  #lookedFrom = -1;
  #lastRefusalAt = 0;
  #holdUntil = 0;
  /** The last hold's length; 0 until the episode's first hold. */
  #holdMs = 0;
  /** True while the hold only waits for the outcome of one discarded connection's retry. */
  #looking = false;
  /** Connections numbered below this were opened before the address was seen to move. */
  #movedBefore = 0;

  constructor(options: Required<ReadOnlyBackoffOptions>, now: () => number = () => performance.now()) {
    this.#initialMs = options.initialMs;
    this.#maxMs = options.maxMs;
    this.#now = now;
    this.#quietMs = Math.max(1_000, 4 * options.maxMs);
  }

  /** The sequence number of a connection about to be opened. */
  opening(): number {
    this.#opened += 1;
    return this.#opened;
  }

  /** A connection numbered `seq` received read-only error `errno`: keep it or discard it? */
  refused(seq: number, errno: number | undefined): ReadOnlyVerdict {
    if (errno === READ_ONLY_TRANSACTION || this.#maxMs === 0 || seq < this.#movedBefore) return 'discard';
    const now = this.#now();
    if (this.#lookedFrom >= 0 && now - this.#lastRefusalAt > this.#quietMs) this.#endEpisode();
    this.#lastRefusalAt = now;
    const holding = now < this.#holdUntil;
    if (holding && !this.#looking) return 'keep';
    if (this.#lookedFrom >= 0 && seq > this.#lookedFrom) {
      // Opened after the pool last looked, and refused all the same: hold, longer each time.
      this.#holdMs = this.#holdMs === 0 ? this.#initialMs : Math.min(this.#holdMs * 2, this.#maxMs);
      this.#hold(now, this.#holdMs, false);
      return 'keep';
    }
    if (holding) return 'keep';
    if (this.#lookedFrom < 0) {
      // The episode's first refusals: every connection opened before it is discarded and its
      // write retried, since the address may well lead to the new primary already.
      this.#lookedFrom = this.#opened;
    } else if (this.#holdMs > 0) {
      // A hold is over: one connection looks for a writable server; the others wait for it.
      this.#hold(now, this.#initialMs, true);
    }
    return 'discard';
  }

  /**
   * A statement retried after a read-only refusal succeeded on connection `seq` (opened for the
   * retry). Returns true when that ends an episode: the connections opened before `seq` were
   * opened while the address led to the read-only server.
   */
  accepted(seq: number): boolean {
    if (this.#lookedFrom < 0) return false;
    this.#endEpisode();
    this.#movedBefore = seq;
    return true;
  }

  /** Connections numbered below this were opened before a retried statement showed that the address moved. */
  get movedBefore(): number {
    return this.#movedBefore;
  }

  /** True while refused connections are kept rather than discarded. */
  get holding(): boolean {
    return this.#now() < this.#holdUntil;
  }

  #hold(now: number, ms: number, looking: boolean): void {
    this.#holdUntil = now + ms;
    this.#looking = looking;
    this.#lookedFrom = this.#opened;
  }

  #endEpisode(): void {
    this.#lookedFrom = -1;
    this.#holdUntil = 0;
    this.#holdMs = 0;
    this.#looking = false;
  }
}
