import { createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { InvalidCredentialsError } from './errors.js';
import { REDACTED } from './redact.js';

/**
 * Database credentials as providers return them. Only `user` and `password` are required;
 * the other fields, when present, override the pool's own `host`, `port` and `database`.
 */
export interface Credentials {
  user: string;
  password: string;
  host?: string;
  port?: number;
  database?: string;
  /**
   * When these credentials stop working (a lease or token end): a `Date` or epoch milliseconds.
   * The coordinator asks the provider for new ones `rotation.refreshBeforeExpiryMs` earlier.
   */
  expiresAt?: Date | number;
  /**
   * What `password` is. `'password'`: a password, the default. `'token'`: a short-lived token
   * that the server checks only when a connection logs in (an RDS IAM authentication token): a
   * new token for the same account is not a new user, so connections opened with an older token
   * stay in the pool and only new logins send the new one. Set by `RdsIamProvider`.
   *
   * @defaultValue `'password'`
   */
  kind?: CredentialsKind;
}

/** What a password is: see {@link Credentials.kind}. */
export type CredentialsKind = 'password' | 'token';

/**
 * Credentials after validation: frozen, `password` non-enumerable, and redacted in
 * `JSON.stringify` and `util.inspect`. `expiresAt` is normalised to epoch milliseconds.
 */
export interface SealedCredentials {
  readonly user: string;
  readonly password: string;
  readonly host?: string;
  readonly port?: number;
  readonly database?: string;
  readonly expiresAt?: number;
  readonly kind?: CredentialsKind;
}

const SEALED = Symbol.for('credswap.credentials');
// A per-process key: fingerprints show that credentials changed without being a stable hash
// of the password that could be attacked offline.
const FINGERPRINT_KEY = randomBytes(32);

function visible(creds: SealedCredentials): Record<string, unknown> {
  const out: Record<string, unknown> = { user: creds.user, password: REDACTED };
  if (creds.host !== undefined) out.host = creds.host;
  if (creds.port !== undefined) out.port = creds.port;
  if (creds.database !== undefined) out.database = creds.database;
  if (creds.expiresAt !== undefined) out.expiresAt = new Date(creds.expiresAt).toISOString();
  if (creds.kind !== undefined) out.kind = creds.kind;
  return out;
}

const sealedPrototype = Object.freeze(
  Object.create(Object.prototype, {
    toJSON: {
      value(this: SealedCredentials) {
        return visible(this);
      },
    },
    [inspect.custom]: {
      value(this: SealedCredentials, depth: number, options: object) {
        return `Credentials ${inspect(visible(this), { ...options, depth })}`;
      },
    },
    toString: {
      value(this: SealedCredentials) {
        return `Credentials(user=${this.user})`;
      },
    },
  }),
);

/** True when `value` was produced by {@link sealCredentials}. */
export function isSealed(value: unknown): value is SealedCredentials {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SEALED] === true;
}

/**
 * Validates what a provider returned and seals it: a frozen copy whose password is
 * non-enumerable and which redacts itself when logged or serialised.
 *
 * @param source - names the provider or file in error messages.
 * @throws InvalidCredentialsError naming `source` and the offending key (never a value).
 *
 * @example
 * ```ts
 * const creds = sealCredentials({ user: 'app', password: 's3cret' }, 'my-provider');
 * JSON.stringify(creds); // {"user":"app","password":"[redacted]"}
 * ```
 */
export function sealCredentials(input: Credentials, source: string): SealedCredentials {
  if (isSealed(input)) return input;
  if (typeof input !== 'object' || input === null) {
    throw new InvalidCredentialsError(source, `expected an object with user and password, got ${input === null ? 'null' : typeof input}`);
  }
  const { user, password, host, port, database, expiresAt, kind } = input;
  if (typeof user !== 'string' || user.length === 0) {
    throw new InvalidCredentialsError(source, "'user' must be a non-empty string", { key: 'user' });
  }
  if (typeof password !== 'string') {
    throw new InvalidCredentialsError(source, "'password' must be a string", { key: 'password' });
  }
  if (host !== undefined && (typeof host !== 'string' || host.length === 0)) {
    throw new InvalidCredentialsError(source, "'host' must be a non-empty string", { key: 'host' });
  }
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new InvalidCredentialsError(source, "'port' must be an integer from 1 to 65535", { key: 'port' });
  }
  if (database !== undefined && typeof database !== 'string') {
    throw new InvalidCredentialsError(source, "'database' must be a string", { key: 'database' });
  }
  let expires: number | undefined;
  if (expiresAt !== undefined) {
    expires = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
    if (typeof expires !== 'number' || !Number.isFinite(expires)) {
      throw new InvalidCredentialsError(source, "'expiresAt' must be a valid Date or epoch milliseconds", { key: 'expiresAt' });
    }
  }
  if (kind !== undefined && kind !== 'password' && kind !== 'token') {
    throw new InvalidCredentialsError(source, "'kind' must be 'password' or 'token'", { key: 'kind' });
  }
  const sealed = Object.create(sealedPrototype) as Record<string | symbol, unknown>;
  sealed.user = user;
  Object.defineProperty(sealed, 'password', { value: password, enumerable: false });
  if (host !== undefined) sealed.host = host;
  if (port !== undefined) sealed.port = port;
  if (database !== undefined) sealed.database = database;
  if (expires !== undefined) sealed.expiresAt = expires;
  if (kind !== undefined) sealed.kind = kind;
  Object.defineProperty(sealed, SEALED, { value: true });
  return Object.freeze(sealed) as unknown as SealedCredentials;
}

/**
 * True when two credentials would open the same session: same user, password, host, port and
 * database. `expiresAt` and `kind` are not compared: a renewed lease is not a new generation.
 */
export function sameCredentials(a: Credentials | undefined, b: Credentials | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.user === b.user && a.password === b.password && a.host === b.host && a.port === b.port && a.database === b.database;
}

/**
 * True when `a` and `b` are both tokens ({@link Credentials.kind} `'token'`) for the same account
 * at the same place: same user, host, port and database, whatever the tokens. A connection
 * opened with one is as good as one opened with the other, since the server checks a token only
 * at login: changing from one to the other is a new token, not a new user.
 *
 * @example
 * ```ts
 * sameTokenAccount({ user: 'app', password: 't1', kind: 'token' }, { user: 'app', password: 't2', kind: 'token' }); // true
 * sameTokenAccount({ user: 'app', password: 'p1' }, { user: 'app', password: 'p2' }); // false: passwords
 * ```
 */
export function sameTokenAccount(a: Credentials | undefined, b: Credentials | undefined): boolean {
  if (!a || !b || a.kind !== 'token' || b.kind !== 'token') return false;
  return a.user === b.user && a.host === b.host && a.port === b.port && a.database === b.database;
}

/**
 * A short fingerprint (8 hex characters) of credentials, for logs and events: it changes
 * when the credentials change but reveals nothing about the password. It is keyed per
 * process, so fingerprints are comparable within one process only.
 */
export function fingerprint(creds: Credentials): string {
  return createHmac('sha256', FINGERPRINT_KEY)
    .update(JSON.stringify([creds.user, creds.password, creds.host ?? null, creds.port ?? null, creds.database ?? null]))
    .digest('hex')
    .slice(0, 8);
}
