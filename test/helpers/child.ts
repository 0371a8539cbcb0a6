import { spawn } from 'node:child_process';

/**
 * Runs `node --import tsx <args>` and resolves with its exit code and its stdout and stderr
 * together, once it has exited by itself. The 30 s kill is a hang guard only: a child that
 * needs it fails the test's exit-code check.
 */
export async function runToExit(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(guard);
  return { code, out };
}
