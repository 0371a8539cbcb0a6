import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import sinon from 'sinon';
import {
  type CoordinatorTimingOptions,
  type CredentialsSnapshot,
  type RotateEvent,
  DEFAULT_COOLDOWN_MS,
  DEFAULT_TIMEOUT_MS,
  RotationCoordinator,
} from '../lib/coordinator.js';
import { type Credentials, type SealedCredentials, fingerprint } from '../lib/credentials.js';
import {
  ClosedError,
  CredentialsUnavailableError,
  InvalidCredentialsError,
  InvalidOptionError,
  ProviderError,
  RotationCooldownError,
  RotationTimeoutError,
} from '../lib/errors.js';
import type { CredentialsProvider, FetchContext } from '../lib/provider.js';

/** Fake clock start: a realistic epoch, so that "0" never looks like a valid time. */
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const PROVIDER_NAME = 'vault:database/creds/app';

/** Credentials number `n`; every password is distinct and easy to search for. */
function creds(n: number, extra: Partial<Credentials> = {}): Credentials {
  return { user: 'app', password: `pw${n}-Zq9!xK#7vPmW`, ...extra };
}
const passwordOf = (n: number): string => creds(n).password;

/** A server's "access denied" error as mysql2 reports it. */
type AccessDenied = Error & { errno: number; code: string; sqlState: string };
function accessDenied(): AccessDenied {
  return Object.assign(new Error("Access denied for user 'app'@'10.0.0.5' (using password: YES)"), {
    errno: 1045,
    code: 'ER_ACCESS_DENIED_ERROR',
    sqlState: '28000',
  });
}
const ACCESS_DENIED_MESSAGE = accessDenied().message;

interface PendingCall {
  readonly signal: AbortSignal;
  readonly current: SealedCredentials | undefined;
  readonly context: FetchContext;
  /** Fake time of the call. */
  readonly at: number;
  resolve(value: Credentials | undefined): void;
  reject(error: unknown): void;
}

/**
 * A provider whose every call stays pending until the test settles it. It ignores its signal,
 * like a provider stuck on a network call that does not honour AbortSignal.
 */
class ControlledProvider implements CredentialsProvider {
  readonly name = PROVIDER_NAME;
  readonly calls: PendingCall[] = [];
  closeCalls = 0;

  getCredentials(signal: AbortSignal, current: SealedCredentials | undefined, context: FetchContext): Promise<Credentials | undefined> {
    return new Promise((resolve, reject) => {
      this.calls.push({ signal, current, context, at: Date.now(), resolve, reject });
    });
  }

  close(): void {
    this.closeCalls += 1;
  }

  get last(): PendingCall {
    const call = this.calls.at(-1);
    assert.ok(call, 'the provider was never called');
    return call;
  }
}

/** A provider that also pushes changes, like a file watch. */
class PushingProvider extends ControlledProvider {
  subscribeCalls = 0;
  unsubscribeCalls = 0;
  #onChange: ((credentials: Credentials) => void) | undefined;
  #onError: ((error: Error) => void) | undefined;

  subscribe(onChange: (credentials: Credentials) => void, onError: (error: Error) => void): () => void {
    this.subscribeCalls += 1;
    this.#onChange = onChange;
    this.#onError = onError;
    return () => {
      this.unsubscribeCalls += 1;
    };
  }

  push(credentials: Credentials): void {
    assert.ok(this.#onChange, 'the coordinator did not subscribe');
    this.#onChange(credentials);
  }

  fail(error: Error): void {
    assert.ok(this.#onError, 'the coordinator did not subscribe');
    this.#onError(error);
  }
}

interface Tracked<T> {
  status: 'pending' | 'resolved' | 'rejected';
  value?: T;
  error?: unknown;
}

/** Follows a promise's outcome without leaving a rejection unhandled. */
function track<T>(promise: Promise<T>): Tracked<T> {
  const tracked: Tracked<T> = { status: 'pending' };
  promise.then(
    (value) => {
      tracked.status = 'resolved';
      tracked.value = value;
    },
    (error: unknown) => {
      tracked.status = 'rejected';
      tracked.error = error;
    },
  );
  return tracked;
}

let clock: sinon.SinonFakeTimers;
let coordinators: RotationCoordinator[];

/** Runs every pending promise callback without moving the fake clock. */
const flush = (): Promise<unknown> => clock.tickAsync(0);

/** Returns `promise`, marked as handled so that a failing assertion cannot leave it unhandled. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function coordinator(provider: CredentialsProvider, timings: CoordinatorTimingOptions = {}): RotationCoordinator {
  const c = new RotationCoordinator({ provider, ...timings });
  coordinators.push(c);
  return c;
}

/** A coordinator that already holds `first` as generation 1. */
async function started(
  provider: ControlledProvider,
  timings: CoordinatorTimingOptions = {},
  first: Credentials = creds(1),
): Promise<RotationCoordinator> {
  const c = coordinator(provider, timings);
  const acquired = quiet(c.acquire());
  provider.last.resolve(first);
  const snapshot = await acquired;
  assert.equal(snapshot.generation, 1);
  return c;
}

function recordEvents(c: RotationCoordinator): { rotate: RotateEvent[]; errors: Array<[Error, unknown]> } {
  const events = { rotate: [] as RotateEvent[], errors: [] as Array<[Error, unknown]> };
  c.on('rotate', (e: RotateEvent) => events.rotate.push(e));
  c.on('rotation-error', (error: Error, info: unknown) => events.errors.push([error, info]));
  return events;
}

function assertAccessDenied(error: unknown, original: AccessDenied, why: RegExp): void {
  assert.equal(error, original, 'expected the very same 1045 error object');
  assert.equal(original.errno, 1045);
  assert.equal(original.code, 'ER_ACCESS_DENIED_ERROR');
  assert.equal(original.sqlState, '28000');
  assert.ok(original.message.startsWith(ACCESS_DENIED_MESSAGE), original.message);
  assert.ok(original.message.includes(PROVIDER_NAME), `message does not name the provider: ${original.message}`);
  assert.match(original.message, why);
  for (let n = 1; n <= 5; n++) assert.ok(!original.message.includes(passwordOf(n)), 'message contains a password');
}

describe('RotationCoordinator', () => {
  beforeEach(() => {
    // Leave nextTick and queueMicrotask real: only timers and the date are under test control.
    clock = sinon.useFakeTimers({
      now: T0,
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'Date'],
    });
    coordinators = [];
  });

  afterEach(async () => {
    try {
      for (const c of coordinators) await c.close();
      await flush();
    } finally {
      sinon.restore();
    }
  });

  describe('first credentials', () => {
    it('fetches credentials once, before the first connection, for 100 concurrent callers', async () => {
      const provider = new ControlledProvider();
      const c = coordinator(provider);
      assert.equal(provider.calls.length, 0, 'nothing is fetched before the first acquire()');
      const waiters = Array.from({ length: 100 }, () => quiet(c.acquire()));
      assert.equal(provider.calls.length, 1);
      assert.equal(provider.last.current, undefined);
      assert.deepEqual(provider.last.context, { reason: 'initial' });
      provider.last.resolve(creds(1));
      const snapshots = await Promise.all(waiters);
      assert.equal(provider.calls.length, 1);
      for (const s of snapshots) {
        assert.equal(s, snapshots[0]);
        assert.equal(s.generation, 1);
        assert.equal(s.credentials.password, passwordOf(1));
      }
      assert.equal(c.generation, 1);
      assert.equal(c.current, snapshots[0]);
    });

    it('leaves no timer behind once the first fetch has answered', async () => {
      const provider = new ControlledProvider();
      const c = coordinator(provider);
      const first = quiet(c.acquire());
      assert.equal(clock.countTimers(), 1, 'expected the timeout timer');
      provider.last.resolve(creds(1));
      await first;
      assert.equal(clock.countTimers(), 0);
    });

    it('hands out the cached credentials afterwards without calling the provider', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const snapshot = await c.acquire();
      assert.equal(snapshot.generation, 1);
      assert.equal(provider.calls.length, 1);
    });

    it('fails the first acquire() with CredentialsUnavailableError when the provider returns nothing', async () => {
      const provider = new ControlledProvider();
      const c = coordinator(provider);
      const first = track(c.acquire());
      provider.last.resolve(undefined);
      await flush();
      assert.equal(first.status, 'rejected');
      assert.ok(first.error instanceof CredentialsUnavailableError);
      assert.equal(c.current, undefined);
      assert.equal(c.generation, 0);
    });

    it('fails acquire() with RotationCooldownError right after a failed first fetch', async () => {
      const provider = new ControlledProvider();
      const c = coordinator(provider);
      const first = track(c.acquire());
      const thrown = new Error('vault is sealed');
      provider.last.reject(thrown);
      await flush();
      assert.ok(first.error instanceof ProviderError);
      await assert.rejects(c.acquire(), (error: unknown) => {
        assert.ok(error instanceof RotationCooldownError);
        assert.equal(error.cause, first.error);
        assert.ok(error.retryAt > Date.now() && error.retryAt <= Date.now() + DEFAULT_COOLDOWN_MS);
        return true;
      });
      assert.equal(provider.calls.length, 1);
    });
  });

  describe('rejected credentials (1045)', () => {
    it('makes exactly one provider call for 200 concurrent rejections of the current generation', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const waiters = Array.from({ length: 200 }, () => quiet(c.reportRejected(1, accessDenied())));
      assert.equal(provider.calls.length, 2);
      provider.last.resolve(creds(2));
      const snapshots = await Promise.all(waiters);
      assert.equal(provider.calls.length, 2);
      for (const s of snapshots) {
        assert.equal(s.generation, 2);
        assert.equal(s.credentials.password, passwordOf(2));
      }
      assert.equal(c.generation, 2);
    });

    it('resolves a rejection of an older generation at once with the newest credentials, without a call', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const rotated = quiet(c.reportRejected(1, accessDenied()));
      provider.last.resolve(creds(2));
      await rotated;
      const stale = track(c.reportRejected(1, accessDenied()));
      await flush();
      assert.equal(stale.status, 'resolved');
      assert.equal(stale.value, c.current);
      assert.equal(stale.value?.generation, 2);
      assert.equal(provider.calls.length, 2);
    });

    it('passes the provider the rejected credentials and the reason "rejected"', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const rejected = c.current!.credentials;
      track(c.reportRejected(1, accessDenied()));
      assert.equal(provider.last.current, rejected);
      assert.deepEqual(provider.last.context, { reason: 'rejected' });
      assert.ok(provider.last.signal instanceof AbortSignal);
      assert.equal(provider.last.signal.aborted, false);
      provider.last.resolve(creds(2));
      await flush();
    });

    it('lets a rejection join a refresh that is already in flight', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const manual = track(c.refresh());
      assert.deepEqual(provider.last.context, { reason: 'manual' });
      const rejected = track(c.reportRejected(1, accessDenied()));
      assert.equal(provider.calls.length, 2);
      provider.last.resolve(creds(2));
      await flush();
      assert.equal(manual.value?.generation, 2);
      assert.equal(rejected.value?.generation, 2);
    });

    it('returns the same 1045 error object, annotated with the provider name, when the provider returns nothing', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const original = accessDenied();
      const result = track(c.reportRejected(1, original));
      provider.last.resolve(undefined);
      await flush();
      assert.equal(result.status, 'rejected');
      assertAccessDenied(result.error, original, /returned no new credentials/);
      assert.equal(c.generation, 1);
    });

    it('returns the same 1045 error object when the provider returns the rejected credentials again', async () => {
      const provider = new ControlledProvider();
      const events = { rotate: 0 };
      const c = await started(provider);
      c.on('rotate', () => events.rotate++);
      const original = accessDenied();
      const result = track(c.reportRejected(1, original));
      provider.last.resolve(creds(1)); // a fresh object with the same user and password
      await flush();
      assert.equal(result.status, 'rejected');
      assertAccessDenied(result.error, original, /returned no new credentials/);
      assert.equal(c.generation, 1);
      assert.equal(events.rotate, 0);
    });

    it('annotates the 1045 message only once however often it is returned', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { cooldownMs: 0 });
      const original = accessDenied();
      const first = track(c.reportRejected(1, original));
      provider.last.resolve(undefined);
      await flush();
      const once = (first.error as Error).message;
      const second = track(c.reportRejected(1, original));
      provider.last.resolve(undefined);
      await flush();
      assert.equal(second.error, original);
      assert.equal(original.message, once);
    });
  });

  describe('timeouts', () => {
    it('fails waiters with RotationTimeoutError when the provider does not answer within timeoutMs', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { timeoutMs: 5000 });
      const a = track(c.reportRejected(1, accessDenied()));
      const b = track(c.reportRejected(1, accessDenied()));
      await clock.tickAsync(4999);
      assert.equal(a.status, 'pending');
      await clock.tickAsync(1);
      assert.equal(a.status, 'rejected');
      assert.ok(a.error instanceof RotationTimeoutError);
      assert.equal(a.error.timeoutMs, 5000);
      assert.equal(a.error.provider, PROVIDER_NAME);
      assert.equal(b.error, a.error);
    });

    it('aborts the abandoned call’s signal with the timeout error as its reason', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { timeoutMs: 5000 });
      const result = track(c.reportRejected(1, accessDenied()));
      const { signal } = provider.last;
      await clock.tickAsync(5000);
      assert.equal(signal.aborted, true);
      assert.ok(signal.reason instanceof RotationTimeoutError);
      assert.equal(signal.reason, result.error);
    });

    it('ignores a result that arrives after the timeout and keeps the generation', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { timeoutMs: 5000 });
      const events = recordEvents(c);
      track(c.reportRejected(1, accessDenied()));
      await clock.tickAsync(5000);
      provider.last.resolve(creds(2));
      await flush();
      assert.equal(c.generation, 1);
      assert.equal(c.current?.credentials.password, passwordOf(1));
      assert.deepEqual(events.rotate, []);
    });

    it('calls the provider again after the cooldown and recovers', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { timeoutMs: 5000, cooldownMs: 1000 });
      track(c.reportRejected(1, accessDenied()));
      await clock.tickAsync(5000);
      const hung = provider.last;
      await clock.tickAsync(1000); // the first cooldown is at most cooldownMs
      const retry = track(c.reportRejected(1, accessDenied()));
      assert.equal(provider.calls.length, 3);
      assert.deepEqual(provider.last.context, { reason: 'rejected' });
      provider.last.resolve(creds(2));
      hung.resolve(creds(9)); // the abandoned call finally answers: still ignored
      await flush();
      assert.equal(retry.value?.generation, 2);
      assert.equal(c.generation, 2);
      assert.equal(c.current?.credentials.password, passwordOf(2));
    });

    it('uses DEFAULT_TIMEOUT_MS when no timeoutMs is given', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const result = track(c.reportRejected(1, accessDenied()));
      await clock.tickAsync(DEFAULT_TIMEOUT_MS - 1);
      assert.equal(result.status, 'pending');
      await clock.tickAsync(1);
      assert.ok(result.error instanceof RotationTimeoutError);
    });
  });

  describe('cooldown and backoff', () => {
    /**
     * Asserts that a rejection of `generation` is answered with the 1045 itself, without a
     * provider call, until exactly `ms` from now, and calls the provider at `ms`. Returns the
     * waiter of that call.
     */
    async function expectCooldown(
      c: RotationCoordinator,
      provider: ControlledProvider,
      generation: number,
      ms: number,
    ): Promise<Tracked<CredentialsSnapshot>> {
      const before = provider.calls.length;
      await clock.tickAsync(ms - 1);
      const original = accessDenied();
      const blocked = track(c.reportRejected(generation, original));
      await flush();
      assert.equal(provider.calls.length, before, `the provider was called ${1} ms before the cooldown of ${ms} ms ended`);
      assert.equal(blocked.status, 'rejected');
      assertAccessDenied(blocked.error, original, /cooling down/);
      await clock.tickAsync(1);
      const waiter = track(c.reportRejected(generation, accessDenied()));
      assert.equal(provider.calls.length, before + 1, `the provider was not called when the cooldown of ${ms} ms ended`);
      return waiter;
    }

    it('returns rejections inside the cooldown as the original 1045 without calling the provider', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { cooldownMs: 1000 });
      const first = track(c.reportRejected(1, accessDenied()));
      provider.last.resolve(undefined);
      await flush();
      assert.equal(first.status, 'rejected');
      const originals = Array.from({ length: 50 }, () => accessDenied());
      const results = originals.map((e) => track(c.reportRejected(1, e)));
      await flush();
      assert.equal(provider.calls.length, 2);
      results.forEach((r, i) => assertAccessDenied(r.error, originals[i], /cooling down/));
    });

    it('doubles the cooldown with each consecutive failure up to maxCooldownMs', async () => {
      sinon.stub(Math, 'random').returns(0.5); // jitter: three quarters of each step
      const provider = new ControlledProvider();
      const c = await started(provider, { cooldownMs: 1000, maxCooldownMs: 8000 });
      track(c.reportRejected(1, accessDenied()));
      provider.last.resolve(undefined);
      await flush();
      for (const ms of [750, 1500, 3000, 6000, 6000, 6000]) {
        const waiter = await expectCooldown(c, provider, 1, ms);
        provider.last.resolve(undefined);
        await flush();
        assert.equal(waiter.status, 'rejected');
      }
    });

    it('keeps each cooldown between half and all of cooldownMs × 2^(n-1), capped at maxCooldownMs', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { cooldownMs: 1000, maxCooldownMs: 4000 });
      track(c.reportRejected(1, accessDenied()));
      provider.last.resolve(undefined);
      await flush();
      for (const step of [1000, 2000, 4000, 4000, 4000]) {
        const before = provider.calls.length;
        await clock.tickAsync(step / 2 - 1);
        track(c.reportRejected(1, accessDenied()));
        assert.equal(provider.calls.length, before, `the provider was called before half of ${step} ms`);
        await clock.tickAsync(step / 2 + 1);
        track(c.reportRejected(1, accessDenied()));
        assert.equal(provider.calls.length, before + 1, `the provider was not called after ${step} ms`);
        provider.last.resolve(undefined);
        await flush();
      }
    });

    it('spreads cooldowns with jitter', async () => {
      const random = sinon.stub(Math, 'random');
      const provider = new ControlledProvider();
      const c = await started(provider, { cooldownMs: 1000, maxCooldownMs: 1000 });
      random.returns(0);
      track(c.reportRejected(1, accessDenied()));
      provider.last.resolve(undefined);
      await flush();
      random.returns(0.99);
      await expectCooldown(c, provider, 1, 500); // random 0: half the step
      provider.last.resolve(undefined);
      await flush();
      await expectCooldown(c, provider, 1, 995); // random 0.99: nearly the whole step
      provider.last.resolve(undefined);
      await flush();
    });

    it('resets the backoff after a successful connection (reportSuccess)', async () => {
      sinon.stub(Math, 'random').returns(0.5);
      const provider = new ControlledProvider();
      const c = await started(provider, { cooldownMs: 1000, maxCooldownMs: 60_000 });
      track(c.reportRejected(1, accessDenied()));
      provider.last.resolve(undefined);
      await flush();
      for (const ms of [750, 1500]) {
        await expectCooldown(c, provider, 1, ms);
        provider.last.resolve(undefined);
        await flush();
      }
      // Now inside a 3000 ms cooldown.
      c.reportSuccess(1);
      const immediate = track(c.reportRejected(1, accessDenied()));
      assert.equal(provider.calls.length, 5, 'the cooldown did not end on reportSuccess');
      provider.last.resolve(undefined);
      await flush();
      assert.equal(immediate.status, 'rejected');
      await expectCooldown(c, provider, 1, 750); // back to the first step
      provider.last.resolve(undefined);
      await flush();
    });

    it('does not end the cooldown on a success reported for an older generation', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { cooldownMs: 1000 });
      const rotated = quiet(c.reportRejected(1, accessDenied()));
      provider.last.resolve(creds(2));
      await rotated;
      c.reportSuccess(1);
      const blocked = track(c.reportRejected(2, accessDenied()));
      await flush();
      assert.equal(blocked.status, 'rejected');
      assert.equal(provider.calls.length, 2);
      c.reportSuccess(2);
      track(c.reportRejected(2, accessDenied()));
      assert.equal(provider.calls.length, 3);
      provider.last.resolve(creds(3));
      await flush();
    });

    it('cools down when freshly rotated credentials are refused too', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { cooldownMs: 1000 });
      const rotated = quiet(c.reportRejected(1, accessDenied()));
      provider.last.resolve(creds(2));
      await rotated;
      const original = accessDenied();
      const refused = track(c.reportRejected(2, original));
      await flush();
      assert.equal(provider.calls.length, 2);
      assertAccessDenied(refused.error, original, /cooling down/);
    });

    it('treats a maxCooldownMs below cooldownMs as equal to cooldownMs', async () => {
      sinon.stub(Math, 'random').returns(0.5);
      const provider = new ControlledProvider();
      const c = await started(provider, { cooldownMs: 4000, maxCooldownMs: 1000 });
      track(c.reportRejected(1, accessDenied()));
      provider.last.resolve(undefined);
      await flush();
      await expectCooldown(c, provider, 1, 3000);
      provider.last.resolve(undefined);
      await flush();
      await expectCooldown(c, provider, 1, 3000);
      provider.last.resolve(undefined);
      await flush();
    });
  });

  describe('provider errors', () => {
    it('fails waiters with ProviderError whose cause is what the provider threw', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const a = track(c.reportRejected(1, accessDenied()));
      const b = track(c.reportRejected(1, accessDenied()));
      const thrown = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8200'), { code: 'ECONNREFUSED' });
      provider.last.reject(thrown);
      await flush();
      assert.ok(a.error instanceof ProviderError);
      assert.equal(a.error.cause, thrown);
      assert.equal(a.error.provider, PROVIDER_NAME);
      assert.match(a.error.message, /ECONNREFUSED/);
      assert.equal(b.error, a.error);
    });

    it('keeps the last good credentials current after a provider error', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const before = c.current;
      track(c.reportRejected(1, accessDenied()));
      provider.last.reject(new Error('vault is sealed'));
      await flush();
      assert.equal(c.current, before);
      assert.equal(c.generation, 1);
      assert.equal(c.current?.credentials.password, passwordOf(1));
      assert.equal((await c.acquire()).generation, 1);
    });

    it('emits rotation-error with the error, the reason and the provider name', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const events = recordEvents(c);
      const result = track(c.reportRejected(1, accessDenied()));
      provider.last.reject(new Error('vault is sealed'));
      await flush();
      assert.equal(events.errors.length, 1);
      const [error, info] = events.errors[0];
      assert.equal(error, result.error);
      assert.deepEqual(info, { reason: 'rejected', provider: PROVIDER_NAME });
    });

    it('treats a provider that throws synchronously like one that rejects', async () => {
      const thrown = new Error('no token');
      let calls = 0;
      const provider: CredentialsProvider = {
        name: PROVIDER_NAME,
        getCredentials() {
          calls += 1;
          if (calls > 1) throw thrown;
          return Promise.resolve(creds(1));
        },
      };
      const c = coordinator(provider);
      await c.acquire();
      await assert.rejects(c.reportRejected(1, accessDenied()), (error: unknown) => {
        assert.ok(error instanceof ProviderError);
        assert.equal(error.cause, thrown);
        return true;
      });
      assert.equal(c.generation, 1);
    });

    it('passes a credswap error thrown by the provider through unchanged', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const result = track(c.reportRejected(1, accessDenied()));
      const own = new InvalidCredentialsError('file:/etc/db.json', "'user' must be a non-empty string", { key: 'user' });
      provider.last.reject(own);
      await flush();
      assert.equal(result.error, own);
    });

    it('fails with InvalidCredentialsError, without the password, when the provider returns no user', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const events = recordEvents(c);
      const result = track(c.reportRejected(1, accessDenied()));
      provider.last.resolve({ password: passwordOf(2) } as Credentials);
      await flush();
      assert.ok(result.error instanceof InvalidCredentialsError);
      assert.equal(result.error.key, 'user');
      assert.ok(result.error.message.includes(PROVIDER_NAME));
      assert.ok(!result.error.message.includes(passwordOf(2)));
      assert.ok(!inspect(result.error).includes(passwordOf(2)));
      assert.equal(c.current?.credentials.password, passwordOf(1));
      assert.equal(events.errors[0]?.[0], result.error);
    });

    it('fails with InvalidCredentialsError, without the value, when the password is not a string', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const result = track(c.reportRejected(1, accessDenied()));
      provider.last.resolve({ user: 'app', password: 73_519_264 } as unknown as Credentials);
      await flush();
      assert.ok(result.error instanceof InvalidCredentialsError);
      assert.equal(result.error.key, 'password');
      assert.ok(!result.error.message.includes('73519264'));
      assert.equal(c.generation, 1);
    });
  });

  describe('expiring credentials', () => {
    it('refreshes refreshBeforeExpiryMs before expiresAt, within 10% jitter', async () => {
      const provider = new ControlledProvider();
      const expiresAt = T0 + 3_600_000;
      const c = await started(provider, { refreshBeforeExpiryMs: 60_000 }, creds(1, { expiresAt }));
      // Due between expiresAt - 66 s and expiresAt - 60 s.
      await clock.tickAsync(expiresAt - 66_000 - 2 - Date.now());
      assert.equal(provider.calls.length, 1, 'refreshed too early');
      await clock.tickAsync(expiresAt - 60_000 - Date.now());
      assert.equal(provider.calls.length, 2, 'not refreshed by expiresAt - refreshBeforeExpiryMs');
      assert.deepEqual(provider.last.context, { reason: 'expiring' });
      assert.equal(provider.last.current, c.current?.credentials);
      provider.last.resolve(creds(2, { expiresAt: Date.now() + 3_600_000 }));
      await flush();
      assert.equal(c.generation, 2);
    });

    it('refreshes short-lived credentials at about two thirds of their lifetime', async () => {
      const provider = new ControlledProvider();
      const expiresAt = T0 + 30_000; // lifetime 30 s < refreshBeforeExpiryMs: refresh 10 s (+ jitter) before
      await started(provider, { refreshBeforeExpiryMs: 60_000 }, creds(1, { expiresAt }));
      await clock.tickAsync(19_000 - 2);
      assert.equal(provider.calls.length, 1, 'refreshed too early');
      await clock.tickAsync(T0 + 20_000 - Date.now());
      assert.equal(provider.calls.length, 2, 'not refreshed at two thirds of the lifetime');
      assert.deepEqual(provider.last.context, { reason: 'expiring' });
      provider.last.resolve(creds(2));
      await flush();
    });

    it('starts a new generation with reason "expiring" when the refresh brings new credentials', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { refreshBeforeExpiryMs: 10_000 }, creds(1, { expiresAt: T0 + 60_000 }));
      const events = recordEvents(c);
      await clock.tickAsync(50_000);
      const newExpiry = new Date(T0 + 120_000);
      provider.last.resolve(creds(2, { expiresAt: newExpiry }));
      await flush();
      assert.equal(c.generation, 2);
      assert.equal(events.rotate[0]?.reason, 'expiring');
      assert.equal(events.rotate[0]?.expiresAt, newExpiry.getTime());
      assert.equal(c.current?.credentials.expiresAt, newExpiry.getTime());
    });

    it('keeps the generation when the same credentials come back with a later expiresAt, and reschedules the refresh', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { refreshBeforeExpiryMs: 60_000 }, creds(1, { expiresAt: T0 + 30_000 }));
      const events = recordEvents(c);
      await clock.tickAsync(20_000);
      assert.equal(provider.calls.length, 2);
      provider.last.resolve(creds(1, { expiresAt: T0 + 50_000 })); // the lease was renewed
      await flush();
      assert.equal(c.generation, 1);
      assert.deepEqual(events.rotate, []);
      assert.equal(c.current?.credentials.expiresAt, T0 + 50_000);
      // New lifetime 30 s from now: next refresh between T0 + 39 s and T0 + 40 s.
      await clock.tickAsync(T0 + 39_000 - 2 - Date.now());
      assert.equal(provider.calls.length, 2, 'refreshed before the rescheduled time');
      await clock.tickAsync(T0 + 40_000 - Date.now());
      assert.equal(provider.calls.length, 3, 'the refresh was not rescheduled');
      provider.last.resolve(creds(2));
      await flush();
    });

    it('retries a failed refresh with backoff while the credentials are still valid', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { refreshBeforeExpiryMs: 60_000, cooldownMs: 1000 }, creds(1, { expiresAt: T0 + 30_000 }));
      const events = recordEvents(c);
      await clock.tickAsync(20_000);
      assert.equal(provider.calls.length, 2);
      provider.last.reject(new Error('vault is sealed'));
      await flush();
      assert.equal(events.errors.length, 1);
      assert.deepEqual(events.errors[0]?.[1], { reason: 'expiring', provider: PROVIDER_NAME });
      await clock.tickAsync(499);
      assert.equal(provider.calls.length, 2, 'retried before the backoff');
      await clock.tickAsync(501);
      assert.equal(provider.calls.length, 3, 'not retried after the backoff');
      assert.deepEqual(provider.last.context, { reason: 'expiring' });
      provider.last.resolve(creds(2));
      await flush();
      assert.equal(c.generation, 2);
    });

    it('asks again with backoff when a refresh brings nothing new', async () => {
      const provider = new ControlledProvider();
      await started(provider, { refreshBeforeExpiryMs: 60_000, cooldownMs: 1000 }, creds(1, { expiresAt: T0 + 30_000 }));
      await clock.tickAsync(20_000);
      provider.last.resolve(undefined);
      await flush();
      await clock.tickAsync(1000);
      assert.equal(provider.calls.length, 3);
      assert.deepEqual(provider.last.context, { reason: 'expiring' });
      provider.last.resolve(creds(2));
      await flush();
    });

    it('stops retrying a failed refresh once the credentials have expired', async () => {
      const provider = new ControlledProvider();
      const expiresAt = T0 + 3_000;
      await started(provider, { refreshBeforeExpiryMs: 60_000, cooldownMs: 100, timeoutMs: 50 }, creds(1, { expiresAt }));
      for (let t = 0; t < 10_000; t += 10) {
        await clock.tickAsync(10);
        for (const call of provider.calls.slice(1)) call.reject(new Error('vault is sealed'));
      }
      const refreshes = provider.calls.slice(1);
      assert.ok(refreshes.length >= 2, `expected retries, got ${refreshes.length} call(s)`);
      for (const call of refreshes) {
        assert.deepEqual(call.context, { reason: 'expiring' });
        assert.ok(call.at <= expiresAt, `a refresh ran ${call.at - expiresAt} ms after expiry`);
      }
      assert.equal(clock.countTimers(), 0);
    });

    it('does not lose a refresh that falls due while another provider call is in flight', async () => {
      const provider = new ControlledProvider();
      const c = await started(
        provider,
        { refreshBeforeExpiryMs: 60_000, cooldownMs: 1000, timeoutMs: 30_000 },
        creds(1, { expiresAt: T0 + 30_000 }),
      );
      await clock.tickAsync(18_000);
      track(c.refresh()); // still running when the expiry refresh falls due (at 19-20 s)
      await clock.tickAsync(2000);
      assert.equal(provider.calls.length, 2);
      provider.last.resolve(undefined);
      await flush();
      await clock.tickAsync(1000);
      assert.equal(provider.calls.length, 3, 'the expiry refresh was never retried');
      assert.deepEqual(provider.last.context, { reason: 'expiring' });
      provider.last.resolve(creds(2));
      await flush();
      assert.equal(c.generation, 2);
    });
  });

  describe('pushed changes', () => {
    it('subscribes to the provider once the first credentials arrived', async () => {
      const provider = new PushingProvider();
      const c = coordinator(provider);
      const first = quiet(c.acquire());
      assert.equal(provider.subscribeCalls, 0);
      provider.last.resolve(creds(1));
      await first;
      assert.equal(provider.subscribeCalls, 1);
      const rotated = quiet(c.reportRejected(1, accessDenied()));
      provider.last.resolve(creds(2));
      await rotated;
      assert.equal(provider.subscribeCalls, 1);
    });

    it('starts a new generation with reason "push" when the provider pushes new credentials', async () => {
      const provider = new PushingProvider();
      const c = await started(provider);
      const events = recordEvents(c);
      provider.push(creds(2));
      assert.equal(c.generation, 2);
      assert.equal(c.current?.credentials.password, passwordOf(2));
      assert.equal(events.rotate.length, 1);
      assert.equal(events.rotate[0]?.reason, 'push');
      assert.equal(events.rotate[0]?.previousGeneration, 1);
      assert.equal(provider.calls.length, 1, 'a push needs no provider call');
    });

    it('ignores a push of identical credentials', async () => {
      const provider = new PushingProvider();
      const c = await started(provider);
      const events = recordEvents(c);
      const before = c.current;
      provider.push(creds(1));
      assert.equal(c.generation, 1);
      assert.equal(c.current, before);
      assert.deepEqual(events.rotate, []);
    });

    it('reschedules the refresh without a new generation when a push changes only expiresAt', async () => {
      const provider = new PushingProvider();
      const c = await started(provider, { refreshBeforeExpiryMs: 60_000 }, creds(1, { expiresAt: T0 + 30_000 }));
      const events = recordEvents(c);
      await clock.tickAsync(10_000);
      provider.push(creds(1, { expiresAt: T0 + 70_000 })); // renewed: 60 s from now
      assert.equal(c.generation, 1);
      assert.deepEqual(events.rotate, []);
      assert.equal(c.current?.credentials.expiresAt, T0 + 70_000);
      // Old schedule: about T0 + 20 s. New one: between T0 + 48 s and T0 + 50 s.
      await clock.tickAsync(T0 + 48_000 - 2 - Date.now());
      assert.equal(provider.calls.length, 1, 'refreshed on the old schedule');
      await clock.tickAsync(T0 + 50_000 - Date.now());
      assert.equal(provider.calls.length, 2, 'not refreshed on the new schedule');
      provider.last.resolve(creds(2));
      await flush();
    });

    it('gives the waiters of a call in flight the pushed credentials and ignores the call’s late result', async () => {
      const provider = new PushingProvider();
      const c = await started(provider);
      const waiters = Array.from({ length: 10 }, () => track(c.reportRejected(1, accessDenied())));
      const call = provider.last;
      provider.push(creds(2));
      await flush();
      for (const w of waiters) {
        assert.equal(w.status, 'resolved');
        assert.equal(w.value?.generation, 2);
        assert.equal(w.value?.credentials.password, passwordOf(2));
      }
      assert.equal(call.signal.aborted, true);
      call.resolve(creds(3));
      await flush();
      assert.equal(c.generation, 2);
      assert.equal(c.current?.credentials.password, passwordOf(2));
    });

    it('reports invalid pushed credentials as a rotation-error and keeps the current ones', async () => {
      const provider = new PushingProvider();
      const c = await started(provider);
      const events = recordEvents(c);
      provider.push({ user: '', password: passwordOf(2) });
      assert.equal(c.generation, 1);
      assert.equal(events.errors.length, 1);
      const [error, info] = events.errors[0];
      assert.ok(error instanceof InvalidCredentialsError);
      assert.ok(!error.message.includes(passwordOf(2)));
      assert.deepEqual(info, { reason: 'push', provider: PROVIDER_NAME });
    });

    it('reports an error from the provider’s watch as a rotation-error', async () => {
      const provider = new PushingProvider();
      const c = await started(provider);
      const events = recordEvents(c);
      const watchError = new Error('EMFILE: too many open files, watch');
      provider.fail(watchError);
      assert.equal(events.errors.length, 1);
      assert.equal(events.errors[0]?.[0], watchError);
      assert.deepEqual(events.errors[0]?.[1], { reason: 'push', provider: PROVIDER_NAME });
    });
  });

  describe('close()', () => {
    it('aborts the call in flight; its waiters get ClosedError', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const waiters = Array.from({ length: 5 }, () => track(c.reportRejected(1, accessDenied())));
      const { signal } = provider.last;
      await c.close();
      await flush();
      for (const w of waiters) assert.ok(w.error instanceof ClosedError, String(w.error));
      assert.equal(signal.aborted, true);
      assert.ok(signal.reason instanceof ClosedError);
    });

    it('aborts a first fetch in flight', async () => {
      const provider = new ControlledProvider();
      const c = coordinator(provider);
      const first = track(c.acquire());
      await c.close();
      await flush();
      assert.ok(first.error instanceof ClosedError);
    });

    it('ignores the late result of a call aborted by close()', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const events = recordEvents(c);
      track(c.reportRejected(1, accessDenied()));
      await c.close();
      provider.last.resolve(creds(2));
      await flush();
      assert.equal(c.generation, 1);
      assert.deepEqual(events.rotate, []);
      assert.deepEqual(events.errors, []);
    });

    it('calls the provider’s close() and unsubscribes from it, once', async () => {
      const provider = new PushingProvider();
      const c = await started(provider);
      const closing = c.close();
      assert.equal(c.close(), closing);
      await closing;
      await c.close();
      assert.equal(provider.closeCalls, 1);
      assert.equal(provider.unsubscribeCalls, 1);
      assert.equal(c.closed, true);
    });

    it('ignores pushes after close()', async () => {
      const provider = new PushingProvider();
      const c = await started(provider);
      await c.close();
      provider.push(creds(2));
      assert.equal(c.generation, 1);
    });

    it('leaves no timers behind, even with a provider call hung in flight', async () => {
      const provider = new PushingProvider();
      const c = await started(provider, { timeoutMs: 5000 }, creds(1, { expiresAt: T0 + 3_600_000 }));
      track(c.reportRejected(1, accessDenied()));
      assert.ok(clock.countTimers() >= 2, 'expected a refresh timer and a timeout timer');
      await c.close();
      await flush();
      assert.equal(clock.countTimers(), 0);
    });

    it('leaves no timers behind while a failed refresh waits for its retry', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { refreshBeforeExpiryMs: 60_000 }, creds(1, { expiresAt: T0 + 30_000 }));
      await clock.tickAsync(20_000);
      provider.last.reject(new Error('vault is sealed'));
      await flush();
      assert.equal(clock.countTimers(), 1);
      await c.close();
      assert.equal(clock.countTimers(), 0);
    });

    it('rejects acquire(), reportRejected() and refresh() after close() with ClosedError', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      await c.close();
      await assert.rejects(c.acquire(), ClosedError);
      await assert.rejects(c.reportRejected(1, accessDenied()), ClosedError);
      await assert.rejects(c.reportRejected(0, accessDenied()), ClosedError);
      await assert.rejects(c.refresh(), ClosedError);
      assert.equal(provider.calls.length, 1);
    });

    it('reports a failing provider close() as a rotation-error instead of rejecting', async () => {
      const provider = new ControlledProvider();
      const thrown = new Error('lease revoke failed');
      provider.close = () => {
        throw thrown;
      };
      const c = await started(provider);
      const events = recordEvents(c);
      await c.close();
      assert.equal(events.errors.length, 1);
      const [error, info] = events.errors[0];
      assert.ok(error instanceof ProviderError);
      assert.equal(error.cause, thrown);
      assert.deepEqual(info, { reason: 'close', provider: PROVIDER_NAME });
    });

    it('reports a failing provider retire() as a rotation-error with the reason retire', async () => {
      const provider = new ControlledProvider();
      const thrown = new Error('lease revoke failed');
      const rejected = new Error('revoke refused');
      let calls = 0;
      const retiring = provider as ControlledProvider & { retire(): void | Promise<void> };
      retiring.retire = () => {
        calls += 1;
        if (calls === 1) throw thrown;
        return Promise.reject(rejected);
      };
      const c = await started(provider);
      const first = c.current!;
      const events = recordEvents(c);
      const refreshed = c.refresh();
      provider.last.resolve(creds(2));
      await refreshed;
      c.retire(first.generation, first.credentials);
      c.retire(first.generation, first.credentials);
      await flush();
      assert.deepEqual(
        events.errors.map(([error, info]) => [(error as ProviderError).cause, (info as { reason: string }).reason]),
        [
          [thrown, 'retire'],
          [rejected, 'retire'],
        ],
      );
    });
  });

  describe('rotate listeners that throw', () => {
    it('keeps the rotation: waiters get the new credentials and the generation advances once', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const events = recordEvents(c);
      const bug = new Error('the metrics client is not connected');
      c.on('rotate', () => {
        throw bug;
      });
      const a = track(c.reportRejected(1, accessDenied()));
      const b = track(c.reportRejected(1, accessDenied()));
      provider.last.resolve(creds(2));
      await flush();
      assert.equal(a.status, 'resolved', String(a.error));
      assert.equal(a.value?.generation, 2);
      assert.equal(b.value, a.value);
      assert.equal(c.generation, 2);
      assert.equal(events.rotate.length, 1);
      assert.equal(provider.calls.length, 2);
    });

    it('reports what the listener threw as a rotation-error with the reason listener, and not as a failed rotation', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const events = recordEvents(c);
      const bug = new Error('the metrics client is not connected');
      c.on('rotate', () => {
        throw bug;
      });
      const refreshed = track(c.refresh());
      provider.last.resolve(creds(2));
      await flush();
      assert.equal(refreshed.status, 'resolved');
      assert.deepEqual(events.errors, [[bug, { reason: 'listener', provider: PROVIDER_NAME }]]);
      // A successful manual refresh does not start a cooldown: the next rejection calls the provider.
      track(c.reportRejected(2, accessDenied()));
      assert.equal(provider.calls.length, 3);
    });

    it('still tells the listeners after the one that threw', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      c.on('rotate', () => {
        throw new Error('first listener');
      });
      const seen: number[] = [];
      c.once('rotate', (e: RotateEvent) => seen.push(e.generation));
      c.on('rotate', (e: RotateEvent) => seen.push(e.generation * 10));
      const refreshed = quiet(c.refresh());
      provider.last.resolve(creds(2));
      await refreshed;
      const again = quiet(c.refresh());
      provider.last.resolve(creds(3));
      await again;
      assert.deepEqual(seen, [2, 20, 30], 'the once listener runs once, the others each time');
    });

    it('keeps a first fetch whose rotate listener throws', async () => {
      const provider = new ControlledProvider();
      const c = coordinator(provider);
      const events = recordEvents(c);
      c.on('rotate', () => {
        throw new TypeError('listener bug');
      });
      const first = track(c.acquire());
      provider.last.resolve(creds(1));
      await flush();
      assert.equal(first.status, 'resolved', String(first.error));
      assert.equal(c.generation, 1);
      assert.deepEqual(
        events.errors.map(([, info]) => info),
        [{ reason: 'listener', provider: PROVIDER_NAME }],
      );
    });

    it('reports a throw during a pushed change with the reason listener, not push, and keeps the pushed credentials', async () => {
      const provider = new PushingProvider();
      const c = await started(provider);
      const events = recordEvents(c);
      c.on('rotate', () => {
        throw new Error('listener bug');
      });
      provider.push(creds(2));
      assert.equal(c.generation, 2);
      assert.equal(c.current?.credentials.password, passwordOf(2));
      assert.deepEqual(
        events.errors.map(([, info]) => info),
        [{ reason: 'listener', provider: PROVIDER_NAME }],
      );
    });

    it('rethrows what a rotation-error listener throws on the next tick, and keeps the rotation', async () => {
      const provider = new PushingProvider();
      const c = await started(provider);
      const listenerBug = new Error('rotate listener bug');
      const reporterBug = new Error('rotation-error listener bug');
      c.on('rotate', () => {
        throw listenerBug;
      });
      c.on('rotation-error', () => {
        throw reporterBug;
      });
      const deferred: Array<() => void> = [];
      const nextTick = process.nextTick;
      process.nextTick = ((fn: () => void) => {
        deferred.push(fn);
      }) as typeof process.nextTick;
      try {
        provider.push(creds(2)); // synchronous: every listener runs before it returns
      } finally {
        process.nextTick = nextTick;
      }
      assert.equal(c.generation, 2);
      const [rethrow] = deferred;
      assert.equal(deferred.length, 1);
      assert.throws(
        () => rethrow?.(),
        (error: unknown) => error === reporterBug,
      );
    });

    it('wraps a thrown value that is not an Error, without showing it', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const events = recordEvents(c);
      c.on('rotate', () => {
        throw passwordOf(9);
      });
      const refreshed = quiet(c.refresh());
      provider.last.resolve(creds(2));
      await refreshed;
      const [error] = events.errors[0] ?? [];
      assert.ok(error instanceof Error);
      assert.ok(!inspect(error).includes(passwordOf(9)));
    });
  });

  describe('programmer errors', () => {
    const bugs: Array<() => Error> = [
      () => new TypeError("Cannot read properties of undefined (reading 'password')"),
      () => new ReferenceError('secretId is not defined'),
      () => new SyntaxError('Invalid regular expression: /(/: Unterminated group'),
      () => new RangeError('Invalid time value'),
    ];

    for (const make of bugs) {
      it(`fails every waiter at once with a ProviderError for a ${make().name}, and calls the provider again on the next rejection`, async () => {
        const provider = new ControlledProvider();
        const c = await started(provider, { cooldownMs: 1000 });
        const events = recordEvents(c);
        const a = track(c.reportRejected(1, accessDenied()));
        const b = track(c.reportRejected(1, accessDenied()));
        const bug = make();
        provider.last.reject(bug);
        await flush();
        assert.ok(a.error instanceof ProviderError);
        assert.equal(a.error.cause, bug);
        assert.match(a.error.message, /bug in the provider/);
        assert.match(a.error.message, new RegExp(bug.name));
        assert.equal(b.error, a.error);
        assert.deepEqual(events.errors, [[a.error, { reason: 'rejected', provider: PROVIDER_NAME }]]);
        // No cooldown: the next caller gets the provider's answer, not "cooling down".
        const next = track(c.reportRejected(1, accessDenied()));
        assert.equal(provider.calls.length, 3);
        provider.last.reject(make());
        await flush();
        assert.ok(next.error instanceof ProviderError);
        assert.equal(events.errors.length, 2, 'each one is reported');
      });
    }

    it('treats a synchronous throw like a rejection, and lets the next acquire() call the provider at once', async () => {
      let calls = 0;
      const c = coordinator({
        name: PROVIDER_NAME,
        getCredentials() {
          calls += 1;
          if (calls === 1) throw new TypeError('options.secretId.trim is not a function');
          return Promise.resolve(creds(1));
        },
      });
      await assert.rejects(c.acquire(), (error: unknown) => error instanceof ProviderError && error.cause instanceof TypeError);
      const second = await c.acquire();
      assert.equal(second.generation, 1);
      assert.equal(calls, 2);
    });

    it('does not retry a refresh before expiry that failed with one', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { refreshBeforeExpiryMs: 60_000, cooldownMs: 1000 }, creds(1, { expiresAt: T0 + 30_000 }));
      const events = recordEvents(c);
      await clock.tickAsync(20_000);
      assert.equal(provider.calls.length, 2);
      provider.last.reject(new TypeError("Cannot read properties of undefined (reading 'SecretString')"));
      await flush();
      assert.equal(events.errors.length, 1);
      assert.equal(clock.countTimers(), 0, 'a retry is scheduled');
      await clock.tickAsync(60_000);
      assert.equal(provider.calls.length, 2);
    });

    it('still keeps refused credentials from another login during the cooldown, so the account cannot lock', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { cooldownMs: 1000 });
      const ticket = await c.logins.enter(1);
      ticket.refused(accessDenied());
      const rejected = track(c.reportRejected(1, accessDenied()));
      provider.last.reject(new TypeError('x is not a function'));
      await flush();
      assert.ok(rejected.error instanceof ProviderError);
      await assert.rejects(c.logins.enter(1), (error: unknown) => (error as AccessDenied).errno === 1045);
    });

    it('passes an InvalidOptionError thrown by the provider through unchanged, without a cooldown', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider);
      const own = new InvalidOptionError('SecretsManagerProvider.secretId', 'is required');
      const a = track(c.reportRejected(1, accessDenied()));
      provider.last.reject(own);
      await flush();
      assert.equal(a.error, own);
      track(c.reportRejected(1, accessDenied()));
      assert.equal(provider.calls.length, 3);
    });

    it("backs off a network failure that undici reports as TypeError('fetch failed') with a cause", async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { cooldownMs: 1000 });
      const outage = new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8200'), { code: 'ECONNREFUSED' }),
      });
      const a = track(c.reportRejected(1, accessDenied()));
      provider.last.reject(outage);
      await flush();
      assert.ok(a.error instanceof ProviderError);
      assert.doesNotMatch(a.error.message, /bug/);
      const original = accessDenied();
      const blocked = track(c.reportRejected(1, original));
      await flush();
      assert.equal(provider.calls.length, 2, 'the provider was called inside the cooldown');
      assertAccessDenied(blocked.error, original, /cooling down/);
    });

    it('backs off a SyntaxError about JSON: a body that is not JSON, such as a proxy’s error page', async () => {
      const provider = new ControlledProvider();
      const c = await started(provider, { cooldownMs: 1000 });
      let parseError: unknown;
      try {
        JSON.parse('<html>502 Bad Gateway</html>');
      } catch (error) {
        parseError = error;
      }
      track(c.reportRejected(1, accessDenied()));
      provider.last.reject(parseError);
      await flush();
      track(c.reportRejected(1, accessDenied()));
      assert.equal(provider.calls.length, 2, 'the provider was called inside the cooldown');
    });
  });

  describe('events', () => {
    it('describes a rotation with generation, previous generation, reason, provider, user and fingerprint', async () => {
      const provider = new ControlledProvider();
      const c = coordinator(provider);
      const events = recordEvents(c);
      const first = quiet(c.acquire());
      provider.last.resolve(creds(1));
      await first;
      const rotated = quiet(c.reportRejected(1, accessDenied()));
      const expiresAt = T0 + 3_600_000;
      provider.last.resolve({ user: 'app_v2', password: passwordOf(2), host: 'db.internal', expiresAt });
      await rotated;
      assert.deepEqual(events.rotate, [
        {
          generation: 1,
          previousGeneration: 0,
          reason: 'initial',
          provider: PROVIDER_NAME,
          user: 'app',
          fingerprint: fingerprint(creds(1)),
        },
        {
          generation: 2,
          previousGeneration: 1,
          reason: 'rejected',
          provider: PROVIDER_NAME,
          user: 'app_v2',
          fingerprint: fingerprint({ user: 'app_v2', password: passwordOf(2), host: 'db.internal' }),
          expiresAt,
        },
      ]);
      assert.match(events.rotate[1].fingerprint, /^[0-9a-f]{8}$/);
      assert.notEqual(events.rotate[0].fingerprint, events.rotate[1].fingerprint);
    });

    it('never reveals a password in any emitted payload', async () => {
      const provider = new PushingProvider();
      const c = coordinator(provider, { refreshBeforeExpiryMs: 10_000, timeoutMs: 1000, cooldownMs: 0 });
      const payloads: unknown[][] = [];
      c.on('rotate', (...args: unknown[]) => payloads.push(args));
      c.on('rotation-error', (...args: unknown[]) => payloads.push(args));
      // initial
      const first = quiet(c.acquire());
      provider.last.resolve(creds(1, { host: 'db.internal', port: 3306, database: 'shop' }));
      await first;
      // rejected
      const rejected = quiet(c.reportRejected(1, accessDenied()));
      provider.last.resolve(creds(2));
      await rejected;
      // push, then expiring
      provider.push(creds(3, { expiresAt: T0 + 60_000 }));
      await clock.tickAsync(50_000);
      assert.deepEqual(provider.last.context, { reason: 'expiring' });
      provider.last.resolve(creds(4));
      await flush();
      // invalid credentials, a provider error, then manual
      const invalid = track(c.refresh());
      provider.last.resolve({ password: passwordOf(6) } as Credentials);
      await flush();
      const failed = track(c.refresh());
      provider.last.reject(new Error('vault is sealed'));
      await flush();
      const manual = track(c.refresh());
      provider.last.resolve(creds(5));
      await flush();
      // a timeout
      const timedOut = track(c.reportRejected(c.generation, accessDenied()));
      await clock.tickAsync(1000);
      assert.deepEqual(
        [invalid, failed, manual, timedOut].map((t) => t.status),
        ['rejected', 'rejected', 'resolved', 'rejected'],
      );
      const rotateReasons = payloads.map(([first]) => (first as Partial<RotateEvent>).reason).filter(Boolean);
      assert.deepEqual(rotateReasons, ['initial', 'rejected', 'push', 'expiring', 'manual']);
      assert.equal(payloads.length, 8);
      for (const payload of payloads) {
        const texts = [
          JSON.stringify(payload),
          inspect(payload, { depth: Infinity }),
          inspect(payload, { depth: Infinity, showHidden: true }),
        ];
        for (const text of texts) {
          for (let n = 1; n <= 6; n++) assert.ok(!text.includes(passwordOf(n)), `payload reveals password ${n}: ${text}`);
        }
      }
    });
  });

  describe('options', () => {
    const provider = (): CredentialsProvider => new ControlledProvider();

    function assertInvalidOption(build: () => unknown, option: string, notInMessage?: string): void {
      assert.throws(build, (error: unknown) => {
        assert.ok(error instanceof InvalidOptionError, String(error));
        assert.ok(error instanceof TypeError);
        assert.equal(error.option, option);
        assert.ok(error.message.includes(`'${option}'`), error.message);
        if (notInMessage !== undefined) assert.ok(!error.message.includes(notInMessage), error.message);
        return true;
      });
    }

    it('rejects an unknown option, naming it', () => {
      assertInvalidOption(() => new RotationCoordinator({ provider: provider(), timeout: 5000 } as never), 'timeout');
    });

    it('rejects a negative timeoutMs, naming it', () => {
      assertInvalidOption(() => new RotationCoordinator({ provider: provider(), timeoutMs: -1 }), 'timeoutMs');
    });

    it('rejects a timeoutMs of 0', () => {
      assertInvalidOption(() => new RotationCoordinator({ provider: provider(), timeoutMs: 0 }), 'timeoutMs');
    });

    it('rejects a duration of the wrong type, naming it without echoing the value', () => {
      assertInvalidOption(() => new RotationCoordinator({ provider: provider(), cooldownMs: 'hunter2' } as never), 'cooldownMs', 'hunter2');
      assertInvalidOption(() => new RotationCoordinator({ provider: provider(), maxCooldownMs: Number.NaN }), 'maxCooldownMs');
      assertInvalidOption(
        () => new RotationCoordinator({ provider: provider(), refreshBeforeExpiryMs: Infinity }),
        'refreshBeforeExpiryMs',
      );
    });

    it('rejects a missing or malformed provider', () => {
      assertInvalidOption(() => new RotationCoordinator({} as never), 'provider');
      assertInvalidOption(() => new RotationCoordinator({ provider: { getCredentials: () => undefined } } as never), 'provider');
    });

    it('rejects options that are not an object', () => {
      assertInvalidOption(() => new RotationCoordinator(undefined as never), 'coordinator options');
      assertInvalidOption(() => new RotationCoordinator([] as never), 'coordinator options');
    });

    it('accepts a hot-swap function as the provider, named after the function', async () => {
      const c = coordinator(async function vaultLookup() {
        return creds(1);
      } as never);
      assert.equal(c.provider.name, 'function:vaultLookup');
      assert.equal((await c.acquire()).credentials.password, passwordOf(1));
    });
  });
});
