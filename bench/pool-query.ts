/**
 * Queries per second of mysql2's pool and credswap's pool, side by side on one server.
 *
 * Both pools come from the promise wrappers (`mysql2/promise` and `credswap/mysql2/promise`) and
 * run the same code: N concurrent loops awaiting `pool.query('SELECT 1')` (or `getConnection` +
 * `query` + `release`). Rounds alternate between the two pools (the order flips every round, so
 * neither always runs first), and each row reports the median of its rounds and the ratio
 * credswap/mysql2 of those medians. The target is a ratio of at least 0.97; it is printed, not
 * asserted. The "paired" ratio is the median of the ratios of back-to-back rounds: when other
 * work on the machine comes and goes, it moves less than the ratio of medians.
 *
 * The server is a throwaway MariaDB (lib/testing/mariadb.ts), or the existing loopback server
 * named by `MYSQL_URL` (an admin URL): a user is created there for the run and dropped after.
 *
 * Besides queries per second, each row shows the client's CPU time per query (user + system,
 * from `process.cpuUsage()`): on a busy machine it moves less than the throughput does.
 *
 * `npm run bench` builds first and loads credswap from dist/, as users run it. Without
 * `--module` the script loads the TypeScript source through tsx, whose transform adds a cost to
 * every closure the hot path creates: use it to compare changes, not to judge the ratio.
 *
 *   npm run bench                          # defaults: 16 rounds of 300 ms per pool and row
 *   npm run bench -- --rounds 20 --round-ms 1000 --json
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as mysql2Promise from 'mysql2/promise';
import { createPool as createSourcePool } from '../lib/mysql2/promise.js';
import { startTestServer } from '../lib/testing/mariadb.js';

const HELP = `usage: npm run bench -- [--rounds N] [--round-ms MS] [--warmup-ms MS] [--module PATH] [--json]

  --rounds     measured rounds per pool and row (default 16)
  --round-ms   length of one round in milliseconds (default 300)
  --warmup-ms  unmeasured warm-up per pool and row (default 500)
  --module     load credswap's createPool from PATH (relative to the working directory)
               instead of lib/mysql2/promise.ts, e.g. dist/lib/mysql2/promise.js
  --json       print one JSON document instead of a table`;

/** What the loops need from a promise pool: both pools are typed by this shape only. */
interface BenchPool {
  query(sql: string): Promise<unknown>;
  getConnection(): Promise<{ query(sql: string): Promise<unknown>; release(): void }>;
  end(): Promise<void>;
}

type Mode = 'query' | 'getConnection';

interface Row {
  readonly name: string;
  readonly mode: Mode;
  readonly concurrency: number;
}

/** The main figure first (concurrency 16), then the extra rows. */
const ROWS: readonly Row[] = [
  { name: 'pool.query', mode: 'query', concurrency: 16 },
  { name: 'pool.query', mode: 'query', concurrency: 1 },
  { name: 'pool.query', mode: 'query', concurrency: 64 },
  { name: 'getConnection+query+release', mode: 'getConnection', concurrency: 16 },
];

const SQL = 'SELECT 1';

interface Sample {
  /** Operations per second. */
  readonly qps: number;
  /** Client CPU time (user + system) per operation, in microseconds. */
  readonly cpuUs: number;
}

interface PoolResult {
  /** Median q/s over the rounds. */
  readonly median: number;
  /** Median client CPU microseconds per query over the rounds. */
  readonly cpuUsPerQuery: number;
  readonly rounds: number[];
}

interface RowResult extends Row {
  readonly mysql2: PoolResult;
  readonly credswap: PoolResult;
  /** credswap q/s divided by mysql2 q/s (medians). */
  readonly ratio: number;
  /** The median of credswap/mysql2 over back-to-back pairs of rounds. */
  readonly pairedRatio: number;
}

function positiveInt(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new TypeError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `concurrency` loops for `ms` milliseconds; resolves with throughput and CPU per operation. */
async function measure(pool: BenchPool, mode: Mode, concurrency: number, ms: number): Promise<Sample> {
  let done = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const deadline = start + ms;
  const loop =
    mode === 'query'
      ? async () => {
          while (performance.now() < deadline) {
            await pool.query(SQL);
            done += 1;
          }
        }
      : async () => {
          while (performance.now() < deadline) {
            const connection = await pool.getConnection();
            try {
              await connection.query(SQL);
            } finally {
              connection.release();
            }
            done += 1;
          }
        };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { qps: (done * 1000) / elapsed, cpuUs: (used.user + used.system) / done };
}

function summarise(samples: readonly Sample[]): PoolResult {
  return {
    median: median(samples.map((s) => s.qps)),
    cpuUsPerQuery: median(samples.map((s) => s.cpuUs)),
    rounds: samples.map((s) => Math.round(s.qps)),
  };
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      rounds: { type: 'string' },
      'round-ms': { type: 'string' },
      'warmup-ms': { type: 'string' },
      module: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const rounds = positiveInt(flags.rounds, 16, '--rounds');
  const roundMs = positiveInt(flags['round-ms'], 300, '--round-ms');
  const warmupMs = positiveInt(flags['warmup-ms'], 500, '--warmup-ms');
  const json = flags.json === true;
  const modulePath = flags.module === undefined ? undefined : path.resolve(flags.module);
  const createCredswapPool =
    modulePath === undefined ? createSourcePool : (require(modulePath) as { createPool: typeof createSourcePool }).createPool;
  const log = (line: string) => {
    if (!json) console.log(line);
  };

  const server = await startTestServer();
  try {
    const { user, password } = await server.createUser({ prefix: 'bench' });
    const [versionRow] = await server.query<Array<{ version: string }>>('SELECT VERSION() AS version');
    const machine = {
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      cpuCount: os.cpus().length,
      node: process.version,
      mysql2: (require('mysql2/package.json') as { version: string }).version,
      server: `${versionRow.version}${server.external ? ' (MYSQL_URL)' : ' (throwaway)'}`,
      credswapModule:
        modulePath === undefined ? 'lib/mysql2/promise.ts (TypeScript source, compiled by tsx)' : path.relative(process.cwd(), modulePath),
    };
    log(`machine: ${machine.os}; ${machine.cpuCount} x ${machine.cpuModel}`);
    log(`node ${machine.node}; mysql2 ${machine.mysql2}; server ${machine.server}`);
    log(`credswap from ${machine.credswapModule}`);
    log(`${rounds} alternating rounds of ${roundMs} ms per pool (after ${warmupMs} ms warm-up each); median q/s`);
    log('');

    // The realistic credswap setup: a hot-swap function (here it never has anything new).
    const secret = { user, password };
    const hotSwap = async () => ({ ...secret });
    const target = { host: server.host, port: server.port };

    const results: RowResult[] = [];
    for (const row of ROWS) {
      const common = { ...target, connectionLimit: row.concurrency };
      const pools: Record<'mysql2' | 'credswap', BenchPool> = {
        mysql2: mysql2Promise.createPool({ ...common, user, password }),
        credswap: createCredswapPool({ ...common, credentials: hotSwap }),
      };
      try {
        const samples = { mysql2: [] as Sample[], credswap: [] as Sample[] };
        // Warm-up opens every connection and lets the JIT settle; not measured.
        for (const name of ['mysql2', 'credswap'] as const) await measure(pools[name], row.mode, row.concurrency, warmupMs);
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 === 0 ? (['mysql2', 'credswap'] as const) : (['credswap', 'mysql2'] as const);
          for (const name of order) samples[name].push(await measure(pools[name], row.mode, row.concurrency, roundMs));
        }
        const mysql2 = summarise(samples.mysql2);
        const credswap = summarise(samples.credswap);
        const pairs = samples.credswap.map((c, i) => c.qps / samples.mysql2[i].qps);
        results.push({ ...row, mysql2, credswap, ratio: credswap.median / mysql2.median, pairedRatio: median(pairs) });
      } finally {
        await Promise.all([pools.mysql2.end(), pools.credswap.end()]);
      }
    }

    if (json) {
      console.log(JSON.stringify({ machine, config: { rounds, roundMs, warmupMs, sql: SQL }, target: 0.97, rows: results }, null, 2));
      return;
    }
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    const spread = (xs: readonly number[]) => `${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))}`;
    const table = [
      [
        'benchmark',
        'conc',
        'mysql2 q/s',
        'credswap q/s',
        'ratio',
        'paired',
        'mysql2 rounds',
        'credswap rounds',
        'CPU µs/q m2',
        'CPU µs/q cs',
      ],
      ...results.map((r) => [
        r.name,
        String(r.concurrency),
        fmt(r.mysql2.median),
        fmt(r.credswap.median),
        r.ratio.toFixed(3),
        r.pairedRatio.toFixed(3),
        spread(r.mysql2.rounds),
        spread(r.credswap.rounds),
        r.mysql2.cpuUsPerQuery.toFixed(1),
        r.credswap.cpuUsPerQuery.toFixed(1),
      ]),
    ];
    const widths = table[0].map((_, i) => Math.max(...table.map((cells) => cells[i].length)));
    for (const cells of table) {
      log(cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
    }
    log('');
    for (const r of results) {
      const cpu = r.credswap.cpuUsPerQuery - r.mysql2.cpuUsPerQuery;
      log(
        `ratio credswap/mysql2, ${r.name} @ ${r.concurrency}: ${r.ratio.toFixed(3)} (paired ${r.pairedRatio.toFixed(3)};` +
          ` client CPU ${cpu >= 0 ? '+' : ''}${cpu.toFixed(1)} µs/query)${r.ratio >= 0.97 ? '' : '  below the 0.97 target'}`,
      );
    }
    log(`main figure, pool.query @ 16: ${results[0].ratio.toFixed(3)} (target >= 0.97)`);
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  // A bad flag is a TypeError from positiveInt() or parseArgs(): say what, not where.
  console.error(error instanceof TypeError ? `${error.message}\n\n${HELP}` : error);
  process.exitCode = 1;
});
