import assert from 'node:assert/strict';
import sinon from 'sinon';
import type { Credentials } from '../lib/credentials.js';
import { Poller, intervalDelay } from '../lib/poller.js';

const CREDS: Credentials = { user: 'app', password: 'pw' };

describe('Poller', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => (clock = sinon.useFakeTimers()));
  afterEach(() => clock.restore());

  function poller(
    look: () => Promise<Credentials | undefined>,
    extra: { isRetryable?: (e: unknown) => boolean; onActive?: (a: boolean) => void } = {},
  ) {
    const delays: number[] = [];
    const p = new Poller({
      nextDelay: (failures) => {
        delays.push(failures);
        return 100;
      },
      look,
      toError: () => new Error('not an Error'),
      ...extra,
    });
    return { p, delays };
  }

  it('looks every interval and hands new credentials to every subscriber', async () => {
    const { p } = poller(async () => CREDS);
    const a = sinon.spy();
    const b = sinon.spy();
    p.subscribe(a, () => {});
    p.subscribe(b, () => {});
    await clock.tickAsync(100);
    assert.equal(a.callCount, 1);
    assert.equal(b.callCount, 1);
    await clock.tickAsync(100);
    assert.equal(a.callCount, 2);
    p.close();
  });

  it('counts retryable failures for the backoff and resets on one that is not', async () => {
    let fail: Error | undefined = new Error('retry me');
    const { p, delays } = poller(
      async () => {
        if (fail) throw fail;
        return undefined;
      },
      { isRetryable: (e) => (e as Error).message === 'retry me' },
    );
    const errors: Error[] = [];
    p.subscribe(
      () => {},
      (e) => errors.push(e),
    );
    await clock.tickAsync(100);
    await clock.tickAsync(100);
    fail = new Error('configuration');
    await clock.tickAsync(100);
    fail = undefined;
    await clock.tickAsync(100);
    assert.deepEqual(delays, [0, 1, 2, 0, 0]);
    assert.deepEqual(
      errors.map((e) => e.message),
      ['retry me', 'retry me', 'configuration'],
    );
    p.close();
  });

  it('sends what one subscriber’s onChange throws to that subscriber’s onError only', async () => {
    const { p } = poller(async () => CREDS);
    const boom = new Error('boom');
    const onErrorA = sinon.spy();
    const onErrorB = sinon.spy();
    p.subscribe(() => {
      throw boom;
    }, onErrorA);
    p.subscribe(() => {}, onErrorB);
    await clock.tickAsync(100);
    assert.deepEqual(onErrorA.args, [[boom]]);
    assert.equal(onErrorB.callCount, 0);
    p.close();
  });

  it('stops when the last subscriber leaves, telling onActive, and never looks after close()', async () => {
    const look = sinon.spy(async () => undefined);
    const active: boolean[] = [];
    const { p } = poller(look, { onActive: (a) => active.push(a) });
    const unsubscribe = p.subscribe(
      () => {},
      () => {},
    );
    unsubscribe();
    unsubscribe();
    await clock.tickAsync(1_000);
    assert.equal(look.callCount, 0);
    p.subscribe(
      () => {},
      () => {},
    );
    p.close();
    await clock.tickAsync(1_000);
    assert.equal(look.callCount, 0);
    assert.deepEqual(active, [true, false, true, false]);
  });

  it('intervalDelay: between half and all of the interval, a capped backoff after failures, nothing for 0', () => {
    const delay = intervalDelay(1_000, 100);
    for (let i = 0; i < 50; i++) {
      const d = delay(0)!;
      assert.ok(d >= 500 && d <= 1_000, String(d));
      const b = delay(20)!;
      assert.ok(b >= 500 && b <= 1_000, String(b));
    }
    assert.ok(delay(1)! <= 100);
    assert.equal(intervalDelay(0, 100)(0), undefined);
  });
});
