/**
 * How the Secrets Manager Agent and the Lambda extension speak HTTP: the checks a request goes
 * through before any secret is looked up (token, method, path, query parameters), and the
 * status codes, bodies and headers of their answers.
 *
 * @packageDocumentation
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LambdaExtensionFlavor } from './options.js';

/**
 * One request the emulator served, as recorded in {@link LambdaExtensionEmulator.requests}.
 * @example
 * ```ts
 * assert.equal(extension.requests.at(-1)?.refreshNow, 'true');
 * ```
 */
export interface LambdaExtensionRequest {
  readonly method: string;
  readonly path: string;
  readonly secretId?: string;
  readonly versionStage?: string;
  readonly versionId?: string;
  /** The `refreshNow` query parameter as sent, if it was. */
  readonly refreshNow?: string;
  /** The HTTP status answered. */
  readonly status: number;
  /** How the value was found: in the cache, fetched (a miss, an expiry or `refreshNow`), or not at all. */
  readonly source: 'cache' | 'secrets-manager' | 'none';
}

/** A request being answered: filled in as the request is parsed. */
export type RequestRecord = { -readonly [K in keyof LambdaExtensionRequest]: LambdaExtensionRequest[K] };

/** The GetSecretValue answer as the agent serialises it. */
export interface GetSecretValueJson {
  ARN?: string;
  Name?: string;
  VersionId?: string;
  SecretString?: string;
  SecretBinary?: string;
  VersionStages?: string[];
  CreatedDate?: string;
}

export class HttpAnswer {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** What a request is checked against. */
export interface Gate {
  readonly flavor: LambdaExtensionFlavor;
  readonly token: string;
  /** True while the extension is not ready to serve traffic. */
  readonly notReady: boolean;
}

const AGENT_TOKEN_HEADERS = ['x-aws-parameters-secrets-token', 'x-vault-token'];
const AGENT_PARAMETERS = new Set(['secretId', 'versionId', 'versionStage', 'refreshNow']);

/**
 * Checks a request as the agent (or the extension) does and reads its query parameters into
 * `record`. Returns the answer when the request is answered without looking a secret up (a
 * refusal, `/ping`), otherwise whether the lookup must skip the cache.
 */
export function readRequest(req: IncomingMessage, record: RequestRecord, gate: Gate): HttpAnswer | { refreshNow: boolean } {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const agent = gate.flavor !== 'lambda-extension';

  if (agent && url.pathname === '/ping') return new HttpAnswer(200, 'healthy');
  if (gate.notReady) return new HttpAnswer(400, 'not ready to serve traffic, please wait');
  // The token check comes first: nothing else is revealed to a caller without it.
  if (agent) {
    if (req.headers['x-forwarded-for'] !== undefined) return new HttpAnswer(400, 'Forwarded');
    const ok = AGENT_TOKEN_HEADERS.some((name) => req.headers[name] === gate.token);
    if (!ok) return new HttpAnswer(403, 'Bad Token');
    if (req.method !== 'GET') return new HttpAnswer(405, 'Not allowed');
  } else {
    if (req.headers['x-aws-parameters-secrets-token'] !== gate.token) {
      return new HttpAnswer(401, 'bad session token or header key', { 'x-amzn-errortype': 'AccessDeniedException' });
    }
    if (req.method !== 'GET') return new HttpAnswer(405, 'method not allowed');
  }
  if (url.pathname !== '/secretsmanager/get') return new HttpAnswer(404, agent ? 'Not found' : 'not found');

  let refreshNow = false;
  for (const [key, value] of url.searchParams) {
    if (key === 'secretId') record.secretId = value;
    else if (key === 'versionId') record.versionId = value;
    else if (key === 'versionStage') record.versionStage = value;
    else if (key === 'refreshNow') record.refreshNow = value;
    if (!agent) continue;
    if (!AGENT_PARAMETERS.has(key) || (key === 'refreshNow' && gate.flavor === 'agent-1.0')) {
      return new HttpAnswer(400, `unknown parameter: ${key}`);
    }
    if (key === 'refreshNow') {
      const v = value.toLowerCase();
      if (v === 'true' || v === '1') refreshNow = true;
      else if (v !== 'false' && v !== '0') return new HttpAnswer(400, 'invalid refreshNow value');
    }
  }
  if (!record.secretId) return new HttpAnswer(400, agent ? 'missing parameter secretId' : 'secretId is required');
  return { refreshNow };
}

/** A secret value found. */
export function ok(value: GetSecretValueJson): HttpAnswer {
  return new HttpAnswer(200, JSON.stringify(value));
}

/** How the agent answers a failed SDK call (cache_manager.rs `svc_err`). */
export function sdkErrorAnswer(error: unknown, flavor: LambdaExtensionFlavor): HttpAnswer {
  const e = error as { name?: unknown; message?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number } } | null;
  const name = typeof e?.name === 'string' ? e.name : '';
  const status = e?.$metadata?.httpStatusCode;
  const message = typeof e?.message === 'string' ? e.message : '';
  if (typeof status === 'number' && name !== '' && message !== '') {
    return new HttpAnswer(
      status,
      JSON.stringify({ __type: name, message }),
      flavor === 'lambda-extension' ? { 'x-amzn-errortype': name } : {},
    );
  }
  if (name === 'TimeoutError' || e?.code === 'ETIMEDOUT') {
    return new HttpAnswer(504, JSON.stringify({ __type: 'TimeoutError', message: 'Timeout' }));
  }
  if (typeof e?.code === 'string' || status === undefined) {
    return new HttpAnswer(502, JSON.stringify({ __type: 'ConnectionError', message: 'Read Error' }));
  }
  return new HttpAnswer(500, '{"__type":"InternalFailure"}');
}

/** Writes `answer`; the Lambda extension answers in plain text and closes the connection. */
export function writeAnswer(res: ServerResponse, flavor: LambdaExtensionFlavor, answer: HttpAnswer): void {
  const headers: Record<string, string | number> = { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) };
  if (flavor === 'lambda-extension') {
    headers['content-type'] ??= 'text/plain';
    headers.connection = 'close';
  }
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}
