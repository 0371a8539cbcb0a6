/**
 * lib/drill/fleet/report.ts and fleet/render.ts: summing a fleet's workers into one report,
 * the secret store's calls per rotation and their spread, the fleet's peak of connections, and
 * the fleet section of the table. Pure functions, on made-up worker results.
 */
import assert from 'node:assert/strict';
import {
  aggregateFleet,
  CALL_HISTOGRAM_BUCKETS,
  peakOpen,
  rotationCalls,
  type EpochCall,
  type FleetAggregateInput,
} from '../../lib/drill/fleet/report.js';
import type { WorkerResult } from '../../lib/drill/fleet/protocol.js';
import { renderTable } from '../../lib/drill/render.js';
import { buildReport, summarize } from '../../lib/drill/report.js';
import { validateReport } from '../../lib/drill/validate.js';
import type { QueryOutcome } from '../../lib/testing/load.js';

/** The shared clock of the made-up fleet: the load starts at T, the rotation at T + 2 s and ends at T + 3 s. */
const T = 1_700_000_000_000;
const WINDOWS = [{ startEpochMs: T + 2_000, endEpochMs: T + 3_000 }];

/** A worker result: `ok` reads and the failures given, its pool moving to new credentials at `rotatedAt` (epoch). */
function result(options: {
  ok: number;
  failed?: Array<{ at: number; code: string }>;
  rotatedAt?: number;
  sockets?: [number, number][];
}): WorkerResult {
  const outcomes: QueryOutcome[] = [];
  for (let i = 0; i < options.ok; i++) outcomes.push({ at: i * 10, durationMs: 1 + i, kind: 'read', worker: 0, ok: true });
  for (const f of options.failed ?? []) outcomes.push({ at: f.at, durationMs: 5, kind: 'read', worker: 0, ok: false, code: f.code });
  const converged = options.rotatedAt === undefined ? {} : { convergedMs: options.rotatedAt - T };
  const report = summarize({
    outcomes,
    windows: [{ kind: 'rotation', startMs: 2_000, endMs: 3_000, ...converged }],
    stats: { target: 'credswap', providerCalls: 2, rotations: options.rotatedAt === undefined ? 0 : 1, connectionsOpened: 4 },
  });
  const durations = outcomes.map((o) => o.durationMs);
  return {
    type: 'result',
    report,
    durations: { inside: Float64Array.from([]), outside: Float64Array.from(durations) },
    rotatedAtEpochMs: options.rotatedAt === undefined ? [] : [options.rotatedAt],
    sockets: {
      opened: Float64Array.from((options.sockets ?? []).map(([open]) => open)),
      closed: Float64Array.from((options.sockets ?? []).filter(([, close]) => close >= 0).map(([, close]) => close)),
    },
  };
}

const calls = (...offsets: Array<[number, string]>): EpochCall[] => offsets.map(([at, operation]) => ({ epochMs: T + at, operation }));

function input(overrides: Partial<FleetAggregateInput> = {}): FleetAggregateInput {
  return {
    results: [
      result({
        ok: 10,
        rotatedAt: T + 2_400,
        sockets: [
          [T, T + 5_000],
          [T + 100, T + 2_500],
        ],
      }),
      result({ ok: 20, rotatedAt: T + 2_900, sockets: [[T + 50, T + 2_600]] }),
    ],
    calls: [
      calls([-500, 'GetSecretValue'], [2_300, 'DescribeSecret'], [2_350, 'GetSecretValue']),
      calls([-400, 'GetSecretValue'], [2_800, 'DescribeSecret'], [2_850, 'GetSecretValue']),
    ],
    windows: WINDOWS,
    loadEpochMs: T,
    endEpochMs: T + 4_000,
    store: 'secrets-manager',
    emulatorCalls: 17,
    connectionLimit: 2,
    server: { refusedLogins: 3, serverPeak: 4, sampledPeak: 3, samples: 40 },
    ...overrides,
  };
}

describe('fleet drill report', function () {
  it('sums the processes into one credswap target: queries, errors by code, provider calls, rotations, connections', function () {
    const { target } = aggregateFleet(
      input({
        results: [
          result({ ok: 10, failed: [{ at: 2_100, code: 'ER_ACCESS_DENIED_ERROR' }], rotatedAt: T + 2_400 }),
          result({
            ok: 20,
            failed: [
              { at: 2_200, code: 'ER_ACCESS_DENIED_ERROR' },
              { at: 500, code: 'ECONNRESET' },
            ],
            rotatedAt: T + 2_900,
          }),
        ],
      }),
    );
    assert.deepEqual(target.queries, { ok: 30, failed: 3, refused: 0, failedByCode: { ER_ACCESS_DENIED_ERROR: 2, ECONNRESET: 1 } });
    assert.equal(target.providerCalls, 4);
    assert.equal(target.rotations, 2);
    assert.equal(target.connectionsOpened, 8);
    assert.equal(target.windows[0].failed, 2, 'the failures issued inside the rotation window, all processes');
    assert.equal(target.latencyMs.outside.count, 33, 'latency over every query of every process');
    assert.equal(target.latencyMs.outside.max, 20);
  });

  it('says the fleet converged when its slowest process did, and never when one never did', function () {
    const { target, fleet } = aggregateFleet(input());
    assert.equal(target.windows[0].convergedMs, 2_900);
    assert.equal(target.windows[0].convergenceMs, 900);
    assert.deepEqual(
      fleet.perProcess.map((p) => p.convergenceMs),
      [400, 900],
    );
    const never = aggregateFleet(input({ results: [result({ ok: 5, rotatedAt: T + 2_400 }), result({ ok: 5 })] }));
    assert.equal(never.target.windows[0].convergedMs, undefined);
    assert.equal(never.fleet.perProcess[1].convergenceMs, undefined);
  });

  it("counts each process's store calls, those at startup, and each rotation's against 2 per process", function () {
    const { fleet } = aggregateFleet(input());
    assert.deepEqual(
      fleet.perProcess.map((p) => p.storeCalls),
      [3, 3],
    );
    assert.equal(fleet.store.calls, 6);
    assert.equal(fleet.store.startupCalls, 2);
    assert.deepEqual(fleet.store.callsByOperation, { GetSecretValue: 4, DescribeSecret: 2 });
    assert.equal(fleet.store.emulatorCalls, 17);
    assert.equal(fleet.store.budgetPerRotation, 4);
    const [rotation] = fleet.store.rotations;
    assert.equal(rotation.calls, 4);
    assert.equal(rotation.processes, 2);
    assert.equal(fleet.met.callsPerRotation, true);
    const over = aggregateFleet(
      input({
        calls: [
          calls([2_100, 'GetSecretValue'], [2_200, 'GetSecretValue'], [2_300, 'GetSecretValue']),
          calls([2_400, 'GetSecretValue'], [2_500, 'GetSecretValue']),
        ],
      }),
    );
    assert.equal(over.fleet.store.rotations[0].calls, 5);
    assert.equal(over.fleet.met.callsPerRotation, false);
  });

  it('shows how the calls after a rotation spread: first, p50, p90, last and a histogram from its start', function () {
    const spread = rotationCalls(
      1,
      [calls([2_100, 'a'], [2_150, 'a'], [2_900, 'b']), calls([2_500, 'a'], [5_000, 'late'])],
      T + 2_000,
      T + 4_000,
    );
    assert.equal(spread.calls, 4, 'a call after the span is not this rotation’s');
    assert.deepEqual([spread.firstMs, spread.p50Ms, spread.p90Ms, spread.lastMs], [100, 150, 900, 900]);
    assert.equal(spread.histogram.bucketMs, 2_000 / CALL_HISTOGRAM_BUCKETS);
    assert.equal(spread.histogram.counts.length, CALL_HISTOGRAM_BUCKETS);
    assert.equal(spread.histogram.counts[1], 2, '100 and 150 ms fall in the second 100 ms');
    assert.equal(spread.histogram.counts[5], 1);
    assert.equal(spread.histogram.counts[9], 1);
    assert.equal(
      spread.histogram.counts.reduce((a, b) => a + b, 0),
      4,
    );
    const none = rotationCalls(2, [[]], T, T + 1_000);
    assert.equal(none.calls, 0);
    assert.equal(none.firstMs, undefined);
  });

  it('adds up the sockets of every process into the peak of connections at any moment', function () {
    assert.equal(peakOpen([]), 0);
    // Process 1: two sockets, the second opening as the first closes; process 2: one in between.
    assert.equal(
      peakOpen([
        { opened: [0, 10], closed: [10, 30] },
        { opened: [5], closed: [12] },
      ]),
      3,
      'at 10 a connect counts before the close at the same moment',
    );
    assert.equal(
      peakOpen([
        { opened: [0, 1], closed: [] },
        { opened: [2], closed: [3] },
      ]),
      3,
      'a socket never closed stays open',
    );
    const { fleet } = aggregateFleet(input());
    assert.equal(fleet.connections.peak, 3);
    assert.equal(fleet.connections.limit, 4);
    assert.equal(fleet.connections.serverPeak, 4);
    assert.equal(fleet.met.connections, true);
    const crowded = aggregateFleet(input({ connectionLimit: 1 }));
    assert.equal(crowded.fleet.met.connections, false);
  });

  it('makes a report of the documented shape, whose table shows the fleet section', function () {
    const { target, fleet } = aggregateFleet(input());
    const report = buildReport({
      scenario: 'aws-single-user',
      embedded: true,
      options: { durationMs: 4_000, concurrency: 2, writeRatio: 0.2, rotations: 1 },
      targets: [target],
      startedAt: new Date(T),
      fleet,
    });
    assert.equal(report.ok, true);
    assert.deepEqual(validateReport(JSON.parse(JSON.stringify(report))), []);
    const withoutServer = aggregateFleet(input({ server: { refusedLogins: 0, sampledPeak: 2, samples: 3 } })).fleet;
    assert.deepEqual(validateReport(JSON.parse(JSON.stringify({ ...report, fleet: withoutServer }))), []);
    assert.deepEqual(validateReport({ ...JSON.parse(JSON.stringify(report)), fleet: { ...fleet, processes: 0 } }), [
      '/fleet/processes must be >= 1',
    ]);
    const table = renderTable(report);
    assert.match(table, /2 processes × 2 workers/);
    assert.match(table, /fleet: 2 processes, connectionLimit 2 each/);
    assert.match(table, /rotation 1: 4 calls from 2 processes \(DescribeSecret 2, GetSecretValue 2\); target ≤ 4: within target/);
    assert.match(table, /first 300 ms, p50 350 ms, p90 850 ms, last 850 ms/);
    assert.match(table, /refused logins \(server, Aborted_connects\): 3/);
    assert.match(table, /peak connections of the processes: 3; target ≤ 4: within target/);
    assert.match(table, /PASS: credswap failed 0 of 30 queries/);
  });
});
