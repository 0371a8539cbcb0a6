/**
 * The credswap pool (`CallbackPool`): mysql2's Pool surface over connections that log in with
 * the coordinator's current credentials. It owns the slots (never more than `connectionLimit`
 * connections, closing ones included), the queue of waiters, draining connections of older
 * credentials, discarding connections to a server its address no longer leads to or past their
 * lifetime, and shutdown. Logging a connection in (the login gate, a refused login's retry) is
 * `pool-logins.ts`; the failover side (which server a connection reached, read-only refusals,
 * probes) is `pool-failover.ts`; the idle and lifetime sweep is `pool-sweep.ts`.
 *
 * @packageDocumentation
 */

import { type CredentialsSnapshot, type RotateEvent, RotationCoordinator } from '../coordinator.js';
import { publishConnectionClose, publishConnectionOpen, publishDiscard } from '../diagnostics.js';
import { ClosedError } from '../errors.js';
import { GenerationLedger } from '../generation-ledger.js';
import { GenerationConfigs } from './generation-config.js';
import { cloneConfig, type Mysql2Command, type Mysql2ConnectionConfig } from './internals.js';
import {
  CLOSING,
  DISCARD,
  ESTABLISHED,
  GENERATION,
  closeSocketOf,
  endAll,
  lend,
  newPooledConnection,
  type ConnectionCallback,
  type CredswapPoolConnection,
  type Waiter,
} from './pool-connection.js';
import { PoolLogins } from './pool-logins.js';
import { PoolSurface } from './pool-surface.js';
import { type MYSQL2_POOL_KEYS, type PoolOptions, type ResolvedPoolOptions, resolvePoolOptions } from './pool-options.js';
import { createPoolQuery, retryModeFor, runExecute, runQuery, type QueryCallback } from './pool-statements.js';
import { PoolDrain } from './pool-drain.js';
import { NO_FAILOVER, PoolFailover, type ReadOnlyPolicy } from './pool-failover.js';
import { startSweep } from './pool-sweep.js';
import type { ServerRole } from './server-identity.js';
import type { Pool, PoolStats, PromisePool } from './types.js';

export { connectionGeneration, type CredswapPoolConnection } from './pool-connection.js';

/** The pool config, shaped like mysql2's `pool.config` (libraries read `config.connectionConfig`). */
export type CallbackPoolConfig = { readonly connectionConfig: Mysql2ConnectionConfig } & Pick<
  ResolvedPoolOptions,
  (typeof MYSQL2_POOL_KEYS)[number]
>;

/**
 * The callback-style pool returned by `credswap/mysql2`'s `createPool`. It has mysql2's Pool
 * surface and hands out mysql2 PoolConnections, so it drops into code that takes a mysql2 pool.
 */
export class CallbackPool extends PoolSurface {
  /** Shaped like mysql2's `pool.config`. */
  readonly config: CallbackPoolConfig;
  /** The coordinator deciding when credentials change; `undefined` without `credentials`. */
  readonly coordinator: RotationCoordinator | undefined;
  /** @internal read by mysql2's PoolConnection. */
  _closed = false;
  /** @internal */
  readonly rejectReadOnly: boolean;
  /** @internal whether logins ask their server who it is (for failover). */
  readonly _checksServers: boolean;

  readonly #options: ResolvedPoolOptions;
  readonly #all = new Set<CredswapPoolConnection>();
  readonly #free: CredswapPoolConnection[] = [];
  readonly #queue: Waiter[] = [];
  /** Connections counted against connectionLimit: open, opening, or a 1045 retry in progress. */
  #slots = 0;
  /** Which credentials the connections use; connections of generations older than the verified one drain. */
  readonly #generations: GenerationLedger;
  /** Logging new connections in: the login gate, a refused login's retry. */
  readonly #logins: PoolLogins;
  /** mysql2 connection settings for the current generation's credentials. */
  readonly #configs: GenerationConfigs;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Draining connections of older credentials after a rotation. */
  readonly #drain: PoolDrain;
  /** Discarded connections whose sockets have not closed yet: each will free a slot. */
  #socketsClosing = 0;
  /** @internal What the pool does about read-only servers: which server the address leads to, the failover episode. */
  readonly _failover: ReadOnlyPolicy;
  #stopSweep: (() => void) | undefined;
  #ending: Promise<Error | undefined> | undefined;
  #promisePool: PromisePool | undefined;

  constructor(options: PoolOptions | string) {
    super();
    const resolved = resolvePoolOptions(options);
    this.#options = resolved;
    this.rejectReadOnly = resolved.rejectReadOnly;
    this._failover = resolved.failover ? new PoolFailover(this, resolved.failover) : NO_FAILOVER;
    this._checksServers = resolved.failover !== undefined;
    this.#configs = new GenerationConfigs(resolved.mysqlOptions);
    const connectionConfig = this.#configs.base;
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
        if (event.previousGeneration > 0 && event.reason !== 'rejected') this.#drain.probe(coordinator.current);
        this.emit('rotate', event);
      });
      coordinator.on('rotation-error', (error, info) => this.emit('rotation-error', error, info));
      this.coordinator = coordinator;
    }
    this.#generations = new GenerationLedger((generation, credentials) => this.coordinator?.retire(generation, credentials));
    this.#logins = new PoolLogins(this, this.#generations, resolved.rotation.maxAttempts);
    this.#drain = new PoolDrain(this, this.#generations, resolved.rotation);
    if (resolved.maxIdle < resolved.connectionLimit || resolved.maxLifetimeMs > 0) this.#stopSweep = startSweep(this, resolved);
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
    const waiter: Waiter = { cb, attempt: 1, fresh: false };
    // During a failover, wait for a writable server (up to failover.waitMs), then take what there is.
    if (this._failover.active) {
      const acquire = () => this._acquire(waiter, false);
      this._failover.whenWritable(acquire, acquire);
      return;
    }
    this._acquire(waiter, false);
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
    // Not closed by the pool: the server dropped it (killed, restarted, timed out). Until a login
    // works again, logins go one at a time: the password may have changed with it.
    if (!connection[CLOSING] && !this._closed) this.coordinator?.logins.distrust();
    const index = this.#free.indexOf(connection);
    if (index !== -1) this.#free.splice(index, 1);
    this.#slots -= 1;
    this.#generations.closed(connection[GENERATION]);
    publishConnectionClose(connection, connection[GENERATION]);
    this.#serveQueue();
  }

  /**
   * Runs a query on a pooled connection, like mysql2's `pool.query`. A statement refused as
   * read-only runs once more on a writable server (callback form, without `multipleStatements`).
   */
  query(sql: unknown, values?: unknown, cb?: QueryCallback): Mysql2Command {
    const args = { sql, values, cb };
    const cmd = createPoolQuery(this, args);
    runQuery(this, cmd, args, retryModeFor(this, cmd.onResult));
    return cmd;
  }

  /** Prepares and executes a statement on a pooled connection, like mysql2's `pool.execute`. */
  execute(sql: unknown, values?: unknown, cb?: QueryCallback): void {
    if (typeof values === 'function') {
      cb = values as QueryCallback;
      values = [];
    }
    if (typeof cb !== 'function') throw new TypeError('credswap: pool.execute() needs a callback');
    runExecute(this, { sql, values, cb }, retryModeFor(this, cb));
  }

  /**
   * Closes the pool: queued requests fail, the coordinator and provider stop, and every
   * connection is ended (checked-out ones too, as in mysql2). Idempotent.
   */
  end(cb?: (err?: Error | null) => void): void {
    if (!this.#ending) this.#ending = this.#end();
    void this.#ending.then((err) => cb?.(err ?? null));
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

  // --- acquisition -------------------------------------------------------------------------

  /** @internal Hands `waiter` a connection: an idle one, a new one, or its place in the queue (`front`: ahead of it). */
  _acquire(waiter: Waiter, front: boolean): void {
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
      this.#logins.open(waiter);
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
    if (waiter.fresh && this.#free.length > 0) this.#makeRoom(this.#free[0]);
  }

  /** @internal A new connection with `snapshot`'s credentials, tagged and tracked, not connected yet. */
  _newConnection(snapshot: CredentialsSnapshot | undefined): CredswapPoolConnection {
    const config = cloneConfig(this.#configs.for(snapshot));
    const connection = newPooledConnection(this, config, snapshot?.generation ?? 0, this.#options.maxLifetimeMs);
    this.#all.add(connection);
    return connection;
  }

  /** @internal A connection from {@link _newConnection} that did not log in. */
  _forget(connection: CredswapPoolConnection): void {
    this.#all.delete(connection);
  }

  /** @internal A login for `waiter` worked: the connection joins the pool and goes to the waiter. */
  _loggedIn(
    waiter: Waiter,
    connection: CredswapPoolConnection,
    snapshot: CredentialsSnapshot | undefined,
    role: ServerRole | undefined,
  ): void {
    connection[ESTABLISHED] = true;
    // May discard connections to another server, or end a failover episode.
    this._failover.loggedIn(connection, role);
    const generation = connection[GENERATION];
    // The first login with newer credentials worked: now connections of older ones drain.
    if (snapshot && this.#generations.opened(snapshot)) this.#drain.drain(generation);
    this.coordinator?.reportSuccess(generation);
    publishConnectionOpen(connection, generation);
    this.emit('connection', connection);
    this.emit('acquire', connection);
    waiter.cb(null, connection);
  }

  /** @internal Gives up a slot held for `waiter` and reports `error` to it. */
  _loginFailed(waiter: Waiter, error: Error): void {
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
      this.#logins.open(this.#queue.shift()!);
    }
  }

  // --- discarding connections -------------------------------------------------------------

  /** Why a released connection must not be handed out again, if it must not. */
  #discardReason(connection: CredswapPoolConnection): string | undefined {
    if (connection[DISCARD]) return connection[DISCARD];
    if (this.#drain.isStale(connection)) return 'stale';
    return this._failover.onOtherServer(connection) ? 'failover' : undefined;
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
    if (reason) {
      publishDiscard(connection, connection[GENERATION], reason);
      this.emit('discard', connection, reason);
    }
    closeSocketOf(connection, how, this.#timers, () => {
      this.#socketsClosing -= 1;
      this._removeConnection(connection);
    });
  }

  /** @internal The idle connections, the longest idle first. */
  get _idle(): readonly CredswapPoolConnection[] {
    return this.#free;
  }

  /** @internal Every connection of the pool, opening and closing ones included. */
  get _connections(): ReadonlySet<CredswapPoolConnection> {
    return this.#all;
  }

  #discard(connection: CredswapPoolConnection, reason: string): void {
    this._closeConnection(connection, 'quit', reason);
  }

  // --- shutdown ----------------------------------------------------------------------------

  async #end(): Promise<Error | undefined> {
    this._closed = true;
    this._failover.close();
    this.#stopSweep?.();
    for (const timers of [this.#timers, this.#drain.timers]) {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    }
    for (const waiter of this.#queue.splice(0)) process.nextTick(waiter.cb, new ClosedError('the pool'));
    const closing = this.coordinator?.close();
    const firstError = await endAll(this.#all);
    for (const connection of this.#all) if (connection[ESTABLISHED]) publishConnectionClose(connection, connection[GENERATION]);
    this.#all.clear();
    this.#free.length = 0;
    await closing;
    return firstError;
  }
}
