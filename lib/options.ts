import { InvalidOptionError } from './errors.js';

/**
 * Small validators for options objects. Each names the option's full path in its error and
 * never echoes the value (it could be a secret).
 */

type Bag = Record<string, unknown>;

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** Throws unless `value` is a plain object (or undefined, when `optional`). */
export function expectObject(value: unknown, path: string, optional = false): Bag | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(path, `must be an object, got ${describeType(value)}`);
  }
  return value as Bag;
}

/** Rejects keys of `bag` that are not in `allowed`, suggesting the allowed key it is closest to. */
export function rejectUnknownKeys(bag: Bag, allowed: ReadonlySet<string>, prefix: string): void {
  for (const key of Object.keys(bag)) {
    if (!allowed.has(key)) {
      const near = misspeltKey(key, [...allowed]);
      throw new InvalidOptionError(`${prefix}${key}`, `is not a known option${near === undefined ? '' : didYouMean(prefix, near)}`);
    }
  }
}

/** How many single-character edits apart a key may be from one it is taken as a misspelling of. */
export const MAX_TYPO_DISTANCE = 2;

/** The Levenshtein distance between `a` and `b`: insertions, deletions and substitutions. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}

/**
 * The key of `known` that `key` looks like a misspelling of: ignoring case, at most
 * {@link MAX_TYPO_DISTANCE} edits away (the nearest; the first listed on a tie). `undefined`
 * when `key` is itself in `known`, or when nothing is that close.
 */
export function misspeltKey(key: string, known: readonly string[]): string | undefined {
  if (known.includes(key)) return undefined;
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = MAX_TYPO_DISTANCE + 1;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * For options that mix credswap's keys (`own`) with mysql2's: throws for a key that looks like
 * a misspelt one of `own` (`credential`, `Rotation`, `rejectReadonly`). Every other key is left
 * to mysql2, which accepts it or warns that it ignores it: credswap keeps no copy of mysql2's
 * option names, so an option a newer mysql2 adds works at once. A misspelt `credentials` must
 * not be ignored with a warning: the pool would connect without rotation.
 */
export function rejectMisspeltKeys(bag: Bag, own: readonly string[], prefix: string): void {
  for (const key of Object.keys(bag)) {
    const near = misspeltKey(key, own);
    if (near !== undefined) throw new InvalidOptionError(`${prefix}${key}`, `is not a known option${didYouMean(prefix, near)}`);
  }
}

function didYouMean(prefix: string, key: string): string {
  return ` (did you mean '${prefix}${key}'?)`;
}

/** A duration in milliseconds: a finite number >= 0 (or `min`). */
export function duration(bag: Bag, key: string, prefix: string, fallback: number, min = 0): number {
  const value = bag[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidOptionError(`${prefix}${key}`, `must be a finite number of milliseconds, got ${describeType(value)}`);
  }
  if (value < min) {
    throw new InvalidOptionError(`${prefix}${key}`, min === 0 ? 'must not be negative' : `must be at least ${min}`);
  }
  return value;
}

/** An integer >= `min`. */
export function integer(bag: Bag, key: string, prefix: string, fallback: number, min: number): number {
  const value = bag[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new InvalidOptionError(`${prefix}${key}`, `must be an integer, got ${describeType(value)}`);
  }
  if (value < min) throw new InvalidOptionError(`${prefix}${key}`, `must be at least ${min}`);
  return value;
}

/** One of a fixed set of strings. */
export function oneOf<T extends string>(bag: Bag, key: string, prefix: string, choices: readonly T[], fallback: T): T {
  const value = bag[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new InvalidOptionError(`${prefix}${key}`, `must be one of ${choices.map((c) => `'${c}'`).join(', ')}`);
  }
  return value as T;
}

/** A boolean. */
export function bool(bag: Bag, key: string, prefix: string, fallback: boolean): boolean {
  const value = bag[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidOptionError(`${prefix}${key}`, `must be a boolean, got ${describeType(value)}`);
  }
  return value;
}

/** A non-empty string. */
export function string(bag: Bag, key: string, prefix: string, fallback?: string): string | undefined {
  const value = bag[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidOptionError(`${prefix}${key}`, `must be a non-empty string, got ${describeType(value)}`);
  }
  return value;
}

/** The bounds of {@link inRange}. */
export interface NumberRange {
  /** The smallest value allowed. */
  readonly min: number;
  /** The largest value allowed. */
  readonly max: number;
  /** Only integers are allowed. @defaultValue `false` */
  readonly integer?: boolean;
  /** What the number counts, for the message of a wrong type (`'milliseconds'`). */
  readonly unit?: string;
}

/**
 * A number from `min` to `max`, both included (an integer with `range.integer`): for options
 * bounded above as well as below, such as a ratio, a pool size, or a delay that one timer must
 * be able to wait.
 *
 * @example
 * ```ts
 * const writeRatio = inRange(bag, 'writeRatio', '', 0.2, { min: 0, max: 1 });
 * ```
 */
export function inRange(bag: Bag, key: string, prefix: string, fallback: number, range: NumberRange): number {
  const value = bag[key];
  if (value === undefined) return fallback;
  const { min, max, integer = false, unit } = range;
  if (typeof value !== 'number' || !(integer ? Number.isInteger(value) : Number.isFinite(value))) {
    const what = `${integer ? 'an integer' : 'a finite number'}${unit === undefined ? '' : ` of ${unit}`}`;
    throw new InvalidOptionError(`${prefix}${key}`, `must be ${what}, got ${describeType(value)}`);
  }
  if (value < min || value > max) throw new InvalidOptionError(`${prefix}${key}`, `must be from ${min} to ${max}`);
  return value;
}
