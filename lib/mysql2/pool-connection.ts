/**
 * The connection a credswap pool opens: mysql2's PoolConnection, tagged with the credentials'
 * generation, the server it reached and when it expires, watching its commands for read-only
 * errors, and keeping its pool slot until its socket is closed.
 *
 * @packageDocumentation
 */

import * as mysql2 from 'mysql2';
import type { Socket } from 'node:net';
import { unrefTimer } from '../backoff.js';
import { isReadOnlyError } from './classify.js';
import {
  type Mysql2Command,
  type Mysql2ConnectionConfig,
  type Mysql2PoolConnection,
  PoolConnection,
  observeCommandErrors,
} from './internals.js';

/** What a pooled connection calls back into: its pool. */
export interface ConnectionOwner {
  readonly _closed: boolean;
  readonly rejectReadOnly: boolean;
  /** What the pool does about read-only servers (see `pool-failover.ts`). */
  readonly _failover: {
    refused(connection: CredswapPoolConnection, error: Error): boolean;
    errorFor(error: Error, waited: boolean): Error;
  };
  _closeConnection(connection: CredswapPoolConnection, how: 'quit' | 'destroy', reason?: string): void;
}

// Per-connection state, on symbol keys (set after mysql2's constructor has run).
export const OWNER = Symbol('credswap.pool');
export const GENERATION = Symbol('credswap.generation');
export const ESTABLISHED = Symbol('credswap.established');
export const DISCARD = Symbol('credswap.discard');
export const CLOSING = Symbol('credswap.closing');
export const OBSERVED = Symbol('credswap.observed');
export const SERVER = Symbol('credswap.server');
export const WRITABLE = Symbol('credswap.writable');
export const EXPIRES = Symbol('credswap.expires');

/** A command whose errors the pool already watches. */
export type ObservedCommand = Mysql2Command & { [OBSERVED]?: boolean };

/** A pooled connection: mysql2's PoolConnection, tagged with its credentials' generation. */
export interface CredswapPoolConnection extends Mysql2PoolConnection {
  [OWNER]?: ConnectionOwner;
  [GENERATION]: number;
  [ESTABLISHED]?: boolean;
  /** Why the connection is to be discarded when released: refused in a read-only transaction (1792), or too old. */
  [DISCARD]?: 'read-only' | 'lifetime';
  [CLOSING]?: boolean;
  /** The server the login reached, numbered by the pool's {@link Failover}; 0 when unknown. */
  [SERVER]: number;
  /** Whether that server took writes at login. */
  [WRITABLE]: boolean;
  /** When the connection passes `maxLifetimeMs` (with jitter), in `Date.now()` milliseconds; Infinity without. */
  [EXPIRES]: number;
}

/** The generation of credentials a pooled connection was opened with (0 without `credentials`). */
export function connectionGeneration(connection: object): number | undefined {
  return (connection as Partial<CredswapPoolConnection>)[GENERATION];
}

/**
 * A new, not yet connected connection for `owner`, tagged with its credentials' generation and,
 * with `maxLifetimeMs`, when it expires: up to 10 % sooner, so that connections opened together
 * do not all close together.
 */
export function newPooledConnection(
  owner: ConnectionOwner,
  config: Mysql2ConnectionConfig,
  generation: number,
  maxLifetimeMs: number,
): CredswapPoolConnection {
  const connection = new PooledConnection(owner, { config }) as unknown as CredswapPoolConnection;
  connection[OWNER] = owner;
  connection[GENERATION] = generation;
  connection[SERVER] = 0;
  connection[WRITABLE] = true;
  connection[EXPIRES] = maxLifetimeMs > 0 ? Date.now() + maxLifetimeMs * (1 - 0.1 * Math.random()) : Infinity;
  return connection;
}

/**
 * Ends every connection as the pool ends: established ones politely (COM_QUIT), others by
 * closing their socket. Resolves with the first error an ending reported.
 */
export async function endAll(connections: Iterable<CredswapPoolConnection>): Promise<Error | undefined> {
  let firstError: Error | undefined;
  await Promise.all(
    [...connections].map(
      (connection) =>
        new Promise<void>((resolve) => {
          if (!connection[ESTABLISHED] || connection._closing) {
            connection.destroy();
            resolve();
            return;
          }
          connection._realEnd((err) => {
            if (err && !firstError) firstError = err;
            resolve();
          });
        }),
    ),
  );
  return firstError;
}

/** The connections a credswap pool opens: mysql2's PoolConnection, reporting to its owner. */
export class PooledConnection extends (PoolConnection as unknown as new (...args: unknown[]) => Mysql2PoolConnection) {
  // Called by mysql2's constructor for the handshake, before OWNER is set: not observed.
  override addCommand(cmd: Mysql2Command): Mysql2Command {
    const owner = (this as unknown as CredswapPoolConnection)[OWNER];
    if (owner !== undefined && owner.rejectReadOnly && (cmd as ObservedCommand)[OBSERVED] !== true) {
      observeCommandErrors(cmd, (err) => {
        if (!isReadOnlyError(err)) return err;
        owner._failover.refused(this as unknown as CredswapPoolConnection, err);
        return owner._failover.errorFor(err, false);
      });
    }
    return super.addCommand(cmd);
  }

  // A destroyed connection keeps its slot until its socket is closed, so the server never sees
  // more than connectionLimit connections from this pool.
  override destroy(): void {
    const self = this as unknown as CredswapPoolConnection;
    const owner = self[OWNER];
    if (owner !== undefined && self[ESTABLISHED] && !owner._closed && self._pool !== null) {
      owner._closeConnection(self, 'destroy');
      return;
    }
    super.destroy();
  }
}

/** mysql2's plain Connection.destroy: closes the socket without telling the pool. */
const closeSocket = (mysql2.Connection.prototype as unknown as { destroy(this: Mysql2PoolConnection): void }).destroy;

/** How long a discarded connection may take to say goodbye before its socket is destroyed. */
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * Closes a connection: politely with COM_QUIT (`quit`), or by closing its socket (`destroy`).
 * `onClosed` runs once the socket is closed (at once if it is already); a socket that does not
 * close within a few seconds is destroyed. The timer that ensures it is kept in `timers` until
 * then, so that the pool can clear it when it ends.
 */
export function closeSocketOf(
  connection: CredswapPoolConnection,
  how: 'quit' | 'destroy',
  timers: Set<NodeJS.Timeout>,
  onClosed: () => void,
): void {
  const stream = (connection as unknown as { stream: Socket }).stream;
  const timer = unrefTimer(() => stream.destroy(), CLOSE_TIMEOUT_MS);
  timers.add(timer);
  const closed = () => {
    clearTimeout(timer);
    timers.delete(timer);
    onClosed();
  };
  if (stream.destroyed || stream.closed) closed();
  else stream.once('close', closed);
  if (how === 'quit' && !connection._closing) connection._realEnd(() => {});
  else closeSocket.call(connection);
}

export type ConnectionCallback = (err: Error | null, connection?: CredswapPoolConnection) => void;

export interface Waiter {
  readonly cb: ConnectionCallback;
  attempt: number;
  /** Must get a newly opened connection (the retry after a read-only error). */
  readonly fresh: boolean;
}

/** Hands an open connection to a waiter, on the next tick as mysql2 does. */
export function lend(waiter: Waiter, connection: CredswapPoolConnection): void {
  connection._released = false;
  process.nextTick(waiter.cb, null, connection);
}
