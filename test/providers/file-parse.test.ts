/**
 * providers/file/parse.ts: the three formats of a credentials file, how `auto` tells them
 * apart, and errors that name the file and the key but never a value.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import fc from 'fast-check';
import type { Credentials } from '../../lib/credentials.js';
import { InvalidCredentialsError } from '../../lib/errors.js';
import { FILE_FORMATS, parseCredentialsText, type FileFormat } from '../../providers/file/parse.js';

const SOURCE = '/run/secrets/db/credentials';
const PASSWORD = 'Zq9!xK#7vPmW';

function parse(text: string, format: FileFormat = 'auto'): Credentials {
  return parseCredentialsText(text, format, SOURCE);
}

/** Every 4-character piece of `secret`: none may appear in `text`. */
function assertNoPartOf(secret: string, text: string): void {
  for (let i = 0; i + 4 <= secret.length; i++) {
    const piece = secret.slice(i, i + 4);
    assert.ok(!text.includes(piece), `found '${piece}' of the password in: ${text}`);
  }
}

/** Parses `text`, expecting an InvalidCredentialsError that names the file (and `key`, if given). */
function invalid(text: string, format: FileFormat = 'auto', key?: string): InvalidCredentialsError {
  try {
    parse(text, format);
  } catch (error) {
    assert.ok(error instanceof InvalidCredentialsError, `expected InvalidCredentialsError, got ${inspect(error)}`);
    assert.equal(error.source, SOURCE);
    assert.ok(error.message.includes(SOURCE), error.message);
    if (key !== undefined) assert.equal(error.key, key, error.message);
    assert.equal(error.cause, undefined, 'no parser error attached: they quote their input');
    return error;
  }
  assert.fail(`expected an error for ${JSON.stringify(text)}`);
}

describe('parseCredentialsText (credentials file formats)', () => {
  describe('JSON', () => {
    it('reads username, password, host, port and dbname, as AWS Secrets Manager stores them', () => {
      const creds = parse(JSON.stringify({ engine: 'mysql', username: 'app', password: PASSWORD, host: 'db', port: 3306, dbname: 'shop' }));
      assert.deepEqual(creds, { user: 'app', password: PASSWORD, host: 'db', port: 3306, database: 'shop' });
    });

    it('reads user and database, and a port given as a numeric string', () => {
      assert.deepEqual(parse('{"user":"app","password":"pw","database":"shop","port":" 3307 "}'), {
        user: 'app',
        password: 'pw',
        database: 'shop',
        port: 3307,
      });
    });

    it('ignores other keys and null values, and accepts two keys that agree', () => {
      assert.deepEqual(parse('{"user":"app","username":"app","password":"pw","host":null,"engine":"mysql"}'), {
        user: 'app',
        password: 'pw',
      });
    });

    it('ignores a byte order mark and surrounding whitespace', () => {
      assert.deepEqual(parse('\uFEFF\n  {"user":"app","password":"pw"}\n\n'), { user: 'app', password: 'pw' });
    });

    it('rejects malformed JSON with the line and column, quoting none of it', () => {
      const error = invalid(`{"username":"app",\n"password":"${PASSWORD}",}`);
      assert.match(error.message, /is not valid JSON \(line 2, column \d+\)$/);
      assertNoPartOf(PASSWORD, inspect(error));
    });

    it('rejects JSON that is not an object', () => {
      for (const text of ['[1, 2]', '"app"', 'null', '42']) assert.match(invalid(text, 'json').message, /not an object/);
    });

    it('rejects a field of the wrong type, naming its key', () => {
      invalid('{"user":7,"password":"pw"}', 'auto', 'user');
      invalid(`{"user":"app","password":["${PASSWORD}"]}`, 'auto', 'password');
      invalid('{"user":"app","password":"pw","port":true}', 'auto', 'port');
    });

    it('rejects two keys that set the same field differently, naming both and neither value', () => {
      const error = invalid(`{"user":"app","username":"${PASSWORD}","password":"pw"}`, 'auto', 'username');
      assert.match(error.message, /'user' and 'username' both set the user/);
      assertNoPartOf(PASSWORD, error.message);
    });
  });

  describe('mysql:// URL', () => {
    it('reads user, password, host, port and database, percent-decoding user and password', () => {
      const url = `mysql://${encodeURIComponent('app@eu')}:${encodeURIComponent(PASSWORD)}@db.internal:3307/shop`;
      assert.deepEqual(parse(url), { user: 'app@eu', password: PASSWORD, host: 'db.internal', port: 3307, database: 'shop' });
    });

    it('reads mariadb:// too, and an IPv6 host without its brackets', () => {
      assert.deepEqual(parse('mariadb://app:pw@[::1]/shop'), { user: 'app', password: 'pw', host: '::1', database: 'shop' });
    });

    it('reads an empty password written as user:@host, and leaves out what the URL does not say', () => {
      assert.deepEqual(parse('mysql://app:@db'), { user: 'app', password: '', host: 'db' });
    });

    it('rejects a URL without a user or without a password, naming the missing field', () => {
      invalid('mysql://:pw@db', 'auto', 'user');
      invalid('mysql://app@db', 'auto', 'password');
    });

    it('rejects another scheme without quoting it: a password may look like one', () => {
      const error = invalid(`http://app:${encodeURIComponent(PASSWORD)}@db/shop`, 'auto', 'scheme');
      assert.match(error.message, /the URL scheme is not mysql: or mariadb:/);
      assert.doesNotMatch(error.message, /http/);
      assertNoPartOf(PASSWORD, error.message);
    });

    it('rejects a path that is more than a database name', () => {
      invalid('mysql://app:pw@db/shop/orders', 'auto', 'database');
    });

    it('rejects malformed percent-encoding, naming the part', () => {
      assertNoPartOf(PASSWORD, inspect(invalid(`mysql://app:${encodeURIComponent(PASSWORD)}%zz@db`, 'auto', 'password')));
      invalid('mysql://a%zz:pw@db', 'auto', 'username');
    });

    it('rejects spaces and URLs that do not parse without quoting them', () => {
      assertNoPartOf(PASSWORD, invalid(`mysql://app:${PASSWORD} @db`).message);
      assertNoPartOf(PASSWORD, inspect(invalid(`mysql://app:${encodeURIComponent(PASSWORD)}@db:99999/shop`)));
    });
  });

  describe('KEY=VALUE lines', () => {
    it('reads DB_* keys with comments, blank lines, export, quotes and CRLF line ends', () => {
      const text = [
        '# rendered by Vault Agent',
        '',
        'export DB_USER=app',
        `DB_PASSWORD="${PASSWORD}"`,
        "DB_HOST='db'",
        '  DB_PORT = 3307  ',
        'DB_NAME=shop',
        'OTHER=x',
      ].join('\r\n');
      assert.deepEqual(parse(text), { user: 'app', password: PASSWORD, host: 'db', port: 3307, database: 'shop' });
    });

    it('reads the short spellings and lower-case keys', () => {
      assert.deepEqual(parse('username=app\npassword=pw\nhost=db\nport=3306\ndatabase=shop'), {
        user: 'app',
        password: 'pw',
        host: 'db',
        port: 3306,
        database: 'shop',
      });
      assert.deepEqual(parse('DB_USERNAME=app\nDB_PASSWORD=pw\nDB_DATABASE=shop'), { user: 'app', password: 'pw', database: 'shop' });
    });

    it('unescapes \\" and \\\\ in double quotes and keeps single quotes literal', () => {
      assert.equal(parse('DB_USER=app\nDB_PASSWORD="a\\"b\\\\c"').password, 'a"b\\c');
      assert.equal(parse("DB_USER=app\nDB_PASSWORD='a\\\"b'").password, 'a\\"b');
    });

    it('takes an empty host, port or database as not set, and an empty password as empty', () => {
      assert.deepEqual(parse('DB_USER=app\nDB_PASSWORD=\nDB_HOST=\nDB_PORT=\nDB_NAME='), { user: 'app', password: '' });
    });

    it('rejects a line that is not KEY=VALUE by its number, quoting none of it', () => {
      const error = invalid(`DB_USER=app\n${PASSWORD}\n`);
      assert.match(error.message, /line 2 is not KEY=VALUE$/);
      assertNoPartOf(PASSWORD, error.message);
    });

    it('rejects an unterminated quote, naming the key as written', () => {
      assertNoPartOf(PASSWORD, invalid(`DB_USER=app\ndb_password="${PASSWORD}`, 'auto', 'db_password').message);
    });

    it('rejects a bad port, naming the key as written', () => {
      for (const port of ['0', '65536', '33o6', PASSWORD]) {
        assertNoPartOf(PASSWORD, invalid(`DB_USER=app\nDB_PASSWORD=pw\nDB_PORT=${port}`, 'auto', 'DB_PORT').message);
      }
    });

    it('rejects two keys that set the password differently, naming both and neither value', () => {
      const error = invalid(`DB_USER=app\nDB_PASSWORD=${PASSWORD}\nPASSWORD=other-${PASSWORD}`, 'auto', 'PASSWORD');
      assert.match(error.message, /'DB_PASSWORD' and 'PASSWORD' both set the password/);
      assertNoPartOf(PASSWORD, error.message);
    });

    it('rejects a file without a user or password, naming the keys it looked for', () => {
      assert.match(invalid('DB_PASSWORD=pw', 'auto', 'user').message, /DB_USER/);
      assert.match(invalid('DB_USER=app\nDB_HOST=db', 'auto', 'password').message, /DB_PASSWORD/);
    });
  });

  describe('format detection', () => {
    it("knows the formats 'auto', 'json', 'url' and 'env'", () => {
      assert.deepEqual([...FILE_FORMATS], ['auto', 'json', 'url', 'env']);
    });

    it('auto: { is JSON, scheme:// is a URL, anything else is KEY=VALUE lines', () => {
      assert.equal(parse('{"user":"json","password":"pw"}').user, 'json');
      assert.equal(parse('mysql://url:pw@db').user, 'url');
      assert.equal(parse('DB_USER=env\nDB_PASSWORD=pw').user, 'env');
      // A URL with a scheme credswap does not read is still taken for a URL, and refused as one.
      invalid('postgres://app:pw@db', 'auto', 'scheme');
    });

    it('reads the format it is told, even where auto would guess another', () => {
      const json = '{"user":"app","password":"pw"}';
      assert.match(invalid(json, 'env').message, /line 1 is not KEY=VALUE/);
      assert.match(invalid(json, 'url').message, /not a valid mysql:\/\/ URL/);
      assert.match(invalid('DB_USER=app', 'json').message, /not valid JSON/);
      assert.match(invalid('mysql://app:pw@db', 'env').message, /line 1 is not KEY=VALUE/);
      assert.equal(parse('mysql://app:pw@db', 'url').user, 'app');
    });

    it('rejects an empty file, whatever the format', () => {
      for (const format of FILE_FORMATS) {
        for (const text of ['', '  \n\t\n', '\uFEFF']) assert.match(invalid(text, format).message, /the file is empty$/);
      }
    });
  });

  describe('keeping the password out of errors', () => {
    it('names no part of a file that holds only a password which starts like a URL', () => {
      const secret = 'Tr0ub4dor+x://correct-horse-battery';
      const error = invalid(secret, 'auto', 'scheme');
      for (const shown of [error.message, inspect(error), JSON.stringify(error)]) assertNoPartOf(secret, shown);
    });

    it('property: no error for a file whose whole content is a secret shows any 4 characters of it, in any format', () => {
      // Every 4 characters of a secret hold a letter from MARKERS, which no message, class name,
      // code, path or stack frame has next to the other characters used: a hit is a leak.
      const MARKERS = 'QXZJqxzj'.split('');
      const OTHERS = ['{', '}', '[', ']', '"', "'", '\\', ':', ',', '=', '/', '+', '.', '-', '_', '@', '%', '#', '?', '&', '\n', '\t'];
      const token = fc
        .tuple(fc.constantFrom(...MARKERS), fc.array(fc.constantFrom(...MARKERS, ...OTHERS), { maxLength: 3 }))
        .map(([marker, rest]) => marker + rest.join(''));
      const body = fc.array(token, { minLength: 2, maxLength: 12 }).map((tokens) => tokens.join(''));
      const scheme = fc.array(fc.constantFrom(...MARKERS, '+', '.', '-'), { minLength: 0, maxLength: 2 }).map((rest) => rest.join(''));
      const secret = fc.oneof(
        body, // KEY=VALUE lines, or a line that is not
        body.map((b) => `{${b}`), // JSON that does not parse, or is not credentials
        fc.tuple(fc.constantFrom(...MARKERS), scheme, body).map(([first, rest, b]) => `${first}${rest}://${b}`), // a URL, by its look
        fc.tuple(fc.constantFrom(...MARKERS), body).map(([first, b]) => `${first}=${b}`),
      );
      fc.assert(
        fc.property(secret, fc.constantFrom(...FILE_FORMATS), (content, format) => {
          let error: unknown;
          try {
            parse(content, format);
            return; // the secret happens to be valid credentials
          } catch (thrown) {
            error = thrown;
          }
          assert.ok(error instanceof InvalidCredentialsError, inspect(error));
          for (const shown of [
            error.message,
            inspect(error),
            inspect(error, { showHidden: true }),
            JSON.stringify(error),
            String(error.stack),
          ]) {
            assertNoPartOf(content, shown);
          }
        }),
        { numRuns: 3000 },
      );
    });

    it('property: no error for a broken file holding a password contains that password', () => {
      // No quote, backslash, '=', '#' or whitespace: each template stays broken the way it says.
      const password = fc.string({
        minLength: 12,
        maxLength: 40,
        unit: fc.constantFrom(...'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!$%&()*+,-.:;<>?@[]^_{|}~'.split('')),
      });
      const broken: Array<[FileFormat, (p: string) => string]> = [
        ['auto', (p) => `{"username":"app","password":${JSON.stringify(p)}`],
        ['auto', (p) => `{"username":"app","password":${JSON.stringify(p)},}`],
        ['auto', (p) => `{"username":"app","password":${JSON.stringify(p)},"port":${JSON.stringify(p)}}`],
        ['auto', (p) => `{"username":"app","password":[${JSON.stringify(p)}]}`],
        ['auto', (p) => `{"user":${JSON.stringify(p)},"username":"app","password":"pw"}`],
        ['auto', (p) => `mysql://app:${encodeURIComponent(p)}%zz@db/shop`],
        ['auto', (p) => `mysql://app:${encodeURIComponent(p)}@db/shop/orders`],
        ['auto', (p) => `mysql://app:${encodeURIComponent(p)}@db:99999/shop`],
        ['auto', (p) => `mysql://app:${encodeURIComponent(p)} @db/shop`],
        ['auto', (p) => `http://app:${encodeURIComponent(p)}@db/shop`],
        ['auto', (p) => `mysql://:${encodeURIComponent(p)}@db/shop`],
        ['auto', (p) => `DB_USER=app\nDB_PASSWORD="${p}`],
        ['auto', (p) => `DB_USER=app\n${p}\n`],
        ['auto', (p) => `DB_USER=app\nDB_PASSWORD=${p}\nPASSWORD=x${p}`],
        ['auto', (p) => `DB_USER=app\nDB_PASSWORD=${p}\nDB_PORT=${p}`],
        ['auto', (p) => `DB_PASSWORD=${p}`],
        ['env', (p) => `{"username":"app","password":${JSON.stringify(p)}}`],
        ['json', (p) => `DB_USER=app\nDB_PASSWORD=${p}`],
        ['url', (p) => `DB_USER=app\nDB_PASSWORD=${p}`],
      ];
      fc.assert(
        fc.property(password, fc.constantFrom(...broken), (p, [format, template]) => {
          const error = invalid(template(p), format);
          for (const shown of [error.message, inspect(error), JSON.stringify(error), String(error.stack)]) {
            assert.ok(!shown.includes(p) && !shown.includes(encodeURIComponent(p)), `the password appears in: ${shown}`);
          }
        }),
        { numRuns: 2000 },
      );
    });
  });
});
