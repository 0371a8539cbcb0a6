/**
 * A Secrets Manager rotation function for MySQL and MariaDB: `createRotationHandler()` returns
 * the handler of a rotation Lambda. It follows AWS's published rotation functions for RDS MySQL
 * (single user and alternating users) step for step, and works on MariaDB 10.x/11.x and MySQL 8.
 *
 * @packageDocumentation
 */

import { randomBytes } from 'node:crypto';
import type { SslOptions } from 'mysql2';
import type { Credentials } from '../../lib/credentials.js';
import { CredswapError, InvalidCredentialsError, InvalidOptionError, describeCause } from '../../lib/errors.js';
import { RotationStepError, SecretsManagerError } from './errors.js';
import { duration, expectObject, integer, oneOf, rejectUnknownKeys, string } from '../../lib/options.js';
import { redactError, redactText, sqlEscaped } from '../../lib/redact.js';
import { close, copyTlsRequirement, isMariaDB, loadMysql, rewriteGrant, userHosts, type Connection } from './rotation-sql.js';
import { asSdkClient, loadSecretsManagerSdk, newSdkClient, toSecretsManagerError, type SecretsManagerClientConfig, type SecretsManagerClientLike, type SecretsManagerSdk, type SdkClient } from './sdk.js';
import { AWSCURRENT, AWSPENDING, parseSecretString, type ParsedSecret } from './secret-json.js';

// ---------------------------------------------------------------------------------------------
// Public constants and types

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
 * The longest user name MySQL accepts (32 characters since 5.7.8; MariaDB accepts 80). An
 * alternate user name longer than this is refused in `createSecret`, before anything changes.
 * @example
 * ```ts
 * if (`${user}_clone`.length > MYSQL_MAX_USER_NAME_LENGTH) console.warn('use single-user rotation');
 * ```
 */
export const MYSQL_MAX_USER_NAME_LENGTH = 32;

/** The four steps Secrets Manager calls a rotation function with, in this order. */
export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

/**
 * The event Secrets Manager invokes a rotation Lambda with.
 * @example
 * ```ts
 * await handler({ Step: 'testSecret', SecretId: 'prod/app/db', ClientRequestToken: token });
 * ```
 */
export interface RotationEvent {
  /** Which step to run. */
  Step: RotationStep;
  /** The secret's ARN (or name). */
  SecretId: string;
  /** The id of the version being rotated to (it carries `AWSPENDING`). */
  ClientRequestToken: string;
  /**
   * Identifies this rotation; passed on to PutSecretValue when present (Secrets Manager needs
   * it there when the function rotates a secret through an assumed role).
   */
  RotationToken?: string;
}

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
   * working until the next rotation.
   */
  strategy: 'single-user' | 'alternating-users';
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
   * Alternating users: the secret key that holds the administrator secret's ARN or name.
   * @defaultValue {@link DEFAULT_MASTER_SECRET_KEY} (`masterarn`)
   */
  masterSecretKey?: string;
  /**
   * Where to report progress.
   * @defaultValue none (silent)
   */
  logger?: RotationLogger;
}

/**
 * A rotation Lambda handler, as returned by {@link createRotationHandler}. The second argument
 * (the Lambda context) is not used.
 * @example
 * ```ts
 * export const handler: RotationHandler = createRotationHandler({ strategy: 'single-user' });
 * ```
 */
export type RotationHandler = (event: RotationEvent, context?: unknown) => Promise<void>;

/** @internal exported for tests */
export { rewriteGrant } from './rotation-sql.js';

// ---------------------------------------------------------------------------------------------
// Options

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
  'logger',
]);
const MAX_PASSWORD_LENGTH = 4096;

interface Settings {
  readonly strategy: 'single-user' | 'alternating-users';
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
  readonly logger: RotationLogger | undefined;
}

function validateOptions(options: unknown): Settings {
  const bag = expectObject(options, 'options') as Record<string, unknown>;
  rejectUnknownKeys(bag, OPTION_KEYS, '');
  if (bag.strategy === undefined) throw new InvalidOptionError('strategy', "is required: 'single-user' or 'alternating-users'");
  const strategy = oneOf(bag, 'strategy', '', ['single-user', 'alternating-users'] as const, 'single-user');
  const client = bag.client;
  if (client !== undefined && (typeof client !== 'object' || client === null || typeof (client as { send?: unknown }).send !== 'function')) {
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
  const logger = expectObject(bag.logger, 'logger', true);
  for (const method of ['info', 'warn'] as const) {
    if (logger !== undefined && logger[method] !== undefined && typeof logger[method] !== 'function') {
      throw new InvalidOptionError(`logger.${method}`, 'must be a function');
    }
  }
  return {
    strategy,
    client: client as SecretsManagerClientLike | undefined,
    clientConfig: (clientConfig ?? {}) as SecretsManagerClientConfig,
    host: string(bag, 'host', ''),
    port,
    connectTimeoutMs: duration(bag, 'connectTimeoutMs', '', DEFAULT_ROTATION_CONNECT_TIMEOUT_MS, 1),
    ssl: ssl as string | SslOptions | undefined,
    excludeCharacters,
    passwordLength,
    cloneSuffix: string(bag, 'cloneSuffix', '', DEFAULT_CLONE_SUFFIX) as string,
    masterSecretKey: string(bag, 'masterSecretKey', '', DEFAULT_MASTER_SECRET_KEY) as string,
    logger: logger as RotationLogger | undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// The handler

/**
 * Creates a Secrets Manager rotation function for a MySQL or MariaDB secret: the handler of a
 * rotation Lambda. It implements the four steps as AWS's rotation functions for RDS MySQL do:
 *
 * - every step first checks, with DescribeSecret, that rotation is enabled and that the
 *   event's token is a version of the secret carrying `AWSPENDING`; a version that already
 *   carries `AWSCURRENT` means the rotation is done, and the step returns.
 * - `createSecret` stores a copy of the current secret with a password from GetRandomPassword
 *   (and, alternating users, the other user name) as the pending version;
 * - `setSecret` makes the pending credentials valid in the database: the user changes its own
 *   password (single user), or the administrator creates or updates the other user with the
 *   current user's grants, on every host entry of the user name (alternating users);
 * - `testSecret` logs in with the pending credentials and runs a query;
 * - `finishSecret` moves `AWSCURRENT` to the pending version (the service moves `AWSPREVIOUS`).
 *
 * Every step can run twice with the same token and does its work once. A failing step throws a
 * {@link RotationStepError}, and Secrets Manager calls it again later. Each step opens its own
 * short-lived database connections and closes them before returning, also on failure.
 *
 * The secret is JSON: `{ engine?, host, port?, username, password, dbname?, masterarn? }`;
 * `port` may be a number or a numeric string. The Lambda needs network access to the database
 * and to Secrets Manager, and the permissions `secretsmanager:DescribeSecret`,
 * `GetSecretValue`, `PutSecretValue`, `UpdateSecretVersionStage` and `GetRandomPassword`
 * (plus `GetSecretValue` on the administrator secret for alternating users).
 *
 * @throws InvalidOptionError for an unknown, missing or malformed option.
 *
 * @example
 * ```ts
 * // rotate.ts, the rotation Lambda's handler file (runtime nodejs22.x, handler rotate.handler)
 * import { createRotationHandler } from 'credswap/aws';
 *
 * export const handler = createRotationHandler({
 *   strategy: 'alternating-users', // the secret's `masterarn` names an administrator secret
 *   logger: console,
 * });
 * ```
 */
export function createRotationHandler(options: RotationHandlerOptions): RotationHandler {
  const settings = validateOptions(options);
  let client: Promise<{ sdk: SecretsManagerSdk; client: SdkClient }> | undefined;
  const aws = (): Promise<{ sdk: SecretsManagerSdk; client: SdkClient }> => {
    client ??= loadSecretsManagerSdk('credswap/aws createRotationHandler').then(
      (sdk) => ({ sdk, client: asSdkClient(settings.client) ?? newSdkClient(sdk, settings.clientConfig) }),
      (error: unknown) => {
        client = undefined;
        throw error;
      },
    );
    return client;
  };

  return async function rotationHandler(event: RotationEvent): Promise<void> {
    const { secretId, token, step, rotationToken } = readEvent(event);
    const rotation = new Rotation(settings, secretId, token, step, rotationToken);
    try {
      const { sdk, client: c } = await aws();
      rotation.attach(sdk, c);
      await rotation.run();
    } catch (error) {
      throw rotation.failure(error);
    }
  };
}

function readEvent(event: unknown): { secretId: string; token: string; step: RotationStep; rotationToken: string | undefined } {
  const e = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
  const secretId = typeof e.SecretId === 'string' && e.SecretId !== '' ? e.SecretId : undefined;
  const token = typeof e.ClientRequestToken === 'string' && e.ClientRequestToken !== '' ? e.ClientRequestToken : undefined;
  const step = typeof e.Step === 'string' ? e.Step : undefined;
  const id = secretId ?? '(no SecretId)';
  if (secretId === undefined || token === undefined) {
    throw new RotationStepError(id, step ?? '(no Step)', 'the event needs SecretId and ClientRequestToken strings; is this function invoked by Secrets Manager rotation?');
  }
  if (step === undefined || !(STEPS as readonly string[]).includes(step)) {
    throw new RotationStepError(id, step ?? '(no Step)', `invalid step parameter; expected one of ${STEPS.join(', ')}`);
  }
  const rotationToken = typeof e.RotationToken === 'string' && e.RotationToken !== '' ? e.RotationToken : undefined;
  return { secretId, token, step: step as RotationStep, rotationToken };
}

// ---------------------------------------------------------------------------------------------
// One invocation: one step of one rotation

const AWSPREVIOUS = 'AWSPREVIOUS';
const DEFAULT_MYSQL_PORT = 3306;

/** A step failure that already says what went wrong; wrapped as is into a RotationStepError. */
class StepProblem extends Error {
  constructor(
    message: string,
    readonly user?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Where and as whom to log in. */
interface Login {
  readonly user: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly database: string | undefined;
}

class Rotation {
  private sdk!: SecretsManagerSdk;
  private client!: SdkClient;
  /** Every password this invocation has seen, to scrub from any error before it leaves. */
  private readonly passwords = new Set<string>();

  constructor(
    private readonly settings: Settings,
    private readonly secretId: string,
    private readonly token: string,
    private readonly step: RotationStep,
    private readonly rotationToken: string | undefined,
  ) {}

  attach(sdk: SecretsManagerSdk, client: SdkClient): void {
    this.sdk = sdk;
    this.client = client;
  }

  async run(): Promise<void> {
    const metadata = await this.call(this.secretId, () => this.client.send(new this.sdk.DescribeSecretCommand({ SecretId: this.secretId })));
    if (metadata.RotationEnabled === false) throw new StepProblem('rotation is not enabled for the secret');
    const versions = metadata.VersionIdsToStages ?? {};
    const stages = versions[this.token];
    if (stages === undefined) throw new StepProblem(`version ${this.token} has no stage for rotation of the secret`);
    if (stages.includes(AWSCURRENT)) {
      this.info(`version ${this.token} is already AWSCURRENT; nothing to do`);
      return;
    }
    if (!stages.includes(AWSPENDING)) throw new StepProblem(`version ${this.token} is not AWSPENDING for rotation of the secret`);

    switch (this.step) {
      case 'createSecret':
        return this.createSecret();
      case 'setSecret':
        return this.settings.strategy === 'single-user' ? this.setSecretSingleUser() : this.setSecretAlternating();
      case 'testSecret':
        return this.testSecret();
      case 'finishSecret':
        return this.finishSecret(versions);
    }
  }

  /** Wraps what failed into a RotationStepError naming the secret, step and user; no password. */
  failure(error: unknown): unknown {
    if (error instanceof RotationStepError) return error;
    redactError(error, this.passwords, [sqlEscaped]);
    const cause = error instanceof StepProblem ? error.cause : error;
    const problem =
      error instanceof StepProblem
        ? cause === undefined
          ? error.message
          : `${error.message}: ${describe(cause)}`
        : describe(error);
    return new RotationStepError(this.secretId, this.step, redactText(problem, this.passwords, [sqlEscaped]), {
      user: error instanceof StepProblem ? error.user : undefined,
      cause,
    });
  }

  // --- The steps ------------------------------------------------------------------------------

  private async createSecret(): Promise<void> {
    const current = await this.getSecret(this.secretId, AWSCURRENT);
    try {
      await this.getSecret(this.secretId, AWSPENDING, this.token);
      this.info(`createSecret: version ${this.token} already holds the pending secret`);
      return;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    let user = current.credentials.user;
    if (this.settings.strategy === 'alternating-users') {
      user = this.alternate(user);
      if (user.length > MYSQL_MAX_USER_NAME_LENGTH) {
        throw new StepProblem(
          `the alternate user name '${user}' is longer than MySQL's limit of ${MYSQL_MAX_USER_NAME_LENGTH} characters; use a shorter user name or cloneSuffix`,
          current.credentials.user,
        );
      }
    }
    const random = await this.call(this.secretId, () =>
      this.client.send(
        new this.sdk.GetRandomPasswordCommand({
          PasswordLength: this.settings.passwordLength,
          ExcludeCharacters: this.settings.excludeCharacters,
          RequireEachIncludedType: true,
        }),
      ),
    );
    const password = random.RandomPassword;
    if (typeof password !== 'string' || password === '') throw new StepProblem('GetRandomPassword returned no password');
    this.passwords.add(password);
    const pending = { ...current.raw, username: user, password };
    await this.call(this.secretId, () =>
      this.client.send(
        new this.sdk.PutSecretValueCommand({
          SecretId: this.secretId,
          ClientRequestToken: this.token,
          SecretString: JSON.stringify(pending),
          VersionStages: [AWSPENDING],
          ...(this.rotationToken !== undefined ? { RotationToken: this.rotationToken } : {}),
        }),
      ),
    );
    this.info(`createSecret: stored a new password for user '${user}' as version ${this.token} (AWSPENDING)`);
  }

  private async setSecretSingleUser(): Promise<void> {
    let previous: ParsedSecret | undefined;
    try {
      previous = await this.getSecret(this.secretId, AWSPREVIOUS);
    } catch (error) {
      if (!isNotFound(error) && !(error instanceof InvalidCredentialsError)) throw error;
    }
    const secrets = await this.pendingToSet();
    if (secrets === undefined) return;
    const { current, pending, pendingLogin } = secrets;
    this.sameAccount(current, pending, 'AWSCURRENT');

    let connection: Connection | undefined;
    let lastError: unknown;
    try {
      connection = await this.connect(this.login(current, 'AWSCURRENT'));
    } catch (error) {
      lastError = error;
    }
    if (connection === undefined && previous !== undefined) {
      this.sameAccount(previous, pending, 'AWSPREVIOUS');
      try {
        connection = await this.connect(this.login(previous, 'AWSPREVIOUS'));
      } catch (error) {
        lastError = error;
      }
    }
    if (connection === undefined) {
      throw new StepProblem('unable to log into the database with the AWSPREVIOUS, AWSCURRENT or AWSPENDING secret', pendingLogin.user, {
        cause: lastError,
      });
    }
    try {
      const mariadb = await isMariaDB(connection);
      const [[self]] = await connection.query<Array<{ account: string }>>('SELECT CURRENT_USER() AS account');
      // MariaDB's ALTER USER needs CREATE USER even for one's own account; SET PASSWORD does not.
      // MySQL 8 removed PASSWORD() and takes the plain text.
      try {
        await connection.query(mariadb ? 'SET PASSWORD = PASSWORD(?)' : 'SET PASSWORD = ?', [pendingLogin.password]);
      } catch (error) {
        throw new StepProblem('could not change the password', pendingLogin.user, { cause: error });
      }
      this.info(`setSecret: changed the password of '${self?.account ?? pendingLogin.user}'`);
      await this.alsoOtherHosts(connection, pendingLogin, self?.account);
    } finally {
      await close(connection);
    }
  }

  /**
   * Single user: the same user name may have accounts on other hosts (`'app'@'%'` and
   * `'app'@'localhost'`), and the server picks the most specific one at login. Give them the new
   * password too when the user is allowed to; warn when it is not.
   */
  private async alsoOtherHosts(connection: Connection, pending: Login, account: string | undefined): Promise<void> {
    const ownHost = account === undefined ? undefined : account.slice(account.lastIndexOf('@') + 1);
    let hosts: string[];
    try {
      hosts = (await userHosts(connection, pending.user)).filter((host) => host !== ownHost);
    } catch {
      return; // The user cannot read mysql.user, so it cannot change other accounts either.
    }
    if (hosts.length === 0) return;
    try {
      for (const host of hosts) await connection.query('ALTER USER ?@? IDENTIFIED BY ?', [pending.user, host, pending.password]);
      this.info(`setSecret: also changed the password of user '${pending.user}' on host(s) ${hosts.map((h) => `'${h}'`).join(', ')}`);
    } catch (error) {
      redactError(error, this.passwords, [sqlEscaped]);
      this.warn(
        `setSecret: user '${pending.user}' also exists on host(s) ${hosts.map((h) => `'${h}'`).join(', ')}, whose password could not be changed ` +
          `(${describeCause(error)}); logins that match those accounts will keep failing with the new password`,
      );
    }
  }

  private async setSecretAlternating(): Promise<void> {
    const secrets = await this.pendingToSet();
    if (secrets === undefined) return;
    const { current, pending, pendingLogin } = secrets;
    const currentUser = current.credentials.user;
    if (this.alternate(currentUser) !== pendingLogin.user) {
      throw new StepProblem(`refusing to modify user '${pendingLogin.user}': it is neither the current user '${currentUser}' nor its alternate`, pendingLogin.user);
    }
    if (current.credentials.host !== pending.credentials.host) {
      throw new StepProblem('refusing to modify a user on another host than the AWSCURRENT secret names', pendingLogin.user);
    }
    // Log in with the current secret first, so that only a secret that works can get its user
    // copied (the check AWS's function makes against a confused deputy).
    const currentLogin = this.login(current, 'AWSCURRENT');
    try {
      await close(await this.connect(currentLogin));
    } catch (error) {
      throw new StepProblem('unable to log into the database with the AWSCURRENT secret', currentUser, { cause: error });
    }

    const masterId = current.raw[this.settings.masterSecretKey];
    if (typeof masterId !== 'string' || masterId === '') {
      throw new InvalidCredentialsError(
        `secret '${this.secretId}'`,
        `'${this.settings.masterSecretKey}' must name the administrator secret for alternating-users rotation`,
        { key: this.settings.masterSecretKey },
      );
    }
    const master = await this.getSecret(masterId, AWSCURRENT);
    if (master.credentials.host !== undefined && current.credentials.host !== undefined && master.credentials.host !== current.credentials.host) {
      throw new StepProblem(`the administrator secret '${masterId}' is for another host than the secret`, currentUser);
    }
    const masterLogin: Login = {
      ...this.login(master, `administrator secret '${masterId}'`, current),
      database: undefined,
    };
    let connection: Connection;
    try {
      connection = await this.connect(masterLogin);
    } catch (error) {
      throw new StepProblem(`unable to log into the database with the administrator secret '${masterId}'`, masterLogin.user, { cause: error });
    }
    try {
      await this.copyUser(connection, currentUser, pendingLogin);
    } catch (error) {
      if (error instanceof StepProblem) throw error;
      throw new StepProblem(`could not give user '${pendingLogin.user}' the grants of '${currentUser}' and the pending password`, pendingLogin.user, {
        cause: error,
      });
    } finally {
      await close(connection);
    }
  }

  /**
   * As the administrator: make `pending` a copy of `currentUser` with the pending password, on
   * every host of either name. The pending password is set last, in one statement, so that a
   * login with it (the check that makes a repeated setSecret return early) means that the grants
   * are in place; a new user is created with a throwaway password until then.
   */
  private async copyUser(connection: Connection, currentUser: string, pending: Login): Promise<void> {
    const currentHosts = await userHosts(connection, currentUser);
    if (currentHosts.length === 0) throw new StepProblem(`user '${currentUser}' does not exist in mysql.user`, currentUser);
    const existing = await userHosts(connection, pending.user);
    const created: string[] = [];
    const placeholder = randomBytes(24).toString('base64url');
    this.passwords.add(placeholder);
    for (const host of currentHosts) {
      if (existing.includes(host)) continue;
      await connection.query('CREATE USER ?@? IDENTIFIED BY ?', [pending.user, host, placeholder]);
      created.push(host);
    }
    for (const host of currentHosts) {
      const grants = await connection.query<Array<Record<string, string>>>('SHOW GRANTS FOR ?@?', [currentUser, host]);
      const target = connection.format('?@?', [pending.user, host]);
      for (const row of grants[0]) {
        const line = Object.values(row)[0];
        if (typeof line !== 'string') continue;
        const rewritten = rewriteGrant(line, currentUser, host, target);
        if (rewritten === undefined) {
          throw new StepProblem(`could not find the grantee in a SHOW GRANTS line of '${currentUser}'@'${host}'`, currentUser);
        }
        await connection.query(rewritten);
      }
      await copyTlsRequirement(connection, currentUser, host, target);
    }
    const all = [...new Set([...existing, ...currentHosts])];
    await connection.query(
      `ALTER USER ${all.map(() => '?@? IDENTIFIED BY ?').join(', ')}`,
      all.flatMap((host) => [pending.user, host, pending.password]),
    );
    const hosts = all.map((h) => `'${h}'`).join(', ');
    this.info(
      `setSecret: user '${pending.user}' on host(s) ${hosts} has the grants of '${currentUser}' and the pending password` +
        (created.length > 0 ? ` (created on ${created.map((h) => `'${h}'`).join(', ')})` : ''),
    );
  }

  private async testSecret(): Promise<void> {
    const pending = this.login(await this.getSecret(this.secretId, AWSPENDING, this.token), 'AWSPENDING');
    let connection: Connection;
    try {
      connection = await this.connect(pending);
    } catch (error) {
      throw new StepProblem('unable to log into the database with the AWSPENDING secret', pending.user, { cause: error });
    }
    try {
      await connection.query('SELECT NOW()');
    } catch (error) {
      throw new StepProblem('logged in with the AWSPENDING secret, but a query failed', pending.user, { cause: error });
    } finally {
      await close(connection);
    }
    this.info(`testSecret: logged in as '${pending.user}' with the AWSPENDING secret`);
  }

  private async finishSecret(versions: Record<string, string[]>): Promise<void> {
    let currentVersion: string | undefined;
    for (const [version, stages] of Object.entries(versions)) {
      if (stages.includes(AWSCURRENT)) {
        currentVersion = version;
        break;
      }
    }
    // run() returned already when the token's version is AWSCURRENT.
    await this.call(this.secretId, () =>
      this.client.send(
        new this.sdk.UpdateSecretVersionStageCommand({
          SecretId: this.secretId,
          VersionStage: AWSCURRENT,
          MoveToVersionId: this.token,
          RemoveFromVersionId: currentVersion,
        }),
      ),
    );
    this.info(`finishSecret: version ${this.token} is now AWSCURRENT (was ${currentVersion ?? 'none'})`);
  }

  // --- Helpers --------------------------------------------------------------------------------

  /** The other user name: with the clone suffix added, or removed when it is there. */
  private alternate(user: string): string {
    const suffix = this.settings.cloneSuffix;
    return user.endsWith(suffix) ? user.slice(0, -suffix.length) : user + suffix;
  }

  /** Single user: the pending secret must be for the same user and host as `other`. */
  /**
   * setSecret's first look: AWSCURRENT and this rotation's AWSPENDING, or `undefined` when the
   * AWSPENDING password already logs in (an earlier attempt set it) and there is nothing to do.
   */
  private async pendingToSet(): Promise<{ current: ParsedSecret; pending: ParsedSecret; pendingLogin: Login } | undefined> {
    const current = await this.getSecret(this.secretId, AWSCURRENT);
    const pending = await this.getSecret(this.secretId, AWSPENDING, this.token);
    const pendingLogin = this.login(pending, 'AWSPENDING');
    if (await this.canLogIn(pendingLogin)) {
      this.info(`setSecret: the AWSPENDING password already works for user '${pendingLogin.user}'`);
      return undefined;
    }
    return { current, pending, pendingLogin };
  }

  private sameAccount(other: ParsedSecret, pending: ParsedSecret, stage: string): void {
    if (other.credentials.user !== pending.credentials.user) {
      throw new StepProblem(`refusing to modify user '${pending.credentials.user}': the ${stage} user is '${other.credentials.user}'`, pending.credentials.user);
    }
    if (other.credentials.host !== pending.credentials.host) {
      throw new StepProblem(`refusing to modify a user on another host than the ${stage} secret names`, pending.credentials.user);
    }
  }

  /**
   * Where to log in with a secret; the `host`/`port` options win, then the secret's, then
   * `fallback`'s. `source` names the secret and stage in a message about a missing host.
   */
  private login(secret: ParsedSecret, source: string, fallback?: ParsedSecret): Login {
    const c: Credentials = secret.credentials;
    const host = this.settings.host ?? c.host ?? fallback?.credentials.host;
    if (host === undefined) {
      throw new InvalidCredentialsError(`secret '${this.secretId}' (${source})`, "'host' is missing (or set the handler's host option)", { key: 'host' });
    }
    return {
      user: c.user,
      password: c.password,
      host,
      port: this.settings.port ?? c.port ?? fallback?.credentials.port ?? DEFAULT_MYSQL_PORT,
      database: c.database,
    };
  }

  private async connect(login: Login): Promise<Connection> {
    const mysql = await loadMysql();
    try {
      const connection = await mysql.createConnection({
        host: login.host,
        port: login.port,
        user: login.user,
        password: login.password,
        database: login.database,
        connectTimeout: this.settings.connectTimeoutMs,
        ssl: this.settings.ssl,
        multipleStatements: false,
      });
      // A fatal error while idle would otherwise be thrown from an event emitter.
      connection.on('error', () => {});
      return connection;
    } catch (error) {
      throw redactError(error, this.passwords, [sqlEscaped]);
    }
  }

  /** True when the login works; the connection is closed again at once. */
  private async canLogIn(login: Login): Promise<boolean> {
    try {
      await close(await this.connect(login));
      return true;
    } catch {
      return false;
    }
  }

  /** GetSecretValue and parse; remembers the password for scrubbing. */
  private async getSecret(secretId: string, stage: string, versionId?: string): Promise<ParsedSecret> {
    const result = await this.call(secretId, () =>
      this.client.send(new this.sdk.GetSecretValueCommand({ SecretId: secretId, VersionStage: stage, VersionId: versionId })),
    );
    const parsed = parseSecretString(secretId, result.SecretString, { binary: result.SecretBinary !== undefined });
    this.passwords.add(parsed.credentials.password);
    return parsed;
  }

  /** Runs an SDK call and turns its failure into a SecretsManagerError for `secretId`. */
  private async call<T>(secretId: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw toSecretsManagerError(secretId, error);
    }
  }

  private info(message: string): void {
    this.log('info', message);
  }

  private warn(message: string): void {
    this.log('warn', message);
  }

  private log(level: 'info' | 'warn', message: string): void {
    try {
      this.settings.logger?.[level]?.(`credswap rotation of secret '${this.secretId}': ${redactText(message, this.passwords, [sqlEscaped])}`);
    } catch {
      // A failing logger must not fail the rotation.
    }
  }
}

/** A cause for a message: credswap's own errors by their message, others by name, code and message. */
function describe(error: unknown): string {
  return error instanceof CredswapError || error instanceof InvalidOptionError ? error.message.replace(/^credswap: /, '') : describeCause(error);
}

function isNotFound(error: unknown): boolean {
  return error instanceof SecretsManagerError && error.awsError === 'ResourceNotFoundException';
}
