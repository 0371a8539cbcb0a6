/**
 * `pool.query` and `pool.execute`: a statement on a pooled connection, released when it ends,
 * and retried once on a fresh connection when the server refused it as read-only (it did not
 * run).
 *
 * @packageDocumentation
 */

import { isReadOnlyError } from './classify.js';
import { type Mysql2Command, type Mysql2ConnectionConfig, createQuery } from './internals.js';
import { type CredswapPoolConnection, DISCARD, OBSERVED, type ObservedCommand, POOL_STATEMENT, type Waiter } from './pool-connection.js';

/** The pool, as the statements see it. */
export interface StatementHost {
  readonly config: { readonly connectionConfig: Mysql2ConnectionConfig };
  readonly rejectReadOnly: boolean;
  readonly _closed: boolean;
  /** Hands `waiter` a connection (`front`: ahead of the queue). */
  _acquire(waiter: Waiter, front: boolean): void;
  _readOnlyRefusal(connection: CredswapPoolConnection, error: Error, retried: boolean): boolean;
  /** A retried statement ran on `connection`: the address leads to a writable server now. */
  _retryAccepted(connection: CredswapPoolConnection): void;
}

export type QueryCallback = (err: Error | null, ...rest: unknown[]) => void;

export interface StatementArgs {
  readonly sql: unknown;
  readonly values: unknown;
  readonly cb: QueryCallback | undefined;
}

/** `retryable`: may be retried once after a read-only error; `retry`: that retry; `once`: never. */
export type RetryMode = 'retryable' | 'retry' | 'once';

/** A mysql2 Query command for `args`, with the pool's connection settings. */
export function createPoolQuery(host: StatementHost, args: StatementArgs): Mysql2Command & { namedPlaceholders?: boolean } {
  const config = host.config.connectionConfig;
  const cmd = createQuery(args.sql, args.values, args.cb, config);
  if (cmd.namedPlaceholders === undefined) cmd.namedPlaceholders = config.namedPlaceholders;
  return cmd;
}

/** Pool statements may be retried after a read-only error: the server did not run them. */
export function retryModeFor(host: StatementHost, callback: unknown): RetryMode {
  const retryable = host.rejectReadOnly && typeof callback === 'function' && !host.config.connectionConfig.multipleStatements;
  return retryable ? 'retryable' : 'once';
}

/**
 * Runs `cmd` on a pooled connection, like mysql2's `pool.query`. A read-only refusal of a
 * `retryable` statement is retried once on a fresh connection.
 */
export function runQuery(host: StatementHost, cmd: Mysql2Command, args: StatementArgs, mode: RetryMode): void {
  const fresh = mode === 'retry';
  host._acquire(
    {
      attempt: 1,
      fresh,
      cb: (err, connection) => {
        if (err || !connection) {
          deliverError(cmd, err!);
          return;
        }
        const onResult = cmd.onResult;
        let retry: (() => void) | undefined;
        if (onResult !== undefined && host.rejectReadOnly) {
          // Observed here, so the connection's addCommand need not wrap it again.
          (cmd as ObservedCommand)[OBSERVED] = true;
          cmd.onResult = (error: Error | null, rows?: unknown, fields?: unknown) => {
            if (error && isReadOnlyError(error)) {
              if (host._readOnlyRefusal(connection, error, mode !== 'once') && mode === 'retryable' && !host._closed) {
                // The server refused the statement: it did not run. Once more, on a new
                // connection, once this one is released (its slot is then on its way back).
                retry = () => runQuery(host, createPoolQuery(host, args), args, 'retry');
                return;
              }
            } else if (!error && mode === 'retry') {
              host._retryAccepted(connection);
            }
            onResult(error, rows, fields);
          };
        }
        try {
          connection.query(cmd).once('end', () => {
            connection.release();
            retry?.();
          });
        } catch (error) {
          connection.release();
          deliverError(cmd, error as Error);
        }
      },
    },
    fresh,
  );
}

/** Prepares and executes a statement on a pooled connection, like mysql2's `pool.execute`. */
export function runExecute(host: StatementHost, args: StatementArgs & { cb: QueryCallback }, mode: RetryMode): void {
  const fresh = mode === 'retry';
  host._acquire(
    {
      attempt: 1,
      fresh,
      cb: (err, connection) => {
        if (err || !connection) {
          args.cb(err);
          return;
        }
        let retry = false;
        const done = (error: Error | null, rows?: unknown, fields?: unknown) => {
          // The connection's own observer has already judged a read-only error.
          if (mode === 'retryable' && error && connection[DISCARD] === 'read-only' && isReadOnlyError(error) && !host._closed) {
            retry = true; // once the connection is released, as in runQuery
            return;
          }
          if (!error && mode === 'retry') host._retryAccepted(connection);
          args.cb(error, rows, fields);
        };
        try {
          if (mode !== 'once') connection[POOL_STATEMENT] = true;
          connection.execute(args.sql, args.values, done).once('end', () => {
            connection[POOL_STATEMENT] = false;
            connection.release();
            if (retry) runExecute(host, args, 'retry');
          });
        } catch (error) {
          connection[POOL_STATEMENT] = false;
          connection.release();
          args.cb(error as Error);
        }
      },
    },
    fresh,
  );
}

/** Reports `err` to a command the way mysql2 does: to its callback, else as an `error` event. */
export function deliverError(cmd: Mysql2Command, err: Error): void {
  if (typeof cmd.onResult === 'function') cmd.onResult(err);
  else cmd.emit('error', err);
}
