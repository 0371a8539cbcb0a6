/**
 * The emulator's HTTP side: a loopback server for `/v1/...`, request bodies, Vault's response
 * envelope and error bodies with Vault's texts.
 *
 * @packageDocumentation
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { uuid } from './random.js';

/**
 * The error text of a request refused by policy, and of {@link VaultFaults.forbid}: Vault's
 * multierror form of `permission denied` (HTTP 403).
 *
 * @example
 * ```ts
 * if (err.response?.statusCode === 403 && err.response.body.errors[0] === VAULT_PERMISSION_DENIED_ERROR) { ... }
 * ```
 */
export const VAULT_PERMISSION_DENIED_ERROR = '1 error occurred:\n\t* permission denied\n\n';
/**
 * The error text of a request with an unknown, revoked or expired token (HTTP 403), as Vault
 * 1.17 and later write it: `permission denied` and `invalid token`. A request without a token
 * gets plain `permission denied`.
 *
 * @example
 * ```ts
 * const tokenIsDead = err.response?.statusCode === 403 && /invalid token/.test(err.message);
 * ```
 */
export const VAULT_INVALID_TOKEN_ERROR = '2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n';
/** A request without a token. */
export const MISSING_TOKEN = 'permission denied';
/** Every request but `sys/health` while sealed. */
export const SEALED = 'Vault is sealed';

const MAX_BODY_BYTES = 1 << 20;

/** One request, as the routes see it. */
export interface VaultHttpRequest {
  /** `GET`, `HEAD`, `POST` (also for `PUT`), `DELETE` or `LIST`. */
  readonly method: string;
  /** The path after `/v1/`, decoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The token from `X-Vault-Token` or `Authorization: Bearer`, if any. */
  readonly token: string | undefined;
  /** The `X-Vault-Namespace` header, if any. */
  readonly namespace: string | undefined;
  /** The JSON body (an object), `{}` when there is none. */
  readonly body: Record<string, unknown>;
}

/** An answer: a status code and a JSON body (none for 204 and HEAD). */
export interface VaultReply {
  readonly status: number;
  readonly body?: unknown;
}

/** An error answer: `{"errors": [...]}`. */
export function errorReply(status: number, ...errors: string[]): VaultReply {
  return { status, body: { errors } };
}

/** Fields of a successful answer's envelope. */
export interface EnvelopeFields {
  mountType: string;
  data?: unknown;
  leaseId?: string;
  renewable?: boolean;
  leaseDurationS?: number;
  warnings?: readonly string[];
  auth?: unknown;
}

/** A 200 answer in Vault's envelope. */
export function ok(fields: EnvelopeFields): VaultReply {
  return {
    status: 200,
    body: {
      request_id: uuid(),
      lease_id: fields.leaseId ?? '',
      renewable: fields.renewable ?? false,
      lease_duration: fields.leaseDurationS ?? 0,
      data: fields.data ?? null,
      wrap_info: null,
      warnings: fields.warnings !== undefined && fields.warnings.length > 0 ? [...fields.warnings] : null,
      auth: fields.auth ?? null,
      mount_type: fields.mountType,
    },
  };
}

/** A 204 answer. */
export const NO_CONTENT: VaultReply = { status: 204 };

/** What the handler decides: an answer, or to destroy the socket without one. */
export type HandlerResult = VaultReply | 'drop';

/** A listening server. */
export interface VaultHttpServer {
  readonly port: number;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

/**
 * Starts the HTTP server on `host:port` (0: a free port). `handle` gets every `/v1/` request
 * with its body read.
 */
export async function listen(
  host: string,
  port: number,
  handle: (request: VaultHttpRequest) => Promise<HandlerResult>,
): Promise<VaultHttpServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    serve(req, res, handle).catch(() => req.socket.destroy());
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  handle: (request: VaultHttpRequest) => Promise<HandlerResult>,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://vault.invalid');
  const raw = await readBody(req);
  if (!url.pathname.startsWith('/v1/')) return send(res, req.method, errorReply(404));
  let path: string;
  try {
    path = decodeURIComponent(url.pathname.slice(4));
  } catch {
    return send(res, req.method, errorReply(400, 'invalid request path'));
  }
  if (raw === 'too large') return send(res, req.method, errorReply(413, 'http: request body too large'));
  let body: Record<string, unknown> = {};
  if (raw.length > 0) {
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      else if (parsed !== null) return send(res, req.method, errorReply(400, 'failed to parse JSON input: not an object'));
    } catch (error) {
      return send(res, req.method, errorReply(400, `failed to parse JSON input: ${(error as Error).message}`));
    }
  }
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const header = (name: string): string | undefined => {
    const value = req.headers[name];
    const text = Array.isArray(value) ? value[0] : value;
    return text === undefined || text === '' ? undefined : text;
  };
  const method = (req.method ?? 'GET').toUpperCase();
  const result = await handle({
    method: method === 'PUT' ? 'POST' : method === 'GET' && url.searchParams.get('list') === 'true' ? 'LIST' : method,
    path,
    query: url.searchParams,
    token: header('x-vault-token') ?? bearer,
    namespace: header('x-vault-namespace')?.replace(/^\/+|\/+$/g, ''),
    body,
  });
  if (result === 'drop') {
    req.socket.destroy();
    return;
  }
  send(res, req.method, result);
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.once('end', () => resolve(tooLarge ? 'too large' : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function send(res: ServerResponse, method: string | undefined, reply: VaultReply): void {
  if (res.destroyed) return;
  res.setHeader('Cache-Control', 'no-store');
  if (reply.body === undefined || reply.status === 204) {
    res.statusCode = reply.status;
    res.end();
    return;
  }
  const text = `${JSON.stringify(reply.body)}\n`;
  res.statusCode = reply.status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(method === 'HEAD' ? undefined : text);
}
