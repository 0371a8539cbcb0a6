/**
 * `chain()`: one provider made of several, asked in order. A provider is skipped only when it
 * fails with an error marked "try the next provider" ({@link tryNextProvider}); any other error,
 * and any answer (`undefined`, "unchanged", included), ends the call there.
 *
 * @packageDocumentation
 */

import { sameCredentials, type Credentials, type SealedCredentials } from './credentials.js';
import { ClosedError, InvalidOptionError, ProviderError } from './errors.js';
import { checkSubscriber, toProvider, type CredentialsProvider, type FetchContext, type HotSwapFunction } from './provider.js';

/** The mark, by `Symbol.for` so that it is seen across two copies of the package. */
const TRY_NEXT = Symbol.for('credswap.tryNextProvider');

/**
 * How many credentials a chain remembers the provider of, for `retire()`. The coordinator retires
 * each generation once, soon after the next one drains, so a few are in question at a time.
 */
const REMEMBERED_ORIGINS = 16;

/**
 * Marks `error` as "this provider has nothing to give here, ask the next one", and returns it.
 * For errors that say a source is absent (nothing listens on the port, no file at the path), not
 * for errors that say it is misconfigured: those should stop the chain and be seen.
 *
 * @throws InvalidOptionError when `error` is not an object.
 *
 * @example
 * ```ts
 * const fromEnv = fromFunction(async () => {
 *   if (!process.env.DB_PASSWORD) throw tryNextProvider(new Error('DB_PASSWORD is not set'));
 *   return { user: process.env.DB_USER ?? 'app', password: process.env.DB_PASSWORD };
 * }, { name: 'env' });
 * ```
 */
export function tryNextProvider<T extends Error>(error: T): T {
  if (typeof error !== 'object' || error === null) throw new InvalidOptionError('error', 'must be an Error to be marked');
  if (!shouldTryNextProvider(error)) Object.defineProperty(error, TRY_NEXT, { value: true });
  return error;
}

/**
 * True when `error` was marked with {@link tryNextProvider}: a chain asks its next provider.
 *
 * @example
 * ```ts
 * if (shouldTryNextProvider(error)) console.warn(`${provider.name} is not there: ${error.message}`);
 * ```
 */
export function shouldTryNextProvider(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[TRY_NEXT] === true;
}

/**
 * One provider made of several. Each call asks the providers in order, starting with the first,
 * and moves on to the next only when one fails with an error marked by {@link tryNextProvider}.
 * Its answer, credentials or `undefined` ("unchanged"), is the chain's; any other error is the
 * chain's error, and so is the last provider's marked error when every one was skipped.
 *
 * - The caller's signal, current credentials and context go to each provider as they are; once
 *   the signal fires, no further provider is asked and the call rejects with its reason.
 * - `subscribe()` (when any provider has it) follows the provider that answered the last call:
 *   its pushes and background errors reach the subscriber, the other providers' do not, so a
 *   provider further down never overrides the one in use, nor polls while it is not.
 * - `retire(credentials)` (when any provider has it) goes to the provider that produced them.
 * - `close()` closes every provider, and rejects with the first failure (the others are still
 *   closed).
 *
 * Providers may be provider objects or hot-swap functions.
 *
 * @throws InvalidOptionError when there is no provider, or an argument is neither.
 *
 * @example
 * ```ts
 * import { chain } from 'credswap';
 * import { LambdaExtensionProvider, SecretsManagerProvider } from 'credswap/aws';
 *
 * // The extension when it runs; Secrets Manager directly when nothing listens on its port.
 * const credentials = chain(
 *   new LambdaExtensionProvider({ secretId: 'prod/orders/mysql' }),
 *   new SecretsManagerProvider({ secretId: 'prod/orders/mysql', refreshIntervalMs: 0 }),
 * );
 * ```
 */
export function chain(...providers: Array<CredentialsProvider | HotSwapFunction>): CredentialsProvider {
  if (providers.length === 0) throw new InvalidOptionError('chain', 'needs at least one provider');
  return new ProviderChain(providers.map((provider, i) => toProvider(provider, `chain[${i}]`)));
}

interface Subscriber {
  readonly onChange: (credentials: Credentials) => void;
  readonly onError: (error: Error) => void;
}

class ProviderChain implements CredentialsProvider {
  readonly name: string;
  readonly subscribe?: (onChange: (credentials: Credentials) => void, onError: (error: Error) => void) => () => void;
  readonly retire?: (credentials: SealedCredentials) => void | Promise<void>;

  readonly #links: readonly CredentialsProvider[];
  /** Who produced the credentials handed out lately (by providers that retire), newest last. */
  readonly #origins: Array<{ readonly credentials: Credentials; readonly link: CredentialsProvider }> = [];
  /** The provider that answered the last call: the one subscribers follow. */
  #active: CredentialsProvider | undefined;
  readonly #subscribers = new Set<Subscriber>();
  #unlisten: (() => void) | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(links: readonly CredentialsProvider[]) {
    this.#links = links;
    this.name = `chain(${links.map((link) => link.name).join(', ')})`;
    if (links.some((link) => link.subscribe !== undefined)) {
      this.subscribe = (onChange, onError) => this.#subscribe(onChange, onError);
    }
    if (links.some((link) => link.retire !== undefined)) {
      this.retire = (credentials) => this.#originOf(credentials)?.retire?.(credentials);
    }
  }

  async getCredentials(
    signal: AbortSignal,
    current: SealedCredentials | undefined,
    context: FetchContext,
  ): Promise<Credentials | undefined> {
    signal.throwIfAborted();
    if (this.#closed) throw new ClosedError(`provider '${this.name}'`);
    let skipped: unknown;
    for (const link of this.#links) {
      let credentials: Credentials | undefined;
      try {
        credentials = await link.getCredentials(signal, current, context);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (!shouldTryNextProvider(error) || this.#closed) throw error;
        skipped = error;
        continue;
      }
      if (signal.aborted) throw signal.reason;
      if (!this.#closed) {
        this.#remember(link, credentials);
        this.#follow(link);
      }
      return credentials;
    }
    throw skipped;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#subscribers.clear();
    this.#stopListening();
    this.#origins.length = 0;
    const results = await Promise.allSettled([...new Set(this.#links)].map(async (link) => link.close?.()));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  #subscribe(onChange: (credentials: Credentials) => void, onError: (error: Error) => void): () => void {
    if (this.#closed) throw new ClosedError(`provider '${this.name}'`);
    checkSubscriber('chain', onChange, onError);
    const subscriber: Subscriber = { onChange, onError };
    this.#subscribers.add(subscriber);
    if (this.#subscribers.size === 1) this.#listen();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.#subscribers.delete(subscriber);
      if (this.#subscribers.size === 0) this.#stopListening();
    };
  }

  /** Makes `link` the provider subscribers follow, moving the subscription when it changed. */
  #follow(link: CredentialsProvider): void {
    if (this.#active === link) return;
    this.#active = link;
    if (this.#subscribers.size > 0) this.#listen();
  }

  /** Subscribes to the active provider on behalf of every subscriber (after unsubscribing from the last one). */
  #listen(): void {
    this.#stopListening();
    const link = this.#active;
    if (link?.subscribe === undefined || this.#closed) return;
    this.#unlisten = link.subscribe(
      (credentials) => {
        if (link !== this.#active || this.#closed) return;
        this.#remember(link, credentials);
        for (const s of [...this.#subscribers]) {
          try {
            s.onChange(credentials);
          } catch (error) {
            report(s, link, error);
          }
        }
      },
      (error) => {
        if (link !== this.#active || this.#closed) return;
        for (const s of [...this.#subscribers]) report(s, link, error);
      },
    );
  }

  #stopListening(): void {
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    unlisten?.();
  }

  #remember(link: CredentialsProvider, credentials: Credentials | undefined): void {
    if (credentials === undefined || credentials === null || link.retire === undefined) return;
    this.#origins.push({ credentials, link });
    if (this.#origins.length > REMEMBERED_ORIGINS) this.#origins.shift();
  }

  /**
   * The provider that produced `credentials`, newest first, forgotten once found (a generation is
   * retired once). The coordinator seals what a provider returns: a sealed result is the very
   * object retired, a plain one comes back as an equal copy.
   */
  #originOf(credentials: SealedCredentials): CredentialsProvider | undefined {
    for (let i = this.#origins.length - 1; i >= 0; i--) {
      const origin = this.#origins[i];
      if (origin.credentials === credentials || sameCredentials(origin.credentials, credentials)) {
        this.#origins.splice(i, 1);
        return origin.link;
      }
    }
    return undefined;
  }
}

/**
 * Gives `error` to the subscriber's `onError` (what its `onChange` throws goes there too); what
 * that throws is dropped.
 */
function report(subscriber: Subscriber, link: CredentialsProvider, error: unknown): void {
  try {
    subscriber.onError(error instanceof Error ? error : new ProviderError(link.name, error));
  } catch {
    // Nowhere else to go.
  }
}
