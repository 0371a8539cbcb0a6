/**
 * The options of a rotation handler: their defaults, their types and their checks.
 *
 * @packageDocumentation
 */

import type { SslOptions } from 'mysql2';
import { InvalidOptionError } from '../../../lib/errors.js';
import { duration, expectObject, integer, oneOf, rejectUnknownKeys, string } from '../../../lib/options.js';
import type { SecretsManagerClientConfig, SecretsManagerClientLike } from '../sdk.js';

/**
 * Default of {@link RotationHandlerOptions.connectTimeoutMs}: 5 s, as AWS's rotation functions.
 * @example
 * ```ts
 * createRotationHandler({ strategy: 'single-user', connectTimeoutMs: DEFAULT_ROTATION_CONNECT_TIMEOUT_MS * 2 });
 * ```
 */
export const DEFAULT_ROTATION_CONNECT_TIMEOUT_MS = 5_000;
/**
 * Default of {@link RotationHandlerOptions.passwordLength}: 32 characters, as AWS's rotation functions.
 * @example
 * ```ts
 * createRotationHandler({ strategy: 'single-user', passwordLength: DEFAULT_ROTATION_PASSWORD_LENGTH * 2 });
 * ```
 */
export const DEFAULT_ROTATION_PASSWORD_LENGTH = 32;
/**
 * Default of {@link RotationHandlerOptions.excludeCharacters}: `/ @ " ' \`, as AWS's rotation
 * functions: characters that break connection URLs, shell quoting or SQL string literals.
 * @example
 * ```ts
 * createRotationHandler({ strategy: 'single-user', excludeCharacters: `${DEFAULT_ROTATION_EXCLUDE_CHARACTERS}:%?#` });
 * ```
 */
export const DEFAULT_ROTATION_EXCLUDE_CHARACTERS = '/@"\'\\';
/**
 * Default of {@link RotationHandlerOptions.cloneSuffix}: `_clone`, as AWS's alternating-users function.
 * @example
 * ```ts
 * const alternate = user.endsWith(DEFAULT_CLONE_SUFFIX) ? user.slice(0, -DEFAULT_CLONE_SUFFIX.length) : user + DEFAULT_CLONE_SUFFIX;
 * ```
 */
export const DEFAULT_CLONE_SUFFIX = '_clone';
/**
 * Default of {@link RotationHandlerOptions.masterSecretKey}: `masterarn`, the key AWS's
 * alternating-users function reads the administrator secret's ARN from.
 * @example
 * ```ts
 * const secret = { engine: 'mysql', host: 'db', username: 'app', password: '...', [DEFAULT_MASTER_SECRET_KEY]: 'arn:aws:secretsmanager:...' };
 * ```
 */
export const DEFAULT_MASTER_SECRET_KEY = 'masterarn';

/**
 * Where the handler reports what it did. `console` fits. Messages name the secret, version,
 * step and user names, never a password.
 * @example
 * ```ts
 * const logger: RotationLogger = { info: (m) => console.log(m), warn: (m) => console.warn(m) };
 * ```
 */
export interface RotationLogger {
  /** Progress: a step done, or found already done. */
  info?(message: string): void;
  /** Something the handler worked around but an operator should know. */
  warn?(message: string): void;
}

/**
 * The rotation strategies of {@link RotationHandlerOptions.strategy}.
 * @example
 * ```ts
 * const strategy: RotationStrategyName = process.env.DB_FLAVOUR === 'mariadb' ? 'single-user' : 'dual-password';
 * ```
 */
export type RotationStrategyName = 'single-user' | 'alternating-users' | 'dual-password';

const STRATEGIES = ['single-user', 'alternating-users', 'dual-password'] as const satisfies readonly RotationStrategyName[];

/**
 * Options of {@link createRotationHandler}.
 * @example
 * ```ts
 * const options: RotationHandlerOptions = { strategy: 'alternating-users', clientConfig: { region: 'eu-west-1' } };
 * ```
 */
export interface RotationHandlerOptions {
  /**
   * `single-user`: the user changes its own password; between `setSecret` and `finishSecret`,
   * new connections with the old password fail. `alternating-users`: an administrator (the
   * secret named by the `masterarn` key) keeps two users, `app` and `app_clone`, and each
   * rotation gives the other one a new password and the same grants: the old credentials keep
   * working until the next rotation. `dual-password` (MySQL 8.0.14 and later, not MariaDB): the
   * password changes with `RETAIN CURRENT PASSWORD`, so that the old and the new one both log
   * in until `finishSecret` has moved AWSCURRENT and discards the old one; the user needs the
   * `APPLICATION_PASSWORD_ADMIN` privilege, or the secret's `masterarn` names an administrator
   * with `CREATE USER`.
   */
  strategy: RotationStrategyName;
  /**
   * A Secrets Manager client of your own (not destroyed by the handler). Not together with
   * `clientConfig`.
   * @defaultValue a client created on first use from `clientConfig`
   */
  client?: SecretsManagerClientLike;
  /**
   * Configuration of the client the handler creates (region, endpoint, credentials, ...).
   * @defaultValue `{}`: region and credentials from the Lambda environment
   */
  clientConfig?: SecretsManagerClientConfig;
  /**
   * Connect to this host instead of the secret's `host` (a Lambda in a VPC may reach the
   * database at another address than the one clients use).
   * @defaultValue the secret's `host`
   */
  host?: string;
  /**
   * Connect to this port instead of the secret's `port`.
   * @defaultValue the secret's `port`, else 3306
   */
  port?: number;
  /**
   * How long one database login may take.
   * @defaultValue {@link DEFAULT_ROTATION_CONNECT_TIMEOUT_MS} (5000)
   */
  connectTimeoutMs?: number;
  /**
   * TLS settings for every database connection, passed to mysql2 as its `ssl` option.
   * @defaultValue none (no TLS)
   */
  ssl?: string | SslOptions;
  /**
   * Characters new passwords must not contain (GetRandomPassword's `ExcludeCharacters`).
   * @defaultValue {@link DEFAULT_ROTATION_EXCLUDE_CHARACTERS} (`/@"'\`)
   */
  excludeCharacters?: string;
  /**
   * Length of new passwords, 1 to 4096.
   * @defaultValue {@link DEFAULT_ROTATION_PASSWORD_LENGTH} (32)
   */
  passwordLength?: number;
  /**
   * Alternating users: the suffix that names the second user.
   * @defaultValue {@link DEFAULT_CLONE_SUFFIX} (`_clone`)
   */
  cloneSuffix?: string;
  /**
   * The secret key that holds the administrator secret's ARN or name: alternating users need
   * it; dual password uses the administrator when the secret has it.
   * @defaultValue {@link DEFAULT_MASTER_SECRET_KEY} (`masterarn`)
   */
  masterSecretKey?: string;
  /**
   * Dual password: when the old password stops logging in. `'at-finish'`: finishSecret discards
   * it (`DISCARD OLD PASSWORD`) once AWSCURRENT has moved, so a process that has not read the new
   * secret by then has its next login refused once (credswap then fetches the new one). `'at-next-rotation'`:
   * finishSecret leaves it, and the next rotation's setSecret replaces it (`RETAIN CURRENT
   * PASSWORD` keeps only the current password as the secondary one): no login is ever refused,
   * and the previous password keeps logging in for one rotation period.
   * @defaultValue 'at-finish'
   */
  discardOldPassword?: DiscardOldPassword;
  /**
   * Where to report progress.
   * @defaultValue none (silent)
   */
  logger?: RotationLogger;
}

/** See {@link RotationHandlerOptions.discardOldPassword}. */
export type DiscardOldPassword = 'at-finish' | 'at-next-rotation';
const DISCARD_MOMENTS: readonly DiscardOldPassword[] = ['at-finish', 'at-next-rotation'];

const OPTION_KEYS = new Set([
  'strategy',
  'client',
  'clientConfig',
  'host',
  'port',
  'connectTimeoutMs',
  'ssl',
  'excludeCharacters',
  'passwordLength',
  'cloneSuffix',
  'masterSecretKey',
  'discardOldPassword',
  'logger',
]);
const MAX_PASSWORD_LENGTH = 4096;

/** The options of one handler, checked, with their defaults applied. */
export interface RotationSettings {
  readonly strategy: RotationStrategyName;
  readonly client: SecretsManagerClientLike | undefined;
  readonly clientConfig: SecretsManagerClientConfig;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly connectTimeoutMs: number;
  readonly ssl: string | SslOptions | undefined;
  readonly excludeCharacters: string;
  readonly passwordLength: number;
  readonly cloneSuffix: string;
  readonly masterSecretKey: string;
  readonly discardOldPassword: DiscardOldPassword;
  readonly logger: RotationLogger | undefined;
}

/**
 * Checks the options of {@link createRotationHandler} and applies their defaults.
 *
 * @throws InvalidOptionError for an unknown, missing or malformed option.
 */
export function readOptions(options: unknown): RotationSettings {
  const bag = expectObject(options, 'options') as Record<string, unknown>;
  rejectUnknownKeys(bag, OPTION_KEYS, '');
  if (bag.strategy === undefined) {
    throw new InvalidOptionError('strategy', `is required: ${STRATEGIES.map((name) => `'${name}'`).join(', ')}`);
  }
  const strategy = oneOf(bag, 'strategy', '', STRATEGIES, 'single-user');
  const client = bag.client;
  if (
    client !== undefined &&
    (typeof client !== 'object' || client === null || typeof (client as { send?: unknown }).send !== 'function')
  ) {
    throw new InvalidOptionError('client', 'must be a SecretsManagerClient (an object with a send method)');
  }
  const clientConfig = expectObject(bag.clientConfig, 'clientConfig', true);
  if (client !== undefined && clientConfig !== undefined) {
    throw new InvalidOptionError('clientConfig', "cannot be used together with 'client'; configure your client instead");
  }
  const port = bag.port === undefined ? undefined : integer(bag, 'port', '', 0, 1);
  if (port !== undefined && port > 65535) throw new InvalidOptionError('port', 'must be at most 65535');
  const ssl = bag.ssl;
  if (ssl !== undefined && typeof ssl !== 'string' && (typeof ssl !== 'object' || ssl === null || Array.isArray(ssl))) {
    throw new InvalidOptionError('ssl', "must be mysql2's ssl option: a profile name or an object");
  }
  const excludeCharacters = bag.excludeCharacters ?? DEFAULT_ROTATION_EXCLUDE_CHARACTERS;
  if (typeof excludeCharacters !== 'string') throw new InvalidOptionError('excludeCharacters', 'must be a string');
  const passwordLength = integer(bag, 'passwordLength', '', DEFAULT_ROTATION_PASSWORD_LENGTH, 1);
  if (passwordLength > MAX_PASSWORD_LENGTH) throw new InvalidOptionError('passwordLength', `must be at most ${MAX_PASSWORD_LENGTH}`);
  if (bag.discardOldPassword !== undefined && strategy !== 'dual-password') {
    throw new InvalidOptionError('discardOldPassword', "applies to strategy 'dual-password' only");
  }
  const discard = oneOf(bag, 'discardOldPassword', '', DISCARD_MOMENTS, 'at-finish');
  const logger = expectObject(bag.logger, 'logger', true);
  for (const method of ['info', 'warn'] as const) {
    if (logger !== undefined && logger[method] !== undefined && typeof logger[method] !== 'function') {
      throw new InvalidOptionError(`logger.${method}`, 'must be a function');
    }
  }
  return {
    strategy,
    client: client as SecretsManagerClientLike | undefined,
    clientConfig: clientConfig ?? {},
    host: string(bag, 'host', ''),
    port,
    connectTimeoutMs: duration(bag, 'connectTimeoutMs', '', DEFAULT_ROTATION_CONNECT_TIMEOUT_MS, 1),
    ssl: ssl,
    excludeCharacters,
    passwordLength,
    cloneSuffix: string(bag, 'cloneSuffix', '', DEFAULT_CLONE_SUFFIX) as string,
    masterSecretKey: string(bag, 'masterSecretKey', '', DEFAULT_MASTER_SECRET_KEY) as string,
    discardOldPassword: discard,
    logger: logger,
  };
}
