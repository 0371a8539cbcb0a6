import assert from 'node:assert/strict';
import sinon from 'sinon';
import { RotationCoordinator } from '../lib/coordinator.js';
import type { Credentials } from '../lib/credentials.js';
import { RotationTimeoutError } from '../lib/errors.js';
import type { CredentialsProvider, FetchContext } from '../lib/provider.js';

// Real timers: what is under test is whether a timer keeps the process alive, which only Node's
// own timers know. Nothing here waits for a timer to fire except the timeout test (50 ms).

/** A distinctive timeoutMs, to find the flight's timer among the others. */
const TIMEOUT_MS = 7_777;

/** Records the timers created with {@link TIMEOUT_MS}, real ones. */
function watchFlightTimers(): { readonly timers: NodeJS.Timeout[] } {
  const timers: NodeJS.Timeout[] = [];
  const spy = sinon.spy(globalThis, 'setTimeout');
  afterEachRestore.push(() => spy.restore());
  return {
    get timers() {
      for (const call of spy.getCalls()) {
        if (call.args[1] === TIMEOUT_MS && !timers.includes(call.returnValue)) timers.push(call.returnValue);
      }
      return timers;
    },
  };
}
const afterEachRestore: Array<() => void> = [];

/** Returns `promise`, marked as handled so that a failing assertion cannot leave it unhandled. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

interface Call {
  readonly context: FetchContext;
  resolve(value: Credentials | undefined): void;
}

/** A provider whose calls stay pending until the test settles them; `called` resolves at each call. */
class PendingProvider implements CredentialsProvider {
  readonly name = 'pending';
  readonly calls: Call[] = [];
  #onCall: (() => void) | undefined;

  getCredentials(_signal: AbortSignal, _current: unknown, context: FetchContext): Promise<Credentials | undefined> {
    return new Promise((resolve) => {
      this.calls.push({ context, resolve });
      this.#onCall?.();
    });
  }

  /** Resolves at the next call. */
  nextCall(): Promise<void> {
    return new Promise((resolve) => (this.#onCall = resolve));
  }
}

describe('a provider call (flight)', () => {
  let coordinators: RotationCoordinator[];

  beforeEach(() => {
    coordinators = [];
  });

  afterEach(async () => {
    for (const restore of afterEachRestore.splice(0)) restore();
    for (const c of coordinators) await c.close();
  });

  function coordinator(provider: CredentialsProvider, timeoutMs = TIMEOUT_MS): RotationCoordinator {
    const c = new RotationCoordinator({ provider, timeoutMs });
    coordinators.push(c);
    return c;
  }

  it('keeps the process alive while a caller waits for the first credentials, and no longer', async () => {
    const provider = new PendingProvider();
    const c = coordinator(provider);
    const flights = watchFlightTimers();
    const acquired = quiet(c.acquire());
    assert.equal(flights.timers.length, 1);
    const [timer] = flights.timers;
    assert.equal(timer.hasRef(), true, 'nothing keeps the process alive while acquire() waits');
    assert.ok(process.getActiveResourcesInfo().includes('Timeout'));
    provider.calls[0].resolve({ user: 'app', password: 'Zq9!xK#7vPmW' });
    await acquired; // that the timer is then cleared: coordinator.test.ts, 'leaves no timer behind …'
  });

  it('keeps the process alive while a rejected login waits for new credentials', async () => {
    const provider = new PendingProvider();
    const c = coordinator(provider);
    const first = c.acquire();
    provider.calls[0].resolve({ user: 'app', password: 'Zq9!xK#7vPmW' });
    await first;
    const flights = watchFlightTimers();
    const rejected = quiet(c.reportRejected(1, new Error('Access denied')));
    assert.equal(flights.timers[0]?.hasRef(), true);
    provider.calls[1].resolve({ user: 'app', password: 'Hy4$rT@2nLcB' });
    assert.equal((await rejected).generation, 2);
  });

  it('answers a waiting caller with RotationTimeoutError at timeoutMs when the provider never answers', async () => {
    const provider = new PendingProvider();
    const c = coordinator(provider, 50);
    await assert.rejects(c.acquire(), RotationTimeoutError);
  });

  it('does not keep the process alive for a refresh before expiry that nobody waits for', async () => {
    const provider = new PendingProvider();
    const c = coordinator(provider);
    const first = c.acquire();
    // Expires in 300 ms: the refresh falls due at about two thirds of that.
    provider.calls[0].resolve({ user: 'app', password: 'Zq9!xK#7vPmW', expiresAt: Date.now() + 300 });
    await first;
    const flights = watchFlightTimers();
    const called = provider.nextCall();
    const keepAlive = setInterval(() => {}, 1000); // the refresh timer itself is unref'd: keep the test running
    try {
      await called;
    } finally {
      clearInterval(keepAlive);
    }
    assert.deepEqual(provider.calls[1]?.context, { reason: 'expiring' });
    assert.equal(flights.timers.length, 1);
    assert.equal(flights.timers[0].hasRef(), false, 'a background refresh keeps the process alive');
  });
});
