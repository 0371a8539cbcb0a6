/**
 * Failover: what each way of writing through a pool sees when the primary fails over.
 *
 * Two servers of one flavour (A and B) behind a TCP proxy that stands in for DNS. Per path: fresh
 * pools on the proxy (`connectionLimit` 6), 8 workers writing back to back (autocommit writes,
 * transactions, or both, as the path says), then A turns read-only and `--flip-after-ms` (2 s)
 * later the proxy sends new connections to B; connections already open stay on A, as with a DNS
 * change. The load runs on for `--after-ms` after the flip, then stops. Measured per path:
 *
 * - the last write error after the flip (ms after the flip; `none` when every error came before it);
 * - logins during the read-only window: new connections the proxy accepted between `read_only=ON`
 *   and the flip (all of them went to A), and per second;
 * - failed writes: all of them, and the autocommit ones; transactions are retried as
 *   docs/failover.md says (up to 3 attempts, again only after a read-only refusal), and every
 *   refused attempt counts among the errors;
 * - correctness: every write has a unique id; afterwards the rows on both servers must show each
 *   acknowledged write exactly once and no failed write at all;
 * - connections still open to A when the load stopped.
 *
 * Paths run one after the other on fresh pools, reusing the two servers (both writable and
 * empty again, the proxy back on A, between paths). Plain mysql2 runs the same experiment
 * (`mysql2-query`, `mysql2-transaction`) for comparison.
 *
 *   npm run bench:failover
 *   npm run bench:failover -- --server mysql --paths query,transaction,mysql2-query --json
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { READ_ONLY_ERRNOS } from '../lib/mysql2/classify.js';
import { errorCodeOf } from '../lib/testing/load.js';
import { startFailoverRig, type FailoverRig } from './failover-rig.js';
import { loadCredswap, PATHS, type PathContext, type PathDefinition, type PathDriver } from './failover-paths.js';
import { describeMachine, formatTable, machineLines, ms, positiveInt } from './machine.js';

const HELP = `usage: npm run bench:failover -- [--server mariadb|mysql] [--paths NAME,...] [--flip-after-ms MS] [--after-ms MS] [--connections N] [--dist] [--json]

  --server         the two throwaway servers: mariadb (default) or mysql (MySQL 9.7: see docs/testing-kit.md)
  --paths          run only these paths (default: all): ${PATHS.map((p) => p.name).join(', ')}
  --flip-after-ms  how long A refuses writes before new connections go to B (default 2000)
  --after-ms       how long the load runs on after the flip (default 1500)
  --connections    every pool's connectionLimit (default 6)
  --dist           load credswap from dist/ (run npm run build first) instead of the TypeScript source
  --json           print one JSON document instead of the table`;

/** Attempts of a transaction refused as read-only, counting the first (docs/failover.md's loop). */
const TRANSACTION_ATTEMPTS = 3;
/** The targets: every path's last write error at most this long after the flip ... */
const TARGET_LAST_ERROR_MS = 50;
/** ... at most this many logins a second while A refuses writes ... */
const TARGET_LOGINS_PER_SECOND = 25;
/** ... and no failed autocommit write on these paths. */
const NO_FAILED_AUTOCOMMIT = new Set(['query', 'execute']);
/** How long stopping the load, or ending a path's pools, may take before the run gives up on it. */
const GUARD_MS = 30_000;

/** One path's figures. Times in ms, relative to the flip. */
export interface PathResult {
  readonly name: string;
  readonly label: string;
  readonly workers: PathDefinition['workers'];
  /** From `read_only=ON` to the flip, as it happened. */
  readonly readOnlyWindowMs: number;
  readonly loginsInWindow: number;
  readonly loginsPerSecond: number;
  /** The last error (of any operation, refused attempts included) after the flip; null: none after it. */
  readonly lastErrorAfterFlipMs: number | null;
  /** The first and last error relative to the flip (null without errors). */
  readonly firstErrorMs: number | null;
  readonly lastErrorMs: number | null;
  readonly writes: {
    ok: number;
    failed: number;
    autocommit: number;
    failedAutocommit: number;
    transactions: number;
    failedTransactions: number;
    /** The longest a write took, retries included: how long a write was held during the failover. */
    maxMs: number;
  };
  readonly reads: { ok: number; failed: number };
  /** Every error an operation threw (a transaction retried after one counts it too). */
  readonly errors: number;
  readonly errorsByCode: Record<string, number>;
  /** Acknowledged writes with no row, with more than one row; failed writes with a row; writes still pending when the load was stopped. */
  readonly correctness: { lost: number; duplicated: number; failedButRan: number; unsettled: number };
  /** Connections open through the proxy to A when the load stopped. */
  readonly leftOnA: number;
  /** Targets this path missed (empty: none; plain mysql2 paths are the comparison and have none). */
  readonly missed: string[];
}

interface WriteOutcome {
  readonly wid: string;
  readonly kind: 'autocommit' | 'transaction';
  readonly ok: boolean;
  /** From the first attempt until it succeeded or failed for good. */
  readonly ms: number;
}

const refusedAsReadOnly = (error: unknown) => {
  const errno = errorCodeOf(error).errno;
  return errno !== undefined && READ_ONLY_ERRNOS.has(errno);
};

/** Milliseconds to the microsecond, so the JSON carries no float noise. */
const round = (value: number) => Math.round(value * 1000) / 1000;

/** Resolves with `promise`, or with `fallback` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return Promise.race([promise, sleep(ms, fallback, { ref: false })]);
}

/** Runs one path on fresh pools through one failover; the rig must be reset (A writable, proxy on A). */
async function runPath(
  rig: FailoverRig,
  path: PathDefinition,
  context: PathContext,
  flipAfterMs: number,
  afterMs: number,
): Promise<PathResult> {
  const driver: PathDriver = await path.open(context);
  const errors: Array<{ at: number; code: string }> = [];
  const writes: WriteOutcome[] = [];
  const pending = new Set<string>();
  const reads = { ok: 0, failed: 0 };
  let running = true;
  let okOps = 0;

  const noteError = (error: unknown) => {
    const { code, errno } = errorCodeOf(error);
    errors.push({ at: performance.now(), code: errno === undefined ? code : `${code} (${errno})` });
  };
  const write = async (kind: WriteOutcome['kind'], wid: string) => {
    const op = kind === 'autocommit' ? driver.autocommit! : driver.transaction!;
    pending.add(wid);
    const started = performance.now();
    let ok = false;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await op(wid);
        ok = true;
        break;
      } catch (error) {
        noteError(error);
        if (kind === 'autocommit' || !refusedAsReadOnly(error) || attempt >= TRANSACTION_ATTEMPTS) break;
      }
    }
    pending.delete(wid);
    writes.push({ wid, kind, ok, ms: performance.now() - started });
    if (ok) okOps += 1;
  };
  const read = async () => {
    try {
      await driver.read!();
      reads.ok += 1;
      okOps += 1;
    } catch (error) {
      noteError(error);
      reads.failed += 1;
    }
  };
  const loop = async (kind: 'autocommit' | 'transaction' | 'read', worker: number) => {
    for (let i = 0; running; i++) {
      if (kind === 'read') await read();
      else await write(kind, `${path.name}-${kind[0]}${worker}-${i}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const loops = (['autocommit', 'transaction', 'read'] as const).flatMap((kind) =>
    Array.from({ length: path.workers[kind] }, (_, worker) => loop(kind, worker)),
  );

  try {
    // Warm: the pool has logged in and every worker has written a few times.
    const warmUntil = performance.now() + 10_000;
    while (okOps < 80 && performance.now() < warmUntil) await sleep(10);
    if (okOps < 80) throw new Error(`${path.label}: only ${okOps} operations succeeded in 10 s before the failover`);

    await rig.a.setReadOnly(true);
    const readOnlyAt = performance.now();
    const acceptedAtReadOnly = rig.accepted();
    await sleep(Math.max(0, readOnlyAt + flipAfterMs - performance.now()));
    const acceptedAtFlip = rig.accepted();
    rig.proxy.flip(rig.b);
    const flipAt = performance.now();
    await sleep(afterMs);
    running = false;
    const stopped = await within(
      Promise.all(loops).then(() => true),
      GUARD_MS,
      false,
    );
    const leftOnA = rig.openOnA();
    const unsettled = stopped ? 0 : pending.size;

    const rows = await rig.rowsByWid();
    let lost = 0;
    let duplicated = 0;
    let failedButRan = 0;
    for (const w of writes) {
      const n = rows.get(w.wid) ?? 0;
      if (w.ok && n === 0) lost += 1;
      if (n > 1) duplicated += 1;
      if (!w.ok && n > 0) failedButRan += 1;
    }
    const windowMs = flipAt - readOnlyAt;
    const loginsInWindow = acceptedAtFlip - acceptedAtReadOnly;
    const at = errors.map((e) => e.at - flipAt);
    const lastErrorMs = at.length === 0 ? null : Math.max(...at);
    const errorsByCode: Record<string, number> = {};
    for (const e of errors) errorsByCode[e.code] = (errorsByCode[e.code] ?? 0) + 1;
    const count = (f: (w: WriteOutcome) => boolean) => writes.filter(f).length;
    const result: Omit<PathResult, 'missed'> = {
      name: path.name,
      label: path.label,
      workers: path.workers,
      readOnlyWindowMs: round(windowMs),
      loginsInWindow,
      loginsPerSecond: round(loginsInWindow / (windowMs / 1000)),
      lastErrorAfterFlipMs: lastErrorMs !== null && lastErrorMs > 0 ? round(lastErrorMs) : null,
      firstErrorMs: at.length === 0 ? null : round(Math.min(...at)),
      lastErrorMs: lastErrorMs === null ? null : round(lastErrorMs),
      writes: {
        ok: count((w) => w.ok),
        failed: count((w) => !w.ok),
        autocommit: count((w) => w.kind === 'autocommit'),
        failedAutocommit: count((w) => w.kind === 'autocommit' && !w.ok),
        transactions: count((w) => w.kind === 'transaction'),
        failedTransactions: count((w) => w.kind === 'transaction' && !w.ok),
        maxMs: round(writes.reduce((max, w) => Math.max(max, w.ms), 0)),
      },
      reads,
      errors: errors.length,
      errorsByCode,
      correctness: { lost, duplicated, failedButRan, unsettled },
      leftOnA,
    };
    return { ...result, missed: missedTargets(result) };
  } finally {
    running = false;
    await within(
      driver.close().catch(() => {}),
      GUARD_MS,
      undefined,
    );
  }
}

/** The targets a path missed; plain mysql2 is the comparison and has none, but a wrong result always counts. */
function missedTargets(r: Omit<PathResult, 'missed'>): string[] {
  const missed: string[] = [];
  const c = r.correctness;
  if (c.lost + c.duplicated + c.failedButRan + c.unsettled > 0) missed.push('correctness');
  if (r.name.startsWith('mysql2-')) return missed;
  if (r.lastErrorAfterFlipMs !== null && r.lastErrorAfterFlipMs > TARGET_LAST_ERROR_MS)
    missed.push(`last error > ${TARGET_LAST_ERROR_MS} ms`);
  if (r.loginsPerSecond > TARGET_LOGINS_PER_SECOND) missed.push(`logins > ${TARGET_LOGINS_PER_SECOND}/s`);
  if (NO_FAILED_AUTOCOMMIT.has(r.name) && r.writes.failedAutocommit > 0) missed.push('failed autocommit');
  return missed;
}

function printTable(results: readonly PathResult[]): void {
  const correctness = (r: PathResult) => {
    const c = r.correctness;
    return `${c.lost}/${c.duplicated}/${c.failedButRan}${c.unsettled > 0 ? ` (${c.unsettled} pending)` : ''}`;
  };
  const lastError = (r: PathResult) => (r.lastErrorAfterFlipMs === null ? 'none' : ms(r.lastErrorAfterFlipMs));
  console.log(
    formatTable([
      [
        'path',
        'last error after flip ms',
        'logins in window',
        'logins/s',
        'writes ok',
        'longest write ms',
        'failed all/autocommit',
        'errors',
        'lost/dup/failed-but-ran',
        'left on A',
        'missed targets',
      ],
      ...results.map((r) => [
        r.label,
        lastError(r),
        String(r.loginsInWindow),
        r.loginsPerSecond.toFixed(1),
        r.name.startsWith('reads') ? `(reads ${r.reads.ok})` : String(r.writes.ok),
        r.name.startsWith('reads') ? '-' : ms(r.writes.maxMs),
        r.name.startsWith('reads') ? '-' : `${r.writes.failed}/${r.writes.failedAutocommit}`,
        String(r.errors),
        r.name.startsWith('reads') ? '-' : correctness(r),
        String(r.leftOnA),
        r.missed.length > 0 ? r.missed.join(', ') : r.name.startsWith('mysql2-') ? '(comparison)' : 'none',
      ]),
    ]).join('\n'),
  );
  console.log(
    `targets: last write error <= ${TARGET_LAST_ERROR_MS} ms after the flip, <= ${TARGET_LOGINS_PER_SECOND} logins/s while A refuses writes, ` +
      '0 failed autocommit writes on pool.query/pool.execute; every write accounted for (lost/dup/failed-but-ran 0/0/0)',
  );
  console.log(
    'left on A: connections open to A when the load stopped; a pool that only reads never logs in again, so nothing tells it that the address moved',
  );
  console.log('errors by code (refused attempts of retried transactions included):');
  for (const r of results) {
    const codes = Object.entries(r.errorsByCode)
      .sort(([, a], [, b]) => b - a)
      .map(([code, n]) => `${n} ${code}`)
      .join(', ');
    console.log(`  ${r.label}: ${codes || 'none'}`);
  }
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      server: { type: 'string', default: 'mariadb' },
      paths: { type: 'string' },
      'flip-after-ms': { type: 'string' },
      'after-ms': { type: 'string' },
      connections: { type: 'string' },
      dist: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  if (flags.server !== 'mariadb' && flags.server !== 'mysql') throw new TypeError('--server must be mariadb or mysql');
  const names = flags.paths?.split(',').map((s) => s.trim()) ?? PATHS.map((p) => p.name);
  for (const name of names) {
    if (!PATHS.some((p) => p.name === name)) throw new TypeError(`--paths: unknown path ${JSON.stringify(name)}`);
  }
  const flipAfterMs = positiveInt(flags['flip-after-ms'], 2_000, '--flip-after-ms');
  const afterMs = positiveInt(flags['after-ms'], 1_500, '--after-ms');
  const connectionLimit = positiveInt(flags.connections, 6, '--connections');
  const json = flags.json === true;
  const log = (line = '') => {
    if (!json) console.log(line);
  };

  const credswap = loadCredswap(flags.dist === true);
  const rig = await startFailoverRig(flags.server);
  try {
    const machine = await describeMachine(rig.a);
    for (const line of machineLines(machine)) log(line);
    log(
      `credswap from ${flags.dist ? 'dist/' : 'the TypeScript source (tsx)'}; two ${flags.server} servers behind a proxy; ` +
        `A read-only ${flipAfterMs} ms before the flip, load ${afterMs} ms after it; connectionLimit ${connectionLimit}; 8 workers per path`,
    );
    log('');
    const context: PathContext = {
      credswap,
      endpoint: rig.endpoint,
      user: rig.user,
      password: rig.password,
      credentials: async () => ({ user: rig.user, password: rig.password }),
      connectionLimit,
    };
    const results: PathResult[] = [];
    for (const path of PATHS.filter((p) => names.includes(p.name))) {
      await rig.reset();
      const started = performance.now();
      const result = await runPath(rig, path, context, flipAfterMs, afterMs);
      results.push(result);
      log(`${path.label}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    if (json) {
      console.log(
        JSON.stringify(
          { machine, config: { server: flags.server, flipAfterMs, afterMs, connectionLimit, dist: flags.dist === true }, paths: results },
          null,
          2,
        ),
      );
      return;
    }
    log('');
    printTable(results);
  } finally {
    await rig.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof TypeError ? `${error.message}\n\n${HELP}` : error);
  process.exitCode = 1;
});
