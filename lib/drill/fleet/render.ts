/**
 * The fleet section of a drill's table (`credswap drill <scenario> --fleet N`): one row per
 * process, then the secret store's calls per rotation and how they spread, refused logins and
 * the database's peak of connections, each against its target.
 *
 * @packageDocumentation
 */

import { formatCount, formatMs, type Style } from '../format.js';
import type { FleetReport, RotationCalls } from './report.js';

/** Per-process rows shown in the table; the JSON has them all. */
export const FLEET_TABLE_MAX_ROWS = 50;

type Paint = (text: string, ...styles: Style[]) => string;

const STORE_NAMES: Record<FleetReport['store']['kind'], string> = { 'secrets-manager': 'Secrets Manager', vault: 'Vault' };

function verdict(ok: boolean, paint: Paint): string {
  return ok ? paint('within target', 'green') : paint('over target', 'bold', 'red');
}

function byOperation(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([name, n]) => `${name} ${formatCount(n)}`)
    .join(', ');
}

function processRows(fleet: FleetReport, paint: Paint): string[] {
  const headings = ['process', 'queries ok', 'failed', 'store calls', 'provider calls', 'rotations', 'convergence'];
  const shown = fleet.perProcess.slice(0, FLEET_TABLE_MAX_ROWS);
  const cells = shown.map((p) => [
    String(p.process),
    formatCount(p.queries.ok),
    formatCount(p.queries.failed),
    formatCount(p.storeCalls),
    formatCount(p.providerCalls),
    formatCount(p.rotations),
    p.convergenceMs === undefined ? (p.rotations === 0 ? '—' : 'never') : formatMs(p.convergenceMs),
  ]);
  const widths = headings.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (row: string[], failed: boolean) =>
    `  ${row.map((cell, i) => (i === 2 && failed ? paint(cell.padStart(widths[i]), 'red') : cell.padStart(widths[i]))).join('   ')}`;
  const out = [paint(`  ${headings.map((h, i) => h.padStart(widths[i])).join('   ')}`, 'bold')];
  shown.forEach((p, i) => out.push(line(cells[i], p.queries.failed > 0)));
  if (fleet.perProcess.length > shown.length) out.push(`  … ${fleet.perProcess.length - shown.length} more processes (see --json)`);
  return out;
}

function rotationLines(r: RotationCalls, budget: number, paint: Paint): string[] {
  const out = [
    `    rotation ${r.rotation}: ${formatCount(r.calls)} calls from ${formatCount(r.processes)} processes` +
      `${r.calls > 0 ? ` (${byOperation(r.byOperation)})` : ''}; target ≤ ${formatCount(budget)}: ${verdict(r.calls <= budget, paint)}`,
  ];
  if (r.firstMs !== undefined) {
    out.push(
      `      after the rotation began: first ${formatMs(r.firstMs)}, p50 ${formatMs(r.p50Ms!)}, p90 ${formatMs(r.p90Ms!)}, last ${formatMs(r.lastMs!)}`,
      `      calls per ${formatMs(r.histogram.bucketMs)}: ${r.histogram.counts.join(' ')}`,
    );
  }
  return out;
}

/**
 * The lines of the fleet section, for the end of the table (before the verdict).
 *
 * @example
 * ```ts
 * if (report.fleet) lines.push(...renderFleet(report.fleet, styler(false)));
 * ```
 */
export function renderFleet(fleet: FleetReport, paint: Paint): string[] {
  const { store, connections } = fleet;
  const out = [
    paint(`fleet: ${formatCount(fleet.processes)} processes, connectionLimit ${formatCount(fleet.connectionLimit)} each`, 'bold'),
    ...processRows(fleet, paint),
    '',
    `  ${STORE_NAMES[store.kind]}: ${formatCount(store.calls)} calls from the processes (${formatCount(store.startupCalls)} at startup; ` +
      `${byOperation(store.callsByOperation) || 'none'}); the emulator received ${formatCount(store.emulatorCalls)}, the rotation's own included`,
    ...store.rotations.flatMap((r) => rotationLines(r, store.budgetPerRotation, paint)),
    `  refused logins (server, Aborted_connects): ${formatCount(fleet.refusedLogins)}`,
    `  peak connections of the processes: ${formatCount(connections.peak)}; target ≤ ${formatCount(connections.limit)}: ${verdict(fleet.met.connections, paint)}`,
    connections.serverPeak === undefined
      ? `    the drill user's, sampled in PROCESSLIST: ${formatCount(connections.sampledPeak)}`
      : `    the server's (Max_used_connections, the rotation's own included): ${formatCount(connections.serverPeak)}; ` +
        `the drill user's, sampled in PROCESSLIST: ${formatCount(connections.sampledPeak)}`,
  ];
  return out;
}
