/**
 * The rotation-storm benchmark, run small: it must keep measuring what BENCHMARKS.md says it
 * measures. No timing is checked, only the outcomes: coalescing (one provider call per storm),
 * no failed request for credswap, every request failed for plain mysql2.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runToExit } from '../helpers/child.js';

interface Storm {
  ok: number;
  failed: number;
  pending: number;
  providerCalls?: number;
  awsCalls?: Record<string, number>;
  refused: number;
  recovered: boolean;
}
interface Row {
  size: number;
  contender: 'mysql2' | 'credswap-function' | 'credswap-secrets-manager';
  kind: 'rotation' | 'reconnect';
  storms: Storm[];
}

describe('bench/rotation-storm.ts', function () {
  let rows: Row[];

  before(async function () {
    // NODE_NO_WARNINGS: the AWS SDK's Node version notice goes to stderr, which runToExit mixes in.
    const { code, out } = await runToExit(
      [join(__dirname, '../../bench/rotation-storm.ts'), '--sizes', '10,100', '--repeats', '1', '--connections', '4', '--json'],
      { ...process.env, NODE_NO_WARNINGS: '1' },
    );
    assert.equal(code, 0, out);
    rows = (JSON.parse(out) as { rows: Row[] }).rows;
  });

  function storm(size: number, contender: Row['contender'], kind: Row['kind']): Storm {
    const row = rows.find((r) => r.size === size && r.contender === contender && r.kind === kind);
    assert.ok(row, `a ${kind} row for ${contender} at ${size}`);
    assert.equal(row.storms.length, 1);
    return row.storms[0];
  }

  it('queues every request behind the checked-out connections before the rotation', function () {
    for (const size of [10, 100]) {
      for (const contender of ['mysql2', 'credswap-function', 'credswap-secrets-manager'] as const) {
        assert.equal(storm(size, contender, 'rotation').pending, size, `${contender} at ${size}`);
      }
    }
  });

  it('calls the provider once per storm and fails no request through a credswap pool', function () {
    for (const size of [10, 100]) {
      for (const contender of ['credswap-function', 'credswap-secrets-manager'] as const) {
        const s = storm(size, contender, 'rotation');
        assert.deepEqual(
          { ok: s.ok, failed: s.failed, providerCalls: s.providerCalls, recovered: s.recovered },
          { ok: size, failed: 0, providerCalls: 1, recovered: true },
          `${contender} at ${size}`,
        );
        assert.ok(s.refused <= 4, `at most one refused login per connection slot, got ${s.refused}`);
      }
    }
  });

  it('reads AWSPENDING through one DescribeSecret and one GetSecretValue during a Secrets Manager storm', function () {
    assert.deepEqual(storm(100, 'credswap-secrets-manager', 'rotation').awsCalls, { DescribeSecret: 1, GetSecretValue: 1 });
  });

  it('fails every request of a plain mysql2 pool, each with a refused login, and it stays broken', function () {
    for (const size of [10, 100]) {
      const s = storm(size, 'mysql2', 'rotation');
      assert.deepEqual(
        { ok: s.ok, failed: s.failed, refused: s.refused, recovered: s.recovered },
        { ok: 0, failed: size, refused: size, recovered: false },
      );
    }
  });

  it('completes the reconnect-only control without failures for both pools', function () {
    for (const contender of ['mysql2', 'credswap-function'] as const) {
      const s = storm(100, contender, 'reconnect');
      assert.deepEqual({ ok: s.ok, failed: s.failed, refused: s.refused }, { ok: 100, failed: 0, refused: 0 });
    }
    assert.equal(storm(100, 'credswap-function', 'reconnect').providerCalls, 0);
  });
});
