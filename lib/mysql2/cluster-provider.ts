/**
 * One credentials provider used by several nodes of a pool cluster. Each node's pool gets its
 * own view of the provider (its own coordinator calls it), so that:
 *
 * - the node's own `host`, `port` and `database` win over those the provider returns (a shared
 *   secret names one endpoint, usually the writer; a node *is* a server);
 * - `close()` reaches the provider once, when the last node using it has ended (or, for the
 *   cluster's own `credentials`, when the cluster ends);
 * - `retire(credentials)` reaches the provider only once every node that was given those
 *   credentials has retired them, so one node never revokes a lease another still uses.
 */
import { type Credentials, type SealedCredentials, sameCredentials, sealCredentials } from '../credentials.js';
import type { CredentialsProvider, FetchContext } from '../provider.js';

/** Which connection fields a node sets itself, and so keeps over the provider's. */
export interface NodeAddress {
  readonly host: boolean;
  readonly port: boolean;
  readonly database: boolean;
}

interface Holding {
  readonly credentials: SealedCredentials;
  readonly holders: Set<NodeView>;
  retired: boolean;
}

type NodeView = CredentialsProvider;

/** @internal A provider shared by the nodes of one cluster. */
export class SharedProvider {
  readonly provider: CredentialsProvider;
  /** The cluster's own `credentials`: closed by the cluster's `end()`, not by its last node. */
  readonly clusterOwned: boolean;
  readonly #views = new Set<NodeView>();
  readonly #holdings: Holding[] = [];
  /** What each view was given, by the object handed to its coordinator. */
  readonly #originals = new WeakMap<object, SealedCredentials>();
  #closing: Promise<void> | undefined;

  constructor(provider: CredentialsProvider, clusterOwned: boolean) {
    this.provider = provider;
    this.clusterOwned = clusterOwned;
  }

  /** True once the provider itself was closed. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** A provider for one node's pool. */
  view(address: NodeAddress): CredentialsProvider {
    const source = this.provider;
    const view: NodeView = {
      name: source.name,
      getCredentials: async (signal: AbortSignal, current: SealedCredentials | undefined, context: FetchContext) => {
        const original = current === undefined ? undefined : (this.#originals.get(current) ?? current);
        const result = await source.getCredentials(signal, original, context);
        return result === undefined || result === null ? result : this.#adopt(view, address, result);
      },
      close: () => this.#release(view),
    };
    if (typeof source.subscribe === 'function') {
      view.subscribe = (onChange, onError) =>
        source.subscribe!((credentials) => onChange(this.#adopt(view, address, credentials)), onError);
    }
    if (typeof source.retire === 'function') {
      view.retire = (credentials) => this.#retire(view, this.#originals.get(credentials) ?? credentials);
    }
    this.#views.add(view);
    return view;
  }

  /** Unregisters a view whose pool was never created; `onUnused` when no view is left. */
  forget(view: CredentialsProvider, onUnused: () => void): void {
    this.#views.delete(view);
    if (this.#views.size === 0 && !this.clusterOwned) onUnused();
  }

  /** Closes the provider (once), whatever nodes still use it. */
  close(): Promise<void> {
    this.#closing ??= Promise.resolve().then(() => this.provider.close?.());
    return this.#closing;
  }

  /** What the node's coordinator gets: the provider's credentials without the fields the node sets. */
  #adopt(view: NodeView, address: NodeAddress, result: Credentials): Credentials {
    let original: SealedCredentials;
    try {
      original = sealCredentials(result, `provider '${this.provider.name}'`);
    } catch {
      return result; // the coordinator seals it again and reports the same error
    }
    if (typeof this.provider.retire === 'function') this.#hold(view, original);
    const strip =
      (address.host && (original.host !== undefined || original.port !== undefined)) ||
      (address.port && original.port !== undefined) ||
      (address.database && original.database !== undefined);
    if (!strip) return original;
    const own = sealCredentials(
      {
        user: original.user,
        password: original.password,
        ...(address.host || address.port || original.host === undefined ? {} : { host: original.host }),
        ...(address.host || address.port || original.port === undefined ? {} : { port: original.port }),
        ...(address.database || original.database === undefined ? {} : { database: original.database }),
        ...(original.expiresAt === undefined ? {} : { expiresAt: original.expiresAt }),
      },
      `provider '${this.provider.name}'`,
    );
    this.#originals.set(own, original);
    return own;
  }

  #hold(view: NodeView, credentials: SealedCredentials): void {
    const holding = this.#holdings.find((h) => sameCredentials(h.credentials, credentials));
    if (holding) holding.holders.add(view);
    else this.#holdings.push({ credentials, holders: new Set([view]), retired: false });
  }

  async #retire(view: NodeView, credentials: SealedCredentials): Promise<void> {
    const holding = this.#holdings.find((h) => sameCredentials(h.credentials, credentials));
    if (!holding) return;
    holding.holders.delete(view);
    holding.retired = true;
    await this.#retireIfUnused(holding);
  }

  async #retireIfUnused(holding: Holding): Promise<void> {
    if (holding.holders.size > 0) return;
    this.#holdings.splice(this.#holdings.indexOf(holding), 1);
    if (holding.retired && !this.closed) await this.provider.retire?.(holding.credentials);
  }

  /** A node's pool ended: its holdings go, and the last node of a node-owned provider closes it. */
  async #release(view: NodeView): Promise<void> {
    if (!this.#views.delete(view)) return;
    const released = this.#holdings.filter((h) => h.holders.delete(view) && h.holders.size === 0);
    for (const holding of released) await this.#retireIfUnused(holding);
    if (this.#views.size === 0 && !this.clusterOwned) await this.close();
  }
}
