/**
 * `credswap drill <scenario> --fleet N`: N worker processes, each with its own credswap pool
 * and load, against one database and one emulated secret store, through one rotation at a
 * time, as a fleet of services (ECS tasks, Lambda environments) meets a rotation in
 * production. The parent sets everything up once, forks the workers (`./workers.ts`), puts a
 * counting proxy in front of the store for each (`./store-proxy.ts`), watches the database's
 * counters (`./server-stats.ts`), rotates, and sums what the workers saw (`./report.ts`).
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { buildReport, type DrillReport } from '../report.js';
import type { ProgressState } from '../progress.js';
import type { FleetEnvironment, FleetScenarioName, FleetSettings } from './environment.js';
import { epochNow, type EpochWindow } from './protocol.js';
import { aggregateFleet, type EpochCall } from './report.js';
import { watchServer, type ServerWatch } from './server-stats.js';
import { startStoreProxy, type StoreProxy } from './store-proxy.js';
import { startWorkers, type WorkerSet } from './workers.js';

/** Pause between one query of a load worker and its next, ms: a modest load per process. */
export const FLEET_THINK_MS = 10;
/** How long the workers may take to report after the load stops, ms. */
const RESULT_TIMEOUT_MS = 30_000;

/** How long `processes` workers may take to start and serve a first query, ms. */
export function readyTimeoutMs(processes: number): number {
  return 30_000 + 2_000 * processes;
}

/** What {@link runFleetDrill} runs, already checked (see `resolveDrillOptions` in `../run.ts`). */
export interface FleetRunSettings {
  scenario: FleetScenarioName;
  /** Worker processes. */
  processes: number;
  durationMs: number;
  /** Load workers per process. */
  concurrency: number;
  writeRatio: number;
  rotations: number;
  intervalMs: number;
  churnPerSecond: number;
  mysqlUrl?: string;
}

/** Loads the setup of `name`: each module is required only when its scenario runs (its SDK with it). */
function loadFleetSetup(name: FleetScenarioName): (settings: FleetSettings) => Promise<FleetEnvironment> {
  switch (name) {
    case 'aws-single-user':
      return (require('./aws.js') as typeof import('./aws.js')).setupFleetAws;
    case 'vault-static':
      return (require('./vault.js') as typeof import('./vault.js')).setupFleetVault;
  }
}

/** Hooks of {@link runFleetDrill} (those of `runDrill`, and one for tests). */
export interface FleetHooks {
  /** A progress reporter (see `createProgress` in `../render.js`). */
  progress?: { update(state: ProgressState): void; log(line: string): void; done(): void };
  /** Called with each worker's process id as it is forked. */
  onSpawn?(pid: number): void;
}

function total(calls: Record<string, number>): number {
  return Object.values(calls).reduce((sum, n) => sum + n, 0);
}

/**
 * Runs a fleet drill and resolves with its report (`fleet` holds the fleet's own figures).
 * Every worker has exited, and everything set up is removed, before it settles, also on failure.
 *
 * @throws `DrillTargetError` when the database or a worker fails, or workers do not answer in time
 */
export async function runFleetDrill(settings: FleetRunSettings, hooks: FleetHooks = {}): Promise<DrillReport> {
  const progress = hooks.progress;
  const log = (line: string) => progress?.log(line);
  const startedAt = new Date();
  progress?.update({ elapsedMs: 0, ok: 0, failed: 0, phase: 'setting up' });
  const env: FleetEnvironment = await loadFleetSetup(settings.scenario)({
    scenario: settings.scenario,
    mysqlUrl: settings.mysqlUrl,
    intervalMs: settings.intervalMs,
    log,
  });
  let proxies: StoreProxy[] = [];
  let workers: WorkerSet | undefined;
  let watch: ServerWatch | undefined;
  let ticker: NodeJS.Timeout | undefined;
  try {
    // Before any worker connects: the counters start from here.
    watch = await watchServer(env.server, env.user);
    const storeBefore = total(env.storeCalls());
    proxies = await Promise.all(Array.from({ length: settings.processes }, () => startStoreProxy(env.storeUrl, env.operationOf)));
    progress?.update({ elapsedMs: 0, ok: 0, failed: 0, phase: `starting ${settings.processes} processes` });
    workers = await startWorkers({
      count: settings.processes,
      init: (index) => ({
        type: 'init',
        index,
        provider: env.providerSpec(proxies[index].url),
        endpoint: env.endpoint,
        statements: env.statements,
        concurrency: settings.concurrency,
        writeRatio: settings.writeRatio,
        churnPerSecond: settings.churnPerSecond,
        thinkMs: FLEET_THINK_MS,
      }),
      readyTimeoutMs: readyTimeoutMs(settings.processes),
      secrets: env.secrets,
      onSpawn: hooks.onSpawn,
    });
    const set = workers;
    log(`fleet: ${settings.processes} processes ready, ${settings.concurrency} workers each`);

    set.start();
    const begin = performance.now();
    let phase = 'load';
    ticker = setInterval(
      () => progress?.update({ elapsedMs: Math.min(settings.durationMs, performance.now() - begin), ...set.progress(), phase }),
      100,
    );
    ticker.unref();
    const windows: EpochWindow[] = [];
    for (let i = 0; i < settings.rotations; i++) {
      await set.sleep(Math.max(0, begin + (i + 1) * settings.intervalMs - performance.now()));
      phase = `rotation ${i + 1}`;
      const times = await env.disrupt(i);
      windows.push({ startEpochMs: epochNow(times.startAt), endEpochMs: epochNow(times.endAt) });
      phase = 'load';
    }
    await set.sleep(Math.max(0, begin + settings.durationMs - performance.now()));
    const end = performance.now();
    phase = 'stopping';
    const results = await set.stop(windows, RESULT_TIMEOUT_MS);
    clearInterval(ticker);
    ticker = undefined;
    progress?.update({ elapsedMs: settings.durationMs, ...set.progress(), phase: 'done' });
    const server = await watch.finish();
    const calls: EpochCall[][] = proxies.map((p) => p.calls.map((c) => ({ epochMs: epochNow(c.at), operation: c.operation })));
    const { target, fleet } = aggregateFleet({
      results,
      calls,
      windows,
      loadEpochMs: epochNow(begin),
      endEpochMs: epochNow(end),
      store: env.store,
      emulatorCalls: total(env.storeCalls()) - storeBefore,
      connectionLimit: Math.max(...set.connectionLimits),
      server,
    });
    return buildReport({
      scenario: settings.scenario,
      embedded: env.embedded,
      options: {
        durationMs: settings.durationMs,
        concurrency: settings.concurrency,
        writeRatio: settings.writeRatio,
        rotations: settings.rotations,
      },
      targets: [target],
      startedAt,
      fleet,
    });
  } finally {
    if (ticker) clearInterval(ticker);
    progress?.done();
    await workers?.close();
    await watch?.close();
    await Promise.all(proxies.map((p) => p.close()));
    await env.close();
  }
}
