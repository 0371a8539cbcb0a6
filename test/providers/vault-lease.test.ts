import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import sinon from 'sinon';
import { sealCredentials } from '../../lib/credentials.js';
import { canRenew, effectiveExpiresAt, isFinal, sentNow, setEnd, timeLeft, type Lease, type SentAt } from '../../providers/vault/lease.js';

const WALL_START = Date.UTC(2030, 0, 1);

describe('credswap/vault: a lease and its clock', function () {
  let clock: sinon.SinonFakeTimers;

  beforeEach(function () {
    clock = sinon.useFakeTimers({ now: WALL_START, toFake: ['Date', 'performance', 'setTimeout', 'clearTimeout'] });
  });

  afterEach(function () {
    clock.restore();
  });

  /** A lease of `durationS` whose request was sent at `sent`, as the keeper makes it. */
  function issue(durationS: number, fields: Partial<Lease> = {}, sent: SentAt = sentNow()): Lease {
    const lease: Lease = {
      leaseId: 'database/creds/app/abc',
      user: 'v-app-abc',
      password: 'lease-password',
      incrementS: durationS,
      renewable: true,
      tokenSerial: 1,
      endsAt: Number.POSITIVE_INFINITY,
      expiresAt: Number.POSITIVE_INFINITY,
      capped: false,
      tokenEndsAt: undefined,
      state: 'active',
      rejected: false,
      credentials: sealCredentials({ user: 'v-app-abc', password: 'lease-password' }, 'test'),
      renewing: undefined,
      renewTimer: undefined,
      endTimer: undefined,
      failures: 0,
      ...fields,
    };
    setEnd(lease, sent, durationS);
    return lease;
  }

  describe('its end', function () {
    it('ends lease_duration after the request was sent, on both clocks', function () {
      const sent = sentNow();
      clock.tick(2_000); // the answer took 2 s

      const lease = issue(60, {}, sent);

      assert.equal(lease.expiresAt, WALL_START + 60_000);
      assert.equal(timeLeft(lease), 58_000);
    });

    it('counts down with the monotonic clock', function () {
      const lease = issue(60);

      clock.tick(45_000);

      assert.equal(timeLeft(lease), 15_000);
    });

    it('is not moved by a jump of the wall clock after it was issued', function () {
      const lease = issue(60);

      clock.setSystemTime(WALL_START + 3_600_000);

      assert.equal(timeLeft(lease), 60_000);
      assert.equal(effectiveExpiresAt(lease), WALL_START + 60_000);
    });

    it('is negative once the lease is over', function () {
      const lease = issue(10);

      clock.tick(12_000);

      assert.equal(timeLeft(lease), -2_000);
    });

    it('moves to the new duration after a renewal, counted from when the renewal was sent', function () {
      const lease = issue(60);
      clock.tick(40_000);
      const sent = sentNow();
      clock.tick(500);

      setEnd(lease, sent, 60);

      assert.equal(lease.expiresAt, WALL_START + 100_000);
      assert.equal(timeLeft(lease), 59_500);
    });
  });

  describe('the token that created it', function () {
    it('bounds its time left and its expiresAt when the token ends first', function () {
      const lease = issue(60, { tokenEndsAt: performance.now() + 20_000 });

      assert.equal(timeLeft(lease), 20_000);
      assert.equal(effectiveExpiresAt(lease), WALL_START + 20_000);
    });

    it('changes nothing when the token outlives the lease', function () {
      const lease = issue(60, { tokenEndsAt: performance.now() + 90_000 });

      assert.equal(timeLeft(lease), 60_000);
      assert.equal(effectiveExpiresAt(lease), WALL_START + 60_000);
    });
  });

  describe('whether renewing can still move its end', function () {
    it('a renewable lease is not final', function () {
      assert.equal(isFinal(issue(60)), false);
    });

    it('a capped lease is final', function () {
      assert.equal(isFinal(issue(60, { capped: true })), true);
    });

    it('a lease Vault issued as not renewable is final', function () {
      assert.equal(isFinal(issue(60, { renewable: false })), true);
    });

    it('a lease whose token ends before it is final', function () {
      assert.equal(isFinal(issue(60, { tokenEndsAt: performance.now() + 30_000 })), true);
    });

    it('a lease whose token outlives it is not final', function () {
      assert.equal(isFinal(issue(60, { tokenEndsAt: performance.now() + 90_000 })), false);
    });
  });

  describe('whether the keeper still renews it', function () {
    it('renews an active, renewable lease with time left', function () {
      assert.equal(canRenew(issue(60)), true);
    });

    it('does not renew a lease the server refused', function () {
      assert.equal(canRenew(issue(60, { rejected: true })), false);
    });

    it('does not renew a lease that ended', function () {
      assert.equal(canRenew(issue(60, { state: 'ended' })), false);
    });

    it('does not renew a final lease', function () {
      assert.equal(canRenew(issue(60, { capped: true })), false);
    });

    it('does not renew a lease that is over', function () {
      const lease = issue(60);

      clock.tick(60_000);

      assert.equal(canRenew(lease), false);
    });
  });
});
