/**
 * The Secrets Manager emulator itself: {@link startSecretsManagerEmulator} and the
 * {@link SecretsManagerEmulator} it returns, which answers requests over HTTP.
 *
 * @packageDocumentation
 */

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '../../errors.js';
import { bool, expectObject, integer, rejectUnknownKeys, string } from '../../options.js';
import { SecretsManagerFaults, type FaultMatch } from './faults.js';
import type { Input } from './input.js';
import {
  createSecret,
  deleteSecret,
  describeSecret,
  getSecretValue,
  listSecretVersionIds,
  putSecretValue,
  restoreSecret,
  updateSecretVersionStage,
} from './operations.js';
import {
  DEFAULT_EMULATOR_ACCESS_KEY_ID,
  DEFAULT_EMULATOR_ACCOUNT_ID,
  DEFAULT_EMULATOR_REGION,
  DEFAULT_EMULATOR_SECRET_ACCESS_KEY,
  OPTION_KEYS,
  type EmulatorClientConfig,
  type SecretsManagerEmulatorOptions,
} from './options.js';
import { randomPassword } from './passwords.js';
import { AwsError, DEFAULT_FAULT_MESSAGES, FRAMEWORK_ERRORS, readBody, send, serialization } from './protocol.js';
import {
  Rotations,
  type PauseRotationOptions,
  type RotationHandler,
  type RotationPause,
  type RotationResult,
  type WaitForRotationOptions,
} from './rotations.js';
import { verifySignature } from './sigv4.js';
import { CURRENT, hasValue, NAME_PATTERN, SecretStore, type EmulatedSecretVersion, type PutSecretResult, type Value } from './store.js';

/** Operations of the real service that the emulator does not implement: answered as unknown, with a note. */
const UNIMPLEMENTED_OPERATIONS = new Set([
  'BatchGetSecretValue',
  'DeleteResourcePolicy',
  'GetResourcePolicy',
  'ListSecrets',
  'PutResourcePolicy',
  'RemoveRegionsFromReplication',
  'ReplicateSecretToRegions',
  'StopReplicationToReplica',
  'TagResource',
  'UntagResource',
  'UpdateSecret',
  'ValidateResourcePolicy',
]);

type Operation = (input: Input) => Record<string, unknown>;

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
  readonly #requireSignature: boolean;
  readonly #server: Server;
  readonly #store: SecretStore;
  readonly #rotations: Rotations;
  readonly #sleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  #calls: Record<string, number> = {};
  #callsBySecret = new Map<string, Record<string, number>>();
  #closing: Promise<void> | undefined;
  #closed = false;
  readonly #operations: Record<string, Operation>;

  /** @internal Use {@link startSecretsManagerEmulator}. */
  constructor(server: Server, settings: Required<Omit<SecretsManagerEmulatorOptions, 'port'>> & { port: number }) {
    this.#server = server;
    this.region = settings.region;
    this.accountId = settings.accountId;
    this.accessKeyId = settings.accessKeyId;
    this.#secretAccessKey = settings.secretAccessKey;
    this.#requireSignature = settings.requireSignature;
    this.host = settings.host;
    this.port = settings.port;
    this.endpoint = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${settings.port}`;
    this.#store = new SecretStore(settings.region, settings.accountId);
    this.#rotations = new Rotations(this.#store, settings.region, settings.accountId);
    this.faults = new SecretsManagerFaults((match, operation, secretId) => this.#matches(match, operation, secretId));
    this.#operations = {
      CreateSecret: (i) => createSecret(this.#store, i),
      GetSecretValue: (i) => getSecretValue(this.#store, i),
      DescribeSecret: (i) => describeSecret(this.#store, i),
      PutSecretValue: (i) => putSecretValue(this.#store, i),
      UpdateSecretVersionStage: (i) => updateSecretVersionStage(this.#store, i),
      ListSecretVersionIds: (i) => listSecretVersionIds(this.#store, i),
      RotateSecret: (i) => this.#rotations.rotateSecret(i),
      CancelRotateSecret: (i) => this.#rotations.cancelRotateSecret(i),
      DeleteSecret: (i) => deleteSecret(this.#store, this.#rotations, i),
      RestoreSecret: (i) => restoreSecret(this.#store, i),
      GetRandomPassword: (i) => ({ RandomPassword: randomPassword(i) }),
    };
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch(() => res.destroy());
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
    return { ...this.#calls };
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
    const secret = this.#store.find(secretId);
    return { ...(this.#callsBySecret.get(secret?.arn ?? secretId) ?? {}) };
  }

  /**
   * Sets every call count back to zero.
   * @example
   * ```ts
   * beforeEach(() => emulator.resetCalls());
   * ```
   */
  resetCalls(): void {
    this.#calls = {};
    this.#callsBySecret = new Map();
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
    if (this.#closing === undefined) {
      this.#closed = true;
      this.#closing = this.#close();
    }
    return this.#closing;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    for (const sleep of this.#sleeps) {
      clearTimeout(sleep.timer);
      sleep.resolve();
    }
    this.#sleeps.clear();
    this.#rotations.close();
    await closed;
    // A rotation function may be inside a step; its step finishes on its own, then the rotation stops.
    await this.#rotations.settled();
  }

  // ------------------------------------------------------------------------------------------
  // HTTP
  // ------------------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const target = req.headers['x-amz-target'];
    const operation =
      typeof target === 'string' && target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : undefined;
    const countAs = operation ?? (typeof target === 'string' ? target : '(no X-Amz-Target)');
    this.#calls[countAs] = (this.#calls[countAs] ?? 0) + 1;

    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (err) {
      if (err instanceof AwsError) return send(res, requestId, err.status, err.body(), err.type);
      throw err;
    }
    let input: Input | undefined;
    let parseError: AwsError | undefined;
    try {
      const parsed: unknown = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) parseError = serialization();
      else input = parsed as Input;
    } catch {
      parseError = serialization();
    }
    const named = input && (typeof input.SecretId === 'string' ? input.SecretId : operation === 'CreateSecret' && typeof input.Name === 'string' ? input.Name : undefined);
    if (named !== undefined) {
      const key = this.#store.find(named)?.arn ?? named;
      const counts = this.#callsBySecret.get(key) ?? {};
      counts[countAs] = (counts[countAs] ?? 0) + 1;
      this.#callsBySecret.set(key, counts);
    }

    try {
      if (this.#requireSignature) {
        verifySignature(req, body, { region: this.region, accessKeyId: this.accessKeyId, secretAccessKey: this.#secretAccessKey }, Date.now());
      }
      if (req.method !== 'POST' || operation === undefined || this.#operations[operation] === undefined) {
        throw new AwsError(
          'UnknownOperationException',
          operation !== undefined && UNIMPLEMENTED_OPERATIONS.has(operation)
            ? `${operation} is not implemented by the Secrets Manager emulator`
            : undefined,
          400,
          true,
        );
      }
      if (parseError) throw parseError;
      const fault = this.faults.take(operation, named);
      if (fault.latencyMs > 0) {
        await this.#sleep(fault.latencyMs);
        if (this.#closed) {
          res.destroy();
          return;
        }
      }
      if (fault.error) {
        const { name, status } = fault.error;
        const message = fault.error.message ?? this.#defaultFaultMessage(name, operation, named);
        throw new AwsError(name, message, status, FRAMEWORK_ERRORS.has(name));
      }
      const output = this.#operations[operation]!(input!);
      send(res, requestId, 200, output);
    } catch (err) {
      if (!(err instanceof AwsError)) {
        // A bug in the emulator: answer as the service would, without details.
        const internal = new AwsError('InternalServiceError', DEFAULT_FAULT_MESSAGES.InternalServiceError, 500);
        return send(res, requestId, 500, internal.body(), internal.type);
      }
      send(res, requestId, err.status, err.body(), err.type);
    }
  }

  #defaultFaultMessage(name: string, operation: string, secretId: string | undefined): string {
    if (name === 'AccessDeniedException') {
      return (
        `User: arn:aws:iam::${this.accountId}:user/emulator is not authorized to perform: secretsmanager:${operation} ` +
        `on resource: ${secretId ?? '*'} because no identity-based policy allows the secretsmanager:${operation} action`
      );
    }
    return DEFAULT_FAULT_MESSAGES[name] ?? `Injected ${name} from the Secrets Manager emulator.`;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#sleeps.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      entry.timer.unref();
      this.#sleeps.add(entry);
    });
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
  const bag = expectObject(options, 'options') ?? {};
  rejectUnknownKeys(bag, OPTION_KEYS, '');
  const region = string(bag, 'region', '', DEFAULT_EMULATOR_REGION)!;
  if (!/^[a-z0-9-]+$/.test(region)) throw new InvalidOptionError('region', 'must be a region name such as us-east-1');
  const accountId = string(bag, 'accountId', '', DEFAULT_EMULATOR_ACCOUNT_ID)!;
  if (!/^\d{12}$/.test(accountId)) throw new InvalidOptionError('accountId', 'must be 12 digits');
  const accessKeyId = string(bag, 'accessKeyId', '', DEFAULT_EMULATOR_ACCESS_KEY_ID)!;
  const secretAccessKey = string(bag, 'secretAccessKey', '', DEFAULT_EMULATOR_SECRET_ACCESS_KEY)!;
  const host = string(bag, 'host', '', '127.0.0.1')!;
  const port = integer(bag, 'port', '', 0, 0);
  if (port > 65535) throw new InvalidOptionError('port', 'must be at most 65535');
  const requireSignature = bool(bag, 'requireSignature', '', true);

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
  return new SecretsManagerEmulator(server, {
    region,
    accountId,
    accessKeyId,
    secretAccessKey,
    host,
    port: address.port,
    requireSignature,
  });
}
