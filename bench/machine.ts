/**
 * What the benchmark scripts share: the description of the machine a run was made on, a
 * median, a plain-text table, and flag parsing. Every figure in BENCHMARKS.md is
 * only meaningful next to the machine line this file prints.
 */
import * as os from 'node:os';
import type { MariaDBServer } from '../lib/testing/mariadb.js';

/** The machine a benchmark ran on. */
export interface Machine {
  readonly os: string;
  readonly cpuModel: string;
  readonly cpuCount: number;
  /** Load averages over 1, 5 and 15 minutes when the run started: other work on the machine. */
  readonly loadAverage: readonly number[];
  readonly node: string;
  readonly mysql2: string;
  /** `SELECT VERSION()` of the server the run used, and whether it was a throwaway one. */
  readonly server?: string;
}

/** Describes this machine; with `server`, asks it for its version too. */
export async function describeMachine(server?: MariaDBServer): Promise<Machine> {
  let version: string | undefined;
  if (server) {
    const [row] = await server.query<Array<{ version: string }>>('SELECT VERSION() AS version');
    version = `${row.version}${server.external ? ' (MYSQL_URL)' : ' (throwaway)'}`;
  }
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cpuCount: os.cpus().length,
    loadAverage: os.loadavg().map((n) => Number(n.toFixed(2))),
    node: process.version,
    mysql2: (require('mysql2/package.json') as { version: string }).version,
    ...(version !== undefined ? { server: version } : {}),
  };
}

/** The machine as the two lines every script prints first. */
export function machineLines(machine: Machine): string[] {
  return [
    `machine: ${machine.os}; ${machine.cpuCount} x ${machine.cpuModel}; load average ${machine.loadAverage.join(' ')}`,
    `node ${machine.node}; mysql2 ${machine.mysql2}${machine.server !== undefined ? `; server ${machine.server}` : ''}`,
  ];
}

/** The median of `values` (NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Rows of cells as aligned text: the first column left-aligned, the others right-aligned. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((cells) => cells[i].length)));
  return rows.map((cells) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

/** A flag that must be a positive integer; a bad value is a TypeError that names the flag. */
export function positiveInt(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new TypeError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** A comma-separated list of positive integers (`--sizes 10,100,1000`). */
export function positiveInts(value: string | undefined, fallback: readonly number[], flag: string): number[] {
  if (value === undefined) return [...fallback];
  return value.split(',').map((part) => positiveInt(part.trim(), 0, flag));
}

/** Milliseconds as text: one decimal below 100 ms, whole numbers above. */
export function ms(value: number): string {
  return value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US');
}
