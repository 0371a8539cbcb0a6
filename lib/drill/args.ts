/**
 * The command line of `credswap drill`: its flags and help text, parsing them into
 * {@link DrillOptions}, and naming an option by the flag a user typed in messages. Checking the
 * options themselves is `resolveDrillOptions` (`./run.ts`), for the command line and programs alike.
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import { InvalidOptionError } from '../errors.js';
import { SDK_PACKAGE } from '../../providers/aws/sdk.js';
import {
  DEFAULT_DRILL_CHURN_PER_SECOND,
  DEFAULT_DRILL_CONCURRENCY,
  DEFAULT_DRILL_DURATION_MS,
  DEFAULT_DRILL_FLIP_DELAY_MS,
  DEFAULT_DRILL_ROTATIONS,
  DEFAULT_DRILL_WRITE_RATIO,
  type DrillOptions,
} from './run.js';
import { DEFAULT_FLEET_CONCURRENCY } from './fleet/environment.js';
import { SCENARIO_NAMES, type ScenarioName } from './scenarios/types.js';

/** The scenario of `credswap drill` without one: it shows what credswap is for. */
export const DEFAULT_SCENARIO: ScenarioName = 'aws-single-user';

/**
 * The scenario `credswap drill` runs without one when {@link DEFAULT_SCENARIO}'s optional peer
 * (`@aws-sdk/client-secrets-manager`) is not installed: it needs no optional peer.
 */
export const FALLBACK_SCENARIO: ScenarioName = 'function';

/** `credswap drill --help`. */
export const DRILL_USAGE = `Usage: credswap drill [scenario] [options]

Runs load through a credswap pool while credentials rotate (or the primary fails over) and
reports what the application saw. Without flags everything is embedded: throwaway MariaDB
servers (MySQL for aws-dual-password) and local emulators of Secrets Manager and Vault.

Scenarios:
  function          a hot-swap function; the secret, then the server, get a new password
  file              a Kubernetes Secret volume (..data swap); then the server
  aws-single-user   Secrets Manager RotateSecret, single user (window held open)
  aws-alternating   Secrets Manager RotateSecret, alternating users
  aws-dual-password Secrets Manager RotateSecret, MySQL dual passwords (window held open;
                    a throwaway MySQL, or the MySQL server of --mysql)
  vault-dynamic     Vault dynamic credentials: leases end, the pool moves to a new user
  vault-static      Vault static role: rotate-role changes the password in place
  failover          primary set read_only=ON, proxy flips to the other server later
  rds-iam           RDS IAM tokens (TLS, a local IAM front end): tokens renew and expire
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
  --fleet <n>             run n worker processes, each with its own pool and load, against one
                          database and one emulated secret store (aws-single-user, vault-static;
                          --concurrency is then per process, default ${DEFAULT_FLEET_CONCURRENCY})
  --json                  print the report as JSON instead of the table
  -h, --help              this text

Real infrastructure (nothing is rotated unless you name it):
  --mysql <admin url>     a server to run on (mysql://admin:password@host:3306/): the drill
                          creates its own database and users there and drops them afterwards.
                          With --vault-addr: where the role's credentials connect.
  --secret-id <id>        aws-single-user, aws-alternating: rotate this secret (RotateSecret,
                          with its rotation function)
  --region <region>       its region (default: the AWS SDK's environment)
  --rotate-locally        run credswap's rotation handler here instead of RotateSecret
  --vault-addr <url>      vault-*: this Vault (token from VAULT_TOKEN)
  --vault-role <role>     the database role to use (rotate-role for vault-static)

Without --mysql the drill starts throwaway MariaDB servers; CREDSWAP_DRILL_SERVER=mysql starts
MySQL ones instead (found as the testing kit finds them).

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
  fleet: { type: 'string' },
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
  fleet: '--fleet',
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
  if (values.fleet !== undefined) options.fleet = parseNumber(values.fleet, '--fleet', true);
  if (values.compare !== undefined && values.compare !== 'mysql2' && values.compare !== 'none') {
    throw new InvalidOptionError('--compare', "must be 'mysql2' or 'none'");
  }
  const real = [values.mysql, values['secret-id'], values['vault-addr']].some((v) => v !== undefined);
  const defaultCompare = values.compare === undefined && named === undefined && !real && values.fleet === undefined;
  if (values.compare === 'mysql2' || defaultCompare) options.compare = 'mysql2';
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

/**
 * The message of a usage error for the command line: the option named by its flag (`--write-ratio`
 * for `writeRatio`), without the `credswap: ` prefix.
 */
export function usageMessage(error: InvalidOptionError): string {
  const flag = FLAG_OF[error.option] ?? error.option;
  return error.message.replace(`option '${error.option}'`, `'${flag}'`).replace(/^credswap: /, '');
}
