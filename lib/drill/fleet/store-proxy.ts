/**
 * A counting HTTP proxy in front of the secret store's emulator, one per fleet worker: it
 * forwards each request unchanged (headers included, so Secrets Manager's SigV4 signature still
 * verifies) and records when it arrived and which operation it was. The emulator counts every
 * request it receives, the rotation's own included; the proxies tell which worker made which
 * request, and when.
 *
 * @packageDocumentation
 */

import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

/** One request a proxy forwarded. */
export interface StoreCall {
  /** When it arrived, on the parent's `performance.now()` clock. */
  at: number;
  /** The operation: Secrets Manager's `X-Amz-Target` operation (`GetSecretValue`), or Vault's `<METHOD> <path>`. */
  operation: string;
}

/** How a store names the operation of a request. */
export type OperationOf = (request: IncomingMessage) => string;

/** Secrets Manager: `X-Amz-Target: secretsmanager.GetSecretValue` → `GetSecretValue`. */
export const secretsManagerOperation: OperationOf = (request) => {
  const target = request.headers['x-amz-target'];
  const text = Array.isArray(target) ? target[0] : target;
  return text?.split('.').pop() ?? 'unknown';
};

/** Vault: `GET /v1/database/static-creds/app?x=1` → `GET database/static-creds/app`. */
export const vaultOperation: OperationOf = (request) => {
  const path = (request.url ?? '').split('?')[0].replace(/^\/v1\//, '');
  return `${request.method ?? 'GET'} ${path}`;
};

/** A running counting proxy. See {@link startStoreProxy}. */
export interface StoreProxy {
  /** The address to give a client instead of the store's, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The requests forwarded so far, oldest first. */
  readonly calls: readonly StoreCall[];
  /** Stops listening and closes every connection, both sides. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a proxy on a loopback port that forwards every request to `upstream` (an `http://`
 * address) and records it.
 */
export async function startStoreProxy(upstream: string, operationOf: OperationOf): Promise<StoreProxy> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const calls: StoreCall[] = [];
  const server: Server = createServer({ keepAliveTimeout: 5_000 }, (req: IncomingMessage, res: ServerResponse) => {
    calls.push({ at: performance.now(), operation: operationOf(req) });
    const forward = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
      return closing;
    },
  };
}
