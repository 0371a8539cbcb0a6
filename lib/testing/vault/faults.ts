/**
 * Fault injection for the Vault emulator: refuse (403), answer with a status code, drop the
 * connection, or delay, for the next N requests, optionally only on one route or path.
 *
 * @packageDocumentation
 */

import { InvalidOptionError } from '../../errors.js';
import { expectObject, rejectUnknownKeys } from '../../options.js';
import { VAULT_PERMISSION_DENIED_ERROR } from './http.js';

/**
 * Which requests a fault applies to. Without `path`, every request (`sys/health` included).
 *
 * @example
 * ```ts
 * vault.faults.forbid(1, { path: 'database/creds/:role' }); // the route, any role
 * vault.faults.forbid(1, { path: 'database/creds/app' });   // one path
 * vault.faults.forbid(1, { path: /^auth\// });              // a pattern, tested against the path
 * ```
 */
export interface VaultFaultScope {
  /**
   * A route name as counted in {@link VaultEmulator.calls} (`'database/creds/:role'`), an exact
   * request path without `/v1/` (`'database/creds/app'`), or a pattern tested against that path.
   *
   * @defaultValue every request
   */
  path?: string | RegExp;
}

/** Options of {@link VaultFaults.status}. */
export interface VaultStatusFaultOptions extends VaultFaultScope {
  /**
   * The `errors` array of the response body.
   *
   * @defaultValue Vault's message for the status: `["rate limit quota exceeded"]` (with the
   * path) for 429, `["required index state not present"]` for 412, `["Vault is sealed"]` for
   * 503, `["internal error"]` for 500, `[]` otherwise
   */
  errors?: string[];
}

/** Options of {@link VaultFaults.latency}. */
export interface VaultLatencyFaultOptions extends VaultFaultScope {
  /**
   * How many requests to delay.
   *
   * @defaultValue `Infinity` (until {@link VaultFaults.clear})
   */
  count?: number;
}

/**
 * Faults to inject into the emulator's answers. Each applies to the next `count` matching
 * requests, in the order they were added; {@link VaultFaults.clear} removes them all. A
 * request's latency comes first, then at most one of drop, status or forbid.
 *
 * @example
 * ```ts
 * vault.faults.status(2, 429, { path: 'database/creds/:role' }); // throttled twice
 * vault.faults.dropConnections(1);                              // next request: socket destroyed
 * vault.faults.latency(500, { path: 'sys/leases/renew' });       // every renewal takes 500 ms more
 * ```
 */
export interface VaultFaults {
  /** The next `count` matching requests get 403 `permission denied`, as from a policy. */
  forbid(count: number, scope?: VaultFaultScope): void;
  /** The next `count` matching requests get `statusCode` with a Vault error body. */
  status(count: number, statusCode: number, options?: VaultStatusFaultOptions): void;
  /** The next `count` matching requests have their socket destroyed without an answer. */
  dropConnections(count: number, scope?: VaultFaultScope): void;
  /** Matching requests are answered `ms` milliseconds later than they would be. */
  latency(ms: number, options?: VaultLatencyFaultOptions): void;
  /** Removes every fault. */
  clear(): void;
}

/** What to do to one request instead of answering it. */
export type FaultAction =
  { readonly kind: 'drop' } | { readonly kind: 'status'; readonly statusCode: number; readonly errors: readonly string[] };

interface Rule {
  readonly path: string | RegExp | undefined;
  remaining: number;
  readonly latencyMs?: number;
  readonly action?: (path: string) => FaultAction;
}

function checkCount(value: unknown, option: string): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidOptionError(option, 'must be a positive integer or Infinity');
  }
  return value;
}

function checkScope(scope: VaultFaultScope | undefined, allowed: readonly string[], prefix: string): string | RegExp | undefined {
  const bag = expectObject(scope, prefix.slice(0, -1), true);
  if (bag === undefined) return undefined;
  rejectUnknownKeys(bag, new Set(allowed), prefix);
  const path = bag.path;
  if (path !== undefined && !(path instanceof RegExp) && (typeof path !== 'string' || path === '')) {
    throw new InvalidOptionError(`${prefix}path`, 'must be a non-empty string or a RegExp');
  }
  return path;
}

function defaultErrors(statusCode: number, path: string): string[] {
  switch (statusCode) {
    case 403:
      return [VAULT_PERMISSION_DENIED_ERROR];
    case 412:
      return ['required index state not present'];
    case 429:
      return [`request path "${path}": rate limit quota exceeded`];
    case 500:
      return ['internal error'];
    case 503:
      return ['Vault is sealed'];
    default:
      return [];
  }
}

/** @internal */
export class Faults implements VaultFaults {
  private rules: Rule[] = [];

  forbid(count: number, scope?: VaultFaultScope): void {
    const remaining = checkCount(count, 'faults.forbid(count)');
    const path = checkScope(scope, ['path'], 'faults.forbid(scope).');
    this.rules.push({ path, remaining, action: () => ({ kind: 'status', statusCode: 403, errors: [VAULT_PERMISSION_DENIED_ERROR] }) });
  }

  status(count: number, statusCode: number, options?: VaultStatusFaultOptions): void {
    const remaining = checkCount(count, 'faults.status(count)');
    if (!Number.isInteger(statusCode) || statusCode < 400 || statusCode > 599) {
      throw new InvalidOptionError('faults.status(statusCode)', 'must be an integer from 400 to 599');
    }
    const path = checkScope(options, ['path', 'errors'], 'faults.status(options).');
    const errors = options?.errors;
    if (errors !== undefined && (!Array.isArray(errors) || errors.some((e) => typeof e !== 'string'))) {
      throw new InvalidOptionError('faults.status(options).errors', 'must be an array of strings');
    }
    this.rules.push({
      path,
      remaining,
      action: (requestPath) => ({ kind: 'status', statusCode, errors: errors ?? defaultErrors(statusCode, requestPath) }),
    });
  }

  dropConnections(count: number, scope?: VaultFaultScope): void {
    const remaining = checkCount(count, 'faults.dropConnections(count)');
    const path = checkScope(scope, ['path'], 'faults.dropConnections(scope).');
    this.rules.push({ path, remaining, action: () => ({ kind: 'drop' }) });
  }

  latency(ms: number, options?: VaultLatencyFaultOptions): void {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new InvalidOptionError('faults.latency(ms)', 'must be a finite number of milliseconds >= 0');
    }
    const path = checkScope(options, ['path', 'count'], 'faults.latency(options).');
    const remaining = options?.count === undefined ? Number.POSITIVE_INFINITY : checkCount(options.count, 'faults.latency(options).count');
    this.rules.push({ path, remaining, latencyMs: ms });
  }

  clear(): void {
    this.rules = [];
  }

  /**
   * Takes the faults for one request: the longest matching latency, and the first matching
   * action. Each rule used counts one request.
   */
  take(route: string, path: string): { latencyMs: number; action: FaultAction | undefined } {
    let latencyMs = 0;
    let action: FaultAction | undefined;
    for (const rule of this.rules) {
      if (!matches(rule.path, route, path)) continue;
      if (rule.latencyMs !== undefined) {
        latencyMs = Math.max(latencyMs, rule.latencyMs);
        rule.remaining -= 1;
      } else if (action === undefined && rule.action !== undefined) {
        action = rule.action(path);
        rule.remaining -= 1;
      }
    }
    this.rules = this.rules.filter((rule) => rule.remaining > 0);
    return { latencyMs, action };
  }
}

function matches(scope: string | RegExp | undefined, route: string, path: string): boolean {
  if (scope === undefined) return true;
  if (scope instanceof RegExp) {
    scope.lastIndex = 0;
    return scope.test(path);
  }
  return scope === route || scope === path;
}
