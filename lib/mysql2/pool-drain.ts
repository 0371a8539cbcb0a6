/**
 * Draining after a rotation: which connections of older credentials a pool closes, and when.
 * Old connections drain only once a login with the new credentials worked (the generation
 * ledger says which generation that is), so credentials the server does not accept yet never
 * cost a pool its working connections. `rotation.drain` says how: `graceful` (idle ones at once,
 * busy ones when released), `force` (and busy ones after `drainTimeoutMs`), or `none`.
 *
 * @packageDocumentation
 */

import { unrefTimer } from '../backoff.js';
import type { CredentialsSnapshot } from '../coordinator.js';
import { drainObserved, publishDrain } from '../diagnostics.js';
import type { GenerationLedger } from '../generation-ledger.js';
import type { DrainMode } from './pool-options.js';
import { CLOSING, type CredswapPoolConnection, ESTABLISHED, GENERATION, type Waiter } from './pool-connection.js';

/** The pool, as its draining sees it. */
export interface DrainedPool {
  readonly _closed: boolean;
  readonly _idle: readonly CredswapPoolConnection[];
  readonly _connections: ReadonlySet<CredswapPoolConnection>;
  _acquire(waiter: Waiter, front: boolean): void;
  _closeConnection(connection: CredswapPoolConnection, how: 'quit' | 'destroy', reason?: string): void;
}

/** The draining of one pool. */
export class PoolDrain {
  readonly #pool: DrainedPool;
  readonly #generations: GenerationLedger;
  readonly #mode: DrainMode;
  readonly #timeoutMs: number;
  /** Force-drain timers, cleared when the pool ends. */
  readonly timers = new Set<NodeJS.Timeout>();

  constructor(pool: DrainedPool, generations: GenerationLedger, rotation: { drain: DrainMode; drainTimeoutMs: number }) {
    this.#pool = pool;
    this.#generations = generations;
    this.#mode = rotation.drain;
    this.#timeoutMs = rotation.drainTimeoutMs;
  }

  /** Opened with credentials older than the newest ones known to work, and draining is on. */
  isStale(connection: CredswapPoolConnection): boolean {
    return this.#mode !== 'none' && this.#generations.isStale(connection[GENERATION]);
  }

  /**
   * After a rotation nobody was refused for (a push, an expiry refresh, a manual refresh),
   * opens one connection with the new credentials: old connections drain once it logs in. Not
   * for a new token of the same account (`kind: 'token'`): nothing waits to drain.
   */
  probe(snapshot: CredentialsSnapshot | undefined): void {
    const pool = this.#pool;
    if (this.#mode === 'none' || pool._connections.size === 0 || pool._closed) return;
    if (snapshot && !this.#generations.makesStale(snapshot)) return;
    pool._acquire({ attempt: 1, fresh: true, cb: (_err, connection) => connection?.release() }, true);
  }

  /** A login with `generation`'s credentials worked for the first time: older connections drain. */
  drain(generation: number): void {
    if (this.#mode === 'none' || generation <= 1) return;
    const pool = this.#pool;
    if (drainObserved()) {
      const stale = [...pool._connections].filter((c) => c[ESTABLISHED] && !c[CLOSING] && c[GENERATION] < generation).length;
      publishDrain({ generation, mode: this.#mode, stale });
    }
    for (const connection of [...pool._idle]) {
      if (connection[GENERATION] < generation) pool._closeConnection(connection, 'quit', 'stale');
    }
    if (this.#mode !== 'force') return;
    const busy = [...pool._connections].filter((c) => c[ESTABLISHED] && !c[CLOSING] && c[GENERATION] < generation);
    if (busy.length === 0) return;
    const timer = unrefTimer(() => {
      this.timers.delete(timer);
      for (const connection of busy) {
        if (pool._connections.has(connection) && !connection[CLOSING]) pool._closeConnection(connection, 'destroy', 'drain-timeout');
      }
    }, this.#timeoutMs);
    this.timers.add(timer);
  }
}
