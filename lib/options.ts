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

/** Rejects keys of `bag` that are not in `allowed`. */
export function rejectUnknownKeys(bag: Bag, allowed: ReadonlySet<string>, prefix: string): void {
  for (const key of Object.keys(bag)) {
    if (!allowed.has(key)) {
      throw new InvalidOptionError(`${prefix}${key}`, 'is not a known option');
    }
  }
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
