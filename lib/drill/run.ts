/**
 * `runDrill()`: runs load through a credswap pool (and, with `compare: 'mysql2'`, through a
 * plain mysql2 pool at the same time, against the same database) while a scenario rotates
 * credentials or fails the primary over, then summarizes what each pool's application saw.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RotateEvent } from '../coordinator.js';
import { InvalidOptionError } from '../errors.js';
import { duration, expectObject, inRange, oneOf, rejectUnknownKeys } from '../options.js';
import { startLoadGenerator, type LoadGenerator, type QueryKind, type QueryOutcome } from '../testing/load.js';
import { buildReport, summarize, type DrillReport, type DrillWindow, type TargetReport } from './report.js';
import { checkFleetOptions, DEFAULT_FLEET_CONCURRENCY, MAX_FLEET_PROCESSES, type FleetScenarioName } from './fleet/environment.js';
import { loadScenario } from './scenarios/registry.js';
import {
  SCENARIO_NAMES,
  type DisruptionTimes,
  type DrillStatements,
  type DrillTargetOptions,
  type PlainPool,
  type Scenario,
  type ScenarioName,
} from './scenarios/types.js';
import type { PromisePool } from '../mysql2/types.js';

/** Default {@link DrillOptions.durationMs}: 10 s of load. */
export const DEFAULT_DRILL_DURATION_MS = 10_000;
/** Default {@link DrillOptions.concurrency}: 16 workers per pool. */
export const DEFAULT_DRILL_CONCURRENCY = 16;
/** Default {@link DrillOptions.writeRatio}: one query in five is a write. */
export const DEFAULT_DRILL_WRITE_RATIO = 0.2;
/** Default {@link DrillOptions.rotations}: one rotation or failover. */
export const DEFAULT_DRILL_ROTATIONS = 1;
/** Default {@link DrillOptions.flipDelayMs}: the proxy flips 3 s after the primary turns read-only. */
export const DEFAULT_DRILL_FLIP_DELAY_MS = 3_000;
/** Default {@link DrillOptions.churnPerSecond}: each pool closes two connections a second. */
export const DEFAULT_DRILL_CHURN_PER_SECOND = 2;

/** What {@link runDrill} does. Durations in milliseconds. */
export interface DrillOptions extends DrillTargetOptions {
  /** Which scenario: see {@link SCENARIO_NAMES}. */
  scenario: ScenarioName;
  /** @defaultValue {@link DEFAULT_DRILL_DURATION_MS} */
  durationMs?: number;
  /** Workers per pool. @defaultValue {@link DEFAULT_DRILL_CONCURRENCY} */
  concurrency?: number;
  /** Share of writes, 0 to 1 (0 when the drill owns no table). @defaultValue {@link DEFAULT_DRILL_WRITE_RATIO} */
  writeRatio?: number;
  /** Rotations (or failovers), evenly spaced over the run. @defaultValue {@link DEFAULT_DRILL_ROTATIONS} */
  rotations?: number;
  /** `failover`: delay from `read_only=ON` to the proxy's flip. @defaultValue {@link DEFAULT_DRILL_FLIP_DELAY_MS} */
  flipDelayMs?: number;
  /**
   * Connections each pool closes per second (after a query, instead of releasing them), so that
   * new logins happen all through the run, as idle timeouts, lifetimes and network blips cause
   * in a service. 0 keeps every connection open.
   * @defaultValue {@link DEFAULT_DRILL_CHURN_PER_SECOND}
   */
  churnPerSecond?: number;
  /** Run the same load on a plain mysql2 pool side by side. */
  compare?: 'mysql2';
  /**
   * Run as a fleet of this many worker processes, each with its own pool and load, against one
   * database and one emulated secret store, through the same rotations (`aws-single-user` and
   * `vault-static` only). `concurrency` is then per process, by default
   * {@link DEFAULT_FLEET_CONCURRENCY}. See docs/drills.md, "Fleet drills".
   */
  fleet?: number;
}

/** Hooks of {@link runDrill}: where progress goes. */
export interface DrillHooks {
  /** A progress reporter (see `createProgress` in `./render.js`). */
  progress?: {
    update(state: { elapsedMs: number; ok: number; failed: number; phase: string }): void;
    log(line: string): void;
    done(): void;
  };
}

/** Options after defaults and checks. */
export interface ResolvedDrillOptions extends Required<
  Pick<DrillOptions, 'scenario' | 'durationMs' | 'concurrency' | 'rotations' | 'flipDelayMs' | 'churnPerSecond'>
> {
  writeRatio: number | undefined;
  intervalMs: number;
  /** Worker processes of a fleet drill; absent for a drill in this process. */
  fleet?: number;
  options: DrillOptions;
}

const KEYS = new Set([
  'scenario',
  'durationMs',
  'concurrency',
  'writeRatio',
  'rotations',
  'flipDelayMs',
  'churnPerSecond',
  'compare',
  'mysqlUrl',
  'secretId',
  'region',
  'rotateLocally',
  'vaultAddr',
  'vaultRole',
  'vaultToken',
  'fleet',
]);

/**
 * Applies defaults and checks options (and their combinations).
 *
 * @throws {@link InvalidOptionError} naming the option
 */
export function resolveDrillOptions(options: DrillOptions): ResolvedDrillOptions {
  const bag = expectObject(options, 'options')!;
  rejectUnknownKeys(bag, KEYS, '');
  if (bag.scenario === undefined) throw new InvalidOptionError('scenario', 'is required'); // no default applies
  const scenario = oneOf(bag, 'scenario', '', SCENARIO_NAMES, options.scenario);
  const durationMs = duration(bag, 'durationMs', '', DEFAULT_DRILL_DURATION_MS, 500);
  const fleet = bag.fleet === undefined ? undefined : inRange(bag, 'fleet', '', 1, { min: 1, max: MAX_FLEET_PROCESSES, integer: true });
  const defaultConcurrency = fleet === undefined ? DEFAULT_DRILL_CONCURRENCY : DEFAULT_FLEET_CONCURRENCY;
  const concurrency = inRange(bag, 'concurrency', '', defaultConcurrency, { min: 1, max: 1000, integer: true });
  const rotations = inRange(bag, 'rotations', '', DEFAULT_DRILL_ROTATIONS, { min: 1, max: 100, integer: true });
  const flipDelayMs = duration(bag, 'flipDelayMs', '', DEFAULT_DRILL_FLIP_DELAY_MS);
  const churnPerSecond = inRange(bag, 'churnPerSecond', '', DEFAULT_DRILL_CHURN_PER_SECOND, { min: 0, max: 1000 });
  // Without a value, the scenario decides (no writes where the drill owns no table).
  const writeRatio =
    bag.writeRatio === undefined ? undefined : inRange(bag, 'writeRatio', '', DEFAULT_DRILL_WRITE_RATIO, { min: 0, max: 1 });
  oneOf(bag, 'compare', '', ['mysql2'], 'mysql2'); // checked only: runDrill reads options.compare
  const intervalMs = durationMs / (rotations + 1);
  const aws = scenario === 'aws-single-user' || scenario === 'aws-alternating';
  const vault = scenario === 'vault-dynamic' || scenario === 'vault-static';
  if (scenario === 'failover') {
    if (options.mysqlUrl !== undefined)
      throw new InvalidOptionError(
        'mysqlUrl',
        'cannot be used with failover, which sets read_only on its primary: it runs on throwaway servers only',
      );
    if (flipDelayMs >= intervalMs)
      throw new InvalidOptionError('flipDelayMs', 'must be shorter than the time between failovers (durationMs / (rotations + 1))');
  }
  if (options.secretId !== undefined && !aws)
    throw new InvalidOptionError('secretId', 'applies to the aws-single-user and aws-alternating scenarios');
  if (options.rotateLocally && options.secretId === undefined) throw new InvalidOptionError('rotateLocally', 'needs secretId');
  if (options.region !== undefined && options.secretId === undefined) throw new InvalidOptionError('region', 'needs secretId');
  if ((options.vaultAddr !== undefined || options.vaultRole !== undefined) && !vault) {
    throw new InvalidOptionError(
      options.vaultAddr !== undefined ? 'vaultAddr' : 'vaultRole',
      'applies to the vault-dynamic and vault-static scenarios',
    );
  }
  if (options.vaultRole !== undefined && options.vaultAddr === undefined) throw new InvalidOptionError('vaultRole', 'needs vaultAddr');
  if (fleet !== undefined) checkFleetOptions(scenario, options);
  return {
    scenario,
    durationMs,
    concurrency,
    rotations,
    flipDelayMs,
    churnPerSecond,
    writeRatio,
    intervalMs,
    ...(fleet !== undefined ? { fleet } : {}),
    options,
  };
}

/** A fleet drill (`./fleet/run.ts`, loaded only for one). */
function runFleet(resolved: ResolvedDrillOptions, hooks: DrillHooks): Promise<DrillReport> {
  const { runFleetDrill } = require('./fleet/run.js') as typeof import('./fleet/run.js');
  const { scenario, fleet, durationMs, concurrency, writeRatio, rotations, intervalMs, churnPerSecond, options } = resolved;
  const settings = { durationMs, concurrency, rotations, intervalMs, churnPerSecond, mysqlUrl: options.mysqlUrl };
  const processes = fleet!;
  return runFleetDrill(
    { scenario: scenario as FleetScenarioName, processes, writeRatio: writeRatio ?? DEFAULT_DRILL_WRITE_RATIO, ...settings },
    hooks,
  );
}

/** One pool under load, credswap's or the plain one. */
interface Target {
  name: 'credswap' | 'mysql2';
  pool: PromisePool | PlainPool;
  load?: LoadGenerator;
  /** When each new connection opened (`performance.now()`): how many, and the logins inside a failover's read-only window. */
  connectedAt: number[];
  rotateAt: number[];
  providerCalls?: () => number;
}

/**
 * One query of the drill's load on `pool`. Reads use `pool.query`; writes run in a transaction
 * on a checked-out connection, as ORMs do (a path on which neither mysql2 nor credswap retries,
 * so a refused write reaches the application). `churnPerSecond` times a second, a query closes
 * its connection afterwards instead of releasing it. (A fleet drill's workers run it too.)
 */
export function drillQuery(pool: PromisePool | PlainPool, statements: DrillStatements, churnPerSecond: number) {
  let budget = 0;
  let last = performance.now();
  const closeThisOne = (): boolean => {
    const now = performance.now();
    budget = Math.min(1, budget + ((now - last) / 1000) * churnPerSecond);
    last = now;
    if (budget < 1) return false;
    budget -= 1;
    return true;
  };
  return async (kind: QueryKind, worker: number): Promise<void> => {
    const close = churnPerSecond > 0 && closeThisOne();
    if (kind === 'read' && !close) {
      await pool.query(statements.read);
      return;
    }
    const connection = await pool.getConnection();
    try {
      if (kind === 'write' && statements.write !== undefined) {
        await connection.beginTransaction();
        try {
          await connection.query(statements.write, [worker]);
          await connection.commit();
        } catch (error) {
          await connection.rollback().catch(() => {});
          throw error;
        }
      } else {
        await connection.query(statements.read);
      }
    } finally {
      if (close) connection.destroy();
      else connection.release();
    }
  };
}

/**
 * When a pool converged after a failover: the first successful write issued after the flip and
 * after the window's last failure; `undefined` when none did (still failing at the end).
 */
function failoverConvergence(outcomes: readonly QueryOutcome[], startMs: number, endMs: number, untilMs: number): number | undefined {
  let after = endMs;
  for (const o of outcomes) {
    if (!o.ok && o.at >= startMs && o.at < untilMs) after = Math.max(after, o.at + o.durationMs);
  }
  let first: number | undefined;
  for (const o of outcomes) {
    if (o.ok && o.kind === 'write' && o.at >= after && o.at < untilMs && (first === undefined || o.at < first)) first = o.at;
  }
  return first;
}

/** The windows of one target, on its load's clock. */
function windowsFor(
  target: Target,
  disruptions: readonly DisruptionTimes[],
  kind: 'rotation' | 'failover',
  hasWrites: boolean,
): DrillWindow[] {
  const load = target.load!;
  const base = load.startedAt;
  return disruptions.map((d, i) => {
    const startMs = d.startAt - base;
    const endMs = d.endAt - base;
    const nextStart = i + 1 < disruptions.length ? disruptions[i + 1].startAt - base : Number.POSITIVE_INFINITY;
    let convergedMs: number | undefined;
    if (kind === 'failover') {
      convergedMs = hasWrites ? failoverConvergence(load.outcomes, startMs, endMs, nextStart) : undefined;
      // Before the flip every new connection reaches the old primary, which refuses writes then.
      const logins = target.connectedAt.filter((t) => t >= d.startAt && t <= d.endAt).length;
      return { kind, startMs, endMs, ...(convergedMs !== undefined ? { convergedMs } : {}), logins };
    } else if (target.name === 'credswap') {
      // The pool's first new generation after the rotation began. A plain pool never takes new credentials.
      const at = target.rotateAt.find((t) => t >= d.startAt && t - base < nextStart);
      convergedMs = at === undefined ? undefined : at - base;
    }
    return { kind, startMs, endMs, ...(convergedMs !== undefined ? { convergedMs } : {}) };
  });
}

/**
 * Runs a drill and resolves with its report. Everything the scenario set up (servers,
 * emulators, users, files, leases) is removed before it settles, also on failure.
 *
 * @throws {@link InvalidOptionError} for bad options; `DrillTargetError` when real
 *   infrastructure cannot be reached or prepared; the scenario's error when a rotation fails
 * @example
 * ```ts
 * const report = await runDrill({ scenario: 'aws-single-user', compare: 'mysql2', durationMs: 10_000 });
 * console.log(renderTable(report));
 * process.exitCode = report.ok ? 0 : 1;
 * ```
 */
export async function runDrill(options: DrillOptions, hooks: DrillHooks = {}): Promise<DrillReport> {
  const resolved = resolveDrillOptions(options);
  if (resolved.fleet !== undefined) return runFleet(resolved, hooks);
  const progress = hooks.progress;
  const log = (line: string) => progress?.log(line);
  const startedAt = new Date();
  const setup = loadScenario(resolved.scenario);
  progress?.update({ elapsedMs: 0, ok: 0, failed: 0, phase: 'setting up' });
  const scenario: Scenario = await setup({
    concurrency: resolved.concurrency,
    rotations: resolved.rotations,
    intervalMs: resolved.intervalMs,
    flipDelayMs: resolved.flipDelayMs,
    mysqlUrl: options.mysqlUrl,
    secretId: options.secretId,
    region: options.region,
    rotateLocally: options.rotateLocally,
    vaultAddr: options.vaultAddr,
    vaultRole: options.vaultRole,
    vaultToken: options.vaultToken,
    log,
  });
  const targets: Target[] = [];
  let ticker: NodeJS.Timeout | undefined;
  try {
    const hasWrites = scenario.statements.write !== undefined;
    if (!hasWrites && resolved.writeRatio !== undefined && resolved.writeRatio > 0) {
      throw new InvalidOptionError('writeRatio', 'must be 0 here: the drill owns no table on this database, so it only reads');
    }
    const writeRatio = hasWrites ? (resolved.writeRatio ?? DEFAULT_DRILL_WRITE_RATIO) : 0;

    const credswap = await scenario.createCredswapPool();
    const first: Target = { name: 'credswap', pool: credswap.pool, connectedAt: [], rotateAt: [], providerCalls: credswap.providerCalls };
    credswap.pool.on('rotate', (_event: RotateEvent) => first.rotateAt.push(performance.now()));
    targets.push(first);
    if (options.compare === 'mysql2') {
      targets.push({ name: 'mysql2', pool: await scenario.createPlainPool(), connectedAt: [], rotateAt: [] });
    }
    for (const target of targets) (target.pool as PlainPool).on('connection', () => target.connectedAt.push(performance.now()));

    // Warm up: each pool serves a first query before the clock starts.
    await Promise.all(targets.map((t) => t.pool.query(scenario.statements.read)));
    for (const target of targets) {
      target.load = startLoadGenerator({
        concurrency: resolved.concurrency,
        writeRatio,
        query: drillQuery(target.pool, scenario.statements, resolved.churnPerSecond),
        maxOutcomes: 2_000_000,
      });
    }
    const begin = performance.now();
    let phase = 'load';
    const totals = () =>
      targets
        .filter((t) => t.name === 'credswap')
        .reduce((a, t) => ({ ok: a.ok + t.load!.ok, failed: a.failed + t.load!.failed }), { ok: 0, failed: 0 });
    ticker = setInterval(
      () => progress?.update({ elapsedMs: Math.min(resolved.durationMs, performance.now() - begin), ...totals(), phase }),
      100,
    );
    ticker.unref();

    const disruptions: DisruptionTimes[] = [];
    for (let i = 0; i < resolved.rotations; i++) {
      const due = begin + (i + 1) * resolved.intervalMs;
      await sleep(Math.max(0, due - performance.now()));
      phase = scenario.kind === 'failover' ? `failover ${i + 1}` : `rotation ${i + 1}`;
      disruptions.push(await scenario.disrupt(i));
      phase = 'load';
    }
    await sleep(Math.max(0, begin + resolved.durationMs - performance.now()));
    phase = 'stopping';
    await Promise.all(targets.map((t) => t.load!.stop()));
    clearInterval(ticker);
    ticker = undefined;
    progress?.update({ elapsedMs: resolved.durationMs, ...totals(), phase: 'done' });

    const reports: TargetReport[] = targets.map((target) => {
      const windows = windowsFor(target, disruptions, scenario.kind, hasWrites);
      return summarize({
        outcomes: target.load!.outcomes,
        totals: target.load!,
        windows,
        failover: scenario.kind === 'failover',
        stats: {
          target: target.name,
          ...(target.providerCalls ? { providerCalls: target.providerCalls(), rotations: Math.max(0, target.rotateAt.length - 1) } : {}),
          connectionsOpened: target.connectedAt.length,
        },
      });
    });
    return buildReport({
      scenario: resolved.scenario,
      embedded: scenario.embedded,
      options: { durationMs: resolved.durationMs, concurrency: resolved.concurrency, writeRatio, rotations: resolved.rotations },
      targets: reports,
      startedAt,
    });
  } finally {
    if (ticker) clearInterval(ticker);
    progress?.done();
    await Promise.all(targets.flatMap((t) => (t.load ? [t.load.stop().catch(() => {})] : [])));
    await Promise.all(targets.map((t) => t.pool.end().catch(() => {})));
    await scenario.close();
  }
}
