/**
 * Rotation storms: what a password rotation costs a pool that has N requests waiting.
 *
 * Each storm starts from a warm pool (`connectionLimit` connections open, `queueLimit` 0) whose
 * connections are all checked out, with N `pool.query('SELECT 1')` queued behind them. Then the
 * single-user rotation happens: the secret and the server get a new password, and every
 * session of the user is killed (`KILL CONNECTION`), so each of the N requests needs a new
 * login, and every login with the old password is refused with 1045. This is the worst case of
 * a rotation: without the kill, open connections would keep working and only new logins would
 * fail (see docs/pools.md's "single-user window").
 *
 * Measured from the moment the sessions are killed until the last of the N requests settled:
 * how many succeeded and failed, how often the provider was called (coalescing: must be 1 per
 * storm however large N is), and the logins the server saw (its `Connections` and
 * `Access_denied_errors` counters, read on an admin connection of its own so that only the
 * pool's logins count). Side by side in the same run:
 *
 * - plain mysql2 with the password as an option: every request fails, and it never recovers
 *   (a query after the storm fails too);
 * - credswap with a hot-swap function that takes `--latency-ms` (20 ms) to answer;
 * - credswap with `SecretsManagerProvider` through the real AWS SDK, against the Secrets Manager
 *   emulator running the single-user rotation handler, held open after `setSecret` (AWSCURRENT
 *   still holds the old password, AWSPENDING the new one);
 * - a control: the sessions are killed but the password stays, for mysql2 and credswap: the
 *   time a storm takes when nothing rotates, i.e. the cost of reconnecting alone.
 *
 * Each storm runs `--repeats` times (the order of the pools alternates); times are medians.
 *
 *   npm run bench:storm
 *   npm run bench:storm -- --sizes 10,100,1000 --repeats 5 --json
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as mysql2Promise from 'mysql2/promise';
import { CreateSecretCommand, RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CredentialsProvider } from '../lib/provider.js';
import { type MariaDBServer, startTestServer } from '../lib/testing/mariadb.js';
import { startMySQL } from '../lib/testing/mysql.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../lib/testing/secrets-manager.js';
import { describeMachine, formatTable, machineLines, median, ms, positiveInt, positiveInts } from './machine.js';

const HELP = `usage: npm run bench:storm -- [--server mariadb|mysql] [--sizes N,N,...] [--repeats N] [--connections N] [--latency-ms MS] [--dist] [--json]

  --server       the throwaway server: mariadb (default) or mysql (MySQL 9.7: see docs/testing-kit.md)
  --sizes        requests pending at the rotation, one storm per size (default 10,100,1000)
  --repeats      storms per size and pool; times are medians (default 5)
  --connections  the pools' connectionLimit (default 10)
  --latency-ms   how long the hot-swap function takes to answer (default 20)
  --dist         load credswap from dist/ (run npm run build first) instead of the TypeScript source
  --json         print one JSON document instead of tables`;

/** The promise pool surface a storm needs: both pools are typed by this shape only. */
interface StormPool {
  query(sql: string): Promise<unknown>;
  getConnection(): Promise<{ release(): void }>;
  end(): Promise<void>;
}

type PromiseModule = typeof import('../lib/mysql2/promise.js');
type AwsModule = typeof import('../providers/aws/index.js');

/** Which pool and provider a storm runs with. */
type Contender = 'mysql2' | 'credswap-function' | 'credswap-secrets-manager';

const LABELS: Record<Contender, string> = {
  mysql2: 'mysql2 (password option)',
  'credswap-function': 'credswap, hot-swap function',
  'credswap-secrets-manager': 'credswap, Secrets Manager',
};

/** One storm's outcome. */
interface Storm {
  readonly ok: number;
  readonly failed: number;
  /** Failures by error code (or message). */
  readonly errors: Record<string, number>;
  /** From the kill until the last request settled. */
  readonly ms: number;
  /** Requests queued in the pool when the sessions were killed. */
  readonly pending: number;
  /** Provider calls during the storm (credswap only). */
  readonly providerCalls?: number;
  /** Secrets Manager API calls during the storm, by operation. */
  readonly awsCalls?: Record<string, number>;
  /** Logins the server accepted and refused during the storm. */
  readonly logins: number;
  readonly refused: number;
  /** Whether one more query, after the storm, succeeded. */
  readonly recovered: boolean;
}

interface Row {
  readonly size: number;
  readonly contender: Contender;
  /** `rotation`: new password and sessions killed; `reconnect`: sessions killed only. */
  readonly kind: 'rotation' | 'reconnect';
  readonly storms: Storm[];
}

/** The server's login counters, read on one admin connection that stays open. */
class Admin {
  private constructor(private readonly connection: mysql2Promise.Connection) {}

  static async open(server: MariaDBServer): Promise<Admin> {
    const connection = await mysql2Promise.createConnection({
      host: server.host,
      port: server.port,
      user: server.adminUser,
      password: server.adminPassword,
    });
    return new Admin(connection);
  }

  /** Logins (`Connections`) and refused logins: MariaDB's `Access_denied_errors`, MySQL's `Aborted_connects`. */
  async counters(): Promise<{ connections: number; denied: number }> {
    const [rows] = await this.connection.query<mysql2Promise.RowDataPacket[]>(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('Connections', 'Access_denied_errors', 'Aborted_connects')",
    );
    const get = (name: string) => rows.find((r) => r.Variable_name === name)?.Value as string | undefined;
    const denied = get('Access_denied_errors') ?? get('Aborted_connects');
    return { connections: Number(get('Connections') ?? Number.NaN), denied: Number(denied ?? Number.NaN) };
  }

  /** Kills every session of `user` (pipelined on this one connection). */
  async killSessions(user: string): Promise<number> {
    const [rows] = await this.connection.query<mysql2Promise.RowDataPacket[]>(
      'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?',
      [user],
    );
    await Promise.all(
      rows.map((row) =>
        this.connection.query(`KILL CONNECTION ${Number(row.id)}`).catch((error: { errno?: number }) => {
          if (error.errno !== 1094) throw error; // 1094: the session ended by itself meanwhile
        }),
      ),
    );
    return rows.length;
  }

  end(): Promise<void> {
    return this.connection.end();
  }
}

interface Setup {
  readonly server: MariaDBServer;
  readonly admin: Admin;
  readonly connections: number;
  readonly latencyMs: number;
  readonly createCredswapPool: PromiseModule['createPool'];
  readonly SecretsManagerProvider: AwsModule['SecretsManagerProvider'];
  readonly emulator: SecretsManagerEmulator;
  /** Accounts, one per contender, created once: a storm rotates its password. */
  readonly accounts: Record<Contender, { user: string; password: string; secretId?: string; rotationArn?: string }>;
  readonly adminClient: SecretsManagerClient;
}

let rotationCount = 0;

/** Runs one storm of `size` requests for `contender`; `rotate: false` is the reconnect-only control. */
async function runStorm(setup: Setup, contender: Contender, size: number, rotate: boolean): Promise<Storm> {
  const { server, admin, connections } = setup;
  const account = setup.accounts[contender];
  const target = { host: server.host, port: server.port, connectionLimit: connections, queueLimit: 0 };
  let providerCalls = 0;
  let pool: StormPool;
  if (contender === 'mysql2') {
    pool = mysql2Promise.createPool({ ...target, user: account.user, password: account.password });
  } else if (contender === 'credswap-function') {
    // The "secret" the hot-swap function reads; a rotation writes it before the server changes.
    pool = setup.createCredswapPool({
      ...target,
      credentials: async (signal) => {
        providerCalls += 1;
        await sleep(setup.latencyMs, undefined, { signal });
        return { user: account.user, password: account.password };
      },
    });
  } else {
    const provider = new setup.SecretsManagerProvider({
      secretId: account.secretId!,
      clientConfig: setup.emulator.clientConfig(),
      refreshIntervalMs: 0,
    });
    pool = setup.createCredswapPool({ ...target, credentials: countCalls(provider, () => (providerCalls += 1)) });
  }

  try {
    // Warm: every connection open, then all checked out, and `size` requests queued behind them.
    await Promise.all(Array.from({ length: connections }, () => pool.query('SELECT 1')));
    const held = await Promise.all(Array.from({ length: connections }, () => pool.getConnection()));
    let ok = 0;
    let lastSettled = 0;
    const errors: Record<string, number> = {};
    const requests = Array.from({ length: size }, () =>
      pool.query('SELECT 1').then(
        () => {
          ok += 1;
          lastSettled = performance.now();
        },
        (error: { code?: string; message?: string }) => {
          const key = error.code ?? error.message ?? 'an error without code or message';
          errors[key] = (errors[key] ?? 0) + 1;
          lastSettled = performance.now();
        },
      ),
    );
    const pending = queued(pool);

    let pause: { release(): void } | undefined;
    if (rotate) pause = await rotatePassword(setup, contender);
    const awsBefore = account.secretId ? setup.emulator.callsFor(account.secretId) : undefined;
    const callsBefore = providerCalls;
    const before = await admin.counters();

    const t0 = performance.now();
    await admin.killSessions(account.user);
    const settled = await Promise.race([Promise.all(requests).then(() => true), sleep(120_000, false, { ref: false })]);
    if (!settled) throw new Error(`${LABELS[contender]}: ${size} requests still pending 120 s after the storm (hang guard)`);
    const elapsed = lastSettled - t0;

    const after = await admin.counters();
    const providerCallsInStorm = providerCalls - callsBefore;
    const awsCalls = awsBefore ? diffCalls(setup.emulator.callsFor(account.secretId!), awsBefore) : undefined;
    for (const connection of held) connection.release(); // killed: released to nowhere
    const recovered = await pool.query('SELECT 1').then(
      () => true,
      () => false,
    );
    if (pause) {
      pause.release();
      const result = await setup.emulator.waitForRotation(account.secretId!, { timeoutMs: 30_000 });
      if (result.status !== 'succeeded') throw new Error(`the rotation failed at ${result.failedStep}: ${String(result.error)}`);
    }
    return {
      ok,
      failed: size - ok,
      errors,
      ms: elapsed,
      pending,
      ...(contender === 'mysql2' ? {} : { providerCalls: providerCallsInStorm }),
      ...(awsCalls ? { awsCalls } : {}),
      logins: after.connections - before.connections - (after.denied - before.denied),
      refused: after.denied - before.denied,
      recovered,
    };
  } finally {
    await pool.end().catch(() => {});
  }
}

/**
 * The single-user rotation. Function and mysql2: the secret changes, then the server. Secrets
 * Manager: RotateSecret runs the rotation handler, held after `setSecret` (the server has the
 * new password, AWSCURRENT the old one, AWSPENDING the new one); released after the storm.
 */
async function rotatePassword(setup: Setup, contender: Contender): Promise<{ release(): void } | undefined> {
  const account = setup.accounts[contender];
  if (contender !== 'credswap-secrets-manager') {
    rotationCount += 1;
    account.password = `storm-${rotationCount}-${Math.random().toString(36).slice(2)}`;
    await setup.server.setPassword(account.user, account.password);
    return undefined;
  }
  const pause = setup.emulator.pauseRotation({ secretId: account.secretId, after: 'setSecret' });
  await setup.adminClient.send(new RotateSecretCommand({ SecretId: account.secretId, RotationLambdaARN: account.rotationArn }));
  await pause.reached;
  return pause;
}

/** The provider, with a count of its `getCredentials` calls; everything else passes through. */
function countCalls(provider: CredentialsProvider, onCall: () => void): CredentialsProvider {
  return {
    name: provider.name,
    getCredentials(signal, current, context) {
      onCall();
      return provider.getCredentials(signal, current, context);
    },
    ...(provider.subscribe ? { subscribe: provider.subscribe.bind(provider) } : {}),
    ...(provider.retire ? { retire: provider.retire.bind(provider) } : {}),
    ...(provider.close ? { close: provider.close.bind(provider) } : {}),
  };
}

function diffCalls(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [op, n] of Object.entries(after)) if (n - (before[op] ?? 0) > 0) out[op] = n - (before[op] ?? 0);
  return out;
}

/** Requests waiting in the pool's queue (credswap: `stats`; mysql2: its private queue). */
function queued(pool: StormPool): number {
  const p = pool as unknown as { stats?: { queued: number }; pool?: { _connectionQueue?: { length: number } } };
  return p.stats?.queued ?? p.pool?._connectionQueue?.length ?? Number.NaN;
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      sizes: { type: 'string' },
      repeats: { type: 'string' },
      connections: { type: 'string' },
      'latency-ms': { type: 'string' },
      server: { type: 'string', default: 'mariadb' },
      dist: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const sizes = positiveInts(flags.sizes, [10, 100, 1000], '--sizes');
  const repeats = positiveInt(flags.repeats, 5, '--repeats');
  const connections = positiveInt(flags.connections, 10, '--connections');
  const latencyMs = positiveInt(flags['latency-ms'], 20, '--latency-ms');
  const json = flags.json === true;
  const log = (line = '') => {
    if (!json) console.log(line);
  };

  const from = flags.dist ? '../dist' : '..';
  const { createPool } = require(`${from}/lib/mysql2/promise.js`) as PromiseModule;
  const aws = require(`${from}/providers/aws/index.js`) as AwsModule;

  if (flags.server !== 'mariadb' && flags.server !== 'mysql') throw new Error(`--server must be mariadb or mysql\n\n${HELP}`);
  const [server, emulator] = await Promise.all([
    flags.server === 'mysql' ? startMySQL() : startTestServer(),
    startSecretsManagerEmulator(),
  ]);
  const adminClient = new SecretsManagerClient({ ...emulator.clientConfig(), maxAttempts: 1 });
  let admin: Admin | undefined;
  try {
    admin = await Admin.open(server);
    const machine = await describeMachine(server);
    const make = async (prefix: string) => server.createUser({ prefix });
    const accounts: Setup['accounts'] = {
      mysql2: await make('storm_m2'),
      'credswap-function': await make('storm_fn'),
      'credswap-secrets-manager': await make('storm_sm'),
    };
    const sm = accounts['credswap-secrets-manager'];
    sm.secretId = 'bench/storm';
    const secret = { engine: 'mysql', host: server.host, port: server.port, username: sm.user, password: sm.password };
    await adminClient.send(new CreateSecretCommand({ Name: sm.secretId, SecretString: JSON.stringify(secret) }));
    sm.rotationArn = emulator.registerRotationFunction(
      'bench-storm',
      aws.createRotationHandler({ strategy: 'single-user', clientConfig: emulator.clientConfig() }),
    );
    const setup: Setup = {
      server,
      admin,
      connections,
      latencyMs,
      createCredswapPool: createPool,
      SecretsManagerProvider: aws.SecretsManagerProvider,
      emulator,
      accounts,
      adminClient,
    };

    for (const line of machineLines(machine)) log(line);
    log(
      `credswap from ${flags.dist ? 'dist/' : 'the TypeScript source (tsx)'}; connectionLimit ${connections}, queueLimit 0; hot-swap function answers in ${latencyMs} ms`,
    );
    log(`${repeats} storm(s) per size and pool, pool order alternating; times are medians`);
    log('');

    const rotationContenders: Contender[] = ['mysql2', 'credswap-function', 'credswap-secrets-manager'];
    const reconnectContenders: Contender[] = ['mysql2', 'credswap-function'];
    const rows: Row[] = [];
    for (const size of sizes) {
      const bySize = new Map<string, Row>();
      const rowFor = (contender: Contender, kind: Row['kind']) => {
        const key = `${kind}:${contender}`;
        let row = bySize.get(key);
        if (!row) bySize.set(key, (row = { size, contender, kind, storms: [] }));
        return row;
      };
      for (let repeat = 0; repeat < repeats; repeat++) {
        const flip = <T>(xs: T[]) => (repeat % 2 === 0 ? xs : [...xs].reverse());
        for (const contender of flip(rotationContenders))
          rowFor(contender, 'rotation').storms.push(await runStorm(setup, contender, size, true));
        for (const contender of flip(reconnectContenders))
          rowFor(contender, 'reconnect').storms.push(await runStorm(setup, contender, size, false));
      }
      for (const kind of ['rotation', 'reconnect'] as const) {
        for (const contender of kind === 'rotation' ? rotationContenders : reconnectContenders) rows.push(rowFor(contender, kind));
      }
    }

    if (json) {
      console.log(
        JSON.stringify({ machine, config: { sizes, repeats, connections, latencyMs, dist: flags.dist === true }, rows }, null, 2),
      );
      return;
    }
    printTables(rows, connections);
  } finally {
    await admin?.end().catch(() => {});
    adminClient.destroy();
    await emulator.close();
    await server.stop();
  }
}

function printTables(rows: readonly Row[], connections: number): void {
  const sum = (storms: readonly Storm[], f: (s: Storm) => number) => storms.reduce((n, s) => n + f(s), 0);
  const each = (storms: readonly Storm[], f: (s: Storm) => number | undefined) => storms.map((s) => f(s) ?? '-').join(' ');
  const aws = (storms: readonly Storm[]) => {
    const ops = new Set(storms.flatMap((s) => Object.keys(s.awsCalls ?? {})));
    if (ops.size === 0) return '-';
    return [...ops]
      .map((op) => `${op.replace('SecretValue', '').replace('Secret', '')} ${each(storms, (s) => s.awsCalls?.[op] ?? 0)}`)
      .join(', ');
  };
  const perStorm = (storms: readonly Storm[], f: (s: Storm) => number) => `${Math.round(median(storms.map(f)))}`;

  console.log(`rotation storm: ${connections} connections checked out, N requests queued; new password on the server, sessions killed`);
  const rotation = rows.filter((r) => r.kind === 'rotation');
  console.log(
    formatTable([
      ['N', 'pool', 'ok', 'failed', 'provider calls', 'AWS calls', 'logins ok/refused', 'done after ms', 'recovered'],
      ...rotation.map((r) => {
        const allFailed = sum(r.storms, (s) => s.ok) === 0;
        return [
          String(r.size),
          LABELS[r.contender],
          String(sum(r.storms, (s) => s.ok)),
          String(sum(r.storms, (s) => s.failed)),
          r.contender === 'mysql2' ? '-' : each(r.storms, (s) => s.providerCalls),
          aws(r.storms),
          `${perStorm(r.storms, (s) => s.logins)}/${perStorm(r.storms, (s) => s.refused)}`,
          allFailed ? `(all failed by ${ms(median(r.storms.map((s) => s.ms)))})` : ms(median(r.storms.map((s) => s.ms))),
          r.storms.every((s) => s.recovered) ? 'yes' : r.storms.some((s) => s.recovered) ? 'sometimes' : 'never',
        ];
      }),
    ]).join('\n'),
  );
  console.log('ok/failed: totals over the storms; provider and AWS calls: one figure per storm; logins: median per storm');
  console.log('');

  console.log('control, reconnect only: the same storm with the password unchanged (sessions killed)');
  const reconnect = rows.filter((r) => r.kind === 'reconnect');
  const sizes = [...new Set(reconnect.map((r) => r.size))];
  console.log(
    formatTable([
      ['N', 'mysql2 ms', 'credswap ms', 'ratio', 'mysql2 ok/failed', 'credswap ok/failed'],
      ...sizes.map((size) => {
        const m = reconnect.find((r) => r.size === size && r.contender === 'mysql2')!;
        const c = reconnect.find((r) => r.size === size && r.contender === 'credswap-function')!;
        const mMs = median(m.storms.map((s) => s.ms));
        const cMs = median(c.storms.map((s) => s.ms));
        return [
          String(size),
          ms(mMs),
          ms(cMs),
          (cMs / mMs).toFixed(2),
          `${sum(m.storms, (s) => s.ok)}/${sum(m.storms, (s) => s.failed)}`,
          `${sum(c.storms, (s) => s.ok)}/${sum(c.storms, (s) => s.failed)}`,
        ];
      }),
    ]).join('\n'),
  );
  console.log('ratio: credswap time / mysql2 time (lower is faster)');
  console.log('');

  for (const size of sizes) {
    const fn = rotation.find((r) => r.size === size && r.contender === 'credswap-function')!;
    const m2 = rotation.find((r) => r.size === size && r.contender === 'mysql2')!;
    const control = reconnect.find((r) => r.size === size && r.contender === 'credswap-function')!;
    const calls = new Set(fn.storms.map((s) => s.providerCalls));
    const fnMs = median(fn.storms.map((s) => s.ms));
    const extra = fnMs - median(control.storms.map((s) => s.ms));
    console.log(
      `N=${size}: credswap done in ${ms(fnMs)} ms (reconnecting alone: ${ms(fnMs - extra)} ms), ` +
        `${[...calls].join('/')} provider call(s) per storm, ${sum(fn.storms, (s) => s.failed)} failed; ` +
        `mysql2 failed ${sum(m2.storms, (s) => s.failed)} of ${size * m2.storms.length} and ${m2.storms.some((s) => s.recovered) ? 'recovered' : 'never recovered'}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof TypeError ? `${error.message}\n\n${HELP}` : error);
  process.exitCode = 1;
});
