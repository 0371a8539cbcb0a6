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
  /** @internal Every connection of the pool. */
  abstract get _connections(): ReadonlySet<object>;

  /**
   * Closes the prepared statement for `sql` on every open connection of the pool (each caches
   * its own, as `pool.execute` prepares them). mysql2's typings declare this method on its pool
   * without implementing it; here it does what the name says, and returns one of the statements
   * closed (as `connection.unprepare` does), or `undefined` when no connection had it.
   */
  unprepare(sql: string): unknown {
    let closed: unknown;
    for (const connection of this._connections as ReadonlySet<{ authorized?: boolean; unprepare(sql: string): unknown }>) {
      // Only logged-in connections: the others have no statements, nor a server to tell.
      if (connection.authorized === true) closed = connection.unprepare(sql) ?? closed;
    }
    return closed;
  }

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
