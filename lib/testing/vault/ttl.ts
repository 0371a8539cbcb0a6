/**
 * Lease and token TTL arithmetic, after Vault's `framework.CalculateTTL`, and duration parsing
 * and printing as Vault does them. All times are milliseconds on the emulator's monotonic clock;
 * TTLs are whole seconds.
 *
 * @packageDocumentation
 */

/** Vault's system-wide `default_lease_ttl`: 768 h (32 days). */
export const SYSTEM_DEFAULT_TTL_S = 768 * 3600;
/** Vault's system-wide `max_lease_ttl`: 768 h (32 days). */
export const SYSTEM_MAX_TTL_S = 768 * 3600;

/** Inputs of {@link calculateTtl}, named as in Vault. */
export interface TtlInput {
  /** The increment asked for; 0 for none. */
  incrementS: number;
  /** The backend's TTL (a role's default TTL); 0 for the system default. */
  backendTtlS: number;
  /** A periodic token's period; 0 for none. */
  periodS: number;
  /** The backend's max TTL (a role's max TTL); 0 for the system max. */
  backendMaxTtlS: number;
  /** A token's explicit max TTL; 0 for none. */
  explicitMaxTtlS: number;
  /** When the lease or token was issued. */
  issuedAtMs: number;
  /** Now. */
  nowMs: number;
}

/** The result of {@link calculateTtl}. */
export type TtlResult =
  | { readonly ok: true; readonly ttlS: number; readonly expiresAtMs: number; readonly warnings: string[] }
  | { readonly ok: false; readonly error: string };

/**
 * The TTL to grant, as Vault computes it: the increment (or the backend's TTL, or the system
 * default) counted from now, capped so that the lease never outlives issue time + the effective
 * max TTL; when capped, a warning in Vault's words. A periodic token gets its period each time,
 * capped only by its explicit max TTL.
 */
export function calculateTtl(input: TtlInput): TtlResult {
  const { incrementS, backendTtlS, periodS, backendMaxTtlS, explicitMaxTtlS, issuedAtMs, nowMs } = input;
  let maxTtlS = SYSTEM_MAX_TTL_S;
  if (backendMaxTtlS > 0 && backendMaxTtlS < maxTtlS) maxTtlS = backendMaxTtlS;
  if (explicitMaxTtlS > 0 && explicitMaxTtlS < maxTtlS) maxTtlS = explicitMaxTtlS;

  const warnings: string[] = [];
  let ttlS: number;
  let maxValidAtMs: number | undefined;
  if (periodS > 0) {
    ttlS = periodS;
    if (ttlS > maxTtlS) {
      warnings.push(
        `period of "${humanDuration(periodS)}" exceeded the effective max_ttl of "${humanDuration(maxTtlS)}"; period value is capped accordingly`,
      );
      ttlS = maxTtlS;
    }
    if (explicitMaxTtlS > 0) maxValidAtMs = issuedAtMs + explicitMaxTtlS * 1000;
  } else {
    ttlS = incrementS > 0 ? incrementS : backendTtlS > 0 ? backendTtlS : SYSTEM_DEFAULT_TTL_S;
    maxValidAtMs = issuedAtMs + maxTtlS * 1000;
  }

  if (maxValidAtMs !== undefined) {
    // Whole seconds left, rounded down: the emulator never reports more time than a lease has.
    const maxValidTtlS = Math.floor((maxValidAtMs - nowMs) / 1000);
    if (maxValidTtlS <= 0) return { ok: false, error: 'past the max TTL, cannot renew' };
    if (maxValidTtlS < ttlS) {
      warnings.push(
        `TTL of "${humanDuration(ttlS)}" exceeded the effective max_ttl of "${humanDuration(maxValidTtlS)}"; TTL value is capped accordingly`,
      );
      ttlS = maxValidTtlS;
    }
  }
  const expiresAtMs = Math.min(nowMs + ttlS * 1000, maxValidAtMs ?? Number.POSITIVE_INFINITY);
  return { ok: true, ttlS, expiresAtMs, warnings };
}

/** A whole number of seconds as Go's `time.Duration.String()`: `45s`, `2m5s`, `1h0m0s`. */
function goDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${m}m${s}s` : `${m}m${s}s`;
}

/** A whole number of seconds as Vault's `humanDuration`: Go's form without zero parts (`1h`, `2m`, `1h5s`). */
export function humanDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  let text = goDuration(seconds);
  if (text.endsWith('m0s')) text = text.slice(0, -2);
  const index = text.indexOf('h0m');
  if (index > 0) text = text.slice(0, index + 1) + text.slice(index + 3);
  return text;
}

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
const GO_DURATION = /^(\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const GO_DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;

/**
 * A duration from a request body, as Vault's `parseutil.ParseDurationSecond`: a number of
 * seconds, a string of digits (seconds), or a Go duration such as `1h30m`. Whole seconds,
 * rounded down. `undefined` and `''` are 0. Throws a `TypeError` naming `field` otherwise.
 */
export function parseDurationS(value: unknown, field: string): number {
  if (value === undefined || value === null || value === '') return 0;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^\d+$/.test(text)) return Number(text);
    if (GO_DURATION.test(text)) {
      let total = 0;
      for (const [, amount, unit] of text.matchAll(GO_DURATION_PART)) total += Number(amount) * (UNIT_SECONDS[unit] ?? 0);
      return Math.floor(total);
    }
  }
  throw new TypeError(`error converting input for field "${field}": invalid duration`);
}
