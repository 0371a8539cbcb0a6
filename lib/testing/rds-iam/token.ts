/**
 * Checking an RDS IAM authentication token as RDS does: a SigV4-presigned `GET` of
 * `https://<host>:<port>/?Action=connect&DBUser=<user>` for the service `rds-db`, valid for
 * `X-Amz-Expires` seconds (at most 900) from `X-Amz-Date`.
 *
 * @packageDocumentation
 */

import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalQuery, hmac, parseAmzDate, sha256Hex } from '../secrets-manager/sigv4.js';

/** The longest validity RDS accepts in a token, in seconds: 15 minutes. */
export const MAX_TOKEN_EXPIRES_SECONDS = 900;

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 'rds-db';
/** SHA-256 of an empty body: a presigned GET has none. */
const EMPTY_PAYLOAD_HASH = sha256Hex('');
/** How far in the future a token's `X-Amz-Date` may be, for clocks that disagree a little. */
const FUTURE_SKEW_MS = 5 * 60 * 1000;

/**
 * Why a token was refused, as the front end records it (RDS itself answers every one of them
 * with 1045).
 */
export type TokenRefusal =
  'malformed' | 'wrong-endpoint' | 'wrong-user' | 'unknown-access-key' | 'wrong-scope' | 'expired' | 'not-yet-valid' | 'bad-signature';

/** What a token must match. */
export interface TokenExpectation {
  /** `host:port` the token must be signed for. */
  endpoint: string;
  /** The user that logs in: the token's `DBUser`. */
  user: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Required as `X-Amz-Security-Token` when set. */
  sessionToken?: string;
  /** The clock, epoch milliseconds. */
  now: number;
}

/** The outcome of {@link checkToken}: the time it expires, or why it is refused. */
export type TokenCheck = { ok: true; expiresAt: number } | { ok: false; refusal: TokenRefusal };

const refuse = (refusal: TokenRefusal): TokenCheck => ({ ok: false, refusal });

/**
 * Checks `token` against `expected`: its endpoint and user, its credential scope, its date and
 * expiry against `expected.now`, and its signature (recomputed with the secret key, compared in
 * constant time).
 */
export function checkToken(token: string, expected: TokenExpectation): TokenCheck {
  const split = token.indexOf('/?');
  if (split <= 0) return refuse('malformed');
  const endpoint = token.slice(0, split);
  const query = token.slice(split + 2);
  const params = new URLSearchParams(query);
  const one = (name: string): string | undefined => (params.getAll(name).length === 1 ? params.get(name)! : undefined);
  const [action, user, algorithm, credential, amzDate, expires, signedHeaders, signature] = [
    'Action',
    'DBUser',
    'X-Amz-Algorithm',
    'X-Amz-Credential',
    'X-Amz-Date',
    'X-Amz-Expires',
    'X-Amz-SignedHeaders',
    'X-Amz-Signature',
  ].map(one);
  if (action !== 'connect' || algorithm !== ALGORITHM || !credential || !amzDate || !expires || !signature) return refuse('malformed');
  if (signedHeaders !== 'host') return refuse('malformed');
  if (endpoint !== expected.endpoint) return refuse('wrong-endpoint');
  if (user !== expected.user) return refuse('wrong-user');
  const [accessKeyId, scopeDate, region, service, terminator, ...rest] = credential.split('/');
  if (rest.length > 0 || terminator !== 'aws4_request') return refuse('malformed');
  if (accessKeyId !== expected.accessKeyId) return refuse('unknown-access-key');
  if (region !== expected.region || service !== SERVICE || scopeDate !== amzDate.slice(0, 8)) return refuse('wrong-scope');
  if (expected.sessionToken !== undefined && one('X-Amz-Security-Token') !== expected.sessionToken) return refuse('unknown-access-key');
  const signedAt = parseAmzDate(amzDate);
  const seconds = Number(expires);
  if (signedAt === undefined || !/^\d+$/.test(expires) || seconds < 1 || seconds > MAX_TOKEN_EXPIRES_SECONDS) return refuse('malformed');
  const expiresAt = signedAt + seconds * 1000;
  if (expected.now >= expiresAt) return refuse('expired');
  if (signedAt > expected.now + FUTURE_SKEW_MS) return refuse('not-yet-valid');

  const canonicalRequest = ['GET', '/', canonicalQuery(query), `host:${endpoint}\n`, 'host', EMPTY_PAYLOAD_HASH].join('\n');
  const scope = `${scopeDate}/${region}/${SERVICE}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${expected.secretAccessKey}`, scopeDate);
  key = hmac(key, region);
  key = hmac(key, SERVICE);
  key = hmac(key, 'aws4_request');
  const wanted = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(signature) ? signature : '', 'hex');
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return refuse('bad-signature');
  return { ok: true, expiresAt };
}
