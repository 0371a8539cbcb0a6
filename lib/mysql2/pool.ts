import { EventEmitter } from 'node:events';
import * as mysql2 from 'mysql2';
import type { Socket } from 'node:net';
import { inspect } from 'node:util';
import { unrefTimer } from '../backoff.js';
import { type CredentialsSnapshot, type RotateEvent, RotationCoordinator } from '../coordinator.js';
import { ClosedError } from '../errors.js';
import { GenerationLedger } from '../generation-ledger.js';
import type { PoolStats, Pool, PromisePool } from './types.js';
import { isAccessDenied, isReadOnlyError } from './classify.js';
import { type MYSQL2_POOL_KEYS, type PoolOptions, type ResolvedPoolOptions, resolvePoolOptions } from './pool-options.js';
import { ReadOnlyEpisodes } from './read-only.js';
import {
  ConnectionConfig,
  sqlString,
  type Mysql2Command,
  type Mysql2ConnectionConfig,
  type Mysql2PoolConnection,
  PoolConnection,
  cloneConfig,
  createQuery,
  derivedOptions,
  hideSecrets,
  observeCommandErrors,
} from './internals.js';

/** How long a discarded connection may take to say goodbye before its socket is destroyed. */
const CLOSE_TIMEOUT_MS = 5_000;

// Per-connection state, on symbol keys (set after mysql2's constructor has run).
const OWNER = Symbol('credswap.pool');
const GENERATION = Symbol('credswap.generation');
const ESTABLISHED = Symbol('credswap.established');
const DISCARD = Symbol('credswap.discard');
const CLOSING = Symbol('credswap.closing');
const OBSERVED = Symbol('credswap.observed');
const SEQUENCE = Symbol('credswap.sequence');
const POOL_STATEMENT = Symbol('credswap.poolStatement');

/** A command whose errors the pool already watches. */
type ObservedCommand = Mysql2Command & { [OBSERVED]?: boolean };

/** A pooled connection: mysql2's PoolConnection, tagged with its credentials' generation. */
export interface CredswapPoolConnection extends Mysql2PoolConnection {
  [OWNER]?: CallbackPool;
  [GENERATION]: number;
  [ESTABLISHED]?: boolean;
  [DISCARD]?: 'read-only';
  [CLOSING]?: boolean;
  /** Opening order within the pool, for telling connections opened before a failover. */
  [SEQUENCE]: number;
  /** Set while a `pool.execute` that may be retried after a read-only error runs on it. */
  [POOL_STATEMENT]?: boolean;
}

/** The generation of credentials a pooled connection was opened with (0 without `credentials`). */
export function connectionGeneration(connection: object): number | undefined {
  return (connection as Partial<CredswapPoolConnection>)[GENERATION];
}

class Connection extends (PoolConnection as unknown as new (...args: unknown[]) => Mysql2PoolConnection) {
  // Called by mysql2's constructor for the handshake, before OWNER is set: not observed.
  override addCommand(cmd: Mysql2Command): Mysql2Command {
    const owner = (this as unknown as CredswapPoolConnection)[OWNER];
    if (owner !== undefined && owner.rejectReadOnly && (cmd as ObservedCommand)[OBSERVED] !== true) {
      observeCommandErrors(cmd, (err) => {
        const self = this as unknown as CredswapPoolConnection;
        if (isReadOnlyError(err)) owner._readOnlyRefusal(self, err, self[POOL_STATEMENT] === true);
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

type ConnectionCallback = (err: Error | null, connection?: CredswapPoolConnection) => void;

interface Waiter {
  readonly cb: ConnectionCallback;
  attempt: number;
  /** Must get a newly opened connection (the retry after a read-only error). */
  readonly fresh: boolean;
}

type QueryCallback = (err: Error | null, ...rest: unknown[]) => void;

interface StatementArgs {
  readonly sql: unknown;
  readonly values: unknown;
  readonly cb: QueryCallback | undefined;
}

/** `retryable`: may be retried once after a read-only error; `retry`: that retry; `once`: never. */
type RetryMode = 'retryable' | 'retry' | 'once';

/** The pool config, shaped like mysql2's `pool.config` (libraries read `config.connectionConfig`). */
export type CallbackPoolConfig = { readonly connectionConfig: Mysql2ConnectionConfig } & Pick<
  ResolvedPoolOptions,
  (typeof MYSQL2_POOL_KEYS)[number]
>;

/**
 * The callback-style pool returned by `credswap/mysql2`'s `createPool`. It has mysql2's Pool
 * surface and hands out mysql2 PoolConnections, so it drops into code that takes a mysql2 pool.
 */
export class CallbackPool extends EventEmitter {
  /** Shaped like mysql2's `pool.config`. */
  readonly config: CallbackPoolConfig;
  /** The coordinator deciding when credentials change; `undefined` without `credentials`. */
  readonly coordinator: RotationCoordinator | undefined;
  /** @internal read by mysql2's PoolConnection. */
  _closed = false;
  /** @internal */
  readonly rejectReadOnly: boolean;

  readonly #options: ResolvedPoolOptions;
  readonly #all = new Set<CredswapPoolConnection>();
  readonly #free: CredswapPoolConnection[] = [];
  readonly #queue: Waiter[] = [];
  /** Connections counted against connectionLimit: open, opening, or a 1045 retry in progress. */
  #slots = 0;
  /** Which credentials the connections use; connections of generations older than the verified one drain. */
  readonly #generations: GenerationLedger;
  #generationConfig: { generation: number; config: Mysql2ConnectionConfig } | undefined;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Discarded connections whose sockets have not closed yet: each will free a slot. */
  #socketsClosing = 0;
  readonly #readOnly: ReadOnlyEpisodes;
  #idleTimer: NodeJS.Timeout | undefined;
  #ending: Promise<Error | undefined> | undefined;
  #promisePool: PromisePool | undefined;

  constructor(options: PoolOptions | string) {
    super();
    const resolved = resolvePoolOptions(options);
    this.#options = resolved;
    this.rejectReadOnly = resolved.rejectReadOnly;
    this.#readOnly = new ReadOnlyEpisodes(resolved.readOnlyBackoff);
    const connectionConfig = hideSecrets(new ConnectionConfig(resolved.mysqlOptions));
    this.config = Object.freeze({
      connectionConfig,
      connectionLimit: resolved.connectionLimit,
      waitForConnections: resolved.waitForConnections,
      queueLimit: resolved.queueLimit,
      maxIdle: resolved.maxIdle,
      idleTimeout: resolved.idleTimeout,
      resetOnRelease: resolved.resetOnRelease,
    });
    if (resolved.provider) {
      const coordinator = RotationCoordinator.fromResolved(resolved.provider, resolved.rotation);
      coordinator.on('rotate', (event: RotateEvent) => {
        if (event.previousGeneration > 0 && event.reason !== 'rejected') this.#probe();
        this.emit('rotate', event);
      });
      coordinator.on('rotation-error', (error, info) => this.emit('rotation-error', error, info));
      this.coordinator = coordinator;
    }
    this.#generations = new GenerationLedger((generation, credentials) => this.coordinator?.retire(generation, credentials));
    if (resolved.maxIdle < resolved.connectionLimit) this.#scheduleIdleCheck();
  }

  /** Counts of the pool's connections, for monitoring and tests. */
  get stats(): PoolStats {
    return {
      // Once the pool ends, slots no longer count: only connections still closing do.
      total: this._closed ? this.#all.size : this.#slots,
      idle: this.#free.length,
      queued: this.#queue.length,
      generation: this.coordinator?.generation ?? 0,
    };
  }

  /** Takes a connection from the pool; give it back with `connection.release()`. */
  getConnection(cb: ConnectionCallback): void {
    this.#acquire({ cb, attempt: 1, fresh: false }, false);
  }

  /** @internal called by mysql2's PoolConnection.release(). */
  releaseConnection(connection: CredswapPoolConnection): void {
    if (!this.#all.has(connection) || connection[CLOSING]) return;
    const reason = this.#discardReason(connection);
    if (reason !== undefined) {
      this.#discard(connection, reason);
      return;
    }
    if (this.#options.resetOnRelease) {
      connection.reset((err) => (err ? connection.destroy() : this.#handOut(connection)));
      return;
    }
    this.#handOut(connection);
  }

  /** @internal called by mysql2's PoolConnection when a connection ends, errors or is destroyed. */
  _removeConnection(connection: CredswapPoolConnection): void {
    if (!this.#all.delete(connection)) return;
    if (!connection[ESTABLISHED]) return; // a failed connect: its callback owns the slot
    const index = this.#free.indexOf(connection);
    if (index !== -1) this.#free.splice(index, 1);
    this.#slots -= 1;
    this.#generations.closed(connection[GENERATION]);
    this.#serveQueue();
  }

  /**
   * Runs a query on a pooled connection, like mysql2's `pool.query`. A read-only error is retried
   * once on a freshly opened connection (callback form, without `multipleStatements`).
   */
  query(sql: unknown, values?: unknown, cb?: QueryCallback): Mysql2Command {
    const args = { sql, values, cb };
    const cmd = this.#createQuery(args);
    this.#runQuery(cmd, args, this.#retryMode(cmd.onResult));
    return cmd;
  }

  /** Prepares and executes a statement on a pooled connection, like mysql2's `pool.execute`. */
  execute(sql: unknown, values?: unknown, cb?: QueryCallback): void {
    if (typeof values === 'function') {
      cb = values as QueryCallback;
      values = [];
    }
    if (typeof cb !== 'function') throw new TypeError('credswap: pool.execute() needs a callback');
    this.#runExecute({ sql, values, cb }, this.#retryMode(cb));
  }

  /**
   * Closes the pool: queued requests fail, the coordinator and provider stop, and every
   * connection is ended (checked-out ones too, as in mysql2). Idempotent.
   */
  end(cb?: (err?: Error | null) => void): void {
    if (!this.#ending) this.#ending = this.#end();
    this.#ending.then((err) => cb?.(err ?? null));
  }

  /**
   * Closes the prepared statement for `sql` on every open connection of the pool (each caches
   * its own, as `pool.execute` prepares them). mysql2's typings declare this method on its pool
   * without implementing it; here it does what the name says, and returns one of the statements
   * closed (as `connection.unprepare` does), or `undefined` when no connection had it.
   */
  unprepare(sql: string): unknown {
    let closed: unknown;
    for (const connection of this.#all) {
      if (!connection[ESTABLISHED]) continue;
      closed = (connection as unknown as { unprepare(sql: string): unknown }).unprepare(sql) ?? closed;
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

  /**
   * The promise flavour of this pool, sharing its connections and state. The same object is
   * returned on every call (its event forwarding is set up once).
   */
  promise(): PromisePool {
    if (!this.#promisePool) {
      // Loaded on demand: the callback flavour does not load mysql2/promise.
      const { wrapPromisePool } = require('./promise-pool.js') as typeof import('./promise-pool.js');
      this.#promisePool = wrapPromisePool(this as unknown as Pool);
    }
    return this.#promisePool;
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

  // --- acquisition -------------------------------------------------------------------------

  #acquire(waiter: Waiter, front: boolean): void {
    if (this._closed) {
      process.nextTick(waiter.cb, new ClosedError('the pool'));
      return;
    }
    if (!waiter.fresh && this.#free.length > 0) {
      const connection = this.#free.pop()!;
      this.emit('acquire', connection);
      lend(waiter, connection);
      return;
    }
    const limit = this.#options.connectionLimit;
    if (limit === 0 || this.#slots < limit) {
      this.#slots += 1;
      this.#open(waiter);
      return;
    }
    if (!this.#options.waitForConnections) {
      process.nextTick(waiter.cb, new Error('No connections available.'));
      return;
    }
    if (this.#options.queueLimit && this.#queue.length >= this.#options.queueLimit && !front) {
      process.nextTick(waiter.cb, new Error('Queue limit reached.'));
      return;
    }
    this.emit('enqueue');
    if (front) this.#queue.unshift(waiter);
    else this.#queue.push(waiter);
    // A fresh connection needs a slot: make one by discarding an idle connection.
    if (waiter.fresh && this.#free.length > 0) this.#makeRoom(this.#free[0]!);
  }

  /** Opens a connection for `waiter` in a slot already counted. */
  #open(waiter: Waiter): void {
    const coordinator = this.coordinator;
    if (!coordinator) {
      this.#connect(waiter, undefined);
      return;
    }
    const snapshot = coordinator.current;
    if (snapshot) {
      this.#connect(waiter, snapshot);
      return;
    }
    coordinator.acquire().then(
      (first) => this.#connect(waiter, first),
      (error: Error) => this.#failWaiter(waiter, error),
    );
  }

  #connect(waiter: Waiter, snapshot: CredentialsSnapshot | undefined): void {
    if (this._closed) {
      this.#failWaiter(waiter, new ClosedError('the pool'));
      return;
    }
    const generation = snapshot?.generation ?? 0;
    const connection = new Connection(this, { config: cloneConfig(this.#configFor(snapshot)) }) as unknown as CredswapPoolConnection;
    connection[OWNER] = this;
    connection[GENERATION] = generation;
    connection[SEQUENCE] = this.#readOnly.opening();
    this.#all.add(connection);
    connection.connect((err) => {
      if (this._closed) {
        // end() came first: whatever the connect did, the caller learns that the pool is closed.
        this.#all.delete(connection);
        connection.destroy();
        this.#failWaiter(waiter, new ClosedError('the pool'));
        return;
      }
      if (err) {
        this.#all.delete(connection);
        this.#onConnectError(waiter, generation, err);
        return;
      }
      connection[ESTABLISHED] = true;
      // The first login with newer credentials worked: now connections of older ones drain.
      if (snapshot && this.#generations.opened(snapshot)) this.#drain(generation);
      this.coordinator?.reportSuccess(generation);
      this.emit('connection', connection);
      this.emit('acquire', connection);
      waiter.cb(null, connection);
    });
  }

  #onConnectError(waiter: Waiter, generation: number, err: Error): void {
    const coordinator = this.coordinator;
    if (!coordinator || !isAccessDenied(err) || waiter.attempt >= this.#options.rotation.maxAttempts || this._closed) {
      this.#failWaiter(waiter, err);
      return;
    }
    // Keep the slot while the coordinator finds credentials that work.
    coordinator.reportRejected(generation, err).then(
      (snapshot) => {
        waiter.attempt += 1;
        this.#connect(waiter, snapshot);
      },
      (error: Error) => {
        // Nothing newer to try: fall back to the newest credentials a login has worked with
        // (the server may not have caught up with a pushed or refreshed secret yet).
        const fallback = this.#generations.fallbackFor(generation);
        if (fallback && !this._closed && !(error instanceof ClosedError)) {
          waiter.attempt += 1;
          this.#connect(waiter, fallback);
          return;
        }
        this.#failWaiter(waiter, error);
      },
    );
  }

  /** Gives up a slot held for `waiter` and reports `error` to it. */
  #failWaiter(waiter: Waiter, error: Error): void {
    this.#slots -= 1;
    this.#serveQueue();
    waiter.cb(error);
  }

  #handOut(connection: CredswapPoolConnection): void {
    const next = this.#queue[0];
    // The head of the queue needs a new connection: free this one's slot for it, unless enough
    // connections are closing for that already (then this one waits, idle, for the requests behind).
    if (next?.fresh && this.#makeRoom(connection)) return;
    if (next && !next.fresh) {
      lend(this.#queue.shift()!, connection);
      return;
    }
    this.#free.push(connection);
    this.emit('release', connection);
  }

  /**
   * Discards `connection` to free a slot for a queued request that needs a fresh connection.
   * Returns false, and leaves it alone, when as many connections as such requests are closing already.
   */
  #makeRoom(connection: CredswapPoolConnection): boolean {
    let fresh = 0;
    for (const waiter of this.#queue) if (waiter.fresh) fresh += 1;
    if (this.#socketsClosing >= fresh) return false;
    this.#discard(connection, 'make-room');
    return true;
  }

  #serveQueue(): void {
    const limit = this.#options.connectionLimit;
    while (this.#queue.length > 0 && !this._closed) {
      if (this.#free.length > 0 && !this.#queue[0].fresh) {
        lend(this.#queue.shift()!, this.#free.pop()!);
        continue;
      }
      if (limit !== 0 && this.#slots >= limit) return;
      this.#slots += 1;
      this.#open(this.#queue.shift()!);
    }
  }

  #configFor(snapshot: CredentialsSnapshot | undefined): Mysql2ConnectionConfig {
    if (!snapshot) return this.config.connectionConfig;
    const cached = this.#generationConfig;
    if (cached && cached.generation === snapshot.generation) return cached.config;
    const { user, password, host, port, database } = snapshot.credentials;
    // Inherits the user's options: mysql2 warned about keys it ignores once, in the constructor.
    const config = hideSecrets(
      new ConnectionConfig(
        derivedOptions(this.#options.mysqlOptions, {
          user,
          password,
          ...(host !== undefined ? { host } : {}),
          ...(port !== undefined ? { port } : {}),
          ...(database !== undefined ? { database } : {}),
        }),
      ),
    );
    this.#generationConfig = { generation: snapshot.generation, config };
    return config;
  }

  // --- discarding connections -------------------------------------------------------------

  /** Why a released connection must not be handed out again, if it must not. */
  #discardReason(connection: CredswapPoolConnection): string | undefined {
    if (connection[DISCARD]) return connection[DISCARD];
    if (this.#isStale(connection)) return 'stale';
    return connection[SEQUENCE] < this.#readOnly.movedBefore ? 'failover' : undefined;
  }

  /** Opened with credentials older than the newest ones known to work, and draining is on. */
  #isStale(connection: CredswapPoolConnection): boolean {
    return this.#options.rotation.drain !== 'none' && this.#generations.isStale(connection[GENERATION]);
  }

  /**
   * After a rotation nobody was refused for (a push, an expiry refresh, a manual refresh),
   * opens one connection with the new credentials. Old connections drain only once it logs in,
   * so credentials the server does not accept yet never cost the pool its working connections.
   */
  #probe(): void {
    if (this.#options.rotation.drain === 'none' || this.#all.size === 0 || this._closed) return;
    this.#acquire({ attempt: 1, fresh: true, cb: (_err, connection) => connection?.release() }, true);
  }

  /**
   * @internal Closes a connection: politely with COM_QUIT (`quit`), or by closing its socket
   * (`destroy`). It keeps its slot until the socket is closed, so the server never sees more
   * than `connectionLimit` connections from this pool; a socket that does not close within a
   * few seconds is destroyed.
   */
  _closeConnection(connection: CredswapPoolConnection, how: 'quit' | 'destroy', reason?: string): void {
    if (connection[CLOSING]) return;
    connection[CLOSING] = true;
    this.#socketsClosing += 1;
    const index = this.#free.indexOf(connection);
    if (index !== -1) this.#free.splice(index, 1);
    if (reason) this.emit('discard', connection, reason);
    const stream = (connection as unknown as { stream: Socket }).stream;
    const timer = unrefTimer(() => stream.destroy(), CLOSE_TIMEOUT_MS);
    this.#timers.add(timer);
    const closed = () => {
      this.#socketsClosing -= 1;
      clearTimeout(timer);
      this.#timers.delete(timer);
      this._removeConnection(connection);
    };
    if (stream.destroyed || stream.closed) closed();
    else stream.once('close', closed);
    if (how === 'quit' && !connection._closing) connection._realEnd(() => {});
    else closeSocket.call(connection);
  }

  /**
   * @internal A connection received a read-only error. Returns true when the connection is to be
   * discarded (and a pool statement may be retried on a fresh one); false while the address
   * still leads to the read-only server and refused connections are kept. Only pool statements
   * that are retried take part in holds: a retry is what shows that the address has moved. A
   * connection you hold (`getConnection`) is always discarded.
   */
  _readOnlyRefusal(connection: CredswapPoolConnection, error: Error, retried: boolean): boolean {
    if (connection[DISCARD] === 'read-only') return true;
    if (retried && this.#readOnly.refused(connection[SEQUENCE], (error as { errno?: number }).errno) === 'keep') return false;
    connection[DISCARD] = 'read-only';
    return true;
  }

  /**
   * A statement retried after a read-only refusal ran on a fresh connection: the address leads
   * to a writable server now. Connections opened before that one are discarded, idle ones at once.
   */
  #retryAccepted(connection: CredswapPoolConnection): void {
    if (!this.#readOnly.accepted(connection[SEQUENCE])) return;
    for (const idle of [...this.#free]) {
      if (idle[SEQUENCE] < this.#readOnly.movedBefore) this.#discard(idle, 'failover');
    }
  }

  #discard(connection: CredswapPoolConnection, reason: string): void {
    this._closeConnection(connection, 'quit', reason);
  }

  #drain(generation: number): void {
    const mode = this.#options.rotation.drain;
    if (mode === 'none' || generation <= 1) return;
    for (const connection of [...this.#free]) {
      if (connection[GENERATION] < generation) this.#discard(connection, 'stale');
    }
    if (mode !== 'force') return;
    const busy = [...this.#all].filter((c) => c[ESTABLISHED] && !c[CLOSING] && c[GENERATION] < generation);
    if (busy.length === 0) return;
    const timer = unrefTimer(() => {
      this.#timers.delete(timer);
      for (const connection of busy) {
        if (this.#all.has(connection) && !connection[CLOSING]) {
          this._closeConnection(connection, 'destroy', 'drain-timeout');
        }
      }
    }, this.#options.rotation.drainTimeoutMs);
    this.#timers.add(timer);
  }

  #scheduleIdleCheck(): void {
    this.#idleTimer = unrefTimer(() => {
      const { maxIdle, idleTimeout } = this.#options;
      const now = Date.now();
      while (
        this.#free.length > maxIdle ||
        (this.#free.length > 0 && now - this.#free[0].lastActiveTime > idleTimeout)
      ) {
        this.#discard(this.#free[0], 'idle');
      }
      if (!this._closed) this.#scheduleIdleCheck();
    }, 1000);
  }

  // --- statements --------------------------------------------------------------------------

  #createQuery(args: StatementArgs) {
    const cmd = createQuery(args.sql, args.values, args.cb, this.config.connectionConfig);
    if (cmd.namedPlaceholders === undefined) cmd.namedPlaceholders = this.config.connectionConfig.namedPlaceholders;
    return cmd;
  }

  /** Pool statements may be retried after a read-only error: the server did not run them. */
  #retryMode(callback: unknown): RetryMode {
    const retryable = this.rejectReadOnly && typeof callback === 'function' && !this.config.connectionConfig.multipleStatements;
    return retryable ? 'retryable' : 'once';
  }

  #runQuery(cmd: Mysql2Command, args: StatementArgs, mode: RetryMode): void {
    const fresh = mode === 'retry';
    this.#acquire(
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
          if (onResult !== undefined && this.rejectReadOnly) {
            // Observed here, so the connection's addCommand need not wrap it again.
            (cmd as ObservedCommand)[OBSERVED] = true;
            cmd.onResult = (error: Error | null, rows?: unknown, fields?: unknown) => {
              if (error && isReadOnlyError(error)) {
                if (this._readOnlyRefusal(connection, error, mode !== 'once') && mode === 'retryable' && !this._closed) {
                  // The server refused the statement: it did not run. Once more, on a new
                  // connection, once this one is released (its slot is then on its way back).
                  retry = () => this.#runQuery(this.#createQuery(args), args, 'retry');
                  return;
                }
              } else if (!error && mode === 'retry') {
                this.#retryAccepted(connection);
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

  #runExecute(args: StatementArgs & { cb: QueryCallback }, mode: RetryMode): void {
    const fresh = mode === 'retry';
    this.#acquire(
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
            if (mode === 'retryable' && error && connection[DISCARD] === 'read-only' && isReadOnlyError(error) && !this._closed) {
              retry = true; // once the connection is released, as in #runQuery
              return;
            }
            if (!error && mode === 'retry') this.#retryAccepted(connection);
            args.cb(error, rows, fields);
          };
          try {
            if (mode !== 'once') connection[POOL_STATEMENT] = true;
            connection.execute(args.sql, args.values, done).once('end', () => {
              connection[POOL_STATEMENT] = false;
              connection.release();
              if (retry) this.#runExecute(args, 'retry');
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

  // --- shutdown ----------------------------------------------------------------------------

  async #end(): Promise<Error | undefined> {
    this._closed = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const waiter of this.#queue.splice(0)) process.nextTick(waiter.cb, new ClosedError('the pool'));
    const closing = this.coordinator?.close();
    let firstError: Error | undefined;
    await Promise.all(
      [...this.#all].map(
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
    this.#all.clear();
    this.#free.length = 0;
    await closing;
    return firstError;
  }
}

/** Hands an open connection to a waiter, on the next tick as mysql2 does. */
function lend(waiter: Waiter, connection: CredswapPoolConnection): void {
  connection._released = false;
  process.nextTick(waiter.cb, null, connection);
}

function deliverError(cmd: Mysql2Command, err: Error): void {
  if (typeof cmd.onResult === 'function') cmd.onResult(err);
  else cmd.emit('error', err);
}

/**
 * Creates a callback-style pool that drops into code and libraries taking a mysql2 pool.
 *
 * @throws InvalidOptionError (a TypeError) naming an invalid option, or a key that looks like a misspelt credswap option (other keys go to mysql2, which warns about those it does not know).
 * @example
 * ```ts
 * const pool = createPool({ host: 'db.internal', credentials: new FileProvider({ path: '/etc/db/creds.json' }) });
 * pool.on('rotate', (e) => log.info({ generation: e.generation, fingerprint: e.fingerprint }, 'credentials rotated'));
 * ```
 */
export function createPool(options: PoolOptions | string): Pool {
  return new CallbackPool(options) as unknown as Pool;
}

/**
 * Creates a promise pool: mysql2's promise Pool surface (`query`, `execute`,
 * `getConnection()`, `end()`, `Symbol.asyncDispose`) with credentials that rotate.
 *
 * @throws InvalidOptionError (a TypeError) naming an invalid option, or a key that looks like a misspelt credswap option (other keys go to mysql2, which warns about those it does not know).
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2/promise';
 * const pool = createPool({
 *   host: '127.0.0.1',
 *   credentials: async (signal) => fetchCredentials(signal),
 * });
 * const conn = await pool.getConnection();
 * try {
 *   await conn.beginTransaction();
 *   await conn.query('UPDATE accounts SET balance = balance - 1 WHERE id = ?', [1]);
 *   await conn.commit();
 * } finally {
 *   conn.release();
 * }
 * ```
 */
export function createPromisePool(options: PoolOptions | string): PromisePool {
  return new CallbackPool(options).promise();
}
