/**
 * Which credentials each open connection logged in with, and what follows from it: when a
 * generation is verified, which connections are stale, which credentials to fall back to, and
 * when an old generation's credentials are no longer used by anything.
 *
 * @packageDocumentation
 */

import type { CredentialsSnapshot } from './coordinator.js';
import { sameTokenAccount, type SealedCredentials } from './credentials.js';

/**
 * The ledger of one pool (or one ORM's pool) of connections. The rules it owns:
 *
 * - A generation is **verified** when a login with its credentials worked. Only then do
 *   connections of older generations become **stale** (to be drained): credentials the server
 *   does not accept yet never cost a pool its working connections.
 * - **A new token is not a new user.** When the verified credentials and the ones verified
 *   before them are both tokens for the same account (`kind: 'token'`, same user, host, port and
 *   database: {@link sameTokenAccount}), nothing becomes stale: the server checks a token only at
 *   login, so connections opened with the older token are as good as new ones. Only new logins
 *   send the new token. Any other change (a password, another user or host) makes every older
 *   generation stale, as before.
 * - When newer credentials are refused and the provider has nothing newer, logins **fall back**
 *   to the newest verified credentials (the server may not have caught up with a pushed secret),
 *   unless their `expiresAt` has passed.
 * - A generation older than the verified one with no open connection left is **unused**: its
 *   credentials go to `onUnused` once (the coordinator then tells the provider, which may revoke
 *   a lease). Tokens are forgotten without `onUnused`: there is nothing to revoke.
 *
 * Connections are counted per generation by {@link opened} and {@link closed}; an integration
 * that cannot see its connections close (Knex) uses {@link verify} only and never reports
 * credentials unused.
 */
export class GenerationLedger {
  /** The newest generation a login has worked with; 0 before any. */
  #verified = 0;
  #verifiedSnapshot: CredentialsSnapshot | undefined;
  /** Connections of generations below this one are stale; it moves only when the account changes. */
  #staleBelow = 0;
  /** Open connections per generation, with the credentials they logged in with. */
  readonly #open = new Map<number, { count: number; credentials: SealedCredentials }>();
  readonly #onUnused: (generation: number, credentials: SealedCredentials) => void;

  /** @param onUnused called once per generation whose credentials no open connection uses any more. */
  constructor(onUnused: (generation: number, credentials: SealedCredentials) => void = () => {}) {
    this.#onUnused = onUnused;
  }

  /** The newest generation a login has worked with (0 before any). */
  get verified(): number {
    return this.#verified;
  }

  /**
   * A login with `snapshot` worked, and its connection is open until {@link closed}. Returns true
   * when this made connections of older generations stale: the caller drains them.
   */
  opened(snapshot: CredentialsSnapshot): boolean {
    const open = this.#open.get(snapshot.generation);
    if (open) open.count += 1;
    else this.#open.set(snapshot.generation, { count: 1, credentials: snapshot.credentials });
    return this.verify(snapshot);
  }

  /**
   * A login with `snapshot` worked, without counting its connection. Returns true when this
   * made connections of older generations stale: a newer generation was verified and it is not
   * just a new token for the same account.
   */
  verify(snapshot: CredentialsSnapshot): boolean {
    if (snapshot.generation <= this.#verified) return false;
    const staled = this.makesStale(snapshot);
    this.#verified = snapshot.generation;
    this.#verifiedSnapshot = snapshot;
    if (staled) this.#staleBelow = snapshot.generation;
    this.#releaseUnused();
    return staled;
  }

  /**
   * True when verifying `snapshot` would make connections of older generations stale: anything
   * but a new token for the account of the verified credentials. A pool need not open a
   * connection to verify new credentials early when this is false: nothing waits to drain.
   */
  makesStale(snapshot: CredentialsSnapshot): boolean {
    return !sameTokenAccount(this.#verifiedSnapshot?.credentials, snapshot.credentials);
  }

  /** A connection {@link opened} with `generation`'s credentials closed. */
  closed(generation: number): void {
    const open = this.#open.get(generation);
    if (!open) return;
    open.count -= 1;
    this.#releaseUnused();
  }

  /**
   * True for a connection of `generation` once newer credentials for another account (or a
   * password rather than a token) are verified; never for an older token of the same account.
   */
  isStale(generation: number): boolean {
    return generation < this.#staleBelow;
  }

  /**
   * What to log in with after `refused`'s credentials were refused and the provider had nothing
   * newer: the newest verified credentials, if they are older than the refused ones and have not
   * expired (an expired token or lease would only be refused too).
   */
  fallbackFor(refused: number): CredentialsSnapshot | undefined {
    const fallback = this.#verifiedSnapshot;
    if (fallback === undefined || fallback.generation >= refused) return undefined;
    const expiresAt = fallback.credentials.expiresAt;
    return expiresAt !== undefined && expiresAt <= Date.now() ? undefined : fallback;
  }

  /** Open connections counted by {@link opened}, and how many of them are stale. */
  counts(): { connections: number; stale: number } {
    let connections = 0;
    let stale = 0;
    for (const [generation, open] of this.#open) {
      connections += open.count;
      if (this.isStale(generation)) stale += open.count;
    }
    return { connections, stale };
  }

  #releaseUnused(): void {
    for (const [generation, open] of this.#open) {
      if (open.count > 0 || generation >= this.#verified) continue;
      this.#open.delete(generation);
      if (open.credentials.kind !== 'token') this.#onUnused(generation, open.credentials);
    }
  }
}
