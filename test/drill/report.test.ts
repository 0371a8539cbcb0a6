import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  buildReport,
  describeMachine,
  isInside,
  percentile,
  summarize,
  summarizeLatency,
  FAILOVER_SETTLE_MS,
  type DrillWindow,
  type TargetReport,
} from '../../lib/drill/report.js';
import { validateReport } from '../../lib/drill/validate.js';
import type { QueryOutcome } from '../../lib/testing/load.js';

/** An outcome issued at `at` ms that took `durationMs`. */
function outcome(at: number, durationMs: number, extra: Partial<QueryOutcome> = {}): QueryOutcome {
  return { at, durationMs, kind: 'read', worker: 0, ok: true, ...extra };
}
const fail = (at: number, durationMs: number, code: string, kind: 'read' | 'write' = 'read') =>
  outcome(at, durationMs, { ok: false, code, kind });

const credswapStats = { target: 'credswap' as const, providerCalls: 2, rotations: 1, connectionsOpened: 9 };
const options = { durationMs: 10_000, concurrency: 8, writeRatio: 0.2, rotations: 1 };

describe('drill report', function () {
  describe('percentile (nearest rank)', function () {
    it('is the value at rank ceil(p/100 * n) of the sorted values', function () {
      const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
      assert.equal(percentile(values, 50), 5);
      assert.equal(percentile(values, 90), 9);
      assert.equal(percentile(values, 99), 10);
      assert.equal(percentile(values, 100), 10);
      assert.equal(percentile(values, 0), 1);
      assert.equal(percentile([1, 2, 3, 4], 50), 2);
      assert.equal(percentile([7], 99), 7);
    });

    it('is 0 for no values', function () {
      assert.equal(percentile([], 50), 0);
      assert.deepEqual(summarizeLatency([]), { p50: 0, p99: 0, max: 0, count: 0 });
    });

    it('property: always one of the values, with at least ceil(p/100 * n) values at or below it and fewer strictly below', function () {
      fc.assert(
        fc.property(
          fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }),
          fc.double({ min: 0, max: 100, noNaN: true }),
          (values, p) => {
            const sorted = [...values].sort((a, b) => a - b);
            const result = percentile(sorted, p);
            const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
            assert.ok(values.includes(result));
            assert.ok(sorted.filter((v) => v <= result).length >= rank);
            assert.ok(sorted.filter((v) => v < result).length < rank);
          },
        ),
      );
    });

    it('property: min <= p50 <= p99 <= max, and count is the number of values, whatever their order', function () {
      fc.assert(
        fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { maxLength: 300 }), (values) => {
          const s = summarizeLatency(values);
          assert.equal(s.count, values.length);
          assert.ok(s.p50 <= s.p99 && s.p99 <= s.max);
          if (values.length > 0) {
            assert.ok(Math.min(...values) - 0.0005 <= s.p50);
            assert.ok(Math.abs(s.max - Math.max(...values)) <= 0.0005, 'max is the largest value, to the microsecond');
          }
          assert.deepEqual(summarizeLatency([...values].reverse()), s);
        }),
      );
    });

    it('property: a higher percentile is never lower', function () {
      fc.assert(
        fc.property(
          fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }),
          fc.double({ min: 0, max: 100, noNaN: true }),
          fc.double({ min: 0, max: 100, noNaN: true }),
          (values, a, b) => {
            const sorted = [...values].sort((x, y) => x - y);
            const [lo, hi] = a <= b ? [a, b] : [b, a];
            assert.ok(percentile(sorted, lo) <= percentile(sorted, hi));
          },
        ),
      );
    });
  });

  describe('windows', function () {
    const window: DrillWindow = { kind: 'rotation', startMs: 100, endMs: 200, convergedMs: 250 };

    it('a query is inside when issued from startMs to max(endMs, convergedMs), both included', function () {
      assert.equal(isInside(99.9, window), false);
      assert.equal(isInside(100, window), true);
      assert.equal(isInside(250, window), true);
      assert.equal(isInside(250.1, window), false);
      assert.equal(isInside(210, { ...window, convergedMs: 150 }), false, 'endMs when the pool converged before it');
      assert.equal(isInside(200, { ...window, convergedMs: 150 }), true);
    });

    it('a window the pool never converged from lasts to the end of the drill', function () {
      assert.equal(isInside(1e9, { kind: 'rotation', startMs: 100, endMs: 200 }), true);
    });
  });

  describe('summarize', function () {
    it('counts ok and failed queries, the failed ones by code', function () {
      const report = summarize({
        outcomes: [
          outcome(1, 1),
          fail(2, 1, 'ER_ACCESS_DENIED_ERROR'),
          fail(3, 1, 'ER_ACCESS_DENIED_ERROR'),
          fail(4, 1, 'ECONNREFUSED'),
          outcome(5, 1),
        ],
        windows: [],
        stats: credswapStats,
      });
      assert.deepEqual(report.queries, { ok: 2, failed: 3, refused: 0, failedByCode: { ER_ACCESS_DENIED_ERROR: 2, ECONNREFUSED: 1 } });
    });

    it('takes exact totals from the load when given, for outcomes it capped', function () {
      const report = summarize({
        outcomes: [outcome(1, 1)],
        windows: [],
        stats: credswapStats,
        totals: { ok: 5000, failed: 3, failedByCode: { ER_ACCESS_DENIED_ERROR: 3 } },
      });
      assert.deepEqual(report.queries, { ok: 5000, failed: 3, refused: 0, failedByCode: { ER_ACCESS_DENIED_ERROR: 3 } });
    });

    it('splits latency by whether the query was issued inside a window, failed queries included', function () {
      const report = summarize({
        outcomes: [outcome(10, 1), outcome(20, 3), outcome(120, 40), fail(150, 20, 'X'), outcome(300, 2)],
        windows: [{ kind: 'rotation', startMs: 100, endMs: 200, convergedMs: 130 }],
        stats: credswapStats,
      });
      assert.deepEqual(report.latencyMs.inside, { p50: 20, p99: 40, max: 40, count: 2 });
      assert.deepEqual(report.latencyMs.outside, { p50: 2, p99: 3, max: 3, count: 3 });
    });

    it('reports each window with the failures issued inside it and its convergence time', function () {
      const report = summarize({
        outcomes: [fail(50, 1, 'A'), fail(110, 1, 'A'), fail(120, 1, 'B'), fail(1010, 1, 'A'), fail(5000, 1, 'A')],
        windows: [
          { kind: 'rotation', startMs: 100, endMs: 150, convergedMs: 180.5 },
          { kind: 'rotation', startMs: 1000, endMs: 1100 },
        ],
        stats: credswapStats,
      });
      assert.deepEqual(report.windows, [
        { kind: 'rotation', startMs: 100, endMs: 150, convergedMs: 180.5, convergenceMs: 80.5, failed: 2 },
        { kind: 'rotation', startMs: 1000, endMs: 1100, failed: 2 },
      ]);
      assert.equal(report.queries.failed, 5, 'failures outside every window still count');
    });

    it('copies the target stats, leaving out what the target does not have', function () {
      const credswap = summarize({ outcomes: [], windows: [], stats: credswapStats });
      assert.equal(credswap.target, 'credswap');
      assert.equal(credswap.providerCalls, 2);
      assert.equal(credswap.rotations, 1);
      assert.equal(credswap.connectionsOpened, 9);
      const mysql2 = summarize({ outcomes: [], windows: [], stats: { target: 'mysql2', connectionsOpened: 8 } });
      assert.deepEqual(Object.keys(mysql2).sort(), ['connectionsOpened', 'latencyMs', 'queries', 'target', 'windows']);
    });

    it('failover: the write-error window runs from issuing the first failed write to the error of the last', function () {
      const outcomes = [
        fail(900, 3, 'ER_OPTION_PREVENTS_STATEMENT', 'read'),
        fail(1000, 5, 'ER_OPTION_PREVENTS_STATEMENT', 'write'),
        outcome(1100, 1, { kind: 'write' }),
        fail(1300, 20, 'ER_OPTION_PREVENTS_STATEMENT', 'write'),
        fail(1310, 2, 'ER_OPTION_PREVENTS_STATEMENT', 'write'),
      ];
      const windows: DrillWindow[] = [{ kind: 'failover', startMs: 950, endMs: 1300, convergedMs: 1350 }];
      assert.equal(summarize({ outcomes, windows, stats: credswapStats, failover: true }).writeErrorWindowMs, 320);
      assert.equal(summarize({ outcomes: [outcome(1, 1)], windows, stats: credswapStats, failover: true }).writeErrorWindowMs, 0);
      assert.equal('writeErrorWindowMs' in summarize({ outcomes, windows, stats: credswapStats }), false);
    });

    it('failover: the part after the flip runs from the flip to the error of the last write that failed after it, per window', function () {
      const write = (at: number, durationMs: number) => fail(at, durationMs, 'ER_OPTION_PREVENTS_STATEMENT', 'write');
      const windows: DrillWindow[] = [
        { kind: 'failover', startMs: 1000, endMs: 2000, convergedMs: 2010 },
        { kind: 'failover', startMs: 5000, endMs: 6000, convergedMs: 6050 },
      ];
      const outcomes = [
        write(1500, 10), // before the first flip
        write(1990, 40), // issued before the flip, its error 30 ms after it
        fail(2100, 5, 'ER_OPTION_PREVENTS_STATEMENT', 'read'), // a read: not a write error
        write(5500, 2), // the second window, before its flip
        write(6100, 25), // 125 ms after the second flip
      ];
      const report = summarize({ outcomes, windows, stats: credswapStats, failover: true });
      assert.deepEqual(
        report.windows.map((w) => w.writeErrorAfterFlipMs),
        [30, 125],
      );
      assert.equal(report.writeErrorAfterFlipMs, 125, 'the longest over the windows');
      const before = summarize({ outcomes: [write(1500, 10), write(5500, 2)], windows, stats: credswapStats, failover: true });
      assert.deepEqual([before.writeErrorAfterFlipMs, ...before.windows.map((w) => w.writeErrorAfterFlipMs)], [0, 0, 0]);
      const rotation = summarize({ outcomes, windows, stats: credswapStats });
      assert.equal('writeErrorAfterFlipMs' in rotation, false);
      assert.equal('writeErrorAfterFlipMs' in rotation.windows[0], false);
    });

    it('failover: carries the logins of the read-only window and their rate; rotation windows have none', function () {
      const report = summarize({
        outcomes: [],
        windows: [
          { kind: 'failover', startMs: 1000, endMs: 3000, logins: 42 },
          { kind: 'rotation', startMs: 5000, endMs: 5100, logins: 7 },
        ],
        stats: credswapStats,
        failover: true,
      });
      assert.deepEqual(
        report.windows.map((w) => [w.logins, w.loginsPerSecond]),
        [
          [42, 21],
          [undefined, undefined],
        ],
      );
      for (const endMs of [0, Number.MIN_VALUE, 0.0004]) {
        const instant = summarize({ outcomes: [], windows: [{ kind: 'failover', startMs: 0, endMs, logins: 3 }], stats: credswapStats });
        assert.equal(instant.windows[0].loginsPerSecond, 0, `a window of ${endMs} ms (under a microsecond) has no rate`);
      }
    });

    it('failover: counts read-only refusals issued before the flip plus the settle margin as refused, and nothing else', function () {
      const ro = (at: number, errno = 1290) => outcome(at, 2, { ok: false, code: 'ER_OPTION_PREVENTS_STATEMENT', errno, kind: 'write' });
      const windows: DrillWindow[] = [{ kind: 'failover', startMs: 1000, endMs: 2000, convergedMs: 2100 }];
      const outcomes = [
        ro(990), // ended before read_only=ON: not the failover's doing
        ro(999), // a transaction begun just before read_only=ON, refused after it
        ro(1000),
        ro(1500, 1836),
        ro(2000 + FAILOVER_SETTLE_MS),
        ro(2001 + FAILOVER_SETTLE_MS), // too late: the pool should have moved
        fail(1500, 1, 'ER_ACCESS_DENIED_ERROR', 'write'),
      ];
      const report = summarize({ outcomes, windows, stats: credswapStats, failover: true });
      assert.deepEqual([report.queries.failed, report.queries.refused], [7, 4]);
      assert.equal(summarize({ outcomes, windows: [{ ...windows[0], kind: 'rotation' }], stats: credswapStats }).queries.refused, 0);
      const onlyRefused = summarize({ outcomes: [outcome(10, 1), ro(1200), ro(1900)], windows, stats: credswapStats, failover: true });
      const built = buildReport({ scenario: 'failover', embedded: true, options, targets: [onlyRefused], startedAt: new Date() });
      assert.equal(built.ok, true, 'refusals before the flip do not fail the drill');
      assert.equal(buildReport({ scenario: 'failover', embedded: true, options, targets: [report], startedAt: new Date() }).ok, false);
    });

    it('rounds times to the microsecond', function () {
      const report = summarize({
        outcomes: [outcome(0.1, 0.123456789)],
        windows: [{ kind: 'rotation', startMs: 0.0001234, endMs: 1.23456789, convergedMs: 2.0000001 }],
        stats: credswapStats,
      });
      assert.equal(report.latencyMs.inside.p50, 0.123);
      assert.deepEqual(report.windows[0], { kind: 'rotation', startMs: 0, endMs: 1.235, convergedMs: 2, convergenceMs: 2, failed: 0 });
    });

    it('property: counts add up, and every summary of any load validates against the schema', function () {
      const outcomeArb = fc.record({
        at: fc.double({ min: 0, max: 10_000, noNaN: true }),
        durationMs: fc.double({ min: 0, max: 1000, noNaN: true }),
        kind: fc.constantFrom('read' as const, 'write' as const),
        worker: fc.nat(16),
        ok: fc.boolean(),
        code: fc.constantFrom('ER_ACCESS_DENIED_ERROR', 'ER_OPTION_PREVENTS_STATEMENT', 'UNKNOWN'),
      });
      const windowArb = fc
        .record({
          kind: fc.constantFrom('rotation' as const, 'failover' as const),
          startMs: fc.double({ min: 0, max: 10_000, noNaN: true }),
          lengthMs: fc.double({ min: 0, max: 2000, noNaN: true }),
          convergeAfterMs: fc.option(fc.double({ min: 0, max: 3000, noNaN: true }), { nil: undefined }),
          logins: fc.option(fc.nat(5000), { nil: undefined }),
        })
        .map(({ kind, startMs, lengthMs, convergeAfterMs, logins }) => ({
          kind,
          startMs,
          endMs: startMs + lengthMs,
          ...(convergeAfterMs !== undefined ? { convergedMs: startMs + convergeAfterMs } : {}),
          ...(logins !== undefined ? { logins } : {}),
        }));
      fc.assert(
        fc.property(
          fc.array(outcomeArb, { maxLength: 200 }),
          fc.array(windowArb, { maxLength: 3 }),
          fc.boolean(),
          (raw, windows, failover) => {
            const outcomes = raw.map(({ code, ...o }) => (o.ok ? o : { ...o, code }));
            const target = summarize({ outcomes, windows, stats: credswapStats, failover });
            const { queries, latencyMs } = target;
            assert.equal(queries.ok + queries.failed, outcomes.length);
            assert.equal(
              Object.values(queries.failedByCode).reduce((a, b) => a + b, 0),
              queries.failed,
            );
            assert.equal(latencyMs.inside.count + latencyMs.outside.count, outcomes.length);
            for (const w of target.windows) assert.ok(w.failed <= queries.failed);
            const report = buildReport({ scenario: 'function', embedded: true, options, targets: [target], startedAt: new Date() });
            assert.deepEqual(validateReport(report), []);
            assert.deepEqual(validateReport(JSON.parse(JSON.stringify(report))), []);
          },
        ),
      );
    });
  });

  describe('buildReport', function () {
    const target = (name: 'credswap' | 'mysql2', failed: number, ok = 100): TargetReport =>
      summarize({
        outcomes: [
          ...Array.from({ length: ok }, (_, i) => outcome(i, 1)),
          ...Array.from({ length: failed }, (_, i) => fail(i, 1, 'ER_ACCESS_DENIED_ERROR')),
        ],
        windows: [],
        stats: name === 'credswap' ? credswapStats : { target: 'mysql2', connectionsOpened: 8 },
      });
    const build = (...targets: TargetReport[]) =>
      buildReport({ scenario: 'aws-single-user', embedded: true, options, targets, startedAt: new Date('2025-01-02T03:04:05.678Z') });

    it('is ok when credswap failed no query, whatever mysql2 did', function () {
      assert.equal(build(target('credswap', 0)).ok, true);
      assert.equal(build(target('credswap', 0), target('mysql2', 500)).ok, true);
    });

    it('is not ok when credswap failed a query, ran none, or did not run at all', function () {
      assert.equal(build(target('credswap', 1)).ok, false);
      assert.equal(build(target('credswap', 0, 0)).ok, false);
      assert.equal(build(target('mysql2', 0)).ok, false);
      assert.equal(build().ok, false);
    });

    it('carries the scenario, the options, the machine and the start time, and validates against the schema', function () {
      const report = build(target('credswap', 0), target('mysql2', 3));
      assert.equal(report.version, 1);
      assert.equal(report.scenario, 'aws-single-user');
      assert.equal(report.embedded, true);
      assert.deepEqual(report.options, options);
      assert.equal(report.startedAt, '2025-01-02T03:04:05.678Z');
      assert.deepEqual(report.machine, describeMachine());
      assert.deepEqual(
        report.targets.map((t) => t.target),
        ['credswap', 'mysql2'],
      );
      assert.deepEqual(validateReport(report), []);
    });

    it('keeps only the documented options, so the report always matches its schema', function () {
      const report = buildReport({
        scenario: 'failover',
        embedded: false,
        options: { ...options, flipDelayMs: 2000 } as typeof options,
        targets: [target('credswap', 0)],
        startedAt: new Date(),
      });
      assert.deepEqual(report.options, options);
    });
  });

  describe('describeMachine', function () {
    it('names node, the platform, the CPUs and their model', function () {
      const machine = describeMachine();
      assert.equal(machine.node, process.version);
      assert.match(machine.platform, /^[a-z0-9]+-[a-z0-9]+$/);
      assert.ok(Number.isInteger(machine.cpus) && machine.cpus >= 1);
      assert.ok(machine.cpuModel.length > 0);
    });
  });
});
