/**
 * The pool's periodic sweep: once a second it closes idle connections beyond `maxIdle` or idle
 * for longer than `idleTimeout` (as mysql2 does), and connections past `maxLifetimeMs`: idle
 * ones at once, busy ones when released.
 *
 * @packageDocumentation
 */

import { unrefTimer } from '../backoff.js';
import { CLOSING, type CredswapPoolConnection, DISCARD, ESTABLISHED, EXPIRES } from './pool-connection.js';

/** The pool, as its sweep sees it. */
export interface SweptPool {
  readonly _closed: boolean;
  /** The pool's idle connections, the longest idle first. */
  readonly _idle: readonly CredswapPoolConnection[];
  /** Every connection of the pool. */
  readonly _connections: ReadonlySet<CredswapPoolConnection>;
  _closeConnection(connection: CredswapPoolConnection, how: 'quit' | 'destroy', reason?: string): void;
}

const SWEEP_MS = 1_000;

/**
 * Starts the sweep of `pool`; returns a function that stops it. As in mysql2, idle connections
 * are closed only when `maxIdle` is below `connectionLimit`.
 */
export function startSweep(pool: SweptPool, options: { maxIdle: number; idleTimeout: number; connectionLimit: number }): () => void {
  let timer: NodeJS.Timeout | undefined;
  const sweepIdle = options.maxIdle < options.connectionLimit;
  const sweep = () => {
    const now = Date.now();
    const idle = pool._idle;
    while (sweepIdle && (idle.length > options.maxIdle || (idle.length > 0 && now - idle[0].lastActiveTime > options.idleTimeout))) {
      pool._closeConnection(idle[0], 'quit', 'idle');
    }
    for (const connection of pool._connections) {
      if (connection[EXPIRES] > now || connection[CLOSING] || !connection[ESTABLISHED]) continue;
      if (idle.includes(connection)) pool._closeConnection(connection, 'quit', 'lifetime');
      else connection[DISCARD] ??= 'lifetime';
    }
    if (!pool._closed) timer = unrefTimer(sweep, SWEEP_MS);
  };
  timer = unrefTimer(sweep, SWEEP_MS);
  return () => clearTimeout(timer);
}
