/**
 * Options of the emulator's setup helpers (`configureDatabaseRole`, `configureStaticRole`,
 * `configureAppRole`, `configureKubernetesRole`, `createToken`, `writeKv`), with their
 * validation. Unknown keys are rejected; messages name the option and never echo a value.
 *
 * @packageDocumentation
 */

import { InvalidOptionError } from '../../errors.js';
import { bool, expectObject, integer, rejectUnknownKeys, string } from '../../options.js';
import { mount, stringList, ttl } from './option-checks.js';
import { DEFAULT_VAULT_KUBERNETES_MOUNT } from './options.js';
import type { UsernameTemplate } from './random.js';

/**
 * Options of {@link VaultEmulator.configureDatabaseRole}: a dynamic role of the database
 * secrets engine.
 *
 * @example
 * ```ts
 * vault.configureDatabaseRole('app', { grants: `SELECT, INSERT ON ${database}.*`, defaultTtlS: 60, maxTtlS: 300 });
 * ```
 */
export interface DatabaseRoleOptions {
  /**
   * A database (schema) to grant `ALL PRIVILEGES` on when `grants` is not given.
   *
   * @defaultValue none: `grants` is required
   */
  dbName?: string;
  /**
   * The privileges of each user, as the SQL between `GRANT` and `TO`, e.g.
   * `'SELECT ON shop.*'`. Inserted as is: pass trusted text only.
   *
   * @defaultValue ``ALL PRIVILEGES ON `<dbName>`.*``
   */
  grants?: string;
  /**
   * The lease TTL of new credentials and of a renewal without an increment, in seconds; 0 for
   * the system default (768 h).
   *
   * @defaultValue `0`
   */
  defaultTtlS?: number;
  /**
   * The longest a lease may live, from issue, in seconds; 0 for the system max (768 h).
   *
   * @defaultValue `0`
   */
  maxTtlS?: number;
  /**
   * How usernames are made: `'mysql'` (Vault's MySQL plugin, 32 characters), `'legacy'` (the
   * `mysql-legacy` plugin, 16 characters) or a function.
   *
   * @defaultValue `'mysql'`
   */
  usernameTemplate?: UsernameTemplate;
}

/**
 * Options of {@link VaultEmulator.configureStaticRole}.
 *
 * @example
 * ```ts
 * await vault.configureStaticRole('app-static', { username: user, rotationPeriodS: 3600 });
 * ```
 */
export interface StaticRoleOptions {
  /** An existing database account whose password the emulator manages from now on. */
  username: string;
  /** How often the password is rotated, in seconds (at least 1; Vault requires 5). */
  rotationPeriodS: number;
}

/**
 * Options of {@link VaultEmulator.configureAppRole}.
 *
 * @example
 * ```ts
 * const { roleId, secretId } = vault.configureAppRole('app', { tokenTtlS: 60, tokenMaxTtlS: 120 });
 * ```
 */
export interface AppRoleOptions {
  /** @defaultValue a random UUID */
  roleId?: string;
  /** @defaultValue a random UUID */
  secretId?: string;
  /**
   * TTL of login tokens (and of their renewals without an increment), in seconds; 0 for the
   * system default (768 h).
   *
   * @defaultValue `0`
   */
  tokenTtlS?: number;
  /**
   * The longest a login token may live, from login, in seconds; 0 for the system max.
   *
   * @defaultValue `0`
   */
  tokenMaxTtlS?: number;
  /**
   * Makes login tokens periodic: each renewal grants this many seconds, with no max TTL.
   *
   * @defaultValue `0` (not periodic)
   */
  tokenPeriodS?: number;
  /**
   * Policies of login tokens, besides `default`. Reported, not enforced.
   *
   * @defaultValue `[]`
   */
  policies?: string[];
}

/**
 * Options of {@link VaultEmulator.configureKubernetesRole}. Give `jwt` or `subject`.
 *
 * @example
 * ```ts
 * vault.configureKubernetesRole('app', { subject: 'system:serviceaccount:shop:app', tokenTtlS: 60 });
 * ```
 */
export interface KubernetesRoleOptions {
  /**
   * The exact service account token a login must present.
   *
   * @defaultValue none: `subject` is checked instead
   */
  jwt?: string;
  /**
   * The `sub` claim a login's JWT must carry, e.g. `system:serviceaccount:<namespace>:<name>`.
   * The signature is not checked.
   *
   * @defaultValue none: `jwt` is checked instead
   */
  subject?: string;
  /** @defaultValue `0` (the system default, 768 h) */
  tokenTtlS?: number;
  /** @defaultValue `0` (the system max) */
  tokenMaxTtlS?: number;
  /** @defaultValue `0` (not periodic) */
  tokenPeriodS?: number;
  /** @defaultValue `[]` */
  policies?: string[];
  /**
   * Where this Kubernetes auth method is mounted (`auth/<mount>/login`).
   *
   * @defaultValue {@link DEFAULT_VAULT_KUBERNETES_MOUNT} (`'kubernetes'`)
   */
  mount?: string;
}

/**
 * Options of {@link VaultEmulator.createToken}: an orphan token, as `auth/token/create` with
 * `no_parent` makes it.
 *
 * @example
 * ```ts
 * const token = vault.createToken({ ttlS: 30, maxTtlS: 60 });
 * ```
 */
export interface CreateTokenOptions {
  /** @defaultValue `0` (the system default, 768 h) */
  ttlS?: number;
  /**
   * Its explicit max TTL, in seconds; 0 for none.
   *
   * @defaultValue `0`
   */
  maxTtlS?: number;
  /** @defaultValue `0` (not periodic) */
  periodS?: number;
  /** @defaultValue `true` */
  renewable?: boolean;
  /**
   * Policies besides `default` (`['root']` for a root token with a TTL).
   *
   * @defaultValue `[]`
   */
  policies?: string[];
  /**
   * Makes the display name `token-<displayName>` (it appears in dynamic usernames).
   *
   * @defaultValue none: `token`
   */
  displayName?: string;
}

/**
 * Options of {@link VaultEmulator.writeKv}.
 *
 * @example
 * ```ts
 * vault.writeKv('app/db', { username: 'app', password }, { mount: 'kv' });
 * ```
 */
export interface WriteKvOptions {
  /** @defaultValue the first of {@link VaultEmulatorOptions.kvMounts} */
  mount?: string;
}

/** Validated {@link DatabaseRoleOptions}. */
export function resolveDatabaseRole(options: unknown): {
  defaultTtlS: number;
  maxTtlS: number;
  grants: string;
  usernameTemplate: UsernameTemplate;
} {
  const prefix = 'configureDatabaseRole.';
  const bag = expectObject(options, 'configureDatabaseRole(options)')!;
  rejectUnknownKeys(bag, new Set(['dbName', 'grants', 'defaultTtlS', 'maxTtlS', 'usernameTemplate']), prefix);
  const dbName = string(bag, 'dbName', prefix);
  if (dbName !== undefined && dbName.includes('`')) throw new InvalidOptionError(`${prefix}dbName`, 'must not contain a backtick');
  const grants = string(bag, 'grants', prefix, dbName === undefined ? undefined : `ALL PRIVILEGES ON \`${dbName}\`.*`);
  if (grants === undefined) throw new InvalidOptionError(`${prefix}grants`, 'is required unless dbName is given');
  const defaultTtlS = ttl(bag, 'defaultTtlS', prefix);
  const maxTtlS = ttl(bag, 'maxTtlS', prefix);
  if (maxTtlS > 0 && defaultTtlS > maxTtlS) throw new InvalidOptionError(`${prefix}defaultTtlS`, 'must not be greater than maxTtlS');
  const template = bag.usernameTemplate ?? 'mysql';
  if (template !== 'mysql' && template !== 'legacy' && typeof template !== 'function') {
    throw new InvalidOptionError(`${prefix}usernameTemplate`, "must be 'mysql', 'legacy' or a function");
  }
  return { defaultTtlS, maxTtlS, grants, usernameTemplate: template as UsernameTemplate };
}

/** Validated {@link StaticRoleOptions}. */
export function resolveStaticRole(options: unknown): { username: string; rotationPeriodS: number } {
  const prefix = 'configureStaticRole.';
  const bag = expectObject(options, 'configureStaticRole(options)')!;
  rejectUnknownKeys(bag, new Set(['username', 'rotationPeriodS']), prefix);
  const username = string(bag, 'username', prefix);
  if (username === undefined) throw new InvalidOptionError(`${prefix}username`, 'is required');
  if (bag.rotationPeriodS === undefined) throw new InvalidOptionError(`${prefix}rotationPeriodS`, 'is required');
  return { username, rotationPeriodS: integer(bag, 'rotationPeriodS', prefix, 0, 1) };
}

/** Validated token settings of an AppRole or Kubernetes role. */
export interface ResolvedLoginRole {
  tokenTtlS: number;
  tokenMaxTtlS: number;
  tokenPeriodS: number;
  policies: string[];
}

function loginRole(bag: Record<string, unknown>, prefix: string): ResolvedLoginRole {
  const tokenTtlS = ttl(bag, 'tokenTtlS', prefix);
  const tokenMaxTtlS = ttl(bag, 'tokenMaxTtlS', prefix);
  if (tokenMaxTtlS > 0 && tokenTtlS > tokenMaxTtlS)
    throw new InvalidOptionError(`${prefix}tokenTtlS`, 'must not be greater than tokenMaxTtlS');
  return { tokenTtlS, tokenMaxTtlS, tokenPeriodS: ttl(bag, 'tokenPeriodS', prefix), policies: stringList(bag, 'policies', prefix, []) };
}

/** Validated {@link AppRoleOptions}. */
export function resolveAppRole(options: unknown): ResolvedLoginRole & { roleId: string | undefined; secretId: string | undefined } {
  const prefix = 'configureAppRole.';
  const bag = expectObject(options ?? {}, 'configureAppRole(options)')!;
  rejectUnknownKeys(bag, new Set(['roleId', 'secretId', 'tokenTtlS', 'tokenMaxTtlS', 'tokenPeriodS', 'policies']), prefix);
  return { ...loginRole(bag, prefix), roleId: string(bag, 'roleId', prefix), secretId: string(bag, 'secretId', prefix) };
}

/** Validated {@link KubernetesRoleOptions}. */
export function resolveKubernetesRole(
  options: unknown,
): ResolvedLoginRole & { jwt: string | undefined; subject: string | undefined; mount: string } {
  const prefix = 'configureKubernetesRole.';
  const bag = expectObject(options, 'configureKubernetesRole(options)')!;
  rejectUnknownKeys(bag, new Set(['jwt', 'subject', 'tokenTtlS', 'tokenMaxTtlS', 'tokenPeriodS', 'policies', 'mount']), prefix);
  const jwt = string(bag, 'jwt', prefix);
  const subject = string(bag, 'subject', prefix);
  if ((jwt === undefined) === (subject === undefined)) throw new InvalidOptionError(`${prefix}jwt`, 'or subject is required, not both');
  return { ...loginRole(bag, prefix), jwt, subject, mount: mount(bag, 'mount', prefix, DEFAULT_VAULT_KUBERNETES_MOUNT) };
}

/** Validated {@link CreateTokenOptions}. */
export function resolveCreateToken(
  options: unknown,
): Required<Omit<CreateTokenOptions, 'displayName'>> & { displayName: string | undefined } {
  const prefix = 'createToken.';
  const bag = expectObject(options ?? {}, 'createToken(options)')!;
  rejectUnknownKeys(bag, new Set(['ttlS', 'maxTtlS', 'periodS', 'renewable', 'policies', 'displayName']), prefix);
  return {
    ttlS: ttl(bag, 'ttlS', prefix),
    maxTtlS: ttl(bag, 'maxTtlS', prefix),
    periodS: ttl(bag, 'periodS', prefix),
    renewable: bool(bag, 'renewable', prefix, true),
    policies: stringList(bag, 'policies', prefix, []),
    displayName: string(bag, 'displayName', prefix),
  };
}

/** Validated {@link WriteKvOptions}. */
export function resolveWriteKv(options: unknown, fallbackMount: string): string {
  const bag = expectObject(options ?? {}, 'writeKv(options)')!;
  rejectUnknownKeys(bag, new Set(['mount']), 'writeKv.');
  return mount(bag, 'mount', 'writeKv.', fallbackMount);
}
