/**
 * How a drill's report is shown: an aligned text table (credswap and plain mysql2 side by side)
 * ending in a PASS/FAIL verdict, or JSON for machines. The live progress display is
 * {@link createProgress}.
 *
 * @packageDocumentation
 */

import { formatCount, formatMs, formatSeconds, styler, type Style } from './format.js';
import { renderFleet } from './fleet/render.js';
import type { DrillReport, LatencySummary, TargetReport } from './report.js';

export { createProgress } from './progress.js';
export type { Progress, ProgressOptions, ProgressState, ProgressStream } from './progress.js';

/** Options of {@link renderTable}. */
export interface RenderTableOptions {
  /**
   * Colour the verdict and non-zero failure counts with ANSI escapes. Only when asked: the CLI
   * turns it on for a TTY without `NO_COLOR`.
   *
   * @defaultValue false
   */
  color?: boolean;
}

/** One row: a label and one cell per target, each cell optionally styled. */
interface Row {
  label: string;
  cells: Array<{ text: string; style?: Style[] }>;
  /** A group heading: label only. */
  heading?: boolean;
}

const NONE = '—';

/** The slowest convergence over a target's windows: `never` when one never converged, `—` without windows. */
function convergence(target: TargetReport): { text: string; style?: Style[] } {
  if (target.windows.length === 0) return { text: NONE, style: ['dim'] };
  if (target.windows.some((w) => w.convergenceMs === undefined)) return { text: 'never', style: ['red'] };
  return { text: formatMs(Math.max(...target.windows.map((w) => w.convergenceMs!))) };
}

function optionalCount(value: number | undefined): { text: string; style?: Style[] } {
  return value === undefined ? { text: NONE, style: ['dim'] } : { text: formatCount(value) };
}

function failedCell(n: number): { text: string; style?: Style[] } {
  return { text: formatCount(n), style: n > 0 ? ['red'] : undefined };
}

function latencyRows(targets: readonly TargetReport[], which: 'inside' | 'outside', heading: string): Row[] {
  const pick = (t: TargetReport): LatencySummary => t.latencyMs[which];
  if (targets.every((t) => pick(t).count === 0)) return [];
  const cell = (t: TargetReport, key: 'p50' | 'p99' | 'max') =>
    pick(t).count === 0 ? { text: NONE, style: ['dim'] as Style[] } : { text: formatMs(pick(t)[key]) };
  return [
    { label: heading, cells: [], heading: true },
    { label: '  p50', cells: targets.map((t) => cell(t, 'p50')) },
    { label: '  p99', cells: targets.map((t) => cell(t, 'p99')) },
    { label: '  max', cells: targets.map((t) => cell(t, 'max')) },
  ];
}

function rows(report: DrillReport): Row[] {
  const targets = report.targets;
  const codes = [...new Set(targets.flatMap((t) => Object.keys(t.queries.failedByCode)))].sort(
    (a, b) => sumCode(targets, b) - sumCode(targets, a) || a.localeCompare(b),
  );
  const failover = report.scenario === 'failover' || targets.some((t) => t.windows.some((w) => w.kind === 'failover'));
  const windowName = failover ? 'failover window' : 'rotation windows';
  const out: Row[] = [
    { label: 'queries ok', cells: targets.map((t) => ({ text: formatCount(t.queries.ok) })) },
    { label: 'queries failed', cells: targets.map((t) => failedCell(t.queries.failed)) },
    ...codes.map((code) => ({ label: `  ${code}`, cells: targets.map((t) => failedCell(t.queries.failedByCode[code] ?? 0)) })),
    ...latencyRows(targets, 'inside', `latency inside ${windowName}`),
    ...latencyRows(targets, 'outside', `latency outside ${windowName}`),
    { label: 'rotations', cells: targets.map((t) => optionalCount(t.rotations)) },
    { label: 'provider calls', cells: targets.map((t) => optionalCount(t.providerCalls)) },
    { label: 'connections opened', cells: targets.map((t) => ({ text: formatCount(t.connectionsOpened) })) },
    { label: 'convergence (slowest)', cells: targets.map(convergence) },
  ];
  if (targets.some((t) => t.writeErrorWindowMs !== undefined)) {
    out.push({
      label: 'write-error window',
      cells: targets.map((t) =>
        t.writeErrorWindowMs === undefined ? { text: NONE, style: ['dim'] } : { text: formatMs(t.writeErrorWindowMs) },
      ),
    });
  }
  if (targets.some((t) => t.writeErrorAfterFlipMs !== undefined)) {
    out.push({ label: '  after the flip', cells: targets.map(afterFlip) });
  }
  if (targets.some((t) => t.windows.some((w) => w.logins !== undefined))) {
    out.push({ label: 'logins while read-only', cells: targets.map(readOnlyLogins) });
  }
  return out;
}

/** The last write error after a flip, from the flip: `none` when every write error came before it. */
function afterFlip(target: TargetReport): { text: string; style?: Style[] } {
  const ms = target.writeErrorAfterFlipMs;
  if (ms === undefined) return { text: NONE, style: ['dim'] };
  return ms === 0 ? { text: 'none' } : { text: formatMs(ms), style: ['red'] };
}

/** New connections to the old primary while it was read-only, over every failover window, and per second. */
function readOnlyLogins(target: TargetReport): { text: string; style?: Style[] } {
  const windows = target.windows.filter((w) => w.logins !== undefined);
  if (windows.length === 0) return { text: NONE, style: ['dim'] };
  const logins = windows.reduce((sum, w) => sum + w.logins!, 0);
  const seconds = windows.reduce((sum, w) => sum + (w.endMs - w.startMs), 0) / 1000;
  return { text: `${formatCount(logins)} (${seconds > 0 ? (logins / seconds).toFixed(1) : '0.0'}/s)` };
}

function sumCode(targets: readonly TargetReport[], code: string): number {
  return targets.reduce((sum, t) => sum + (t.queries.failedByCode[code] ?? 0), 0);
}

/** "612 ER_ACCESS_DENIED_ERROR, 3 ECONNREFUSED", largest first. */
function describeFailures(failedByCode: Readonly<Record<string, number>>): string {
  return Object.entries(failedByCode)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([code, n]) => `${formatCount(n)} ${code}`)
    .join(', ');
}

function totals(targets: readonly TargetReport[]) {
  const ok = targets.reduce((s, t) => s + t.queries.ok, 0);
  const failed = targets.reduce((s, t) => s + t.queries.failed, 0);
  const refused = targets.reduce((s, t) => s + t.queries.refused, 0);
  const failedByCode: Record<string, number> = {};
  for (const t of targets) {
    for (const [code, n] of Object.entries(t.queries.failedByCode)) failedByCode[code] = (failedByCode[code] ?? 0) + n;
  }
  return { ok, failed, refused, total: ok + failed, failedByCode };
}

/** The verdict: `PASS: credswap failed 0 of N queries`, or `FAIL: ...` saying why; then how mysql2 did. */
function verdict(report: DrillReport, paint: ReturnType<typeof styler>): string[] {
  const credswap = totals(report.targets.filter((t) => t.target === 'credswap'));
  const mysql2Targets = report.targets.filter((t) => t.target === 'mysql2');
  let line: string;
  if (report.ok) {
    line =
      credswap.refused === 0
        ? `${paint('PASS', 'bold', 'green')}: credswap failed 0 of ${formatCount(credswap.total)} queries`
        : `${paint('PASS', 'bold', 'green')}: credswap failed 0 of ${formatCount(credswap.total)} queries ` +
          `beyond the ${formatCount(credswap.refused)} writes the read-only primary refused before the flip`;
  } else if (!report.targets.some((t) => t.target === 'credswap')) {
    line = `${paint('FAIL', 'bold', 'red')}: no credswap pool ran`;
  } else if (credswap.failed === 0) {
    line = `${paint('FAIL', 'bold', 'red')}: credswap ran no successful query`;
  } else {
    const beyond = credswap.refused === 0 ? '' : ` beyond the ${formatCount(credswap.refused)} refused before the flip`;
    line = `${paint('FAIL', 'bold', 'red')}: credswap failed ${formatCount(credswap.failed - credswap.refused)} of ${formatCount(credswap.total)} queries${beyond} (${describeFailures(credswap.failedByCode)})`;
  }
  const lines = [line];
  if (mysql2Targets.length > 0) {
    const m = totals(mysql2Targets);
    lines.push(
      m.failed === 0
        ? `plain mysql2, same drill: failed 0 of ${formatCount(m.total)} queries`
        : `plain mysql2, same drill: failed ${formatCount(m.failed)} of ${formatCount(m.total)} queries (${describeFailures(m.failedByCode)})`,
    );
  }
  return lines;
}

function header(report: DrillReport): string[] {
  const { options: o, machine: m } = report;
  const where = report.embedded ? 'throwaway servers and emulators' : 'the infrastructure named by the flags';
  const plural = (n: number, word: string) => `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;
  const processes = report.fleet?.processes;
  const fleet = processes === undefined ? '' : `${formatCount(processes)} process${processes === 1 ? '' : 'es'} × `;
  return [
    `credswap drill: ${report.scenario}, on ${where}`,
    `${formatSeconds(o.durationMs)}, ${fleet}${plural(o.concurrency, 'worker')}, ${Math.round(o.writeRatio * 100)}% writes, ${plural(o.rotations, report.scenario === 'failover' ? 'failover' : 'rotation')}; ` +
      `Node ${m.node}, ${m.platform}, ${m.cpus} × ${m.cpuModel}`,
  ];
}

/**
 * The report as an aligned text table: one column per target (credswap, then mysql2 with
 * `--compare mysql2`), rows for queries ok and failed (one per error code), latency p50/p99/max
 * inside and outside the disruption windows, rotations, provider calls, connections opened, the
 * slowest convergence, the write-error window of a failover (and its part after the flip), the
 * logins while the old primary was read-only; a fleet drill's section (per
 * process, the secret store's calls and their spread, refused logins, peak connections); then the verdict line,
 * `PASS: credswap failed 0 of N queries` or `FAIL: ...`. Ends with a newline.
 *
 * @example
 * ```ts
 * process.stdout.write(renderTable(report, { color: process.stdout.isTTY && !process.env.NO_COLOR }));
 * ```
 */
export function renderTable(report: DrillReport, options: RenderTableOptions = {}): string {
  const paint = styler(options.color === true);
  const table = rows(report);
  const headings = report.targets.map((t) => t.target);
  const labelWidth = Math.max(...table.map((r) => r.label.length));
  const widths = headings.map((h, i) => Math.max(h.length, ...table.map((r) => r.cells[i]?.text.length ?? 0)));
  const gap = '   ';
  const line = (label: string, cells: string[]) => `  ${label.padEnd(labelWidth)}${cells.map((c) => gap + c).join('')}`.trimEnd();
  const ruleWidth = labelWidth + widths.reduce((s, w) => s + gap.length + w, 0);

  const out = [...header(report).map((l, i) => (i === 0 ? paint(l, 'bold') : paint(l, 'dim'))), ''];
  out.push(
    line(
      '',
      headings.map((h, i) => paint(h.padStart(widths[i]), 'bold')),
    ),
  );
  out.push(`  ${'─'.repeat(ruleWidth)}`);
  for (const row of table) {
    if (row.heading) {
      out.push(line(row.label, []));
      continue;
    }
    out.push(
      line(
        row.label,
        row.cells.map((c, i) => paint(c.text.padStart(widths[i]), ...(c.style ?? []))),
      ),
    );
  }
  out.push(`  ${'─'.repeat(ruleWidth)}`, '');
  if (report.fleet !== undefined) out.push(...renderFleet(report.fleet, paint), '');
  out.push(...verdict(report, paint));
  return `${out.join('\n')}\n`;
}

/** The report as indented JSON (the shape `report-schema.json` describes), ending with a newline. */
export function renderJson(report: DrillReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
