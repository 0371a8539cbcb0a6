import assert from 'node:assert/strict';
import type { CredentialsSnapshot } from '../lib/coordinator.js';
import { sealCredentials, type SealedCredentials } from '../lib/credentials.js';
import { GenerationLedger } from '../lib/generation-ledger.js';

function snapshot(generation: number): CredentialsSnapshot {
  const credentials = sealCredentials({ user: 'app', password: `password-${generation}` }, 'test');
  return { generation, credentials };
}

/** An RDS IAM token of `user` (a new token each generation), valid until `expiresAt`. */
function token(generation: number, user = 'app', expiresAt?: number): CredentialsSnapshot {
  const credentials = sealCredentials(
    { user, password: `token-${generation}`, kind: 'token', host: 'db.rds', port: 3306, ...(expiresAt !== undefined ? { expiresAt } : {}) },
    'test',
  );
  return { generation, credentials };
}

function ledgerWithLog(): { ledger: GenerationLedger; unused: Array<[number, SealedCredentials]> } {
  const unused: Array<[number, SealedCredentials]> = [];
  return { ledger: new GenerationLedger((generation, credentials) => unused.push([generation, credentials])), unused };
}

describe('GenerationLedger', () => {
  it('verifies a generation at its first working login, and only a newer one', () => {
    const { ledger } = ledgerWithLog();
    assert.equal(ledger.verified, 0);
    assert.equal(ledger.opened(snapshot(1)), true);
    assert.equal(ledger.opened(snapshot(1)), false);
    assert.equal(ledger.opened(snapshot(3)), true);
    assert.equal(ledger.opened(snapshot(2)), false, 'an older generation logging in late verifies nothing');
    assert.equal(ledger.verified, 3);
  });

  it('calls connections stale only once newer credentials have worked', () => {
    const { ledger } = ledgerWithLog();
    ledger.opened(snapshot(1));
    assert.equal(ledger.isStale(1), false, 'generation 2 exists but no login has used it');
    ledger.opened(snapshot(2));
    assert.equal(ledger.isStale(1), true);
    assert.equal(ledger.isStale(2), false);
    assert.equal(ledger.isStale(0), true, 'connections opened before credentials were attached');
  });

  it('counts open connections and the stale ones among them', () => {
    const { ledger } = ledgerWithLog();
    ledger.opened(snapshot(1));
    ledger.opened(snapshot(1));
    ledger.opened(snapshot(2));
    assert.deepEqual(ledger.counts(), { connections: 3, stale: 2 });
    ledger.closed(1);
    assert.deepEqual(ledger.counts(), { connections: 2, stale: 1 });
  });

  it('reports an old generation unused once, when its last connection closes', () => {
    const { ledger, unused } = ledgerWithLog();
    const first = snapshot(1);
    ledger.opened(first);
    ledger.opened(first);
    ledger.opened(snapshot(2));
    ledger.closed(1);
    assert.equal(unused.length, 0);
    ledger.closed(1);
    assert.deepEqual(unused, [[1, first.credentials]]);
    ledger.closed(1);
    assert.equal(unused.length, 1, 'a stray close reports nothing twice');
  });

  it('reports an old generation unused when newer credentials are verified after it closed', () => {
    const { ledger, unused } = ledgerWithLog();
    ledger.opened(snapshot(1));
    ledger.closed(1);
    assert.equal(unused.length, 0, 'the newest verified generation is never unused');
    ledger.opened(snapshot(2));
    assert.deepEqual(
      unused.map(([generation]) => generation),
      [1],
    );
  });

  it('never reports the verified generation, or a newer one, unused', () => {
    const { ledger, unused } = ledgerWithLog();
    ledger.opened(snapshot(2));
    ledger.opened(snapshot(3));
    ledger.closed(3);
    ledger.closed(2);
    assert.deepEqual(
      unused.map(([generation]) => generation),
      [2],
    );
  });

  it('falls back to the newest verified credentials, only for a newer refused generation', () => {
    const { ledger } = ledgerWithLog();
    assert.equal(ledger.fallbackFor(1), undefined, 'nothing verified yet');
    const verified = snapshot(2);
    ledger.opened(verified);
    assert.equal(ledger.fallbackFor(3), verified);
    assert.equal(ledger.fallbackFor(2), undefined, 'the refused credentials are the verified ones');
    assert.equal(ledger.fallbackFor(1), undefined);
  });

  it('verify() moves the verified generation without counting a connection', () => {
    const { ledger, unused } = ledgerWithLog();
    assert.equal(ledger.verify(snapshot(1)), true);
    assert.equal(ledger.verify(snapshot(1)), false);
    assert.deepEqual(ledger.counts(), { connections: 0, stale: 0 });
    ledger.verify(snapshot(2));
    assert.ok(ledger.isStale(1));
    assert.equal(unused.length, 0, 'uncounted generations are never reported unused');
  });

  describe('tokens (a new token is not a new user)', () => {
    it('keeps connections of an older token of the same account: verifying a new token makes nothing stale', () => {
      const { ledger } = ledgerWithLog();
      assert.equal(ledger.opened(token(1)), true, 'the first verified generation is verified as ever');
      ledger.opened(token(1));
      assert.equal(ledger.opened(token(2)), false, 'the caller drains nothing');
      assert.equal(ledger.verified, 2);
      assert.equal(ledger.isStale(1), false);
      assert.deepEqual(ledger.counts(), { connections: 3, stale: 0 });
      assert.equal(ledger.verify(token(4)), false, 'a token verified without counting a connection: the same');
      assert.equal(ledger.isStale(1), false);
    });

    it('compares with the newest verified token, skipping generations that never logged in', () => {
      const { ledger } = ledgerWithLog();
      ledger.opened(token(1));
      assert.equal(ledger.opened(token(3)), false, 'generation 2 was refused or never used');
      assert.equal(ledger.isStale(1), false);
    });

    const otherHost: CredentialsSnapshot = {
      generation: 2,
      credentials: sealCredentials({ user: 'app', password: 'token-2', kind: 'token', host: 'db2.rds', port: 3306 }, 'test'),
    };
    for (const [what, next] of [
      ['a token of another user', token(2, 'other')],
      ['a password of the same user', snapshot(2)],
      ['a token for another host', otherHost],
    ] as const) {
      it(`makes older connections stale for ${what}`, () => {
        const { ledger } = ledgerWithLog();
        ledger.opened(token(1));
        assert.equal(ledger.makesStale(next), true);
        assert.equal(ledger.opened(next), true);
        assert.equal(ledger.isStale(1), true);
        assert.deepEqual(ledger.counts(), { connections: 2, stale: 1 });
      });
    }

    it('makes password connections stale when a token takes over', () => {
      const { ledger } = ledgerWithLog();
      ledger.opened(snapshot(1));
      assert.equal(ledger.opened(token(2)), true);
      assert.equal(ledger.isStale(1), true);
    });

    it('keeps what was stale stale: new tokens after an account change leave only older accounts stale', () => {
      const { ledger } = ledgerWithLog();
      ledger.opened(snapshot(1));
      ledger.opened(token(2));
      ledger.opened(token(3));
      assert.equal(ledger.isStale(1), true);
      assert.equal(ledger.isStale(2), false);
      assert.equal(ledger.isStale(3), false);
    });

    it('says whether verifying a snapshot would make connections stale, before any login with it', () => {
      const { ledger } = ledgerWithLog();
      assert.equal(ledger.makesStale(token(1)), true, 'nothing verified yet');
      ledger.opened(token(1));
      assert.equal(ledger.makesStale(token(2)), false);
      assert.equal(ledger.makesStale(token(2, 'other')), true);
      assert.equal(ledger.makesStale(snapshot(2)), true);
    });

    it('forgets an old token once its last connection closes, without reporting it unused (nothing to revoke)', () => {
      const { ledger, unused } = ledgerWithLog();
      ledger.opened(token(1));
      ledger.opened(token(2));
      ledger.closed(1);
      assert.deepEqual(unused, []);
      assert.deepEqual(ledger.counts(), { connections: 1, stale: 0 });
    });

    it('still reports a password generation unused when a token takes over', () => {
      const { ledger, unused } = ledgerWithLog();
      const first = snapshot(1);
      ledger.opened(first);
      ledger.opened(token(2));
      ledger.closed(1);
      assert.deepEqual(unused, [[1, first.credentials]]);
    });
  });

  it('does not fall back to verified credentials whose expiresAt has passed', () => {
    const { ledger } = ledgerWithLog();
    ledger.opened(token(1, 'app', Date.now() - 1));
    assert.equal(ledger.fallbackFor(2), undefined);
    const { ledger: other } = ledgerWithLog();
    const valid = token(1, 'app', Date.now() + 60_000);
    other.opened(valid);
    assert.equal(other.fallbackFor(2), valid);
  });
});
