/**
 * Loaded by mocha before the test files (see .mocharc.json). Unhandled promise rejections and
 * process warnings (deprecations included) fail the run: the test during which they happen
 * fails in the root afterEach hook, and any that come after the last hook set a failing exit
 * code. Mocha alone would let an unhandled rejection pass silently.
 */

import { inspect } from 'node:util';

const problems: string[] = [];

function record(kind: string, detail: unknown): void {
  problems.push(`${kind}: ${detail instanceof Error ? (detail.stack ?? detail.message) : inspect(detail)}`);
}

// Mocha re-emits each unhandled rejection it sees, so count each promise once.
const rejected = new WeakSet<Promise<unknown>>();
process.on('unhandledRejection', (reason, promise) => {
  if (rejected.has(promise)) return;
  rejected.add(promise);
  record('unhandled rejection', reason);
});
// Node still prints the warning itself; this only makes it count.
process.on('warning', (warning) => record('process warning', warning));

function failOnProblems(): void {
  if (problems.length === 0) return;
  const found = problems.splice(0);
  throw new Error(`${found.length} unhandled rejection(s) or warning(s) since the last check:\n${found.join('\n')}`);
}

function failLateProblems(): void {
  if (problems.length === 0) return;
  console.error(`test run failed: ${problems.length} problem(s) after the last test:\n${problems.join('\n')}`);
  process.exitCode = 1;
}
process.on('exit', failLateProblems);
// Mocha sets the exit code in an 'exit' listener of its own, added when the run ends; move ours
// behind it so that a problem after the last test still fails the run.
process.on('beforeExit', () => {
  process.removeListener('exit', failLateProblems);
  process.on('exit', failLateProblems);
});

/** Root hooks, picked up by mocha from a `--require`d file. */
export const mochaHooks = {
  afterEach: failOnProblems,
  afterAll: failOnProblems,
};
