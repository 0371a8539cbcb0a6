import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { createConnection } from 'mysql2/promise';
import { InvalidOptionError } from '../../lib/errors.js';
import { startTestServer } from '../../lib/testing/mariadb.js';
import { startTcpProxy, type TcpProxy } from '../../lib/testing/proxy.js';

/** A TCP server that answers every line with `<name>:<line>`. */
async function echoServer(name: string): Promise<{ host: string; port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => socket.write(`${name}:${data}`));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Connects through the proxy; `ask(line)` resolves with the server's answer. */
async function client(proxy: TcpProxy) {
  const socket = net.connect(proxy.port, proxy.host);
  socket.setEncoding('utf8');
  await once(socket, 'connect');
  const closed = once(socket, 'close');
  return {
    socket,
    closed,
    async ask(line: string): Promise<string> {
      socket.write(line);
      const [data] = await once(socket, 'data');
      return data as string;
    },
  };
}

describe('credswap/testing TCP proxy', function () {
  let a: Awaited<ReturnType<typeof echoServer>>;
  let b: Awaited<ReturnType<typeof echoServer>>;
  let proxy: TcpProxy | undefined;

  beforeEach(async function () {
    [a, b] = await Promise.all([echoServer('a'), echoServer('b')]);
  });

  afterEach(async function () {
    await proxy?.close();
    proxy = undefined;
    await Promise.all([a.close(), b.close()]);
  });

  it('flip() sends new connections to the new target while open ones keep their server', async function () {
    proxy = await startTcpProxy({ target: a });
    const before = await client(proxy);
    assert.equal(await before.ask('1'), 'a:1');
    proxy.flip(b);
    const after = await client(proxy);
    assert.equal(await after.ask('2'), 'b:2');
    assert.equal(await before.ask('3'), 'a:3', 'the old connection still reaches the old server');
    assert.deepEqual(proxy.stats.openByTarget, { [`127.0.0.1:${a.port}`]: 1, [`127.0.0.1:${b.port}`]: 1 });
    before.socket.destroy();
    after.socket.destroy();
  });

  it('dropConnections() closes every open connection', async function () {
    proxy = await startTcpProxy({ target: a });
    const c = await client(proxy);
    assert.equal(await c.ask('x'), 'a:x');
    proxy.dropConnections();
    await c.closed;
    assert.equal(proxy.stats.open, 0);
  });

  it('refuse(true) closes new connections at once until refuse(false)', async function () {
    proxy = await startTcpProxy({ target: a });
    proxy.refuse(true);
    const c = await client(proxy);
    await c.closed;
    assert.equal(proxy.stats.refused, 1);
    proxy.refuse(false);
    const d = await client(proxy);
    assert.equal(await d.ask('y'), 'a:y');
    d.socket.destroy();
  });

  it('setLatency() delays data in both directions and keeps its order', async function () {
    proxy = await startTcpProxy({ target: a, latencyMs: 0 });
    const direct = await startTcpProxy({ target: a, latencyMs: 0 });
    try {
      const c = await client(proxy);
      const fast = await client(direct);
      proxy.setLatency(40);
      const order: string[] = [];
      let received = '';
      c.socket.on('data', (d: string) => {
        received += d;
      });
      for (let i = 0; i < 5; i++) c.socket.write(`${i};`);
      // Sent after the delayed data, over a proxy without latency: its answer comes back first.
      const fastAnswer = fast.ask('x;').then(() => order.push('without latency'));
      while (received.split(';').length < 6) await new Promise((resolve) => setTimeout(resolve, 5));
      order.push('with latency');
      await fastAnswer;
      assert.deepEqual(order, ['without latency', 'with latency']);
      assert.equal(received.replace(/a:/g, ''), '0;1;2;3;4;');
      c.socket.destroy();
      fast.socket.destroy();
    } finally {
      await direct.close();
    }
  });

  it('rejects bad options with a typed error naming the option', async function () {
    await assert.rejects(startTcpProxy({ target: { host: '127.0.0.1', port: 0 } }), (e: Error) => {
      assert.ok(e instanceof InvalidOptionError);
      assert.match(e.message, /options\.target\.port/);
      return true;
    });
    await assert.rejects(startTcpProxy({ target: a, latency: 3 } as never), /options\.latency\b.*not a known option/);
    proxy = await startTcpProxy({ target: a });
    assert.throws(() => proxy!.flip({ host: '', port: 1 }), /target\.host/);
    assert.throws(() => proxy!.setLatency(-1), /latencyMs/);
  });

  it('carries a MariaDB session', async function () {
    const server = await startTestServer();
    try {
      proxy = await startTcpProxy({ target: server });
      const account = await server.createUser({ prefix: 'proxy' });
      const conn = await createConnection({ host: proxy.host, port: proxy.port, user: account.user, password: account.password });
      const [rows] = await conn.query('SELECT 1 AS one');
      assert.deepEqual(rows, [{ one: 1 }]);
      await conn.end();
    } finally {
      await server.stop();
    }
  });
});
