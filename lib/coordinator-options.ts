/**
 * The coordinator's options, their defaults and validation, and the payloads of its events.
 *
 * @packageDocumentation
 */

import type { SealedCredentials } from './credentials.js';
import { duration } from './options.js';
import type { CredentialsProvider, FetchReason, HotSwapFunction } from './provider.js';

/** @defaultValue 10000 */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** @defaultValue 1000 */
export const DEFAULT_COOLDOWN_MS = 1_000;
/** @defaultValue 60000 */
export const DEFAULT_MAX_COOLDOWN_MS = 60_000;
/** @defaultValue 60000 */
export const DEFAULT_REFRESH_BEFORE_EXPIRY_MS = 60_000;

/** Why a generation started. `push`: the provider reported a change itself (a file watch). */
export type RotateReason = FetchReason | 'push';

/**
 * What failed, in a `rotation-error` event: a provider call (its {@link FetchReason}), a pushed
 * update (`push`: credentials that are not valid, or the provider's watch reporting a problem),
 * the provider's `retire` or `close`, or a `rotate` listener that threw (`listener`: the
 * rotation itself went through).
 */
export type RotationErrorReason = FetchReason | 'push' | 'retire' | 'close' | 'listener';

/** Second argument of a `rotation-error` event. Carries no secret. */
export interface RotationErrorInfo {
  readonly reason: RotationErrorReason;
  /** The provider's name. */
  readonly provider: string;
}

/** Payload of the `rotate` event. Carries no secret: `fingerprint` is a keyed hash. */
export interface RotateEvent {
  /** The new generation (1 for the first credentials). */
  readonly generation: number;
  readonly previousGeneration: number;
  readonly reason: RotateReason;
  /** The provider's name. */
  readonly provider: string;
  /** The new credentials' user name. */
  readonly user: string;
  /** 8 hex characters that change when the credentials change (see `fingerprint`). */
  readonly fingerprint: string;
  /** When the new credentials expire (epoch ms), if the provider said. */
  readonly expiresAt?: number;
}

/** What the coordinator hands out: credentials and the generation they belong to. */
export interface CredentialsSnapshot {
  readonly generation: number;
  readonly credentials: SealedCredentials;
}

/** Timing options of the coordinator (the `rotation` option of `createPool` includes these). */
export interface CoordinatorTimingOptions {
  /**
   * How long one provider call may take. At this point its AbortSignal fires, waiting callers
   * get a `RotationTimeoutError`, and a late result is ignored.
   * @defaultValue 10000
   */
  timeoutMs?: number;
  /**
   * The first cooldown after a rotation that did not produce working credentials (the provider
   * returned nothing new, threw, timed out, or its new credentials were refused too). Each
   * further failure doubles it, with jitter, up to `maxCooldownMs`; a successful connection
   * resets it. Inside a cooldown a 1045 is returned to the caller without calling the provider.
   * @defaultValue 1000
   */
  cooldownMs?: number;
  /** The cap of the exponential cooldown. @defaultValue 60000 */
  maxCooldownMs?: number;
  /**
   * Credentials with `expiresAt` are refreshed this long before they expire (at most a third of
   * their lifetime before, for short-lived credentials), with up to 10% jitter.
   * @defaultValue 60000
   */
  refreshBeforeExpiryMs?: number;
}

/** Options of {@link RotationCoordinator}. */
export interface CoordinatorOptions extends CoordinatorTimingOptions {
  /** A provider object, or a hot-swap function. */
  provider: CredentialsProvider | HotSwapFunction;
}

const TIMING_KEYS = ['timeoutMs', 'cooldownMs', 'maxCooldownMs', 'refreshBeforeExpiryMs'] as const;
/** The option names of {@link CoordinatorTimingOptions}. */
export const COORDINATOR_TIMING_KEYS: readonly string[] = TIMING_KEYS;

/** Validated timings, defaults applied. */
export type ResolvedTimings = Required<CoordinatorTimingOptions>;

/** Validates timing options found at `prefix` (e.g. `rotation.`) and applies defaults. */
export function resolveTimings(bag: Record<string, unknown>, prefix: string): ResolvedTimings {
  const timings = {
    timeoutMs: duration(bag, 'timeoutMs', prefix, DEFAULT_TIMEOUT_MS, 1),
    cooldownMs: duration(bag, 'cooldownMs', prefix, DEFAULT_COOLDOWN_MS),
    maxCooldownMs: duration(bag, 'maxCooldownMs', prefix, DEFAULT_MAX_COOLDOWN_MS),
    refreshBeforeExpiryMs: duration(bag, 'refreshBeforeExpiryMs', prefix, DEFAULT_REFRESH_BEFORE_EXPIRY_MS),
  };
  if (timings.maxCooldownMs < timings.cooldownMs) timings.maxCooldownMs = timings.cooldownMs;
  return timings;
}
