/**
 * Soak: 10,000 rotations on one pool, and what is left behind.
 *
 * Two users, both valid (the alternating-users scheme). One credswap pool rotates between them
 * `--rotations` times, alternately through `coordinator.refresh()` (a provider call) and through
 * a push from the provider's `subscribe` (as a file watch or a background poll does). After each
 * rotation it waits for the login that verifies the new credentials (old connections then
 * drain), and runs `--queries` concurrent `SELECT 1`. Every rotation starts a new generation,
 * opens new connections and retires old ones.
 *
 * The baseline is what an application without credswap does to change credentials: plain
 * mysql2 creates a pool with the other user, runs the same queries, and ends the pool, the
 * same number of times.
 *
 * Before, during (20 times, evenly spaced) and after, with garbage collected first: the heap
 * used, the active handles by type (`process.getActiveResourcesInfo()`), and the connections
 * the server lists for the two users. The slope fitted through the checkpoints gives the heap
 * growth per rotation, which separates a leak from the noise of one reading. After `end()`,
 * handles and connections must be back to what they were before the pool was created.
 *
 *   npm run bench:soak
 *   npm run bench:soak -- --rotations 2000 --queries 4 --json
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as mysql2Promise from 'mysql2/promise';
import type { Credentials } from '../lib/credentials.js';
import type { CredentialsProvider } from '../lib/provider.js';
import { type MariaDBServer, startTestServer } from '../lib/testing/mariadb.js';
import { describeMachine, formatTable, machineLines, positiveInt } from './machine.js';

const HELP = `usage: npm run bench:soak -- [--rotations N] [--queries N] [--connections N] [--warmup N] [--dist] [--json]

  --rotations    rotations (credswap) and pool create/end cycles (mysql2) (default 10000)
  --queries      concurrent SELECT 1 after each rotation (default 4)
  --connections  connectionLimit of the pools (default 4)
  --warmup       unmeasured rotations before the first reading (default 1000)
  --dist         load credswap from dist/ (run npm run build first) instead of the TypeScript source
  --json         print one JSON document instead of tables`;

type PromiseModule = typeof import('../lib/mysql2/promise.js');
type Mysql2Module = typeof import('../lib/mysql2/index.js');

/** One reading of what the process and the server hold. */
interface Reading {
  /** Rotations (or cycles) done when it was taken. */
  readonly at: number;
  readonly heapUsed: number;
  readonly arrayBuffers: number;
  readonly rss: number;
  /** Active handles and requests, by type. */
  readonly resources: Record<string, number>;
  /** Connections the server lists for the two users. */
  readonly serverConnections: number;
}

interface Phase {
  readonly name: string;
  /** Before the pool exists. */
  readonly idle: Reading;
  /** After the warm-up, then every tenth of the run, then at the end. */
  readonly checkpoints: Reading[];
  /** After `end()`. */
  readonly ended: Reading;
  readonly rotations: number;
  readonly msPerRotation: number;
  /** Least-squares slope of heapUsed over the checkpoints, and its standard error. */
  readonly heapBytesPerRotation: number;
  readonly heapSlopeStdErr: number;
  /** The same fit over the second half of the checkpoints only: warm-up settles, a leak does not. */
  readonly heapBytesPerRotationSecondHalf: number;
  readonly heapSlopeStdErrSecondHalf: number;
  readonly providerCalls?: number;
  readonly generation?: number;
  readonly failedQueries: number;
}

let gc: () => void;

function exposeGc(): void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) {
    gc = existing;
    return;
  }
  // Without --expose-gc on the command line: the flag can still be set, and gc fetched from a new context.
  setFlagsFromString('--expose-gc');
  gc = runInNewContext('gc') as () => void;
}

async function read(server: MariaDBServer, users: readonly string[], at: number, expectedConnections?: number): Promise<Reading> {
  // Let closing sockets finish closing and let the server notice, then collect twice (finalizers).
  let serverConnections = 0;
  for (let i = 0; i < 50; i++) {
    await sleep(20);
    const rows = await server.query<Array<{ n: number | string }>>(
      `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER IN (${users.map(() => '?').join(', ')})`,
      [...users],
    );
    serverConnections = Number(rows[0].n);
    if (expectedConnections === undefined || serverConnections <= expectedConnections) break;
  }
  gc();
  await sleep(10);
  gc();
  const memory = process.memoryUsage();
  const resources: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1;
  return { at, heapUsed: memory.heapUsed, arrayBuffers: memory.arrayBuffers, rss: memory.rss, resources, serverConnections };
}

/** Least-squares slope of heapUsed over `at`, with its standard error (the noise of the fit). */
function slope(points: readonly Reading[]): { slope: number; stdErr: number } {
  const n = points.length;
  if (n < 3) return { slope: Number.NaN, stdErr: Number.NaN };
  const mx = points.reduce((s, p) => s + p.at, 0) / n;
  const my = points.reduce((s, p) => s + p.heapUsed, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.at - mx) * (p.heapUsed - my);
    sxx += (p.at - mx) ** 2;
  }
  const b = sxy / sxx;
  const residuals = points.reduce((s, p) => s + (p.heapUsed - my - b * (p.at - mx)) ** 2, 0);
  return { slope: b, stdErr: Math.sqrt(residuals / (n - 2) / sxx) };
}

interface Config {
  readonly rotations: number;
  readonly queries: number;
  readonly connections: number;
  readonly warmup: number;
}

/** Readings taken during the run, evenly spaced; the last one at the end. */
const CHECKPOINTS = 20;

function isCheckpoint(i: number, rotations: number): boolean {
  return i === rotations || i % Math.max(1, Math.floor(rotations / CHECKPOINTS)) === 0;
}

async function soakMysql2(server: MariaDBServer, accounts: readonly Credentials[], config: Config): Promise<Phase> {
  const users = accounts.map((a) => a.user);
  let failedQueries = 0;
  const cycle = async (i: number) => {
    const { user, password } = accounts[i % 2];
    const pool = mysql2Promise.createPool({ host: server.host, port: server.port, user, password, connectionLimit: config.connections });
    await Promise.all(Array.from({ length: config.queries }, () => pool.query('SELECT 1').catch(() => (failedQueries += 1))));
    await pool.end();
  };
  const idle = await read(server, users, 0, 0);
  for (let i = 0; i < config.warmup; i++) await cycle(i);
  const checkpoints = [await read(server, users, 0, 0)];
  let readingMs = 0;
  const start = performance.now();
  for (let i = 1; i <= config.rotations; i++) {
    await cycle(i);
    if (isCheckpoint(i, config.rotations)) {
      const t = performance.now();
      checkpoints.push(await read(server, users, i, 0));
      readingMs += performance.now() - t; // readings are not part of the cycles' time
    }
  }
  const elapsed = performance.now() - start - readingMs;
  const ended = await read(server, users, config.rotations, 0);
  return {
    name: 'mysql2: a new pool per change',
    idle,
    checkpoints,
    ended,
    rotations: config.rotations,
    msPerRotation: elapsed / config.rotations,
    ...fit(checkpoints),
    failedQueries,
  };
}

type Fit = Pick<Phase, 'heapBytesPerRotation' | 'heapSlopeStdErr' | 'heapBytesPerRotationSecondHalf' | 'heapSlopeStdErrSecondHalf'>;

function fit(checkpoints: readonly Reading[]): Fit {
  const all = slope(checkpoints);
  const late = slope(checkpoints.slice(Math.floor(checkpoints.length / 2)));
  return {
    heapBytesPerRotation: all.slope,
    heapSlopeStdErr: all.stdErr,
    heapBytesPerRotationSecondHalf: late.slope,
    heapSlopeStdErrSecondHalf: late.stdErr,
  };
}

async function soakCredswap(
  server: MariaDBServer,
  accounts: readonly Credentials[],
  config: Config,
  credswap: { createPool: PromiseModule['createPool']; connectionGeneration: Mysql2Module['connectionGeneration'] },
): Promise<Phase> {
  const users = accounts.map((a) => a.user);
  let turn = 0;
  let providerCalls = 0;
  let push: ((credentials: Credentials) => void) | undefined;
  const next = () => accounts[turn++ % 2];
  const provider: CredentialsProvider = {
    name: 'soak:alternating-users',
    getCredentials: async () => {
      providerCalls += 1;
      return next();
    },
    subscribe(onChange) {
      push = onChange;
      return () => {
        push = undefined;
      };
    },
  };
  const idle = await read(server, users, 0, 0);
  const pool = credswap.createPool({ host: server.host, port: server.port, connectionLimit: config.connections, credentials: provider });
  const core = pool.pool;
  let failedQueries = 0;
  const queries = () => Promise.all(Array.from({ length: config.queries }, () => pool.query('SELECT 1').catch(() => (failedQueries += 1))));

  /** One rotation: refresh or push, wait for the login with the new generation, then queries. */
  const rotate = async (i: number) => {
    const generation = pool.coordinator!.generation + 1;
    const verified = new Promise<void>((resolve) => {
      const onConnection = (connection: object) => {
        if (credswap.connectionGeneration(connection) !== generation) return;
        core.off('connection', onConnection);
        resolve();
      };
      core.on('connection', onConnection);
    });
    if (i % 2 === 0 || push === undefined) await pool.coordinator!.refresh();
    else push(next());
    if (pool.coordinator!.generation !== generation) throw new Error(`rotation ${i} did not start generation ${generation}`);
    await verified;
    await queries();
  };

  /**
   * A reading of the pool in the same state each time: every connection open (each holds
   * buffers and caches of its own, so 3 or 4 open connections differ by more than a leak would).
   */
  const readPool = async (at: number) => {
    const held = await Promise.all(Array.from({ length: config.connections }, () => pool.getConnection()));
    for (const connection of held) connection.release();
    return read(server, users, at, config.connections);
  };

  try {
    await queries();
    for (let i = 0; i < config.warmup; i++) await rotate(i);
    const checkpoints = [await readPool(0)];
    let readingMs = 0;
    const start = performance.now();
    for (let i = 1; i <= config.rotations; i++) {
      await rotate(i);
      if (isCheckpoint(i, config.rotations)) {
        const t = performance.now();
        checkpoints.push(await readPool(i));
        readingMs += performance.now() - t;
      }
    }
    const elapsed = performance.now() - start - readingMs;
    const generation = pool.coordinator!.generation;
    await pool.end();
    const ended = await read(server, users, config.rotations, 0);
    return {
      name: 'credswap: one pool, rotating',
      idle,
      checkpoints,
      ended,
      rotations: config.rotations,
      msPerRotation: elapsed / config.rotations,
      ...fit(checkpoints),
      providerCalls,
      generation,
      failedQueries,
    };
  } finally {
    await pool.end().catch(() => {});
  }
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

function signed(text: string, value: number): string {
  return value > 0 ? `+${text}` : text;
}

function handles(r: Reading): number {
  return Object.values(r.resources).reduce((a, b) => a + b, 0);
}

function resourceDiff(a: Reading, b: Reading): string {
  const types = new Set([...Object.keys(a.resources), ...Object.keys(b.resources)]);
  const changes = [...types]
    .map((t) => [t, (b.resources[t] ?? 0) - (a.resources[t] ?? 0)] as const)
    .filter(([, d]) => d !== 0)
    .map(([t, d]) => `${t} ${d > 0 ? '+' : ''}${d}`);
  return changes.length === 0 ? 'none' : changes.join(', ');
}

function printPhases(phases: readonly Phase[]): void {
  console.log(
    formatTable([
      ['', ...phases.map((p) => p.name)],
      ['cycles', ...phases.map((p) => p.rotations.toLocaleString('en-US'))],
      ['ms per cycle (not side by side)', ...phases.map((p) => p.msPerRotation.toFixed(2))],
      ['failed queries', ...phases.map((p) => String(p.failedQueries))],
      [
        'provider calls / generations',
        ...phases.map((p) => (p.providerCalls === undefined ? '-' : `${p.providerCalls} / ${p.generation}`)),
      ],
      ['heap used, first checkpoint', ...phases.map((p) => kib(p.checkpoints[0].heapUsed))],
      ['heap used, last checkpoint', ...phases.map((p) => kib(p.checkpoints.at(-1)!.heapUsed))],
      [
        '  delta',
        ...phases.map((p) => {
          const d = p.checkpoints.at(-1)!.heapUsed - p.checkpoints[0].heapUsed;
          return signed(kib(d), d);
        }),
      ],
      ['  fitted growth per cycle', ...phases.map((p) => `${p.heapBytesPerRotation.toFixed(1)} ± ${p.heapSlopeStdErr.toFixed(1)} B`)],
      [
        '  same, second half only',
        ...phases.map((p) => `${p.heapBytesPerRotationSecondHalf.toFixed(1)} ± ${p.heapSlopeStdErrSecondHalf.toFixed(1)} B`),
      ],
      [
        'array buffers delta',
        ...phases.map((p) => {
          const d = p.checkpoints.at(-1)!.arrayBuffers - p.checkpoints[0].arrayBuffers;
          return signed(kib(d), d);
        }),
      ],
      ['handles, first / last checkpoint', ...phases.map((p) => `${handles(p.checkpoints[0])} / ${handles(p.checkpoints.at(-1)!)}`)],
      ['  change', ...phases.map((p) => resourceDiff(p.checkpoints[0], p.checkpoints.at(-1)!))],
      [
        'server connections, first / last',
        ...phases.map((p) => `${p.checkpoints[0].serverConnections} / ${p.checkpoints.at(-1)!.serverConnections}`),
      ],
      ['after end(): handles vs before the pool', ...phases.map((p) => resourceDiff(p.idle, p.ended))],
      ['after end(): server connections', ...phases.map((p) => String(p.ended.serverConnections))],
      [
        'after end(): heap vs before the pool',
        ...phases.map((p) => {
          const d = p.ended.heapUsed - p.idle.heapUsed;
          return signed(kib(d), d);
        }),
      ],
    ]).join('\n'),
  );
  console.log('');
  console.log('heap used at each checkpoint (KiB, after gc):');
  for (const p of phases) {
    console.log(`  ${p.name}: ${p.checkpoints.map((c) => Math.round(c.heapUsed / 1024)).join(' ')}`);
  }
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      rotations: { type: 'string' },
      queries: { type: 'string' },
      connections: { type: 'string' },
      warmup: { type: 'string' },
      dist: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const config: Config = {
    rotations: positiveInt(flags.rotations, 10_000, '--rotations'),
    queries: positiveInt(flags.queries, 4, '--queries'),
    connections: positiveInt(flags.connections, 4, '--connections'),
    warmup: flags.warmup === '0' ? 0 : positiveInt(flags.warmup, 1000, '--warmup'),
  };
  const json = flags.json === true;
  exposeGc();
  const from = flags.dist ? '../dist' : '..';
  const { createPool } = require(`${from}/lib/mysql2/promise.js`) as PromiseModule;
  const { connectionGeneration } = require(`${from}/lib/mysql2/index.js`) as Mysql2Module;

  const server = await startTestServer();
  try {
    const machine = await describeMachine(server);
    const accounts = [await server.createUser({ prefix: 'soak_a' }), await server.createUser({ prefix: 'soak_b' })];
    if (!json) {
      for (const line of machineLines(machine)) console.log(line);
      console.log(
        `credswap from ${flags.dist ? 'dist/' : 'the TypeScript source (tsx)'}; connectionLimit ${config.connections}; ` +
          `${config.queries} concurrent SELECT 1 per cycle; ${config.warmup} warm-up cycles first`,
      );
      console.log('');
    }
    const phases = [
      await soakMysql2(server, accounts, config),
      await soakCredswap(server, accounts, config, { createPool, connectionGeneration }),
    ];
    if (json) {
      console.log(JSON.stringify({ machine, config: { ...config, dist: flags.dist === true }, phases }, null, 2));
      return;
    }
    printPhases(phases);
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof TypeError ? `${error.message}\n\n${HELP}` : error);
  process.exitCode = 1;
});
