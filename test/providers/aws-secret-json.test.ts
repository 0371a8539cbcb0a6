import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { InvalidCredentialsError } from '../../lib/errors.js';
import { parseSecretString } from '../../providers/aws/secret-json.js';

const SECRET_ID = 'prod/orders/mysql';

/** Values no message may contain: long enough that they cannot occur in fixed text by chance. */
const secretValue = fc.string({
  minLength: 12,
  maxLength: 40,
  unit: fc.constantFrom(...'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%^*()-_=+[]{}:;,.?~'.split('')),
});

function parse(text: string | undefined, binary = false) {
  return parseSecretString(SECRET_ID, text, { binary });
}

function assertInvalid(fn: () => unknown, key?: string): InvalidCredentialsError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidCredentialsError, `expected InvalidCredentialsError, got ${inspect(error)}`);
    assert.ok(error.message.includes(`secret '${SECRET_ID}'`), error.message);
    if (key !== undefined) assert.equal(error.key, key);
    assert.equal(error.cause, undefined, 'no parser error attached: they quote their input');
    return error;
  }
  assert.fail('expected an error');
}

describe('parseSecretString (AWS database secret JSON)', () => {
  it('reads the JSON that RDS and the AWS rotation functions store, with the port as a number', () => {
    const { credentials, raw } = parse(
      JSON.stringify({
        engine: 'mysql',
        host: 'db.example',
        username: 'app',
        password: 'pw-1',
        dbname: 'orders',
        port: 3306,
        masterarn: 'arn:x',
      }),
    );
    assert.deepEqual(credentials, { user: 'app', password: 'pw-1', host: 'db.example', port: 3306, database: 'orders' });
    assert.deepEqual(raw, { engine: 'mysql', host: 'db.example', username: 'app', dbname: 'orders', port: 3306, masterarn: 'arn:x' });
  });

  it('accepts the port as a numeric string', () => {
    assert.equal(parse(JSON.stringify({ username: 'app', password: 'x', port: '3307' })).credentials.port, 3307);
  });

  it('reads an RDS-managed rds! secret with only username and password', () => {
    assert.deepEqual(parse(JSON.stringify({ username: 'admin', password: 'x' })).credentials, { user: 'admin', password: 'x' });
  });

  it('accepts aurora-mysql and mariadb engines and refuses a PostgreSQL secret', () => {
    for (const engine of ['aurora-mysql', 'mariadb', 'MySQL']) parse(JSON.stringify({ engine, username: 'a', password: 'b' }));
    const error = assertInvalid(() => parse(JSON.stringify({ engine: 'postgres', username: 'a', password: 'b' })), 'engine');
    assert.match(error.message, /not a MySQL-compatible engine/);
  });

  it('treats an empty host or dbname as absent', () => {
    assert.deepEqual(parse(JSON.stringify({ username: 'a', password: 'b', host: '', dbname: '' })).credentials, {
      user: 'a',
      password: 'b',
    });
  });

  it('refuses SecretBinary with a message that says what to store instead', () => {
    assert.match(assertInvalid(() => parse(undefined, true)).message, /SecretBinary/);
  });

  it('names the missing key: password', () => {
    assertInvalid(() => parse(JSON.stringify({ username: 'a' })), 'password');
  });

  it('names a key of the wrong type without showing its value', () => {
    const error = assertInvalid(() => parse(JSON.stringify({ username: 'a', password: 123456789 })), 'password');
    assert.ok(!error.message.includes('123456789'));
  });

  it('refuses a port out of range', () => {
    assertInvalid(() => parse(JSON.stringify({ username: 'a', password: 'b', port: 70000 })), 'port');
    assertInvalid(() => parse(JSON.stringify({ username: 'a', password: 'b', port: '33o6' })), 'port');
  });

  it('never puts the password in a message, whatever is wrong with the JSON (property)', () => {
    const wrongValue = (password: string) =>
      fc.oneof(
        fc.constant(password),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.constant([password]),
        fc.constant({ value: password }),
        fc.constant(`${password}x`),
      );
    const secretJson = secretValue.chain((password) =>
      fc
        .record(
          {
            engine: fc.oneof(fc.constantFrom('mysql', 'aurora-mysql', 'postgres', ''), wrongValue(password)),
            username: fc.oneof(fc.constantFrom('app', ''), wrongValue(password)),
            password: wrongValue(password),
            host: fc.oneof(fc.constant('db.example'), wrongValue(password)),
            port: fc.oneof(fc.integer({ min: -5, max: 70_000 }), fc.constantFrom('3306', 'x'), wrongValue(password)),
            dbname: fc.oneof(fc.constant('orders'), wrongValue(password)),
          },
          { requiredKeys: [] },
        )
        .map((obj) => ({ password, text: JSON.stringify(obj) })),
    );
    // Not JSON at all: the password embedded in broken text.
    const brokenText = secretValue.chain((password) =>
      fc
        .constantFrom(
          `{"username":"a","password":"${password}"`,
          `password=${password}`,
          `{"password": ${password}}`,
          `["${password}"]`,
          `"${password}"`,
        )
        .map((text) => ({ password, text })),
    );
    fc.assert(
      fc.property(fc.oneof(secretJson, brokenText), ({ password, text }) => {
        try {
          const { credentials, raw } = parse(text);
          assert.ok(!JSON.stringify(raw).includes(`"password"`), 'raw never holds the password key');
          assert.equal(typeof credentials.password, 'string');
        } catch (error) {
          assert.ok(error instanceof InvalidCredentialsError, inspect(error));
          for (const shown of [error.message, inspect(error), JSON.stringify(error), String(error.stack)]) {
            assert.ok(!shown.includes(password), `the password appears in: ${shown}`);
          }
        }
      }),
      { numRuns: 5000 },
    );
  });
});
