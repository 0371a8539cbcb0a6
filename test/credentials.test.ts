import assert from 'node:assert/strict';
import { format, inspect } from 'node:util';
import { type Credentials, fingerprint, isSealed, sameCredentials, sameTokenAccount, sealCredentials } from '../lib/credentials.js';
import { InvalidCredentialsError, InvalidOptionError } from '../lib/errors.js';
import {
  type CredentialsProvider,
  type FetchContext,
  type HotSwapFunction,
  fromFunction,
  isProvider,
  toProvider,
} from '../lib/provider.js';

const PASSWORD = 'Zq9!xK#7vPmW';
const SOURCE = "provider 'vault:database/creds/app'";

function full(extra: Partial<Credentials> = {}): Credentials {
  return { user: 'app', password: PASSWORD, host: 'db.internal', port: 3306, database: 'shop', ...extra };
}

/** Fails if `text` contains the password or any 4-character piece of it. */
function assertNoPasswordIn(text: string, password = PASSWORD): void {
  for (let i = 0; i + 4 <= password.length; i++) {
    const piece = password.slice(i, i + 4);
    assert.ok(!text.includes(piece), `'${text}' contains part of the password`);
  }
}

describe('credentials', () => {
  describe('sealCredentials', () => {
    it('keeps every field and makes the password readable by the pool', () => {
      const expiresAt = Date.UTC(2025, 0, 1);
      const sealed = sealCredentials(full({ expiresAt }), SOURCE);
      assert.equal(sealed.user, 'app');
      assert.equal(sealed.password, PASSWORD);
      assert.equal(sealed.host, 'db.internal');
      assert.equal(sealed.port, 3306);
      assert.equal(sealed.database, 'shop');
      assert.equal(sealed.expiresAt, expiresAt);
      assert.ok(isSealed(sealed));
    });

    it("keeps kind 'token', and shows it (never the token) when logged", () => {
      const sealed = sealCredentials(full({ kind: 'token' }), SOURCE);
      assert.equal(sealed.kind, 'token');
      assert.deepEqual(JSON.parse(JSON.stringify(sealed)), {
        user: 'app',
        password: '[redacted]',
        host: 'db.internal',
        port: 3306,
        database: 'shop',
        kind: 'token',
      });
      assert.match(inspect(sealed), /kind: 'token'/);
      assertNoPasswordIn(inspect(sealed));
      assert.equal(sealCredentials(full(), SOURCE).kind, undefined, 'no kind: a password');
    });

    it('accepts an empty password', () => {
      assert.equal(sealCredentials({ user: 'app', password: '' }, SOURCE).password, '');
    });

    it('normalises a Date expiresAt to epoch milliseconds', () => {
      const at = new Date(Date.UTC(2025, 5, 1, 12));
      assert.equal(sealCredentials(full({ expiresAt: at }), SOURCE).expiresAt, at.getTime());
    });

    it('returns already sealed credentials unchanged', () => {
      const sealed = sealCredentials(full(), SOURCE);
      assert.equal(sealCredentials(sealed, 'elsewhere'), sealed);
    });

    it('copies its input, so later changes to the input do not leak in', () => {
      const input = full();
      const sealed = sealCredentials(input, SOURCE);
      input.password = 'changed';
      assert.equal(sealed.password, PASSWORD);
      assert.ok(!isSealed(input));
    });

    it('freezes the result', () => {
      const sealed = sealCredentials(full(), SOURCE);
      assert.ok(Object.isFrozen(sealed));
      assert.throws(() => {
        (sealed as { password: string }).password = 'other';
      }, TypeError);
      assert.throws(() => {
        (sealed as { user: string }).user = 'root';
      }, TypeError);
      assert.equal(sealed.password, PASSWORD);
    });

    describe('validation', () => {
      const invalid: Array<{ what: string; input: unknown; key: string | undefined; value?: string }> = [
        { what: 'a missing user', input: { password: PASSWORD }, key: 'user' },
        { what: 'an empty user', input: { user: '', password: PASSWORD }, key: 'user' },
        { what: 'a user that is not a string', input: { user: 8_675_309, password: PASSWORD }, key: 'user', value: '8675309' },
        { what: 'a missing password', input: { user: 'app' }, key: 'password' },
        { what: 'a password that is not a string', input: { user: 'app', password: 73_519_264 }, key: 'password', value: '73519264' },
        { what: 'a password in a Buffer', input: { user: 'app', password: Buffer.from(PASSWORD) }, key: 'password' },
        { what: 'an empty host', input: { user: 'app', password: PASSWORD, host: '' }, key: 'host' },
        {
          what: 'a host that is not a string',
          input: { user: 'app', password: PASSWORD, host: ['10.9.8.7'] },
          key: 'host',
          value: '10.9.8.7',
        },
        { what: 'a port out of range', input: { user: 'app', password: PASSWORD, port: 70_123 }, key: 'port', value: '70123' },
        { what: 'a port that is a string', input: { user: 'app', password: PASSWORD, port: '4406' }, key: 'port', value: '4406' },
        { what: 'a fractional port', input: { user: 'app', password: PASSWORD, port: 3306.5 }, key: 'port', value: '3306.5' },
        {
          what: 'a database that is not a string',
          input: { user: 'app', password: PASSWORD, database: 918_273 },
          key: 'database',
          value: '918273',
        },
        { what: 'an invalid Date expiresAt', input: { user: 'app', password: PASSWORD, expiresAt: new Date('soon') }, key: 'expiresAt' },
        {
          what: 'an expiresAt string',
          input: { user: 'app', password: PASSWORD, expiresAt: '2031-07-19' },
          key: 'expiresAt',
          value: '2031-07-19',
        },
        { what: 'an infinite expiresAt', input: { user: 'app', password: PASSWORD, expiresAt: Infinity }, key: 'expiresAt' },
        { what: 'an unknown kind', input: { user: 'app', password: PASSWORD, kind: 'iam-token' }, key: 'kind', value: 'iam-token' },
        { what: 'a string instead of an object', input: PASSWORD, key: undefined },
        { what: 'null', input: null, key: undefined },
      ];

      for (const { what, input, key, value } of invalid) {
        it(`rejects ${what} with InvalidCredentialsError naming the ${key ? `key '${key}'` : 'problem'}, not the value`, () => {
          assert.throws(
            () => sealCredentials(input as Credentials, SOURCE),
            (error: unknown) => {
              assert.ok(error instanceof InvalidCredentialsError, String(error));
              assert.equal(error.key, key);
              assert.equal(error.source, SOURCE);
              assert.ok(error.message.includes(SOURCE), error.message);
              if (key) assert.ok(error.message.includes(`'${key}'`), error.message);
              assertNoPasswordIn(error.message);
              assertNoPasswordIn(inspect(error));
              if (value) assert.ok(!error.message.includes(value), `the message echoes the value: ${error.message}`);
              return true;
            },
          );
        });
      }
    });
  });

  describe('redaction', () => {
    const sealed = sealCredentials(full({ expiresAt: Date.UTC(2025, 0, 1) }), SOURCE);

    it('makes the password non-enumerable', () => {
      assert.equal(Object.prototype.propertyIsEnumerable.call(sealed, 'password'), false);
      assert.ok(!Object.keys(sealed).includes('password'));
      assert.deepEqual(Object.keys(sealed), ['user', 'host', 'port', 'database', 'expiresAt']);
    });

    it('redacts the password in JSON.stringify', () => {
      const json = JSON.stringify(sealed);
      assertNoPasswordIn(json);
      assert.deepEqual(JSON.parse(json), {
        user: 'app',
        password: '[redacted]',
        host: 'db.internal',
        port: 3306,
        database: 'shop',
        expiresAt: '2025-01-01T00:00:00.000Z',
      });
      assertNoPasswordIn(JSON.stringify({ config: { credentials: sealed } }));
    });

    it('redacts the password in util.inspect, console-style formatting and nested objects', () => {
      const texts = [
        inspect(sealed),
        inspect(sealed, { showHidden: true, depth: Infinity }),
        inspect({ pool: { config: { credentials: sealed } } }, { depth: Infinity }),
        format('%o', sealed),
        format('%O', sealed),
        format('%j', sealed),
        format('%s', sealed),
        format('creds', sealed),
      ];
      for (const text of texts) assertNoPasswordIn(text);
      assert.match(inspect(sealed), /user: 'app'/);
      assert.match(inspect(sealed), /\[redacted\]/);
    });

    it('shows only the user in String() and template literals', () => {
      assert.equal(String(sealed), 'Credentials(user=app)');
      assert.equal(`${sealed}`, 'Credentials(user=app)');
      assert.equal(`${sealed}`, sealed.toString());
    });

    it('leaves the password out of Object.keys, Object.entries, spread and Object.assign', () => {
      assert.ok(!Object.keys(sealed).includes('password'));
      assert.ok(!Object.entries(sealed).some(([, v]) => v === PASSWORD));
      const spread = { ...sealed } as Record<string, unknown>;
      assert.equal(spread.password, undefined);
      assert.equal(spread.user, 'app');
      assert.equal((Object.assign({}, sealed) as { password?: string }).password, undefined);
      assert.equal((structuredClone(sealed) as { password?: string }).password, undefined);
      for (const key in sealed) assert.notEqual(key, 'password');
    });
  });

  describe('sameCredentials', () => {
    it('is true for the same user, password, host, port and database', () => {
      assert.ok(sameCredentials(full(), full()));
      assert.ok(sameCredentials(sealCredentials(full(), SOURCE), full()));
    });

    it('ignores expiresAt: a renewed lease is not new credentials', () => {
      assert.ok(sameCredentials(full({ expiresAt: 1 }), full({ expiresAt: 2 })));
      assert.ok(sameCredentials(full(), full({ expiresAt: new Date() })));
    });

    it('ignores kind, as fingerprint does: the same password opens the same session', () => {
      assert.ok(sameCredentials(full({ kind: 'token' }), full()));
      assert.equal(fingerprint(full({ kind: 'token' })), fingerprint(full()));
    });

    it('is false for two tokens of the same account: each token is new credentials (a new generation)', () => {
      assert.ok(!sameCredentials(full({ kind: 'token', password: 'token-1' }), full({ kind: 'token', password: 'token-2' })));
    });

    for (const [field, value] of [
      ['user', 'app2'],
      ['password', `${PASSWORD}!`],
      ['host', 'db2.internal'],
      ['port', 3307],
      ['database', 'shop2'],
    ] as const) {
      it(`is false when the ${field} differs`, () => {
        assert.ok(!sameCredentials(full(), full({ [field]: value })));
      });
    }

    it('is false when only one side is given', () => {
      assert.ok(!sameCredentials(full(), undefined));
      assert.ok(!sameCredentials(undefined, full()));
      assert.ok(sameCredentials(undefined, undefined));
    });
  });

  describe('sameTokenAccount', () => {
    const token = (extra: Partial<Credentials> = {}) => full({ kind: 'token', password: 'token-1', ...extra });

    it('is true for two tokens of the same user, host, port and database, whatever the tokens and their expiry', () => {
      assert.ok(sameTokenAccount(token(), token({ password: 'token-2', expiresAt: 5 })));
      assert.ok(sameTokenAccount(sealCredentials(token(), SOURCE), token({ password: 'token-2' })));
    });

    for (const [field, value] of [
      ['user', 'app2'],
      ['host', 'db2.internal'],
      ['port', 3307],
      ['database', 'shop2'],
    ] as const) {
      it(`is false when the ${field} differs: another account is a new user`, () => {
        assert.ok(!sameTokenAccount(token(), token({ [field]: value })));
      });
    }

    it('is false unless both sides are tokens, even for equal passwords', () => {
      assert.ok(!sameTokenAccount(full(), full()));
      assert.ok(!sameTokenAccount(token(), full({ password: 'token-1' })));
      assert.ok(!sameTokenAccount(full({ kind: 'password' }), token()));
      assert.ok(!sameTokenAccount(token(), undefined));
      assert.ok(!sameTokenAccount(undefined, undefined));
    });
  });

  describe('fingerprint', () => {
    it('is 8 hex characters', () => {
      assert.match(fingerprint(full()), /^[0-9a-f]{8}$/);
    });

    it('changes when the password changes', () => {
      assert.notEqual(fingerprint(full()), fingerprint(full({ password: `${PASSWORD}x` })));
    });

    it('changes when the user, host, port or database changes', () => {
      const base = fingerprint(full());
      for (const other of [full({ user: 'app2' }), full({ host: 'h2' }), full({ port: 3307 }), full({ database: 'd2' })]) {
        assert.notEqual(fingerprint(other), base);
      }
    });

    it('stays the same for equal credentials, sealed or not, whatever their expiresAt', () => {
      const fp = fingerprint(full());
      assert.equal(fingerprint(full()), fp);
      assert.equal(fingerprint(sealCredentials(full({ expiresAt: 5 }), SOURCE)), fp);
    });

    it('does not contain the password', () => {
      const hexPassword = 'deadbeefcafe';
      const fp = fingerprint({ user: 'app', password: hexPassword });
      assert.ok(!hexPassword.includes(fp) && !fp.includes(hexPassword.slice(0, 8)));
      assertNoPasswordIn(fingerprint(full()));
    });

    it('is not a plain hash of the password', async () => {
      const { createHash } = await import('node:crypto');
      const creds = { user: 'app', password: PASSWORD };
      const plain = [creds.user, creds.password, null, null, null];
      for (const algorithm of ['sha256', 'sha1', 'md5']) {
        for (const input of [PASSWORD, JSON.stringify(plain)]) {
          assert.ok(!createHash(algorithm).update(input).digest('hex').startsWith(fingerprint(creds)));
        }
      }
    });
  });

  describe('fromFunction', () => {
    const context: FetchContext = { reason: 'rejected' };

    it('passes the signal, the current credentials and the context through, and returns the result', async () => {
      const seen: unknown[] = [];
      const provider = fromFunction(async (signal, current, ctx) => {
        seen.push(signal, current, ctx);
        return { user: 'app', password: 'next' };
      });
      const signal = new AbortController().signal;
      const current = sealCredentials(full(), SOURCE);
      assert.deepEqual(await provider.getCredentials(signal, current, context), { user: 'app', password: 'next' });
      assert.equal(seen[0], signal);
      assert.equal(seen[1], current);
      assert.equal(seen[2], context);
    });

    it('passes a rejection of the function through', async () => {
      const thrown = new Error('vault is sealed');
      const provider = fromFunction(async () => {
        throw thrown;
      });
      await assert.rejects(provider.getCredentials(new AbortController().signal, undefined, context), (e) => e === thrown);
    });

    it('names the provider after the function', () => {
      async function readVault(): Promise<Credentials | undefined> {
        return undefined;
      }
      assert.equal(fromFunction(readVault).name, 'function:readVault');
    });

    it('names an anonymous function "function"', () => {
      const anonymous = [async () => undefined][0] as HotSwapFunction;
      assert.equal(anonymous.name, '');
      assert.equal(fromFunction(anonymous).name, 'function');
    });

    it('uses the name it is given', () => {
      async function readVault(): Promise<Credentials | undefined> {
        return undefined;
      }
      assert.equal(fromFunction(readVault, { name: 'vault:db/creds/app' }).name, 'vault:db/creds/app');
    });

    it('produces a provider without subscribe() or close()', () => {
      const provider = fromFunction(async () => undefined);
      assert.ok(isProvider(provider));
      assert.equal(provider.subscribe, undefined);
      assert.equal(provider.close, undefined);
    });

    it('rejects something that is not a function with InvalidOptionError', () => {
      assert.throws(
        () => fromFunction('not a function' as never),
        (e: unknown) => e instanceof InvalidOptionError && e.option === 'credentials',
      );
    });
  });

  describe('toProvider', () => {
    it('wraps a hot-swap function', async () => {
      const provider = toProvider(async function rotate() {
        return { user: 'app', password: 'p' };
      });
      assert.ok(isProvider(provider));
      assert.equal(provider.name, 'function:rotate');
      assert.deepEqual(await provider.getCredentials(new AbortController().signal, undefined, { reason: 'initial' }), {
        user: 'app',
        password: 'p',
      });
    });

    it('returns a provider object itself', () => {
      const provider: CredentialsProvider = { name: 'static', getCredentials: async () => undefined, close() {} };
      assert.equal(toProvider(provider), provider);
    });

    it('rejects other values with InvalidOptionError naming the option', () => {
      for (const value of [undefined, null, 'vault', 42, {}, { getCredentials: async () => undefined }, { name: 'x' }]) {
        assert.throws(
          () => toProvider(value),
          (e: unknown) => e instanceof InvalidOptionError && e.option === 'credentials' && e instanceof TypeError,
        );
      }
      assert.throws(
        () => toProvider(42, 'rotation.provider'),
        (e: unknown) => e instanceof InvalidOptionError && e.option === 'rotation.provider',
      );
    });

    it('does not echo a rejected value in its message', () => {
      assert.throws(
        () => toProvider(PASSWORD),
        (e: unknown) => {
          assertNoPasswordIn((e as Error).message);
          return true;
        },
      );
    });
  });

  describe('isProvider', () => {
    it('is true only for objects with a string name and a getCredentials function', () => {
      assert.ok(isProvider({ name: 'x', getCredentials: async () => undefined }));
      assert.ok(!isProvider({ name: 1, getCredentials: async () => undefined }));
      assert.ok(!isProvider({ name: 'x', getCredentials: 'no' }));
      assert.ok(!isProvider(null));
      assert.ok(!isProvider(async () => undefined));
    });
  });
});
