/**
 * The parts of mysql2's Pool surface that do not touch connections: SQL formatting and escaping
 * with the pool's settings, disposal, and what `util.inspect` and `JSON.stringify` show (counts,
 * never credentials). The credswap pool extends it.
 *
 * @packageDocumentation
 */

import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { sqlString, type Mysql2ConnectionConfig } from './internals.js';
import type { PoolStats } from './types.js';

/** What a credswap pool shares with mysql2's beyond its connections. */
export abstract class PoolSurface extends EventEmitter {
  /** Shaped like mysql2's `pool.config`. */
  abstract readonly config: { readonly connectionConfig: Mysql2ConnectionConfig };
  /** Counts of the pool's connections. */
  abstract get stats(): PoolStats;
  /** @internal */
  abstract _closed: boolean;
  /** Closes the pool. */
  abstract end(cb?: (err?: Error | null) => void): void;

  /** Like mysql2: `pool.format(sql, values)`. */
  format(sql: string, values?: unknown): string {
    const { stringifyObjects, timezone } = this.config.connectionConfig;
    return sqlString.format(sql, values, stringifyObjects, timezone);
  }

  /** Like mysql2: `pool.escape(value)`. */
  escape(value: unknown): string {
    const { stringifyObjects, timezone } = this.config.connectionConfig;
    return sqlString.escape(value, stringifyObjects, timezone);
  }

  /** Like mysql2: `pool.escapeId(name)`. */
  escapeId(value: string): string {
    return sqlString.escapeId(value, false);
  }

  /** Like mysql2: `using pool = ...` ends the pool without waiting. */
  [Symbol.dispose](): void {
    if (!this._closed) this.end();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await new Promise<void>((resolve, reject) => this.end((err) => (err ? reject(err) : resolve())));
  }

  [inspect.custom](): string {
    const s = this.stats;
    return `CredswapPool { total: ${s.total}, idle: ${s.idle}, queued: ${s.queued}, generation: ${s.generation}, closed: ${this._closed} }`;
  }

  toJSON(): object {
    return { ...this.stats, closed: this._closed };
  }
}
