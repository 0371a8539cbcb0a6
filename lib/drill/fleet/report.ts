/**
 * A fleet drill's report: the workers' results summed into one credswap target (so the table,
 * the verdict and `ok` read as for one process), and the fleet's own section: per-process
 * counts, the secret store's calls and how they spread after each rotation, refused logins and
 * the database's peak of connections. Pure functions; `../report-schema.json` describes the
 * result (`fleet`).
 *
 * @packageDocumentation
 */

import { percentile, summarizeLatency, type TargetReport, type WindowReport } from '../report.js';
import type { EpochWindow, WorkerResult } from './protocol.js';
import type { FleetProcessReport, FleetReport, RotationCalls } from './report-types.js';
import type { ServerMeasurements } from './server-stats.js';

export type { FleetProcessReport, FleetReport, RotationCalls } from './report-types.js';

/** Buckets of {@link RotationCalls.histogram}. */
export const CALL_HISTOGRAM_BUCKETS = 20;

/**
 * The most sockets open at once over all processes: each process's sockets as connect and
 * close times on the shared clock (a socket without a close stayed open). At equal times a
 * connect counts before a close.
 */
export function peakOpen(processes: ReadonlyArray<{ opened: ArrayLike<number>; closed: ArrayLike<number> }>): number {
  const events: Array<[number, number]> = [];
  for (const p of processes) {
    for (const t of Array.from(p.opened)) events.push([t, 1]);
    for (const t of Array.from(p.closed)) events.push([t, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let open = 0;
  let peak = 0;
  for (const [, delta] of events) {
    open += delta;
    peak = Math.max(peak, open);
  }
  return peak;
}

/** A store call of one process on the shared epoch clock. */
export interface EpochCall {
  epochMs: number;
  operation: string;
}

/** Input of {@link aggregateFleet}. */
export interface FleetAggregateInput {
  /** Each worker's result, by index. */
  results: readonly WorkerResult[];
  /** Each worker's store calls, by index. */
  calls: ReadonlyArray<readonly EpochCall[]>;
  /** The rotations, on the shared epoch clock. */
  windows: readonly EpochWindow[];
  /** When the parent started the load, and when it stopped it, on the shared epoch clock. */
  loadEpochMs: number;
  endEpochMs: number;
  store: FleetReport['store']['kind'];
  emulatorCalls: number;
  connectionLimit: number;
  server: ServerMeasurements;
}

const micros = (ms: number) => Math.round(ms * 1000) / 1000;

function add(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

/** The calls of one rotation's span, and how they spread over it. */
export function rotationCalls(
  rotation: number,
  calls: ReadonlyArray<readonly EpochCall[]>,
  fromEpochMs: number,
  toEpochMs: number,
): RotationCalls {
  const offsets: number[] = [];
  const byOperation: Record<string, number> = {};
  let processes = 0;
  for (const own of calls) {
    const inSpan = own.filter((c) => c.epochMs >= fromEpochMs && c.epochMs < toEpochMs);
    if (inSpan.length > 0) processes += 1;
    for (const c of inSpan) {
      offsets.push(c.epochMs - fromEpochMs);
      byOperation[c.operation] = (byOperation[c.operation] ?? 0) + 1;
    }
  }
  const sorted = Float64Array.from(offsets).sort();
  const bucketMs = Math.max(1, Math.ceil((toEpochMs - fromEpochMs) / CALL_HISTOGRAM_BUCKETS));
  const counts = new Array<number>(CALL_HISTOGRAM_BUCKETS).fill(0);
  for (const offset of sorted) counts[Math.min(CALL_HISTOGRAM_BUCKETS - 1, Math.floor(offset / bucketMs))] += 1;
  const spread =
    sorted.length === 0
      ? {}
      : {
          firstMs: micros(sorted[0]),
          p50Ms: micros(percentile(sorted, 50)),
          p90Ms: micros(percentile(sorted, 90)),
          lastMs: micros(sorted[sorted.length - 1]),
        };
  return { rotation, calls: sorted.length, processes, byOperation, ...spread, histogram: { bucketMs, counts } };
}

/** When a process's pool converged after window `i`: its first new generation in that window's span, epoch ms. */
function convergedAt(result: WorkerResult, windows: readonly EpochWindow[], i: number): number | undefined {
  const next = i + 1 < windows.length ? windows[i + 1].startEpochMs : Number.POSITIVE_INFINITY;
  return result.rotatedAtEpochMs.find((t) => t >= windows[i].startEpochMs && t < next);
}

/** The fleet's total as one credswap target, on the parent's load clock. */
function totalTarget(input: FleetAggregateInput): TargetReport {
  const { results, windows, loadEpochMs } = input;
  const failedByCode: Record<string, number> = {};
  const queries = { ok: 0, failed: 0, refused: 0, failedByCode };
  let providerCalls = 0;
  let rotations = 0;
  let connectionsOpened = 0;
  for (const r of results) {
    queries.ok += r.report.queries.ok;
    queries.failed += r.report.queries.failed;
    queries.refused += r.report.queries.refused;
    add(failedByCode, r.report.queries.failedByCode);
    providerCalls += r.report.providerCalls ?? 0;
    rotations += r.report.rotations ?? 0;
    connectionsOpened += r.report.connectionsOpened;
  }
  const merge = (which: 'inside' | 'outside') => summarizeLatency(results.flatMap((r) => Array.from(r.durations[which])));
  const windowReports: WindowReport[] = windows.map((w, i) => {
    const converged = results.map((r) => convergedAt(r, windows, i));
    // The fleet converged when its last process did.
    const all = converged.every((t) => t !== undefined) && results.length > 0;
    const convergedMs = all ? Math.max(...converged) - loadEpochMs : undefined;
    const startMs = micros(Math.max(0, w.startEpochMs - loadEpochMs));
    return {
      kind: 'rotation',
      startMs,
      endMs: micros(Math.max(0, w.endEpochMs - loadEpochMs)),
      ...(convergedMs !== undefined ? { convergedMs: micros(convergedMs), convergenceMs: micros(Math.max(0, convergedMs - startMs)) } : {}),
      failed: results.reduce((sum, r) => sum + (r.report.windows[i]?.failed ?? 0), 0),
    };
  });
  return {
    target: 'credswap',
    providerCalls,
    rotations,
    connectionsOpened,
    queries,
    latencyMs: { inside: merge('inside'), outside: merge('outside') },
    windows: windowReports,
  };
}

/**
 * Sums a fleet's results: the total as one credswap target, and the fleet section.
 *
 * @example
 * ```ts
 * const { target, fleet } = aggregateFleet({ results, calls, windows, loadEpochMs, endEpochMs, store: 'vault', emulatorCalls, connectionLimit: 2, server });
 * ```
 */
export function aggregateFleet(input: FleetAggregateInput): { target: TargetReport; fleet: FleetReport } {
  const { results, calls, windows } = input;
  const processes = results.length;
  const callsByOperation: Record<string, number> = {};
  for (const own of calls) for (const c of own) callsByOperation[c.operation] = (callsByOperation[c.operation] ?? 0) + 1;
  const firstRotation = windows[0]?.startEpochMs ?? Number.POSITIVE_INFINITY;
  const rotations = windows.map((w, i) =>
    rotationCalls(i + 1, calls, w.startEpochMs, i + 1 < windows.length ? windows[i + 1].startEpochMs : input.endEpochMs),
  );
  const perProcess: FleetProcessReport[] = results.map((r, i) => {
    const converged = r.report.windows.map((w) => w.convergenceMs);
    return {
      process: i + 1,
      queries: { ok: r.report.queries.ok, failed: r.report.queries.failed, failedByCode: { ...r.report.queries.failedByCode } },
      storeCalls: calls[i]?.length ?? 0,
      providerCalls: r.report.providerCalls ?? 0,
      rotations: r.report.rotations ?? 0,
      connectionsOpened: r.report.connectionsOpened,
      ...(converged.length > 0 && converged.every((c) => c !== undefined) ? { convergenceMs: Math.max(...converged) } : {}),
    };
  });
  const target = totalTarget(input);
  const budgetPerRotation = 2 * processes;
  const limit = processes * input.connectionLimit;
  const peak = peakOpen(results.map((r) => r.sockets));
  const fleet: FleetReport = {
    processes,
    connectionLimit: input.connectionLimit,
    store: {
      kind: input.store,
      calls: calls.reduce((sum, own) => sum + own.length, 0),
      callsByOperation,
      startupCalls: calls.reduce((sum, own) => sum + own.filter((c) => c.epochMs < firstRotation).length, 0),
      emulatorCalls: input.emulatorCalls,
      rotations,
      budgetPerRotation,
    },
    refusedLogins: input.server.refusedLogins,
    connections: {
      peak,
      limit,
      ...(input.server.serverPeak !== undefined ? { serverPeak: input.server.serverPeak } : {}),
      sampledPeak: input.server.sampledPeak,
    },
    met: {
      queries: target.queries.failed === target.queries.refused && target.queries.ok > 0,
      callsPerRotation: rotations.every((r) => r.calls <= budgetPerRotation),
      connections: peak <= limit,
    },
    perProcess,
  };
  return { target, fleet };
}
