import assert from 'node:assert/strict';
import sinon from 'sinon';
import { copyRefusal, DEFAULT_LOGIN_TRUST_MS, LoginGate, MAX_PARALLEL_LOGINS, type LoginTicket } from '../lib/login-gate.js';

function accessDenied(): Error {
  return Object.assign(new Error("Access denied for user 'app'@'10.0.0.1' (using password: YES)"), {
    errno: 1045,
    code: 'ER_ACCESS_DENIED_ERROR',
    sqlState: '28000',
  });
}

/** Settles pending promise callbacks. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

/** Enters `n` logins and records which have started (got a ticket) and which were refused without trying. */
function enterMany(gate: LoginGate, generation: number, n: number) {
  const started: LoginTicket[] = [];
  const notTried: Error[] = [];
  for (let i = 0; i < n; i++) {
    gate.enter(generation).then(
      (ticket) => started.push(ticket),
      (error: Error) => notTried.push(error),
    );
  }
  return { started, notTried };
}

describe('LoginGate (lockout-safe logins)', () => {
  let clock: sinon.SinonFakeTimers;
  let retryAt: number;
  let gate: LoginGate;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    retryAt = 0;
    gate = new LoginGate(DEFAULT_LOGIN_TRUST_MS, () => retryAt);
  });

  afterEach(() => clock.restore());

  it('lets one login try new credentials while the others wait for its answer', async () => {
    const logins = enterMany(gate, 1, 200);
    await flush();
    assert.equal(logins.started.length, 1);
    logins.started[0].succeeded();
    await flush();
    assert.equal(logins.started.length, 1 + MAX_PARALLEL_LOGINS, 'once it worked, the others follow, two at a time');
    for (let i = 1; i < logins.started.length; i++) {
      logins.started[i].succeeded();
      await flush();
    }
    assert.equal(logins.started.length, 200);
    assert.equal(logins.notTried.length, 0);
  });

  it('fails the waiting logins with a copy of the refusal instead of trying the same password', async () => {
    const logins = enterMany(gate, 1, 10);
    await flush();
    const refusal = accessDenied();
    logins.started[0].refused(refusal);
    await flush();
    assert.equal(logins.started.length, 1, 'one refused login, not ten');
    assert.equal(logins.notTried.length, 9);
    for (const error of logins.notTried) {
      assert.notEqual(error, refusal);
      assert.equal((error as Error & { errno?: number }).errno, 1045);
      assert.equal((error as Error & { code?: string }).code, 'ER_ACCESS_DENIED_ERROR');
      assert.match(error.message, /^Access denied for user 'app'.*not tried/);
    }
  });

  it('does not try refused credentials again before the coordinator allows it, then lets one login try', async () => {
    const first = enterMany(gate, 1, 1);
    await flush();
    retryAt = Date.now() + 5_000; // the coordinator cools down
    first.started[0].refused(accessDenied());
    const during = enterMany(gate, 1, 3);
    await flush();
    assert.deepEqual([during.started.length, during.notTried.length], [0, 3]);
    clock.tick(5_000);
    const after = enterMany(gate, 1, 3);
    await flush();
    assert.deepEqual([after.started.length, after.notTried.length], [1, 0], 'one login tries again, the others wait');
  });

  it('keeps refused credentials blocked while the provider is being asked', async () => {
    const first = enterMany(gate, 1, 1);
    await flush();
    retryAt = Infinity;
    first.started[0].refused(accessDenied());
    clock.tick(60_000);
    const later = enterMany(gate, 1, 2);
    await flush();
    assert.equal(later.notTried.length, 2);
  });

  it('lets logins run in parallel for a while after one worked, then one goes first again', async () => {
    const first = enterMany(gate, 1, 1);
    await flush();
    first.started[0].succeeded();
    const soon = enterMany(gate, 1, MAX_PARALLEL_LOGINS);
    await flush();
    assert.equal(soon.started.length, MAX_PARALLEL_LOGINS, 'no login goes first');
    for (const ticket of soon.started) ticket.succeeded();
    clock.tick(DEFAULT_LOGIN_TRUST_MS);
    const later = enterMany(gate, 1, 5);
    await flush();
    assert.equal(later.started.length, 1, 'a quiet while: one login goes first');
  });

  it('lets at most two logins try trusted credentials; when both are refused, the others do not try', async () => {
    const first = enterMany(gate, 1, 1);
    await flush();
    first.started[0].succeeded();
    const burst = enterMany(gate, 1, 10);
    await flush();
    assert.equal(burst.started.length, 2);
    burst.started[0].refused(accessDenied());
    burst.started[1].refused(accessDenied());
    await flush();
    assert.deepEqual([burst.started.length, burst.notTried.length], [2, 8], 'two refused logins at most');
  });

  it('after a connection is lost, the next login goes first, alone', async () => {
    const first = enterMany(gate, 1, 1);
    await flush();
    first.started[0].succeeded();
    gate.distrust();
    const after = enterMany(gate, 1, 5);
    await flush();
    assert.equal(after.started.length, 1);
  });

  it('hands the decision to the next login when the first fails for another reason', async () => {
    const logins = enterMany(gate, 1, 3);
    await flush();
    logins.started[0].failed(); // ECONNREFUSED, a timeout: nothing learned about the password
    await flush();
    assert.equal(logins.started.length, 2);
    logins.started[1].succeeded();
    await flush();
    assert.equal(logins.started.length, 3);
  });

  it('ignores a second report from the same login', async () => {
    const logins = enterMany(gate, 1, 2);
    await flush();
    logins.started[0].succeeded();
    logins.started[0].refused(accessDenied());
    await flush();
    assert.equal(logins.started.length, 2);
    assert.equal(logins.notTried.length, 0);
  });

  it('lets newer refused credentials be tried again once older ones are refused too (the server changed)', async () => {
    retryAt = Infinity;
    const newer = enterMany(gate, 2, 1);
    await flush();
    newer.started[0].refused(accessDenied());
    const older = enterMany(gate, 1, 1);
    await flush();
    older.started[0].refused(accessDenied());
    const again = enterMany(gate, 2, 2);
    await flush();
    assert.deepEqual([again.started.length, again.notTried.length], [1, 0]);
  });

  it('keeps generations apart', async () => {
    const one = enterMany(gate, 1, 2);
    const two = enterMany(gate, 2, 2);
    await flush();
    assert.deepEqual([one.started.length, two.started.length], [1, 1]);
  });

  it('copyRefusal keeps errno, code and sqlState and says the login was not tried', () => {
    const copy = copyRefusal(accessDenied()) as Error & Record<string, unknown>;
    assert.deepEqual([copy.errno, copy.code, copy.sqlState], [1045, 'ER_ACCESS_DENIED_ERROR', '28000']);
    assert.match(copy.message, /not tried/);
  });
});
