/**
 * The SQL a MySQL/MariaDB rotation runs besides changing a password: connections
 * (mysql2/promise, loaded on first use), the hosts of a user name, the TLS requirement of an
 * account, and `SHOW GRANTS` lines rewritten for another account.
 *
 * @packageDocumentation
 */

// ---------------------------------------------------------------------------------------------
// Database access (mysql2/promise, loaded on first use)

/** The part of a mysql2/promise connection the handler uses. */
export interface Connection {
  query<T>(sql: string, values?: unknown[]): Promise<[T, unknown]>;
  format(sql: string, values: unknown[]): string;
  end(): Promise<void>;
  destroy(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

interface Mysql2Promise {
  createConnection(config: Record<string, unknown>): Promise<Connection>;
}

let mysqlModule: Promise<Mysql2Promise> | undefined;

export function loadMysql(): Promise<Mysql2Promise> {
  mysqlModule ??= import('mysql2/promise').then(
    (mod) => ((mod as { createConnection?: unknown }).createConnection !== undefined ? mod : (mod as { default: unknown }).default) as unknown as Mysql2Promise,
    (error: unknown) => {
      mysqlModule = undefined;
      throw error;
    },
  );
  return mysqlModule;
}

/** How long a polite close may take before the socket is destroyed. */
const CLOSE_TIMEOUT_MS = 2_000;

/** Closes politely (COM_QUIT); destroys the socket when that fails or takes too long. */
export async function close(connection: Connection): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = connection.end().then(
    () => true,
    () => false,
  );
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS);
    timer.unref();
  });
  const polite = await Promise.race([ended, timedOut]);
  clearTimeout(timer);
  if (!polite) connection.destroy();
}

export async function isMariaDB(connection: Connection): Promise<boolean> {
  const [[row]] = await connection.query<Array<{ version: string }>>('SELECT VERSION() AS version');
  return /mariadb/i.test(String(row?.version ?? ''));
}

/** The hosts of every account with this user name. */
export async function userHosts(connection: Connection, user: string): Promise<string[]> {
  const [rows] = await connection.query<Array<{ host: unknown }>>('SELECT Host AS host FROM mysql.user WHERE User = ?', [user]);
  return rows.map((row) => String(row.host));
}

/** Gives `target` the TLS requirement (`REQUIRE ...`) of `user`@`host`. */
export async function copyTlsRequirement(connection: Connection, user: string, host: string, target: string): Promise<void> {
  const [rows] = await connection.query<Array<Record<string, unknown>>>(
    'SELECT ssl_type, ssl_cipher, x509_issuer, x509_subject FROM mysql.user WHERE User = ? AND Host = ?',
    [user, host],
  );
  const row = rows[0];
  if (row === undefined) return;
  const text = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
  const type = text(row.ssl_type).toUpperCase();
  let require: string;
  if (type === '') require = 'NONE';
  else if (type === 'ANY') require = 'SSL';
  else if (type === 'X509') require = 'X509';
  else {
    const parts: string[] = [];
    if (text(row.ssl_cipher) !== '') parts.push(connection.format('CIPHER ?', [text(row.ssl_cipher)]));
    if (text(row.x509_issuer) !== '') parts.push(connection.format('ISSUER ?', [text(row.x509_issuer)]));
    if (text(row.x509_subject) !== '') parts.push(connection.format('SUBJECT ?', [text(row.x509_subject)]));
    require = parts.length > 0 ? parts.join(' AND ') : 'SSL';
  }
  await connection.query(`ALTER USER ${target} REQUIRE ${require}`);
}

// ---------------------------------------------------------------------------------------------
// SHOW GRANTS rewriting

interface Token {
  readonly kind: 'word' | 'quoted' | 'punct';
  /** The unquoted value of a quoted token; the text otherwise. */
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

/** Splits SQL text into words, quoted strings or identifiers, and single punctuation characters. */
function tokenize(sql: string): Token[] | undefined {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (/\s/.test(ch)) {
      i += 1;
    } else if (ch === "'" || ch === '"' || ch === '`') {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) return undefined; // unterminated
        const c = sql[j]!;
        if (c === '\\' && ch !== '`' && j + 1 < sql.length) {
          value += sql[j + 1];
          j += 2;
        } else if (c === ch && sql[j + 1] === ch) {
          value += ch;
          j += 2;
        } else if (c === ch) {
          j += 1;
          break;
        } else {
          value += c;
          j += 1;
        }
      }
      tokens.push({ kind: 'quoted', value, start: i, end: j });
      i = j;
    } else if (/[A-Za-z0-9_$]/.test(ch)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j += 1;
      tokens.push({ kind: 'word', value: sql.slice(i, j), start: i, end: j });
      i = j;
    } else {
      tokens.push({ kind: 'punct', value: ch, start: i, end: i + 1 });
      i += 1;
    }
  }
  return tokens;
}

const isWord = (token: Token | undefined, ...words: string[]): boolean =>
  token !== undefined && token.kind === 'word' && words.includes(token.value.toUpperCase());

/**
 * Rewrites one line of `SHOW GRANTS FOR user@host` so that it applies to `target` (an account
 * already quoted for SQL) instead: the grantee after `TO` (or `FOR` in MariaDB's
 * `SET DEFAULT ROLE`, `FROM` in MySQL's partial revokes) is replaced, and what MariaDB prints
 * after it besides the `WITH ...` options is dropped: `IDENTIFIED BY PASSWORD '<hash>'` (the
 * target gets its own password) and `REQUIRE ...` (copied separately). Returns `undefined` when
 * the line does not name the grantee.
 *
 * @internal exported for tests
 */
export function rewriteGrant(line: string, user: string, host: string, target: string): string | undefined {
  const tokens = tokenize(line);
  if (tokens === undefined) return undefined;
  let at = -1;
  for (let i = 0; i + 3 < tokens.length; i++) {
    const [kw, u, sep, h] = [tokens[i], tokens[i + 1]!, tokens[i + 2]!, tokens[i + 3]!];
    if (
      isWord(kw, 'TO', 'FOR', 'FROM') &&
      u.kind !== 'punct' &&
      u.value === user &&
      sep.kind === 'punct' &&
      sep.value === '@' &&
      h.kind !== 'punct' &&
      h.value.toLowerCase() === host.toLowerCase()
    ) {
      at = i + 1;
    }
  }
  if (at < 0) return undefined;
  const granteeEnd = tokens[at + 2]!.end;
  const rest = tokens.slice(at + 3);
  let tail = line.slice(granteeEnd);
  if (rest.length > 0 && !isWord(rest[0], 'WITH')) {
    // `IDENTIFIED WITH plugin AS '...'` is MySQL's spelling: that WITH is not the options'.
    const from = isWord(rest[0], 'IDENTIFIED') && isWord(rest[1], 'WITH') ? 2 : 1;
    const options = rest.slice(from).find((token) => isWord(token, 'WITH'));
    tail = options === undefined ? '' : ` ${line.slice(options.start)}`;
  }
  return `${line.slice(0, tokens[at]!.start)}${target}${tail}`;
}
