/**
 * The pool's periodic server check (`failover.checkIntervalMs`): a pool whose connections all
 * stay open logs nothing in, so nothing shows it when its address starts leading to another
 * server (a proxy or virtual IP moved, or a DNS name whose connections outlive the change). Once
 * per interval without any login, the check opens one connection ahead of the queue (a full pool
 * closes an idle connection, or the next one released, to make room); its login tells which
 * server the address leads to, and the pool then discards connections to any other one. The new
 * connection stays in the pool.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { unrefTimer } from '../backoff.js';
import type { CredswapPoolConnection, Waiter } from './pool-connection.js';

/** The pool, as its server check sees it. */
export interface CheckedPool {
  readonly _closed: boolean;
  readonly _connections: ReadonlySet<CredswapPoolConnection>;
  _acquire(waiter: Waiter, front: boolean): void;
}

/**
 * Starts the check; returns a function that stops it.
 *
 * @param lastLoginAt - when a login of the pool last worked, on the `performance.now()` clock
 * @param busy - true while a failover episode probes anyway
 */
export function startServerCheck(pool: CheckedPool, intervalMs: number, lastLoginAt: () => number, busy: () => boolean): () => void {
  let timer: NodeJS.Timeout | undefined;
  let checking = false;
  const check = () => {
    if (pool._closed) return;
    const since = performance.now() - lastLoginAt();
    // A pool with no connection has nothing that could be on the wrong server.
    if (since >= intervalMs - 1 && !checking && !busy() && pool._connections.size > 0) {
      checking = true;
      pool._acquire(
        {
          attempt: 1,
          fresh: true,
          cb: (_err, connection) => {
            checking = false;
            connection?.release();
          },
        },
        true,
      );
      timer = unrefTimer(check, intervalMs);
      return;
    }
    // Next: one interval after the last login (this check's, or any other).
    timer = unrefTimer(check, Math.max(1, intervalMs - since));
  };
  timer = unrefTimer(check, intervalMs);
  return () => clearTimeout(timer);
}
