/**
 * The promise flavour of a credswap pool: mysql2's own PromisePool over the callback pool, with
 * credswap's events and members passed through. What `pool.promise()` returns.
 */
import * as mysql2Promise from 'mysql2/promise';
import type { RotationCoordinator } from '../coordinator.js';
import type { Pool, PoolStats, PromisePool } from './types.js';

type Mysql2PromisePoolCtor = new (pool: Pool, promiseImpl: PromiseConstructor) => mysql2Promise.Pool;
const Mysql2PromisePool = (mysql2Promise as unknown as { PromisePool: Mysql2PromisePoolCtor }).PromisePool;

/** Events the promise pool re-emits from the callback pool, beyond mysql2's own four. */
const FORWARDED_EVENTS = ['rotate', 'rotation-error', 'discard', 'failover'] as const;

class CredswapPromisePool extends Mysql2PromisePool {
  constructor(pool: Pool) {
    super(pool, Promise);
    for (const event of FORWARDED_EVENTS) {
      (pool as unknown as NodeJS.EventEmitter).on(event, (...args: unknown[]) => {
        if (this.listenerCount(event) > 0) this.emit(event, ...args);
      });
    }
  }

  get coordinator(): RotationCoordinator | undefined {
    return (this.pool as unknown as Pool).coordinator;
  }

  get stats(): PoolStats {
    return (this.pool as unknown as Pool).stats;
  }
}

/** Wraps a callback pool (what `pool.promise()` returns). */
export function wrapPromisePool(pool: Pool): PromisePool {
  return new CredswapPromisePool(pool) as unknown as PromisePool;
}
