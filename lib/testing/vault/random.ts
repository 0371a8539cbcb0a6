/**
 * Random values shaped like Vault's: base62 strings (lease ids, accessors), tokens, the default
 * password policy of the database secrets engine, and the MySQL plugin's username templates.
 *
 * @packageDocumentation
 */

import { randomBytes, randomUUID } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Vault's default password policy: 20 characters of [A-Za-z0-9-], at least one of each class. */
const PASSWORD_CHARSET = [...'-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'];
const PASSWORD_LENGTH = 20;
const PASSWORD_RULES: ReadonlyArray<RegExp> = [/[a-z]/, /[A-Z]/, /[0-9]/, /-/];

/** `length` characters drawn uniformly from `charset` (at most 256 characters), by rejection. */
function randomFrom(charset: readonly string[], length: number): string {
  const limit = Math.floor(256 / charset.length) * charset.length;
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= limit) continue;
      out += charset[byte % charset.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A random base62 string, as Vault's `base62.Random`. */
export function base62(length: number): string {
  return randomFrom([...BASE62], length);
}

/** A service token in the `hvs.` format of Vault 1.10 and later. */
export function newToken(): string {
  return `hvs.${base62(24)}`;
}

/** A token accessor. */
export function newAccessor(): string {
  return base62(24);
}

/** A UUID, for request ids, entity ids, AppRole role and secret ids. */
export function uuid(): string {
  return randomUUID();
}

/** A password that satisfies Vault's default password policy for database credentials. */
export function vaultPassword(): string {
  for (;;) {
    const candidate = randomFrom(PASSWORD_CHARSET, PASSWORD_LENGTH);
    if (PASSWORD_RULES.every((rule) => rule.test(candidate))) return candidate;
  }
}

/** What a username template is given, as Vault's `dbplugin.UsernameMetadata`. */
export interface UsernameMetadata {
  /** The display name of the token that asked for credentials, e.g. `approle` or `token`. */
  readonly displayName: string;
  /** The database role's name. */
  readonly roleName: string;
}

/**
 * How usernames of dynamic credentials are made:
 * - `'mysql'`: Vault's MySQL plugin default,
 *   `v-<display name, 10>-<role, 10>-<20 random>-<unix time>` cut to 32 characters;
 * - `'legacy'`: the `mysql-legacy` plugin's (MySQL before 5.7), `v-<role, 4>-<20 random>` cut to
 *   16 characters;
 * - a function of {@link UsernameMetadata} that returns the name (letters, digits, `-`, `_`; at
 *   most 80 characters).
 */
export type UsernameTemplate = 'mysql' | 'legacy' | ((metadata: UsernameMetadata) => string);

const cut = (value: string, max: number): string => (value.length > max ? value.slice(0, max) : value);

/** Makes a username with `template`, as Vault's username templates do. */
export function makeUsername(template: UsernameTemplate, metadata: UsernameMetadata, unixTimeS: number): string {
  if (typeof template === 'function') return template(metadata);
  if (template === 'legacy') return cut(`v-${cut(metadata.roleName, 4)}-${base62(20)}`, 16);
  return cut(`v-${cut(metadata.displayName, 10)}-${cut(metadata.roleName, 10)}-${base62(20)}-${unixTimeS}`, 32);
}
