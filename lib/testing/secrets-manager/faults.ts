/**
 * Fault injection for the Secrets Manager emulator: throttling, 5xx answers, latency and
 * errors of choice for the next matching requests.
 *
 * @packageDocumentation
 */

import { InvalidOptionError } from '../../errors.js';
import { expectObject, integer, rejectUnknownKeys, string } from '../../options.js';

/** Which requests a fault applies to; every field left out matches everything. */
export interface FaultMatch {
  /** The operation name, e.g. `'GetSecretValue'`. */
  operation?: string;
  /** The secret (name or ARN) the request names in `SecretId`. */
  secretId?: string;
}

/** Options of {@link SecretsManagerFaults.fail}. */
export interface FailFaultOptions extends FaultMatch {
  /**
   * HTTP status of the injected `InternalServiceError`: 500 or another 5xx.
   * @defaultValue `500`
   */
  status?: number;
}

/** Options of {@link SecretsManagerFaults.error}. */
export interface ErrorFaultOptions extends FaultMatch {
  /** The error name, e.g. `'AccessDeniedException'`, `'DecryptionFailure'`, `'LimitExceededException'`. */
  name: string;
  /**
   * The message.
   * @defaultValue AWS's wording for the known names, otherwise a generic one
   */
  message?: string;
  /**
   * HTTP status.
   * @defaultValue `500` for `InternalServiceError`, `400` otherwise
   */
  status?: number;
}

interface Fault {
  match: FaultMatch;
  /** Requests left to fail; `Infinity` for latency. */
  remaining: number;
  latencyMs?: number;
  error?: { name: string; message: string | undefined; status: number };
}

function expectMatch(value: unknown, path: string, extra: readonly string[]): Record<string, unknown> {
  const bag = expectObject(value ?? {}, path) ?? {};
  rejectUnknownKeys(bag, new Set(['operation', 'secretId', ...extra]), `${path}.`);
  string(bag, 'operation', `${path}.`);
  string(bag, 'secretId', `${path}.`);
  return bag;
}

function expectCount(n: unknown, path: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new InvalidOptionError(path, 'must be an integer of at least 1');
  }
  return n;
}

/**
 * Fault injection, at {@link SecretsManagerEmulator.faults}. Faults apply to requests that
 * passed the signature check, in the order they were added; counted faults expire after `n`
 * matching requests. The SDK retries `ThrottlingException` and 5xx answers (3 attempts by
 * default): each attempt is a request here.
 */
export class SecretsManagerFaults {
  readonly #faults: Fault[] = [];
  readonly #matches: (match: FaultMatch, operation: string, secretId: string | undefined) => boolean;

  /** @internal */
  constructor(matches: (match: FaultMatch, operation: string, secretId: string | undefined) => boolean) {
    this.#matches = matches;
  }

  /**
   * The next `n` matching requests fail with `ThrottlingException: Rate exceeded` (HTTP 400).
   * @example
   * ```ts
   * emulator.faults.throttle(2, { operation: 'GetSecretValue' });
   * ```
   */
  throttle(n: number, match: FaultMatch = {}): void {
    const count = expectCount(n, 'faults.throttle(n)');
    const m = expectMatch(match, 'faults.throttle.options', []);
    this.#faults.push({ match: m, remaining: count, error: { name: 'ThrottlingException', message: undefined, status: 400 } });
  }

  /**
   * The next `n` matching requests fail with `InternalServiceError` (HTTP 500, or `status`).
   * @example
   * ```ts
   * emulator.faults.fail(1, { operation: 'DescribeSecret' });
   * ```
   */
  fail(n: number, options: FailFaultOptions = {}): void {
    const count = expectCount(n, 'faults.fail(n)');
    const bag = expectMatch(options, 'faults.fail.options', ['status']);
    const status = integer(bag, 'status', 'faults.fail.options.', 500, 500);
    if (status > 599) throw new InvalidOptionError('faults.fail.options.status', 'must be a 5xx status');
    this.#faults.push({ match: bag, remaining: count, error: { name: 'InternalServiceError', message: undefined, status } });
  }

  /**
   * Every matching request is answered `ms` milliseconds late, until {@link clear}. Latencies
   * of several matching faults add up.
   * @example
   * ```ts
   * emulator.faults.latency(200, { operation: 'GetSecretValue' });
   * ```
   */
  latency(ms: number, match: FaultMatch = {}): void {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new InvalidOptionError('faults.latency(ms)', 'must be a finite number of milliseconds >= 0');
    }
    const m = expectMatch(match, 'faults.latency.options', []);
    this.#faults.push({ match: m, remaining: Infinity, latencyMs: ms });
  }

  /**
   * The next `n` matching requests fail with the error `name`, e.g. `AccessDeniedException`
   * or `DecryptionFailure`.
   * @example
   * ```ts
   * emulator.faults.error(1, { name: 'DecryptionFailure', secretId: 'prod/db' });
   * ```
   */
  error(n: number, options: ErrorFaultOptions): void {
    const count = expectCount(n, 'faults.error(n)');
    const bag = expectMatch(options, 'faults.error.options', ['name', 'message', 'status']);
    const name = string(bag, 'name', 'faults.error.options.');
    if (name === undefined) throw new InvalidOptionError('faults.error.options.name', 'is required');
    const message = typeof bag.message === 'string' ? bag.message : undefined;
    if (bag.message !== undefined && typeof bag.message !== 'string') {
      throw new InvalidOptionError('faults.error.options.message', 'must be a string');
    }
    const status = integer(bag, 'status', 'faults.error.options.', name === 'InternalServiceError' ? 500 : 400, 400);
    if (status > 599) throw new InvalidOptionError('faults.error.options.status', 'must be a 4xx or 5xx status');
    this.#faults.push({ match: bag, remaining: count, error: { name, message, status } });
  }

  /**
   * Removes every fault.
   * @example
   * ```ts
   * afterEach(() => emulator.faults.clear());
   * ```
   */
  clear(): void {
    this.#faults.length = 0;
  }

  /** @internal The latency and the error (if any) for a request; consumes counted faults. */
  take(operation: string, secretId: string | undefined): { latencyMs: number; error?: Fault['error'] } {
    let latencyMs = 0;
    let error: Fault['error'];
    for (let i = 0; i < this.#faults.length; i++) {
      const fault = this.#faults[i];
      if (!this.#matches(fault.match, operation, secretId)) continue;
      if (fault.latencyMs !== undefined) latencyMs += fault.latencyMs;
      else if (error === undefined) {
        error = fault.error;
        fault.remaining -= 1;
        if (fault.remaining <= 0) this.#faults.splice(i--, 1);
      }
    }
    return { latencyMs, error };
  }
}
