/**
 * `pool.query` and `pool.execute`: a statement on a pooled connection, released when it ends.
 * A statement the server refused as read-only did not run: it runs once more, when the pool's
 * failover episode has found a writable server (or, with `failover: false` and for a read-only
 * transaction's 1792, at once on a freshly opened connection).
 *
 * @packageDocumentation
 */

import { isReadOnlyError } from './classify.js';
import { type Mysql2Command, type Mysql2ConnectionConfig, createQuery } from './internals.js';
import { type CredswapPoolConnection, DISCARD, OBSERVED, type ObservedCommand, type Waiter } from './pool-connection.js';

/** The pool, as the statements see it. */
export interface StatementHost {
  readonly config: { readonly connectionConfig: Mysql2ConnectionConfig };
  readonly rejectReadOnly: boolean;
  readonly _closed: boolean;
  /** Hands `waiter` a connection (`front`: ahead of the queue). */
  _acquire(waiter: Waiter, front: boolean): void;
  /** What the pool does about read-only servers (see `pool-failover.ts`). */
  readonly _failover: {
    refused(connection: CredswapPoolConnection, error: Error): boolean;
    errorFor(error: Error, waited: boolean): Error;
    whenWritable(resume: () => void, giveUp: () => void): void;
  };
}

export type QueryCallback = (err: Error | null, ...rest: unknown[]) => void;

export interface StatementArgs {
  readonly sql: unknown;
  readonly values: unknown;
  readonly cb: QueryCallback | undefined;
}

/**
 * `retryable`: may run once more after a read-only refusal; `retry`: that second run, on a
 * connection to a writable server; `fresh`: that second run, on a newly opened connection;
 * `once`: never retried.
 */
export type RetryMode = 'retryable' | 'retry' | 'fresh' | 'once';

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
 * How a refused `retryable` statement runs again: at once on a fresh connection when the pool
 * discards the refused one, else once the failover episode has found a writable server. `fail`
 * reports the refusal when that does not happen within the pool's `failover.waitMs`.
 */
function retryAfterRefusal(host: StatementHost, discarded: boolean, run: (mode: RetryMode) => void, fail: () => void): void {
  if (discarded) run('fresh');
  else host._failover.whenWritable(() => (host._closed ? fail() : run('retry')), fail);
}

/**
 * Runs `cmd` on a pooled connection, like mysql2's `pool.query`. A `retryable` statement refused
 * as read-only runs once more (see {@link retryAfterRefusal}).
 */
export function runQuery(host: StatementHost, cmd: Mysql2Command, args: StatementArgs, mode: RetryMode): void {
  const fresh = mode === 'fresh';
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
              const discarded = host._failover.refused(connection, error);
              if (mode === 'retryable' && !host._closed) {
                // The server refused the statement: it did not run. Once more, once this
                // connection is released (its slot is then on its way back).
                retry = () =>
                  retryAfterRefusal(
                    host,
                    discarded,
                    (next) => runQuery(host, createPoolQuery(host, args), args, next),
                    () => onResult(host._failover.errorFor(error, !discarded), rows, fields),
                  );
                return;
              }
              onResult(host._failover.errorFor(error, false), rows, fields);
              return;
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
  const fresh = mode === 'fresh';
  host._acquire(
    {
      attempt: 1,
      fresh,
      cb: (err, connection) => {
        if (err || !connection) {
          args.cb(err);
          return;
        }
        let retry: (() => void) | undefined;
        const done = (error: Error | null, rows?: unknown, fields?: unknown) => {
          // The connection's own observer has already reported a read-only refusal to the pool.
          if (mode === 'retryable' && error && isReadOnlyError(error) && !host._closed) {
            const discarded = connection[DISCARD] === 'read-only';
            // The observer has already turned a refusal into the error callers get; after a wait, say so.
            const refusal = (error.cause as Error | undefined) ?? error;
            retry = () =>
              retryAfterRefusal(
                host,
                discarded,
                (next) => runExecute(host, args, next),
                () => args.cb(discarded ? error : host._failover.errorFor(refusal, true), rows, fields),
              );
            return;
          }
          args.cb(error, rows, fields);
        };
        try {
          connection.execute(args.sql, args.values, done).once('end', () => {
            connection.release();
            retry?.();
          });
        } catch (error) {
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
