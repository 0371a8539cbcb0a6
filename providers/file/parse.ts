/**
 * Parsing of credentials files: JSON, a `mysql://` URL, or `KEY=VALUE` lines. Pure functions,
 * no I/O. Errors name the file and the key, never a value and never a piece of the content
 * (which is why no parser error is ever attached as a `cause`: `JSON.parse` and `new URL`
 * quote their input in their messages). Not part of the public API: `credswap/file` exports
 * only {@link FileFormat} from here.
 *
 * @packageDocumentation
 */

import type { Credentials } from '../../lib/credentials.js';
import { InvalidCredentialsError } from '../../lib/errors.js';

/**
 * The formats a credentials file can have; `auto` detects JSON, URL or `KEY=VALUE` by content.
 *
 * @example
 * ```ts
 * const format: FileFormat = 'env'; // DB_USER=... lines, as a Vault Agent template renders them
 * ```
 */
export type FileFormat = 'auto' | 'json' | 'url' | 'env';

/** The accepted values of {@link FileFormat}. @internal */
export const FILE_FORMATS: readonly FileFormat[] = ['auto', 'json', 'url', 'env'];

const URL_SCHEMES = new Set(['mysql:', 'mariadb:']);

/** `KEY=VALUE` keys (upper-cased) and the field each one sets. */
const ENV_KEYS: Readonly<Record<string, keyof Fields>> = {
  DB_USER: 'user',
  DB_USERNAME: 'user',
  USER: 'user',
  USERNAME: 'user',
  DB_PASSWORD: 'password',
  PASSWORD: 'password',
  DB_HOST: 'host',
  HOST: 'host',
  DB_PORT: 'port',
  PORT: 'port',
  DB_NAME: 'database',
  DB_DATABASE: 'database',
  DATABASE: 'database',
};

/** JSON keys and the field each one sets. */
const JSON_KEYS: Readonly<Record<string, keyof Fields>> = {
  user: 'user',
  username: 'user',
  password: 'password',
  host: 'host',
  port: 'port',
  database: 'database',
  dbname: 'database',
};

interface Fields {
  user?: string;
  password?: string;
  host?: string;
  port?: string | number;
  database?: string;
}

/**
 * Parses the text of a credentials file. The result is not sealed yet: the caller passes it to
 * `sealCredentials`, which checks ranges (port) and non-emptiness (user, host).
 *
 * @param source - the file path, for error messages.
 * @throws InvalidCredentialsError naming `source` and, where there is one, the key.
 * @internal
 */
export function parseCredentialsText(text: string, format: FileFormat, source: string): Credentials {
  const content = text.replace(/^\uFEFF/, '').trim();
  if (content.length === 0) {
    throw new InvalidCredentialsError(source, 'the file is empty');
  }
  const effective = format === 'auto' ? detectFormat(content) : format;
  switch (effective) {
    case 'json':
      return parseJson(content, source);
    case 'url':
      return parseUrl(content, source);
    case 'env':
      return parseEnv(content, source);
  }
}

/** `{` → JSON, `scheme://` → URL, anything else → `KEY=VALUE` lines. */
function detectFormat(content: string): Exclude<FileFormat, 'auto'> {
  if (content.startsWith('{')) return 'json';
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(content)) return 'url';
  return 'env';
}

function parseJson(content: string, source: string): Credentials {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch (err) {
    // The SyntaxError's message quotes the content: keep only the position V8 puts at its end
    // (`... in JSON at position 40`, then maybe `(line 1 column 41)`), never a number from the quote.
    const position = / in JSON at position (\d+)(?: \(line \d+ column \d+\))?$/.exec(err instanceof Error ? err.message : '')?.[1];
    const at = Number(position);
    const where = position === undefined || at > content.length ? '' : ` (${lineAndColumn(content, at)})`;
    throw new InvalidCredentialsError(source, `the file is not valid JSON${where}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidCredentialsError(source, 'the JSON is not an object');
  }
  const fields: Fields = {};
  const from: Partial<Record<keyof Fields, string>> = {};
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    const field = JSON_KEYS[key];
    if (field === undefined || raw === null || raw === undefined) continue; // other keys (engine, ...) are ignored
    if (field === 'port') {
      if (typeof raw !== 'number' && typeof raw !== 'string') {
        throw new InvalidCredentialsError(source, `'${key}' must be a number or a numeric string`, { key });
      }
    } else if (typeof raw !== 'string') {
      throw new InvalidCredentialsError(source, `'${key}' must be a string`, { key });
    }
    set(fields, from, field, key, raw, source);
  }
  return toCredentials(fields, from, source, "'user' or 'username'", "'password'");
}

function parseUrl(content: string, source: string): Credentials {
  if (/\s/.test(content)) {
    throw new InvalidCredentialsError(source, 'a URL file must hold a single URL without spaces');
  }
  let url: URL;
  try {
    url = new URL(content);
  } catch {
    // The TypeError carries the whole URL in `input`: never attach it.
    throw new InvalidCredentialsError(source, 'the file is not a valid mysql:// URL');
  }
  if (!URL_SCHEMES.has(url.protocol)) {
    // Not quoted: a file that holds only a password, such as `Tr0ub4dor+x://…`, looks like a URL.
    throw new InvalidCredentialsError(
      source,
      'the URL scheme is not mysql: or mariadb: (a file that starts like scheme:// is read as a URL)',
      {
        key: 'scheme',
      },
    );
  }
  const fields: Fields = {};
  const from: Partial<Record<keyof Fields, string>> = {};
  if (url.username) set(fields, from, 'user', 'username', decode(url.username, 'username', source), source);
  // `mysql://app:@host` (an empty password) normalises to `mysql://app@host`: look at the text.
  if (url.password || /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@:]*:@/.test(content)) {
    set(fields, from, 'password', 'password', decode(url.password, 'password', source), source);
  }
  if (url.hostname) set(fields, from, 'host', 'host', url.hostname.replace(/^\[(.*)\]$/, '$1'), source);
  if (url.port) set(fields, from, 'port', 'port', url.port, source);
  const database = url.pathname.replace(/^\//, '');
  if (database.includes('/')) {
    throw new InvalidCredentialsError(source, 'the URL path must be a single database name', { key: 'database' });
  }
  if (database) set(fields, from, 'database', 'database', decode(database, 'database', source), source);
  return toCredentials(fields, from, source, 'a user name in the URL', 'a password in the URL');
}

function parseEnv(content: string, source: string): Credentials {
  const fields: Fields = {};
  const from: Partial<Record<keyof Fields, string>> = {};
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line.length === 0 || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=(.*)$/.exec(line);
    if (!match) {
      throw new InvalidCredentialsError(source, `line ${i + 1} is not KEY=VALUE`);
    }
    const key = match[1];
    const field = ENV_KEYS[key.toUpperCase()];
    if (field === undefined) continue; // other keys are ignored
    const value = unquote(match[2].trim(), key, i + 1, source);
    // An empty optional value means "not set", as in shell environment files.
    if (value === '' && (field === 'host' || field === 'port' || field === 'database')) continue;
    set(fields, from, field, key, value, source);
  }
  return toCredentials(fields, from, source, 'DB_USER (or USER, USERNAME)', 'DB_PASSWORD (or PASSWORD)');
}

function unquote(value: string, key: string, line: number, source: string): string {
  const quote = value[0];
  if (quote !== '"' && quote !== "'") return value;
  if (value.length < 2 || value[value.length - 1] !== quote) {
    throw new InvalidCredentialsError(source, `line ${line}: the value of ${key} has an unterminated quote`, { key });
  }
  const inner = value.slice(1, -1);
  // Double quotes allow \" and \\ escapes; single quotes are literal.
  return quote === '"' ? inner.replace(/\\(["\\])/g, '$1') : inner;
}

function decode(value: string, key: string, source: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new InvalidCredentialsError(source, `the URL's ${key} is not valid percent-encoding`, { key });
  }
}

/** Records one field; two keys that set the same field to different values are an error. */
function set(
  fields: Fields,
  from: Partial<Record<keyof Fields, string>>,
  field: keyof Fields,
  key: string,
  value: string | number,
  source: string,
): void {
  const previous = fields[field];
  if (previous !== undefined && previous !== value) {
    throw new InvalidCredentialsError(source, `'${from[field]}' and '${key}' both set the ${field} with different values`, {
      key,
    });
  }
  (fields as Record<string, unknown>)[field] = value;
  from[field] = key;
}

function toCredentials(
  fields: Fields,
  from: Partial<Record<keyof Fields, string>>,
  source: string,
  userKeys: string,
  passwordKeys: string,
): Credentials {
  if (fields.user === undefined) {
    throw new InvalidCredentialsError(source, `no user: expected ${userKeys}`, { key: 'user' });
  }
  if (fields.password === undefined) {
    throw new InvalidCredentialsError(source, `no password: expected ${passwordKeys}`, { key: 'password' });
  }
  const creds: Credentials = { user: fields.user, password: fields.password };
  if (fields.host !== undefined) creds.host = fields.host;
  if (fields.port !== undefined) creds.port = toPort(fields.port, from.port ?? 'port', source);
  if (fields.database !== undefined) creds.database = fields.database;
  return creds;
}

function toPort(value: string | number, key: string, source: string): number {
  const port = typeof value === 'number' ? value : /^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new InvalidCredentialsError(source, `'${key}' must be a port number from 1 to 65535`, { key });
  }
  return port;
}

function lineAndColumn(content: string, position: number): string {
  const before = content.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}
