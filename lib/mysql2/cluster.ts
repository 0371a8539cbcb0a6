/**
 * credswap's PoolCluster: mysql2's `createPoolCluster()` surface (`add`, `of`, `remove`,
 * `getConnection(pattern, selector, cb)`, `end`, events `online`/`offline`/`remove`/`warn`)
 * where every node is a credswap pool that rotates its own credentials, and a node whose server
 * refuses statements as read-only is passed over while another node of the pattern is online.
 */
import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type { PoolCluster as Mysql2PoolCluster, PoolConnection } from 'mysql2';
import type { RotateEvent } from '../coordinator.js';
import { ClosedError, InvalidOptionError, isCredswapError } from '../errors.js';
import { toProvider } from '../provider.js';
import { isReadOnlyError } from './classify.js';
import { SharedProvider } from './cluster-provider.js';
import { type PoolClusterOptions, type ResolvedClusterOptions, type Selector, planNode, resolveClusterOptions, toSelector } from './cluster-options.js';
import { type Mysql2Command, createQuery } from './internals.js';
import { CallbackPool } from './pool.js';
import type { PoolOptions } from './pool-options.js';
import type { PromisePoolCluster } from './promise-cluster.js';
import type { PoolCluster as Mysql2PromisePoolCluster } from 'mysql2/promise';

/** A connection handed out by the cluster: mysql2's PoolConnection, tagged with its node's id. */
export type ClusterConnection = PoolConnection & { _clusterId?: string };

type ConnectionCallback = (err: Error | null, connection?: ClusterConnection) => void;
type QueryCallback = (err: Error | null, ...rest: unknown[]) => void;

/** What `cluster.nodes` tells about one node. */
export interface ClusterNodeInfo {
  readonly id: string;
  /**
   * `online`; `offline` (failed connection attempts, until `restoreNodeTimeout`); `read-only`
   * (refused a statement as read-only: picked only when no other node of a pattern is online).
   */
  readonly state: 'online' | 'offline' | 'read-only';
  /** Failed connection attempts, counted down by successful ones (mysql2's `errorCount`). */
  readonly errorCount: number;
  /** The node's pool (for its `stats`, `coordinator` and events). */
  readonly pool: CallbackPool;
}

/** @internal */
interface ClusterNode {
  readonly id: string;
  readonly pool: CallbackPool;
  errorCount: number;
  /** Monotonic ms until which the node is offline (0: online). */
  offlineUntil: number;
  /** Monotonic ms until which the node is passed over as read-only (0: not). */
  readOnlyUntil: number;
}

type Select = (ids: readonly string[]) => string;

const SELECTORS: Record<Selector, () => Select> = {
  RR() {
    let index = 0;
    return (ids) => ids[index++ % ids.length]!;
  },
  RANDOM() {
    return (ids) => ids[Math.floor(Math.random() * ids.length)]!;
  },
  ORDER() {
    return (ids) => ids[0]!;
  },
};

/** `*` matches anything; a RegExp is used as is (as in mysql2). */
function patternRegExp(pattern: string | RegExp): RegExp {
  if (pattern instanceof RegExp) return pattern;
  const source = pattern.replace(/[.+?^=!:${}()|[\]/\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${source}$`);
}

function poolError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const now = (): number => performance.now();

/**
 * A group of nodes matching a pattern, with a selector: what `cluster.of(pattern, selector)`
 * returns. Shaped like mysql2's PoolNamespace (`getConnection`, `query`, `execute`).
 */
export class PoolNamespace {
  readonly #cluster: PoolCluster;
  readonly #pattern: string | RegExp;
  readonly #select: Select;

  /** @internal use `cluster.of(pattern, selector)`. */
  constructor(cluster: PoolCluster, pattern: string | RegExp, selector: Selector) {
    this.#cluster = cluster;
    this.#pattern = pattern;
    this.#select = SELECTORS[selector]();
  }

  /**
   * A connection from one node matching the pattern; give it back with `release()`. A node
   * that cannot be reached counts an error and, with `canRetry`, another node is tried.
   */
  getConnection(cb: ConnectionCallback): void {
    this.#cluster._acquire(this.#pattern, this.#select, (err, connection) => cb(err, connection));
  }

  /**
   * A query on one node matching the pattern, like mysql2's `namespace.query`. Refused as
   * read-only (the server did not run it), it is retried on another node of the pattern, or on
   * a fresh connection of the same node when it is the only one (callback form only).
   */
  query(sql: unknown, values?: unknown, cb?: QueryCallback): Mysql2Command {
    if (typeof values === 'function') {
      cb = values as QueryCallback;
      values = undefined;
    }
    const cmd = createQuery(sql, values, cb, {});
    this.#cluster._acquire(this.#pattern, this.#select, (err, connection, node) => {
      if (err || !connection || !node) {
        deliverError(cmd, err!);
        return;
      }
      const onResult = cmd.onResult;
      if (typeof onResult === 'function' && this.#cluster._retriesReadOnly(node)) {
        cmd.onResult = (error: Error | null, ...rest: unknown[]) => {
          if (error && isReadOnlyError(error)) {
            this.#retry(node, error, (n, done) => n.pool.query(sql, values, done), onResult);
            return;
          }
          onResult(error, ...rest);
        };
      }
      try {
        connection.query(cmd as never).once('end', () => connection.release());
      } catch (error) {
        connection.release();
        deliverError(cmd, error as Error);
      }
    });
    return cmd;
  }

  /** A prepared statement on one node matching the pattern; read-only refusals as in `query`. */
  execute(sql: unknown, values?: unknown, cb?: QueryCallback): void {
    if (typeof values === 'function') {
      cb = values as QueryCallback;
      values = [];
    }
    if (typeof cb !== 'function') throw new TypeError('credswap: execute() needs a callback');
    const done = cb;
    this.#cluster._acquire(this.#pattern, this.#select, (err, connection, node) => {
      if (err || !connection || !node) {
        done(err);
        return;
      }
      const onResult = (error: Error | null, ...rest: unknown[]) => {
        if (error && isReadOnlyError(error) && this.#cluster._retriesReadOnly(node)) {
          this.#retry(node, error, (n, next) => n.pool.execute(sql, values, next), done);
          return;
        }
        done(error, ...rest);
      };
      try {
        (connection.execute as (...args: unknown[]) => Mysql2Command)(sql, values, onResult).once('end', () => connection.release());
      } catch (error) {
        connection.release();
        done(error as Error);
      }
    });
  }

  /**
   * After a read-only refusal on `refused`: runs the statement through the pool of a node not
   * tried yet (its own read-only retry uses a fresh connection), until one accepts it or every
   * node of the pattern has refused it. Safe: a refused statement did not run.
   */
  #retry(
    refused: ClusterNode,
    error: Error,
    run: (node: ClusterNode, done: QueryCallback) => void,
    deliver: QueryCallback,
    tried: Set<ClusterNode> = new Set(),
  ): void {
    this.#cluster._markReadOnly(refused);
    const next = this.#cluster._pick(this.#pattern, this.#select, tried);
    if (!next) {
      deliver(error);
      return;
    }
    tried.add(next);
    this.#cluster.emit('warn', error);
    run(next, (err, ...rest) => {
      if (err && isReadOnlyError(err) && this.#cluster._retriesReadOnly(next)) {
        this.#retry(next, err, run, deliver, tried);
        return;
      }
      deliver(err, ...rest);
    });
  }
}

/**
 * The callback-style pool cluster returned by `credswap/mysql2`'s `createPoolCluster`.
 *
 * Events: `online` (nodeId), `offline` (nodeId, reason `'errors'` | `'read-only'`), `remove`
 * (nodeId), `warn` (error), and each node's `rotate`, `rotation-error` and `discard` with the
 * node's id added (`event.node`, `info.node`, third argument).
 */
export class PoolCluster extends EventEmitter {
  /** The cluster's options, as mysql2 exposes them (credentials omitted). */
  readonly config: Readonly<Omit<ResolvedClusterOptions, 'credentials' | 'rotation'>>;
  /** @internal */
  _closed = false;

  readonly #options: ResolvedClusterOptions;
  readonly #nodes = new Map<string, ClusterNode>();
  readonly #namespaces = new Map<string, PoolNamespace>();
  readonly #findCache = new Map<string | RegExp, string[]>();
  readonly #shared = new Map<object, SharedProvider>();
  #lastId = 0;
  #ending: Promise<Error | undefined> | undefined;
  #promise: PromisePoolCluster | undefined;

  constructor(options?: PoolClusterOptions) {
    super();
    this.#options = resolveClusterOptions(options);
    const { credentials, rotation, ...config } = this.#options;
    this.config = Object.freeze(config);
    if (credentials !== undefined) this.#shared.set(credentials, new SharedProvider(toProvider(credentials), true));
  }

  /** The nodes, in the order they were added. */
  get nodes(): ClusterNodeInfo[] {
    const t = now();
    return [...this.#nodes.values()].map((node) => ({
      id: node.id,
      state: node.offlineUntil > t ? 'offline' : node.readOnlyUntil > t ? 'read-only' : 'online',
      errorCount: node.errorCount,
      pool: node.pool,
    }));
  }

  /**
   * A namespace of the nodes matching `pattern` (`*` is a wildcard, or a RegExp), picking one
   * with `selector`. The same object for the same pattern and selector.
   * @throws InvalidOptionError for an unknown selector.
   */
  of(pattern: string | RegExp = '*', selector?: string): PoolNamespace {
    const chosen = selector === undefined ? this.#options.defaultSelector : toSelector(selector, 'selector');
    const key = `${String(pattern)}\u0000${pattern instanceof RegExp ? 'regexp' : 'string'}\u0000${chosen}`;
    let namespace = this.#namespaces.get(key);
    if (!namespace) {
      namespace = new PoolNamespace(this, pattern, chosen);
      this.#namespaces.set(key, namespace);
    }
    return namespace;
  }

  /**
   * Adds a node: a credswap pool with `config` (every `createPool` option, or a URI). Without
   * an id, the node is named `CLUSTER::<n>`. An id already present is ignored, as in mysql2.
   * A node that sets neither `credentials` nor `password` uses the cluster's `credentials`.
   * @throws InvalidOptionError naming an invalid option; ClosedError after `end()`.
   */
  add(config: PoolOptions | string): void;
  add(id: string, config: PoolOptions | string): void;
  add(idOrConfig: string | PoolOptions, maybeConfig?: PoolOptions | string): void {
    let id: string;
    let config: PoolOptions | string;
    if (maybeConfig === undefined) {
      if (typeof idOrConfig === 'string') throw new InvalidOptionError('config', 'is required with a node id');
      id = `CLUSTER::${++this.#lastId}`;
      config = idOrConfig;
    } else {
      if (typeof idOrConfig !== 'string' || idOrConfig.length === 0) throw new InvalidOptionError('id', 'must be a non-empty string');
      id = idOrConfig;
      config = maybeConfig;
    }
    if (this._closed) throw new ClosedError('the pool cluster');
    if (this.#nodes.has(id)) return;
    const plan = planNode(config, this.#options);
    let shared: SharedProvider | undefined;
    let credentials: ReturnType<SharedProvider['view']> | undefined;
    if (plan.source !== undefined) {
      shared = this.#shared.get(plan.source);
      if (!shared) {
        shared = new SharedProvider(toProvider(plan.source), false);
        this.#shared.set(plan.source, shared);
      }
      credentials = shared.view(plan.address);
    }
    let pool: CallbackPool;
    try {
      pool = new CallbackPool({ ...plan.options, ...(credentials ? { credentials } : {}) });
    } catch (error) {
      if (shared && credentials) shared.forget(credentials, () => this.#shared.delete(plan.source!));
      throw error;
    }
    const node: ClusterNode = { id, pool, errorCount: 0, offlineUntil: 0, readOnlyUntil: 0 };
    pool.on('rotate', (event: RotateEvent) => this.emit('rotate', { ...event, node: id }));
    pool.on('rotation-error', (error: Error, info: object) => this.emit('rotation-error', error, { ...info, node: id }));
    pool.on('discard', (connection: unknown, reason: string) => {
      if (reason === 'read-only') this._markReadOnly(node);
      this.emit('discard', connection, reason, id);
    });
    this.#nodes.set(id, node);
    this.#findCache.clear();
  }

  /** Removes the nodes matching `pattern` and ends their pools (no `remove` event, as in mysql2). */
  remove(pattern: string | RegExp): void {
    for (const id of this.#findIds(pattern, true)) {
      const node = this.#nodes.get(id);
      if (node) this.#removeNode(node);
    }
  }

  /**
   * A connection from a node matching `pattern` (default `*`), picked by `selector`.
   *
   * @example
   * ```ts
   * cluster.getConnection('MASTER', (err, conn) => { ... conn.release(); });
   * cluster.getConnection('SLAVE*', 'ORDER', (err, conn) => { ... });
   * ```
   */
  getConnection(cb: ConnectionCallback): void;
  getConnection(pattern: string | RegExp, cb: ConnectionCallback): void;
  getConnection(pattern: string | RegExp, selector: string | undefined, cb: ConnectionCallback): void;
  getConnection(a: string | RegExp | ConnectionCallback, b?: string | ConnectionCallback, c?: ConnectionCallback): void {
    if (typeof a === 'function') {
      this.of().getConnection(a);
      return;
    }
    if (typeof b === 'function') {
      this.of(a).getConnection(b);
      return;
    }
    this.of(a, b).getConnection(c!);
  }

  /** `of('*').query(...)`: a query on any node. */
  query(sql: unknown, values?: unknown, cb?: QueryCallback): Mysql2Command {
    return this.of().query(sql, values, cb);
  }

  /** `of('*').execute(...)`: a prepared statement on any node. */
  execute(sql: unknown, values?: unknown, cb?: QueryCallback): void {
    this.of().execute(sql, values, cb);
  }

  /**
   * Ends every node's pool (their coordinators, providers, timers and connections) and then the
   * cluster's own `credentials` provider. Idempotent; the callback gets the first error.
   */
  end(cb?: (err?: Error | null) => void): void {
    if (!this.#ending) this.#ending = this.#end();
    this.#ending.then((err) => cb?.(err ?? null));
  }

  /** The promise flavour of this cluster (the same object on every call). */
  promise(): PromisePoolCluster {
    if (!this.#promise) {
      // Loaded on demand: the callback flavour does not load mysql2/promise.
      const { wrapPromisePoolCluster } = require('./promise-cluster.js') as typeof import('./promise-cluster.js');
      this.#promise = wrapPromisePoolCluster(this);
    }
    return this.#promise;
  }

  /** Like mysql2: `using cluster = ...` ends the cluster without waiting. */
  [Symbol.dispose](): void {
    if (!this._closed) this.end();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await new Promise<void>((resolve, reject) => this.end((err) => (err ? reject(err) : resolve())));
  }

  [inspect.custom](): string {
    const nodes = this.nodes.map((n) => `${n.id}: ${n.state}`).join(', ');
    return `CredswapPoolCluster { ${nodes}${nodes ? ', ' : ''}closed: ${this._closed} }`;
  }

  toJSON(): object {
    return { nodes: this.nodes.map(({ id, state, errorCount, pool }) => ({ id, state, errorCount, ...pool.stats })), closed: this._closed };
  }

  // --- internals used by PoolNamespace --------------------------------------------------

  /** @internal Gets a connection from a node matching `pattern`, counting errors as mysql2 does. */
  _acquire(pattern: string | RegExp, select: Select, cb: (err: Error | null, connection?: ClusterConnection, node?: ClusterNode) => void): void {
    if (this._closed) {
      process.nextTick(cb, new ClosedError('the pool cluster'));
      return;
    }
    const node = this._pick(pattern, select);
    if (!node) {
      const err =
        this.#findIds(pattern, true).length === 0
          ? poolError('Pool does Not exist.', 'POOL_NOEXIST')
          : poolError('Pool does Not have online node.', 'POOL_NONEONLINE');
      process.nextTick(cb, err);
      return;
    }
    node.pool.getConnection((err, connection) => {
      if (err || !connection) {
        const removed = this.#nodes.get(node.id) !== node;
        if (removed && !this._closed) {
          this._acquire(pattern, select, cb); // removed meanwhile: pick another node
          return;
        }
        // Credentials trouble (a provider failing, a cooldown) is not the server's fault: it
        // neither counts against the node nor moves to another one.
        if (isCredswapError(err)) {
          cb(err!);
          return;
        }
        this.#countError(node);
        if (this.#options.canRetry && !this._closed && this.#findIds(pattern).length > 0) {
          this.emit('warn', err);
          this._acquire(pattern, select, cb);
          return;
        }
        cb(err!);
        return;
      }
      this.#countSuccess(node);
      const tagged = connection as unknown as ClusterConnection;
      tagged._clusterId = node.id;
      cb(null, tagged, node);
    });
  }

  /** @internal Picks a node matching `pattern`, not in `exclude`. */
  _pick(pattern: string | RegExp, select: Select, exclude?: ReadonlySet<ClusterNode>): ClusterNode | undefined {
    let ids = this.#findIds(pattern);
    if (exclude && exclude.size > 0) ids = ids.filter((id) => !exclude.has(this.#nodes.get(id)!));
    if (ids.length === 0) return undefined;
    return this.#nodes.get(ids.length === 1 ? ids[0]! : select(ids));
  }

  /** @internal True when a statement refused as read-only on `node` may be run again elsewhere. */
  _retriesReadOnly(node: ClusterNode): boolean {
    return (
      this.#options.canRetry &&
      node.pool.rejectReadOnly &&
      !node.pool.config.connectionConfig.multipleStatements &&
      !this._closed
    );
  }

  /** @internal The node's server refused a statement as read-only: pass it over for a while. */
  _markReadOnly(node: ClusterNode): void {
    const timeout = this.#options.readOnlyNodeTimeoutMs;
    if (timeout === 0 || this._closed || this.#nodes.get(node.id) !== node) return;
    const t = now();
    const wasMarked = node.readOnlyUntil > t;
    node.readOnlyUntil = t + timeout;
    if (!wasMarked) this.emit('offline', node.id, 'read-only');
  }

  // --- node bookkeeping ----------------------------------------------------------------------

  /**
   * Ids of the nodes matching `pattern`: with `includeOffline`, all of them; otherwise those
   * online, and of those the ones not passed over as read-only if there are any.
   */
  #findIds(pattern: string | RegExp, includeOffline = false): string[] {
    let ids = this.#findCache.get(pattern);
    if (!ids) {
      const expression = patternRegExp(pattern);
      ids = [...this.#nodes.keys()].filter((id) => expression.test(id));
      this.#findCache.set(pattern, ids);
    }
    if (includeOffline) return ids;
    const t = now();
    const online = ids.filter((id) => this.#nodes.get(id)!.offlineUntil <= t);
    const writable = online.filter((id) => this.#nodes.get(id)!.readOnlyUntil <= t);
    return writable.length > 0 ? writable : online;
  }

  #countError(node: ClusterNode): void {
    node.errorCount += 1;
    if (node.errorCount < this.#options.removeNodeErrorCount || this.#nodes.get(node.id) !== node) return;
    if (this.#options.restoreNodeTimeout > 0) {
      const t = now();
      const wasOffline = node.offlineUntil > t;
      node.offlineUntil = t + this.#options.restoreNodeTimeout;
      if (!wasOffline) this.emit('offline', node.id, 'errors');
      return;
    }
    this.#removeNode(node);
    this.emit('remove', node.id);
  }

  #countSuccess(node: ClusterNode): void {
    const max = this.#options.removeNodeErrorCount;
    node.errorCount = Math.max(Math.min(node.errorCount, max), 1) - 1;
    const t = now();
    let restored = false;
    if (node.offlineUntil !== 0 && node.offlineUntil <= t) {
      node.offlineUntil = 0;
      restored = true;
    }
    if (node.readOnlyUntil !== 0 && node.readOnlyUntil <= t) {
      node.readOnlyUntil = 0;
      restored = true;
    }
    if (restored) this.emit('online', node.id);
  }

  #removeNode(node: ClusterNode): void {
    if (this.#nodes.get(node.id) !== node) return;
    this.#nodes.delete(node.id);
    this.#findCache.clear();
    node.pool.end();
  }

  async #end(): Promise<Error | undefined> {
    this._closed = true;
    const nodes = [...this.#nodes.values()];
    this.#nodes.clear();
    this.#findCache.clear();
    const errors = await Promise.all(
      nodes.map((node) => new Promise<Error | null | undefined>((resolve) => node.pool.end((err) => resolve(err)))),
    );
    let firstError = errors.find((e) => e) ?? undefined;
    for (const shared of this.#shared.values()) {
      try {
        await shared.close();
      } catch (error) {
        firstError ??= error as Error;
      }
    }
    return firstError;
  }
}

function deliverError(cmd: Mysql2Command, err: Error): void {
  if (typeof cmd.onResult === 'function') cmd.onResult(err);
  else cmd.emit('error', err);
}

/**
 * Creates a pool cluster whose nodes are credswap pools: each rotates its own credentials,
 * discards connections that hit read-only errors, and a node whose server turned read-only is
 * passed over while another node of the pattern is online.
 *
 * @throws InvalidOptionError (a TypeError) naming an invalid option, or a key that looks like a misspelt credswap option (other keys go to mysql2, which warns about those it does not know).
 * @example
 * ```ts
 * import { createPoolCluster } from 'credswap/mysql2';
 * const cluster = createPoolCluster({ credentials: new FileProvider({ path: '/etc/db/creds.json' }), restoreNodeTimeout: 5000 });
 * cluster.add('MASTER', { host: 'db-writer.internal', database: 'app' });
 * cluster.add('SLAVE1', { host: 'db-reader-1.internal', database: 'app' });
 * cluster.of('MASTER').query('INSERT INTO t (n) VALUES (?)', [1], (err) => { ... });
 * cluster.getConnection('SLAVE*', (err, conn) => { ...; conn.release(); });
 * ```
 * @returns credswap's {@link PoolCluster}, typed so that code typed against mysql2's
 * `PoolCluster` takes it unchanged.
 */
export function createPoolCluster(options?: PoolClusterOptions): PoolCluster & Mysql2PoolCluster {
  return new PoolCluster(options) as PoolCluster & Mysql2PoolCluster;
}

/**
 * Creates a promise pool cluster: mysql2/promise's PoolCluster surface, where every node is a
 * credswap pool that rotates its own credentials and a node whose server turned read-only is
 * passed over while another node of the pattern is online.
 *
 * @throws InvalidOptionError (a TypeError) naming an invalid option, or a key that looks like a misspelt credswap option (other keys go to mysql2, which warns about those it does not know).
 * @example
 * ```ts
 * import { createPoolCluster } from 'credswap/mysql2/promise';
 * await using cluster = createPoolCluster({ credentials: provider, restoreNodeTimeout: 5000 });
 * cluster.add('MASTER', { host: 'db-writer.internal', database: 'app' });
 * cluster.add('SLAVE1', { host: 'db-reader-1.internal', database: 'app' });
 * await cluster.of('MASTER').execute('INSERT INTO t (n) VALUES (?)', [1]);
 * const [rows] = await cluster.of('SLAVE*').query('SELECT * FROM t');
 * ```
 * @returns credswap's {@link PromisePoolCluster}, typed so that code typed against
 * mysql2/promise's `PoolCluster` takes it unchanged.
 */
export function createPromisePoolCluster(options?: PoolClusterOptions): PromisePoolCluster & Mysql2PromisePoolCluster {
  return new PoolCluster(options).promise() as PromisePoolCluster & Mysql2PromisePoolCluster;
}

export type { PoolClusterOptions, Selector } from './cluster-options.js';
