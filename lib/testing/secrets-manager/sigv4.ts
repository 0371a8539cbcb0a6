/**
 * SigV4 verification: checks a request's `Authorization` header as AWS does and answers with
 * AWS's errors.
 *
 * @packageDocumentation
 */

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AwsError } from './protocol.js';

/**
 * How far, in milliseconds, a request's `X-Amz-Date` may be from the emulator's clock, as in
 * AWS: 15 minutes. Older or newer signatures are refused with `InvalidSignatureException`.
 * @example
 * ```ts
 * const tooOld = new Date(Date.now() - SIGNATURE_MAX_SKEW_MS - 1000);
 * ```
 */
export const SIGNATURE_MAX_SKEW_MS = 15 * 60 * 1000;

const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
const SIGNING_SERVICE = 'secretsmanager';
const MSG_SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** RFC 3986 encoding, as SigV4 wants it (`encodeURIComponent` leaves `!'()*` alone). */
function uriEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

/** The canonical URI of a non-S3 service: normalized, then encoded once more. */
function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized =
    `${rawPath.startsWith('/') ? '/' : ''}${segments.join('/')}` + `${segments.length > 0 && rawPath.endsWith('/') ? '/' : ''}`;
  return uriEscape(normalized).replace(/%2F/g, '/');
}

/** @internal The canonical query string of SigV4: decoded, re-encoded, sorted, without `X-Amz-Signature`. */
export function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs = rawQuery
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const key = eq < 0 ? p : p.slice(0, eq);
      const value = eq < 0 ? '' : p.slice(eq + 1);
      return [uriEscape(safeDecode(key)), uriEscape(safeDecode(value))] as const;
    })
    .filter(([key]) => key !== 'X-Amz-Signature');
  pairs.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Header values by lower-case name, each trimmed with inner whitespace runs collapsed, repeats joined with `,`. */
function canonicalHeaderValues(rawHeaders: readonly string[]): Map<string, string> {
  const values = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const value = rawHeaders[i + 1].trim().replace(/\s+/g, ' ');
    const list = values.get(name);
    if (list) list.push(value);
    else values.set(name, [value]);
  }
  return new Map([...values].map(([name, list]) => [name, list.join(',')]));
}

/** @internal SHA-256 of `data`, in hex. */
export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
/** @internal HMAC-SHA256 of `data` under `key`. */
export const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** `20240131T235959Z` → epoch ms, or `undefined` when malformed. */
export function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isNaN(ms) ? undefined : ms;
}

function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

interface SigningIdentity {
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * Checks a request's `Authorization` header the way AWS does: parse, look up the access key,
 * check the credential scope and the clock, rebuild the canonical request and string to sign,
 * derive the signing key and compare signatures. Throws the {@link AwsError} AWS would answer.
 */
export function verifySignature(req: IncomingMessage, body: Buffer, identity: SigningIdentity, now: number): void {
  const authorization = req.headers.authorization;
  if (authorization === undefined || authorization === '') {
    throw new AwsError('MissingAuthenticationTokenException', 'Request is missing Authentication Token', 400, true);
  }
  const incomplete = (message: string): AwsError => new AwsError('IncompleteSignatureException', message, 400, true);
  const space = authorization.indexOf(' ');
  const algorithm = space < 0 ? authorization : authorization.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) {
    throw incomplete(`Unsupported AWS 'algorithm': '${algorithm}'`);
  }
  const fields = new Map<string, string>();
  for (const part of authorization.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((k) => !fields.get(k));
  if (missing.length > 0) {
    throw incomplete(
      `${missing.map((k) => `Authorization header requires '${k}' parameter.`).join(' ')} ` +
        `Authorization=${authorization.replace(/Signature=[0-9a-fA-F]*/, 'Signature=...')}`,
    );
  }
  const credential = fields.get('Credential')!.split('/');
  if (credential.length !== 5) {
    throw incomplete(
      `Credential should have exactly 5 slash-delimited elements, e.g. keyId/date/region/service/term, got '${credential.length}'`,
    );
  }
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = credential as [string, string, string, string, string];
  const amzDate = req.headers['x-amz-date'];
  if (typeof amzDate !== 'string' || amzDate === '') {
    throw incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (accessKeyId !== identity.accessKeyId) {
    throw new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.', 400, true);
  }
  const invalid = (message: string): AwsError => new AwsError('InvalidSignatureException', message, 400, true);
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) {
    throw invalid(`Date must be in ISO-8601 'basic format'. Got '${amzDate}'. See http://en.wikipedia.org/wiki/ISO_8601`);
  }
  if (scopeDate !== amzDate.slice(0, 8)) {
    throw invalid(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    );
  }
  if (scopeRegion !== identity.region) {
    throw invalid(`Credential should be scoped to a valid region, not '${scopeRegion}'. `);
  }
  if (scopeService !== SIGNING_SERVICE) {
    throw invalid(`Credential should be scoped to correct service: '${SIGNING_SERVICE}'. `);
  }
  if (terminator !== 'aws4_request') {
    throw invalid(`Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'. `);
  }
  if (signedAt < now - SIGNATURE_MAX_SKEW_MS) {
    throw invalid(
      `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(now - SIGNATURE_MAX_SKEW_MS)} (${formatAmzDate(now)} - 15 min.)`,
    );
  }
  if (signedAt > now + SIGNATURE_MAX_SKEW_MS) {
    throw invalid(
      `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(now + SIGNATURE_MAX_SKEW_MS)} (${formatAmzDate(now)} + 15 min.)`,
    );
  }

  const signedHeaders = fields.get('SignedHeaders')!.split(';');
  const headerValues = canonicalHeaderValues(req.rawHeaders);
  const canonicalHeaders = signedHeaders.map((name) => `${name}:${headerValues.get(name) ?? ''}\n`).join('');
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const payloadHeader = req.headers['x-amz-content-sha256'];
  const canonicalRequest = [
    req.method ?? 'POST',
    canonicalPath(q < 0 ? url : url.slice(0, q)),
    canonicalQuery(q < 0 ? '' : url.slice(q + 1)),
    canonicalHeaders,
    signedHeaders.join(';'),
    typeof payloadHeader === 'string' && payloadHeader !== '' ? payloadHeader : sha256Hex(body),
  ].join('\n');
  const scope = `${scopeDate}/${scopeRegion}/${scopeService}/${terminator}`;
  const stringToSign = [SIGV4_ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${identity.secretAccessKey}`, scopeDate);
  key = hmac(key, scopeRegion);
  key = hmac(key, scopeService);
  key = hmac(key, terminator);
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
  const given = Buffer.from(fields.get('Signature')!, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw invalid(MSG_SIGNATURE_MISMATCH);
  }
}
