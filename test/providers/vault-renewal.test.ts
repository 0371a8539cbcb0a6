import assert from 'node:assert/strict';
import { backgroundRetryDelay, renewDelay, retryDelay } from '../../providers/vault/renewal.js';

const lowest = (): number => 0;
const highest = (): number => 1;

describe('credswap/vault: when to renew', function () {
  describe('renewDelay', function () {
    it('renews at two thirds of the time left without jitter', function () {
      assert.equal(renewDelay(60_000, lowest), 40_000);
    });

    it('renews up to 10% earlier with jitter, never later', function () {
      assert.equal(renewDelay(60_000, highest), 36_000);
      for (let i = 0; i < 100; i++) {
        const delay = renewDelay(60_000);
        assert.ok(delay >= 36_000 && delay <= 40_000, String(delay));
      }
    });

    it('renews at once when nothing is left', function () {
      assert.equal(renewDelay(0), 0);
      assert.equal(renewDelay(-5_000), 0);
    });
  });

  describe('retryDelay', function () {
    it('backs off exponentially from its base while time is left', function () {
      assert.equal(retryDelay(1, 3_600_000, 250, highest), 250);
      assert.equal(retryDelay(2, 3_600_000, 250, highest), 500);
      assert.equal(retryDelay(3, 3_600_000, 250, highest), 1_000);
    });

    it('waits at most 30 s', function () {
      assert.equal(retryDelay(20, 3_600_000, 250, highest), 30_000);
    });

    it('waits at most half the time left, so that more tries fit before the end', function () {
      assert.equal(retryDelay(10, 4_000, 250, highest), 2_000);
    });

    it('waits at least 50 ms however close the end', function () {
      assert.equal(retryDelay(10, 20, 250, highest), 50);
    });
  });

  describe('backgroundRetryDelay', function () {
    it('backs off exponentially up to 30 s, with no end to fit before', function () {
      assert.equal(backgroundRetryDelay(1, 500, highest), 500);
      assert.equal(backgroundRetryDelay(3, 500, highest), 2_000);
      assert.equal(backgroundRetryDelay(30, 500, highest), 30_000);
    });
  });
});
