/**
 * Capped exponential backoff with "equal jitter": the delay for failure number `streak`
 * (1-based) lies between half and all of `min(capMs, baseMs * 2^(streak-1))`, so retries from
 * many processes spread out while the lower bound still grows.
 */
export function backoffDelay(streak: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  if (streak <= 0 || baseMs <= 0) return 0;
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(streak - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The longest delay `setTimeout` accepts; longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A `setTimeout` that never keeps the process alive and clamps long delays. */
export function unrefTimer(fn: () => void, ms: number): NodeJS.Timeout {
  const timer = setTimeout(fn, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
  timer.unref();
  return timer;
}
