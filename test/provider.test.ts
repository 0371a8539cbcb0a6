import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { sealCredentials } from '../lib/credentials.js';
import { InvalidOptionError } from '../lib/errors.js';
import {
  checkSubscriber,
  type CredentialsProvider,
  type FetchContext,
  fromFunction,
  isProgrammerError,
  isProvider,
  toProvider,
} from '../lib/provider.js';

describe('provider', () => {
  describe('fromFunction', () => {
    it('passes the signal, the rejected credentials and the context to the function, and returns its result', async () => {
      const seen: unknown[] = [];
      const provider = fromFunction(async (signal, current, context) => {
        seen.push(signal, current, context);
        return { user: 'app', password: 'n3w-password' };
      });
      const signal = new AbortController().signal;
      const current = sealCredentials({ user: 'app', password: '0ld-password' }, 'test');
      const context: FetchContext = { reason: 'rejected' };
      assert.deepEqual(await provider.getCredentials(signal, current, context), { user: 'app', password: 'n3w-password' });
      assert.deepEqual(seen, [signal, current, context]);
    });

    it("names the provider after the function, an explicit name, or 'function'", () => {
      async function fromVault() {
        return undefined;
      }
      assert.equal(fromFunction(fromVault).name, 'function:fromVault');
      assert.equal(fromFunction(fromVault, { name: 'my-vault' }).name, 'my-vault');
      assert.equal(fromFunction(Object.defineProperty(() => Promise.resolve(undefined), 'name', { value: '' })).name, 'function');
    });

    it('rejects what is not a function with InvalidOptionError naming credentials', () => {
      assert.throws(
        () => fromFunction('s3cret' as never),
        (e: unknown) => e instanceof InvalidOptionError && e.option === 'credentials' && !e.message.includes('s3cret'),
      );
    });
  });

  describe('isProvider and toProvider', () => {
    const provider: CredentialsProvider = { name: 'p', getCredentials: () => Promise.resolve(undefined) };

    it('recognises an object with a name and getCredentials()', () => {
      assert.equal(isProvider(provider), true);
      for (const value of [null, undefined, 'p', {}, { name: 'p' }, { getCredentials() {} }, { name: 1, getCredentials() {} }]) {
        assert.equal(isProvider(value), false, String(value));
      }
    });

    it('returns a provider as it is and wraps a function', () => {
      assert.equal(toProvider(provider), provider);
      const wrapped = toProvider(() => Promise.resolve(undefined));
      assert.equal(typeof wrapped.getCredentials, 'function');
      assert.equal(wrapped.name, 'function');
    });

    it('rejects anything else with InvalidOptionError naming the option, never its value', () => {
      for (const value of ['mysql://app:s3cret@db/', { password: 's3cret' }, 42]) {
        assert.throws(
          () => toProvider(value, 'nodes[0].credentials'),
          (e: unknown) => e instanceof InvalidOptionError && e.option === 'nodes[0].credentials' && !e.message.includes('s3cret'),
        );
      }
    });
  });

  describe('checkSubscriber', () => {
    it('accepts two functions and names the callback that is not one', () => {
      assert.doesNotThrow(() =>
        checkSubscriber(
          'FileProvider',
          () => {},
          () => {},
        ),
      );
      assert.throws(() => checkSubscriber('FileProvider', undefined, () => {}), { option: 'FileProvider.subscribe.onChange' });
      assert.throws(() => checkSubscriber('FileProvider', () => {}, 'x'), { option: 'FileProvider.subscribe.onError' });
    });
  });

  describe('isProgrammerError', () => {
    it('is true for TypeError, ReferenceError, SyntaxError and RangeError, and their subclasses', () => {
      assert.equal(isProgrammerError(new TypeError("Cannot read properties of undefined (reading 'password')")), true);
      assert.equal(isProgrammerError(new ReferenceError('secretId is not defined')), true);
      assert.equal(isProgrammerError(new SyntaxError('Invalid regular expression: /(/: Unterminated group')), true);
      assert.equal(isProgrammerError(new RangeError('Invalid time value')), true);
      assert.equal(isProgrammerError(new InvalidOptionError('FileProvider.path', 'is required')), true);
    });

    it('is false for an outage and for what is not one of those classes', () => {
      const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8200'), { code: 'ECONNREFUSED' });
      assert.equal(isProgrammerError(refused), false);
      assert.equal(isProgrammerError(new DOMException('timed out', 'TimeoutError')), false);
      assert.equal(isProgrammerError('a string'), false);
      assert.equal(isProgrammerError(undefined), false);
    });

    it("is false for the TypeError that Node's fetch throws when nothing listens (a network failure, with a cause)", async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const failure = await fetch(`http://127.0.0.1:${port}/v1/secret`).then(
        () => assert.fail('nothing should listen there'),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof TypeError, 'undici no longer reports a network failure as a TypeError');
      assert.ok(failure.cause !== undefined);
      assert.equal(isProgrammerError(failure), false);
    });

    it('is false for a SyntaxError about JSON, such as a proxy error page parsed as JSON', async () => {
      const body = await new Response('<html><body>502 Bad Gateway</body></html>').json().catch((error: unknown) => error);
      assert.ok(body instanceof SyntaxError);
      assert.equal(isProgrammerError(body), false);
    });
  });
});
