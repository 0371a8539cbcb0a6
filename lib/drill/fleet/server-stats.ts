/**
 * What the database saw of a fleet drill, from its own counters, on one administrator
 * connection the drill keeps open for the whole run:
 *
 * - refused logins: the growth of `Aborted_connects` (MariaDB and MySQL count a login refused
 *   with 1045 there; MariaDB's `Access_denied_errors` also counts statements refused for
 *   privileges, so it is not used);
 * - the server's peak of connections: on a throwaway server, `FLUSH STATUS` when the watch
 *   starts sets `Max_used_connections` to the connections open then, so at the end it is the
 *   exact high-water mark of the run, less this watch's own connection. It counts every
 *   connection, the rotation's and the Vault emulator's short ones included. On a server the
 *   drill does not own, its counters are left alone (no `FLUSH STATUS`) and there is none;
 * - the highest count of the drill user's connections in `PROCESSLIST`, sampled every
 *   {@link CONNECTION_SAMPLE_INTERVAL_MS} (a sample can miss a shorter spike).
 *
 * The fleet's own peak, exact, comes from the workers (each logs its sockets to the database).
 *
 * @packageDocumentation
 */

import { createConnection, type Connection } from 'mysql2/promise';
import { describeCause } from '../../errors.js';
import { DrillTargetError } from '../errors.js';
import { scrubSecrets } from '../redact.js';
import type { DrillServer } from '../scenarios/server.js';

/** How often the watch counts the drill user's connections, ms. */
export const CONNECTION_SAMPLE_INTERVAL_MS = 100;

/** What the database counted during a fleet drill. */
export interface ServerMeasurements {
  /** Logins the server refused: the growth of `Aborted_connects` (the rotation's own attempts included). */
  refusedLogins: number;
  /**
   * Throwaway server only: the most connections on the server at any moment (`Max_used_connections`
   * after `FLUSH STATUS`), less the watch's own; the rotation's own connections included.
   */
  serverPeak?: number;
  /** The highest sampled count of the drill user's connections. */
  sampledPeak: number;
  /** How many samples were taken. */
  samples: number;
}

/** A running watch. See {@link watchServer}. */
export interface ServerWatch {
  /** Takes the last readings, closes the connection and resolves with the measurements. */
  finish(): Promise<ServerMeasurements>;
  /** Stops sampling and closes the connection, without readings. Idempotent. */
  close(): Promise<void>;
}

async function statusOf(connection: Connection): Promise<Record<string, number>> {
  const [rows] = await connection.query(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Aborted_connects', 'Max_used_connections', 'Threads_connected')",
  );
  return Object.fromEntries((rows as Array<{ Variable_name: string; Value: string }>).map((r) => [r.Variable_name, Number(r.Value)]));
}

/**
 * Starts watching `server` for the connections of `user`: on a throwaway server, resets its
 * status counters first (`FLUSH STATUS`).
 *
 * @throws {@link DrillTargetError} when the server cannot be reached or refuses the statements
 */
export async function watchServer(server: DrillServer, user: string): Promise<ServerWatch> {
  const flush = server.embedded;
  const fail = (problem: string, error: unknown) =>
    new DrillTargetError(server.label, `${problem}: ${scrubSecrets(describeCause(error), [server.adminPassword])}`);
  let connection: Connection;
  try {
    connection = await createConnection({
      host: server.host,
      port: server.port,
      user: server.adminUser,
      password: server.adminPassword,
      connectTimeout: 5_000,
    });
  } catch (error) {
    throw fail('cannot connect to count connections', error);
  }
  let before: Record<string, number>;
  try {
    if (flush) await connection.query('FLUSH STATUS');
    before = await statusOf(connection);
  } catch (error) {
    connection.destroy();
    throw fail('cannot read its status counters', error);
  }
  let sampledPeak = 0;
  let samples = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let pending: Promise<void> = Promise.resolve();
  const sample = () => {
    pending = connection
      .query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [user])
      .then(([rows]) => {
        samples += 1;
        sampledPeak = Math.max(sampledPeak, Number((rows as Array<{ n: number }>)[0]?.n ?? 0));
      })
      .catch(() => {}) // a missed sample; the final readings report a lost connection
      .finally(() => {
        if (stopped) return;
        timer = setTimeout(sample, CONNECTION_SAMPLE_INTERVAL_MS);
        timer.unref();
      });
  };
  sample();
  const stop = async () => {
    stopped = true;
    clearTimeout(timer);
    await pending;
  };
  let closed = false;
  const close = async () => {
    await stop();
    if (closed) return;
    closed = true;
    await connection.end().catch(() => connection.destroy());
  };
  return {
    async finish() {
      await stop();
      try {
        const after = await statusOf(connection);
        return {
          refusedLogins: Math.max(0, (after.Aborted_connects ?? 0) - (before.Aborted_connects ?? 0)),
          // Less this watch's own connection, open from before the FLUSH to now.
          ...(flush ? { serverPeak: Math.max(0, (after.Max_used_connections ?? 0) - 1) } : {}),
          sampledPeak,
          samples,
        };
      } catch (error) {
        throw fail('cannot read its status counters', error);
      } finally {
        await close();
      }
    },
    close,
  };
}
