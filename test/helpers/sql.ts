/**
 * Small helpers for tests that talk to a throwaway server directly: a connection as a user, one
 * query on it, an `assert.rejects` matcher by errno, and whether a port is free.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { createConnection, type Connection } from 'mysql2/promise';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';

export function connect(server: MariaDBServer, user: string, password: string, database?: string): Promise<Connection> {
  return createConnection({ host: server.host, port: server.port, user, password, database });
}

/** Runs `use` on a connection as `user`, and closes it. */
export async function withConnection<T>(
  server: MariaDBServer,
  user: string,
  password: string,
  use: (connection: Connection) => Promise<T>,
): Promise<T> {
  const connection = await connect(server, user, password);
  try {
    return await use(connection);
  } finally {
    await connection.end();
  }
}

/** `SELECT 1` as `user`: resolves with its rows, or rejects with the login's error. */
export function selectOne(server: MariaDBServer, user: string, password: string): Promise<unknown> {
  return withConnection(server, user, password, async (connection) => {
    const [rows] = await connection.query('SELECT 1 AS one');
    return rows;
  });
}

/** An `assert.rejects` matcher: the error has `errno` `expected`. */
export function errno(expected: number): (error: unknown) => boolean {
  return (error) => {
    assert.equal((error as { errno?: unknown }).errno, expected);
    return true;
  };
}

/** Whether nothing listens on `port` of the loopback address. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
