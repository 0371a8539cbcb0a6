/** A small load generator for tests: N workers run `task` until `stop()` and record outcomes. */
export interface LoadResult {
  ok: number;
  /** The first failures (at most MAX_KEPT_FAILURES); `failedCount` counts them all. */
  failed: Error[];
  failedCount: number;
}

const MAX_KEPT_FAILURES = 50;
/** A load stops by itself after this long, so a failed test can never leave one running. */
const MAX_LOAD_MS = 120_000;
const running = new Set<Load>();

/** Stops every load still running (called from an afterEach hook in tests that use loads). */
export async function stopAllLoads(): Promise<void> {
  await Promise.all([...running].map((load) => load.stop()));
}

export interface Load {
  /** Stops the workers and resolves once every worker finished its current task. */
  stop(): Promise<LoadResult>;
  /** Resolves once at least `n` tasks have succeeded in total. */
  untilOk(n: number): Promise<void>;
  readonly result: LoadResult;
}

export function startLoad(workers: number, task: (worker: number, iteration: number) => Promise<unknown>): Load {
  const result: LoadResult = { ok: 0, failed: [], failedCount: 0 };
  let active = true;
  const startedAt = Date.now();
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const loops = Array.from({ length: workers }, async (_, worker) => {
    for (let i = 0; active && Date.now() - startedAt < MAX_LOAD_MS; i++) {
      try {
        await task(worker, i);
        result.ok += 1;
        for (const w of waiters.splice(0)) {
          if (result.ok >= w.n) w.resolve();
          else waiters.push(w);
        }
      } catch (error) {
        result.failedCount += 1;
        if (result.failed.length < MAX_KEPT_FAILURES) result.failed.push(error as Error);
      }
      // Let timers and I/O callbacks run between tasks.
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
  const load: Load = {
    result,
    async stop() {
      active = false;
      running.delete(load);
      await Promise.all(loops);
      return result;
    },
    untilOk(n) {
      if (result.ok >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
  running.add(load);
  return load;
}

/** Samples `sample()` every `intervalMs` until stopped; returns the maximum seen. */
export function sampleMax(intervalMs: number, sample: () => Promise<number>): { stop(): Promise<number> } {
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      max = Math.max(max, await sample());
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  // A failed sample fails the test at stop(), not as an unhandled rejection before it.
  loop.catch(() => {});
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

/** Waits until `check()` is true, polling. Fails after `timeoutMs` (a hang guard, not a speed check). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
