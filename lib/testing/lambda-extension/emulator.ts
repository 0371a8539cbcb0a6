/**
 * The Lambda extension emulator itself: {@link startLambdaExtensionEmulator} and the
 * {@link LambdaExtensionEmulator} it returns, which listens (at once or after a cold start),
 * records and counts requests, and owns the Secrets Manager client its cache fetches with.
 *
 * @packageDocumentation
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  loadSecretsManagerSdk,
  newSdkClient,
  type SdkClient,
  type SecretsManagerClientConfig,
  type SecretsManagerSdk,
} from '../../../providers/aws/sdk.js';
import { unrefTimer } from '../../backoff.js';
import { ClosedError } from '../../errors.js';
import { SecretCache } from './cache.js';
import {
  resolveExtensionOptions,
  type LambdaExtensionEmulatorOptions,
  type LambdaExtensionFlavor,
  type ResolvedExtensionOptions,
} from './options.js';
import { HttpAnswer, readRequest, writeAnswer, type LambdaExtensionRequest, type RequestRecord } from './protocol.js';

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

const HOST = '127.0.0.1';

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
  const resolved = resolveExtensionOptions(options);
  const emulator = new Emulator(resolved);
  await emulator.start(resolved.port, resolved.listenAfterMs);
  return emulator;
}

class Emulator implements LambdaExtensionEmulator {
  readonly host = HOST;
  port = 0;
  readonly requests: LambdaExtensionRequest[] = [];
  readonly #served = { requests: 0 };
  readonly calls: LambdaExtensionCalls;

  readonly #clientConfig: SecretsManagerClientConfig;
  readonly #token: string;
  readonly #flavor: LambdaExtensionFlavor;
  readonly #notReadyForMs: number;
  readonly #debug: boolean;
  readonly #server: Server;
  readonly #cache: SecretCache;
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

  constructor(options: ResolvedExtensionOptions) {
    this.#clientConfig = options.clientConfig;
    this.#token = options.token;
    this.#flavor = options.flavor;
    this.#notReadyForMs = options.notReadyForMs;
    this.#debug = options.debug;
    this.#cache = new SecretCache(options.flavor, options.ttlMs, () => this.#sdkClient());
    const served = this.#served;
    const upstream = this.#cache.counts;
    this.calls = {
      get requests() {
        return served.requests;
      },
      get GetSecretValue() {
        return upstream.GetSecretValue;
      },
      get DescribeSecret() {
        return upstream.DescribeSecret;
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
    this.#served.requests += 1;
    this.requests.push(record);
    if (this.#debug) {
      const { method, path, secretId, versionStage, versionId, refreshNow, status, source } = record;
      console.error('lambda extension emulator:', { method, path, secretId, versionStage, versionId, refreshNow, status, source });
    }
    if (res.destroyed) return;
    writeAnswer(res, this.#flavor, answer);
  }

  async #answer(req: IncomingMessage, record: RequestRecord): Promise<HttpAnswer> {
    const notReady = performance.now() - this.#listenedAt < this.#notReadyForMs;
    const checked = readRequest(req, record, { flavor: this.#flavor, token: this.#token, notReady });
    if (checked instanceof HttpAnswer) return checked;
    return this.#cache.fetch(record, checked.refreshNow);
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
