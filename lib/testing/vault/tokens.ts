/**
 * The token store: root, created and login tokens with Vault's TTL rules (`ttl`, `max_ttl`,
 * explicit max TTL, `period`, `renewable`), parent/child revocation, and expiry on timers. A
 * revoked or expired token is forgotten at once, so it is refused like any unknown token; the
 * leases it created are revoked through the `onRevoke` hook.
 *
 * @packageDocumentation
 */

import { now, type Timers } from './clock.js';
import { newAccessor, newToken } from './random.js';
import { calculateTtl } from './ttl.js';

/** Why a token or lease ended. */
export type VaultEndReason = 'revoked' | 'expired' | 'token-revoked' | 'closed';

/** What a new token is made of. */
export interface TokenSpec {
  /** The token itself; random when omitted. */
  id?: string;
  policies: string[];
  /** The path it was created on: `auth/token/create`, `auth/approle/login`, ... */
  path: string;
  displayName: string;
  meta: Record<string, string> | null;
  /** The parent token's id; none for orphans. */
  parentId?: string;
  renewable: boolean;
  /** The backend's TTL (0: the system default). */
  ttlS: number;
  /** The backend's max TTL (0: the system max). */
  maxTtlS: number;
  /** An explicit max TTL (0: none). */
  explicitMaxTtlS: number;
  /** The period of a periodic token (0: not periodic). */
  periodS: number;
  /** Whether a renewal without an increment gets the last granted TTL (token store) or `ttlS` (login). */
  renewToLastTtl: boolean;
  entityId: string;
  /** Non-expiring, like the root token. */
  nonExpiring?: boolean;
}

/** A live token. */
export interface TokenEntry extends Readonly<Omit<TokenSpec, 'id' | 'ttlS'>> {
  readonly id: string;
  readonly accessor: string;
  readonly issuedAtMs: number;
  readonly issueWallMs: number;
  /** The TTL granted at creation. */
  readonly creationTtlS: number;
  /** What a renewal without an increment asks for. */
  backendTtlS: number;
  /** When it expires on the monotonic clock; `undefined` for a non-expiring token. */
  expiresAtMs: number | undefined;
  lastRenewalWallMs: number | undefined;
  readonly children: Set<string>;
}

export interface TokenStoreHooks {
  readonly timers: Timers;
  /** Revokes the leases `token` created; called once per revoked or expired token. */
  readonly onRevoke: (token: TokenEntry, reason: VaultEndReason) => Promise<void>;
  /** Runs `task` now, or on unseal while sealed (a sealed Vault revokes nothing). */
  readonly whenUnsealed: (task: () => void) => void;
  /** Reports a failure of background work. */
  readonly onError: (error: Error) => void;
}

export type TokenResult<T> = ({ readonly ok: true } & T) | { readonly ok: false; readonly error: string };

export class TokenStore {
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly cancels = new Map<string, () => void>();

  constructor(private readonly hooks: TokenStoreHooks) {}

  /** Creates a token; refuses when its TTL cannot be computed. */
  create(spec: TokenSpec): TokenResult<{ token: TokenEntry; ttlS: number; warnings: string[] }> {
    const issuedAtMs = now();
    let ttlS = 0;
    let expiresAtMs: number | undefined;
    let warnings: string[] = [];
    if (spec.nonExpiring !== true) {
      const result = calculateTtl({
        incrementS: 0,
        backendTtlS: spec.ttlS,
        periodS: spec.periodS,
        backendMaxTtlS: spec.maxTtlS,
        explicitMaxTtlS: spec.explicitMaxTtlS,
        issuedAtMs,
        nowMs: issuedAtMs,
      });
      if (!result.ok) return result;
      ({ ttlS, expiresAtMs, warnings } = result);
    }
    const token: TokenEntry = {
      ...spec,
      id: spec.id ?? newToken(),
      accessor: newAccessor(),
      issuedAtMs,
      issueWallMs: Date.now(),
      creationTtlS: ttlS,
      backendTtlS: spec.ttlS,
      expiresAtMs,
      lastRenewalWallMs: undefined,
      children: new Set(),
    };
    this.tokens.set(token.id, token);
    if (spec.parentId !== undefined) this.tokens.get(spec.parentId)?.children.add(token.id);
    this.schedule(token);
    return { ok: true, token, ttlS, warnings };
  }

  /** The live token with this id, if any. */
  get(id: string): TokenEntry | undefined {
    const token = this.tokens.get(id);
    // A token whose expiry is due but not yet processed (sealed, timer late) is already invalid.
    if (token?.expiresAtMs !== undefined && token.expiresAtMs <= now()) return undefined;
    return token;
  }

  /** Every live token. */
  all(): TokenEntry[] {
    return [...this.tokens.values()];
  }

  /** Renews `token` by `incrementS` from now (0: its backend TTL), within its max TTL. */
  renew(token: TokenEntry, incrementS: number): TokenResult<{ ttlS: number; warnings: string[] }> {
    if (token.expiresAtMs === undefined || !token.renewable) return { ok: false, error: 'lease is not renewable' };
    const nowMs = now();
    if (token.expiresAtMs <= nowMs) return { ok: false, error: 'lease expired' };
    const result = calculateTtl({
      incrementS,
      backendTtlS: token.backendTtlS,
      periodS: token.periodS,
      backendMaxTtlS: token.maxTtlS,
      explicitMaxTtlS: token.explicitMaxTtlS,
      issuedAtMs: token.issuedAtMs,
      nowMs,
    });
    if (!result.ok) return result;
    token.expiresAtMs = result.expiresAtMs;
    token.lastRenewalWallMs = Date.now();
    if (token.renewToLastTtl) token.backendTtlS = result.ttlS;
    this.schedule(token);
    return { ok: true, ttlS: result.ttlS, warnings: result.warnings };
  }

  /**
   * Revokes a token, its children and the leases they created. The tokens are invalid at once;
   * the promise settles when the leases' revocations have. Unknown tokens are ignored.
   */
  async revoke(id: string, reason: VaultEndReason): Promise<void> {
    const token = this.tokens.get(id);
    if (token === undefined) return;
    this.tokens.delete(id);
    this.cancels.get(id)?.();
    this.cancels.delete(id);
    if (token.parentId !== undefined) this.tokens.get(token.parentId)?.children.delete(id);
    const results = await Promise.allSettled([
      ...[...token.children].map((child) => this.revoke(child, reason === 'closed' ? reason : 'token-revoked')),
      this.hooks.onRevoke(token, reason),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /** Cancels every expiry timer (the emulator is closing). */
  stop(): void {
    for (const cancel of this.cancels.values()) cancel();
    this.cancels.clear();
  }

  private schedule(token: TokenEntry): void {
    this.cancels.get(token.id)?.();
    if (token.expiresAtMs === undefined) {
      this.cancels.delete(token.id);
      return;
    }
    const cancel = this.hooks.timers.at(token.expiresAtMs, () => {
      this.cancels.delete(token.id);
      this.hooks.whenUnsealed(() => {
        this.revoke(token.id, 'expired').catch((error: unknown) => this.hooks.onError(asError(error)));
      });
    });
    this.cancels.set(token.id, cancel);
  }
}

export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(`a non-Error value (${typeof value})`);
}
