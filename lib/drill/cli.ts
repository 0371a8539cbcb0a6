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
 * @packageDocumentation
 */

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeCause, InvalidOptionError, isCredswapError, MissingDependencyError } from '../errors.js';
import { loadSecretsManagerSdk, SDK_PACKAGE } from '../../providers/aws/sdk.js';
import { scrubSecrets } from './redact.js';
import { createProgress, renderJson, renderTable } from './render.js';
import type { DrillReport } from './report.js';
import {
  DEFAULT_DRILL_CHURN_PER_SECOND,
  DEFAULT_DRILL_CONCURRENCY,
  DEFAULT_DRILL_DURATION_MS,
  DEFAULT_DRILL_FLIP_DELAY_MS,
  DEFAULT_DRILL_ROTATIONS,
  DEFAULT_DRILL_WRITE_RATIO,
  resolveDrillOptions,
  runDrill,
  type DrillHooks,
  type DrillOptions,
} from './run.js';
import { SCENARIO_NAMES, type ScenarioName } from './scenarios/types.js';

/** Exit code: the drill ran and no credswap query failed. */
export const EXIT_OK = 0;
/** Exit code: at least one query through the credswap pool failed. */
export const EXIT_FAILED_QUERIES = 1;
/** Exit code: bad usage (an unknown flag, a bad value). */
export const EXIT_USAGE = 2;
/** Exit code: the drill could not run (unreachable target, no server binary, a failed rotation). */
export const EXIT_NOT_RUN = 3;

/** The scenario of `credswap drill` without one: it shows what credswap is for. */
export const DEFAULT_SCENARIO: ScenarioName = 'aws-single-user';

/**
 * The scenario `credswap drill` runs without one when {@link DEFAULT_SCENARIO}'s optional peer
 * (`@aws-sdk/client-secrets-manager`) is not installed: it needs no optional peer.
 */
export const FALLBACK_SCENARIO: ScenarioName = 'function';

/** `credswap --help`, and `credswap` alone. */
export const USAGE = `Usage: credswap <command> [options]

Commands:
  drill [scenario] [options]  rotate credentials (or fail the primary over) under load and report
                              what the application saw; see: credswap drill --help
  -v, --version               print credswap's version
  -h, --help                  this text

Exit codes: 0 ok, 1 a drill's credswap query failed, 2 bad usage, 3 a drill could not run.
`;

/** `credswap drill --help`. */
export const DRILL_USAGE = `Usage: credswap drill [scenario] [options]

Runs load through a credswap pool while credentials rotate (or the primary fails over) and
reports what the application saw. Without flags everything is embedded: throwaway MariaDB
servers and local emulators of Secrets Manager and Vault.

Scenarios:
  function          a hot-swap function; the secret, then the server, get a new password
  file              a Kubernetes Secret volume (..data swap); then the server
  aws-single-user   Secrets Manager RotateSecret, single user (window held open)
  aws-alternating   Secrets Manager RotateSecret, alternating users
  vault-dynamic     Vault dynamic credentials: leases end, the pool moves to a new user
  vault-static      Vault static role: rotate-role changes the password in place
  failover          primary set read_only=ON, proxy flips to the other server later
Without a scenario: ${DEFAULT_SCENARIO} --compare mysql2; when ${SDK_PACKAGE} is
not installed, ${FALLBACK_SCENARIO} --compare mysql2 instead (a line on stderr says so).

Options:
  --duration <time>       how long the load runs (default ${DEFAULT_DRILL_DURATION_MS / 1000}s; 500ms, 30s, 2m)
  --concurrency <n>       workers per pool (default ${DEFAULT_DRILL_CONCURRENCY})
  --write-ratio <0..1>    share of writes (default ${DEFAULT_DRILL_WRITE_RATIO}; 0 on a database the drill does not own)
  --rotations <n>         rotations or failovers, evenly spaced (default ${DEFAULT_DRILL_ROTATIONS})
  --flip-delay <time>     failover: read_only=ON to the proxy's flip (default ${DEFAULT_DRILL_FLIP_DELAY_MS / 1000}s)
  --churn <n>             connections each pool closes per second (default ${DEFAULT_DRILL_CHURN_PER_SECOND})
  --compare <mysql2|none> also run a plain mysql2 pool, side by side
  --json                  print the report as JSON instead of the table
  -h, --help              this text

Real infrastructure (nothing is rotated unless you name it):
  --mysql <admin url>     a server to run on (mysql://admin:password@host:3306/): the drill
                          creates its own database and users there and drops them afterwards.
                          With --vault-addr: where the role's credentials connect.
  --secret-id <id>        aws-*: rotate this secret (RotateSecret, with its rotation function)
  --region <region>       its region (default: the AWS SDK's environment)
  --rotate-locally        run credswap's rotation handler here instead of RotateSecret
  --vault-addr <url>      vault-*: this Vault (token from VAULT_TOKEN)
  --vault-role <role>     the database role to use (rotate-role for vault-static)

Exit codes: 0 no credswap query failed, 1 some failed, 2 bad usage, 3 the drill could not run.
`;

const FLAGS = {
  duration: { type: 'string' },
  concurrency: { type: 'string' },
  'write-ratio': { type: 'string' },
  rotations: { type: 'string' },
  'flip-delay': { type: 'string' },
  churn: { type: 'string' },
  compare: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  mysql: { type: 'string' },
  'secret-id': { type: 'string' },
  region: { type: 'string' },
  'rotate-locally': { type: 'boolean' },
  'vault-addr': { type: 'string' },
  'vault-role': { type: 'string' },
} as const;

/** runDrill's option names, as the flags a user typed. */
const FLAG_OF: Record<string, string> = {
  scenario: 'scenario',
  durationMs: '--duration',
  concurrency: '--concurrency',
  writeRatio: '--write-ratio',
  rotations: '--rotations',
  flipDelayMs: '--flip-delay',
  churnPerSecond: '--churn',
  compare: '--compare',
  mysqlUrl: '--mysql',
  secretId: '--secret-id',
  region: '--region',
  rotateLocally: '--rotate-locally',
  vaultAddr: '--vault-addr',
  vaultRole: '--vault-role',
  vaultToken: 'VAULT_TOKEN',
};

/**
 * A time span: `500ms`, `10s`, `2m`, or a bare number of seconds.
 *
 * @throws {@link InvalidOptionError} naming `flag`
 */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new InvalidOptionError(flag, 'must be a time such as 500ms, 10s or 2m');
  const value = Number(match[1]);
  return match[2] === 'ms' ? value : match[2] === 'm' ? value * 60_000 : value * 1000;
}

function parseNumber(text: string, flag: string, integer: boolean): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new InvalidOptionError(flag, `must be ${integer ? 'an integer' : 'a number'}`);
  }
  return value;
}

/** What the command line asks for. */
export interface ParsedCommand {
  help: boolean;
  json: boolean;
  /** False when no scenario was named: `options.scenario` is then {@link DEFAULT_SCENARIO}. */
  scenarioNamed: boolean;
  options: DrillOptions;
}

/**
 * Parses `credswap drill [scenario] [options]` (the arguments after `drill`).
 *
 * @throws {@link InvalidOptionError} naming the flag (never quoting its value)
 */
export function parseDrillArgs(args: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedCommand {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: FLAGS, allowPositionals: true, strict: true });
  } catch (error) {
    const flag = /'(-[^' ]+)/.exec((error as Error).message)?.[1] ?? 'arguments';
    const code = (error as { code?: string }).code;
    const problem =
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? 'is not an option of credswap drill (see --help)'
        : code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
          ? 'needs a value, or takes none'
          : 'is not valid here (see --help)';
    throw new InvalidOptionError(flag, problem);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true, json: false, scenarioNamed: false, options: { scenario: DEFAULT_SCENARIO } };
  if (positionals.length > 1) throw new InvalidOptionError('scenario', 'is given more than once');
  const named = positionals[0];
  if (named !== undefined && !(SCENARIO_NAMES as readonly string[]).includes(named)) {
    throw new InvalidOptionError('scenario', `must be one of ${SCENARIO_NAMES.join(', ')}`);
  }
  const options: DrillOptions = { scenario: (named as ScenarioName | undefined) ?? DEFAULT_SCENARIO };
  if (values.duration !== undefined) options.durationMs = parseDuration(values.duration, '--duration');
  if (values['flip-delay'] !== undefined) options.flipDelayMs = parseDuration(values['flip-delay'], '--flip-delay');
  if (values.concurrency !== undefined) options.concurrency = parseNumber(values.concurrency, '--concurrency', true);
  if (values.rotations !== undefined) options.rotations = parseNumber(values.rotations, '--rotations', true);
  if (values['write-ratio'] !== undefined) options.writeRatio = parseNumber(values['write-ratio'], '--write-ratio', false);
  if (values.churn !== undefined) options.churnPerSecond = parseNumber(values.churn, '--churn', false);
  if (values.compare !== undefined && values.compare !== 'mysql2' && values.compare !== 'none') {
    throw new InvalidOptionError('--compare', "must be 'mysql2' or 'none'");
  }
  const real = [values.mysql, values['secret-id'], values['vault-addr']].some((v) => v !== undefined);
  if (values.compare === 'mysql2' || (values.compare === undefined && named === undefined && !real)) options.compare = 'mysql2';
  if (values.mysql !== undefined) options.mysqlUrl = values.mysql;
  if (values['secret-id'] !== undefined) options.secretId = values['secret-id'];
  if (values.region !== undefined) options.region = values.region;
  if (values['rotate-locally']) options.rotateLocally = true;
  if (values['vault-addr'] !== undefined) {
    options.vaultAddr = values['vault-addr'];
    options.vaultToken = env.VAULT_TOKEN;
  }
  if (values['vault-role'] !== undefined) options.vaultRole = values['vault-role'];
  return { help: false, json: values.json === true, scenarioNamed: named !== undefined, options };
}

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
 * `--rotate-locally`) keep the default scenario: they ask for AWS.
 *
 * @param loadSdk - loads the AWS SDK; rejects with a {@link MissingDependencyError} when it is missing
 * @throws what `loadSdk` rejects with when that is not a {@link MissingDependencyError} (an SDK
 *   that is installed but fails to load)
 */
export async function chooseDrillScenario(parsed: ParsedCommand, loadSdk: () => Promise<unknown>): Promise<DrillChoice> {
  const { options } = parsed;
  if (parsed.scenarioNamed || options.scenario !== DEFAULT_SCENARIO) return { options };
  if (AWS_ONLY_OPTIONS.some((key) => options[key] !== undefined)) return { options };
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
    io.stdout.write(parsed.json ? renderJson(report) : renderTable(report, { color: io.stdout.isTTY === true && io.env.NO_COLOR === undefined }));
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

function usageMessage(error: InvalidOptionError): string {
  const flag = FLAG_OF[error.option] ?? error.option;
  return error.message.replace(`option '${error.option}'`, `'${flag}'`).replace(/^credswap: /, '');
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
