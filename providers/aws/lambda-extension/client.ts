/**
 * The HTTP client of the AWS Parameters and Secrets Lambda Extension and of the AWS Secrets
 * Manager Agent: one `GET /secretsmanager/get` on a loopback port with the token header, its
 * answer read into a version of the secret, and every failure a `SecretsManagerError` that names
 * the secret and never shows the token or a secret value.
 *
 * @packageDocumentation
 */

import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { linkSignals } from '../../../lib/abort.js';
import { sealCredentials, type SealedCredentials } from '../../../lib/credentials.js';
import { InvalidOptionError } from '../../../lib/errors.js';
import { redactText } from '../../../lib/redact.js';
import { SecretsManagerError } from '../errors.js';
import { toSecretsManagerError } from '../sdk.js';
import { parseSecretString, secretSource } from '../secret-json.js';

/**
 * The extension's default port, used when neither the `port` option nor the environment
 * variable {@link EXTENSION_PORT_ENV} says otherwise.
 * @example
 * ```ts
 * const url = `http://localhost:${process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT ?? DEFAULT_EXTENSION_PORT}`;
 * ```
 */
export const DEFAULT_EXTENSION_PORT = 2773;
/**
 * The environment variable that configures the extension's port (the extension reads it too).
 * @example
 * ```ts
 * process.env[EXTENSION_PORT_ENV] = '2775';
 * ```
 */
export const EXTENSION_PORT_ENV = 'PARAMETERS_SECRETS_EXTENSION_HTTP_PORT';
/**
 * The request header that carries the token. The Lambda extension expects the function's
 * `AWS_SESSION_TOKEN` in it; the Secrets Manager Agent expects its SSRF token in it.
 * @example
 * ```ts
 * await fetch(url, { headers: { [EXTENSION_TOKEN_HEADER]: process.env.AWS_SESSION_TOKEN ?? '' } });
 * ```
 */
export const EXTENSION_TOKEN_HEADER = 'X-Aws-Parameters-Secrets-Token';

/** A GetSecretValue answer holds at most a 64 KiB secret; anything much larger is not one. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const RESPONSE_TOO_LARGE = 'ERR_CREDSWAP_RESPONSE_TOO_LARGE';
/** Characters of an unexpected answer's body quoted in a message. */
const MAX_QUOTED_CHARS = 120;

/** Error names (`SecretsManagerError.awsError`) for failures of the extension itself. */
const UNREACHABLE = 'ExtensionUnreachable';
export const NOT_READY = 'ExtensionNotReady';
const CONNECTION_ERROR = 'ConnectionError';
const TOKEN_REJECTED = 'ExtensionTokenRejected';
const MISSING_TOKEN = 'MissingSessionToken';
export const REFRESH_NOW_UNSUPPORTED = 'RefreshNowUnsupported';
const INVALID_RESPONSE = 'InvalidExtensionResponse';
const EXTENSION_ERROR = 'ExtensionError';

/** Socket errors that mean "nothing listens there (yet)". */
const REFUSED_CODES = new Set(['ECONNREFUSED', 'EADDRNOTAVAIL', 'EHOSTUNREACH', 'ENETUNREACH']);

/** An HTTP answer of the extension, whatever its status. */
export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One version of the secret, as the extension answered it. */
export interface ExtensionVersion {
  readonly versionId: string | undefined;
  readonly credentials: SealedCredentials;
}

/** Where the extension listens, what to ask it for, and how long to wait. */
export interface ExtensionEndpoint {
  readonly secretId: string;
  /** A loopback host, without brackets. */
  readonly host: string;
  /** `undefined`: {@link EXTENSION_PORT_ENV} at each request, else {@link DEFAULT_EXTENSION_PORT}. */
  readonly port: number | undefined;
  /** `undefined`: `AWS_SESSION_TOKEN` at each request. */
  readonly token: string | undefined;
  readonly requestTimeoutMs: number;
}

/** Asks the extension for versions of one secret. */
export class ExtensionClient {
  readonly #endpoint: ExtensionEndpoint;

  constructor(endpoint: ExtensionEndpoint) {
    this.#endpoint = endpoint;
  }

  /** One GET. Resolves with any HTTP answer; rejects with a typed error when there is none. */
  async request(stage: string, refreshNow: boolean, signal: AbortSignal): Promise<Answer> {
    const { secretId, host, requestTimeoutMs } = this.#endpoint;
    const token = this.#token();
    if (token === undefined || token === '') {
      throw this.error(
        MISSING_TOKEN,
        "no token for the extension: AWS_SESSION_TOKEN is not set and the option 'token' is not given (outside Lambda, pass the Secrets Manager Agent's SSRF token as 'token')",
        false,
      );
    }
    const port = this.#resolvePort();
    const query = new URLSearchParams({ secretId, versionStage: stage });
    if (refreshNow) query.set('refreshNow', 'true');
    const linked = linkSignals([signal], requestTimeoutMs);
    try {
      return await get(host, port, `/secretsmanager/get?${query.toString()}`, token, linked.signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (linked.timedOut) {
        throw this.error(
          'RequestTimeout',
          `the extension at ${this.where(port)} did not answer within ${requestTimeoutMs} ms`,
          true,
          error,
        );
      }
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && REFUSED_CODES.has(code)) {
        throw this.error(
          UNREACHABLE,
          `nothing answers at ${this.where(port)} (${code}); is the AWS Parameters and Secrets Lambda Extension layer (or the Secrets Manager Agent) installed, and is ${EXTENSION_PORT_ENV} right?`,
          true,
          error,
        );
      }
      if (code === RESPONSE_TOO_LARGE) {
        throw this.error(
          INVALID_RESPONSE,
          `the answer from ${this.where(port)} is larger than ${MAX_RESPONSE_BYTES} bytes; is something else listening on that port?`,
          false,
          error,
        );
      }
      throw this.error(
        CONNECTION_ERROR,
        `the request to the extension at ${this.where(port)} failed (${typeof code === 'string' ? code : errorName(error)})`,
        true,
        error,
      );
    } finally {
      linked.dispose();
    }
  }

  /** Turns an HTTP answer into a version, or throws the error it stands for. */
  parse(answer: Answer): ExtensionVersion {
    const { status, body } = answer;
    const { secretId } = this.#endpoint;
    const token = this.#token() ?? '';
    if (status === 200) {
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        // No cause: JSON.parse quotes its input, which may hold the secret.
        throw this.error(INVALID_RESPONSE, `the answer from ${this.where()} is not JSON; is something else listening on that port?`, false);
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        throw this.error(INVALID_RESPONSE, `the answer from ${this.where()} is not a GetSecretValue response`, false);
      }
      const out = json as { VersionId?: unknown; SecretString?: unknown; SecretBinary?: unknown };
      if (out.SecretString !== undefined && typeof out.SecretString !== 'string') {
        throw this.error(INVALID_RESPONSE, `the answer from ${this.where()} has a SecretString that is not a string`, false);
      }
      const parsed = parseSecretString(secretId, out.SecretString, { binary: out.SecretBinary !== undefined && out.SecretBinary !== null });
      return {
        versionId: typeof out.VersionId === 'string' ? out.VersionId : undefined,
        credentials: sealCredentials(parsed.credentials, secretSource(secretId)),
      };
    }
    const service = serviceError(answer);
    if (status === 401 || (status === 403 && service === undefined)) {
      throw this.error(
        TOKEN_REJECTED,
        `the extension at ${this.where()} refused the token (HTTP ${status}): the ${EXTENSION_TOKEN_HEADER} header must equal the token the extension started with (on Lambda, AWS_SESSION_TOKEN; for the Secrets Manager Agent, its SSRF token); check the option 'token' and AWS_SESSION_TOKEN`,
        false,
      );
    }
    if (service !== undefined) {
      const message = redactText(service.message ?? `HTTP ${status}`, [token]);
      const cause = Object.assign(new Error(service.quoted ? message.slice(0, MAX_QUOTED_CHARS) : message), {
        name: service.type,
        $metadata: { httpStatusCode: status },
      });
      throw toSecretsManagerError(secretId, cause);
    }
    if (status === 429) {
      throw this.error('TooManyRequests', `the extension at ${this.where()} has too many connections open (HTTP 429)`, true);
    }
    const quoted = redactText(body.trim(), [token]).slice(0, MAX_QUOTED_CHARS);
    throw this.error(
      EXTENSION_ERROR,
      `the extension at ${this.where()} answered HTTP ${status}${quoted ? `: ${quoted}` : ''}`,
      status >= 500,
    );
  }

  /** `host:port` for messages; the host alone when the port cannot be told. */
  where(port?: number): string {
    const { host } = this.#endpoint;
    let p = port ?? this.#endpoint.port;
    if (p === undefined) {
      try {
        p = this.#resolvePort();
      } catch {
        return host;
      }
    }
    return `${host.includes(':') ? `[${host}]` : host}:${p}`;
  }

  /** An error of the extension itself for this secret. */
  error(awsError: string, problem: string, retryable: boolean, cause?: unknown): SecretsManagerError {
    return new SecretsManagerError(this.#endpoint.secretId, awsError, problem, { retryable, cause });
  }

  #token(): string | undefined {
    return this.#endpoint.token ?? process.env.AWS_SESSION_TOKEN;
  }

  #resolvePort(): number {
    if (this.#endpoint.port !== undefined) return this.#endpoint.port;
    const env = process.env[EXTENSION_PORT_ENV];
    if (env === undefined || env.trim() === '') return DEFAULT_EXTENSION_PORT;
    const port = /^\s*\d{1,5}\s*$/.test(env) ? Number(env) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      throw new InvalidOptionError(
        'LambdaExtensionProvider.port',
        `has no value and the environment variable ${EXTENSION_PORT_ENV} is not a port number from 1 to 65535`,
      );
    }
    return port;
  }
}

/** GETs `path` with the token header; resolves with status, headers and body (at most 1 MiB). */
function get(host: string, port: number, path: string, token: string, signal: AbortSignal): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest({
      host,
      port,
      path,
      method: 'GET',
      headers: { [EXTENSION_TOKEN_HEADER]: token, accept: 'application/json' },
      agent: false,
      signal,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          res.destroy();
          req.destroy(Object.assign(new Error(`the answer is larger than ${MAX_RESPONSE_BYTES} bytes`), { code: RESPONSE_TOO_LARGE }));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end();
  });
}

/**
 * A Secrets Manager error passed on by the extension: a JSON body with `__type` (the Secrets
 * Manager Agent's form, and the service's own), else the `x-amzn-errortype` header.
 */
function serviceError(answer: Answer): { type: string; message?: string; quoted?: boolean } | undefined {
  const text = answer.body.trim();
  if (text.startsWith('{')) {
    try {
      const json = JSON.parse(text) as { __type?: unknown; message?: unknown; Message?: unknown };
      if (typeof json.__type === 'string' && json.__type !== '') {
        const type = json.__type.includes('#') ? json.__type.slice(json.__type.lastIndexOf('#') + 1) : json.__type;
        const message = typeof json.message === 'string' ? json.message : typeof json.Message === 'string' ? json.Message : undefined;
        return { type, message };
      }
    } catch {
      // Not JSON after all.
    }
  }
  const header = answer.headers['x-amzn-errortype'];
  const type = typeof header === 'string' ? header.split(':')[0]?.trim() : undefined;
  if (type && answer.status !== 401) return { type, message: text || undefined, quoted: true };
  return undefined;
}

/** A 400 of the extension itself: not a Secrets Manager error, not "not ready". */
export function isBadRequest(answer: Answer): boolean {
  return answer.status === 400 && serviceError(answer) === undefined && !isNotReady(answer);
}

/** The Lambda extension answers 400 "not ready to serve traffic, please wait" during the init phase. */
export function isNotReady(answer: Answer): boolean {
  return /not ready/i.test(answer.body) && serviceError(answer) === undefined;
}

/** No answer at all, as while the extension starts: worth asking again. */
export function isStartupError(error: unknown): error is SecretsManagerError {
  return error instanceof SecretsManagerError && (error.awsError === UNREACHABLE || error.awsError === CONNECTION_ERROR);
}

/** Nothing listens, or the extension stays "not ready": another source may have the secret. */
export function isUnreachable(error: unknown): boolean {
  return error instanceof SecretsManagerError && (error.awsError === UNREACHABLE || error.awsError === NOT_READY);
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
