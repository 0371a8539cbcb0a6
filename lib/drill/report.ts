/**
 * What a drill reports: the per-query outcomes of a load summarized per target (credswap, and
 * plain mysql2 with `--compare mysql2`): counts by error code, latency inside and outside the
 * disruption windows, convergence after each disruption, and the write-error window of a
 * failover. Pure functions; `report-schema.json` next to this file describes the result.
 *
 * @packageDocumentation
 */

import * as os from 'node:os';
import { READ_ONLY_ERRNOS } from '../mysql2/classify.js';
import type { QueryOutcome } from '../testing/load.js';
import type { FleetReport } from './fleet/report-types.js';

/**
 * In a failover, writes issued this long after the flip may still reach the old primary (a
 * connection the pool had not yet discarded); a read-only refusal issued before the flip plus this
 * margin counts as refused by the server, not as a failure of the pool.
 */
export const FAILOVER_SETTLE_MS = 1_000;

/** One disruption during a drill, on the load's clock (ms since the load started). */
export interface DrillWindow {
  kind: 'rotation' | 'failover';
  /** When the disruption began: the rotation started, the primary turned read-only. */
  startMs: number;
  /** When it ended from the outside's point of view: the rotation finished, the proxy flipped. */
  endMs: number;
  /**
   * When the pool converged: its first successful query on the new credentials or server after
   * `startMs` (for credswap, the pool's `rotate` event, or the first successful write after a
   * flip). `undefined`: it never did.
   */
  convergedMs?: number;
  /**
   * Failover windows: new connections the pool opened from `startMs` to `endMs`, the old
   * primary's read-only window. Before the flip every new connection reaches the old primary.
   */
  logins?: number;
}

/** What a drill gathers per target besides the outcomes of its load. */
export interface TargetStats {
  target: 'credswap' | 'mysql2';
  /** credswap only: calls of the provider. */
  providerCalls?: number;
  /** credswap only: generations of credentials started after the first (`rotate` events minus one). */
  rotations?: number;
  /** New connections the pool opened. */
  connectionsOpened: number;
}

/** Latency of a set of queries, in milliseconds (nearest-rank percentiles; all 0 when `count` is 0). */
export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

/** A disruption window as reported: the window, the queries issued inside it that failed, and how long the pool took to converge. */
export interface WindowReport extends DrillWindow {
  /** Failed queries issued inside this window. */
  failed: number;
  /** `convergedMs - startMs`; `undefined` when the pool never converged. */
  convergenceMs?: number;
  /** Failover windows with {@link DrillWindow.logins}: those logins per second of the read-only window. */
  loginsPerSecond?: number;
  /**
   * Failover drills: from the flip (`endMs`) to the error of the last write that failed after it
   * (before the next window began); 0 when no write failed after the flip.
   */
  writeErrorAfterFlipMs?: number;
}

/** One target's results. */
export interface TargetReport extends TargetStats {
  /**
   * `refused`: failed queries the server refused as read-only (1290, 1792, 1836, 1874) during a failover
   * window: ended after it began, issued before the flip plus {@link FAILOVER_SETTLE_MS}. Nothing accepts
   * writes then; the statement did not run. Included in `failed`.
   */
  queries: { ok: number; failed: number; refused: number; failedByCode: Record<string, number> };
  /** Latency of every query (failed ones too: what the application waited), by whether it was issued inside a window. */
  latencyMs: { inside: LatencySummary; outside: LatencySummary };
  windows: WindowReport[];
  /** Failover drills: from issuing the first failed write to the error of the last one, ms (0 when none). */
  writeErrorWindowMs?: number;
  /** Failover drills: the longest {@link WindowReport.writeErrorAfterFlipMs} over the windows, ms (0 when none). */
  writeErrorAfterFlipMs?: number;
}

/** The drill's settings, as reported. */
export interface DrillReportOptions {
  durationMs: number;
  concurrency: number;
  writeRatio: number;
  rotations: number;
}

/** The machine a drill ran on. */
export interface MachineInfo {
  /** `process.version`, e.g. `v20.19.0`. */
  node: string;
  /** Platform and architecture, e.g. `linux-x64`. */
  platform: string;
  /** CPUs available to the process. */
  cpus: number;
  cpuModel: string;
}

/** A drill's whole report: what `credswap drill --json` prints. Described by `report-schema.json`. */
export interface DrillReport {
  version: 1;
  scenario: string;
  /** True when the drill ran on throwaway servers and emulators. */
  embedded: boolean;
  options: DrillReportOptions;
  machine: MachineInfo;
  /** When the drill started, ISO 8601. */
  startedAt: string;
  /** credswap first, then mysql2 with `--compare mysql2`. A fleet drill has one: its processes' total. */
  targets: TargetReport[];
  /** A fleet drill (`--fleet N`) only: per process, the secret store's calls, refused logins, the peak of connections. */
  fleet?: FleetReport;
  /** True when every credswap target ran queries and none failed beyond `queries.refused`. */
  ok: boolean;
}

/** Exact counts of a load, when its outcomes were capped (a {@link LoadGenerator} has these). */
export interface LoadTotals {
  readonly ok: number;
  readonly failed: number;
  readonly failedByCode: Readonly<Record<string, number>>;
}

/** Input of {@link summarize}. */
export interface SummarizeInput {
  outcomes: readonly QueryOutcome[];
  windows: readonly DrillWindow[];
  stats: TargetStats;
  /** A failover drill: report {@link TargetReport.writeErrorWindowMs}. */
  failover?: boolean;
  /**
   * Exact counts for `queries`, e.g. the {@link LoadGenerator} itself when it kept fewer outcomes
   * than it ran. Without it, the counts come from `outcomes`.
   */
  totals?: LoadTotals;
}

/**
 * The nearest-rank percentile of ascending `sorted` values: the value at rank `ceil(p / 100 * n)`
 * (1-based, at least 1). Always one of the values; 0 for no values.
 *
 * @param p - from 0 to 100
 * @example
 * ```ts
 * percentile([1, 2, 3, 4], 50); // 2
 * percentile([1, 2, 3, 4], 99); // 4
 * ```
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

/** Rounds to the microsecond, so reports carry no float noise. */
const micros = (ms: number) => Math.round(ms * 1000) / 1000;

/** `count` per second of `ms` milliseconds, rounded to the microsecond; 0 for a window shorter than a microsecond. */
const perSecond = (count: number, ms: number) => (ms > 0 ? micros(count / (ms / 1000)) : 0);

/** p50, p99, max and count of `values` (any order), rounded to the microsecond. */
export function summarizeLatency(values: readonly number[]): LatencySummary {
  // A typed array sorts numerically, and a million values in a fraction of the time.
  const sorted = Float64Array.from(values).sort();
  return {
    p50: micros(percentile(sorted, 50)),
    p99: micros(percentile(sorted, 99)),
    max: micros(sorted.length === 0 ? 0 : sorted[sorted.length - 1]),
    count: sorted.length,
  };
}

/**
 * Where a window ends for counting queries as inside it: `max(endMs, convergedMs)`, or, when
 * the pool never converged, never (the disruption lasted, for the application, to the end).
 */
export function windowEnd(window: DrillWindow): number {
  return window.convergedMs === undefined ? Number.POSITIVE_INFINITY : Math.max(window.endMs, window.convergedMs);
}

/** True when a query issued at `at` is inside `window`: from `startMs` to {@link windowEnd}, both included. */
export function isInside(at: number, window: DrillWindow): boolean {
  return at >= window.startMs && at <= windowEnd(window);
}

/**
 * A read-only refusal that ended after a failover began (a transaction begun just before may be
 * refused a moment later) and was issued before the flip plus {@link FAILOVER_SETTLE_MS}.
 */
function refusedInFailover(o: QueryOutcome, windows: readonly DrillWindow[]): boolean {
  if (o.ok || o.errno === undefined || !READ_ONLY_ERRNOS.has(o.errno)) return false;
  return windows.some((w) => w.kind === 'failover' && o.at + o.durationMs >= w.startMs && o.at <= w.endMs + FAILOVER_SETTLE_MS);
}

/**
 * Summarizes one target's load. A query is *inside* when it was issued inside any window;
 * latency counts every query, failed ones included. See {@link TargetReport}.
 *
 * @example
 * ```ts
 * const report = summarize({ outcomes: load.outcomes, totals: load, windows, stats: { target: 'credswap', connectionsOpened: 9 } });
 * ```
 */
export function summarize(input: SummarizeInput): TargetReport {
  const { outcomes, windows } = input;
  const inside: number[] = [];
  const outside: number[] = [];
  const failedByCode: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  let refused = 0;
  let firstFailedWrite = Number.POSITIVE_INFINITY;
  let lastFailedWriteEnd = Number.NEGATIVE_INFINITY;
  const windowFailures = windows.map(() => 0);
  // Per window: the error of the last write that failed after the flip, before the next window began.
  const lastErrorAfterFlip = windows.map(() => Number.NEGATIVE_INFINITY);
  const nextStart = windows.map((w) =>
    Math.min(Number.POSITIVE_INFINITY, ...windows.filter((x) => x.startMs > w.startMs).map((x) => x.startMs)),
  );

  for (const o of outcomes) {
    (windows.some((w) => isInside(o.at, w)) ? inside : outside).push(o.durationMs);
    if (o.ok) {
      ok += 1;
      continue;
    }
    failed += 1;
    const code = o.code ?? 'UNKNOWN';
    failedByCode[code] = (failedByCode[code] ?? 0) + 1;
    windows.forEach((w, i) => {
      if (isInside(o.at, w)) windowFailures[i] += 1;
    });
    if (refusedInFailover(o, windows)) refused += 1;
    if (o.kind === 'write') {
      const errorAt = o.at + o.durationMs;
      firstFailedWrite = Math.min(firstFailedWrite, o.at);
      lastFailedWriteEnd = Math.max(lastFailedWriteEnd, errorAt);
      windows.forEach((w, i) => {
        if (w.kind === 'failover' && errorAt > w.endMs && o.at < nextStart[i])
          lastErrorAfterFlip[i] = Math.max(lastErrorAfterFlip[i], errorAt);
      });
    }
  }

  const totals = input.totals;
  const { target, providerCalls, rotations, connectionsOpened } = input.stats;
  const report: TargetReport = {
    target,
    ...(providerCalls !== undefined ? { providerCalls } : {}),
    ...(rotations !== undefined ? { rotations } : {}),
    connectionsOpened,
    queries: totals
      ? { ok: totals.ok, failed: totals.failed, refused, failedByCode: { ...totals.failedByCode } }
      : { ok, failed, refused, failedByCode },
    latencyMs: { inside: summarizeLatency(inside), outside: summarizeLatency(outside) },
    windows: windows.map((w, i) => ({
      kind: w.kind,
      startMs: micros(w.startMs),
      endMs: micros(w.endMs),
      ...(w.convergedMs !== undefined ? { convergedMs: micros(w.convergedMs), convergenceMs: micros(w.convergedMs - w.startMs) } : {}),
      failed: windowFailures[i],
      ...(w.kind === 'failover' && w.logins !== undefined
        ? { logins: w.logins, loginsPerSecond: perSecond(w.logins, micros(w.endMs - w.startMs)) }
        : {}),
      ...(input.failover && w.kind === 'failover'
        ? { writeErrorAfterFlipMs: Number.isFinite(lastErrorAfterFlip[i]) ? micros(lastErrorAfterFlip[i] - w.endMs) : 0 }
        : {}),
    })),
  };
  if (input.failover) {
    report.writeErrorWindowMs = Number.isFinite(firstFailedWrite) ? micros(lastFailedWriteEnd - firstFailedWrite) : 0;
    report.writeErrorAfterFlipMs = micros(Math.max(0, ...report.windows.map((w) => w.writeErrorAfterFlipMs ?? 0)));
  }
  return report;
}

/** The machine this process runs on, for {@link DrillReport.machine}. */
export function describeMachine(): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()}-${os.arch()}`,
    cpus: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    cpuModel: cpus[0]?.model.trim() || 'unknown',
  };
}

/** Input of {@link buildReport}. */
export interface BuildReportInput {
  scenario: string;
  embedded: boolean;
  options: DrillReportOptions;
  /** credswap first, then mysql2. */
  targets: TargetReport[];
  /** When the drill started. */
  startedAt: Date;
  /** @defaultValue {@link describeMachine}() */
  machine?: MachineInfo;
  /** A fleet drill's own section. */
  fleet?: FleetReport;
}

/**
 * Assembles a drill's report. `ok` is true when at least one credswap target ran queries and
 * no credswap target had a failed query other than `queries.refused`; mysql2 targets (the comparison) never change it.
 *
 * @example
 * ```ts
 * const report = buildReport({ scenario: 'function', embedded: true, options, targets: [credswap, mysql2], startedAt });
 * process.exitCode = report.ok ? 0 : 1;
 * ```
 */
export function buildReport(input: BuildReportInput): DrillReport {
  const credswap = input.targets.filter((t) => t.target === 'credswap');
  const { durationMs, concurrency, writeRatio, rotations } = input.options;
  return {
    version: 1,
    scenario: input.scenario,
    embedded: input.embedded,
    options: { durationMs, concurrency, writeRatio, rotations },
    machine: input.machine ?? describeMachine(),
    startedAt: input.startedAt.toISOString(),
    targets: input.targets,
    ...(input.fleet !== undefined ? { fleet: input.fleet } : {}),
    ok: credswap.length > 0 && credswap.every((t) => t.queries.failed === t.queries.refused && t.queries.ok > 0),
  };
}
