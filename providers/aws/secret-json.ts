/**
 * The shape of a database secret in AWS Secrets Manager: the JSON that RDS, Aurora and the AWS
 * rotation functions store (`{engine, host, username, password, dbname, port, ...}`), or the
 * `{username, password}` of an RDS-managed master secret (`rds!db-...`, `rds!cluster-...`).
 * Pure functions, no I/O. Errors name the secret and the key, never a value: no parser error is
 * attached as a cause, because `JSON.parse` quotes its input in its messages.
 *
 * @packageDocumentation
 */

import type { Credentials } from '../../lib/credentials.js';
import { InvalidCredentialsError } from '../../lib/errors.js';

/** The staging label of the version in use. */
export const AWSCURRENT = 'AWSCURRENT';
/** The staging label rotation puts on the new version before `finishSecret` makes it current. */
export const AWSPENDING = 'AWSPENDING';

/** `engine` values of MySQL-compatible secrets. A secret without `engine` is accepted too. */
const MYSQL_ENGINES = new Set(['mysql', 'aurora-mysql', 'aurora', 'mariadb']);
/** Other engines AWS secrets name; a message may show these (and no other value). */
const OTHER_ENGINES = new Set(['postgres', 'aurora-postgresql', 'oracle', 'sqlserver', 'db2', 'redshift', 'mongo', 'docdb', 'elasticache']);

/** A parsed database secret. */
export interface ParsedSecret {
  /** The credentials, not sealed yet (the caller seals them with its source name). */
  readonly credentials: Credentials;
  /**
   * Every key of the secret's JSON except `password`, as stored: `engine`, `host`, `masterarn`,
   * `dbInstanceIdentifier`, ... Rotation writes these back unchanged next to a new password.
   */
  readonly raw: Readonly<Record<string, unknown>>;
}

/**
 * How a secret is named in messages: `secret 'prod/db'`.
 * @internal
 */
export function secretSource(secretId: string): string {
  return `secret '${secretId}'`;
}

/**
 * Parses a database secret's `SecretString`.
 *
 * @param secretId - the secret's id, for messages.
 * @param secretString - the `SecretString`; `undefined` when the version has none.
 * @param options.binary - the version holds `SecretBinary` instead, which credswap does not read.
 * @throws InvalidCredentialsError naming the secret and, where there is one, the key.
 */
export function parseSecretString(secretId: string, secretString: string | undefined, options: { binary?: boolean } = {}): ParsedSecret {
  const source = secretSource(secretId);
  if (secretString === undefined) {
    throw new InvalidCredentialsError(
      source,
      options.binary
        ? 'the secret holds SecretBinary; database secrets must be SecretString JSON with username and password'
        : 'the secret version has no SecretString',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    throw new InvalidCredentialsError(source, 'the SecretString is not valid JSON (expected {"username": ..., "password": ...})');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidCredentialsError(source, 'the SecretString JSON is not an object');
  }
  const json = value as Record<string, unknown>;
  const engine = optionalString(json, 'engine', source);
  if (engine !== undefined && !MYSQL_ENGINES.has(engine.toLowerCase())) {
    const shown = OTHER_ENGINES.has(engine.toLowerCase()) ? ` ('${engine}')` : '';
    throw new InvalidCredentialsError(source, `'engine'${shown} is not a MySQL-compatible engine (mysql, aurora-mysql, mariadb)`, {
      key: 'engine',
    });
  }
  const user = requiredString(json, 'username', source);
  const password = requiredString(json, 'password', source);
  const credentials: Credentials = { user, password };
  const host = optionalString(json, 'host', source);
  if (host !== undefined && host !== '') credentials.host = host;
  const port = optionalPort(json, source);
  if (port !== undefined) credentials.port = port;
  const database = optionalString(json, 'dbname', source);
  if (database !== undefined && database !== '') credentials.database = database;
  const raw: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(json)) if (key !== 'password') raw[key] = v;
  return { credentials, raw: Object.freeze(raw) };
}

function requiredString(json: Record<string, unknown>, key: string, source: string): string {
  const v = json[key];
  if (v === undefined || v === null) {
    throw new InvalidCredentialsError(source, `'${key}' is missing`, { key });
  }
  if (typeof v !== 'string') {
    throw new InvalidCredentialsError(source, `'${key}' must be a string, not ${kind(v)}`, { key });
  }
  if (v === '' && key === 'username') {
    throw new InvalidCredentialsError(source, `'${key}' is empty`, { key });
  }
  return v;
}

function optionalString(json: Record<string, unknown>, key: string, source: string): string | undefined {
  const v = json[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    throw new InvalidCredentialsError(source, `'${key}' must be a string, not ${kind(v)}`, { key });
  }
  return v;
}

function optionalPort(json: Record<string, unknown>, source: string): number | undefined {
  const v = json.port;
  if (v === undefined || v === null || v === '') return undefined;
  const port = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d{1,5}\s*$/.test(v) ? Number(v) : NaN;
  if (!(Number.isInteger(port) && port > 0 && port < 65536)) {
    const problem =
      typeof v === 'number' || typeof v === 'string'
        ? `'port' must be a port number from 1 to 65535 (a number or a numeric string)`
        : `'port' must be a number or a numeric string, not ${kind(v)}`;
    throw new InvalidCredentialsError(source, problem, { key: 'port' });
  }
  return port;
}

/** The kind of a JSON value for a message; never the value. */
function kind(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    default:
      return 'an object';
  }
}
