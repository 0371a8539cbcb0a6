/**
 * The queries a drill runs when the user brings none: `SELECT 1` for reads, and for writes an
 * upsert of one row per worker in a small table, so that writes are real (a read-only server
 * refuses them) while the table never grows.
 *
 * @packageDocumentation
 */

import { InvalidOptionError } from '../errors.js';
import { bool, expectObject, rejectUnknownKeys, string } from '../options.js';
import type { QueryKind } from './load.js';

/**
 * The little a pool needs for {@link defaultQueries}: a promise `query(sql, values)`, as a
 * mysql2/promise pool, a `credswap/mysql2/promise` pool or `pool.promise()` of a callback pool have.
 */
export interface QueryablePool {
  query(sql: string, values?: unknown[]): Promise<unknown>;
}

/** Options of {@link defaultQueries}. Unknown keys are rejected. */
export interface DefaultQueriesOptions {
  /**
   * The table writes go to, optionally qualified by its database (`'app.credswap_drill'`).
   * Letters, digits, `_` and `$` only.
   *
   * @defaultValue {@link DEFAULT_DRILL_TABLE}
   */
  table?: string;
  /**
   * Create the table (`CREATE TABLE IF NOT EXISTS`) before returning. Turn it off when the
   * drill's user may not create tables and the table was created beforehand.
   *
   * @defaultValue true
   */
  createTable?: boolean;
}

/** The table {@link defaultQueries} writes to unless told otherwise. */
export const DEFAULT_DRILL_TABLE = 'credswap_drill';

/** A query function for {@link startLoadGenerator}'s `query` option. */
export type DrillQuery = (kind: QueryKind, worker: number) => Promise<unknown>;

const OPTION_KEYS = new Set(['table', 'createTable']);
const TABLE_PATTERN = /^[A-Za-z0-9_$]{1,64}(\.[A-Za-z0-9_$]{1,64})?$/;

/** The SQL {@link defaultQueries} runs, for a given (already checked) table name. */
function drillStatements(table: string): { create: string; read: string; write: string } {
  const quoted = table
    .split('.')
    .map((part) => `\`${part}\``)
    .join('.');
  return {
    create: `CREATE TABLE IF NOT EXISTS ${quoted} (id INT NOT NULL PRIMARY KEY, \`at\` DATETIME(3) NOT NULL)`,
    read: 'SELECT 1',
    write: `INSERT INTO ${quoted} (id, \`at\`) VALUES (?, NOW(3)) ON DUPLICATE KEY UPDATE \`at\` = NOW(3)`,
  };
}

/**
 * Prepares the default drill queries on `pool` and resolves with a query function for
 * {@link startLoadGenerator}:
 *
 * - a read is `SELECT 1`;
 * - a write is `INSERT INTO credswap_drill (id, at) VALUES (<worker>, NOW(3)) ON DUPLICATE KEY
 *   UPDATE at = NOW(3)`: one row per worker, so the table stays as small as the load's
 *   concurrency however long the drill runs.
 *
 * The table, `credswap_drill (id INT PRIMARY KEY, at DATETIME(3))`, is created through the pool
 * when missing (so the pool's user needs `CREATE` and `INSERT`/`UPDATE` on it, or create it
 * beforehand and pass `createTable: false`). Drop it when you are done if you like; nothing else
 * uses it.
 *
 * @throws InvalidOptionError naming an invalid option; rejects with the pool's error when the
 *   table cannot be created.
 * @example
 * ```ts
 * const load = startLoadGenerator({ concurrency: 8, writeRatio: 0.2, query: await defaultQueries(pool) });
 * ```
 */
export async function defaultQueries(pool: QueryablePool, options: DefaultQueriesOptions = {}): Promise<DrillQuery> {
  if (typeof (pool as { query?: unknown } | null)?.query !== 'function') {
    throw new InvalidOptionError('pool', 'must have a promise query(sql, values) method');
  }
  const bag = expectObject(options, 'options') as Record<string, unknown>;
  rejectUnknownKeys(bag, OPTION_KEYS, 'options.');
  const table = string(bag, 'table', 'options.', DEFAULT_DRILL_TABLE) as string;
  if (!TABLE_PATTERN.test(table)) {
    throw new InvalidOptionError('options.table', 'must be a table name of letters, digits, _ and $, optionally qualified by a database');
  }
  const sql = drillStatements(table);
  if (bool(bag, 'createTable', 'options.', true)) await pool.query(sql.create);
  return (kind, worker) => (kind === 'write' ? pool.query(sql.write, [worker]) : pool.query(sql.read));
}
