/**
 * A local TCP proxy that stands in for DNS in failover drills: clients connect to one stable
 * loopback address and the proxy forwards each new connection to the current target. `flip()`
 * points new connections at another server while the connections already open stay where they
 * are, exactly as a DNS change leaves pooled connections on the old primary.
 *
 * @example
 * ```ts
 * import { startMariaDB, startTcpProxy } from 'credswap/testing';
 *
 * const [primary, replica] = await Promise.all([startMariaDB(), startMariaDB()]);
 * const proxy = await startTcpProxy({ target: primary });
 * // connect the pool to proxy.host:proxy.port
 * await primary.setReadOnly(true);
 * proxy.flip(replica); // new logins reach the replica; old connections still talk to the primary
 * ```
 *
 * @packageDocumentation
 */

import net from 'node:net';
import { unrefTimer } from '../backoff.js';
import { ClosedError, InvalidOptionError } from '../errors.js';
import { duration, expectObject, integer, rejectUnknownKeys, string } from '../options.js';

/** Where the proxy forwards connections: anything with a `host` and a `port`. */
export interface ProxyTarget {
  host: string;
  port: number;
}

export interface TcpProxyOptions {
  /** Where new connections go until {@link TcpProxy.flip}. A throwaway server can be passed as is. */
  target: ProxyTarget;
  /** The loopback address to listen on. Default `'127.0.0.1'`. */
  host?: string;
  /** The port to listen on. Default 0: a free port. */
  port?: number;
  /** Delay added to every chunk in both directions, in milliseconds. Default 0. */
  latencyMs?: number;
}

/** Counters of a {@link TcpProxy}. */
export interface TcpProxyStats {
  /** Client connections accepted since start. */
  accepted: number;
  /** Client connections open now. */
  open: number;
  /** Connections refused (closed at once) while {@link TcpProxy.refuse} was on. */
  refused: number;
  /** Connections open now, per target (`host:port`). */
  openByTarget: Record<string, number>;
}

/** A running proxy. See {@link startTcpProxy}. */
export interface TcpProxy {
  /** The address clients connect to. */
  readonly host: string;
  readonly port: number;
  /** Where new connections go now. */
  readonly target: ProxyTarget;
  readonly stats: TcpProxyStats;
  /** Sends new connections to `target`; open connections keep their server. */
  flip(target: ProxyTarget): void;
  /** Destroys every open connection (both sides), as a network partition or a NAT timeout does. */
  dropConnections(): void;
  /** Sets the delay added to every chunk, in both directions. 0 turns it off. */
  setLatency(ms: number): void;
  /** While on, new connections are accepted and closed at once (the server looks down). */
  refuse(on: boolean): void;
  /** Stops listening and destroys open connections. Idempotent. */
  close(): Promise<void>;
}

const OPTION_KEYS = new Set(['target', 'host', 'port', 'latencyMs']);

function checkTarget(value: unknown, name: string): ProxyTarget {
  const bag = expectObject(value, name) as Record<string, unknown>;
  const host = string(bag, 'host', `${name}.`);
  if (host === undefined) throw new InvalidOptionError(`${name}.host`, 'is required');
  const port = integer(bag, 'port', `${name}.`, -1, 1);
  if (port < 1 || port > 65_535) throw new InvalidOptionError(`${name}.port`, 'must be a port number (1-65535)');
  return { host, port };
}

const key = (target: ProxyTarget) => `${target.host}:${target.port}`;

/**
 * Starts a TCP proxy on a loopback port, forwarding to `options.target`.
 *
 * @throws InvalidOptionError naming a missing or invalid option.
 */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const bag = expectObject(options, 'options') as Record<string, unknown>;
  rejectUnknownKeys(bag, OPTION_KEYS, 'options.');
  let target = checkTarget(bag.target, 'options.target');
  const listenHost = string(bag, 'host', 'options.', '127.0.0.1') as string;
  const listenPort = integer(bag, 'port', 'options.', 0, 0);
  let latencyMs = duration(bag, 'latencyMs', 'options.', 0);
  let refusing = false;
  let closed = false;
  const stats = { accepted: 0, refused: 0 };
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; target: string }>();

  /** Forwards `from` to `to`, delaying each chunk by the current latency without reordering. */
  const pipe = (from: net.Socket, to: net.Socket) => {
    let last = 0;
    from.on('data', (chunk) => {
      if (latencyMs <= 0 && last <= Date.now()) {
        if (!to.write(chunk)) from.pause();
        return;
      }
      const due = Math.max(Date.now() + latencyMs, last);
      last = due;
      unrefTimer(() => {
        if (!to.destroyed) to.write(chunk);
      }, due - Date.now());
    });
    to.on('drain', () => from.resume());
    from.on('end', () => {
      unrefTimer(() => to.end(), Math.max(0, last - Date.now()));
    });
  };

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    stats.accepted += 1;
    if (refusing || closed) {
      stats.refused += 1;
      client.destroy();
      return;
    }
    const to = target;
    const upstream = net.connect({ host: to.host, port: to.port, allowHalfOpen: true });
    const pair = { client, upstream, target: key(to) };
    pairs.add(pair);
    const teardown = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.once('close', teardown);
    upstream.once('close', teardown);
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    pipe(client, upstream);
    pipe(upstream, client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, listenHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const port = (server.address() as net.AddressInfo).port;

  const proxy: TcpProxy = {
    host: listenHost,
    port,
    get target() {
      return { ...target };
    },
    get stats(): TcpProxyStats {
      const openByTarget: Record<string, number> = {};
      for (const pair of pairs) openByTarget[pair.target] = (openByTarget[pair.target] ?? 0) + 1;
      return { accepted: stats.accepted, refused: stats.refused, open: pairs.size, openByTarget };
    },
    flip(next) {
      if (closed) throw new ClosedError('the TCP proxy is closed');
      target = checkTarget(next, 'target');
    },
    dropConnections() {
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        pair.client.destroy();
        pair.upstream.destroy();
      }
    },
    setLatency(ms) {
      latencyMs = duration({ latencyMs: ms }, 'latencyMs', '', 0);
    },
    refuse(on) {
      refusing = on === true;
    },
    async close() {
      if (closed) return;
      closed = true;
      proxy.dropConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
