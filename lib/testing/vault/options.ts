/**
 * Options of the Vault emulator and of its setup helpers, with their defaults and validation.
 * Unknown keys are rejected; messages name the option and never echo a value.
 *
 * @packageDocumentation
 */

import { isLoopback } from '../../loopback.js';
import { InvalidOptionError } from '../../errors.js';
import { bool, expectObject, integer, rejectUnknownKeys, string } from '../../options.js';
import type { UsernameTemplate } from './random.js';

export type { UsernameMetadata, UsernameTemplate } from './random.js';

/**
 * Default of {@link VaultEmulatorOptions.databaseMount}: `'database'`.
 * @example
 * ```ts
 * await vault.read(`${DEFAULT_VAULT_DATABASE_MOUNT}/creds/app`);
 * ```
 */
export const DEFAULT_VAULT_DATABASE_MOUNT = 'database';
/**
 * Default of {@link VaultEmulatorOptions.approleMount}: `'approle'`.
 * @example
 * ```ts
 * await vault.approleLogin({ mount_point: DEFAULT_VAULT_APPROLE_MOUNT, role_id, secret_id });
 * ```
 */
export const DEFAULT_VAULT_APPROLE_MOUNT = 'approle';
/**
 * Default of {@link KubernetesRoleOptions.mount}: `'kubernetes'`.
 * @example
 * ```ts
 * await vault.kubernetesLogin({ mount_point: DEFAULT_VAULT_KUBERNETES_MOUNT, role: 'app', jwt });
 * ```
 */
export const DEFAULT_VAULT_KUBERNETES_MOUNT = 'kubernetes';
/**
 * Default of {@link VaultEmulatorOptions.kvMounts}: one KV version 2 mount, `secret`, as in a
 * Vault dev server.
 * @example
 * ```ts
 * await vault.read(`${DEFAULT_VAULT_KV_MOUNTS[0]}/data/app/db`);
 * ```
 */
export const DEFAULT_VAULT_KV_MOUNTS: readonly string[] = Object.freeze(['secret']);
/**
 * Default of {@link VaultEmulatorOptions.accountHosts}: `['%', 'localhost']`, like
 * `MariaDBServer.createUser`, so that a loopback client logs in whether or not the server
 * resolves its address to `localhost`.
 * @example
 * ```ts
 * await startVaultEmulator({ server, accountHosts: ['%'] }); // exactly Vault's statements
 * ```
 */
export const DEFAULT_VAULT_ACCOUNT_HOSTS: readonly string[] = Object.freeze(['%', 'localhost']);

/**
 * The administrator access the emulator needs, as a `MariaDBServer` from `credswap/testing`
 * provides it (typed structurally).
 *
 * @example
 * ```ts
 * const server = await startTestServer();
 * const vault = await startVaultEmulator({ server });
 * ```
 */
export interface VaultDatabaseServer {
  readonly host: string;
  readonly port: number;
  readonly adminUser: string;
  readonly adminPassword: string;
}

/**
 * An administrator account on MariaDB or MySQL, as Vault's database connection config holds it.
 *
 * @example
 * ```ts
 * await startVaultEmulator({ mysql: { host: '127.0.0.1', port: 3306, user: 'vault', password: process.env.VAULT_DB_PASSWORD! } });
 * ```
 */
export interface VaultMySQLAccess {
  host: string;
  /** @defaultValue `3306` */
  port?: number;
  user: string;
  password: string;
}

/**
 * Options of {@link startVaultEmulator}.
 *
 * @example
 * ```ts
 * const vault = await startVaultEmulator({ server, rootToken: 'root', kvMounts: ['secret', 'kv'] });
 * ```
 */
export interface VaultEmulatorOptions {
  /**
   * The database the database secrets engine manages users on, as a `MariaDBServer`. Give this
   * or `mysql` to use the `database/*` routes.
   *
   * @defaultValue none: the database routes answer 500
   */
  server?: VaultDatabaseServer;
  /**
   * The database as an address and an administrator account, instead of `server`.
   *
   * @defaultValue none
   */
  mysql?: VaultMySQLAccess;
  /**
   * The root token, valid forever, with the `root` policy.
   *
   * @defaultValue a random `hvs.` token
   */
  rootToken?: string;
  /**
   * Loopback address to listen on: `127.0.0.1`, `::1` or `localhost`.
   *
   * @defaultValue `'127.0.0.1'`
   */
  host?: string;
  /**
   * TCP port to listen on; 0 picks a free one.
   *
   * @defaultValue `0`
   */
  port?: number;
  /**
   * Where the database secrets engine is mounted.
   *
   * @defaultValue {@link DEFAULT_VAULT_DATABASE_MOUNT} (`'database'`)
   */
  databaseMount?: string;
  /**
   * Where the AppRole auth method is mounted (`auth/<mount>/login`).
   *
   * @defaultValue {@link DEFAULT_VAULT_APPROLE_MOUNT} (`'approle'`)
   */
  approleMount?: string;
  /**
   * KV version 2 mounts. {@link VaultEmulator.writeKv} adds the mounts it writes to.
   *
   * @defaultValue {@link DEFAULT_VAULT_KV_MOUNTS} (`['secret']`)
   */
  kvMounts?: string[];
  /**
   * The host parts of the database accounts the emulator creates and drops. Vault's MySQL
   * plugin uses `'%'` only; a server that resolves names may match a loopback client against a
   * `'localhost'` account first.
   *
   * @defaultValue {@link DEFAULT_VAULT_ACCOUNT_HOSTS} (`['%', 'localhost']`)
   */
  accountHosts?: string[];
  /**
   * Whether {@link VaultEmulator.close} revokes the leases still active (drops their database
   * users) so that a shared server is left clean. Vault itself revokes nothing when it stops;
   * set `false` to leave the users in place.
   *
   * @defaultValue `true`
   */
  revokeLeasesOnClose?: boolean;
  /**
   * Called with each failure of background work: a revocation on expiry, a scheduled static
   * rotation. Such failures are also kept in {@link VaultEmulator.backgroundErrors}.
   *
   * @defaultValue none
   */
  onError?: (error: Error) => void;
}

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

type Bag = Record<string, unknown>;

const MOUNT = /^[A-Za-z0-9_.-]+$/;
/** Vault's `framework.GenericNameRegex`. */
const ROLE_NAME = /^\w(?:[\w.-]*\w)?$/;
const RESERVED_MOUNTS = new Set(['sys', 'auth', 'identity', 'cubbyhole']);

function mount(bag: Bag, key: string, prefix: string, fallback: string): string {
  const value = string(bag, key, prefix, fallback)!;
  if (!MOUNT.test(value) || RESERVED_MOUNTS.has(value)) {
    throw new InvalidOptionError(`${prefix}${key}`, 'must be one path segment (letters, digits, _ . -) and not a reserved mount');
  }
  return value;
}

function stringList(bag: Bag, key: string, prefix: string, fallback: readonly string[], allowEmpty = true): string[] {
  const value = bag[key];
  if (value === undefined) return [...fallback];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '') || (!allowEmpty && value.length === 0)) {
    throw new InvalidOptionError(`${prefix}${key}`, `must be ${allowEmpty ? 'an' : 'a non-empty'} array of non-empty strings`);
  }
  return [...(value as string[])];
}

/** A string that may be empty (a password). */
function secretString(bag: Bag, key: string, prefix: string): string {
  const value = bag[key];
  if (typeof value !== 'string') throw new InvalidOptionError(`${prefix}${key}`, 'must be a string');
  return value;
}


/** Validated {@link VaultEmulatorOptions}. */
export interface ResolvedEmulatorOptions {
  readonly admin: { host: string; port: number; user: string; password: string } | undefined;
  readonly rootToken: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly databaseMount: string;
  readonly approleMount: string;
  readonly kvMounts: readonly string[];
  readonly accountHosts: readonly string[];
  readonly revokeLeasesOnClose: boolean;
  readonly onError: (error: Error) => void;
}

const EMULATOR_KEYS = new Set([
  'server',
  'mysql',
  'rootToken',
  'host',
  'port',
  'databaseMount',
  'approleMount',
  'kvMounts',
  'accountHosts',
  'revokeLeasesOnClose',
  'onError',
]);

/** Validates the options of `startVaultEmulator`. */
export function resolveEmulatorOptions(options: unknown): ResolvedEmulatorOptions {
  const bag = expectObject(options ?? {}, 'options')!;
  rejectUnknownKeys(bag, EMULATOR_KEYS, '');
  if (bag.server !== undefined && bag.mysql !== undefined) {
    throw new InvalidOptionError('mysql', 'cannot be given together with server');
  }
  let admin: ResolvedEmulatorOptions['admin'];
  if (bag.server !== undefined) {
    const server = expectObject(bag.server, 'server')!;
    admin = {
      host: string(server, 'host', 'server.')!,
      port: integer(server, 'port', 'server.', 0, 1),
      user: string(server, 'adminUser', 'server.')!,
      password: secretString(server, 'adminPassword', 'server.'),
    };
  } else if (bag.mysql !== undefined) {
    const mysql = expectObject(bag.mysql, 'mysql')!;
    rejectUnknownKeys(mysql, new Set(['host', 'port', 'user', 'password']), 'mysql.');
    admin = {
      host: string(mysql, 'host', 'mysql.')!,
      port: integer(mysql, 'port', 'mysql.', 3306, 1),
      user: string(mysql, 'user', 'mysql.')!,
      password: secretString(mysql, 'password', 'mysql.'),
    };
  }
  if (admin !== undefined && (admin.host === undefined || admin.user === undefined || admin.port < 1 || admin.port > 65535)) {
    throw new InvalidOptionError(bag.server !== undefined ? 'server' : 'mysql', 'needs a host, a port up to 65535 and a user');
  }
  const host = string(bag, 'host', '', '127.0.0.1')!;
  if (!isLoopback(host)) throw new InvalidOptionError('host', 'must be a loopback address (127.0.0.1, ::1 or localhost)');
  const port = integer(bag, 'port', '', 0, 0);
  if (port > 65535) throw new InvalidOptionError('port', 'must be at most 65535');
  const kvMounts = stringList(bag, 'kvMounts', '', DEFAULT_VAULT_KV_MOUNTS);
  for (const name of kvMounts) {
    if (!MOUNT.test(name) || RESERVED_MOUNTS.has(name)) {
      throw new InvalidOptionError('kvMounts', 'must hold path segments (letters, digits, _ . -), not reserved mounts');
    }
  }
  const databaseMount = mount(bag, 'databaseMount', '', DEFAULT_VAULT_DATABASE_MOUNT);
  if (kvMounts.includes(databaseMount)) throw new InvalidOptionError('databaseMount', 'must not also be a KV mount');
  const onError = bag.onError;
  if (onError !== undefined && typeof onError !== 'function') throw new InvalidOptionError('onError', 'must be a function');
  return {
    admin,
    rootToken: string(bag, 'rootToken', ''),
    host,
    port,
    databaseMount,
    approleMount: mount(bag, 'approleMount', '', DEFAULT_VAULT_APPROLE_MOUNT),
    kvMounts,
    accountHosts: stringList(bag, 'accountHosts', '', DEFAULT_VAULT_ACCOUNT_HOSTS, false),
    revokeLeasesOnClose: bool(bag, 'revokeLeasesOnClose', '', true),
    onError: (onError as ((error: Error) => void) | undefined) ?? (() => undefined),
  };
}

/** Throws unless `name` is a valid role name. */
export function roleName(name: unknown, method: string): string {
  if (typeof name !== 'string' || !ROLE_NAME.test(name)) {
    throw new InvalidOptionError(`${method}(name)`, 'must be letters, digits, _, . or -, starting and ending with a letter, digit or _');
  }
  return name;
}

function ttl(bag: Bag, key: string, prefix: string): number {
  return integer(bag, key, prefix, 0, 0);
}

/** Validated {@link DatabaseRoleOptions}. */
export function resolveDatabaseRole(options: unknown): { defaultTtlS: number; maxTtlS: number; grants: string; usernameTemplate: UsernameTemplate } {
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

function loginRole(bag: Bag, prefix: string): ResolvedLoginRole {
  const tokenTtlS = ttl(bag, 'tokenTtlS', prefix);
  const tokenMaxTtlS = ttl(bag, 'tokenMaxTtlS', prefix);
  if (tokenMaxTtlS > 0 && tokenTtlS > tokenMaxTtlS) throw new InvalidOptionError(`${prefix}tokenTtlS`, 'must not be greater than tokenMaxTtlS');
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
export function resolveKubernetesRole(options: unknown): ResolvedLoginRole & { jwt: string | undefined; subject: string | undefined; mount: string } {
  const prefix = 'configureKubernetesRole.';
  const bag = expectObject(options, 'configureKubernetesRole(options)')!;
  rejectUnknownKeys(bag, new Set(['jwt', 'subject', 'tokenTtlS', 'tokenMaxTtlS', 'tokenPeriodS', 'policies', 'mount']), prefix);
  const jwt = string(bag, 'jwt', prefix);
  const subject = string(bag, 'subject', prefix);
  if ((jwt === undefined) === (subject === undefined)) throw new InvalidOptionError(`${prefix}jwt`, 'or subject is required, not both');
  return { ...loginRole(bag, prefix), jwt, subject, mount: mount(bag, 'mount', prefix, DEFAULT_VAULT_KUBERNETES_MOUNT) };
}

/** Validated {@link CreateTokenOptions}. */
export function resolveCreateToken(options: unknown): Required<Omit<CreateTokenOptions, 'displayName'>> & { displayName: string | undefined } {
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
