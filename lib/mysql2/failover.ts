/**
 * What a pool does while its primary fails over: which server its address leads to, the
 * episode that starts when a write is refused as read-only, the one probe login at a time that
 * looks for a writable server, and the callers that wait for one.
 *
 * Every login reports the server it reached ({@link Failover.loggedIn}). When that server is not
 * the one the pool's address led to before, the address has moved (DNS, a proxy, a virtual IP):
 * connections to the other server are discarded, idle ones at once, busy ones when released.
 *
 * A write refused as read-only starts an **episode**. Refused connections stay in the pool
 * (they still serve reads); instead of a login per refused write, one probe login at a time,
 * `probeIntervalMs` apart, looks for a writable server. Refused `pool.query`/`pool.execute`
 * statements (they did not run) and `getConnection()` calls wait, up to `waitMs`, for the
 * episode to end: when a login (a probe's or any other) reaches a writable server. They then
 * run, once, on a connection to that server.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { unrefTimer } from '../backoff.js';
import type { ServerRole } from './server-identity.js';

/** Options of the pool's `failover`. */
export interface FailoverOptions {
  /**
   * How long a `pool.query`/`pool.execute` refused as read-only, and a `getConnection()` during a
   * failover, wait for the address to lead to a writable server. After that the statement fails
   * with a `ReadOnlyError`, and `getConnection()` hands out whatever connection it
   * can. `0` never waits. Keep it below what a caller can afford: on AWS Lambda, the
   * function's timeout minus the handler's own work.
   * @defaultValue 5000
   */
  waitMs?: number;
  /**
   * The pause between probe logins while the address still leads to a read-only server: at
   * most one probe login per `probeIntervalMs` (40 ms: at most 25 logins a second).
   * @defaultValue 40
   */
  probeIntervalMs?: number;
  /**
   * Once per this many milliseconds without a login, open one connection to see which server
   * the address leads to now (a full pool closes an idle connection, or the next one released,
   * for it): a pool whose connections all stay open and that is never refused a write (one that
   * only reads) then follows a DNS name, proxy or virtual IP that moved, within about one
   * interval. Costs up to one login per interval per pool, only while the pool logs in nothing
   * else. `0`: no such check; the pool moves at its next login, and `maxLifetimeMs` makes sure
   * there is one.
   * @defaultValue 1000
   */
  checkIntervalMs?: number;
}

export const DEFAULT_FAILOVER: Readonly<Required<FailoverOptions>> = Object.freeze({
  waitMs: 5_000,
  probeIntervalMs: 40,
  checkIntervalMs: 1_000,
});

/** With nothing waiting, an episode probes at most this often... */
const IDLE_PROBE_MS = 1_000;
/** ...and ends, without a writable server found, after this long without a refusal. */
const QUIET_MS = 10_000;

/** What a {@link Failover} does to its pool. */
export interface FailoverHost {
  readonly _closed: boolean;
  /**
   * Opens one fresh connection (ahead of the queue) and calls back with it: its login has already
   * been reported to {@link Failover.loggedIn}.
   */
  _probe(cb: (err: Error | null, connection?: { readonly writable: boolean; keep(): void; close(): void }) => void): void;
  /** The address now leads to server `server`: discard connections to any other. */
  _serverMoved(server: number): void;
  /** Reports the start and end of an episode. */
  _episode(event: FailoverEvent): void;
}

/** The pool's `failover` event. */
export type FailoverEvent =
  | { readonly state: 'started' }
  | {
      readonly state: 'ended';
      /** `writable`: a login reached a writable server; `quiet`: no refusal for a while, nobody waiting; `closed`: the pool ended. */
      readonly outcome: 'writable' | 'quiet' | 'closed';
      /** Whether the address led to another server by then. */
      readonly moved: boolean;
      readonly durationMs: number;
      /** Probe logins made during the episode. */
      readonly probes: number;
    };

interface Wait {
  readonly resume: () => void;
  readonly giveUp: () => void;
  timer: NodeJS.Timeout | undefined;
}

/** Failover state of one pool. */
export class Failover {
  readonly #host: FailoverHost;
  readonly #options: Required<FailoverOptions>;
  /** Servers seen, numbered from 1 in the order first seen. */
  readonly #servers = new Map<string, number>();
  #current = 0;
  #episode = false;
  #startedAt = 0;
  #lastRefusalAt = 0;
  #movedInEpisode = false;
  #probes = 0;
  #probing = false;
  #probeTimer: NodeJS.Timeout | undefined;
  readonly #waits = new Set<Wait>();

  constructor(host: FailoverHost, options: Required<FailoverOptions>) {
    this.#host = host;
    this.#options = options;
  }

  /** The server (numbered) the pool's address led to at the last login; 0 before any. */
  get server(): number {
    return this.#current;
  }

  /** True while a write refused as read-only waits for a writable server to be found. */
  get active(): boolean {
    return this.#episode;
  }

  /**
   * A login reached a server, as `role` says (`undefined`: it would not say). Returns the
   * server's number for the connection (0: unknown).
   */
  loggedIn(role: ServerRole | undefined): number {
    if (!role) return 0;
    let server = this.#servers.get(role.identity);
    if (server === undefined) {
      server = this.#servers.size + 1;
      this.#servers.set(role.identity, server);
    }
    if (server !== this.#current) {
      const moved = this.#current !== 0;
      this.#current = server;
      if (moved) {
        if (this.#episode) this.#movedInEpisode = true;
        this.#host._serverMoved(server);
      }
    }
    if (this.#episode && role.writable) this.#end('writable');
    return server;
  }

  /**
   * A connection to server `server` refused a write as read-only. Starts an episode unless one
   * is under way, or the connection's server is no longer where the address leads.
   */
  refused(server: number): void {
    if (this.#host._closed) return;
    if (server !== 0 && this.#current !== 0 && server !== this.#current) return;
    this.#lastRefusalAt = performance.now();
    if (this.#episode) return;
    this.#episode = true;
    this.#startedAt = this.#lastRefusalAt;
    this.#movedInEpisode = false;
    this.#probes = 0;
    this.#host._episode({ state: 'started' });
    this.#probe();
  }

  /**
   * Calls `resume` once no episode is under way (at once, on the next tick, when none is), or
   * `giveUp` when `waitMs` passes first.
   */
  whenWritable(resume: () => void, giveUp: () => void): void {
    if (!this.#episode) {
      process.nextTick(resume);
      return;
    }
    if (this.#options.waitMs === 0) {
      process.nextTick(giveUp);
      return;
    }
    const wait: Wait = { resume, giveUp, timer: undefined };
    // Not unref'd: a caller waits on it, so it keeps the process alive (up to waitMs), as the
    // socket of a running query would. The probes' own timers are unref'd.
    wait.timer = setTimeout(() => {
      this.#waits.delete(wait);
      giveUp();
    }, this.#options.waitMs);
    this.#waits.add(wait);
    // Someone waits: look now rather than at the idle pace.
    if (!this.#probing && this.#probeTimer) {
      clearTimeout(this.#probeTimer);
      this.#probeTimer = undefined;
      this.#probe();
    }
  }

  /** The pool ends: waits resume (and meet the closed pool), probes stop. */
  close(): void {
    if (this.#episode) this.#end('closed');
  }

  #probe(): void {
    if (!this.#episode || this.#probing || this.#host._closed) return;
    this.#probing = true;
    this.#probes += 1;
    this.#host._probe((err, connection) => {
      this.#probing = false;
      if (connection) {
        // A writable server ends the episode in loggedIn(), before this callback.
        if (!this.#episode && connection.writable) connection.keep();
        else connection.close();
      }
      this.#scheduleProbe();
    });
  }

  #scheduleProbe(): void {
    if (!this.#episode || this.#host._closed) return;
    const now = performance.now();
    if (this.#waits.size === 0 && now - this.#lastRefusalAt > QUIET_MS) {
      this.#end('quiet');
      return;
    }
    const delay = this.#waits.size > 0 ? this.#options.probeIntervalMs : Math.max(IDLE_PROBE_MS, this.#options.probeIntervalMs);
    this.#probeTimer = unrefTimer(() => {
      this.#probeTimer = undefined;
      this.#probe();
    }, delay);
  }

  #end(outcome: 'writable' | 'quiet' | 'closed'): void {
    this.#episode = false;
    if (this.#probeTimer) clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    const waits = [...this.#waits];
    this.#waits.clear();
    for (const wait of waits) {
      clearTimeout(wait.timer);
      process.nextTick(wait.resume);
    }
    this.#host._episode({
      state: 'ended',
      outcome,
      moved: this.#movedInEpisode,
      durationMs: Math.round(performance.now() - this.#startedAt),
      probes: this.#probes,
    });
  }
}
