/**
 * Options of {@link startVaultEmulator}, with their defaults and validation. Unknown keys are
 * rejected; messages name the option and never echo a value.
 *
 * @packageDocumentation
 */

import { isLoopback } from '../../loopback.js';
import { InvalidOptionError } from '../../errors.js';
import { bool, expectObject, integer, rejectUnknownKeys, string } from '../../options.js';
import { isMountName, mount, secretString, stringList } from './option-checks.js';

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
    if (!isMountName(name)) {
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
