/**
 * One process of a fleet drill (`credswap drill <scenario> --fleet N`): the parent forks this
 * module N times. Each worker builds its own provider and credswap pool, runs a light load
 * through it when told to, and reports what its application saw; see `./protocol.ts` for the
 * conversation. It prints nothing: stdout is not read, and what it says goes over the IPC
 * channel, naming failures but never a secret value.
 *
 * A worker exits when the channel closes: when the parent ends it after the result, and when
 * the parent dies, so that no worker outlives its drill.
 *
 * @packageDocumentation
 */

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import type { RotateEvent } from '../../coordinator.js';
import { describeCause } from '../../errors.js';
import { loadSecretsManagerSdk } from '../../../providers/aws/sdk.js';
import type { CredentialsProvider } from '../../provider.js';
import { startLoadGenerator, type LoadGenerator } from '../../testing/load.js';
import { isInside, summarize, type DrillWindow } from '../report.js';
import { drillQuery } from '../run.js';
import { credswapTarget, poolSize } from '../scenarios/pools.js';
import type { CredswapTarget } from '../scenarios/types.js';
import { epochNow, type EpochWindow, type ParentMessage, type ProviderSpec, type WorkerInit, type WorkerMessage } from './protocol.js';

/** How often a worker sends its running counts to the parent, ms. */
export const WORKER_PROGRESS_INTERVAL_MS = 250;

/** The most query outcomes a worker keeps for its report (its counts stay exact beyond). */
const MAX_OUTCOMES = 500_000;

/** Builds the provider `spec` describes. The SDKs load here, in the worker, not in the parent's fleet code. */
function createProvider(spec: ProviderSpec): CredentialsProvider {
  if (spec.kind === 'secrets-manager') {
    const { SecretsManagerProvider } =
      require('../../../providers/aws/secrets-manager.js') as typeof import('../../../providers/aws/secrets-manager.js');
    // The production default refresh (a DescribeSecret every few minutes): what a fleet of services would run.
    return new SecretsManagerProvider({ secretId: spec.secretId, clientConfig: spec.clientConfig });
  }
  const { VaultStaticRoleProvider } =
    require('../../../providers/vault/static-role.js') as typeof import('../../../providers/vault/static-role.js');
  return new VaultStaticRoleProvider({ role: spec.role, vault: { endpoint: spec.vault.endpoint, auth: { token: spec.vault.token } } });
}

/** The windows of this worker's load, from the parent's windows on the shared clock. */
export function workerWindows(windows: readonly EpochWindow[], loadEpochMs: number, rotatedAtEpochMs: readonly number[]): DrillWindow[] {
  return windows.map((w, i) => {
    const next = i + 1 < windows.length ? windows[i + 1].startEpochMs : Number.POSITIVE_INFINITY;
    const converged = rotatedAtEpochMs.find((t) => t >= w.startEpochMs && t < next);
    return {
      kind: 'rotation',
      startMs: Math.max(0, w.startEpochMs - loadEpochMs),
      endMs: Math.max(0, w.endEpochMs - loadEpochMs),
      ...(converged !== undefined ? { convergedMs: Math.max(0, converged - loadEpochMs) } : {}),
    };
  });
}

/**
 * Every socket this process opens to `port`, from the moment it connects to the moment it
 * closes, on the shared epoch clock: all of them, not just those the pool counts, as the
 * server sees them (Node's `net.client.socket` diagnostics channel).
 */
export class SocketLog {
  readonly opened: number[] = [];
  readonly closed: number[] = [];
  readonly #listener = (message: unknown) => {
    const socket = (message as { socket: Socket }).socket;
    socket.once('connect', () => {
      if (socket.remotePort !== this.port) return;
      this.opened.push(epochNow());
      socket.once('close', () => this.closed.push(epochNow()));
    });
  };

  constructor(private readonly port: number | undefined) {
    subscribe('net.client.socket', this.#listener);
  }

  /** Stops logging. */
  close(): void {
    unsubscribe('net.client.socket', this.#listener);
  }
}

/** A worker's state between messages. */
class Worker {
  #init: WorkerInit | undefined;
  #target: CredswapTarget | undefined;
  #load: LoadGenerator | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #connections = 0;
  #sockets: SocketLog | undefined;
  readonly #rotatedAt: number[] = [];

  constructor(private readonly send: (message: WorkerMessage) => void) {}

  async handle(message: ParentMessage): Promise<void> {
    switch (message.type) {
      case 'init':
        return this.#start(message);
      case 'start':
        return this.#run();
      case 'stop':
        return this.#stop(message.windows);
    }
  }

  async #start(init: WorkerInit): Promise<void> {
    this.#init = init;
    this.#sockets = new SocketLog(init.endpoint.port);
    // The SDK loads before the first fetch, not inside its request timeout.
    if (init.provider.kind === 'secrets-manager') await loadSecretsManagerSdk('the fleet worker');
    const provider = createProvider(init.provider);
    this.#target = credswapTarget(provider, init.endpoint, init.concurrency);
    const pool = this.#target.pool;
    pool.on('rotate', (_event: RotateEvent) => this.#rotatedAt.push(epochNow()));
    pool.on('connection', () => (this.#connections += 1));
    await pool.query(init.statements.read);
    this.send({ type: 'ready', connectionLimit: poolSize(init.concurrency) });
  }

  async #run(): Promise<void> {
    const init = this.#init!;
    this.#load = startLoadGenerator({
      concurrency: init.concurrency,
      writeRatio: init.writeRatio,
      thinkMs: init.thinkMs,
      query: drillQuery(this.#target!.pool, init.statements, init.churnPerSecond),
      maxOutcomes: MAX_OUTCOMES,
    });
    const load = this.#load;
    this.#ticker = setInterval(() => this.send({ type: 'progress', ok: load.ok, failed: load.failed }), WORKER_PROGRESS_INTERVAL_MS);
    this.#ticker.unref();
  }

  async #stop(windows: readonly EpochWindow[]): Promise<void> {
    clearInterval(this.#ticker);
    const load = this.#load!;
    await load.stop();
    const target = this.#target!;
    await target.pool.end();
    const sockets = this.#sockets!;
    sockets.close();
    const loadEpochMs = epochNow(load.startedAt);
    const drillWindows = workerWindows(windows, loadEpochMs, this.#rotatedAt);
    const report = summarize({
      outcomes: load.outcomes,
      totals: load,
      windows: drillWindows,
      stats: {
        target: 'credswap',
        providerCalls: target.providerCalls(),
        rotations: Math.max(0, this.#rotatedAt.length - 1),
        connectionsOpened: this.#connections,
      },
    });
    const inside: number[] = [];
    const outside: number[] = [];
    for (const o of load.outcomes) (drillWindows.some((w) => isInside(o.at, w)) ? inside : outside).push(o.durationMs);
    this.send({
      type: 'result',
      report,
      durations: { inside: Float64Array.from(inside), outside: Float64Array.from(outside) },
      rotatedAtEpochMs: this.#rotatedAt.slice(1),
      sockets: { opened: Float64Array.from(sockets.opened), closed: Float64Array.from(sockets.closed) },
    });
  }

  /** Ends what is running (the channel closed). */
  async close(): Promise<void> {
    clearInterval(this.#ticker);
    this.#sockets?.close();
    await this.#load?.stop().catch(() => {});
    await this.#target?.pool.end().catch(() => {});
  }
}

/** Runs this process as a fleet worker: answers the parent until the channel closes, then exits. */
export function runWorker(proc: NodeJS.Process = process): void {
  if (typeof proc.send !== 'function') throw new Error('credswap fleet worker: must be started by a fleet drill (no IPC channel)');
  const send = (message: WorkerMessage) => {
    if (proc.connected) proc.send!(message);
  };
  // The parent died before this worker got going: there is no one to work for.
  if (!proc.connected) proc.exit(0);
  const worker = new Worker(send);
  // The parent ended the channel, or died: nothing is left to report to.
  proc.on('disconnect', () => {
    const exit = setTimeout(() => proc.exit(0), 1_000);
    exit.unref();
    void worker.close().finally(() => proc.exit(0));
  });
  proc.on('message', (message: ParentMessage) => {
    worker.handle(message).catch((error: unknown) => send({ type: 'error', message: describeCause(error) }));
  });
}

if (require.main === module) runWorker();
