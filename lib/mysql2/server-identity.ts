/**
 * Which server a connection reached, and whether it takes writes: asked once per login (one
 * round trip), so that a pool can tell when its address leads to another server (a failover
 * behind DNS, a proxy or a virtual IP) and when the server it reaches is writable again.
 *
 * @packageDocumentation
 */

import { isMariaDBConnection } from './internals.js';

/** What a login learned about its server. */
export interface ServerRole {
  /**
   * Names the server: MySQL's `server_uuid` (unique per data directory), or on MariaDB, which
   * has none, its host name, port and `server_id`.
   */
  readonly identity: string;
  /** False when the server refuses writes: `read_only`, `super_read_only` or `innodb_read_only` (Aurora readers). */
  readonly writable: boolean;
}

const MYSQL_SQL = 'SELECT @@server_uuid AS id, @@global.read_only AS ro, @@global.super_read_only AS sro, @@global.innodb_read_only AS iro';
const MARIADB_SQL =
  "SELECT CONCAT(@@hostname, ':', @@port, '#', @@server_id) AS id, @@global.read_only AS ro, 0 AS sro, @@global.innodb_read_only AS iro";

/** The connection surface the check needs: mysql2's callback `query`. */
interface Queryable {
  query(sql: string, cb: (err: Error | null, rows?: unknown) => void): unknown;
}

const on = (value: unknown): boolean => value === 1 || value === '1' || value === 'ON' || value === true;

/**
 * Asks the server behind a newly logged-in `connection` who it is and whether it takes writes.
 * Calls back with `undefined` when the server would not say (a statement refused, e.g. a MariaDB
 * account whose password expired): the pool then knows nothing about it, as without this check.
 * A fatal error (the connection is gone) is passed on.
 */
export function checkServerRole(connection: object, cb: (err: Error | null, role?: ServerRole) => void): void {
  const sql = isMariaDBConnection(connection) ? MARIADB_SQL : MYSQL_SQL;
  (connection as Queryable).query(sql, (err, rows) => {
    if (err) {
      if ((err as { fatal?: boolean }).fatal) cb(err);
      else cb(null, undefined);
      return;
    }
    const row = (rows as Array<Record<string, unknown>>)[0];
    const id: unknown = row?.id;
    if (typeof id !== 'string' && typeof id !== 'number') {
      cb(null, undefined);
      return;
    }
    cb(null, { identity: String(id), writable: !on(row.ro) && !on(row.sro) && !on(row.iro) });
  });
}
