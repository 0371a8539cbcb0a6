/**
 * A load generator for rotation and failover drills: a fixed number of workers run queries
 * through any pool, back to back, and every query's outcome (when it was issued, how long it
 * took, read or write, and the error code when it failed) is recorded, so that what the
 * application saw during a rotation can be counted afterwards.
 *
 * @example
 * ```ts
 * import { createPool } from 'credswap/mysql2/promise';
 * import { defaultQueries, startLoadGenerator } from 'credswap/testing';
 *
 * const pool = createPool({ host, database, credentials });
 * const load = startLoadGenerator({ concurrency: 8, query: await defaultQueries(pool) });
 * await load.untilOk(100);
 * await rotateThePassword();
 * await load.untilOk(load.ok + 1000);
 * await load.stop();
 * console.log(load.ok, load.failed, load.failedByCode);
 * await pool.end();
 * ```
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { unrefTimer } from '../backoff.js';
import { InvalidOptionError } from '../errors.js';
import { duration, expectObject, integer, rejectUnknownKeys } from '../options.js';

/** What a query does: reads leave the server unchanged, writes are refused by a read-only server. */
export type QueryKind = 'read' | 'write';

/** One query a {@link LoadGenerator} ran. */
export interface QueryOutcome {
  /** When the query was issued: milliseconds since the load started (`performance.now()` based). */
  at: number;
  /** How long the query took until it resolved or rejected, in milliseconds. */
  durationMs: number;
  kind: QueryKind;
  /** The worker that ran it, `0` to `concurrency - 1`. */
  worker: number;
  ok: boolean;
  /**
   * Only on failure: the error's `code` (mysql2's, e.g. `'ER_ACCESS_DENIED_ERROR'`; credswap's,
   * e.g. `'CREDSWAP_ROTATION_TIMEOUT'`; Node's, e.g. `'ECONNREFUSED'`), looked for through the
   * `cause`s (and the `original`/`parent`/`driverError` of ORM wrappers), or `'UNKNOWN'`.
   * See {@link errorCodeOf}.
   */
  code?: string;
  /** Only on failure, when the error (or one it wraps) has a numeric `errno`: the server's, e.g. 1045. */
  errno?: number;
}

/** Options of {@link startLoadGenerator}. Unknown keys are rejected. */
export interface LoadGeneratorOptions {
  /** Number of workers; each runs one query at a time. At least 1. */
  concurrency: number;
  /**
   * The share of queries that are writes, from 0 to 1. The kinds are spread evenly over the
   * sequence of queries issued (with 0.2, every fifth query is a write), not drawn at random.
   *
   * @defaultValue {@link DEFAULT_WRITE_RATIO}
   */
  writeRatio?: number;
  /**
   * Runs one query of the given kind through the pool under test; resolves when it succeeded,
   * rejects (or throws) when it failed. {@link defaultQueries} makes one.
   */
  query: (kind: QueryKind, worker: number) => Promise<unknown>;
  /**
   * How many outcomes to keep in {@link LoadGenerator.outcomes}: the first ones are kept, later
   * ones are only counted. The counts ({@link LoadGenerator.ok}, {@link LoadGenerator.failed},
   * {@link LoadGenerator.failedByCode}) stay exact. 0 keeps none.
   *
   * @defaultValue {@link DEFAULT_MAX_OUTCOMES}
   */
  maxOutcomes?: number;
  /**
   * Pause between one query of a worker and its next, in milliseconds. 0 yields to the event
   * loop once (`setImmediate`) so timers and I/O still run under full load.
   *
   * @defaultValue 0
   */
  thinkMs?: number;
}

/** A running load. See {@link startLoadGenerator}. */
export interface LoadGenerator {
  /** `performance.now()` when the load started; {@link QueryOutcome.at} counts from here. */
  readonly startedAt: number;
  /** Milliseconds since the load started, on the same clock as {@link QueryOutcome.at}. */
  now(): number;
  /** Queries that succeeded so far (exact, even past `maxOutcomes`). */
  readonly ok: number;
  /** Queries that failed so far (exact, even past `maxOutcomes`). */
  readonly failed: number;
  /** Failed queries per {@link QueryOutcome.code} (exact, even past `maxOutcomes`); a fresh object each time. */
  readonly failedByCode: Readonly<Record<string, number>>;
  /** Outcomes not kept because `maxOutcomes` was reached. */
  readonly droppedOutcomes: number;
  /** The outcomes kept, in the order the queries finished. */
  readonly outcomes: readonly QueryOutcome[];
  /**
   * Resolves once at least `n` queries have succeeded in total. Rejects after `timeoutMs` (when
   * given), or when the load is stopped first; the message says how many succeeded and which
   * errors the others got.
   */
  untilOk(n: number, timeoutMs?: number): Promise<void>;
  /**
   * Calls `listener` with every outcome as it is recorded (e.g. for a progress display) and
   * returns a function that unsubscribes it. A listener that throws is unsubscribed, the load
   * goes on, and {@link LoadGenerator.stop} rejects with the first such error.
   */
  onOutcome(listener: (outcome: QueryOutcome) => void): () => void;
  /**
   * Stops issuing queries and resolves once every query in flight has finished (and been
   * recorded). Idempotent. To abandon queries that hang, end the pool.
   */
  stop(): Promise<void>;
  /** Same as {@link LoadGenerator.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Default {@link LoadGeneratorOptions.writeRatio}: one query in five is a write. */
export const DEFAULT_WRITE_RATIO = 0.2;
/** Default {@link LoadGeneratorOptions.maxOutcomes}. */
export const DEFAULT_MAX_OUTCOMES = 1_000_000;

const OPTION_KEYS = new Set(['concurrency', 'writeRatio', 'query', 'maxOutcomes', 'thinkMs']);
/** Codes are identifiers; anything else (a message-like value) is not repeated, to never echo data. */
const CODE_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/**
 * The code {@link QueryOutcome.code} records for an error: the first string `code` (of the form
 * of an identifier) found on the error or on what it wraps (`cause`, and `original`, `parent`,
 * `driverError` as Sequelize and TypeORM name it), else `'UNKNOWN'`.
 */
export function errorCodeOf(error: unknown): { code: string; errno?: number } {
  let code: string | undefined;
  let errno: number | undefined;
  const seen = new Set<unknown>();
  let e: unknown = error;
  while (typeof e === 'object' && e !== null && !seen.has(e) && (code === undefined || errno === undefined)) {
    seen.add(e);
    const record = e as Record<string, unknown>;
    if (code === undefined && typeof record.code === 'string' && CODE_PATTERN.test(record.code)) code = record.code;
    if (errno === undefined && typeof record.errno === 'number' && Number.isInteger(record.errno)) errno = record.errno;
    e = record.cause ?? record.original ?? record.parent ?? record.driverError;
  }
  return errno === undefined ? { code: code ?? 'UNKNOWN' } : { code: code ?? 'UNKNOWN', errno };
}

/** {@link errorCodeOf}, for an error whose getters may throw: never throws. */
function safeCodeOf(error: unknown): { code: string; errno?: number } {
  try {
    return errorCodeOf(error);
  } catch {
    return { code: 'UNKNOWN' };
  }
}

function checkOptions(options: LoadGeneratorOptions) {
  const bag = expectObject(options, 'options') as Record<string, unknown>;
  rejectUnknownKeys(bag, OPTION_KEYS, 'options.');
  if (bag.concurrency === undefined) throw new InvalidOptionError('options.concurrency', 'is required');
  const concurrency = integer(bag, 'concurrency', 'options.', 1, 1);
  if (typeof bag.query !== 'function') throw new InvalidOptionError('options.query', 'must be a function');
  const writeRatio = bag.writeRatio ?? DEFAULT_WRITE_RATIO;
  if (typeof writeRatio !== 'number' || !(writeRatio >= 0 && writeRatio <= 1)) {
    throw new InvalidOptionError('options.writeRatio', 'must be a number from 0 to 1');
  }
  return {
    concurrency,
    writeRatio,
    query: bag.query as LoadGeneratorOptions['query'],
    maxOutcomes: integer(bag, 'maxOutcomes', 'options.', DEFAULT_MAX_OUTCOMES, 0),
    thinkMs: duration(bag, 'thinkMs', 'options.', 0),
  };
}

interface Waiter {
  n: number;
  resolve: () => void;
  reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
}

/**
 * Starts `options.concurrency` workers that run `options.query` back to back until
 * {@link LoadGenerator.stop}, recording every outcome. Failures are recorded, never thrown:
 * nothing the query function does can cause an unhandled rejection, and the load starts no
 * timer that keeps the process alive.
 *
 * @throws InvalidOptionError naming a missing, unknown or invalid option.
 * @example
 * ```ts
 * const load = startLoadGenerator({
 *   concurrency: 4,
 *   writeRatio: 0.5,
 *   query: (kind) => kind === 'read' ? pool.query('SELECT 1') : pool.query('INSERT INTO t () VALUES ()'),
 * });
 * await load.untilOk(500, 30_000);
 * await load.stop();
 * ```
 */
export function startLoadGenerator(options: LoadGeneratorOptions): LoadGenerator {
  const { concurrency, writeRatio, query, maxOutcomes, thinkMs } = checkOptions(options);
  const startedAt = performance.now();
  const now = () => performance.now() - startedAt;
  const outcomes: QueryOutcome[] = [];
  const failedByCode = new Map<string, number>();
  const listeners = new Set<(outcome: QueryOutcome) => void>();
  const waiters = new Set<Waiter>();
  const pauses = new Set<() => void>();
  let ok = 0;
  let failed = 0;
  let dropped = 0;
  let issued = 0;
  let stopping = false;
  let listenerError: unknown;
  let stopped: Promise<void> | undefined;

  // Query number i is a write when floor((i + 1) * ratio) steps up: exact share, evenly spread.
  const nextKind = (): QueryKind => {
    const i = issued++;
    return Math.floor((i + 1) * writeRatio) > Math.floor(i * writeRatio) ? 'write' : 'read';
  };

  const describe = () => {
    const codes = [...failedByCode].map(([code, count]) => `${code} ${count}`).join(', ');
    return `${ok} succeeded, ${failed} failed${codes ? ` (${codes})` : ''}`;
  };

  const record = (outcome: QueryOutcome) => {
    if (outcome.ok) ok += 1;
    else {
      failed += 1;
      failedByCode.set(outcome.code!, (failedByCode.get(outcome.code!) ?? 0) + 1);
    }
    if (outcomes.length < maxOutcomes) outcomes.push(outcome);
    else dropped += 1;
    for (const listener of [...listeners]) {
      try {
        listener(outcome);
      } catch (error) {
        listeners.delete(listener);
        listenerError ??= error;
      }
    }
    if (outcome.ok) {
      for (const waiter of waiters) {
        if (ok >= waiter.n) settle(waiter);
      }
    }
  };

  const settle = (waiter: Waiter, error?: Error) => {
    waiters.delete(waiter);
    if (waiter.timer) clearTimeout(waiter.timer);
    if (error) waiter.reject(error);
    else waiter.resolve();
  };

  const pause = () =>
    new Promise<void>((resolve) => {
      if (thinkMs === 0) {
        setImmediate(resolve);
        return;
      }
      const wake = () => {
        pauses.delete(wake);
        clearTimeout(timer);
        resolve();
      };
      const timer = unrefTimer(wake, thinkMs);
      pauses.add(wake);
    });

  const runOne = async (worker: number) => {
    const kind = nextKind();
    const issuedAt = performance.now();
    try {
      await query(kind, worker);
      const end = performance.now();
      record({ at: issuedAt - startedAt, durationMs: end - issuedAt, kind, worker, ok: true });
    } catch (error) {
      const end = performance.now();
      record({ at: issuedAt - startedAt, durationMs: end - issuedAt, kind, worker, ok: false, ...safeCodeOf(error) });
    }
  };

  const workers = Array.from({ length: concurrency }, async (_, worker) => {
    // Start every worker on a later turn, so that listeners subscribed right after
    // startLoadGenerator() returns see every outcome.
    await new Promise((resolve) => setImmediate(resolve));
    while (!stopping) {
      await runOne(worker);
      if (stopping) break;
      await pause();
    }
  });

  const load: LoadGenerator = {
    startedAt,
    now,
    get ok() {
      return ok;
    },
    get failed() {
      return failed;
    },
    get failedByCode() {
      return Object.fromEntries(failedByCode);
    },
    get droppedOutcomes() {
      return dropped;
    },
    outcomes,
    untilOk(n, timeoutMs) {
      if (typeof n !== 'number' || !Number.isFinite(n)) {
        return Promise.reject(new InvalidOptionError('n', 'must be a finite number'));
      }
      if (timeoutMs !== undefined) {
        try {
          duration({ timeoutMs }, 'timeoutMs', '', 0);
        } catch (error) {
          return Promise.reject(error);
        }
      }
      if (ok >= n) return Promise.resolve();
      if (stopping) return Promise.reject(new Error(`load was stopped before ${n} queries succeeded: ${describe()}`));
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = { n, resolve, reject };
        if (timeoutMs !== undefined) {
          waiter.timer = unrefTimer(
            () => settle(waiter, new Error(`load: fewer than ${n} queries succeeded within ${timeoutMs} ms: ${describe()}`)),
            timeoutMs,
          );
        }
        waiters.add(waiter);
      });
    },
    onOutcome(listener) {
      if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'must be a function');
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        for (const wake of [...pauses]) wake();
        await Promise.all(workers);
        for (const waiter of [...waiters]) {
          settle(waiter, new Error(`load was stopped before ${waiter.n} queries succeeded: ${describe()}`));
        }
        listeners.clear();
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrown as the listener threw it
        if (listenerError !== undefined) throw listenerError;
      })();
      return stopped;
    },
    [Symbol.asyncDispose]() {
      return load.stop();
    },
  };
  return load;
}
