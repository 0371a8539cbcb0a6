/**
 * `SHOW GRANTS` lines rewritten for another account: how alternating-users rotation gives the
 * other user the grants of the current one.
 *
 * @packageDocumentation
 */

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
    const ch = sql[i];
    if (/\s/.test(ch)) {
      i += 1;
    } else if (ch === "'" || ch === '"' || ch === '`') {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) return undefined; // unterminated
        const c = sql[j];
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
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j])) j += 1;
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
    const [kw, u, sep, h] = [tokens[i], tokens[i + 1], tokens[i + 2], tokens[i + 3]];
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
  const granteeEnd = tokens[at + 2].end;
  const rest = tokens.slice(at + 3);
  let tail = line.slice(granteeEnd);
  if (rest.length > 0 && !isWord(rest[0], 'WITH')) {
    // `IDENTIFIED WITH plugin AS '...'` is MySQL's spelling: that WITH is not the options'.
    const from = isWord(rest[0], 'IDENTIFIED') && isWord(rest[1], 'WITH') ? 2 : 1;
    const options = rest.slice(from).find((token) => isWord(token, 'WITH'));
    tail = options === undefined ? '' : ` ${line.slice(options.start)}`;
  }
  return `${line.slice(0, tokens[at].start)}${target}${tail}`;
}
