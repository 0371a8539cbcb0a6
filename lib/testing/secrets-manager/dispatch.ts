/**
 * From an HTTP request to an operation's answer: counting the request, reading its JSON body,
 * checking its signature, injecting faults, running the operation and writing the answer, with
 * AWS's errors for anything that goes wrong.
 *
 * @packageDocumentation
 */

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sleep } from '../../abort.js';
import type { SecretsManagerFaults } from './faults.js';
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
import { randomPassword } from './passwords.js';
import { AwsError, DEFAULT_FAULT_MESSAGES, FRAMEWORK_ERRORS, readBody, send, serialization } from './protocol.js';
import type { Rotations } from './rotations.js';
import { verifySignature } from './sigv4.js';
import type { SecretStore } from './store.js';
import type { Input } from './types.js';

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

/** What a request is checked against: the region and keys that sign it, the account of ARNs. */
export interface DispatchSettings {
  readonly region: string;
  readonly accountId: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly requireSignature: boolean;
}

/** Answers the requests of one emulator and counts them. */
export class Dispatcher {
  readonly #settings: DispatchSettings;
  readonly #store: SecretStore;
  readonly #faults: SecretsManagerFaults;
  readonly #operations: Record<string, Operation>;
  readonly #abortOnClose = new AbortController();
  #calls: Record<string, number> = {};
  #callsBySecret = new Map<string, Record<string, number>>();

  constructor(settings: DispatchSettings, store: SecretStore, rotations: Rotations, faults: SecretsManagerFaults) {
    this.#settings = settings;
    this.#store = store;
    this.#faults = faults;
    this.#operations = {
      CreateSecret: (i) => createSecret(store, i),
      GetSecretValue: (i) => getSecretValue(store, i),
      DescribeSecret: (i) => describeSecret(store, i),
      PutSecretValue: (i) => putSecretValue(store, i),
      UpdateSecretVersionStage: (i) => updateSecretVersionStage(store, i),
      ListSecretVersionIds: (i) => listSecretVersionIds(store, i),
      RotateSecret: (i) => rotations.rotateSecret(i),
      CancelRotateSecret: (i) => rotations.cancelRotateSecret(i),
      DeleteSecret: (i) => deleteSecret(store, rotations, i),
      RestoreSecret: (i) => restoreSecret(store, i),
      GetRandomPassword: (i) => ({ RandomPassword: randomPassword(i) }),
    };
  }

  /** See {@link SecretsManagerEmulator.calls}. */
  get calls(): Record<string, number> {
    return { ...this.#calls };
  }

  /** See {@link SecretsManagerEmulator.callsFor}. */
  callsFor(secretId: string): Record<string, number> {
    const secret = this.#store.find(secretId);
    return { ...(this.#callsBySecret.get(secret?.arn ?? secretId) ?? {}) };
  }

  /** See {@link SecretsManagerEmulator.resetCalls}. */
  resetCalls(): void {
    this.#calls = {};
    this.#callsBySecret = new Map();
  }

  /** Cuts short the requests held by injected latency: their connections are destroyed unanswered. */
  close(): void {
    this.#abortOnClose.abort();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
    const named =
      input &&
      (typeof input.SecretId === 'string'
        ? input.SecretId
        : operation === 'CreateSecret' && typeof input.Name === 'string'
          ? input.Name
          : undefined);
    if (named !== undefined) {
      const key = this.#store.find(named)?.arn ?? named;
      const counts = this.#callsBySecret.get(key) ?? {};
      counts[countAs] = (counts[countAs] ?? 0) + 1;
      this.#callsBySecret.set(key, counts);
    }

    try {
      const { region, accessKeyId, secretAccessKey, requireSignature } = this.#settings;
      if (requireSignature) verifySignature(req, body, { region, accessKeyId, secretAccessKey }, Date.now());
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
      const fault = this.#faults.take(operation, named);
      if (fault.latencyMs > 0) {
        await sleep(fault.latencyMs, this.#abortOnClose.signal).catch(() => {});
        if (this.#abortOnClose.signal.aborted) {
          res.destroy();
          return;
        }
      }
      if (fault.error) {
        const { name, status } = fault.error;
        const message = fault.error.message ?? this.#defaultFaultMessage(name, operation, named);
        throw new AwsError(name, message, status, FRAMEWORK_ERRORS.has(name));
      }
      const output = this.#operations[operation](input!);
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
        `User: arn:aws:iam::${this.#settings.accountId}:user/emulator is not authorized to perform: secretsmanager:${operation} ` +
        `on resource: ${secretId ?? '*'} because no identity-based policy allows the secretsmanager:${operation} action`
      );
    }
    return DEFAULT_FAULT_MESSAGES[name] ?? `Injected ${name} from the Secrets Manager emulator.`;
  }
}
