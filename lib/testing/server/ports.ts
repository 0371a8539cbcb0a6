/**
 * Loopback ports for throwaway servers: a free one to start on, and whether something listens.
 *
 * @packageDocumentation
 */

import * as net from 'node:net';

/** The address throwaway servers listen on and are reached at. */
export const LOOPBACK = '127.0.0.1';

/**
 * A port of {@link LOOPBACK} that was free a moment ago. Another process may take it before the
 * server binds it: a caller retries on another port then.
 */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether a TCP connection to `port` of {@link LOOPBACK} opens within a second. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    socket.setTimeout(1_000);
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}
