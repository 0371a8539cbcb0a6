/**
 * When to renew something Vault hands out for a time (the session's token, a lease of
 * database credentials), and when to try again after a renewal failed. The session and the
 * lease keeper each decide for what they own; this is the arithmetic they share.
 *
 * @packageDocumentation
 */

import { backoffDelay } from '../../lib/backoff.js';

/** The longest wait between retries of a failed renewal. */
const RETRY_CAP_MS = 30_000;
/** The shortest wait between retries, however close the end. */
const RETRY_FLOOR_MS = 50;

/**
 * When to renew something that lasts `remainingMs` more: at about two thirds of it, up to 10%
 * earlier (jitter, so that many processes do not renew at the same instant).
 *
 * @example
 * ```ts
 * setTimeout(renew, renewDelay(endsAt - performance.now()));
 * ```
 */
export function renewDelay(remainingMs: number, random: () => number = Math.random): number {
  return Math.max(0, remainingMs * (2 / 3) * (1 - 0.1 * random()));
}

/**
 * When to try again after the `failures`-th renewal in a row failed, with `remainingMs` left
 * before the end: capped exponential backoff from `baseMs`, but never more than half the time
 * left, so that a few more tries fit before the end, closer together as it nears.
 *
 * @example
 * ```ts
 * setTimeout(renew, retryDelay(failures, endsAt - performance.now(), 250));
 * ```
 */
export function retryDelay(failures: number, remainingMs: number, baseMs: number, random: () => number = Math.random): number {
  return Math.min(backoffDelay(failures, baseMs, RETRY_CAP_MS, random), Math.max(remainingMs / 2, RETRY_FLOOR_MS));
}

/** The backoff of a background step that has no end to fit before (a login), from `baseMs`. */
export function backgroundRetryDelay(failures: number, baseMs: number, random: () => number = Math.random): number {
  return backoffDelay(failures, baseMs, RETRY_CAP_MS, random);
}
