/**
 * The nodes of a credswap PoolCluster and how one is picked: node records, selectors, patterns,
 * and `PoolNamespace` (what `cluster.of(pattern, selector)` returns), which runs statements on
 * a picked node and passes a read-only refusal on to another node.
 *
 * @packageDocumentation
 */

import type { EventEmitter } from 'node:events';
import type { PoolConnection } from 'mysql2';
import { isReadOnlyError } from './classify.js';
import type { ResolvedClusterOptions, Selector } from './cluster-options.js';
import { createQuery, type Mysql2Command } from './internals.js';
import type { CallbackPool } from './pool.js';
import type { PoolOptions } from './pool-options.js';
import { deliverError, type QueryCallback } from './pool-statements.js';

/** @internal The cluster, as its namespaces see it. */
export interface ClusterHost extends EventEmitter {
  _acquire(
    pattern: string | RegExp,
    select: Select,
    cb: (err: Error | null, connection?: ClusterConnection, node?: ClusterNode) => void,
  ): void;
  _pick(pattern: string | RegExp, select: Select, exclude?: ReadonlySet<ClusterNode>): ClusterNode | undefined;
  _retriesReadOnly(node: ClusterNode): boolean;
  _markReadOnly(node: ClusterNode): void;
}

/** A connection handed out by the cluster: mysql2's PoolConnection, tagged with its node's id. */
export type ClusterConnection = PoolConnection & { _clusterId?: string };

export type ConnectionCallback = (err: Error | null, connection?: ClusterConnection) => void;

/**
 * The callback cluster (`PoolCluster`) as its promise flavour uses it, typed structurally so that
 * the promise flavour needs no import of the cluster (which loads it on demand).
 */
export interface CallbackPoolCluster {
  /** The cluster's options, as mysql2 exposes them (credentials omitted). */
  readonly config: Readonly<Omit<ResolvedClusterOptions, 'credentials' | 'rotation'>>;
  readonly nodes: ClusterNodeInfo[];
  /** @internal */
  readonly _closed: boolean;
  add(config: PoolOptions | string): void;
  add(id: string, config: PoolOptions | string): void;
  remove(pattern: string | RegExp): void;
  of(pattern?: string | RegExp, selector?: string): PoolNamespace;
  end(cb?: (err?: Error | null) => void): void;
  on(event: string, listener: (...args: unknown[]) => void): this;
}

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

/** @internal A node: its pool and its health. */
export interface ClusterNode {
  readonly id: string;
  readonly pool: CallbackPool;
  errorCount: number;
  /** Monotonic ms until which the node is offline (0: online). */
  offlineUntil: number;
  /** Monotonic ms until which the node is passed over as read-only (0: not). */
  readOnlyUntil: number;
}

export type Select = (ids: readonly string[]) => string;

const SELECTORS: Record<Selector, () => Select> = {
  RR() {
    let index = 0;
    return (ids) => ids[index++ % ids.length];
  },
  RANDOM() {
    return (ids) => ids[Math.floor(Math.random() * ids.length)];
  },
  ORDER() {
    return (ids) => ids[0];
  },
};

/** `*` matches anything; a RegExp is used as is (as in mysql2). */
export function patternRegExp(pattern: string | RegExp): RegExp {
  if (pattern instanceof RegExp) return pattern;
  const source = pattern.replace(/[.+?^=!:${}()|[\]/\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${source}$`);
}

export function poolError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

export const now = (): number => performance.now();

/**
 * A group of nodes matching a pattern, with a selector: what `cluster.of(pattern, selector)`
 * returns. Shaped like mysql2's PoolNamespace (`getConnection`, `query`, `execute`).
 */
export class PoolNamespace {
  readonly #cluster: ClusterHost;
  readonly #pattern: string | RegExp;
  readonly #select: Select;

  /** @internal use `cluster.of(pattern, selector)`. */
  constructor(cluster: ClusterHost, pattern: string | RegExp, selector: Selector) {
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
