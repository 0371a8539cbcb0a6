/**
 * Loaded by mocha before the test files (see .mocharc.json). Unhandled promise rejections and
 * process warnings (deprecations included) fail the run: a root afterEach hook throws for the
 * test during which they happened, and any that come after the last hook set a failing exit
 * code. Mocha alone would let an unhandled rejection pass silently.
 */

import { inspect } from 'node:util';

/** Only the first few are kept: a runaway loop can raise thousands, and these tell the story. */
const MAX_KEPT = 10;
let problems: string[] = [];
let dropped = 0;

function record(kind: string, detail: unknown): void {
  if (problems.length >= MAX_KEPT) dropped += 1;
  else problems.push(`${kind}: ${detail instanceof Error ? (detail.stack ?? detail.message) : inspect(detail)}`);
}

/** Describes the problems recorded so far and forgets them; `undefined` when there are none. */
function takeProblems(): string | undefined {
  if (problems.length === 0) return undefined;
  const text =
    `${problems.length + dropped} unhandled rejection(s) or process warning(s):\n` +
    problems.join('\n') +
    (dropped > 0 ? `\n... and ${dropped} more` : '');
  problems = [];
  dropped = 0;
  return text;
}

// Mocha re-emits each unhandled rejection it sees, so count each promise once.
const rejected = new WeakSet<Promise<unknown>>();
process.on('unhandledRejection', (reason, promise) => {
  if (rejected.has(promise)) return;
  rejected.add(promise);
  record('unhandled rejection', reason);
});
/**
 * Warnings that are expected and say nothing about credswap. The only entry: the AWS SDK v3
 * warns once per process on Node 20 that its releases after January 2027 need Node 22. Users
 * on Node 20 see it too; it is the SDK's notice, not something credswap should hide from them.
 */
const EXPECTED_WARNINGS: ReadonlyArray<(warning: Error) => boolean> = [
  (w) =>
    w.message.startsWith('NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)') && Number(process.versions.node.split('.')[0]) < 22,
];

// Node still prints the warning itself; this only makes it count.
process.on('warning', (warning) => {
  if (EXPECTED_WARNINGS.some((expected) => expected(warning))) return;
  record('process warning', warning);
});

function failOnProblems(): void {
  const found = takeProblems();
  if (found !== undefined) throw new Error(found);
}

function failOnLateProblems(): void {
  const found = takeProblems();
  if (found === undefined) return;
  console.error(`test run failed: after the last test, ${found}`);
  process.exitCode = 1;
}
process.on('exit', failOnLateProblems);
// Mocha sets the exit code in an 'exit' listener of its own, added when the run ends; move ours
// behind it so that a problem after the last test still fails the run.
process.on('beforeExit', () => {
  process.removeListener('exit', failOnLateProblems);
  process.on('exit', failOnLateProblems);
});

/** Root hooks, picked up by mocha from a `--require`d file. */
export const mochaHooks = {
  afterEach: failOnProblems,
  afterAll: failOnProblems,
};
