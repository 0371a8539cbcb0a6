/**
 * What the parent of a fleet drill and its worker processes say to each other over the IPC
 * channel (`process.send`, advanced serialization). Secrets (the emulator's access key, the
 * Vault token) travel only in {@link WorkerInit}, never on a command line or in the environment,
 * and never come back.
 *
 * A worker's life: the parent forks it and sends `init`; the worker builds its pool, runs one
 * query and answers `ready`; on `start` it runs its load and sends `progress` now and then; on
 * `stop` it stops the load, ends its pool and answers `result`. When the channel closes (the
 * parent ended it, or died) the worker exits.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import type { TargetReport } from '../report.js';
import type { DrillStatements } from '../scenarios/types.js';

/** How a worker builds its provider: plain data, sent once in {@link WorkerInit}. */
export type ProviderSpec =
  | {
      kind: 'secrets-manager';
      secretId: string;
      /** The SDK client's configuration: the endpoint is the worker's own counting proxy. */
      clientConfig: {
        region: string;
        endpoint: string;
        credentials: { accessKeyId: string; secretAccessKey: string };
      };
    }
  | {
      kind: 'vault-static';
      role: string;
      /** The Vault address (the worker's own counting proxy) and token. */
      vault: { endpoint: string; token: string };
    };

/** Where a worker's pool connects; credentials come from its provider. */
export interface WorkerEndpoint {
  host?: string;
  port?: number;
  database?: string;
}

/** Parent → worker, first: everything the worker needs. */
export interface WorkerInit {
  type: 'init';
  /** The worker's number in the fleet, 0-based. */
  index: number;
  provider: ProviderSpec;
  endpoint: WorkerEndpoint;
  statements: DrillStatements;
  /** Workers of the load (each runs one query at a time). */
  concurrency: number;
  writeRatio: number;
  churnPerSecond: number;
  /** Pause between a load worker's queries, ms. */
  thinkMs: number;
}

/** Parent → worker: start the load now. */
export interface WorkerStart {
  type: 'start';
}

/** A disruption, on the shared clock: `performance.timeOrigin + performance.now()` (ms since the epoch). */
export interface EpochWindow {
  startEpochMs: number;
  endEpochMs: number;
}

/** Parent → worker: stop the load and report, with the disruptions the parent made. */
export interface WorkerStop {
  type: 'stop';
  windows: EpochWindow[];
}

/** Parent → worker. */
export type ParentMessage = WorkerInit | WorkerStart | WorkerStop;

/** Worker → parent: the pool is built and served its first query. */
export interface WorkerReady {
  type: 'ready';
  /** The pool's `connectionLimit`. */
  connectionLimit: number;
}

/** Worker → parent, during the load: running counts. */
export interface WorkerProgress {
  type: 'progress';
  ok: number;
  failed: number;
}

/** What a worker reports after `stop`. */
export interface WorkerResult {
  type: 'result';
  /** The worker's load, summarized on its own load clock (see `summarize` in `../report.ts`). */
  report: TargetReport;
  /** The durations of its queries (ms), by whether they were issued inside a window: the parent merges them. */
  durations: { inside: Float64Array; outside: Float64Array };
  /** When the worker's pool started each generation after the first, on the shared epoch clock. */
  rotatedAtEpochMs: number[];
  /**
   * When each of the worker's sockets to the database connected, and when each closed, on the
   * shared epoch clock: the parent adds them up into the fleet's connections at any moment.
   */
  sockets: { opened: Float64Array; closed: Float64Array };
}

/** Worker → parent: it cannot go on. `message` names what failed, never a secret value. */
export interface WorkerFailure {
  type: 'error';
  message: string;
}

/** Worker → parent. */
export type WorkerMessage = WorkerReady | WorkerProgress | WorkerResult | WorkerFailure;

/** The shared clock of the fleet's processes: milliseconds since the epoch, sub-millisecond resolution. */
export function epochNow(now: number = performance.now()): number {
  return performance.timeOrigin + now;
}
