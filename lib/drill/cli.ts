#!/usr/bin/env node
/**
 * The `credswap` command.
 *
 * - `credswap drill [scenario] [options]` runs load through a credswap pool while a rotation or
 *   failover happens and reports what the application saw. Progress goes to stderr, the table
 *   (or `--json`) to stdout. Without a scenario it runs `aws-single-user --compare mysql2`; when
 *   the optional peer `@aws-sdk/client-secrets-manager` is not installed, it runs `function
 *   --compare mysql2` instead and says so in one line on stderr (see {@link chooseDrillScenario}).
 *   A scenario named on the command line whose optional peer is missing fails (exit 3), naming
 *   the package to install.
 * - `credswap --version` (`-v`) prints the package's version.
 * - `credswap --help` (`-h`, `help`), or `credswap` alone, prints the list of commands.
 *
 * Exit codes: 0 no credswap query failed (or help, version); 1 some did; 2 bad usage; 3 the
 * drill could not run (a target unreachable, no MariaDB to start, a rotation that failed, a
 * missing optional peer).
 *
 * The flags of `credswap drill`, its help text and their parsing are in `./args.ts`.
 *
 * @packageDocumentation
 */

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describeCause, InvalidOptionError, isCredswapError, MissingDependencyError } from '../errors.js';
import { loadSecretsManagerSdk } from '../../providers/aws/sdk.js';
import { DEFAULT_SCENARIO, DRILL_USAGE, FALLBACK_SCENARIO, parseDrillArgs, usageMessage, type ParsedCommand } from './args.js';
import { scrubSecrets } from './redact.js';
import { createProgress, renderJson, renderTable } from './render.js';
import type { DrillReport } from './report.js';
import { DEFAULT_DRILL_DURATION_MS, resolveDrillOptions, runDrill, type DrillHooks, type DrillOptions } from './run.js';

/** Exit code: the drill ran and no credswap query failed. */
export const EXIT_OK = 0;
/** Exit code: at least one query through the credswap pool failed. */
export const EXIT_FAILED_QUERIES = 1;
/** Exit code: bad usage (an unknown flag, a bad value). */
export const EXIT_USAGE = 2;
/** Exit code: the drill could not run (unreachable target, no server binary, a failed rotation). */
export const EXIT_NOT_RUN = 3;

/** `credswap --help`, and `credswap` alone. */
export const USAGE = `Usage: credswap <command> [options]

Commands:
  drill [scenario] [options]  rotate credentials (or fail the primary over) under load and report
                              what the application saw; see: credswap drill --help
  -v, --version               print credswap's version
  -h, --help                  this text

Exit codes: 0 ok, 1 a drill's credswap query failed, 2 bad usage, 3 a drill could not run.
`;

/** Where the command writes, and its environment. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

/** What {@link main} runs; tests replace some of it. */
export interface CliDeps {
  /** Runs a drill. @defaultValue `runDrill` of `./run.js` */
  runDrill(options: DrillOptions, hooks: DrillHooks): Promise<DrillReport>;
  /**
   * Loads `@aws-sdk/client-secrets-manager`; rejects with a {@link MissingDependencyError} when
   * it is not installed. @defaultValue `loadSecretsManagerSdk` of `providers/aws/sdk.ts`
   */
  loadSecretsManagerSdk(): Promise<unknown>;
  /** credswap's version. @defaultValue {@link readPackageVersion} */
  version(): string | undefined;
}

const DEFAULT_DEPS: CliDeps = {
  runDrill,
  loadSecretsManagerSdk: () => loadSecretsManagerSdk('credswap drill'),
  version: () => readPackageVersion(),
};

/**
 * The version in the package.json of the `credswap` package `from` belongs to: the nearest one
 * named `credswap` in `from` or a folder above it. That finds it from `dist/lib/drill` in an
 * installed package as well as from `lib/drill` in the source tree. `undefined` when there is none.
 */
export function readPackageVersion(from: string = __dirname): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const version = credswapVersionIn(dir);
    if (version !== undefined) return version;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The version of the package.json in `dir` when it is credswap's; `undefined` otherwise. */
function credswapVersionIn(dir: string): string | undefined {
  let manifest: { name?: unknown; version?: unknown };
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof manifest;
  } catch {
    return undefined; // none here, or not readable: look further up
  }
  return manifest?.name === 'credswap' && typeof manifest.version === 'string' ? manifest.version : undefined;
}

/** A drill's options after {@link chooseDrillScenario}, and why the scenario changed, if it did. */
export interface DrillChoice {
  options: DrillOptions;
  /** One line for stderr (no newline) when the fallback scenario runs instead of the default. */
  notice?: string;
}

/** Options that only the AWS scenarios take: with them, a drill without a scenario wants AWS. */
const AWS_ONLY_OPTIONS = ['secretId', 'region', 'rotateLocally'] as const;

/**
 * Picks the scenario a drill runs. A scenario named on the command line runs as named (when its
 * optional peer is missing, the drill fails with exit 3 and names the package). Without one,
 * {@link DEFAULT_SCENARIO} runs when `@aws-sdk/client-secrets-manager` loads; when it is not
 * installed, {@link FALLBACK_SCENARIO} runs with the same options (`--compare mysql2` included)
 * and `notice` says why. Options only the AWS scenarios take (`--secret-id`, `--region`,
 * `--rotate-locally`) keep the default scenario: they ask for AWS; so does `--fleet`, which
 * the fallback scenario does not support.
 *
 * @param loadSdk - loads the AWS SDK; rejects with a {@link MissingDependencyError} when it is missing
 * @throws what `loadSdk` rejects with when that is not a {@link MissingDependencyError} (an SDK
 *   that is installed but fails to load)
 */
export async function chooseDrillScenario(parsed: ParsedCommand, loadSdk: () => Promise<unknown>): Promise<DrillChoice> {
  const { options } = parsed;
  if (parsed.scenarioNamed || options.scenario !== DEFAULT_SCENARIO) return { options };
  // So does --fleet: the fallback scenario has no fleet.
  if (AWS_ONLY_OPTIONS.some((key) => options[key] !== undefined) || options.fleet !== undefined) return { options };
  try {
    await loadSdk();
    return { options };
  } catch (error) {
    if (!(error instanceof MissingDependencyError)) throw error;
    const missing = error.dependency;
    return {
      options: { ...options, scenario: FALLBACK_SCENARIO },
      notice: `${missing} is not installed; running the '${FALLBACK_SCENARIO}' scenario instead (npm install ${missing} for ${DEFAULT_SCENARIO})`,
    };
  }
}

/** The secrets a command line carries, to scrub from anything printed. */
function secretsOf(options: DrillOptions | undefined): string[] {
  const secrets: string[] = [];
  if (options?.mysqlUrl !== undefined) {
    try {
      const password = new URL(options.mysqlUrl).password;
      if (password !== '') secrets.push(password, decodeURIComponent(password));
    } catch {
      secrets.push(options.mysqlUrl);
    }
  }
  if (options?.vaultToken !== undefined) secrets.push(options.vaultToken);
  return secrets;
}

/**
 * Runs `credswap <args>` and resolves with the exit code.
 *
 * @param deps - what to run instead of the real drill, SDK loader or version lookup (tests)
 * @example
 * ```ts
 * process.exitCode = await main(['drill', 'function', '--duration', '5s']);
 * ```
 */
export async function main(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
  deps: Partial<CliDeps> = {},
): Promise<number> {
  const use: CliDeps = { ...DEFAULT_DEPS, ...deps };
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(USAGE);
    return EXIT_OK;
  }
  if (command === '--version' || command === '-v') return printVersion(io, use);
  if (command !== 'drill') {
    io.stderr.write(`credswap: unknown command '${command.replace(/[^\w-]/g, '')}'; try: credswap --help\n`);
    return EXIT_USAGE;
  }
  return drill(args, io, use);
}

/** `credswap --version`. */
function printVersion(io: CliIo, deps: CliDeps): number {
  const version = deps.version();
  if (version === undefined) {
    io.stderr.write("credswap: cannot find credswap's package.json above its own files\n");
    return EXIT_NOT_RUN;
  }
  io.stdout.write(`${version}\n`);
  return EXIT_OK;
}

/** `credswap drill <args>`. */
async function drill(args: readonly string[], io: CliIo, deps: CliDeps): Promise<number> {
  let options: DrillOptions | undefined;
  try {
    const parsed = parseDrillArgs(args, io.env);
    options = parsed.options;
    if (parsed.help) {
      io.stdout.write(DRILL_USAGE);
      return EXIT_OK;
    }
    const choice = await chooseDrillScenario(parsed, deps.loadSecretsManagerSdk);
    options = choice.options;
    resolveDrillOptions(options); // bad options are reported before the notice, and before anything starts
    if (choice.notice !== undefined) io.stderr.write(`credswap drill: ${choice.notice}\n`);
    const color = io.stderr.isTTY === true && io.env.NO_COLOR === undefined;
    const progress = createProgress(io.stderr, options.durationMs ?? DEFAULT_DRILL_DURATION_MS, { color });
    const report = await deps.runDrill(options, { progress });
    io.stdout.write(
      parsed.json ? renderJson(report) : renderTable(report, { color: io.stdout.isTTY === true && io.env.NO_COLOR === undefined }),
    );
    return report.ok ? EXIT_OK : EXIT_FAILED_QUERIES;
  } catch (error) {
    const usage = error instanceof InvalidOptionError;
    let message = usage ? usageMessage(error) : describeFailure(error);
    message = scrubSecrets(message, secretsOf(options));
    io.stderr.write(`credswap drill: ${message}\n`);
    if (usage) io.stderr.write('See: credswap drill --help\n');
    return usage ? EXIT_USAGE : EXIT_NOT_RUN;
  }
}

function describeFailure(error: unknown): string {
  if (isCredswapError(error)) return (error as Error).message.replace(/^credswap: /, '');
  return describeCause(error);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`credswap: ${describeCause(error)}\n`);
      process.exitCode = EXIT_NOT_RUN;
    },
  );
}
