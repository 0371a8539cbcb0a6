/**
 * Leases of dynamic database credentials: registration, renewal within the role's max TTL,
 * revocation (by request, on expiry, with the token that created them) and lookup, as Vault's
 * expiration manager does them. Revoking runs the role's revocation statements through
 * `dropUser`; a lease is forgotten (renew: "lease not found") once that has succeeded.
 *
 * @packageDocumentation
 */

import { now, type Timers } from './clock.js';
import { asError, type VaultEndReason } from './tokens.js';
import { calculateTtl } from './ttl.js';

/**
 * A lease of dynamic database credentials, as {@link VaultEmulator.leases} lists it. Times are
 * milliseconds on the emulator's monotonic clock (`performance.now()`).
 */
export interface VaultLeaseInfo {
  /** The lease id, e.g. `database/creds/app/J3bX...`. */
  readonly leaseId: string;
  /** The database role the credentials are for. */
  readonly role: string;
  /** The database user the lease owns. */
  readonly username: string;
  /** When the lease was issued. */
  readonly issuedAt: number;
  /** When it expires (or expired). */
  readonly expiresAt: number;
  /** Whether its user has been revoked (dropped). */
  readonly revoked: boolean;
  /** When it was revoked, if it was. */
  readonly revokedAt: number | undefined;
  /** Why it ended, if it did: revoked by request, expired, its token was revoked or expired, the emulator closed. */
  readonly endReason: VaultEndReason | undefined;
}

interface Lease {
  readonly leaseId: string;
  readonly role: string;
  readonly username: string;
  readonly tokenId: string;
  readonly issuedAtMs: number;
  readonly issueWallMs: number;
  readonly defaultTtlS: number;
  readonly maxTtlS: number;
  expiresAtMs: number;
  lastRenewalWallMs: number | undefined;
  state: 'active' | 'revoking' | 'revoked';
  revokedAtMs: number | undefined;
  endReason: VaultEndReason | undefined;
  revoking: Promise<void> | undefined;
  cancelExpiry: (() => void) | undefined;
}

/** What a new lease is made of. */
export interface LeaseSpec {
  readonly leaseId: string;
  readonly role: string;
  readonly username: string;
  readonly tokenId: string;
  readonly defaultTtlS: number;
  readonly maxTtlS: number;
}

export interface LeaseStoreHooks {
  readonly timers: Timers;
  /** Runs the revocation statements for a lease's user. */
  readonly dropUser: (username: string) => Promise<void>;
  readonly whenUnsealed: (task: () => void) => void;
  readonly onError: (error: Error) => void;
}

export type LeaseResult<T> = ({ readonly ok: true } & T) | { readonly ok: false; readonly error: string };

/** Vault's `sys/leases/lookup` data. */
export interface LeaseLookup {
  id: string;
  issue_time: string;
  expire_time: string;
  last_renewal: string | null;
  renewable: boolean;
  ttl: number;
}

export class LeaseStore {
  /** Every lease ever issued, revoked ones included, for {@link LeaseStore.list}. */
  private readonly leases = new Map<string, Lease>();
  private readonly byToken = new Map<string, Set<string>>();

  constructor(private readonly hooks: LeaseStoreHooks) {}

  /** Registers a lease for credentials just created; its TTL is the role's default TTL. */
  register(spec: LeaseSpec): LeaseResult<{ ttlS: number; warnings: string[] }> {
    const issuedAtMs = now();
    const ttl = calculateTtl({
      incrementS: 0,
      backendTtlS: spec.defaultTtlS,
      periodS: 0,
      backendMaxTtlS: spec.maxTtlS,
      explicitMaxTtlS: 0,
      issuedAtMs,
      nowMs: issuedAtMs,
    });
    if (!ttl.ok) return ttl;
    const lease: Lease = {
      ...spec,
      issuedAtMs,
      issueWallMs: Date.now(),
      expiresAtMs: ttl.expiresAtMs,
      lastRenewalWallMs: undefined,
      state: 'active',
      revokedAtMs: undefined,
      endReason: undefined,
      revoking: undefined,
      cancelExpiry: undefined,
    };
    this.leases.set(lease.leaseId, lease);
    let ids = this.byToken.get(spec.tokenId);
    if (ids === undefined) this.byToken.set(spec.tokenId, (ids = new Set()));
    ids.add(lease.leaseId);
    this.schedule(lease);
    return { ok: true, ttlS: ttl.ttlS, warnings: ttl.warnings };
  }

  /** Renews a lease by `incrementS` from now (0: the role's default TTL), within its max TTL. */
  renew(leaseId: string, incrementS: number): LeaseResult<{ ttlS: number; warnings: string[] }> {
    const lease = this.leases.get(leaseId);
    if (lease === undefined || lease.state === 'revoked') return { ok: false, error: 'lease not found' };
    const nowMs = now();
    if (lease.expiresAtMs <= nowMs) return { ok: false, error: 'lease expired' };
    const ttl = calculateTtl({
      incrementS,
      backendTtlS: lease.defaultTtlS,
      periodS: 0,
      backendMaxTtlS: lease.maxTtlS,
      explicitMaxTtlS: 0,
      issuedAtMs: lease.issuedAtMs,
      nowMs,
    });
    if (!ttl.ok) return ttl;
    lease.expiresAtMs = ttl.expiresAtMs;
    lease.lastRenewalWallMs = Date.now();
    this.schedule(lease);
    return { ok: true, ttlS: ttl.ttlS, warnings: ttl.warnings };
  }

  /** `sys/leases/lookup` data, or `undefined` for an unknown or revoked lease. */
  lookup(leaseId: string): LeaseLookup | undefined {
    const lease = this.leases.get(leaseId);
    if (lease === undefined || lease.state === 'revoked') return undefined;
    const nowMs = now();
    const wall = (mono: number): string => new Date(Date.now() + (mono - nowMs)).toISOString();
    return {
      id: lease.leaseId,
      issue_time: new Date(lease.issueWallMs).toISOString(),
      expire_time: wall(lease.expiresAtMs),
      last_renewal: lease.lastRenewalWallMs === undefined ? null : new Date(lease.lastRenewalWallMs).toISOString(),
      renewable: lease.expiresAtMs > nowMs,
      ttl: Math.max(0, Math.round((lease.expiresAtMs - nowMs) / 1000)),
    };
  }

  /**
   * Revokes a lease: runs the revocation statements and forgets it. Unknown and already revoked
   * leases resolve at once, as in Vault. A failed revocation leaves the lease in place (it can
   * be revoked again) and rejects.
   */
  revoke(leaseId: string, reason: VaultEndReason): Promise<void> {
    const lease = this.leases.get(leaseId);
    if (lease === undefined || lease.state === 'revoked') return Promise.resolve();
    if (lease.revoking !== undefined) return lease.revoking;
    lease.state = 'revoking';
    lease.cancelExpiry?.();
    lease.cancelExpiry = undefined;
    lease.revoking = this.hooks.dropUser(lease.username).then(
      () => {
        lease.state = 'revoked';
        lease.revokedAtMs = now();
        lease.endReason = reason;
        lease.revoking = undefined;
        this.byToken.get(lease.tokenId)?.delete(leaseId);
      },
      (error: unknown) => {
        lease.state = 'active';
        lease.revoking = undefined;
        throw error;
      },
    );
    return lease.revoking;
  }

  /** Revokes every lease the token created. */
  async revokeByToken(tokenId: string, reason: VaultEndReason): Promise<void> {
    const ids = [...(this.byToken.get(tokenId) ?? [])];
    this.byToken.delete(tokenId);
    await settleAll(ids.map((id) => this.revoke(id, reason)));
  }

  /** Revokes every lease not yet revoked. */
  async revokeAll(reason: VaultEndReason): Promise<void> {
    await settleAll([...this.leases.values()].map((lease) => this.revoke(lease.leaseId, reason)));
  }

  /** Waits for revocations under way. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.leases.values()].flatMap((lease) => (lease.revoking ? [lease.revoking] : [])));
  }

  /** Cancels every expiry timer (the emulator is closing). */
  stop(): void {
    for (const lease of this.leases.values()) {
      lease.cancelExpiry?.();
      lease.cancelExpiry = undefined;
    }
  }

  /** Every lease issued so far, oldest first. */
  list(): VaultLeaseInfo[] {
    return [...this.leases.values()].map((lease) => ({
      leaseId: lease.leaseId,
      role: lease.role,
      username: lease.username,
      issuedAt: lease.issuedAtMs,
      expiresAt: lease.expiresAtMs,
      revoked: lease.state === 'revoked',
      revokedAt: lease.revokedAtMs,
      endReason: lease.endReason,
    }));
  }

  private schedule(lease: Lease): void {
    lease.cancelExpiry?.();
    lease.cancelExpiry = this.hooks.timers.at(lease.expiresAtMs, () => {
      lease.cancelExpiry = undefined;
      this.hooks.whenUnsealed(() => {
        this.revoke(lease.leaseId, 'expired').catch((error: unknown) => this.hooks.onError(asError(error)));
      });
    });
  }
}

/** Waits for every promise; rejects with the first failure, if any. */
async function settleAll(promises: Array<Promise<void>>): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
