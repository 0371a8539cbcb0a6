/**
 * The soak benchmark, run small: what it reports about leftovers must stay true at any length.
 * No timing and no heap figure is checked (a short run says nothing about the heap); only the
 * counts: rotations, provider calls, connections and handles before and after.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runToExit } from '../helpers/child.js';

interface Reading {
  resources: Record<string, number>;
  serverConnections: number;
}
interface Phase {
  name: string;
  idle: Reading;
  checkpoints: Reading[];
  ended: Reading;
  providerCalls?: number;
  generation?: number;
  failedQueries: number;
}

describe('bench/soak.ts', function () {
  let phases: Phase[];

  before(async function () {
    const { code, out } = await runToExit([
      join(__dirname, '../../bench/soak.ts'),
      ...['--rotations', '40', '--warmup', '10', '--connections', '2', '--queries', '2', '--json'],
    ]);
    assert.equal(code, 0, out);
    phases = (JSON.parse(out) as { phases: Phase[] }).phases;
  });

  it('rotates once per cycle, half through the provider and half through pushes, with no failed query', function () {
    const credswap = phases[1];
    assert.match(credswap.name, /credswap/);
    assert.equal(credswap.generation, 1 + 10 + 40);
    assert.equal(credswap.providerCalls, 1 + 5 + 20, 'the first fetch and every other rotation');
    assert.equal(credswap.failedQueries, 0);
    assert.equal(phases[0].failedQueries, 0);
  });

  it('keeps the pool at its connection limit on the server at every checkpoint', function () {
    for (const reading of phases[1].checkpoints) assert.equal(reading.serverConnections, 2);
  });

  it('leaves no connection and no socket or timer behind once each pool has ended', function () {
    for (const phase of phases) {
      assert.equal(phase.ended.serverConnections, 0, phase.name);
      for (const type of ['TCPSocketWrap', 'Timeout']) {
        assert.equal(phase.ended.resources[type] ?? 0, phase.idle.resources[type] ?? 0, `${phase.name}: ${type}`);
      }
    }
  });
});
