/**
 * {@link LeaseKeeper}: keeps the leases of `VaultDatabaseProvider` alive until the pool is done
 * with them. It renews each lease, notices when renewing can no longer extend one (capped) or
 * Vault ended it (expired, or revoked with its token), revokes leases on retire and close, and
 * reports all of it as {@link VaultLeaseEvent}s.
 *
 * @packageDocumentation
 */

import { unrefTimer } from '../../lib/backoff.js';
import { sealCredentials } from '../../lib/credentials.js';
import { ClosedError } from '../../lib/errors.js';
import type { VaultResponse } from './client.js';
import { VaultError } from './errors.js';
import { canRenew, effectiveExpiresAt, isFinal, sentNow, setEnd, timeLeft, type Lease, type SentAt } from './lease.js';
import { renewDelay, retryDelay } from './renewal.js';
import type { VaultSession, VaultTokenEvent } from './session.js';

/** The first retry of a failed renewal; later ones back off exponentially. */
const RETRY_BASE_MS = 250;

/**
 * Payload of the `lease` event of `VaultDatabaseProvider`. Carries no secret: the lease id
 * and the user name are not secret (Vault shows them in its audit log and `sys/leases/lookup`).
 *
 * - `issued`: new credentials (`GET <mount>/creds/<role>`);
 * - `renewed`: the lease was extended;
 * - `capped`: renewal no longer extends it (the role's `max_ttl`, the end of the token that
 *   created it, or Vault refused the renewal for good, as a policy without `update` on
 *   `sys/leases/renew` does): `expiresAt` is its hard end, and the pool moves to new
 *   credentials before it;
 * - `revoked`: the provider revoked it (retired, closed);
 * - `expired`: it ended without the provider revoking it: it ran out, or Vault revoked it with
 *   the token that created it.
 *
 * @example
 * ```ts
 * provider.on('lease', (e: VaultLeaseEvent) => console.log(e.type, e.user, e.leaseId, Math.round(e.ttlMs / 1000)));
 * ```
 */
export interface VaultLeaseEvent {
  readonly type: 'issued' | 'renewed' | 'capped' | 'revoked' | 'expired';
  readonly leaseId: string;
  /** The database user the lease owns. */
  readonly user: string;
  /** When the lease ends unless renewed (epoch ms, from the local clock). */
  readonly expiresAt: number;
  /** How long it has left, in milliseconds (0 once it ended). */
  readonly ttlMs: number;
}

/** What `GET <mount>/creds/<role>` gave: a lease to keep. */
export interface IssuedLease {
  readonly leaseId: string;
  readonly user: string;
  readonly password: string;
  /** `lease_duration`, seconds (0: the lease does not end). */
  readonly durationS: number;
  readonly renewable: boolean;
  /** The session token the request was sent with. */
  readonly tokenSerial: number;
}

/** How the keeper tells its provider what happened to a lease. */
export interface LeaseKeeperHooks {
  /** The lease's credentials were rebuilt with another end (renewed, capped, bound by its token). */
  changed(lease: Lease): void;
  /** The lease ended without the provider revoking it (ran out, revoked with its token). */
  ended(lease: Lease): void;
  /** A lease event, for the provider's `lease` listeners. */
  event(event: VaultLeaseEvent): void;
  /** A renewal failed, or a listener threw. */
  report(error: Error): void;
}

/**
 * Keeps leases alive. It alone decides when a lease is renewed: at about two thirds of its
 * time left ({@link renewDelay}), asking for the duration it was issued with, and again with
 * backoff after a failure while the lease lasts. Each renewal extends the same credentials and
 * moves their `expiresAt`, which {@link LeaseKeeperHooks.changed} passes on. Once renewing can
 * no longer extend a lease (the answer is shorter than asked, its token ends first, or Vault
 * refuses the renewal for good) the lease is `capped`: renewals stop and `expiresAt` is its
 * hard end. Whether and when to get new credentials is not the keeper's call.
 *
 * @example
 * ```ts
 * const keeper = new LeaseKeeper(session, 'vault-database:database/app', hooks);
 * const lease = keeper.keep({ leaseId, user, password, durationS: 3600, renewable: true, tokenSerial }, sent);
 * await keeper.close(true); // revokes every lease still held
 * ```
 */
export class LeaseKeeper {
  readonly #session: VaultSession;
  readonly #owner: string;
  readonly #hooks: LeaseKeeperHooks;
  /** Leases not yet ended or revoked, by user name. */
  readonly #leases = new Map<string, Lease>();
  readonly #abortOnClose = new AbortController();
  readonly #stopListening: () => void;
  #closed = false;

  /**
   * @param session - the provider's session: renewals and revocations go through it, and its
   *   token's end bounds the leases it created.
   * @param owner - the provider's name, for messages.
   */
  constructor(session: VaultSession, owner: string, hooks: LeaseKeeperHooks) {
    this.#session = session;
    this.#owner = owner;
    this.#hooks = hooks;
    this.#stopListening = session.onToken((event) => this.#onToken(event));
  }

  /** Starts keeping a lease Vault just issued; its end counts from `sent`. */
  keep(issued: IssuedLease, sent: SentAt): Lease {
    const token = this.#session.token;
    const durationS = issued.durationS;
    const lease: Lease = {
      leaseId: issued.leaseId,
      user: issued.user,
      password: issued.password,
      incrementS: durationS,
      renewable: issued.renewable && durationS > 0,
      tokenSerial: issued.tokenSerial,
      endsAt: Number.POSITIVE_INFINITY,
      expiresAt: Number.POSITIVE_INFINITY,
      capped: false,
      tokenEndsAt: token?.serial === issued.tokenSerial && token.final ? token.endsAt : undefined,
      state: 'active',
      rejected: false,
      credentials: undefined as unknown as Lease['credentials'],
      renewing: undefined,
      renewTimer: undefined,
      endTimer: undefined,
      failures: 0,
    };
    if (durationS > 0) setEnd(lease, sent, durationS);
    this.#seal(lease);
    this.#leases.set(lease.user, lease);
    this.#emit('issued', lease);
    this.#schedule(lease);
    return lease;
  }

  /** The active lease of `user`, if the keeper holds one. */
  get(user: string): Lease | undefined {
    return this.#leases.get(user);
  }

  /** Whether the keeper still renews `lease`: its next renewal will move its `expiresAt`. */
  renews(lease: Lease): boolean {
    return canRenew(lease);
  }

  /**
   * The lease ends with its token, which cannot be replaced (token auth), and which is still the
   * session's token: a new lease would end at the same time.
   */
  boundByDyingToken(lease: Lease): boolean {
    const token = this.#session.token;
    return (
      lease.state === 'active' &&
      !lease.capped &&
      lease.tokenEndsAt !== undefined &&
      !this.#session.canLogIn &&
      token !== undefined &&
      token.serial === lease.tokenSerial &&
      timeLeft(lease) > 0
    );
  }

  /** The server refused the lease's credentials: stop renewing it; it is not handed out again. */
  reject(lease: Lease): void {
    lease.rejected = true;
    if (lease.renewTimer) clearTimeout(lease.renewTimer);
    lease.renewTimer = undefined;
  }

  /** The pool is done with the lease: stop renewing it and revoke it (`revoke`), or let it run out. */
  async retire(lease: Lease, revoke: boolean): Promise<void> {
    this.#stopTimers(lease);
    if (!revoke) {
      this.#forget(lease);
      return;
    }
    await this.#revoke(lease, this.#abortOnClose.signal);
  }

  /**
   * Stops every renewal and, with `revoke`, revokes every lease still held (under a time limit
   * of its own: closing aborts background work, not the revocations it asked for). Rejects with
   * the first revocation that failed; the others were still tried.
   */
  async close(revoke: boolean): Promise<void> {
    this.#closed = true;
    this.#stopListening();
    const leases = [...this.#leases.values()];
    for (const lease of leases) this.#stopTimers(lease);
    let failure: unknown;
    if (revoke && leases.length > 0) {
      const signal = AbortSignal.timeout(this.#session.requestTimeoutMs * 2 + 1_000);
      const results = await Promise.allSettled(leases.map((lease) => this.#revoke(lease, signal)));
      failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
    }
    this.#abortOnClose.abort(new ClosedError(`provider '${this.#owner}'`));
    this.#leases.clear();
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrown as the revocation rejected
    if (failure !== undefined) throw failure;
  }

  // --- renewing ------------------------------------------------------------------------------

  /**
   * The one place a lease's renewal is timed: the next renewal at about two thirds of its time
   * left ({@link renewDelay}), or a retry ({@link retryDelay}) after a failure, while it can be
   * renewed; and, in any case, a timer at its end.
   */
  #schedule(lease: Lease): void {
    this.#stopTimers(lease);
    if (this.#closed || lease.state !== 'active') return;
    const left = timeLeft(lease);
    if (!Number.isFinite(left)) return;
    lease.endTimer = unrefTimer(
      () => {
        lease.endTimer = undefined;
        if (lease.state === 'active' && timeLeft(lease) <= 0) this.#end(lease);
        else this.#schedule(lease);
      },
      Math.max(0, left),
    );
    if (!canRenew(lease)) return;
    const delay = lease.failures > 0 ? retryDelay(lease.failures, left, RETRY_BASE_MS) : renewDelay(left);
    lease.renewTimer = unrefTimer(() => {
      lease.renewTimer = undefined;
      lease.renewing ??= this.#renew(lease).finally(() => {
        lease.renewing = undefined;
      });
    }, delay);
  }

  /** Renews the lease once (`sys/leases/renew`). Never rejects: failures are handled and reported. */
  async #renew(lease: Lease): Promise<void> {
    const sent = sentNow();
    let answer: VaultResponse;
    try {
      ({ result: answer } = await this.#session.request(
        'sys/leases/renew',
        this.#abortOnClose.signal,
        (client, options) =>
          client.renew({ lease_id: lease.leaseId, increment: lease.incrementS, requestOptions: options }) as Promise<VaultResponse>,
      ));
    } catch (error) {
      this.#renewalFailed(lease, error);
      return;
    }
    if (lease.state !== 'active') return;
    const durationS = typeof answer.lease_duration === 'number' ? answer.lease_duration : 0;
    setEnd(lease, sent, durationS);
    lease.failures = 0;
    if (durationS < lease.incrementS) lease.capped = true;
    this.#changed(lease, isFinal(lease) ? 'capped' : 'renewed');
  }

  #renewalFailed(lease: Lease, error: unknown): void {
    if (this.#closed || lease.state !== 'active') return;
    const refused = error instanceof VaultError && !error.retryable;
    if (refused && error.statusCode === 400 && !/max TTL/i.test(error.message)) {
      // "lease not found", "lease expired": Vault already ended it.
      this.#end(lease);
      return;
    }
    this.#hooks.report(error as Error);
    if (refused) {
      // "past the max TTL", or a policy without `update` on sys/leases/renew: trying again
      // cannot help, so the lease ends as it is and the pool moves to new credentials before.
      lease.capped = true;
      this.#changed(lease, 'capped');
      return;
    }
    lease.failures += 1;
    this.#schedule(lease);
  }

  /** The lease's end moved, or became final: new credentials for it, an event, new timers, and the provider is told. */
  #changed(lease: Lease, type: 'renewed' | 'capped' | undefined): void {
    this.#seal(lease);
    if (type !== undefined) this.#emit(type, lease);
    this.#schedule(lease);
    this.#hooks.changed(lease);
  }

  /** Rebuilds the lease's credentials with its current end. */
  #seal(lease: Lease): void {
    const end = effectiveExpiresAt(lease);
    lease.credentials = sealCredentials(
      { user: lease.user, password: lease.password, ...(Number.isFinite(end) ? { expiresAt: end } : {}) },
      `provider '${this.#owner}'`,
    );
  }

  #stopTimers(lease: Lease): void {
    if (lease.renewTimer) clearTimeout(lease.renewTimer);
    if (lease.endTimer) clearTimeout(lease.endTimer);
    lease.renewTimer = undefined;
    lease.endTimer = undefined;
  }

  // --- ending --------------------------------------------------------------------------------

  /** The lease ended without the provider revoking it: `expired`. */
  #end(lease: Lease): void {
    if (lease.state !== 'active') return;
    this.#forget(lease);
    this.#emit('expired', lease);
    this.#hooks.ended(lease);
  }

  #forget(lease: Lease): void {
    lease.state = 'ended';
    this.#stopTimers(lease);
    if (this.#leases.get(lease.user) === lease) this.#leases.delete(lease.user);
  }

  async #revoke(lease: Lease, signal: AbortSignal): Promise<void> {
    if (lease.state !== 'active') return;
    await this.#session.request('sys/leases/revoke', signal, (client, options) =>
      client.revoke({ lease_id: lease.leaseId, requestOptions: options }),
    );
    if (lease.state !== 'active') return;
    this.#forget(lease);
    this.#emit('revoked', lease);
  }

  // --- the token -----------------------------------------------------------------------------

  #onToken(event: VaultTokenEvent): void {
    if (this.#closed) return;
    if (event.type === 'lost') {
      // Vault revoked every lease the token created along with it.
      for (const lease of [...this.#leases.values()]) {
        if (lease.tokenSerial === event.serial) this.#end(lease);
      }
      return;
    }
    if (!event.final || event.endsAt === undefined) return;
    // The token ends for good at endsAt, and its leases with it.
    for (const lease of [...this.#leases.values()]) {
      if (lease.tokenSerial !== event.serial || lease.state !== 'active') continue;
      lease.tokenEndsAt = event.endsAt;
      this.#changed(lease, isFinal(lease) ? 'capped' : undefined);
    }
  }

  // --- reporting -----------------------------------------------------------------------------

  #emit(type: VaultLeaseEvent['type'], lease: Lease): void {
    const ended = type === 'revoked' || type === 'expired';
    const event: VaultLeaseEvent = {
      type,
      leaseId: lease.leaseId,
      user: lease.user,
      expiresAt: effectiveExpiresAt(lease),
      ttlMs: ended ? 0 : Math.max(0, Math.round(timeLeft(lease))),
    };
    try {
      this.#hooks.event(event);
    } catch (error) {
      // A listener's exception must not break renewal or revocation.
      this.#hooks.report(error as Error);
    }
  }
}
