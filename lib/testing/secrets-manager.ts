/**
 * A local AWS Secrets Manager for tests and rotation drills.
 *
 * {@link startSecretsManagerEmulator} starts an HTTP server on a loopback port that speaks the
 * service's JSON 1.1 protocol closely enough that the real `@aws-sdk/client-secrets-manager`
 * client, pointed at it with `endpoint`, cannot tell it from AWS: requests are SigV4-verified,
 * errors come back with AWS's names, status codes and wording, and staging labels
 * (`AWSCURRENT`, `AWSPENDING`, `AWSPREVIOUS`) move the way the service moves them.
 * `RotateSecret` runs rotation functions registered in-process through the four steps, and a
 * rotation can be held open between two steps to drill what clients do meanwhile.
 *
 * It implements `CreateSecret`, `GetSecretValue`, `DescribeSecret`, `PutSecretValue`,
 * `UpdateSecretVersionStage`, `ListSecretVersionIds`, `RotateSecret`, `CancelRotateSecret`,
 * `DeleteSecret`, `RestoreSecret` and `GetRandomPassword`. It does not import the AWS SDK.
 *
 * @example
 * ```ts
 * import { SecretsManagerClient, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
 * import { startSecretsManagerEmulator } from 'credswap/testing';
 *
 * const emulator = await startSecretsManagerEmulator();
 * try {
 *   emulator.putSecret('prod/db', { username: 'app', password: 'first' });
 *   const client = new SecretsManagerClient(emulator.clientConfig());
 *   const out = await client.send(new GetSecretValueCommand({ SecretId: 'prod/db' }));
 *   console.log(JSON.parse(out.SecretString!).username); // 'app'
 * } finally {
 *   await emulator.close();
 * }
 * ```
 *
 * @packageDocumentation
 */

import { createHash, createHmac, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClosedError, InvalidOptionError } from '../errors.js';
import { bool, expectObject, integer, rejectUnknownKeys, string } from '../options.js';

// ---------------------------------------------------------------------------------------------
// Public constants and types
// ---------------------------------------------------------------------------------------------

/**
 * Default of {@link SecretsManagerEmulatorOptions.region}: `'us-east-1'`.
 * @example
 * ```ts
 * const emulator = await startSecretsManagerEmulator({ region: DEFAULT_EMULATOR_REGION });
 * ```
 */
export const DEFAULT_EMULATOR_REGION = 'us-east-1';

/**
 * Default of {@link SecretsManagerEmulatorOptions.accountId}: `'123456789012'`, the account
 * AWS's documentation uses in examples.
 * @example
 * ```ts
 * const arnPrefix = `arn:aws:secretsmanager:us-east-1:${DEFAULT_EMULATOR_ACCOUNT_ID}:secret:`;
 * ```
 */
export const DEFAULT_EMULATOR_ACCOUNT_ID = '123456789012';

/**
 * Default of {@link SecretsManagerEmulatorOptions.accessKeyId}: the example access key id
 * from AWS's documentation. Not a real key.
 * @example
 * ```ts
 * new SecretsManagerClient({ ...emulator.clientConfig(), credentials: { accessKeyId: DEFAULT_EMULATOR_ACCESS_KEY_ID, secretAccessKey: 'wrong' } });
 * ```
 */
export const DEFAULT_EMULATOR_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';

/**
 * Default of {@link SecretsManagerEmulatorOptions.secretAccessKey}: the example secret access
 * key from AWS's documentation. Not a real key.
 * @example
 * ```ts
 * const credentials = { accessKeyId: DEFAULT_EMULATOR_ACCESS_KEY_ID, secretAccessKey: DEFAULT_EMULATOR_SECRET_ACCESS_KEY };
 * ```
 */
export const DEFAULT_EMULATOR_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

/**
 * How many versions a secret keeps, as in AWS: past this, the oldest versions without a
 * staging label ("deprecated" versions) are removed.
 * @example
 * ```ts
 * assert.ok(emulator.versions('prod/db').length <= SECRETS_MANAGER_MAX_VERSIONS);
 * ```
 */
export const SECRETS_MANAGER_MAX_VERSIONS = 100;

/**
 * How far, in milliseconds, a request's `X-Amz-Date` may be from the emulator's clock, as in
 * AWS: 15 minutes. Older or newer signatures are refused with `InvalidSignatureException`.
 * @example
 * ```ts
 * const tooOld = new Date(Date.now() - SIGNATURE_MAX_SKEW_MS - 1000);
 * ```
 */
export const SIGNATURE_MAX_SKEW_MS = 15 * 60 * 1000;

/** Options of {@link startSecretsManagerEmulator}. Unknown keys are rejected. */
export interface SecretsManagerEmulatorOptions {
  /**
   * The region the emulator pretends to be in: it appears in ARNs and requests must be signed
   * for it.
   * @defaultValue `'us-east-1'` ({@link DEFAULT_EMULATOR_REGION})
   */
  region?: string;
  /**
   * The 12-digit account id that appears in ARNs.
   * @defaultValue `'123456789012'` ({@link DEFAULT_EMULATOR_ACCOUNT_ID})
   */
  accountId?: string;
  /**
   * The only access key id the emulator knows; requests signed with another one fail with
   * `UnrecognizedClientException`.
   * @defaultValue {@link DEFAULT_EMULATOR_ACCESS_KEY_ID}
   */
  accessKeyId?: string;
  /**
   * The secret access key that belongs to `accessKeyId`; signatures made with another key
   * fail with `InvalidSignatureException`.
   * @defaultValue {@link DEFAULT_EMULATOR_SECRET_ACCESS_KEY}
   */
  secretAccessKey?: string;
  /**
   * Address to listen on. Keep it on loopback: the emulator has no real authentication.
   * @defaultValue `'127.0.0.1'`
   */
  host?: string;
  /**
   * TCP port to listen on; `0` picks a free one.
   * @defaultValue `0`
   */
  port?: number;
  /**
   * Whether requests must carry a valid SigV4 signature. With `false`, any request is served,
   * signed or not.
   * @defaultValue `true`
   */
  requireSignature?: boolean;
}

/** The configuration {@link SecretsManagerEmulator.clientConfig} returns, for `new SecretsManagerClient(...)`. */
export interface EmulatorClientConfig {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/**
 * The four steps of a rotation, in the order Secrets Manager runs them.
 * @example
 * ```ts
 * assert.deepEqual(emulator.rotations('prod/db')[0].steps, ROTATION_STEPS);
 * ```
 */
export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

/**
 * A step of a rotation function: `createSecret` (store the new value as `AWSPENDING`),
 * `setSecret` (change the password in the database), `testSecret`, `finishSecret` (move
 * `AWSCURRENT` to the new version).
 * @example
 * ```ts
 * const step: RotationStep = 'setSecret';
 * ```
 */
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** The event a rotation function receives, shaped as Secrets Manager's Lambda invocation payload. */
export interface RotationEvent {
  /** The step to perform. */
  Step: RotationStep;
  /** The secret's full ARN. */
  SecretId: string;
  /** The version id of the new version (the version labelled `AWSPENDING`). */
  ClientRequestToken: string;
  /** An opaque token identifying this rotation; rotation functions may pass it to `PutSecretValue`. */
  RotationToken: string;
}

/**
 * A rotation function, registered with {@link SecretsManagerEmulator.registerRotationFunction}.
 * It is called once per step; it usually calls back into the emulator with the SDK. A throw or
 * rejection fails the rotation at that step.
 * @example
 * ```ts
 * const handler: RotationHandler = async (event) => {
 *   if (event.Step === 'setSecret') await server.setPassword('app', newPassword);
 * };
 * ```
 */
export type RotationHandler = (event: RotationEvent) => unknown;

/** The state of one rotation, from {@link SecretsManagerEmulator.rotations} and {@link SecretsManagerEmulator.waitForRotation}. */
export interface RotationResult {
  /** The secret's ARN. */
  readonly secretArn: string;
  /** The secret's name. */
  readonly name: string;
  /** The new version's id (the `ClientRequestToken` of the events). */
  readonly versionId: string;
  /** The ARN of the rotation function that ran. */
  readonly functionArn: string;
  /**
   * `'running'`; `'succeeded'` when every step returned; `'failed'` when a step threw
   * (`failedStep` and `error` tell which and what); `'cancelled'` when the emulator was closed
   * or the rotation was cancelled with `CancelRotateSecret` first.
   */
  readonly status: 'running' | 'succeeded' | 'failed' | 'cancelled';
  /** The steps that completed, in order. */
  readonly steps: readonly RotationStep[];
  /** The step that threw, when `status` is `'failed'`. */
  readonly failedStep?: RotationStep;
  /** What the failed step threw. */
  readonly error?: unknown;
  /** When the rotation started. */
  readonly startedAt: Date;
  /** When it ended, unless it is still running. */
  readonly finishedAt?: Date;
}

/** Options of {@link SecretsManagerEmulator.pauseRotation}. Unknown keys are rejected. */
export interface PauseRotationOptions {
  /**
   * Pause only a rotation of this secret (name or ARN).
   * @defaultValue any secret
   */
  secretId?: string;
  /**
   * The step after which the rotation stops.
   * @defaultValue `'setSecret'`: the window in which the database has the new password and
   *   `AWSCURRENT` still holds the old one
   */
  after?: RotationStep;
  /**
   * Release the pause by itself this many milliseconds after it is reached.
   * @defaultValue none: the rotation waits for {@link RotationPause.release} (or `close()`)
   */
  ms?: number;
}

/** A pause set with {@link SecretsManagerEmulator.pauseRotation}. It holds the next matching rotation once. */
export interface RotationPause {
  /**
   * Resolves with the event of the step after which the rotation stopped, once it stopped.
   * Rejects with a `ClosedError` if the emulator closes before any rotation got there.
   */
  readonly reached: Promise<RotationEvent>;
  /** Lets the rotation go on (or drops the pause if it was not reached yet). Idempotent. */
  release(): void;
}

/** Options of {@link SecretsManagerEmulator.waitForRotation}. */
export interface WaitForRotationOptions {
  /**
   * Reject with an `Error` when the rotation has not ended after this many milliseconds.
   * @defaultValue none (wait until it ends or the emulator closes)
   */
  timeoutMs?: number;
}

/** A version of a secret, as {@link SecretsManagerEmulator.versions} shows it. */
export interface EmulatedSecretVersion {
  readonly versionId: string;
  /** Its staging labels; empty for a deprecated version. */
  readonly stages: readonly string[];
  readonly createdDate: Date;
  readonly lastAccessedDate?: Date;
  /** `false` for the placeholder version `RotateSecret` creates before `createSecret` stores a value. */
  readonly hasValue: boolean;
}

/** What {@link SecretsManagerEmulator.putSecret} created. */
export interface PutSecretResult {
  readonly arn: string;
  readonly name: string;
  readonly versionId: string;
}

/** Which requests a fault applies to; every field left out matches everything. */
export interface FaultMatch {
  /** The operation name, e.g. `'GetSecretValue'`. */
  operation?: string;
  /** The secret (name or ARN) the request names in `SecretId`. */
  secretId?: string;
}

/** Options of {@link SecretsManagerFaults.fail}. */
export interface FailFaultOptions extends FaultMatch {
  /**
   * HTTP status of the injected `InternalServiceError`: 500 or another 5xx.
   * @defaultValue `500`
   */
  status?: number;
}

/** Options of {@link SecretsManagerFaults.error}. */
export interface ErrorFaultOptions extends FaultMatch {
  /** The error name, e.g. `'AccessDeniedException'`, `'DecryptionFailure'`, `'LimitExceededException'`. */
  name: string;
  /**
   * The message.
   * @defaultValue AWS's wording for the known names, otherwise a generic one
   */
  message?: string;
  /**
   * HTTP status.
   * @defaultValue `500` for `InternalServiceError`, `400` otherwise
   */
  status?: number;
}

// ---------------------------------------------------------------------------------------------
// Wire-level errors
// ---------------------------------------------------------------------------------------------

/**
 * An error answered to the client. `framework` errors (authentication, throttling, protocol)
 * carry `message` in lower case, as AWS's request layer writes them; the service's own errors
 * carry `Message`.
 */
class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string | undefined,
    readonly status = 400,
    readonly framework = false,
  ) {
    super(message ?? '');
    this.name = type;
  }

  body(): Record<string, string> {
    const body: Record<string, string> = { __type: this.type };
    if (this.message !== '') body[this.framework ? 'message' : 'Message'] = this.message;
    return body;
  }
}

const MSG_NOT_FOUND = "Secrets Manager can't find the specified secret.";
const MSG_MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion.";

const notFound = (): AwsError => new AwsError('ResourceNotFoundException', MSG_NOT_FOUND);
const invalidParameter = (message: string): AwsError => new AwsError('InvalidParameterException', message);
const invalidRequest = (message: string): AwsError => new AwsError('InvalidRequestException', message);
const validation = (message: string): AwsError =>
  new AwsError('ValidationException', `1 validation error detected: ${message}`, 400, true);
const serialization = (message?: string): AwsError => new AwsError('SerializationException', message, 400, true);

const DEFAULT_FAULT_MESSAGES: Record<string, string> = {
  ThrottlingException: 'Rate exceeded',
  InternalServiceError: 'An error occurred on the server side.',
  DecryptionFailure: "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
  LimitExceededException: 'The request failed because it would exceed one of the Secrets Manager quotas.',
  ResourceNotFoundException: MSG_NOT_FOUND,
};
/** Request-layer errors, written with a lower-case `message` like AWS's front end writes them. */
const FRAMEWORK_ERRORS = new Set([
  'ThrottlingException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'AccessDeniedException',
  'ExpiredTokenException',
]);

// ---------------------------------------------------------------------------------------------
// SigV4 verification
// ---------------------------------------------------------------------------------------------

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
    `${rawPath.startsWith('/') ? '/' : ''}${segments.join('/')}` +
    `${segments.length > 0 && rawPath.endsWith('/') ? '/' : ''}`;
  return uriEscape(normalized).replace(/%2F/g, '/');
}

function canonicalQuery(rawQuery: string): string {
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
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!.trim().replace(/\s+/g, ' ');
    const list = values.get(name);
    if (list) list.push(value);
    else values.set(name, [value]);
  }
  return new Map([...values].map(([name, list]) => [name, list.join(',')]));
}

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** `20240131T235959Z` → epoch ms, or `undefined` when malformed. */
function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isNaN(ms) ? undefined : ms;
}

function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
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
function verifySignature(req: IncomingMessage, body: Buffer, identity: SigningIdentity, now: number): void {
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
    throw incomplete(`Credential should have exactly 5 slash-delimited elements, e.g. keyId/date/region/service/term, got '${credential.length}'`);
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

// ---------------------------------------------------------------------------------------------
// The secret store
// ---------------------------------------------------------------------------------------------

interface Version {
  id: string;
  stages: string[];
  created: number;
  lastAccessed?: number;
  string?: string;
  binary?: Buffer;
}

interface Tag {
  Key?: string;
  Value?: string;
}

interface RotationRules {
  AutomaticallyAfterDays?: number;
  Duration?: string;
  ScheduleExpression?: string;
}

interface Secret {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  tags?: Tag[];
  created: number;
  lastChanged: number;
  lastAccessed?: number;
  deleted?: number;
  /** When a secret scheduled for deletion is purged (epoch ms). */
  purgeAt?: number;
  /** In creation order. */
  versions: Map<string, Version>;
  rotationEnabled: boolean;
  rotationLambdaArn?: string;
  rotationRules?: RotationRules;
  lastRotated?: number;
  nextRotation?: number;
}

type Value = { string: string } | { binary: Buffer };

const CURRENT = 'AWSCURRENT';
const PENDING = 'AWSPENDING';
const PREVIOUS = 'AWSPREVIOUS';
const DAY_MS = 24 * 60 * 60 * 1000;
const ARN_SUFFIX_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_SECRET_BYTES = 65536;

/** Epoch ms → the wire's epoch seconds. */
const seconds = (ms: number): number => ms / 1000;
/** AWS reports `LastAccessedDate` rounded down to the day. */
const day = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

function sameValue(version: Version, value: Value): boolean {
  if ('string' in value) return version.string === value.string && version.binary === undefined;
  return version.string === undefined && version.binary !== undefined && version.binary.equals(value.binary);
}

function hasValue(version: Version): boolean {
  return version.string !== undefined || version.binary !== undefined;
}

// Input readers: a wrong JSON type is a SerializationException, as in AWS's JSON protocol;
// a constraint (length, range) is a ValidationException or the service's own error.

type Input = Record<string, unknown>;

function optString(input: Input, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw serialization(`Expected a string for '${key}'`);
  return value;
}

function reqString(input: Input, key: string, member: string): string {
  const value = optString(input, key);
  if (value === undefined) throw validation(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  if (value === '') {
    throw validation(`Value '' at '${member}' failed to satisfy constraint: Member must have length greater than or equal to 1`);
  }
  return value;
}

function optBool(input: Input, key: string): boolean | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw serialization(`Expected a boolean for '${key}'`);
  return value;
}

function optInt(input: Input, key: string): number | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw serialization(`Expected an integer for '${key}'`);
  return value;
}

function optStringList(input: Input, key: string): string[] | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw serialization(`Expected a list of strings for '${key}'`);
  }
  return value as string[];
}

function optObject(input: Input, key: string): Input | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw serialization(`Expected an object for '${key}'`);
  return value as Input;
}

/** `SecretString` or `SecretBinary` (base64 on the wire), or neither. Never both. */
function readValue(input: Input): Value | undefined {
  const text = optString(input, 'SecretString');
  const b64 = optString(input, 'SecretBinary');
  if (text !== undefined && b64 !== undefined) {
    throw invalidParameter("You can't specify both a binary secret value and a string secret value in the same secret.");
  }
  if (text !== undefined) {
    if (Buffer.byteLength(text) > MAX_SECRET_BYTES) {
      throw validation(`Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to ${MAX_SECRET_BYTES}`);
    }
    return { string: text };
  }
  if (b64 !== undefined) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw serialization("Expected base64 for 'SecretBinary'");
    const binary = Buffer.from(b64, 'base64');
    if (binary.length > MAX_SECRET_BYTES) {
      throw validation(`Value at 'secretBinary' failed to satisfy constraint: Member must have length less than or equal to ${MAX_SECRET_BYTES}`);
    }
    return { binary };
  }
  return undefined;
}

function checkToken(token: string): void {
  if (token.length < 32 || token.length > 64) {
    throw invalidParameter('ClientRequestToken must be 32-64 characters long.');
  }
}

function checkStage(stage: string): void {
  if (stage.length < 1 || stage.length > 256) {
    throw validation(`Value '${stage}' at 'versionStage' failed to satisfy constraint: Member must have length between 1 and 256`);
  }
}

// ---------------------------------------------------------------------------------------------
// GetRandomPassword
// ---------------------------------------------------------------------------------------------

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
/** The punctuation set AWS documents for `GetRandomPassword`. */
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

function randomPassword(input: Input): string {
  const length = optInt(input, 'PasswordLength') ?? 32;
  if (length < 1 || length > 4096) {
    throw validation(`Value '${length}' at 'passwordLength' failed to satisfy constraint: Member must have value between 1 and 4096`);
  }
  const exclude = new Set(optString(input, 'ExcludeCharacters') ?? '');
  const classes: string[] = [];
  const add = (chars: string, excluded: boolean | undefined): void => {
    if (excluded === true) return;
    const allowed = [...chars].filter((c) => !exclude.has(c)).join('');
    if (allowed !== '') classes.push(allowed);
  };
  add(LOWER, optBool(input, 'ExcludeLowercase'));
  add(UPPER, optBool(input, 'ExcludeUppercase'));
  add(DIGITS, optBool(input, 'ExcludeNumbers'));
  add(PUNCTUATION, optBool(input, 'ExcludePunctuation'));
  if (optBool(input, 'IncludeSpace') === true && !exclude.has(' ')) classes.push(' ');
  const requireEach = optBool(input, 'RequireEachIncludedType') ?? true;
  if (classes.length === 0) {
    throw invalidParameter('The password must contain at least one character type; every type was excluded.');
  }
  if (requireEach && length < classes.length) {
    throw invalidParameter('Password length is too short based on the required types.');
  }
  const all = classes.join('');
  const chars: string[] = [];
  if (requireEach) for (const cls of classes) chars.push(cls[randomInt(cls.length)]!);
  while (chars.length < length) chars.push(all[randomInt(all.length)]!);
  // Fisher-Yates, so the required characters are not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

interface Fault {
  match: FaultMatch;
  /** Requests left to fail; `Infinity` for latency. */
  remaining: number;
  latencyMs?: number;
  error?: { name: string; message: string | undefined; status: number };
}

function expectMatch(value: unknown, path: string, extra: readonly string[]): Record<string, unknown> {
  const bag = expectObject(value ?? {}, path) ?? {};
  rejectUnknownKeys(bag, new Set(['operation', 'secretId', ...extra]), `${path}.`);
  string(bag, 'operation', `${path}.`);
  string(bag, 'secretId', `${path}.`);
  return bag;
}

function expectCount(n: unknown, path: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new InvalidOptionError(path, 'must be an integer of at least 1');
  }
  return n;
}

/**
 * Fault injection, at {@link SecretsManagerEmulator.faults}. Faults apply to requests that
 * passed the signature check, in the order they were added; counted faults expire after `n`
 * matching requests. The SDK retries `ThrottlingException` and 5xx answers (3 attempts by
 * default): each attempt is a request here.
 */
export class SecretsManagerFaults {
  readonly #faults: Fault[] = [];
  readonly #matches: (match: FaultMatch, operation: string, secretId: string | undefined) => boolean;

  /** @internal */
  constructor(matches: (match: FaultMatch, operation: string, secretId: string | undefined) => boolean) {
    this.#matches = matches;
  }

  /**
   * The next `n` matching requests fail with `ThrottlingException: Rate exceeded` (HTTP 400).
   * @example
   * ```ts
   * emulator.faults.throttle(2, { operation: 'GetSecretValue' });
   * ```
   */
  throttle(n: number, match: FaultMatch = {}): void {
    const count = expectCount(n, 'faults.throttle(n)');
    const m = expectMatch(match, 'faults.throttle.options', []);
    this.#faults.push({ match: m, remaining: count, error: { name: 'ThrottlingException', message: undefined, status: 400 } });
  }

  /**
   * The next `n` matching requests fail with `InternalServiceError` (HTTP 500, or `status`).
   * @example
   * ```ts
   * emulator.faults.fail(1, { operation: 'DescribeSecret' });
   * ```
   */
  fail(n: number, options: FailFaultOptions = {}): void {
    const count = expectCount(n, 'faults.fail(n)');
    const bag = expectMatch(options, 'faults.fail.options', ['status']);
    const status = integer(bag, 'status', 'faults.fail.options.', 500, 500);
    if (status > 599) throw new InvalidOptionError('faults.fail.options.status', 'must be a 5xx status');
    this.#faults.push({ match: bag, remaining: count, error: { name: 'InternalServiceError', message: undefined, status } });
  }

  /**
   * Every matching request is answered `ms` milliseconds late, until {@link clear}. Latencies
   * of several matching faults add up.
   * @example
   * ```ts
   * emulator.faults.latency(200, { operation: 'GetSecretValue' });
   * ```
   */
  latency(ms: number, match: FaultMatch = {}): void {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new InvalidOptionError('faults.latency(ms)', 'must be a finite number of milliseconds >= 0');
    }
    const m = expectMatch(match, 'faults.latency.options', []);
    this.#faults.push({ match: m, remaining: Infinity, latencyMs: ms });
  }

  /**
   * The next `n` matching requests fail with the error `name`, e.g. `AccessDeniedException`
   * or `DecryptionFailure`.
   * @example
   * ```ts
   * emulator.faults.error(1, { name: 'DecryptionFailure', secretId: 'prod/db' });
   * ```
   */
  error(n: number, options: ErrorFaultOptions): void {
    const count = expectCount(n, 'faults.error(n)');
    const bag = expectMatch(options, 'faults.error.options', ['name', 'message', 'status']);
    const name = string(bag, 'name', 'faults.error.options.');
    if (name === undefined) throw new InvalidOptionError('faults.error.options.name', 'is required');
    const message = typeof bag.message === 'string' ? bag.message : undefined;
    if (bag.message !== undefined && typeof bag.message !== 'string') {
      throw new InvalidOptionError('faults.error.options.message', 'must be a string');
    }
    const status = integer(bag, 'status', 'faults.error.options.', name === 'InternalServiceError' ? 500 : 400, 400);
    if (status > 599) throw new InvalidOptionError('faults.error.options.status', 'must be a 4xx or 5xx status');
    this.#faults.push({ match: bag, remaining: count, error: { name, message, status } });
  }

  /**
   * Removes every fault.
   * @example
   * ```ts
   * afterEach(() => emulator.faults.clear());
   * ```
   */
  clear(): void {
    this.#faults.length = 0;
  }

  /** @internal The latency and the error (if any) for a request; consumes counted faults. */
  take(operation: string, secretId: string | undefined): { latencyMs: number; error?: Fault['error'] } {
    let latencyMs = 0;
    let error: Fault['error'];
    for (let i = 0; i < this.#faults.length; i++) {
      const fault = this.#faults[i]!;
      if (!this.#matches(fault.match, operation, secretId)) continue;
      if (fault.latencyMs !== undefined) latencyMs += fault.latencyMs;
      else if (error === undefined) {
        error = fault.error;
        fault.remaining -= 1;
        if (fault.remaining <= 0) this.#faults.splice(i--, 1);
      }
    }
    return { latencyMs, error };
  }
}

// ---------------------------------------------------------------------------------------------
// Rotations and pauses
// ---------------------------------------------------------------------------------------------

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface Rotation {
  secret: Secret;
  versionId: string;
  functionArn: string;
  status: RotationResult['status'];
  steps: RotationStep[];
  failedStep?: RotationStep;
  error?: unknown;
  startedAt: number;
  finishedAt?: number;
  done: Deferred<void>;
  cancelled: boolean;
}

interface Pause {
  options: PauseRotationOptions;
  reached: Deferred<RotationEvent>;
  released: Deferred<void>;
  isReached: boolean;
  isReleased: boolean;
  timer?: NodeJS.Timeout;
}

function snapshot(rotation: Rotation): RotationResult {
  const result: { -readonly [K in keyof RotationResult]: RotationResult[K] } = {
    secretArn: rotation.secret.arn,
    name: rotation.secret.name,
    versionId: rotation.versionId,
    functionArn: rotation.functionArn,
    status: rotation.status,
    steps: [...rotation.steps],
    startedAt: new Date(rotation.startedAt),
  };
  if (rotation.failedStep !== undefined) result.failedStep = rotation.failedStep;
  if (rotation.status === 'failed') result.error = rotation.error;
  if (rotation.finishedAt !== undefined) result.finishedAt = new Date(rotation.finishedAt);
  return result;
}

// ---------------------------------------------------------------------------------------------
// The emulator
// ---------------------------------------------------------------------------------------------

const OPTION_KEYS = new Set(['region', 'accountId', 'accessKeyId', 'secretAccessKey', 'host', 'port', 'requireSignature']);
const PAUSE_KEYS = new Set(['secretId', 'after', 'ms']);

/** Operations of the real service that the emulator does not implement: answered as unknown, with a note. */
const UNIMPLEMENTED_OPERATIONS = new Set([
  'BatchGetSecretValue',
  'DeleteResourcePolicy',
  'GetResourcePolicy',
  'ListSecrets',
  'PutResourcePolicy',
  'RemoveRegionsFromReplication',
  'ReplicateSecretToRegions',
  'StopReplicationToReplica',
  'TagResource',
  'UntagResource',
  'UpdateSecret',
  'ValidateResourcePolicy',
]);

type Operation = (input: Input) => Record<string, unknown>;

/**
 * A running Secrets Manager emulator, from {@link startSecretsManagerEmulator}. Stop it with
 * {@link SecretsManagerEmulator.close} (or `await using`).
 */
export class SecretsManagerEmulator {
  /** The region requests must be signed for and that appears in ARNs. */
  readonly region: string;
  /** The account id that appears in ARNs. */
  readonly accountId: string;
  /** The access key id that signs requests. */
  readonly accessKeyId: string;
  /** The host the server listens on. */
  readonly host: string;
  /** The TCP port the server listens on. */
  readonly port: number;
  /** The URL to pass as the SDK client's `endpoint`, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  /** Fault injection: throttling, 5xx, latency, errors of choice. */
  readonly faults: SecretsManagerFaults;

  readonly #secretAccessKey: string;
  readonly #requireSignature: boolean;
  readonly #server: Server;
  readonly #secrets = new Map<string, Secret>();
  readonly #functions = new Map<string, RotationHandler>();
  readonly #rotations: Rotation[] = [];
  readonly #pauses = new Set<Pause>();
  readonly #rotationWaiters = new Set<{ secret: Secret; resolve: (r: Rotation) => void; reject: (e: unknown) => void }>();
  readonly #sleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  readonly #running = new Set<Promise<void>>();
  #calls: Record<string, number> = {};
  #callsBySecret = new Map<string, Record<string, number>>();
  #closing: Promise<void> | undefined;
  #closed = false;
  readonly #operations: Record<string, Operation>;

  /** @internal Use {@link startSecretsManagerEmulator}. */
  constructor(server: Server, settings: Required<Omit<SecretsManagerEmulatorOptions, 'port'>> & { port: number }) {
    this.#server = server;
    this.region = settings.region;
    this.accountId = settings.accountId;
    this.accessKeyId = settings.accessKeyId;
    this.#secretAccessKey = settings.secretAccessKey;
    this.#requireSignature = settings.requireSignature;
    this.host = settings.host;
    this.port = settings.port;
    this.endpoint = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${settings.port}`;
    this.faults = new SecretsManagerFaults((match, operation, secretId) => this.#matches(match, operation, secretId));
    this.#operations = {
      CreateSecret: (i) => this.#createSecret(i),
      GetSecretValue: (i) => this.#getSecretValue(i),
      DescribeSecret: (i) => this.#describeSecret(i),
      PutSecretValue: (i) => this.#putSecretValue(i),
      UpdateSecretVersionStage: (i) => this.#updateSecretVersionStage(i),
      ListSecretVersionIds: (i) => this.#listSecretVersionIds(i),
      RotateSecret: (i) => this.#rotateSecret(i),
      CancelRotateSecret: (i) => this.#cancelRotateSecret(i),
      DeleteSecret: (i) => this.#deleteSecret(i),
      RestoreSecret: (i) => this.#restoreSecret(i),
      GetRandomPassword: (i) => ({ RandomPassword: randomPassword(i) }),
    };
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch(() => res.destroy());
    });
  }

  /**
   * The SDK client configuration for this emulator.
   * @example
   * ```ts
   * const client = new SecretsManagerClient({ ...emulator.clientConfig(), maxAttempts: 1 });
   * ```
   */
  clientConfig(): EmulatorClientConfig {
    return {
      region: this.region,
      endpoint: this.endpoint,
      credentials: { accessKeyId: this.accessKeyId, secretAccessKey: this.#secretAccessKey },
    };
  }

  /**
   * Requests that reached the server, per operation (`X-Amz-Target`), rejected ones included.
   * A snapshot: later requests do not change it.
   * @example
   * ```ts
   * assert.equal(emulator.calls.GetSecretValue, 1);
   * ```
   */
  get calls(): Record<string, number> {
    return { ...this.#calls };
  }

  /**
   * Like {@link calls}, counting only requests whose `SecretId` (or `Name`, for `CreateSecret`)
   * named this secret, by name or by ARN.
   * @example
   * ```ts
   * assert.equal(emulator.callsFor('prod/db').GetSecretValue, 2);
   * ```
   */
  callsFor(secretId: string): Record<string, number> {
    const secret = this.#find(secretId);
    return { ...(this.#callsBySecret.get(secret?.arn ?? secretId) ?? {}) };
  }

  /**
   * Sets every call count back to zero.
   * @example
   * ```ts
   * beforeEach(() => emulator.resetCalls());
   * ```
   */
  resetCalls(): void {
    this.#calls = {};
    this.#callsBySecret = new Map();
  }

  /**
   * Registers an in-process rotation function and returns its Lambda-style ARN
   * (`arn:aws:lambda:<region>:<account>:function:<name>`), to pass as `RotationLambdaARN` to
   * `RotateSecret`. Registering a name again replaces the function.
   * @example
   * ```ts
   * const arn = emulator.registerRotationFunction('rotate-db', async (event) => { ... });
   * await client.send(new RotateSecretCommand({ SecretId: 'prod/db', RotationLambdaARN: arn }));
   * ```
   */
  registerRotationFunction(name: string, handler: RotationHandler): string {
    if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      throw new InvalidOptionError('registerRotationFunction(name)', 'must be 1-64 letters, digits, - or _');
    }
    if (typeof handler !== 'function') {
      throw new InvalidOptionError('registerRotationFunction(handler)', 'must be a function');
    }
    const arn = `arn:aws:lambda:${this.region}:${this.accountId}:function:${name}`;
    this.#functions.set(arn, handler);
    return arn;
  }

  /**
   * Holds the next rotation that completes step `after` (of secret `secretId`, if given)
   * before it runs the following step, until {@link RotationPause.release} is called or `ms`
   * have passed. Each pause holds one rotation once. `close()` releases every pause.
   * @example
   * ```ts
   * const pause = emulator.pauseRotation({ secretId: 'prod/db', after: 'setSecret' });
   * await client.send(new RotateSecretCommand({ SecretId: 'prod/db', RotationLambdaARN: arn }));
   * await pause.reached; // the database has the new password, AWSCURRENT the old one
   * // ... drive load ...
   * pause.release();
   * await emulator.waitForRotation('prod/db');
   * ```
   */
  pauseRotation(options: PauseRotationOptions = {}): RotationPause {
    const bag = expectObject(options, 'pauseRotation.options') ?? {};
    rejectUnknownKeys(bag, PAUSE_KEYS, 'pauseRotation.options.');
    string(bag, 'secretId', 'pauseRotation.options.');
    if (bag.after !== undefined && !(ROTATION_STEPS as readonly unknown[]).includes(bag.after)) {
      throw new InvalidOptionError('pauseRotation.options.after', `must be one of ${ROTATION_STEPS.map((s) => `'${s}'`).join(', ')}`);
    }
    if (bag.ms !== undefined && (typeof bag.ms !== 'number' || !Number.isFinite(bag.ms) || bag.ms < 0)) {
      throw new InvalidOptionError('pauseRotation.options.ms', 'must be a finite number of milliseconds >= 0');
    }
    if (this.#closed) throw new ClosedError('Secrets Manager emulator');
    const pause: Pause = {
      options: { ...(bag as PauseRotationOptions) },
      reached: deferred<RotationEvent>(),
      released: deferred<void>(),
      isReached: false,
      isReleased: false,
    };
    // The caller may never await `reached`; a rejection on close must not go unhandled.
    pause.reached.promise.catch(() => {});
    this.#pauses.add(pause);
    return {
      reached: pause.reached.promise,
      release: () => this.#release(pause),
    };
  }

  /**
   * Resolves when the rotation of `secretId` that is running now ends, with its result; when
   * none is running, at once with the last one that ended; when the secret never rotated, when
   * the next one ends. A failed step resolves with `status: 'failed'` (it does not reject).
   * Rejects with a `ClosedError` when the emulator closes first, and with an `Error` after
   * `timeoutMs`.
   * @example
   * ```ts
   * const result = await emulator.waitForRotation('prod/db', { timeoutMs: 5000 });
   * assert.equal(result.status, 'succeeded');
   * ```
   */
  waitForRotation(secretId: string, options: WaitForRotationOptions = {}): Promise<RotationResult> {
    const bag = expectObject(options, 'waitForRotation.options') ?? {};
    rejectUnknownKeys(bag, new Set(['timeoutMs']), 'waitForRotation.options.');
    const timeoutMs = bag.timeoutMs;
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0)) {
      throw new InvalidOptionError('waitForRotation.options.timeoutMs', 'must be a finite number of milliseconds >= 0');
    }
    const secret = this.#find(secretId);
    if (secret === undefined) {
      return Promise.reject(new Error(`Secrets Manager emulator: no secret '${secretId}'`));
    }
    if (this.#closed) return Promise.reject(new ClosedError('Secrets Manager emulator'));
    const mine = this.#rotations.filter((r) => r.secret === secret);
    const running = mine.find((r) => r.status === 'running');
    const last = mine.at(-1);
    let started: Promise<Rotation>;
    let stopWaiting = (): void => {};
    if (running) started = Promise.resolve(running);
    else if (last) return Promise.resolve(snapshot(last));
    else {
      const waiter = { secret, ...deferred<Rotation>() };
      const entry = { secret, resolve: waiter.resolve, reject: waiter.reject };
      this.#rotationWaiters.add(entry);
      stopWaiting = () => this.#rotationWaiters.delete(entry);
      started = waiter.promise;
    }
    const ended = started.then(async (rotation) => {
      await rotation.done.promise;
      return snapshot(rotation);
    });
    if (timeoutMs === undefined) return ended;
    return new Promise<RotationResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        stopWaiting();
        reject(new Error(`Secrets Manager emulator: the rotation of '${secretId}' did not end within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      ended.then(
        (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /**
   * Every rotation of `secretId` so far, oldest first (empty for an unknown secret).
   * @example
   * ```ts
   * const [first] = emulator.rotations('prod/db');
   * ```
   */
  rotations(secretId: string): RotationResult[] {
    const secret = this.#find(secretId);
    return this.#rotations.filter((r) => r.secret === secret).map(snapshot);
  }

  /**
   * Test setup without HTTP: creates the secret `name` with `value`, or, when it exists, adds a
   * version with `value` and moves `AWSCURRENT` to it (and `AWSPREVIOUS` to the old current),
   * like `PutSecretValue`. An object is stored as its JSON text, a `Uint8Array` as
   * `SecretBinary`.
   * @example
   * ```ts
   * const { arn } = emulator.putSecret('prod/db', { engine: 'mysql', host: '127.0.0.1', username: 'app', password });
   * ```
   */
  putSecret(name: string, value: string | Uint8Array | Record<string, unknown>): PutSecretResult {
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
      throw new InvalidOptionError('putSecret(name)', 'must be 1-512 letters, digits or /_+=.@-');
    }
    const stored: Value =
      typeof value === 'string'
        ? { string: value }
        : value instanceof Uint8Array
          ? { binary: Buffer.from(value) }
          : typeof value === 'object' && value !== null
            ? { string: JSON.stringify(value) }
            : (() => {
                throw new InvalidOptionError('putSecret(value)', 'must be a string, a Uint8Array or an object');
              })();
    const versionId = randomUUID();
    const secret = this.#find(name);
    if (secret === undefined) {
      const created = this.#newSecret(name);
      this.#addVersion(created, versionId, stored, [CURRENT]);
      return { arn: created.arn, name, versionId };
    }
    if (secret.deleted !== undefined) {
      throw new Error(`Secrets Manager emulator: secret '${name}' is scheduled for deletion`);
    }
    this.#addVersion(secret, versionId, stored, [CURRENT]);
    return { arn: secret.arn, name: secret.name, versionId };
  }

  /**
   * The versions of `secretId`, oldest first, with their staging labels; deprecated versions
   * (no label) included.
   * @example
   * ```ts
   * const current = emulator.versions('prod/db').find((v) => v.stages.includes('AWSCURRENT'));
   * ```
   */
  versions(secretId: string): EmulatedSecretVersion[] {
    const secret = this.#find(secretId);
    if (secret === undefined) throw new Error(`Secrets Manager emulator: no secret '${secretId}'`);
    return [...secret.versions.values()].map((v) => {
      const out: { -readonly [K in keyof EmulatedSecretVersion]: EmulatedSecretVersion[K] } = {
        versionId: v.id,
        stages: [...v.stages],
        createdDate: new Date(v.created),
        hasValue: hasValue(v),
      };
      if (v.lastAccessed !== undefined) out.lastAccessedDate = new Date(v.lastAccessed);
      return out;
    });
  }

  /**
   * The value of a version of `secretId` (by `versionId`, else by `versionStage`, by default
   * `AWSCURRENT`) without HTTP and without touching `LastAccessedDate`; `undefined` when there
   * is no such version or it has no value.
   * @example
   * ```ts
   * const pending = emulator.secretValue('prod/db', { versionStage: 'AWSPENDING' });
   * ```
   */
  secretValue(secretId: string, options: { versionId?: string; versionStage?: string } = {}): string | Uint8Array | undefined {
    const secret = this.#find(secretId);
    if (secret === undefined) throw new Error(`Secrets Manager emulator: no secret '${secretId}'`);
    const version =
      options.versionId !== undefined
        ? secret.versions.get(options.versionId)
        : this.#versionWithStage(secret, options.versionStage ?? CURRENT);
    if (version === undefined) return undefined;
    return version.string ?? (version.binary ? new Uint8Array(version.binary) : undefined);
  }

  /**
   * Stops the server and closes its connections (keep-alive ones included), releases every
   * rotation pause, cancels running rotations before their next step and answers pending
   * waits. Idempotent.
   * @example
   * ```ts
   * after(() => emulator.close());
   * ```
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true;
      this.#closing = this.#close();
    }
    return this.#closing;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    for (const sleep of this.#sleeps) {
      clearTimeout(sleep.timer);
      sleep.resolve();
    }
    this.#sleeps.clear();
    for (const pause of this.#pauses) {
      if (!pause.isReached) pause.reached.reject(new ClosedError('Secrets Manager emulator'));
      this.#release(pause);
    }
    for (const waiter of this.#rotationWaiters) waiter.reject(new ClosedError('Secrets Manager emulator'));
    this.#rotationWaiters.clear();
    for (const rotation of this.#rotations) if (rotation.status === 'running') rotation.cancelled = true;
    await closed;
    // A rotation function may be inside a step; its step finishes on its own, then the rotation stops.
    await Promise.all([...this.#running]);
  }

  // ------------------------------------------------------------------------------------------
  // HTTP
  // ------------------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const target = req.headers['x-amz-target'];
    const operation =
      typeof target === 'string' && target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : undefined;
    const countAs = operation ?? (typeof target === 'string' ? target : '(no X-Amz-Target)');
    this.#calls[countAs] = (this.#calls[countAs] ?? 0) + 1;

    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (err) {
      if (err instanceof AwsError) return this.#send(res, requestId, err.status, err.body(), err.type);
      throw err;
    }
    let input: Input | undefined;
    let parseError: AwsError | undefined;
    try {
      const parsed: unknown = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) parseError = serialization();
      else input = parsed as Input;
    } catch {
      parseError = serialization();
    }
    const named = input && (typeof input.SecretId === 'string' ? input.SecretId : operation === 'CreateSecret' && typeof input.Name === 'string' ? input.Name : undefined);
    if (named !== undefined) {
      const key = this.#find(named)?.arn ?? named;
      const counts = this.#callsBySecret.get(key) ?? {};
      counts[countAs] = (counts[countAs] ?? 0) + 1;
      this.#callsBySecret.set(key, counts);
    }

    try {
      if (this.#requireSignature) {
        verifySignature(req, body, { region: this.region, accessKeyId: this.accessKeyId, secretAccessKey: this.#secretAccessKey }, Date.now());
      }
      if (req.method !== 'POST' || operation === undefined || this.#operations[operation] === undefined) {
        throw new AwsError(
          'UnknownOperationException',
          operation !== undefined && UNIMPLEMENTED_OPERATIONS.has(operation)
            ? `${operation} is not implemented by the Secrets Manager emulator`
            : undefined,
          400,
          true,
        );
      }
      if (parseError) throw parseError;
      const fault = this.faults.take(operation, named);
      if (fault.latencyMs > 0) {
        await this.#sleep(fault.latencyMs);
        if (this.#closed) {
          res.destroy();
          return;
        }
      }
      if (fault.error) {
        const { name, status } = fault.error;
        const message = fault.error.message ?? this.#defaultFaultMessage(name, operation, named);
        throw new AwsError(name, message, status, FRAMEWORK_ERRORS.has(name));
      }
      const output = this.#operations[operation]!(input!);
      this.#send(res, requestId, 200, output);
    } catch (err) {
      if (!(err instanceof AwsError)) {
        // A bug in the emulator: answer as the service would, without details.
        const internal = new AwsError('InternalServiceError', DEFAULT_FAULT_MESSAGES.InternalServiceError, 500);
        return this.#send(res, requestId, 500, internal.body(), internal.type);
      }
      this.#send(res, requestId, err.status, err.body(), err.type);
    }
  }

  #send(res: ServerResponse, requestId: string, status: number, body: unknown, errorType?: string): void {
    if (res.destroyed) return;
    const text = JSON.stringify(body);
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/x-amz-json-1.1',
      'Content-Length': Buffer.byteLength(text),
      'x-amzn-RequestId': requestId,
    };
    if (errorType !== undefined) headers['x-amzn-ErrorType'] = errorType;
    res.writeHead(status, headers);
    res.end(text);
  }

  #defaultFaultMessage(name: string, operation: string, secretId: string | undefined): string {
    if (name === 'AccessDeniedException') {
      return (
        `User: arn:aws:iam::${this.accountId}:user/emulator is not authorized to perform: secretsmanager:${operation} ` +
        `on resource: ${secretId ?? '*'} because no identity-based policy allows the secretsmanager:${operation} action`
      );
    }
    return DEFAULT_FAULT_MESSAGES[name] ?? `Injected ${name} from the Secrets Manager emulator.`;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#sleeps.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      entry.timer.unref();
      this.#sleeps.add(entry);
    });
  }

  #matches(match: FaultMatch, operation: string, secretId: string | undefined): boolean {
    if (match.operation !== undefined && match.operation !== operation) return false;
    if (match.secretId === undefined) return true;
    if (secretId === undefined) return false;
    if (secretId === match.secretId) return true;
    const wanted = this.#find(match.secretId);
    return wanted !== undefined && wanted === this.#find(secretId);
  }

  // ------------------------------------------------------------------------------------------
  // The store
  // ------------------------------------------------------------------------------------------

  /** Finds a secret by name, full ARN or partial ARN (the ARN without its 6-character suffix). */
  #find(id: string): Secret | undefined {
    const now = Date.now();
    for (const [arn, secret] of this.#secrets) {
      if (secret.purgeAt !== undefined && secret.purgeAt <= now) this.#secrets.delete(arn);
    }
    if (id.startsWith('arn:')) {
      const exact = this.#secrets.get(id);
      if (exact) return exact;
      for (const secret of this.#secrets.values()) if (secret.arn.slice(0, -7) === id) return secret;
      return undefined;
    }
    for (const secret of this.#secrets.values()) if (secret.name === id) return secret;
    return undefined;
  }

  #require(input: Input, allowDeleted = false): Secret {
    const id = reqString(input, 'SecretId', 'secretId');
    if (id.length > 2048) {
      throw validation(`Value at 'secretId' failed to satisfy constraint: Member must have length less than or equal to 2048`);
    }
    const secret = this.#find(id);
    if (secret === undefined) throw notFound();
    if (!allowDeleted && secret.deleted !== undefined) throw invalidRequest(MSG_MARKED_FOR_DELETION);
    return secret;
  }

  #newSecret(name: string): Secret {
    let suffix = '';
    for (let i = 0; i < 6; i++) suffix += ARN_SUFFIX_CHARS[randomInt(ARN_SUFFIX_CHARS.length)];
    const now = Date.now();
    const secret: Secret = {
      arn: `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${suffix}`,
      name,
      created: now,
      lastChanged: now,
      versions: new Map(),
      rotationEnabled: false,
    };
    this.#secrets.set(secret.arn, secret);
    return secret;
  }

  #versionWithStage(secret: Secret, stage: string): Version | undefined {
    for (const version of secret.versions.values()) if (version.stages.includes(stage)) return version;
    return undefined;
  }

  /**
   * Attaches `stage` to `target`, removing it from whichever version had it. Moving
   * `AWSCURRENT` away from a version gives that version `AWSPREVIOUS`.
   */
  #attach(secret: Secret, stage: string, target: Version): void {
    const holder = this.#versionWithStage(secret, stage);
    if (holder === target) return;
    if (holder) holder.stages = holder.stages.filter((s) => s !== stage);
    target.stages.push(stage);
    if (stage === CURRENT) {
      if (holder) {
        const previous = this.#versionWithStage(secret, PREVIOUS);
        if (previous) previous.stages = previous.stages.filter((s) => s !== PREVIOUS);
        holder.stages.push(PREVIOUS);
      }
      target.stages = target.stages.filter((s) => s !== PREVIOUS);
    }
  }

  #addVersion(secret: Secret, id: string, value: Value | undefined, stages: readonly string[]): Version {
    const version: Version = { id, stages: [], created: Date.now() };
    if (value && 'string' in value) version.string = value.string;
    if (value && 'binary' in value) version.binary = value.binary;
    secret.versions.set(id, version);
    for (const stage of stages) this.#attach(secret, stage, version);
    secret.lastChanged = Date.now();
    this.#trimVersions(secret);
    return version;
  }

  /** Past {@link SECRETS_MANAGER_MAX_VERSIONS}, drops the oldest versions without a label. */
  #trimVersions(secret: Secret): void {
    for (const version of secret.versions.values()) {
      if (secret.versions.size <= SECRETS_MANAGER_MAX_VERSIONS) return;
      if (version.stages.length === 0) secret.versions.delete(version.id);
    }
  }

  #touch(secret: Secret, version: Version): void {
    const now = Date.now();
    secret.lastAccessed = now;
    version.lastAccessed = now;
  }

  // ------------------------------------------------------------------------------------------
  // Operations
  // ------------------------------------------------------------------------------------------

  #createSecret(input: Input): Record<string, unknown> {
    const name = reqString(input, 'Name', 'name');
    if (!NAME_PATTERN.test(name)) {
      throw invalidParameter('Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
    }
    const token = optString(input, 'ClientRequestToken');
    if (token !== undefined) checkToken(token);
    const value = readValue(input);
    const description = optString(input, 'Description');
    const kmsKeyId = optString(input, 'KmsKeyId');
    const tags = input.Tags;
    if (tags !== undefined && tags !== null && (!Array.isArray(tags) || tags.some((t) => typeof t !== 'object' || t === null))) {
      throw serialization("Expected a list of tags for 'Tags'");
    }
    const existing = this.#find(name);
    if (existing) {
      if (existing.deleted !== undefined) {
        throw invalidRequest("You can't create this secret because a secret with this name is already scheduled for deletion.");
      }
      const same = token !== undefined ? existing.versions.get(token) : undefined;
      if (same && value && sameValue(same, value)) {
        return { ARN: existing.arn, Name: existing.name, VersionId: same.id };
      }
      if (same) {
        throw new AwsError(
          'ResourceExistsException',
          `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${existing.arn}.`,
        );
      }
      throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    }
    const secret = this.#newSecret(name);
    if (description !== undefined) secret.description = description;
    if (kmsKeyId !== undefined) secret.kmsKeyId = kmsKeyId;
    if (Array.isArray(tags)) secret.tags = (tags as Tag[]).map((t) => ({ Key: t.Key, Value: t.Value }));
    const output: Record<string, unknown> = { ARN: secret.arn, Name: secret.name };
    if (value) {
      const version = this.#addVersion(secret, token ?? randomUUID(), value, [CURRENT]);
      output.VersionId = version.id;
    }
    return output;
  }

  #getSecretValue(input: Input): Record<string, unknown> {
    const secret = this.#require(input);
    const versionId = optString(input, 'VersionId');
    const stage = optString(input, 'VersionStage');
    let version: Version | undefined;
    if (versionId !== undefined) {
      version = secret.versions.get(versionId);
      if (version === undefined || !hasValue(version)) {
        throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`);
      }
      if (stage !== undefined && !version.stages.includes(stage)) {
        throw invalidRequest('You provided a VersionStage that is not associated to the provided VersionId.');
      }
    } else {
      const wanted = stage ?? CURRENT;
      version = this.#versionWithStage(secret, wanted);
      if (version === undefined || !hasValue(version)) {
        throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for staging label: ${wanted}`);
      }
    }
    this.#touch(secret, version);
    const output: Record<string, unknown> = {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      VersionStages: [...version.stages],
      CreatedDate: seconds(version.created),
    };
    if (version.string !== undefined) output.SecretString = version.string;
    if (version.binary !== undefined) output.SecretBinary = version.binary.toString('base64');
    return output;
  }

  #describeSecret(input: Input): Record<string, unknown> {
    const secret = this.#require(input, true);
    const output: Record<string, unknown> = { ARN: secret.arn, Name: secret.name };
    if (secret.description !== undefined) output.Description = secret.description;
    if (secret.kmsKeyId !== undefined) output.KmsKeyId = secret.kmsKeyId;
    output.RotationEnabled = secret.rotationEnabled;
    if (secret.rotationLambdaArn !== undefined) output.RotationLambdaARN = secret.rotationLambdaArn;
    if (secret.rotationRules !== undefined) output.RotationRules = { ...secret.rotationRules };
    if (secret.lastRotated !== undefined) output.LastRotatedDate = seconds(secret.lastRotated);
    output.LastChangedDate = seconds(secret.lastChanged);
    if (secret.lastAccessed !== undefined) output.LastAccessedDate = seconds(day(secret.lastAccessed));
    if (secret.deleted !== undefined) output.DeletedDate = seconds(secret.deleted);
    if (secret.rotationEnabled && secret.nextRotation !== undefined) output.NextRotationDate = seconds(secret.nextRotation);
    if (secret.tags !== undefined) output.Tags = secret.tags.map((t) => ({ ...t }));
    const stages: Record<string, string[]> = {};
    for (const version of secret.versions.values()) {
      if (version.stages.length > 0) stages[version.id] = [...version.stages];
    }
    output.VersionIdsToStages = stages;
    output.CreatedDate = seconds(secret.created);
    return output;
  }

  #putSecretValue(input: Input): Record<string, unknown> {
    const secret = this.#require(input);
    const token = optString(input, 'ClientRequestToken') ?? randomUUID();
    checkToken(token);
    const value = readValue(input);
    if (value === undefined) throw invalidRequest('You must provide either SecretString or SecretBinary.');
    const requested = optStringList(input, 'VersionStages');
    if (requested !== undefined) {
      if (requested.length < 1 || requested.length > 20) {
        throw validation(`Value at 'versionStages' failed to satisfy constraint: Member must have length between 1 and 20`);
      }
      requested.forEach(checkStage);
    }
    optString(input, 'RotationToken');
    const stages = requested ?? [CURRENT];
    const existing = secret.versions.get(token);
    if (existing && hasValue(existing)) {
      if (!sameValue(existing, value)) {
        throw new AwsError(
          'ResourceExistsException',
          `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${secret.arn}.`,
        );
      }
      return { ARN: secret.arn, Name: secret.name, VersionId: existing.id, VersionStages: [...existing.stages] };
    }
    let version: Version;
    if (existing) {
      // The placeholder RotateSecret created: createSecret fills it in.
      if ('string' in value) existing.string = value.string;
      else existing.binary = value.binary;
      for (const stage of stages) this.#attach(secret, stage, existing);
      secret.lastChanged = Date.now();
      version = existing;
    } else {
      version = this.#addVersion(secret, token, value, stages);
    }
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
  }

  #updateSecretVersionStage(input: Input): Record<string, unknown> {
    const secret = this.#require(input);
    const stage = reqString(input, 'VersionStage', 'versionStage');
    checkStage(stage);
    const moveTo = optString(input, 'MoveToVersionId');
    const removeFrom = optString(input, 'RemoveFromVersionId');
    const holder = this.#versionWithStage(secret, stage);
    const target = moveTo !== undefined ? secret.versions.get(moveTo) : undefined;
    if (moveTo !== undefined && target === undefined) {
      throw invalidParameter(`Secrets Manager can't find the specified secret version: ${moveTo}.`);
    }
    if (removeFrom !== undefined) {
      if (!secret.versions.has(removeFrom)) {
        throw invalidParameter(`Secrets Manager can't find the specified secret version: ${removeFrom}.`);
      }
      if (holder === undefined || holder.id !== removeFrom) {
        throw invalidParameter(
          `The parameter RemoveFromVersionId is invalid. Staging label ${stage} is ` +
            (holder ? `currently attached to version ${holder.id}, not to version ${removeFrom}.` : `not attached to version ${removeFrom}.`),
        );
      }
    } else if (holder !== undefined && target !== undefined && holder !== target) {
      throw invalidParameter(
        `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.id}, ` +
          'so you must explicitly reference that version in RemoveFromVersionId.',
      );
    }
    if (target === undefined) {
      if (removeFrom === undefined) {
        throw invalidParameter('You must specify MoveToVersionId, RemoveFromVersionId, or both.');
      }
      if (stage === CURRENT) {
        throw invalidParameter(`You can't remove the staging label ${CURRENT} from a version without moving it to another version.`);
      }
      holder!.stages = holder!.stages.filter((s) => s !== stage);
    } else {
      if (!target.stages.includes(stage) && target.stages.length >= 20) {
        throw new AwsError('LimitExceededException', 'A version can have at most 20 staging labels.');
      }
      this.#attach(secret, stage, target);
    }
    secret.lastChanged = Date.now();
    return { ARN: secret.arn, Name: secret.name };
  }

  #listSecretVersionIds(input: Input): Record<string, unknown> {
    const secret = this.#require(input, true);
    const includeDeprecated = optBool(input, 'IncludeDeprecated') ?? false;
    const max = optInt(input, 'MaxResults');
    if (max !== undefined && (max < 1 || max > 100)) {
      throw validation(`Value '${max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100`);
    }
    const nextToken = optString(input, 'NextToken');
    let start = 0;
    if (nextToken !== undefined) {
      start = Number.parseInt(Buffer.from(nextToken, 'base64').toString('utf8'), 10);
      if (!Number.isInteger(start) || start < 0) throw new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.');
    }
    const all = [...secret.versions.values()].filter((v) => includeDeprecated || v.stages.length > 0);
    const page = all.slice(start, max === undefined ? undefined : start + max);
    const output: Record<string, unknown> = {
      Versions: page.map((v) => {
        const entry: Record<string, unknown> = { VersionId: v.id, VersionStages: [...v.stages], CreatedDate: seconds(v.created) };
        if (v.lastAccessed !== undefined) entry.LastAccessedDate = seconds(day(v.lastAccessed));
        if (secret.kmsKeyId !== undefined) entry.KmsKeyIds = [secret.kmsKeyId];
        return entry;
      }),
      ARN: secret.arn,
      Name: secret.name,
    };
    const next = start + page.length;
    if (next < all.length) output.NextToken = Buffer.from(String(next)).toString('base64');
    return output;
  }

  #rotateSecret(input: Input): Record<string, unknown> {
    const secret = this.#require(input);
    const token = optString(input, 'ClientRequestToken') ?? randomUUID();
    checkToken(token);
    const lambdaArn = optString(input, 'RotationLambdaARN');
    const rules = optObject(input, 'RotationRules');
    const immediately = optBool(input, 'RotateImmediately') ?? true;
    let parsedRules: RotationRules | undefined;
    if (rules !== undefined) {
      const days = optInt(rules, 'AutomaticallyAfterDays');
      if (days !== undefined && (days < 1 || days > 1000)) {
        throw invalidParameter('RotationRules.AutomaticallyAfterDays must be within 1-1000.');
      }
      parsedRules = {};
      if (days !== undefined) parsedRules.AutomaticallyAfterDays = days;
      const duration = optString(rules, 'Duration');
      if (duration !== undefined) parsedRules.Duration = duration;
      const schedule = optString(rules, 'ScheduleExpression');
      if (schedule !== undefined) parsedRules.ScheduleExpression = schedule;
    }
    const functionArn = lambdaArn ?? secret.rotationLambdaArn;
    if (functionArn === undefined) {
      throw invalidRequest('No Lambda rotation function ARN is associated with this secret.');
    }
    const handler = this.#functions.get(functionArn) ?? this.#functions.get(`arn:aws:lambda:${this.region}:${this.accountId}:function:${functionArn}`);
    if (handler === undefined) {
      throw new AwsError(
        'AccessDeniedException',
        'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
        400,
        true,
      );
    }
    const pending = this.#versionWithStage(secret, PENDING);
    if (pending !== undefined && !pending.stages.includes(CURRENT) && pending.id !== token) {
      throw invalidRequest("A previous rotation isn't complete. That rotation will be reattempted.");
    }
    const current = this.#versionWithStage(secret, CURRENT);
    if (current === undefined) {
      throw invalidRequest("You can't rotate a secret that has no AWSCURRENT version.");
    }
    const running = this.#rotations.find((r) => r.secret === secret && r.status === 'running');
    if (running !== undefined && running.versionId === token) {
      return { ARN: secret.arn, Name: secret.name, VersionId: token };
    }
    if (running !== undefined) throw invalidRequest("A previous rotation isn't complete. That rotation will be reattempted.");

    if (parsedRules !== undefined) secret.rotationRules = parsedRules;
    secret.rotationEnabled = true;
    const resolvedArn = this.#functions.has(functionArn) ? functionArn : `arn:aws:lambda:${this.region}:${this.accountId}:function:${functionArn}`;
    secret.rotationLambdaArn = resolvedArn;
    // AWS creates the AWSPENDING version id before the function runs; createSecret fills it in.
    // A configuration test (RotateImmediately=false) runs testSecret on a copy of AWSCURRENT.
    const placeholder: Value | undefined = immediately
      ? undefined
      : current.string !== undefined
        ? { string: current.string }
        : current.binary !== undefined
          ? { binary: current.binary }
          : undefined;
    if (secret.versions.get(token) === undefined) this.#addVersion(secret, token, placeholder, [PENDING]);
    else this.#attach(secret, PENDING, secret.versions.get(token)!);

    const rotation: Rotation = {
      secret,
      versionId: token,
      functionArn: resolvedArn,
      status: 'running',
      steps: [],
      startedAt: Date.now(),
      done: deferred<void>(),
      cancelled: false,
    };
    this.#rotations.push(rotation);
    for (const waiter of this.#rotationWaiters) {
      if (waiter.secret === secret) {
        waiter.resolve(rotation);
        this.#rotationWaiters.delete(waiter);
      }
    }
    const steps: readonly RotationStep[] = immediately ? ROTATION_STEPS : ['testSecret'];
    // After the answer is written: the function calls back into this server.
    const run = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#runRotation(rotation, handler, steps, immediately));
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
    return { ARN: secret.arn, Name: secret.name, VersionId: token };
  }

  async #runRotation(rotation: Rotation, handler: RotationHandler, steps: readonly RotationStep[], immediately: boolean): Promise<void> {
    const rotationToken = randomUUID();
    const { secret } = rotation;
    try {
      for (const step of steps) {
        if (rotation.cancelled || this.#closed) {
          rotation.status = 'cancelled';
          break;
        }
        const event: RotationEvent = {
          Step: step,
          SecretId: secret.arn,
          ClientRequestToken: rotation.versionId,
          RotationToken: rotationToken,
        };
        try {
          await handler({ ...event });
        } catch (err) {
          // A function cut off by close() (its calls back into the server fail) was cancelled, not broken.
          if (rotation.cancelled || this.#closed) {
            rotation.status = 'cancelled';
            break;
          }
          rotation.status = 'failed';
          rotation.failedStep = step;
          rotation.error = err;
          break;
        }
        rotation.steps.push(step);
        await this.#pausePoint(secret, step, event);
      }
      if (rotation.status === 'running') {
        if (rotation.cancelled || this.#closed) rotation.status = 'cancelled';
        else {
          rotation.status = 'succeeded';
          if (immediately) {
            const now = Date.now();
            secret.lastRotated = now;
            const days = secret.rotationRules?.AutomaticallyAfterDays;
            if (days !== undefined) secret.nextRotation = now + days * DAY_MS;
          } else {
            // RotateImmediately=false only tests the configuration: the pending version goes away.
            const version = secret.versions.get(rotation.versionId);
            if (version && !version.stages.includes(CURRENT)) secret.versions.delete(version.id);
          }
        }
      }
    } finally {
      rotation.finishedAt = Date.now();
      rotation.done.resolve();
    }
  }

  async #pausePoint(secret: Secret, step: RotationStep, event: RotationEvent): Promise<void> {
    for (const pause of this.#pauses) {
      if (pause.isReached || pause.isReleased) continue;
      if ((pause.options.after ?? 'setSecret') !== step) continue;
      if (pause.options.secretId !== undefined && this.#find(pause.options.secretId) !== secret) continue;
      pause.isReached = true;
      if (pause.options.ms !== undefined) {
        pause.timer = setTimeout(() => this.#release(pause), pause.options.ms);
        pause.timer.unref();
      }
      pause.reached.resolve({ ...event });
      await pause.released.promise;
      return;
    }
  }

  #release(pause: Pause): void {
    if (pause.isReleased) return;
    pause.isReleased = true;
    if (pause.timer) clearTimeout(pause.timer);
    this.#pauses.delete(pause);
    pause.released.resolve();
  }

  #cancelRotateSecret(input: Input): Record<string, unknown> {
    const secret = this.#require(input);
    if (secret.rotationLambdaArn === undefined) {
      throw invalidRequest(
        "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured " +
          "and you didn't include such an ARN as a parameter in this call.",
      );
    }
    secret.rotationEnabled = false;
    let versionId: string | undefined;
    for (const rotation of this.#rotations) {
      if (rotation.secret === secret && rotation.status === 'running') {
        rotation.cancelled = true;
        versionId = rotation.versionId;
      }
    }
    const output: Record<string, unknown> = { ARN: secret.arn, Name: secret.name };
    if (versionId !== undefined) output.VersionId = versionId;
    return output;
  }

  #deleteSecret(input: Input): Record<string, unknown> {
    const id = reqString(input, 'SecretId', 'secretId');
    const window = optInt(input, 'RecoveryWindowInDays');
    const force = optBool(input, 'ForceDeleteWithoutRecovery') ?? false;
    if (window !== undefined && force) {
      throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    }
    if (window !== undefined && (window < 7 || window > 30)) {
      throw invalidParameter('The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
    }
    const secret = this.#find(id);
    if (secret === undefined) throw notFound();
    if (secret.deleted !== undefined && !force) throw invalidRequest(MSG_MARKED_FOR_DELETION);
    const now = Date.now();
    for (const rotation of this.#rotations) if (rotation.secret === secret && rotation.status === 'running') rotation.cancelled = true;
    if (force) {
      this.#secrets.delete(secret.arn);
      return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(now) };
    }
    secret.deleted = now;
    secret.purgeAt = now + (window ?? 30) * DAY_MS;
    return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(secret.purgeAt) };
  }

  #restoreSecret(input: Input): Record<string, unknown> {
    const secret = this.#require(input, true);
    delete secret.deleted;
    delete secret.purgeAt;
    return { ARN: secret.arn, Name: secret.name };
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Keep reading (and dropping) an oversized body, so that the answer can still be written.
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => (size > MAX_BODY_BYTES ? reject(serialization('Request body is too large')) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/**
 * Starts a Secrets Manager emulator on a loopback port and resolves when it listens.
 * Rejects with an `InvalidOptionError` for unknown or malformed options.
 *
 * @example
 * ```ts
 * const emulator = await startSecretsManagerEmulator({ region: 'eu-west-1' });
 * const client = new SecretsManagerClient(emulator.clientConfig());
 * // ...
 * await emulator.close();
 * ```
 */
export async function startSecretsManagerEmulator(options: SecretsManagerEmulatorOptions = {}): Promise<SecretsManagerEmulator> {
  const bag = expectObject(options, 'options') ?? {};
  rejectUnknownKeys(bag, OPTION_KEYS, '');
  const region = string(bag, 'region', '', DEFAULT_EMULATOR_REGION)!;
  if (!/^[a-z0-9-]+$/.test(region)) throw new InvalidOptionError('region', 'must be a region name such as us-east-1');
  const accountId = string(bag, 'accountId', '', DEFAULT_EMULATOR_ACCOUNT_ID)!;
  if (!/^\d{12}$/.test(accountId)) throw new InvalidOptionError('accountId', 'must be 12 digits');
  const accessKeyId = string(bag, 'accessKeyId', '', DEFAULT_EMULATOR_ACCESS_KEY_ID)!;
  const secretAccessKey = string(bag, 'secretAccessKey', '', DEFAULT_EMULATOR_SECRET_ACCESS_KEY)!;
  const host = string(bag, 'host', '', '127.0.0.1')!;
  const port = integer(bag, 'port', '', 0, 0);
  if (port > 65535) throw new InvalidOptionError('port', 'must be at most 65535');
  const requireSignature = bool(bag, 'requireSignature', '', true);

  const server = createServer({ keepAliveTimeout: 5000 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const address = server.address() as AddressInfo;
  return new SecretsManagerEmulator(server, {
    region,
    accountId,
    accessKeyId,
    secretAccessKey,
    host,
    port: address.port,
    requireSignature,
  });
}
