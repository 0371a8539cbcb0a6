/**
 * Checks shared by the emulator's options and its setup helpers' options: mount names, lists
 * of strings, secrets that may be empty, role names and TTLs. Each names the option and never
 * echoes a value.
 *
 * @packageDocumentation
 */

import { InvalidOptionError } from '../../errors.js';
import { integer, string } from '../../options.js';

type Bag = Record<string, unknown>;

const MOUNT = /^[A-Za-z0-9_.-]+$/;
/** Vault's `framework.GenericNameRegex`. */
const ROLE_NAME = /^\w(?:[\w.-]*\w)?$/;
const RESERVED_MOUNTS = new Set(['sys', 'auth', 'identity', 'cubbyhole']);

/** Whether `name` can be a mount: one path segment, not one of Vault's reserved mounts. */
export function isMountName(name: string): boolean {
  return MOUNT.test(name) && !RESERVED_MOUNTS.has(name);
}

/** A mount name. */
export function mount(bag: Bag, key: string, prefix: string, fallback: string): string {
  const value = string(bag, key, prefix, fallback)!;
  if (!isMountName(value)) {
    throw new InvalidOptionError(`${prefix}${key}`, 'must be one path segment (letters, digits, _ . -) and not a reserved mount');
  }
  return value;
}

/** An array of non-empty strings (a copy). */
export function stringList(bag: Bag, key: string, prefix: string, fallback: readonly string[], allowEmpty = true): string[] {
  const value = bag[key];
  if (value === undefined) return [...fallback];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '') || (!allowEmpty && value.length === 0)) {
    throw new InvalidOptionError(`${prefix}${key}`, `must be ${allowEmpty ? 'an' : 'a non-empty'} array of non-empty strings`);
  }
  return [...(value as string[])];
}

/** A string that may be empty (a password). */
export function secretString(bag: Bag, key: string, prefix: string): string {
  const value = bag[key];
  if (typeof value !== 'string') throw new InvalidOptionError(`${prefix}${key}`, 'must be a string');
  return value;
}

/** A TTL in whole seconds; 0 (the default) for the system's. */
export function ttl(bag: Bag, key: string, prefix: string): number {
  return integer(bag, key, prefix, 0, 0);
}

/** Throws unless `name` is a valid role name. */
export function roleName(name: unknown, method: string): string {
  if (typeof name !== 'string' || !ROLE_NAME.test(name)) {
    throw new InvalidOptionError(`${method}(name)`, 'must be letters, digits, _, . or -, starting and ending with a letter, digit or _');
  }
  return name;
}
