import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import sinon from 'sinon';
import { linkSignals, sleep, waitUnder } from '../lib/abort.js';

/** How many `abort` listeners a signal holds. */
function listeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

describe('abort helpers', function () {
  let clock: sinon.SinonFakeTimers;
  beforeEach(function () {
    // Only timeouts: a faked setImmediate would also stall tsx's background work in this process
    // (its disk-cache cleanup iterates a directory handle), which then leaks the handle.
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(function () {
    clock.restore();
  });

  describe('sleep', function () {
    it('resolves after the time and leaves no listener behind', async function () {
      const controller = new AbortController();
      let done = false;
      const slept = sleep(1000, controller.signal).then(() => (done = true));
      await clock.tickAsync(999);
      assert.equal(done, false);
      await clock.tickAsync(1);
      await slept;
      assert.equal(done, true);
      assert.equal(listeners(controller.signal), 0);
    });

    it('rejects with the reason of the first signal to abort, and clears its timer', async function () {
      const first = new AbortController();
      const second = new AbortController();
      const slept = sleep(60_000, first.signal, second.signal);
      second.abort(new Error('closing'));
      await assert.rejects(slept, /closing/);
      assert.equal(clock.countTimers(), 0);
      assert.equal(listeners(first.signal), 0);
    });

    it('rejects at once when a signal has already aborted', async function () {
      const controller = new AbortController();
      controller.abort(new Error('gone'));
      await assert.rejects(sleep(60_000, new AbortController().signal, controller.signal), /gone/);
      assert.equal(clock.countTimers(), 0);
    });
  });

  describe('waitUnder', function () {
    it('settles with the work', async function () {
      const controller = new AbortController();
      assert.equal(await waitUnder(Promise.resolve(7), controller.signal), 7);
      await assert.rejects(waitUnder(Promise.reject(new Error('failed')), controller.signal), /failed/);
      assert.equal(listeners(controller.signal), 0);
    });

    it('stops waiting when a signal aborts, and the work goes on for others', async function () {
      let finish!: (value: string) => void;
      const work = new Promise<string>((resolve) => (finish = resolve));
      const controller = new AbortController();
      const waiting = waitUnder(work, controller.signal);
      controller.abort(new Error('caller gave up'));
      await assert.rejects(waiting, /caller gave up/);
      finish('done');
      assert.equal(await work, 'done');
    });

    it('rejects at once when a signal has already aborted, without an unhandled rejection of the work', async function () {
      const controller = new AbortController();
      controller.abort(new Error('already'));
      const work = Promise.reject(new Error('work failed'));
      await assert.rejects(waitUnder(work, controller.signal), /already/);
      await clock.tickAsync(0);
    });
  });

  describe('linkSignals', function () {
    it('fires on the time limit, says so, and removes its listeners when disposed', async function () {
      const source = new AbortController();
      const linked = linkSignals([source.signal], 100);
      await clock.tickAsync(100);
      assert.equal(linked.signal.aborted, true);
      assert.equal(linked.timedOut, true);
      assert.equal((linked.signal.reason as DOMException).name, 'TimeoutError');
      linked.dispose();
      assert.equal(listeners(source.signal), 0);
    });

    it('follows an aborted source with its reason', function () {
      const source = new AbortController();
      source.abort(new Error('stop'));
      const linked = linkSignals([source.signal]);
      assert.equal(linked.signal.aborted, true);
      assert.match((linked.signal.reason as Error).message, /stop/);
      assert.equal(linked.timedOut, false);
    });
  });
});
