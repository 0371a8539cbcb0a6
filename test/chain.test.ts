import assert from 'node:assert/strict';
import sinon from 'sinon';
import { chain, shouldTryNextProvider, tryNextProvider } from '../lib/chain.js';
import { RotationCoordinator } from '../lib/coordinator.js';
import { sealCredentials, type Credentials, type SealedCredentials } from '../lib/credentials.js';
import { ClosedError, InvalidOptionError, ProviderError } from '../lib/errors.js';
import type { CredentialsProvider, FetchContext } from '../lib/provider.js';

const INITIAL: FetchContext = { reason: 'initial' };

function creds(name: string): Credentials {
  return { user: name, password: `${name}-Zq9!xK#7vPmW` };
}

/** An error that says "this source is not there". */
function absent(message = 'nothing listens'): Error {
  return tryNextProvider(new Error(message));
}

type Answer = Credentials | undefined | Error | (() => Promise<Credentials | undefined>);

interface Fake extends CredentialsProvider {
  getCredentials: sinon.SinonSpy<[AbortSignal, SealedCredentials | undefined, FetchContext], Promise<Credentials | undefined>>;
  /** Sets what the next calls answer: credentials, `undefined`, an error to throw, or a function. */
  answer(value: Answer): void;
}

/** A provider that answers what the test says, with spies on every method it is given. */
function fake(name: string, answer: Answer, extras: { retire?: boolean; close?: boolean | Error } = {}): Fake {
  let next = answer;
  const provider = {
    name,
    answer(value: Answer) {
      next = value;
    },
    getCredentials: sinon.spy(async (_signal: AbortSignal, _current: SealedCredentials | undefined, _context: FetchContext) => {
      if (typeof next === 'function') return next();
      if (next instanceof Error) throw next;
      return next;
    }),
  } as Fake;
  if (extras.retire) provider.retire = sinon.spy(async (_credentials: SealedCredentials) => {});
  if (extras.close !== undefined) {
    const failure = extras.close instanceof Error ? extras.close : undefined;
    provider.close = sinon.spy(async () => {
      if (failure) throw failure;
    });
  }
  return provider;
}

/** A provider that pushes when the test calls `push`, and counts its subscribers. */
function pushing(name: string, answer: Credentials) {
  const listeners = new Set<{ onChange: (c: Credentials) => void; onError: (e: Error) => void }>();
  const provider: CredentialsProvider & { subscribe: NonNullable<CredentialsProvider['subscribe']> } = {
    name,
    getCredentials: async () => answer,
    subscribe(onChange, onError) {
      const listener = { onChange, onError };
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return {
    provider,
    listeners,
    push: (credentials: Credentials) => [...listeners].forEach((l) => l.onChange(credentials)),
    fail: (error: Error) => [...listeners].forEach((l) => l.onError(error)),
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

function fetchFrom(provider: CredentialsProvider, signal = new AbortController().signal) {
  return provider.getCredentials(signal, undefined, INITIAL);
}

describe('chain', function () {
  afterEach(function () {
    sinon.restore();
  });

  describe('marking errors', function () {
    it('tryNextProvider marks the error and returns the same object', function () {
      const error = new Error('no file');
      assert.equal(tryNextProvider(error), error);
      assert.ok(shouldTryNextProvider(error));
      assert.equal(tryNextProvider(error), error, 'marking twice is harmless');
    });

    it('leaves unmarked errors and non-errors alone', function () {
      assert.equal(shouldTryNextProvider(new Error('boom')), false);
      assert.equal(shouldTryNextProvider(undefined), false);
      assert.equal(shouldTryNextProvider('try next'), false);
      assert.equal(shouldTryNextProvider({ tryNextLink: true }), false);
    });

    it('sees a mark set by another copy of the package', function () {
      const error = new Error('from another copy');
      Object.defineProperty(error, Symbol.for('credswap.tryNextProvider'), { value: true });
      assert.ok(shouldTryNextProvider(error));
    });

    it('keeps the mark out of the error’s keys and JSON', function () {
      const error = Object.assign(tryNextProvider(new Error('x')), { code: 'E_X' });
      assert.deepEqual(Object.keys(error), ['code']);
      assert.equal(JSON.stringify(error), '{"code":"E_X"}');
    });

    it('refuses to mark something that is not an object', function () {
      assert.throws(() => tryNextProvider(undefined as unknown as Error), InvalidOptionError);
    });
  });

  describe('creating a chain', function () {
    it('needs at least one provider', function () {
      assert.throws(
        () => chain(),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'chain',
      );
    });

    it('rejects an argument that is neither a provider nor a function, naming its place', function () {
      const good = fake('a', creds('a'));
      assert.throws(
        () => chain(good, { name: 'half' } as unknown as CredentialsProvider),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'chain[1]',
      );
    });

    it('is named after its providers, in order', function () {
      assert.equal(chain(fake('extension', undefined), fake('secrets-manager', undefined)).name, 'chain(extension, secrets-manager)');
    });

    it('takes hot-swap functions as well as providers', async function () {
      const provider = chain(
        async () => {
          throw absent();
        },
        async () => creds('fn'),
      );
      assert.deepEqual(await fetchFrom(provider), creds('fn'));
    });

    it('has subscribe and retire only when one of its providers has them', function () {
      const plain = chain(fake('a', undefined), fake('b', undefined));
      assert.equal(plain.subscribe, undefined);
      assert.equal(plain.retire, undefined);
      const full = chain(fake('a', undefined), fake('b', undefined, { retire: true }), pushing('c', creds('c')).provider);
      assert.equal(typeof full.subscribe, 'function');
      assert.equal(typeof full.retire, 'function');
    });
  });

  describe('fetching', function () {
    it('returns the first provider’s answer without asking the others', async function () {
      const first = fake('first', creds('first'));
      const second = fake('second', creds('second'));
      const answer = creds('first');
      first.answer(answer);
      assert.equal(await fetchFrom(chain(first, second)), answer, 'the very object the provider returned');
      sinon.assert.calledOnce(first.getCredentials);
      sinon.assert.notCalled(second.getCredentials);
    });

    it('takes "unchanged" (undefined) as an answer, not as a reason to move on', async function () {
      const first = fake('first', undefined);
      const second = fake('second', creds('second'));
      assert.equal(await fetchFrom(chain(first, second)), undefined);
      sinon.assert.notCalled(second.getCredentials);
    });

    it('asks the next provider when one fails with a marked error', async function () {
      const first = fake('first', absent());
      const second = fake('second', absent());
      const third = fake('third', creds('third'));
      assert.deepEqual(await fetchFrom(chain(first, second, third)), creds('third'));
      assert.ok(first.getCredentials.calledBefore(second.getCredentials));
      assert.ok(second.getCredentials.calledBefore(third.getCredentials));
    });

    it('stops at an error that is not marked, and rejects with it', async function () {
      const denied = new Error('AccessDeniedException');
      const first = fake('first', denied);
      const second = fake('second', creds('second'));
      assert.equal(await rejection(fetchFrom(chain(first, second))), denied);
      sinon.assert.notCalled(second.getCredentials);
    });

    it('rejects with the last provider’s error when every one was skipped', async function () {
      const last = absent('no file either');
      const error = await rejection(fetchFrom(chain(fake('a', absent()), fake('b', last))));
      assert.equal(error, last);
      assert.ok(shouldTryNextProvider(error), 'still marked, so an outer chain moves on too');
    });

    it('moves past a nested chain whose providers were all skipped', async function () {
      const inner = chain(fake('a', absent()), fake('b', absent()));
      assert.deepEqual(await fetchFrom(chain(inner, fake('c', creds('c')))), creds('c'));
    });

    it('starts every call from the first provider again', async function () {
      const first = fake('first', absent());
      const second = fake('second', creds('second'));
      const provider = chain(first, second);
      await fetchFrom(provider);
      first.answer(creds('first'));
      assert.deepEqual(await fetchFrom(provider), creds('first'));
      sinon.assert.calledTwice(first.getCredentials);
      sinon.assert.calledOnce(second.getCredentials);
    });

    it('gives each provider the caller’s signal, current credentials and context as they are', async function () {
      const first = fake('first', absent());
      const second = fake('second', creds('second'));
      const signal = new AbortController().signal;
      const current = sealCredentials(creds('old'), 'test');
      const context: FetchContext = { reason: 'rejected' };
      await chain(first, second).getCredentials(signal, current, context);
      sinon.assert.calledWithExactly(first.getCredentials, signal, current, context);
      sinon.assert.calledWithExactly(second.getCredentials, signal, current, context);
    });
  });

  describe('cancellation', function () {
    it('rejects at once with the reason of a signal that has already fired, asking no provider', async function () {
      const first = fake('first', creds('first'));
      const controller = new AbortController();
      controller.abort(new Error('gone'));
      const error = await rejection(fetchFrom(chain(first), controller.signal));
      assert.equal((error as Error).message, 'gone');
      sinon.assert.notCalled(first.getCredentials);
    });

    it('asks no further provider once the signal fires, and rejects with its reason', async function () {
      const controller = new AbortController();
      const reason = new Error('caller gave up');
      const first = fake('first', async () => {
        controller.abort(reason);
        throw absent();
      });
      const second = fake('second', creds('second'));
      assert.equal(await rejection(fetchFrom(chain(first, second), controller.signal)), reason);
      sinon.assert.notCalled(second.getCredentials);
    });

    it('rejects with the reason when the signal fired while a provider answered anyway', async function () {
      const controller = new AbortController();
      const reason = new Error('too late');
      const first = fake('first', async () => {
        controller.abort(reason);
        return creds('late');
      });
      assert.equal(await rejection(fetchFrom(chain(first), controller.signal)), reason);
    });
  });

  describe('retire', function () {
    it('goes to the provider that produced the credentials, and only to it', async function () {
      const a = fake('a', absent(), { retire: true });
      const b = fake('b', undefined, { retire: true });
      const fromB = sealCredentials(creds('b1'), 'b');
      b.answer(fromB);
      const provider = chain(a, b);
      await fetchFrom(provider);
      await provider.retire!(fromB);
      sinon.assert.calledOnceWithExactly(b.retire as sinon.SinonSpy, fromB);
      sinon.assert.notCalled(a.retire as sinon.SinonSpy);
    });

    it('finds the producer of plain credentials from the sealed copy the coordinator retires', async function () {
      const a = fake('a', creds('a1'), { retire: true });
      const b = fake('b', creds('b1'), { retire: true });
      const provider = chain(a, b);
      await fetchFrom(provider); // from a
      a.answer(absent());
      await fetchFrom(provider); // from b
      const copy = sealCredentials(creds('a1'), 'coordinator');
      await provider.retire!(copy);
      sinon.assert.calledOnceWithExactly(a.retire as sinon.SinonSpy, copy);
      sinon.assert.notCalled(b.retire as sinon.SinonSpy);
    });

    it('retires nothing for credentials the chain never handed out', async function () {
      const a = fake('a', creds('a1'), { retire: true });
      const provider = chain(a);
      await fetchFrom(provider);
      await provider.retire!(sealCredentials(creds('stranger'), 'test'));
      sinon.assert.notCalled(a.retire as sinon.SinonSpy);
    });

    it('passes on what the provider’s retire rejects with', async function () {
      const failure = new Error('lease revoke failed');
      const a: CredentialsProvider = { name: 'a', getCredentials: async () => creds('a1'), retire: async () => Promise.reject(failure) };
      const provider = chain(a);
      await fetchFrom(provider);
      assert.equal(await rejection(Promise.resolve(provider.retire!(sealCredentials(creds('a1'), 'test')))), failure);
    });
  });

  describe('subscribe', function () {
    it('follows the provider that answered, not the others', async function () {
      const first = pushing('first', creds('first'));
      const second = pushing('second', creds('second'));
      const unreachable = sinon.stub(first.provider, 'getCredentials').rejects(absent());
      const provider = chain(first.provider, second.provider);
      await fetchFrom(provider);
      const onChange = sinon.spy();
      const onError = sinon.spy();
      provider.subscribe!(onChange, onError);
      assert.equal(first.listeners.size, 0, 'a provider not in use does not poll');
      assert.equal(second.listeners.size, 1);
      second.push(creds('second-2'));
      sinon.assert.calledOnceWithExactly(onChange, creds('second-2'));
      unreachable.restore();
    });

    it('moves the subscription when a later call is answered by another provider', async function () {
      const first = pushing('first', creds('first'));
      const second = pushing('second', creds('second'));
      const stub = sinon.stub(first.provider, 'getCredentials').rejects(absent());
      const provider = chain(first.provider, second.provider);
      await fetchFrom(provider);
      const onChange = sinon.spy();
      provider.subscribe!(onChange, sinon.spy());
      stub.restore();
      await fetchFrom(provider); // the first provider is back
      assert.equal(first.listeners.size, 1);
      assert.equal(second.listeners.size, 0);
      second.push(creds('stale'));
      first.push(creds('first-2'));
      sinon.assert.calledOnceWithExactly(onChange, creds('first-2'));
    });

    it('subscribes to nothing before a call was answered', function () {
      const first = pushing('first', creds('first'));
      const provider = chain(first.provider);
      provider.subscribe!(sinon.spy(), sinon.spy());
      assert.equal(first.listeners.size, 0);
    });

    it('passes on background errors of the provider in use', async function () {
      const first = pushing('first', creds('first'));
      const provider = chain(first.provider);
      await fetchFrom(provider);
      const onError = sinon.spy();
      provider.subscribe!(sinon.spy(), onError);
      const failure = new Error('throttled');
      first.fail(failure);
      sinon.assert.calledOnceWithExactly(onError, failure);
    });

    it('gives each subscriber the push, and what one onChange throws goes to its own onError', async function () {
      const first = pushing('first', creds('first'));
      const provider = chain(first.provider);
      await fetchFrom(provider);
      const thrown = new Error('subscriber bug');
      const one = { onChange: sinon.stub().throws(thrown), onError: sinon.spy() };
      const two = { onChange: sinon.spy(), onError: sinon.spy() };
      provider.subscribe!(one.onChange, one.onError);
      provider.subscribe!(two.onChange, two.onError);
      assert.equal(first.listeners.size, 1, 'one subscription to the provider, shared');
      first.push(creds('first-2'));
      sinon.assert.calledOnceWithExactly(one.onError, thrown);
      sinon.assert.calledOnceWithExactly(two.onChange, creds('first-2'));
      sinon.assert.notCalled(two.onError);
    });

    it('wraps a thrown non-Error as a ProviderError naming the provider', async function () {
      const first = pushing('first', creds('first'));
      const provider = chain(first.provider);
      await fetchFrom(provider);
      const onError = sinon.spy();
      provider.subscribe!(() => {
        throw 'a string';
      }, onError);
      first.push(creds('first-2'));
      const error = onError.firstCall.args[0];
      assert.ok(error instanceof ProviderError);
      assert.equal(error.provider, 'first');
      assert.doesNotMatch(error.message, /a string/);
    });

    it('unsubscribes from the provider when the last subscriber leaves', async function () {
      const first = pushing('first', creds('first'));
      const provider = chain(first.provider);
      await fetchFrom(provider);
      const leave1 = provider.subscribe!(sinon.spy(), sinon.spy());
      const leave2 = provider.subscribe!(sinon.spy(), sinon.spy());
      leave1();
      leave1();
      assert.equal(first.listeners.size, 1);
      leave2();
      assert.equal(first.listeners.size, 0);
    });

    it('checks its callbacks', async function () {
      const provider = chain(pushing('first', creds('first')).provider);
      assert.throws(() => provider.subscribe!(undefined as never, sinon.spy()), InvalidOptionError);
    });
  });

  describe('close', function () {
    it('closes every provider, each once', async function () {
      const a = fake('a', creds('a'), { close: true });
      const b = fake('b', creds('b'), { close: true });
      const provider = chain(a, b, a);
      await Promise.all([provider.close!(), provider.close!()]);
      sinon.assert.calledOnce(a.close as sinon.SinonSpy);
      sinon.assert.calledOnce(b.close as sinon.SinonSpy);
    });

    it('closes the others when one fails, then rejects with the first failure', async function () {
      const failure = new Error('revoke failed');
      const a = fake('a', creds('a'), { close: failure });
      const b = fake('b', creds('b'), { close: new Error('second failure') });
      const c = fake('c', creds('c'), { close: true });
      assert.equal(await rejection(Promise.resolve(chain(a, b, c).close!())), failure);
      sinon.assert.calledOnce(c.close as sinon.SinonSpy);
    });

    it('refuses calls and subscriptions afterwards with ClosedError', async function () {
      const first = pushing('first', creds('first'));
      const provider = chain(first.provider);
      await fetchFrom(provider);
      provider.subscribe!(sinon.spy(), sinon.spy());
      await provider.close!();
      assert.equal(first.listeners.size, 0, 'the subscription ended');
      assert.ok((await rejection(fetchFrom(provider))) instanceof ClosedError);
      assert.throws(() => provider.subscribe!(sinon.spy(), sinon.spy()), ClosedError);
    });

    it('does not move on to the next provider once closed during a call', async function () {
      let provider: CredentialsProvider | undefined;
      const marked = absent();
      const first = fake('first', async () => {
        void provider!.close!();
        throw marked;
      });
      const second = fake('second', creds('second'));
      provider = chain(first, second);
      assert.equal(await rejection(fetchFrom(provider)), marked);
      sinon.assert.notCalled(second.getCredentials);
    });
  });

  describe('under a coordinator', function () {
    it('serves the first call from the provider that is there, takes its pushes, and retires through it', async function () {
      const vault = pushing('vault', creds('v1'));
      const retire = sinon.spy(async (_credentials: SealedCredentials) => {});
      const source: CredentialsProvider = { ...vault.provider, retire };
      const missing = fake('file', absent('no file at /run/secrets/db'), { close: true });
      const coordinator = new RotationCoordinator({ provider: chain(missing, source) });
      const errors = sinon.spy();
      coordinator.on('rotation-error', errors);
      try {
        const first = await coordinator.acquire();
        assert.equal(first.credentials.user, 'v1');
        vault.push(creds('v2'));
        assert.equal(coordinator.current?.credentials.user, 'v2');
        coordinator.retire(first.generation, first.credentials);
        await new Promise((resolve) => setImmediate(resolve));
        sinon.assert.calledOnce(retire);
        assert.equal(retire.firstCall.args[0].user, 'v1');
        sinon.assert.notCalled(errors);
      } finally {
        await coordinator.close();
      }
      sinon.assert.calledOnce(missing.close as sinon.SinonSpy);
      assert.equal(vault.listeners.size, 0);
    });

    it('reports a chain whose providers were all skipped as the provider’s failure', async function () {
      const coordinator = new RotationCoordinator({ provider: chain(fake('a', absent()), fake('b', absent('nothing here either'))) });
      coordinator.on('rotation-error', () => {});
      try {
        const error = await rejection(coordinator.acquire());
        assert.ok(error instanceof ProviderError);
        assert.match(error.message, /nothing here either/);
      } finally {
        await coordinator.close();
      }
    });
  });
});
