/**
 * `credswap drill <scenario> --fleet N`: its options, real fleets of three worker processes
 * through a real rotation (a throwaway MariaDB, the emulators, the real SDK clients), and the
 * workers' lives: none outlives its drill, whether it ends, fails, times out or its parent dies.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDrillArgs } from '../../lib/drill/args.js';
import { DrillTargetError } from '../../lib/drill/errors.js';
import { DEFAULT_FLEET_CONCURRENCY, FLEET_SCENARIOS } from '../../lib/drill/fleet/environment.js';
import type { WorkerInit } from '../../lib/drill/fleet/protocol.js';
import { runFleetDrill, type FleetRunSettings } from '../../lib/drill/fleet/run.js';
import { FLEET_WORKER_ENV, startWorkers, workerExecArgv } from '../../lib/drill/fleet/workers.js';
import type { DrillReport } from '../../lib/drill/report.js';
import { resolveDrillOptions, type DrillOptions } from '../../lib/drill/run.js';
import { validateReport } from '../../lib/drill/validate.js';
import { InvalidOptionError } from '../../lib/errors.js';

/** True while process `pid` exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Waits until none of `pids` exists; fails after `timeoutMs` (a hang guard: a worker left behind fails the test). */
async function allGone(pids: readonly number[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive)) {
    if (Date.now() > deadline) assert.fail(`worker processes still running: ${pids.filter(alive).join(', ')}`);
    await sleep(50);
  }
}

function refused(options: DrillOptions, option: string, problem: RegExp): void {
  assert.throws(
    () => resolveDrillOptions(options),
    (error: unknown) => error instanceof InvalidOptionError && error.option === option && problem.test(error.message),
  );
}

/** A TCP server that accepts connections and never answers: a store that hangs. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The init of a worker whose provider waits forever on `storeUrl`. */
const hangingInit =
  (storeUrl: string) =>
  (index: number): WorkerInit => ({
    type: 'init',
    index,
    provider: { kind: 'vault-static', role: 'app', vault: { endpoint: storeUrl, token: 'hvs.not-a-real-token' } },
    endpoint: { host: '127.0.0.1', port: 1, database: 'none' },
    statements: { read: 'SELECT 1', write: undefined },
    concurrency: 1,
    writeRatio: 0,
    churnPerSecond: 0,
    thinkMs: 10,
  });

describe('credswap drill --fleet', function () {
  describe('options', function () {
    it('takes --fleet <n>, without the default comparison, and a light load per process by default', function () {
      const parsed = parseDrillArgs(['--fleet', '20']);
      assert.equal(parsed.options.fleet, 20);
      assert.equal(parsed.options.scenario, 'aws-single-user');
      assert.equal(parsed.options.compare, undefined, 'a fleet runs credswap pools only');
      const resolved = resolveDrillOptions(parsed.options);
      assert.equal(resolved.fleet, 20);
      assert.equal(resolved.concurrency, DEFAULT_FLEET_CONCURRENCY);
      assert.equal(resolveDrillOptions({ scenario: 'vault-static', fleet: 3, concurrency: 4 }).concurrency, 4);
      assert.equal('fleet' in resolveDrillOptions({ scenario: 'function' }), false);
    });

    it('refuses a count that is not a whole number from 1 to 256, naming --fleet', function () {
      assert.throws(
        () => parseDrillArgs(['--fleet', 'many']),
        (e: unknown) => e instanceof InvalidOptionError && e.option === '--fleet',
      );
      refused({ scenario: 'aws-single-user', fleet: 0 }, 'fleet', /must be from 1 to 256/);
      refused({ scenario: 'aws-single-user', fleet: 2.5 }, 'fleet', /must be an integer/);
      refused({ scenario: 'aws-single-user', fleet: 257 }, 'fleet', /must be from 1 to 256/);
    });

    it('refuses scenarios without a fleet, a comparison and a real secret store', function () {
      assert.deepEqual([...FLEET_SCENARIOS], ['aws-single-user', 'vault-static']);
      for (const scenario of ['function', 'file', 'aws-alternating', 'aws-dual-password', 'vault-dynamic', 'failover'] as const) {
        refused({ scenario, fleet: 3 }, 'fleet', /applies to the aws-single-user and vault-static scenarios/);
      }
      refused({ scenario: 'aws-single-user', fleet: 3, compare: 'mysql2' }, 'compare', /cannot be combined with fleet/);
      refused({ scenario: 'aws-single-user', fleet: 3, secretId: 'prod/db' }, 'secretId', /cannot be combined with fleet/);
      refused(
        { scenario: 'vault-static', fleet: 3, vaultAddr: 'http://vault:8200', vaultRole: 'app' },
        'vaultAddr',
        /cannot be combined with fleet/,
      );
    });
  });

  describe('a fleet of 3 through a real rotation', function () {
    this.timeout(60_000);
    const PROCESSES = 3;

    async function fleet(scenario: FleetRunSettings['scenario']): Promise<{ report: DrillReport; pids: number[] }> {
      const pids: number[] = [];
      const report = await runFleetDrill(
        {
          scenario,
          processes: PROCESSES,
          durationMs: 3_000,
          concurrency: 2,
          writeRatio: 0.2,
          rotations: 1,
          intervalMs: 1_500,
          churnPerSecond: 2,
        },
        { onSpawn: (pid) => pids.push(pid) },
      );
      assert.deepEqual(validateReport(JSON.parse(JSON.stringify(report))), [], 'the report has the documented shape');
      return { report, pids };
    }

    function assertTargetsMet(report: DrillReport): void {
      const fleet = report.fleet!;
      const [total] = report.targets;
      assert.deepEqual(total.queries.failedByCode, {}, 'no failed query in any process');
      assert.equal(report.ok, true);
      assert.equal(fleet.processes, PROCESSES);
      for (const p of fleet.perProcess) {
        assert.equal(p.queries.failed, 0);
        assert.ok(p.queries.ok > 0, `process ${p.process} ran queries`);
        assert.ok(p.rotations >= 1, `process ${p.process} moved to the new credentials`);
      }
      const [rotation] = fleet.store.rotations;
      assert.ok(rotation.calls >= 1 && rotation.calls <= 2 * PROCESSES, `${rotation.calls} store calls for the rotation`);
      assert.ok(fleet.store.emulatorCalls >= fleet.store.calls, 'the emulator saw every call the proxies forwarded');
      assert.ok(
        fleet.connections.peak >= 1 && fleet.connections.peak <= PROCESSES * fleet.connectionLimit,
        `peak ${fleet.connections.peak}`,
      );
      assert.ok(fleet.refusedLogins >= 1, 'the server refused the old password at least once');
      assert.deepEqual(fleet.met, { queries: true, callsPerRotation: true, connections: true });
    }

    it('aws-single-user: no failed query, at most 2 calls per process, connections within the limit, no worker left', async function () {
      const { report, pids } = await fleet('aws-single-user');
      assertTargetsMet(report);
      assert.equal(report.fleet!.store.kind, 'secrets-manager');
      assert.equal(pids.length, PROCESSES);
      assert.deepEqual(pids.filter(alive), [], 'every worker has exited when the drill resolves');
    });

    it('vault-static: no failed query, at most 2 calls per process, connections within the limit, no worker left', async function () {
      const { report, pids } = await fleet('vault-static');
      assertTargetsMet(report);
      assert.equal(report.fleet!.store.kind, 'vault');
      assert.deepEqual(pids.filter(alive), [], 'every worker has exited when the drill resolves');
    });
  });

  describe('worker processes', function () {
    this.timeout(30_000);

    it("run their module with the parent's Node options, never the parent's -e code or inspector port", function () {
      const code = 'require("./x").startWorkers()';
      assert.deepEqual(workerExecArgv('/w/worker.js', ['--require', 'a.js', '-e', code, '--max-old-space-size=256']), [
        '--require',
        'a.js',
        '--max-old-space-size=256',
      ]);
      assert.deepEqual(workerExecArgv('/w/worker.js', ['--eval=1', '-p', code, '--inspect=9229', '--inspect-brk', '--import', 'l.mjs']), [
        '--import',
        'l.mjs',
      ]);
      assert.deepEqual(workerExecArgv('/w/worker.ts', ['--import', 'tsx']), ['--import', 'tsx'], 'TypeScript support already there');
      assert.deepEqual(workerExecArgv('/w/worker.ts', []), ['--require', require.resolve('tsx/cjs')]);
    });

    it('are never started by a worker', async function () {
      process.env[FLEET_WORKER_ENV] = '1';
      const pids: number[] = [];
      try {
        await assert.rejects(
          startWorkers({
            count: 1,
            init: hangingInit('http://127.0.0.1:1'),
            readyTimeoutMs: 1_000,
            secrets: [],
            onSpawn: (pid) => pids.push(pid),
          }),
          (error: unknown) => error instanceof DrillTargetError && /cannot start worker processes of its own/.test(error.message),
        );
        assert.deepEqual(pids, []);
      } finally {
        delete process.env[FLEET_WORKER_ENV];
      }
    });

    it('are killed, and the start rejects with a DrillTargetError, when they are not ready in time', async function () {
      const store = await silentServer();
      const pids: number[] = [];
      try {
        await assert.rejects(
          startWorkers({ count: 2, init: hangingInit(store.url), readyTimeoutMs: 1_000, secrets: [], onSpawn: (pid) => pids.push(pid) }),
          (error: unknown) => error instanceof DrillTargetError && /did not manage to be ready within 1 s/.test(error.message),
        );
        assert.equal(pids.length, 2);
        assert.deepEqual(pids.filter(alive), [], 'no worker outlives the failed start');
      } finally {
        await store.close();
      }
    });

    it('exit when their parent dies', async function () {
      const store = await silentServer();
      // A parent that starts two workers (which never become ready), prints their pids, and waits.
      const script = `
        const { startWorkers } = require(${JSON.stringify(require.resolve('../../lib/drill/fleet/workers.ts'))});
        const pids = [];
        startWorkers({
          count: 2,
          init: (index) => (${hangingInit.toString()})(${JSON.stringify(store.url)})(index),
          readyTimeoutMs: 60000,
          secrets: [],
          onSpawn: (pid) => { pids.push(pid); if (pids.length === 2) console.log(JSON.stringify(pids)); },
        }).catch(() => {});
      `;
      const parent = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      try {
        const pids = await new Promise<number[]>((resolve, reject) => {
          let out = '';
          parent.stdout.on('data', (chunk) => {
            out += chunk;
            if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]) as number[]);
          });
          parent.on('exit', (code) => reject(new Error(`the parent exited (${code}) before its workers started`)));
        });
        assert.equal(pids.length, 2);
        assert.deepEqual(
          pids.filter((pid) => !alive(pid)),
          [],
          'the workers run while their parent does',
        );
        parent.kill('SIGKILL');
        await allGone(pids);
      } finally {
        if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
        await store.close();
      }
    });
  });
});
