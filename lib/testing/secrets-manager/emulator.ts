/**
 * The Secrets Manager emulator itself: {@link startSecretsManagerEmulator} and the
 * {@link SecretsManagerEmulator} it returns, with its setup and inspection methods; requests are
 * answered by its dispatcher.
 *
 * @packageDocumentation
 */

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '../../errors.js';
import { Dispatcher } from './dispatch.js';
import { SecretsManagerFaults, type FaultMatch } from './faults.js';
import { resolveEmulatorOptions, type EmulatorClientConfig, type SecretsManagerEmulatorOptions } from './options.js';
import type { PauseRotationOptions, RotationPause } from './pauses.js';
import type { RotationHandler } from './rotation-steps.js';
import { Rotations, type RotationResult, type WaitForRotationOptions } from './rotations.js';
import { CURRENT, hasValue, NAME_PATTERN, SecretStore, type EmulatedSecretVersion, type PutSecretResult } from './store.js';
import type { Value } from './types.js';

/**
 * A running Secrets Manager emulator, from {@link startSecretsManagerEmulator}. Stop it with
 * {@link SecretsManagerEmulator.close} (or `await using`).
 */
export class SecretsManagerEmulator {
  /** The region requests must be signed for and that appears in ARNs. */
  readonly region: string;
  /** The account id that appears in ARNs. */
  readonly accountId: string;
  /** The access key id that signs requests. */
  readonly accessKeyId: string;
  /** The host the server listens on. */
  readonly host: string;
  /** The TCP port the server listens on. */
  readonly port: number;
  /** The URL to pass as the SDK client's `endpoint`, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  /** Fault injection: throttling, 5xx, latency, errors of choice. */
  readonly faults: SecretsManagerFaults;

  readonly #secretAccessKey: string;
  readonly #server: Server;
  readonly #store: SecretStore;
  readonly #rotations: Rotations;
  readonly #dispatcher: Dispatcher;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link startSecretsManagerEmulator}. */
  constructor(server: Server, settings: Required<Omit<SecretsManagerEmulatorOptions, 'port'>> & { port: number }) {
    this.#server = server;
    this.region = settings.region;
    this.accountId = settings.accountId;
    this.accessKeyId = settings.accessKeyId;
    this.#secretAccessKey = settings.secretAccessKey;
    this.host = settings.host;
    this.port = settings.port;
    this.endpoint = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${settings.port}`;
    this.#store = new SecretStore(settings.region, settings.accountId);
    this.#rotations = new Rotations(this.#store, settings.region, settings.accountId);
    this.faults = new SecretsManagerFaults((match, operation, secretId) => this.#matches(match, operation, secretId));
    this.#dispatcher = new Dispatcher(settings, this.#store, this.#rotations, this.faults);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#dispatcher.handle(req, res).catch(() => res.destroy());
    });
  }

  /**
   * The SDK client configuration for this emulator.
   * @example
   * ```ts
   * const client = new SecretsManagerClient({ ...emulator.clientConfig(), maxAttempts: 1 });
   * ```
   */
  clientConfig(): EmulatorClientConfig {
    return {
      region: this.region,
      endpoint: this.endpoint,
      credentials: { accessKeyId: this.accessKeyId, secretAccessKey: this.#secretAccessKey },
    };
  }

  /**
   * Requests that reached the server, per operation (`X-Amz-Target`), rejected ones included.
   * A snapshot: later requests do not change it.
   * @example
   * ```ts
   * assert.equal(emulator.calls.GetSecretValue, 1);
   * ```
   */
  get calls(): Record<string, number> {
    return this.#dispatcher.calls;
  }

  /**
   * Like {@link calls}, counting only requests whose `SecretId` (or `Name`, for `CreateSecret`)
   * named this secret, by name or by ARN.
   * @example
   * ```ts
   * assert.equal(emulator.callsFor('prod/db').GetSecretValue, 2);
   * ```
   */
  callsFor(secretId: string): Record<string, number> {
    return this.#dispatcher.callsFor(secretId);
  }

  /**
   * Sets every call count back to zero.
   * @example
   * ```ts
   * beforeEach(() => emulator.resetCalls());
   * ```
   */
  resetCalls(): void {
    this.#dispatcher.resetCalls();
  }

  /**
   * Registers an in-process rotation function and returns its Lambda-style ARN
   * (`arn:aws:lambda:<region>:<account>:function:<name>`), to pass as `RotationLambdaARN` to
   * `RotateSecret`. Registering a name again replaces the function.
   * @example
   * ```ts
   * const arn = emulator.registerRotationFunction('rotate-db', async (event) => { ... });
   * await client.send(new RotateSecretCommand({ SecretId: 'prod/db', RotationLambdaARN: arn }));
   * ```
   */
  registerRotationFunction(name: string, handler: RotationHandler): string {
    return this.#rotations.registerRotationFunction(name, handler);
  }

  /**
   * Holds the next rotation that completes step `after` (of secret `secretId`, if given)
   * before it runs the following step, until {@link RotationPause.release} is called or `ms`
   * have passed. Each pause holds one rotation once. `close()` releases every pause.
   * @example
   * ```ts
   * const pause = emulator.pauseRotation({ secretId: 'prod/db', after: 'setSecret' });
   * await client.send(new RotateSecretCommand({ SecretId: 'prod/db', RotationLambdaARN: arn }));
   * await pause.reached; // the database has the new password, AWSCURRENT the old one
   * // ... drive load ...
   * pause.release();
   * await emulator.waitForRotation('prod/db');
   * ```
   */
  pauseRotation(options: PauseRotationOptions = {}): RotationPause {
    return this.#rotations.pauseRotation(options);
  }

  /**
   * Resolves when the rotation of `secretId` that is running now ends, with its result; when
   * none is running, at once with the last one that ended; when the secret never rotated, when
   * the next one ends. A failed step resolves with `status: 'failed'` (it does not reject).
   * Rejects with a `ClosedError` when the emulator closes first, and with an `Error` after
   * `timeoutMs`.
   * @example
   * ```ts
   * const result = await emulator.waitForRotation('prod/db', { timeoutMs: 5000 });
   * assert.equal(result.status, 'succeeded');
   * ```
   */
  waitForRotation(secretId: string, options: WaitForRotationOptions = {}): Promise<RotationResult> {
    return this.#rotations.waitForRotation(secretId, options);
  }

  /**
   * Every rotation of `secretId` so far, oldest first (empty for an unknown secret).
   * @example
   * ```ts
   * const [first] = emulator.rotations('prod/db');
   * ```
   */
  rotations(secretId: string): RotationResult[] {
    return this.#rotations.list(secretId);
  }

  /**
   * Test setup without HTTP: creates the secret `name` with `value`, or, when it exists, adds a
   * version with `value` and moves `AWSCURRENT` to it (and `AWSPREVIOUS` to the old current),
   * like `PutSecretValue`. An object is stored as its JSON text, a `Uint8Array` as
   * `SecretBinary`.
   * @example
   * ```ts
   * const { arn } = emulator.putSecret('prod/db', { engine: 'mysql', host: '127.0.0.1', username: 'app', password });
   * ```
   */
  putSecret(name: string, value: string | Uint8Array | Record<string, unknown>): PutSecretResult {
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
      throw new InvalidOptionError('putSecret(name)', 'must be 1-512 letters, digits or /_+=.@-');
    }
    const stored: Value =
      typeof value === 'string'
        ? { string: value }
        : value instanceof Uint8Array
          ? { binary: Buffer.from(value) }
          : typeof value === 'object' && value !== null
            ? { string: JSON.stringify(value) }
            : (() => {
                throw new InvalidOptionError('putSecret(value)', 'must be a string, a Uint8Array or an object');
              })();
    const versionId = randomUUID();
    const secret = this.#store.find(name);
    if (secret === undefined) {
      const created = this.#store.newSecret(name);
      this.#store.addVersion(created, versionId, stored, [CURRENT]);
      return { arn: created.arn, name, versionId };
    }
    if (secret.deleted !== undefined) {
      throw new Error(`Secrets Manager emulator: secret '${name}' is scheduled for deletion`);
    }
    this.#store.addVersion(secret, versionId, stored, [CURRENT]);
    return { arn: secret.arn, name: secret.name, versionId };
  }

  /**
   * The versions of `secretId`, oldest first, with their staging labels; deprecated versions
   * (no label) included.
   * @example
   * ```ts
   * const current = emulator.versions('prod/db').find((v) => v.stages.includes('AWSCURRENT'));
   * ```
   */
  versions(secretId: string): EmulatedSecretVersion[] {
    const secret = this.#store.find(secretId);
    if (secret === undefined) throw new Error(`Secrets Manager emulator: no secret '${secretId}'`);
    return [...secret.versions.values()].map((v) => {
      const out: { -readonly [K in keyof EmulatedSecretVersion]: EmulatedSecretVersion[K] } = {
        versionId: v.id,
        stages: [...v.stages],
        createdDate: new Date(v.created),
        hasValue: hasValue(v),
      };
      if (v.lastAccessed !== undefined) out.lastAccessedDate = new Date(v.lastAccessed);
      return out;
    });
  }

  /**
   * The value of a version of `secretId` (by `versionId`, else by `versionStage`, by default
   * `AWSCURRENT`) without HTTP and without touching `LastAccessedDate`; `undefined` when there
   * is no such version or it has no value.
   * @example
   * ```ts
   * const pending = emulator.secretValue('prod/db', { versionStage: 'AWSPENDING' });
   * ```
   */
  secretValue(secretId: string, options: { versionId?: string; versionStage?: string } = {}): string | Uint8Array | undefined {
    const secret = this.#store.find(secretId);
    if (secret === undefined) throw new Error(`Secrets Manager emulator: no secret '${secretId}'`);
    const version =
      options.versionId !== undefined
        ? secret.versions.get(options.versionId)
        : this.#store.versionWithStage(secret, options.versionStage ?? CURRENT);
    if (version === undefined) return undefined;
    return version.string ?? (version.binary ? new Uint8Array(version.binary) : undefined);
  }

  /**
   * Stops the server and closes its connections (keep-alive ones included), releases every
   * rotation pause, cancels running rotations before their next step and answers pending
   * waits. Idempotent.
   * @example
   * ```ts
   * after(() => emulator.close());
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    this.#dispatcher.close();
    this.#rotations.close();
    await closed;
    // A rotation function may be inside a step; its step finishes on its own, then the rotation stops.
    await this.#rotations.settled();
  }

  #matches(match: FaultMatch, operation: string, secretId: string | undefined): boolean {
    if (match.operation !== undefined && match.operation !== operation) return false;
    if (match.secretId === undefined) return true;
    if (secretId === undefined) return false;
    if (secretId === match.secretId) return true;
    const wanted = this.#store.find(match.secretId);
    return wanted !== undefined && wanted === this.#store.find(secretId);
  }
}

/**
 * Starts a Secrets Manager emulator on a loopback port and resolves when it listens.
 * Rejects with an `InvalidOptionError` for unknown or malformed options.
 *
 * @example
 * ```ts
 * const emulator = await startSecretsManagerEmulator({ region: 'eu-west-1' });
 * const client = new SecretsManagerClient(emulator.clientConfig());
 * // ...
 * await emulator.close();
 * ```
 */
export async function startSecretsManagerEmulator(options: SecretsManagerEmulatorOptions = {}): Promise<SecretsManagerEmulator> {
  const { host, port, ...settings } = resolveEmulatorOptions(options);
  const server = createServer({ keepAliveTimeout: 5000 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const address = server.address() as AddressInfo;
  return new SecretsManagerEmulator(server, { ...settings, host, port: address.port });
}
