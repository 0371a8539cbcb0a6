import assert from 'node:assert/strict';
import type { CredentialsSnapshot } from '../lib/coordinator.js';
import { sealCredentials, type SealedCredentials } from '../lib/credentials.js';
import { GenerationLedger } from '../lib/generation-ledger.js';

function snapshot(generation: number): CredentialsSnapshot {
  const credentials = sealCredentials({ user: 'app', password: `password-${generation}` }, 'test');
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
});
