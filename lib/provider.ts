import type { Credentials, SealedCredentials } from './credentials.js';
import { InvalidOptionError } from './errors.js';

/** Why the coordinator is asking a provider for credentials. */
export type FetchReason = 'initial' | 'rejected' | 'expiring' | 'manual';

/** What a provider is told about the call besides the signal and the current credentials. */
export interface FetchContext {
  /**
   * `initial`: the first fetch, before the first connection. `rejected`: the server refused
   * `current` with 1045. `expiring`: `current.expiresAt` is near. `manual`: `coordinator.refresh()`.
   */
  readonly reason: FetchReason;
}

/**
 * The hot-swap callback: given an AbortSignal and the current (on `rejected`, the rejected)
 * credentials, return new credentials, or `undefined` for "unchanged".
 *
 * The signal fires at `rotation.timeoutMs` or when the pool ends; a callback that ignores it
 * is abandoned and its late result ignored.
 *
 * @example
 * ```ts
 * const hotSwap: HotSwapFunction = async (signal) => {
 *   const res = await fetch('http://127.0.0.1:8200/creds', { signal });
 *   return (await res.json()) as Credentials;
 * };
 * ```
 */
export type HotSwapFunction = (
  signal: AbortSignal,
  current: SealedCredentials | undefined,
  context: FetchContext,
) => Promise<Credentials | undefined>;

/**
 * A source of credentials. Providers only fetch: the coordinator decides when to call them.
 */
export interface CredentialsProvider {
  /** A name for messages and events, such as `file:/etc/db/creds.json`. Never a secret. */
  readonly name: string;
  /**
   * The hot-swap callback (see {@link HotSwapFunction}). Must honour `signal`: reject with
   * `signal.reason` once it fires.
   */
  getCredentials(signal: AbortSignal, current: SealedCredentials | undefined, context: FetchContext): Promise<Credentials | undefined>;
  /**
   * Optional, for providers that notice changes themselves (a file watch, a background poll).
   * The coordinator subscribes after the first successful fetch; `onChange` starts a new
   * generation when the credentials differ, `onError` is reported as a `rotation-error`.
   * Returns a function that unsubscribes.
   */
  subscribe?(onChange: (credentials: Credentials) => void, onError: (error: Error) => void): () => void;
  /**
   * Optional, for providers of short-lived credentials (a Vault lease): the pool has closed the
   * last connection opened with `credentials`, and newer credentials are in use, so the
   * provider may revoke them now. Called at most once per generation; never for the credentials
   * in use when the pool ends (`close()` covers those), nor for credentials no connection ever
   * used. Errors are reported as `rotation-error` events.
   */
  retire?(credentials: SealedCredentials): void | Promise<void>;
  /** Optional: release what the provider holds (watchers, timers, leases). Called by `end()`. */
  close?(): void | Promise<void>;
}

/** Options of {@link fromFunction}. */
export interface FromFunctionOptions {
  /**
   * The provider's name in messages and events.
   * @defaultValue the function's name, or `function`
   */
  name?: string;
}

/**
 * Wraps a hot-swap function as a provider.
 *
 * @example
 * ```ts
 * import { fromFunction } from 'credswap';
 * const provider = fromFunction(async (signal) => loadFromMyVault(signal), { name: 'my-vault' });
 * ```
 */
export function fromFunction(fn: HotSwapFunction, options: FromFunctionOptions = {}): CredentialsProvider {
  if (typeof fn !== 'function') {
    throw new InvalidOptionError('credentials', 'must be a function or a provider object');
  }
  const name = options.name ?? (fn.name ? `function:${fn.name}` : 'function');
  return {
    name,
    getCredentials: (signal, current, context) => fn(signal, current, context),
  };
}

/**
 * Checks the two callbacks a provider's `subscribe()` receives.
 *
 * @param owner - the provider's class name, for the option path (`FileProvider.subscribe.onChange`)
 * @throws InvalidOptionError when either is not a function.
 */
export function checkSubscriber(owner: string, onChange: unknown, onError: unknown): void {
  if (typeof onChange !== 'function') throw new InvalidOptionError(`${owner}.subscribe.onChange`, 'must be a function');
  if (typeof onError !== 'function') throw new InvalidOptionError(`${owner}.subscribe.onError`, 'must be a function');
}

/** True when `value` has the shape of a {@link CredentialsProvider}. */
export function isProvider(value: unknown): value is CredentialsProvider {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as CredentialsProvider).getCredentials === 'function' &&
    typeof (value as CredentialsProvider).name === 'string'
  );
}

/** A provider from what the user passed as `credentials`: a provider object or a function. */
export function toProvider(value: unknown, option = 'credentials'): CredentialsProvider {
  if (typeof value === 'function') return fromFunction(value as HotSwapFunction);
  if (isProvider(value)) return value;
  throw new InvalidOptionError(option, 'must be a hot-swap function or a provider object with name and getCredentials()');
}

const PROGRAMMER_ERRORS = [TypeError, ReferenceError, SyntaxError, RangeError] as const;

/**
 * True when a provider failed because of a bug rather than an outage: a `TypeError`,
 * `ReferenceError`, `SyntaxError` or `RangeError` (subclasses included, such as credswap's own
 * `InvalidOptionError`). Retrying cannot fix those, so the coordinator does not back off or
 * retry them: it fails its waiters at once and reports each one.
 *
 * Two exceptions, which are outages wearing a programmer error's class:
 * - an error with a `cause` wraps a lower-level failure: undici's `fetch` (Node's global `fetch`)
 *   reports a refused connection or a reset socket as `TypeError: fetch failed` (or
 *   `terminated`), with the network error as its `cause`;
 * - a `SyntaxError` about JSON: a body that is not JSON, such as a proxy's HTML error page.
 *
 * @example
 * ```ts
 * isProgrammerError(new TypeError("Cannot read properties of undefined (reading 'password')")); // true
 * isProgrammerError(new TypeError('fetch failed', { cause: econnrefused })); // false: an outage
 * ```
 */
export function isProgrammerError(error: unknown): boolean {
  if (!PROGRAMMER_ERRORS.some((kind) => error instanceof kind)) return false;
  const e = error as Error;
  if (e.cause !== undefined) return false;
  return !(e instanceof SyntaxError && /JSON/.test(e.message));
}
