/**
 * The parent's side of a fleet drill's processes: forking the workers (`./worker.ts`, compiled
 * beside this file), talking to them, and making sure none outlives the drill. A worker that
 * fails, exits early, or does not answer in time fails the whole set; {@link WorkerSet.close}
 * ends the channels (a worker exits when its channel closes), then kills what is still running,
 * and resolves only once every worker has exited.
 *
 * @packageDocumentation
 */

import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { extname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DrillTargetError } from '../errors.js';
import { scrubSecrets } from '../redact.js';
import type { EpochWindow, ParentMessage, WorkerInit, WorkerMessage, WorkerResult } from './protocol.js';

/** How long a closed worker may take to exit before it is killed, ms. */
export const WORKER_EXIT_GRACE_MS = 3_000;
/** Bytes of a worker's stderr kept to explain its failure. */
const STDERR_TAIL = 2_000;

/** The worker module beside this file: `worker.js` in the package, `worker.ts` in the source tree. */
export function workerModule(): string {
  return join(__dirname, `worker${extname(__filename)}`);
}

/** Set in a worker's environment: a worker never starts workers of its own. */
export const FLEET_WORKER_ENV = 'CREDSWAP_FLEET_WORKER';

/** Node options that take the code to run as their value: a worker must not run its parent's code. */
const CODE_FLAGS = new Set(['-e', '--eval', '-p', '--print']);

/**
 * Node options of a worker: the parent's (loaders, `--require`, memory limits), without the
 * code of `node -e`/`-p` (the worker would run the parent's code instead of its module),
 * without `--inspect*` (its port is the parent's) or `-i`; plus TypeScript support when the
 * worker is a `.ts` file run from source.
 */
export function workerExecArgv(module: string, execArgv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    if (CODE_FLAGS.has(arg)) {
      i += 1; // and its value
      continue;
    }
    if (/^--(eval|print)=/.test(arg) || arg.startsWith('--inspect') || arg === '-i' || arg === '--interactive') continue;
    kept.push(arg);
  }
  if (extname(module) !== '.ts' || kept.some((arg) => arg.includes('tsx'))) return kept;
  return [...kept, '--require', require.resolve('tsx/cjs')];
}

/** Options of {@link startWorkers}. */
export interface StartWorkersOptions {
  count: number;
  /** The `init` message of worker `index`. */
  init(index: number): WorkerInit;
  /** How long the workers may take to be ready, all together, ms. */
  readyTimeoutMs: number;
  /** Values to scrub from a worker's failure before it is shown. */
  secrets: readonly string[];
  /** Called with each worker's process id as it is forked (tests). */
  onSpawn?(pid: number): void;
  /** The module to fork. @defaultValue {@link workerModule}() */
  module?: string;
  /**
   * How many workers may be starting (loading their modules, first fetch) at once: the next is
   * forked when one is ready, so that starting many does not starve each other's first request.
   * @defaultValue twice the CPUs available
   */
  startParallelism?: number;
}

interface Member {
  index: number;
  child: ChildProcess;
  connectionLimit?: number;
  ok: number;
  failed: number;
  result?: WorkerResult;
  exited: boolean;
  stderr: string;
}

/** A fleet's running workers. Obtained from {@link startWorkers}. */
export class WorkerSet {
  readonly #members: Member[] = [];
  readonly #secrets: readonly string[];
  readonly #wakers = new Set<() => void>();
  #failure: Error | undefined;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link startWorkers}. */
  constructor(secrets: readonly string[]) {
    this.#secrets = secrets;
  }

  /** The workers' process ids, by index. */
  get pids(): number[] {
    return this.#members.map((m) => m.child.pid ?? 0);
  }

  /** Each worker's pool `connectionLimit`, by index (0 before it is ready). */
  get connectionLimits(): number[] {
    return this.#members.map((m) => m.connectionLimit ?? 0);
  }

  /** Queries so far, all workers together (from their latest progress). */
  progress(): { ok: number; failed: number } {
    return this.#members.reduce((a, m) => ({ ok: a.ok + m.ok, failed: a.failed + m.failed }), { ok: 0, failed: 0 });
  }

  /** @internal */
  add(index: number, child: ChildProcess, init: WorkerInit): void {
    const member: Member = { index, child, ok: 0, failed: 0, exited: false, stderr: '' };
    this.#members.push(member);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => (member.stderr = (member.stderr + text).slice(-STDERR_TAIL)));
    child.on('message', (message: WorkerMessage) => this.#onMessage(member, message));
    child.on('error', (error) => this.#fail(member, `could not be started or reached: ${error.message}`));
    child.on('exit', (code, signal) => {
      member.exited = true;
      if (this.#closing === undefined)
        this.#fail(member, `exited (${signal ?? `code ${code}`}) before the drill ended${this.#tail(member)}`);
      this.#wake();
    });
    this.#send(member, init);
  }

  /**
   * Resolves when at most `starting` workers are not ready yet (0: every worker is ready).
   *
   * @throws {@link DrillTargetError} when one fails, or after `timeoutMs`
   */
  ready(timeoutMs: number, starting = 0): Promise<void> {
    const notReady = () => this.#members.filter((m) => m.connectionLimit === undefined).length;
    return this.#until(() => notReady() <= starting, Math.max(0, timeoutMs), 'to be ready');
  }

  /** Tells every worker to start its load. */
  start(): void {
    for (const member of this.#members) this.#send(member, { type: 'start' });
  }

  /**
   * Tells every worker to stop and report, and resolves with their results, by index.
   *
   * @throws {@link DrillTargetError} when one fails, or after `timeoutMs`
   */
  async stop(windows: EpochWindow[], timeoutMs: number): Promise<WorkerResult[]> {
    for (const member of this.#members) this.#send(member, { type: 'stop', windows });
    await this.#until(() => this.#members.every((m) => m.result !== undefined), timeoutMs, 'to report');
    return this.#members.map((m) => m.result!);
  }

  /**
   * Waits `ms`, or less when a worker fails.
   *
   * @throws {@link DrillTargetError} when a worker failed or fails meanwhile
   */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!this.#failure) return;
        clearTimeout(timer);
        this.#wakers.delete(check);
        reject(this.#failure);
      };
      const timer = setTimeout(() => {
        this.#wakers.delete(check);
        resolve();
      }, ms);
      this.#wakers.add(check);
      check();
    });
  }

  /**
   * Closes every worker's channel (the worker exits), kills those still running after
   * {@link WORKER_EXIT_GRACE_MS}, and resolves once all have exited. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const m of this.#members) if (m.child.connected) m.child.disconnect();
      const exited = () => this.#members.every((m) => m.exited || m.child.exitCode !== null || m.child.signalCode !== null);
      await this.#until(exited, WORKER_EXIT_GRACE_MS, 'to exit', false).catch(() => {});
      for (const m of this.#members) if (!exited()) m.child.kill('SIGKILL');
      await this.#until(exited, 10_000, 'to exit after SIGKILL', false).catch(() => {});
    })();
    return this.#closing;
  }

  #onMessage(member: Member, message: WorkerMessage): void {
    switch (message.type) {
      case 'ready':
        member.connectionLimit = message.connectionLimit;
        break;
      case 'progress':
        member.ok = message.ok;
        member.failed = message.failed;
        break;
      case 'result':
        member.result = message;
        member.ok = message.report.queries.ok;
        member.failed = message.report.queries.failed;
        break;
      case 'error':
        this.#fail(member, message.message);
        break;
    }
    this.#wake();
  }

  #send(member: Member, message: ParentMessage): void {
    if (member.child.connected) member.child.send(message);
  }

  #fail(member: Member, problem: string): void {
    this.#failure ??= new DrillTargetError(`fleet process ${member.index + 1}`, scrubSecrets(problem, this.#secrets));
    this.#wake();
  }

  #tail(member: Member): string {
    const text = member.stderr.trim().split('\n').slice(-3).join(' / ');
    return text === '' ? '' : `; its last words: ${text}`;
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  /** Resolves when `done()` holds; rejects on a worker's failure (when `failFast`) or after `timeoutMs`. */
  #until(done: () => boolean, timeoutMs: number, what: string, failFast = true): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (failFast && this.#failure) return finish(this.#failure);
        if (done()) finish();
      };
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.#wakers.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => finish(new DrillTargetError('fleet', `its worker processes did not manage ${what} within ${Math.round(timeoutMs / 1000)} s`)),
        timeoutMs,
      );
      timer.unref();
      this.#wakers.add(check);
      check();
    });
  }
}

/**
 * Forks `count` workers and sends each its `init`; resolves with the set once every worker is
 * ready. On a failure or timeout, the workers are closed (and killed) before it rejects.
 *
 * @throws {@link DrillTargetError} naming the worker that failed, saying none was ready in time,
 *   or when called in a worker (a worker never starts workers)
 */
export async function startWorkers(options: StartWorkersOptions): Promise<WorkerSet> {
  if (process.env[FLEET_WORKER_ENV] !== undefined) {
    throw new DrillTargetError('fleet', 'a fleet worker process cannot start worker processes of its own');
  }
  const module = options.module ?? workerModule();
  const set = new WorkerSet(options.secrets);
  const parallel = Math.max(1, options.startParallelism ?? 2 * availableParallelism());
  const deadline = performance.now() + options.readyTimeoutMs;
  try {
    for (let index = 0; index < options.count; index++) {
      if (index >= parallel) await set.ready(deadline - performance.now(), parallel - 1);
      const child = fork(module, [], {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'advanced',
        execArgv: workerExecArgv(module),
        env: { ...process.env, [FLEET_WORKER_ENV]: '1' },
      });
      if (child.pid !== undefined) options.onSpawn?.(child.pid);
      set.add(index, child, options.init(index));
    }
    await set.ready(deadline - performance.now());
    return set;
  } catch (error) {
    await set.close();
    throw error;
  }
}
