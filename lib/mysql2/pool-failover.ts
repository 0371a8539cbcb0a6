/**
 * The pool's side of a failover: which server each connection reached, what a read-only
 * refusal does to a connection, the probe logins a failover episode asks for, and discarding
 * idle connections to a server the address no longer leads to. The episode itself (when to
 * probe, who waits, when it ends) is `failover.ts`.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { publishFailover } from '../diagnostics.js';
import { ReadOnlyError } from '../errors.js';
import { isReadOnlyTransactionError } from './classify.js';
import { Failover, type FailoverEvent, type FailoverHost, type FailoverOptions } from './failover.js';
import { type CheckedPool, startServerCheck } from './pool-server-check.js';
import { type CredswapPoolConnection, DISCARD, SERVER, WRITABLE, type Waiter } from './pool-connection.js';
import type { ServerRole } from './server-identity.js';

/** The pool, as its failover side sees it. */
export interface FailoverPool extends CheckedPool {
  readonly _closed: boolean;
  /** Hands `waiter` a connection (`front`: ahead of the queue). */
  _acquire(waiter: Waiter, front: boolean): void;
  /** The pool's idle connections. */
  readonly _idle: readonly CredswapPoolConnection[];
  /** Closes a connection, keeping its slot until the socket is closed; `reason` goes to the `discard` event. */
  _closeConnection(connection: CredswapPoolConnection, how: 'quit' | 'destroy', reason?: string): void;
  emit(event: 'failover', payload: FailoverEvent): boolean;
}

/** What a pool does about read-only servers: {@link PoolFailover}, or {@link NO_FAILOVER}. */
export interface ReadOnlyPolicy {
  /** True while a failover episode is under way. */
  readonly active: boolean;
  /** A login reached the server `role` describes. */
  loggedIn(connection: CredswapPoolConnection, role: ServerRole | undefined): void;
  /** Reached a server that the pool's address no longer leads to. */
  onOtherServer(connection: CredswapPoolConnection): boolean;
  /** A connection received a read-only error; true when it is to be discarded (a statement then runs again on a fresh one). */
  refused(connection: CredswapPoolConnection, error: Error): boolean;
  /** The error a read-only refusal reaches the caller as (`waited`: after waiting for a writable server). */
  errorFor(error: Error, waited: boolean): Error;
  /** Calls `resume` once no episode is under way (within `failover.waitMs`), else `giveUp`. */
  whenWritable(resume: () => void, giveUp: () => void): void;
  close(): void;
}

/**
 * `failover: false` (or `rejectReadOnly: false`), as mysql2 does it: a refused connection is
 * discarded and a pool statement runs again at once on a new one; errors stay the server's.
 */
export const NO_FAILOVER: ReadOnlyPolicy = Object.freeze({
  active: false,
  loggedIn() {},
  onOtherServer: () => false,
  refused(connection: CredswapPoolConnection) {
    connection[DISCARD] = 'read-only';
    return true;
  },
  errorFor: (error: Error) => error,
  whenWritable: (resume: () => void) => process.nextTick(resume),
  close() {},
});

/** The failover side of one pool (with `rejectReadOnly` and `failover` on). */
export class PoolFailover implements FailoverHost, ReadOnlyPolicy {
  readonly #pool: FailoverPool;
  readonly #failover: Failover;
  readonly #waitMs: number;
  /** When a login last worked, on the `performance.now()` clock. */
  #lastLoginAt = performance.now();
  #stopCheck: (() => void) | undefined;

  constructor(pool: FailoverPool, options: Required<FailoverOptions>) {
    this.#pool = pool;
    this.#failover = new Failover(this, options);
    this.#waitMs = options.waitMs;
    if (options.checkIntervalMs > 0) {
      this.#stopCheck = startServerCheck(
        pool,
        options.checkIntervalMs,
        () => this.#lastLoginAt,
        () => this.#failover.active,
      );
    }
  }

  get _closed(): boolean {
    return this.#pool._closed;
  }

  /** True while a failover episode is under way. */
  get active(): boolean {
    return this.#failover.active;
  }

  /** A login reached the server `role` describes: tags the connection (may discard others, or end an episode). */
  loggedIn(connection: CredswapPoolConnection, role: ServerRole | undefined): void {
    this.#lastLoginAt = performance.now();
    if (role) connection[WRITABLE] = role.writable;
    connection[SERVER] = this.#failover.loggedIn(role);
  }

  /** Reached a server that the pool's address no longer leads to. */
  onOtherServer(connection: CredswapPoolConnection): boolean {
    const server = connection[SERVER];
    return server !== 0 && server !== this.#failover.server;
  }

  /**
   * A connection received a read-only error. Returns true when it is to be discarded (a pool
   * statement then runs again on a fresh connection): for a read-only transaction's 1792.
   * Otherwise the refusal starts (or continues) a failover episode and the connection stays.
   */
  refused(connection: CredswapPoolConnection, error: Error): boolean {
    if (isReadOnlyTransactionError(error)) {
      connection[DISCARD] = 'read-only';
      return true;
    }
    this.#failover.refused(connection[SERVER]);
    return false;
  }

  /**
   * The error a read-only refusal reaches the caller as: a {@link ReadOnlyError} (1792, a
   * read-only transaction, stays the server's own). `waited`: after waiting `failover.waitMs`.
   */
  errorFor(error: Error, waited: boolean): Error {
    if (isReadOnlyTransactionError(error)) return error;
    return new ReadOnlyError(error, waited ? this.#waitMs : undefined);
  }

  /** Calls `resume` once no episode is under way (within `failover.waitMs`), else `giveUp`. */
  whenWritable(resume: () => void, giveUp: () => void): void {
    this.#failover.whenWritable(resume, giveUp);
  }

  /** The pool ends. */
  close(): void {
    this.#stopCheck?.();
    this.#failover.close();
  }

  /** @internal A probe: one fresh connection, which the episode keeps (into the pool) or closes. */
  _probe(cb: Parameters<FailoverHost['_probe']>[0]): void {
    const pool = this.#pool;
    pool._acquire(
      {
        attempt: 1,
        fresh: true,
        cb: (err, connection) => {
          if (err || !connection) {
            cb(err ?? new Error('credswap: no connection for a failover probe'));
            return;
          }
          cb(null, {
            writable: connection[WRITABLE] && !this.onOtherServer(connection),
            keep: () => connection.release(),
            close: () => pool._closeConnection(connection, 'quit', 'failover-probe'),
          });
        },
      },
      true,
    );
  }

  /** @internal The address leads to `server` now: idle connections to others go at once, busy ones when released. */
  _serverMoved(server: number): void {
    for (const idle of [...this.#pool._idle]) {
      if (idle[SERVER] !== 0 && idle[SERVER] !== server) this.#pool._closeConnection(idle, 'quit', 'failover');
    }
  }

  /** @internal */
  _episode(event: FailoverEvent): void {
    publishFailover(event);
    this.#pool.emit('failover', event);
  }
}
