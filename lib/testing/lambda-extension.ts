/**
 * A local emulator of the AWS Parameters and Secrets Lambda Extension and of the AWS Secrets
 * Manager Agent: the HTTP endpoint a Lambda function (or a container) reads secrets from.
 *
 * It answers `GET /secretsmanager/get?secretId=...[&versionStage=...|&versionId=...][&refreshNow=true]`
 * as the real ones do: it checks the `X-Aws-Parameters-Secrets-Token` header, caches values for
 * `ttlMs`, and fetches from Secrets Manager with the real `@aws-sdk/client-secrets-manager`
 * client (pointed, in tests, at the Secrets Manager emulator). It can refuse connections for a
 * while after it starts, as an extension does on a cold start.
 *
 * Behaviour follows the Secrets Manager Agent's source (aws/aws-secretsmanager-agent) and, for
 * the Lambda extension (closed source), what its documentation and users report: see
 * {@link LambdaExtensionFlavor}.
 *
 * @example
 * ```ts
 * import { startLambdaExtensionEmulator, startSecretsManagerEmulator } from 'credswap/testing';
 *
 * const secretsManager = await startSecretsManagerEmulator();
 * const extension = await startLambdaExtensionEmulator({
 *   secretsManager: secretsManager.clientConfig(),
 *   token: 'test-session-token',
 * });
 * // GET http://127.0.0.1:${extension.port}/secretsmanager/get?secretId=... with the token header
 * await extension.close();
 * await secretsManager.close();
 * ```
 *
 * @packageDocumentation
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  loadSecretsManagerSdk,
  type SecretsManagerClientConfig,
  type SecretsManagerSdk,
  type SdkClient,
  newSdkClient,
} from '../../providers/aws/sdk.js';
import { unrefTimer } from '../backoff.js';
import { ClosedError, InvalidOptionError } from '../errors.js';
import { bool, duration, expectObject, integer, oneOf, rejectUnknownKeys, string } from '../options.js';

/**
 * Which implementation to emulate.
 *
 * - `'agent'`: the Secrets Manager Agent, 1.1 and later (its source is public). A wrong or
 *   missing token: 403 `Bad Token`; `X-Forwarded-For`: 400 `Forwarded`; a method other than
 *   GET: 405; an unknown query parameter: 400 `unknown parameter: <name>`; `refreshNow=true`
 *   skips the cache; `GET /ping` answers `healthy` without a token; errors of Secrets Manager
 *   are passed on with its HTTP status and `{"__type": ..., "message": ...}`; a timeout
 *   calling it is 504 `TimeoutError`, a connection failure 502 `ConnectionError`. An expired
 *   entry is checked with `DescribeSecret` and kept if its version still has the stage.
 * - `'agent-1.0'`: the same before `refreshNow` existed: it answers
 *   400 `unknown parameter: refreshNow`.
 * - `'lambda-extension'`: the AWS Parameters and Secrets Lambda Extension layer. A wrong or
 *   missing token: 401 `bad session token or header key` (text/plain, with
 *   `x-amzn-errortype: AccessDeniedException`), as observed on Lambda; before it is ready:
 *   400 `not ready to serve traffic, please wait`. Not documented, and emulated as the agent
 *   does: errors of Secrets Manager (passed on with its status, its JSON error body and the
 *   `x-amzn-errortype` header); unknown query parameters, `refreshNow` included, are ignored.
 *
 * @example
 * ```ts
 * const flavor: LambdaExtensionFlavor = 'lambda-extension';
 * ```
 */
export type LambdaExtensionFlavor = 'agent' | 'agent-1.0' | 'lambda-extension';

/**
 * Default of {@link LambdaExtensionEmulatorOptions.ttlMs}: 300 s, the extension's default and
 * maximum `SECRETS_MANAGER_TTL`, and the agent's default `ttl_seconds`.
 * @example
 * ```ts
 * await startLambdaExtensionEmulator({ secretsManager, token, ttlMs: DEFAULT_EXTENSION_TTL_MS / 60 });
 * ```
 */
export const DEFAULT_EXTENSION_TTL_MS = 300_000;

/**
 * Options of {@link startLambdaExtensionEmulator}.
 * @example
 * ```ts
 * const options: LambdaExtensionEmulatorOptions = {
 *   secretsManager: secretsManager.clientConfig(),
 *   token: 'test-session-token',
 *   flavor: 'lambda-extension',
 *   notReadyForMs: 200,
 * };
 * ```
 */
export interface LambdaExtensionEmulatorOptions {
  /** How the SDK client reaches Secrets Manager: `region`, `endpoint`, `credentials`, ... */
  secretsManager: SecretsManagerClientConfig;
  /**
   * The token requests must carry in `X-Aws-Parameters-Secrets-Token` (the agent also accepts
   * `X-Vault-Token`).
   * @defaultValue the environment variable `AWS_SESSION_TOKEN` when the emulator starts, as the
   * extension reads it; one of the two is required
   */
  token?: string;
  /**
   * Which implementation to emulate; see {@link LambdaExtensionFlavor}.
   * @defaultValue `'agent'`
   * @example
   * ```ts
   * await startLambdaExtensionEmulator({ secretsManager, token, flavor: 'agent-1.0' }); // rejects refreshNow
   * ```
   */
  flavor?: LambdaExtensionFlavor;
  /**
   * How long a value stays in the cache, in milliseconds. `0` turns the cache off.
   * @defaultValue {@link DEFAULT_EXTENSION_TTL_MS} (300000)
   */
  ttlMs?: number;
  /**
   * The port refuses connections for this long, in milliseconds, after the emulator starts,
   * as the extension's does on a cold start. `Infinity`: until {@link LambdaExtensionEmulator.listen}
   * is called. The port is chosen (and {@link LambdaExtensionEmulator.port} known) at once.
   * @defaultValue `0`
   */
  listenAfterMs?: number;
  /**
   * After it starts listening, answer every request with 400 `not ready to serve traffic,
   * please wait` for this long, in milliseconds, as the Lambda extension does during the
   * function's init phase.
   * @defaultValue `0`
   */
  notReadyForMs?: number;
  /**
   * The port to listen on.
   * @defaultValue a free port, chosen when the emulator starts
   */
  port?: number;
  /**
   * Log each request to `console.error` (without the token).
   * @defaultValue `false`
   */
  debug?: boolean;
}

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

/**
 * Counters of a {@link LambdaExtensionEmulator}; upstream calls are named as the Secrets Manager
 * emulator names them.
 * @example
 * ```ts
 * assert.equal(extension.calls.GetSecretValue, 1); // the second read came from the cache
 * ```
 */
export interface LambdaExtensionCalls {
  /** HTTP requests answered, whatever the status. */
  readonly requests: number;
  /** `GetSecretValue` calls made to Secrets Manager. */
  readonly GetSecretValue: number;
  /** `DescribeSecret` calls made to Secrets Manager (the agent checks expired entries with it). */
  readonly DescribeSecret: number;
}

/**
 * A running emulator; see {@link startLambdaExtensionEmulator}.
 * @example
 * ```ts
 * const extension = await startLambdaExtensionEmulator({ secretsManager, token, listenAfterMs: Infinity });
 * // ... the port refuses connections ...
 * await extension.listen();
 * ```
 */
export interface LambdaExtensionEmulator {
  /** `127.0.0.1`. */
  readonly host: string;
  /** The port it listens (or will listen) on. */
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Live counters. */
  readonly calls: LambdaExtensionCalls;
  /** Every request answered, oldest first. Holds no token and no secret value. */
  readonly requests: readonly LambdaExtensionRequest[];
  /** True once the port accepts connections. */
  readonly listening: boolean;
  /** Starts listening now, if it does not yet. Resolves once it does. */
  listen(): Promise<void>;
  /** Resolves once the port accepts connections; rejects with `ClosedError` if closed first. */
  ready(): Promise<void>;
  /** Forgets every cached value. */
  clearCache(): void;
  /** Stops listening, closes open sockets and destroys the SDK client. Idempotent. */
  close(): Promise<void>;
}

interface CacheEntry {
  readonly value: GetSecretValueJson;
  readonly storedAt: number;
}

/** The GetSecretValue answer as the agent serialises it. */
interface GetSecretValueJson {
  ARN?: string;
  Name?: string;
  VersionId?: string;
  SecretString?: string;
  SecretBinary?: string;
  VersionStages?: string[];
  CreatedDate?: string;
}

/** A request being answered: filled in as the request is parsed. */
type RequestRecord = { -readonly [K in keyof LambdaExtensionRequest]: LambdaExtensionRequest[K] };

class HttpAnswer {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

const OPTION_KEYS = new Set(['secretsManager', 'token', 'flavor', 'ttlMs', 'listenAfterMs', 'notReadyForMs', 'port', 'debug']);
const PREFIX = 'startLambdaExtensionEmulator.';
const HOST = '127.0.0.1';
const FLAVORS: readonly LambdaExtensionFlavor[] = ['agent', 'agent-1.0', 'lambda-extension'];
const AGENT_TOKEN_HEADERS = ['x-aws-parameters-secrets-token', 'x-vault-token'];
const AGENT_PARAMETERS = new Set(['secretId', 'versionId', 'versionStage', 'refreshNow']);

/**
 * Starts an emulator of the Lambda secrets extension (or the Secrets Manager Agent) on a
 * loopback port. Resolves once it listens, or at once when `listenAfterMs` delays that.
 *
 * @throws InvalidOptionError for an unknown option, a wrong type, or no token.
 *
 * @example
 * ```ts
 * // A cold start: connections are refused for 300 ms.
 * const extension = await startLambdaExtensionEmulator({
 *   secretsManager: secretsManager.clientConfig(),
 *   token: 'test-session-token',
 *   listenAfterMs: 300,
 * });
 * process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT = String(extension.port);
 * ```
 */
export async function startLambdaExtensionEmulator(options: LambdaExtensionEmulatorOptions): Promise<LambdaExtensionEmulator> {
  const o = expectObject(options, 'startLambdaExtensionEmulator')!;
  rejectUnknownKeys(o, OPTION_KEYS, PREFIX);
  const clientConfig = expectObject(o.secretsManager, `${PREFIX}secretsManager`) as SecretsManagerClientConfig;
  const token = string(o, 'token', PREFIX, process.env.AWS_SESSION_TOKEN || undefined);
  if (token === undefined) {
    throw new InvalidOptionError(`${PREFIX}token`, 'is required when the environment variable AWS_SESSION_TOKEN is not set');
  }
  const flavor = oneOf(o, 'flavor', PREFIX, FLAVORS, 'agent');
  const ttlMs = duration(o, 'ttlMs', PREFIX, DEFAULT_EXTENSION_TTL_MS);
  const listenAfterMs = o.listenAfterMs === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : duration(o, 'listenAfterMs', PREFIX, 0);
  const notReadyForMs = duration(o, 'notReadyForMs', PREFIX, 0);
  const requestedPort = o.port === undefined ? undefined : integer(o, 'port', PREFIX, 0, 1);
  if (requestedPort !== undefined && requestedPort > 65535) throw new InvalidOptionError(`${PREFIX}port`, 'must be at most 65535');
  const debug = bool(o, 'debug', PREFIX, false);

  const emulator = new Emulator(clientConfig, token, flavor, ttlMs, notReadyForMs, debug);
  await emulator.start(requestedPort, listenAfterMs);
  return emulator;
}

class Emulator implements LambdaExtensionEmulator {
  readonly host = HOST;
  port = 0;
  readonly requests: LambdaExtensionRequest[] = [];
  readonly #counts = { requests: 0, GetSecretValue: 0, DescribeSecret: 0 };
  readonly calls: LambdaExtensionCalls;

  readonly #clientConfig: SecretsManagerClientConfig;
  readonly #token: string;
  readonly #flavor: LambdaExtensionFlavor;
  readonly #ttlMs: number;
  readonly #notReadyForMs: number;
  readonly #debug: boolean;
  readonly #server: Server;
  readonly #cache = new Map<string, CacheEntry>();
  #client: Promise<{ sdk: SecretsManagerSdk; client: SdkClient }> | undefined;
  #listening = false;
  #listenedAt = 0;
  #listenTimer: NodeJS.Timeout | undefined;
  #listenPromise: Promise<void> | undefined;
  #closePromise: Promise<void> | undefined;
  #closed = false;
  readonly #ready: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (error: Error) => void;

  constructor(
    clientConfig: SecretsManagerClientConfig,
    token: string,
    flavor: LambdaExtensionFlavor,
    ttlMs: number,
    notReadyForMs: number,
    debug: boolean,
  ) {
    this.#clientConfig = clientConfig;
    this.#token = token;
    this.#flavor = flavor;
    this.#ttlMs = ttlMs;
    this.#notReadyForMs = notReadyForMs;
    this.#debug = debug;
    const counts = this.#counts;
    this.calls = {
      get requests() {
        return counts.requests;
      },
      get GetSecretValue() {
        return counts.GetSecretValue;
      },
      get DescribeSecret() {
        return counts.DescribeSecret;
      },
    };
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.#ready.catch(() => {}); // a rejection nobody waits for is not an error
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  get endpoint(): string {
    return `http://${HOST}:${this.port}`;
  }

  get listening(): boolean {
    return this.#listening;
  }

  async start(port: number | undefined, listenAfterMs: number): Promise<void> {
    if (listenAfterMs === 0) {
      this.port = port ?? 0;
      await this.listen();
      return;
    }
    // Learn a free port now, so that callers can configure it before it accepts connections.
    this.port = port ?? (await freePort());
    if (Number.isFinite(listenAfterMs)) {
      this.#listenTimer = unrefTimer(() => {
        this.#listenTimer = undefined;
        this.listen().catch(() => {
          // Reported through ready(); close() clears the timer before it can fire afterwards.
        });
      }, listenAfterMs);
    }
  }

  listen(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('Lambda extension emulator'));
    if (this.#listenTimer) clearTimeout(this.#listenTimer);
    this.#listenTimer = undefined;
    this.#listenPromise ??= new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        this.#rejectReady(error);
        reject(error);
      };
      this.#server.once('error', onError);
      this.#server.listen(this.port, HOST, () => {
        this.#server.removeListener('error', onError);
        this.port = (this.#server.address() as AddressInfo).port;
        this.#listening = true;
        this.#listenedAt = performance.now();
        this.#resolveReady();
        resolve();
      });
    });
    return this.#listenPromise;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  clearCache(): void {
    this.#cache.clear();
  }

  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    if (this.#listenTimer) clearTimeout(this.#listenTimer);
    this.#listenTimer = undefined;
    this.#rejectReady(new ClosedError('Lambda extension emulator'));
    if (this.#listenPromise) {
      await this.#listenPromise.catch(() => {});
    }
    if (this.#listening) {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeAllConnections();
      await closed;
      this.#listening = false;
    }
    this.#cache.clear();
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      try {
        (await client).client.destroy();
      } catch {
        // The SDK never loaded: nothing to destroy.
      }
    }
  }

  // ---------------------------------------------------------------- requests

  #handle(req: IncomingMessage, res: ServerResponse): void {
    // The request has no body worth reading; drain it so the socket can be reused.
    req.resume();
    const record: RequestRecord = {
      method: req.method ?? '',
      path: (req.url ?? '').split('?')[0] ?? '',
      status: 0,
      source: 'none',
    };
    void this.#answer(req, record)
      .catch((error: unknown) => {
        if (this.#debug) console.error('lambda extension emulator: internal error', error);
        return new HttpAnswer(500, '{"__type":"InternalFailure"}');
      })
      .then((answer) => {
        try {
          this.#send(res, record, answer);
        } catch {
          res.destroy();
        }
      });
  }

  #send(res: ServerResponse, record: RequestRecord, answer: HttpAnswer): void {
    record.status = answer.status;
    this.#counts.requests += 1;
    this.requests.push(record);
    if (this.#debug) {
      const { method, path, secretId, versionStage, versionId, refreshNow, status, source } = record;
      console.error('lambda extension emulator:', { method, path, secretId, versionStage, versionId, refreshNow, status, source });
    }
    if (res.destroyed) return;
    const headers: Record<string, string | number> = { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) };
    if (this.#flavor === 'lambda-extension') {
      headers['content-type'] ??= 'text/plain';
      headers.connection = 'close';
    }
    res.writeHead(answer.status, headers);
    res.end(answer.body);
  }

  async #answer(req: IncomingMessage, record: RequestRecord): Promise<HttpAnswer> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const agent = this.#flavor !== 'lambda-extension';

    if (agent && url.pathname === '/ping') return new HttpAnswer(200, 'healthy');
    if (performance.now() - this.#listenedAt < this.#notReadyForMs) {
      return new HttpAnswer(400, 'not ready to serve traffic, please wait');
    }
    // The token check comes first: nothing else is revealed to a caller without it.
    if (agent) {
      if (req.headers['x-forwarded-for'] !== undefined) return new HttpAnswer(400, 'Forwarded');
      const ok = AGENT_TOKEN_HEADERS.some((name) => req.headers[name] === this.#token);
      if (!ok) return new HttpAnswer(403, 'Bad Token');
      if (req.method !== 'GET') return new HttpAnswer(405, 'Not allowed');
    } else {
      if (req.headers['x-aws-parameters-secrets-token'] !== this.#token) {
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
      if (!AGENT_PARAMETERS.has(key) || (key === 'refreshNow' && this.#flavor === 'agent-1.0')) {
        return new HttpAnswer(400, `unknown parameter: ${key}`);
      }
      if (key === 'refreshNow') {
        const v = value.toLowerCase();
        if (v === 'true' || v === '1') refreshNow = true;
        else if (v !== 'false' && v !== '0') return new HttpAnswer(400, 'invalid refreshNow value');
      }
    }
    if (!record.secretId) return new HttpAnswer(400, agent ? 'missing parameter secretId' : 'secretId is required');
    return this.#fetch(record, refreshNow);
  }

  /** The cache, then Secrets Manager, as the agent's caching client does. */
  async #fetch(
    record: RequestRecord,
    refreshNow: boolean,
  ): Promise<HttpAnswer> {
    const { secretId, versionId, versionStage } = record as { secretId: string; versionId?: string; versionStage?: string };
    const key = JSON.stringify([secretId, versionId ?? null, versionStage ?? null]);
    const cached = this.#ttlMs > 0 ? this.#cache.get(key) : undefined;
    try {
      if (cached && !refreshNow) {
        if (performance.now() - cached.storedAt < this.#ttlMs) {
          record.source = 'cache';
          return ok(cached.value);
        }
        if (this.#flavor !== 'lambda-extension' && (await this.#stillCurrent(cached.value, versionId, versionStage))) {
          this.#store(key, cached.value);
          record.source = 'cache';
          return ok(cached.value);
        }
      }
      record.source = 'secrets-manager';
      const value = await this.#getSecretValue(secretId, versionId, versionStage);
      this.#store(key, value);
      return ok(value);
    } catch (error) {
      return this.#sdkErrorAnswer(error);
    }
  }

  #store(key: string, value: GetSecretValueJson): void {
    if (this.#ttlMs > 0) this.#cache.set(key, { value, storedAt: performance.now() });
  }

  /** The agent's check of an expired entry: does its version still exist with the stage asked for? */
  async #stillCurrent(value: GetSecretValueJson, versionId: string | undefined, versionStage: string | undefined): Promise<boolean> {
    const { sdk, client } = await this.#sdkClient();
    this.#counts.DescribeSecret += 1;
    const described = await client.send(new sdk.DescribeSecretCommand({ SecretId: value.ARN ?? value.Name }));
    const stages = described.VersionIdsToStages;
    if (!stages) return false;
    if (versionId !== undefined && versionStage === undefined) return versionId in stages;
    const id = versionId ?? value.VersionId;
    const stage = versionStage ?? 'AWSCURRENT';
    return id !== undefined && (stages[id] ?? []).includes(stage);
  }

  async #getSecretValue(secretId: string, versionId: string | undefined, versionStage: string | undefined): Promise<GetSecretValueJson> {
    const { sdk, client } = await this.#sdkClient();
    this.#counts.GetSecretValue += 1;
    const out = await client.send(
      new sdk.GetSecretValueCommand({ SecretId: secretId, VersionId: versionId, VersionStage: versionStage }),
    );
    const value: GetSecretValueJson = { ARN: out.ARN, Name: out.Name, VersionId: out.VersionId };
    if (out.SecretString !== undefined) value.SecretString = out.SecretString;
    if (out.SecretBinary !== undefined) value.SecretBinary = Buffer.from(out.SecretBinary).toString('base64');
    if (out.VersionStages !== undefined) value.VersionStages = out.VersionStages;
    // The agent writes CreatedDate as a string of epoch seconds with a fraction.
    if (out.CreatedDate !== undefined) value.CreatedDate = (out.CreatedDate.getTime() / 1000).toFixed(3);
    return value;
  }

  /** How the agent answers a failed SDK call (cache_manager.rs `svc_err`). */
  #sdkErrorAnswer(error: unknown): HttpAnswer {
    const e = error as { name?: unknown; message?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number } } | null;
    const name = typeof e?.name === 'string' ? e.name : '';
    const status = e?.$metadata?.httpStatusCode;
    const message = typeof e?.message === 'string' ? e.message : '';
    if (typeof status === 'number' && name !== '' && message !== '') {
      return new HttpAnswer(status, JSON.stringify({ __type: name, message }), this.#flavor === 'lambda-extension' ? { 'x-amzn-errortype': name } : {});
    }
    if (name === 'TimeoutError' || e?.code === 'ETIMEDOUT') {
      return new HttpAnswer(504, JSON.stringify({ __type: 'TimeoutError', message: 'Timeout' }));
    }
    if (typeof e?.code === 'string' || status === undefined) {
      return new HttpAnswer(502, JSON.stringify({ __type: 'ConnectionError', message: 'Read Error' }));
    }
    return new HttpAnswer(500, '{"__type":"InternalFailure"}');
  }

  #sdkClient(): Promise<{ sdk: SecretsManagerSdk; client: SdkClient }> {
    if (this.#closed) return Promise.reject(new ClosedError('Lambda extension emulator'));
    this.#client ??= loadSecretsManagerSdk('the Lambda extension emulator').then(
      (sdk) => ({ sdk, client: newSdkClient(sdk, this.#clientConfig) }),
      (error: unknown) => {
        this.#client = undefined;
        throw error;
      },
    );
    return this.#client;
  }
}

function ok(value: GetSecretValueJson): HttpAnswer {
  return new HttpAnswer(200, JSON.stringify(value));
}

/** A port that was free a moment ago on the loopback address. */
function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
