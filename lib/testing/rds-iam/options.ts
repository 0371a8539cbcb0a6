/**
 * The options of {@link startRdsIamFrontEnd}, their defaults and validation, and what it hands
 * out.
 *
 * @packageDocumentation
 */

import { InvalidOptionError } from '../../errors.js';
import { bool, expectObject, integer, rejectUnknownKeys, string } from '../../options.js';
import { DEFAULT_EMULATOR_ACCESS_KEY_ID, DEFAULT_EMULATOR_REGION, DEFAULT_EMULATOR_SECRET_ACCESS_KEY } from '../secrets-manager/options.js';
import type { TokenRefusal } from './token.js';

/** Why the front end refused a login: a token problem, no TLS, or a user that is not an IAM user. */
export type FrontEndRefusal = TokenRefusal | 'no-tls' | 'unknown-user';

/** The server behind the front end, and the account accepted sessions use on it. */
export interface RdsIamBackend {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Options of {@link startRdsIamFrontEnd}. Unknown keys are rejected. */
export interface RdsIamFrontEndOptions {
  /** The server (a throwaway MariaDB) that accepted sessions are relayed to, and its account. */
  backend: RdsIamBackend;
  /** The IAM database users (`IDENTIFIED WITH AWSAuthenticationPlugin`). @defaultValue `[backend.user]` */
  users?: readonly string[];
  /** The region tokens must be signed for. @defaultValue `'us-east-1'` (`DEFAULT_EMULATOR_REGION`) */
  region?: string;
  /**
   * The AWS credentials tokens must be signed with.
   * @defaultValue the example keys of AWS's documentation (`DEFAULT_EMULATOR_ACCESS_KEY_ID`, `DEFAULT_EMULATOR_SECRET_ACCESS_KEY`)
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** The endpoint name tokens must be signed for (with the front end's port). @defaultValue `'127.0.0.1'` */
  hostname?: string;
  /**
   * Offer TLS and refuse tokens sent without it, as RDS does. `false`: no TLS at all, for the
   * client's plain-TCP opt-in (`allowPlainTcpOnLoopback`).
   * @defaultValue `true`
   */
  tls?: boolean;
  /** The clock tokens are checked against, epoch milliseconds. @defaultValue `Date.now` (which sinon's fake timers move) */
  now?: () => number;
}

/** One accepted session. */
export interface RdsIamSession {
  /** The thread id of the session on the server behind (the client's `threadId`). */
  readonly threadId: number;
  readonly user: string;
  /** Whether the login was over TLS. */
  readonly tls: boolean;
  /** Which distinct token logged it in: 1 for the first token the front end accepted, 2 for the next, ... */
  readonly tokenIndex: number;
  /** True once the client's connection closed. */
  closed: boolean;
}

/** Counts of what the front end saw. */
export interface RdsIamFrontEndStats {
  /** Logins accepted. */
  accepted: number;
  /** Logins refused with 1045. */
  refused: number;
  /** Refused logins by reason. */
  refusals: Partial<Record<FrontEndRefusal, number>>;
  /** Distinct tokens among accepted logins. */
  tokens: number;
  /** Accepted sessions still open. */
  open: number;
  /** Accepted sessions closed since. */
  closed: number;
}

/** Options for `new RdsIamProvider(...)` that fit a front end. */
export interface RdsIamFrontEndProviderOptions {
  hostname: string;
  port: number;
  username: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** The front end's certificate as the authority, when it offers TLS. */
  ssl?: { ca: string };
  /** When the front end has no TLS. */
  allowPlainTcpOnLoopback?: true;
}

/** A running front end, from {@link startRdsIamFrontEnd}. */
export interface RdsIamFrontEnd {
  /** `'127.0.0.1'`. */
  readonly host: string;
  readonly port: number;
  /** The endpoint name tokens must be signed for. */
  readonly hostname: string;
  readonly region: string;
  /** The certificate to trust (`ssl: { ca }`), or `undefined` with `tls: false`. */
  readonly ca: string | undefined;
  /** Options for `RdsIamProvider` that sign tokens this front end accepts, for `username` (the first IAM user by default). */
  providerOptions(username?: string): RdsIamFrontEndProviderOptions;
  /** Counts of logins, tokens and sessions so far. */
  stats(): RdsIamFrontEndStats;
  /** The accepted sessions so far, oldest first (copies). */
  sessions(): RdsIamSession[];
  /**
   * Makes every token that has logged a session in so far expire now, whatever its
   * `X-Amz-Expires` says (15 minutes passing, for a drill that cannot wait): later logins with
   * them get 1045. Sessions already open stay, as on RDS; new tokens log in as before.
   */
  expireTokens(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** @internal */
export interface ResolvedFrontEndOptions {
  backend: RdsIamBackend;
  users: readonly string[];
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  hostname: string;
  tls: boolean;
  now: () => number;
}

const KEYS = new Set(['backend', 'users', 'region', 'credentials', 'hostname', 'tls', 'now']);

/** @internal Validates {@link RdsIamFrontEndOptions} and applies the defaults. */
export function resolveFrontEndOptions(options: RdsIamFrontEndOptions): ResolvedFrontEndOptions {
  const o = expectObject(options, 'options')!;
  rejectUnknownKeys(o, KEYS, '');
  const b = expectObject(o.backend, 'backend')!;
  rejectUnknownKeys(b, new Set(['host', 'port', 'user', 'password']), 'backend.');
  const backend = {
    host: string(b, 'host', 'backend.', '127.0.0.1')!,
    port: integer(b, 'port', 'backend.', 3306, 1),
    user: string(b, 'user', 'backend.')!,
    password: typeof b.password === 'string' ? b.password : '',
  };
  if (backend.user === undefined) throw new InvalidOptionError('backend.user', 'is required');
  const users = o.users === undefined ? [backend.user] : o.users;
  if (!Array.isArray(users) || users.some((u) => typeof u !== 'string' || u === '')) {
    throw new InvalidOptionError('users', 'must be an array of user names');
  }
  const c = expectObject(o.credentials, 'credentials', true);
  const credentials = {
    accessKeyId: c ? string(c, 'accessKeyId', 'credentials.')! : DEFAULT_EMULATOR_ACCESS_KEY_ID,
    secretAccessKey: c ? string(c, 'secretAccessKey', 'credentials.')! : DEFAULT_EMULATOR_SECRET_ACCESS_KEY,
    ...(c?.sessionToken !== undefined ? { sessionToken: string(c, 'sessionToken', 'credentials.')! } : {}),
  };
  if (credentials.accessKeyId === undefined || credentials.secretAccessKey === undefined) {
    throw new InvalidOptionError('credentials', 'needs accessKeyId and secretAccessKey');
  }
  if (o.now !== undefined && typeof o.now !== 'function')
    throw new InvalidOptionError('now', 'must be a function returning epoch milliseconds');
  return {
    backend,
    users: [...(users as string[])],
    region: string(o, 'region', '', DEFAULT_EMULATOR_REGION)!,
    credentials,
    hostname: string(o, 'hostname', '', '127.0.0.1')!,
    tls: bool(o, 'tls', '', true),
    now: (o.now as (() => number) | undefined) ?? (() => Date.now()),
  };
}
