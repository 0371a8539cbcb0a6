/**
 * credswap's PoolCluster: mysql2's `createPoolCluster()` surface (`add`, `of`, `remove`,
 * `getConnection(pattern, selector, cb)`, `end`, events `online`/`offline`/`remove`/`warn`)
 * where every node is a credswap pool that rotates its own credentials, and a node whose server
 * refuses statements as read-only is passed over while another node of the pattern is online.
 */
import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type { RotateEvent } from '../coordinator.js';
import { ClosedError, InvalidOptionError, isCredswapError } from '../errors.js';
import { toProvider } from '../provider.js';
import { SharedProvider } from './cluster-provider.js';
import { type PoolClusterOptions, type ResolvedClusterOptions, planNode, resolveClusterOptions, toSelector } from './cluster-options.js';
import {
  type CallbackPoolCluster,
  type ClusterConnection,
  type ClusterNode,
  type ClusterNodeInfo,
  type ConnectionCallback,
  PoolNamespace,
  type Select,
  now,
  patternRegExp,
  poolError,
} from './cluster-namespace.js';
import type { Mysql2Command } from './internals.js';
import { CallbackPool } from './pool.js';
import type { PoolOptions } from './pool-options.js';
import type { QueryCallback } from './pool-statements.js';
import type { PromisePoolCluster } from './promise-cluster.js';

/**
 * The callback-style pool cluster returned by `credswap/mysql2`'s `createPoolCluster`.
 *
 * Events: `online` (nodeId), `offline` (nodeId, reason `'errors'` | `'read-only'`), `remove`
 * (nodeId), `warn` (error), and each node's `rotate`, `rotation-error` and `discard` with the
 * node's id added (`event.node`, `info.node`, third argument).
 */
export class PoolCluster extends EventEmitter implements CallbackPoolCluster {
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
    const { credentials, rotation: _rotation, ...config } = this.#options;
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
    void this.#ending.then((err) => cb?.(err ?? null));
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
  _acquire(
    pattern: string | RegExp,
    select: Select,
    cb: (err: Error | null, connection?: ClusterConnection, node?: ClusterNode) => void,
  ): void {
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
          cb(err);
          return;
        }
        this.#countError(node);
        if (this.#options.canRetry && !this._closed && this.#findIds(pattern).length > 0) {
          this.emit('warn', err);
          this._acquire(pattern, select, cb);
          return;
        }
        cb(err);
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
    return this.#nodes.get(ids.length === 1 ? ids[0] : select(ids));
  }

  /** @internal True when a statement refused as read-only on `node` may be run again elsewhere. */
  _retriesReadOnly(node: ClusterNode): boolean {
    return this.#options.canRetry && node.pool.rejectReadOnly && !node.pool.config.connectionConfig.multipleStatements && !this._closed;
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
