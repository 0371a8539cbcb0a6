/**
 * What both examples do with their pool: log its rotations, run workers for a while, and
 * rotate the password twice in the middle of the run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PromisePool } from '../../lib/mysql2/promise.js';

export interface RunResult {
  ok: number;
  failed: number;
  /** New logins (mysql2's `connection` event). */
  logins: number;
}

/**
 * Runs `workers` loops for `runMs` milliseconds and calls `rotate` at one and two thirds of the
 * run. Half the workers use `pool.query`; the other half check out a connection and, now and
 * then, destroy it instead of releasing it, so new logins happen all through the run.
 */
export async function runWhileRotating(
  pool: PromisePool,
  { workers = 8, runMs = 4_000, rotate }: { workers?: number; runMs?: number; rotate: () => Promise<void> },
): Promise<RunResult> {
  // Never log the password: the event carries a fingerprint that changes when it changes.
  pool.on('rotate', (e) => {
    console.log(`rotate: generation ${e.generation} (reason: ${e.reason}) user=${e.user} fingerprint=${e.fingerprint}`);
  });
  pool.on('rotation-error', (error, info) => console.log(`rotation-error (${info.reason}): ${error.message}`));
  const result: RunResult = { ok: 0, failed: 0, logins: 0 };
  pool.on('connection', () => (result.logins += 1));
  const deadline = Date.now() + runMs;

  async function worker(id: number): Promise<void> {
    for (let i = 0; Date.now() < deadline; i++) {
      try {
        if (id % 2 === 0) {
          await pool.query('SELECT CURRENT_USER()');
        } else {
          const connection = await pool.getConnection();
          await connection.query('SELECT CURRENT_USER()');
          if (i % 10 === 0) connection.destroy();
          else connection.release();
        }
        result.ok += 1;
      } catch (error) {
        result.failed += 1;
        if (result.failed <= 5) console.log(`worker ${id}: query failed: ${(error as Error).message}`);
      }
      await sleep(5);
    }
  }

  const running = Array.from({ length: workers }, (_, id) => worker(id));
  await sleep(runMs / 3);
  await rotate();
  await sleep(runMs / 3);
  await rotate();
  await Promise.all(running);
  return result;
}

/** Prints the outcome and sets the exit code to 1 if any query failed. */
export function report(result: RunResult, extra: string): void {
  console.log(`queries: ${result.ok} ok, ${result.failed} failed; new logins: ${result.logins}; ${extra}`);
  console.log(result.failed === 0 ? 'OK: no query failed across two password rotations' : `FAILED: ${result.failed} queries failed`);
  if (result.failed > 0) process.exitCode = 1;
}
