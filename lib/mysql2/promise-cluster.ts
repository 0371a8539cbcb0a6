/**
 * The promise flavour of credswap's PoolCluster, shaped like mysql2/promise's
 * `createPoolCluster()`: `getConnection(pattern?, selector?)`, `of()`, `query`, `execute`,
 * `add`, `remove`, `end()` and `Symbol.asyncDispose`.
 */
import { EventEmitter } from 'node:events';
import * as mysql2Promise from 'mysql2/promise';
import type { CallbackPoolCluster, ClusterNodeInfo, PoolNamespace } from './cluster-namespace.js';
import type { PoolOptions } from './pool-options.js';

type Rows = [unknown, unknown];

/** Events re-emitted from the callback cluster. */
const FORWARDED_EVENTS = ['online', 'offline', 'remove', 'warn', 'rotate', 'rotation-error', 'discard'] as const;

function run(start: (done: (err: Error | null, rows?: unknown, fields?: unknown) => void) => void): Promise<Rows> {
  return new Promise((resolve, reject) => {
    start((err, rows, fields) => (err ? reject(err) : resolve([rows, fields])));
  });
}

function connect(start: (cb: (err: Error | null, connection?: unknown) => void) => void): Promise<mysql2Promise.PoolConnection> {
  return new Promise((resolve, reject) => {
    start((err, connection) => {
      if (err) reject(err);
      else resolve(new mysql2Promise.PoolConnection(connection as never));
    });
  });
}

/** The promise flavour of {@link PoolNamespace}. */
export class PromisePoolNamespace {
  /** The callback-style namespace underneath (mysql2 names it `poolNamespace` too). */
  readonly poolNamespace: PoolNamespace;

  /** @internal use `cluster.of(pattern, selector)`. */
  constructor(namespace: PoolNamespace) {
    this.poolNamespace = namespace;
  }

  /** A connection from one node matching the pattern; give it back with `release()`. */
  getConnection(): Promise<mysql2Promise.PoolConnection> {
    return connect((cb) => this.poolNamespace.getConnection(cb));
  }

  /** Resolves with `[rows, fields]`; refused as read-only, retried on another node. */
  query(sql: unknown, values?: unknown): Promise<Rows> {
    if (typeof values === 'function') throw new Error('Callback function is not available with promise clients.');
    return run((done) => this.poolNamespace.query(sql, values, done));
  }

  /** Resolves with `[rows, fields]`; refused as read-only, retried on another node. */
  execute(sql: unknown, values?: unknown): Promise<Rows> {
    if (typeof values === 'function') throw new Error('Callback function is not available with promise clients.');
    return run((done) => this.poolNamespace.execute(sql, values ?? [], done));
  }
}

/** The promise pool cluster: what `createPoolCluster` of `credswap/mysql2/promise` returns. */
export class PromisePoolCluster extends EventEmitter {
  /** The callback-style cluster underneath (mysql2 names it `poolCluster` too). */
  readonly poolCluster: CallbackPoolCluster;
  readonly #namespaces = new WeakMap<PoolNamespace, PromisePoolNamespace>();

  /** @internal use `createPoolCluster()` or `cluster.promise()`. */
  constructor(cluster: CallbackPoolCluster) {
    super();
    this.poolCluster = cluster;
    for (const event of FORWARDED_EVENTS) {
      cluster.on(event, (...args: unknown[]) => {
        if (this.listenerCount(event) > 0) this.emit(event, ...args);
      });
    }
  }

  /** The cluster's options. */
  get config(): CallbackPoolCluster['config'] {
    return this.poolCluster.config;
  }

  /** The nodes, in the order they were added. */
  get nodes(): ClusterNodeInfo[] {
    return this.poolCluster.nodes;
  }

  /** Adds a node (see the callback cluster's `add`). */
  add(config: PoolOptions | string): void;
  add(id: string, config: PoolOptions | string): void;
  add(idOrConfig: string | PoolOptions, config?: PoolOptions | string): void {
    if (config === undefined) this.poolCluster.add(idOrConfig as PoolOptions);
    else this.poolCluster.add(idOrConfig as string, config);
  }

  /** Removes the nodes matching `pattern` and ends their pools. */
  remove(pattern: string | RegExp): void {
    this.poolCluster.remove(pattern);
  }

  /** A namespace of the nodes matching `pattern`, picking one with `selector`. */
  of(pattern?: string | RegExp, selector?: string): PromisePoolNamespace {
    const namespace = this.poolCluster.of(pattern, selector);
    let wrapped = this.#namespaces.get(namespace);
    if (!wrapped) {
      wrapped = new PromisePoolNamespace(namespace);
      this.#namespaces.set(namespace, wrapped);
    }
    return wrapped;
  }

  /** A connection from a node matching `pattern` (default `*`), picked by `selector`. */
  getConnection(pattern?: string | RegExp, selector?: string): Promise<mysql2Promise.PoolConnection> {
    return this.of(pattern, selector).getConnection();
  }

  /** A query on any node. */
  query(sql: unknown, values?: unknown): Promise<Rows> {
    return this.of().query(sql, values);
  }

  /** A prepared statement on any node. */
  execute(sql: unknown, values?: unknown): Promise<Rows> {
    return this.of().execute(sql, values);
  }

  /** Ends every node's pool and the cluster's provider. */
  end(): Promise<void> {
    return new Promise((resolve, reject) => this.poolCluster.end((err) => (err ? reject(err) : resolve())));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.end();
  }
}

/** @internal Wraps a callback cluster (what `cluster.promise()` returns). */
export function wrapPromisePoolCluster(cluster: CallbackPoolCluster): PromisePoolCluster {
  return new PromisePoolCluster(cluster);
}
