/**
 * The options of {@link startLambdaExtensionEmulator}: which implementation it emulates, their
 * defaults and their validation.
 *
 * @packageDocumentation
 */

import type { SecretsManagerClientConfig } from '../../../providers/aws/sdk.js';
import { InvalidOptionError } from '../../errors.js';
import { bool, duration, expectObject, integer, oneOf, rejectUnknownKeys, string } from '../../options.js';

/**
 * Which implementation to emulate.
 *
 * - `'agent'`: the Secrets Manager Agent, 1.1 and later (its source is public). A wrong or
 *   missing token: 403 `Bad Token`; `X-Forwarded-For`: 400 `Forwarded`; a method other than
 *   GET: 405; an unknown query parameter: 400 `unknown parameter: <name>`; `refreshNow=true`
 *   skips the cache; `GET /ping` answers `healthy` without a token; errors of Secrets Manager
 *   are passed on with its HTTP status and `{"__type": ..., "message": ...}`; a timeout
 *   calling it is 504 `TimeoutError`, a connection failure 502 `ConnectionError`. An expired
 *   entry is checked with `DescribeSecret` and kept if its version still has the stage.
 * - `'agent-1.0'`: the same before `refreshNow` existed: it answers
 *   400 `unknown parameter: refreshNow`.
 * - `'lambda-extension'`: the AWS Parameters and Secrets Lambda Extension layer. A wrong or
 *   missing token: 401 `bad session token or header key` (text/plain, with
 *   `x-amzn-errortype: AccessDeniedException`), as observed on Lambda; before it is ready:
 *   400 `not ready to serve traffic, please wait`. Not documented, and emulated as the agent
 *   does: errors of Secrets Manager (passed on with its status, its JSON error body and the
 *   `x-amzn-errortype` header); unknown query parameters, `refreshNow` included, are ignored.
 *
 * @example
 * ```ts
 * const flavor: LambdaExtensionFlavor = 'lambda-extension';
 * ```
 */
export type LambdaExtensionFlavor = 'agent' | 'agent-1.0' | 'lambda-extension';

/**
 * Default of {@link LambdaExtensionEmulatorOptions.ttlMs}: 300 s, the extension's default and
 * maximum `SECRETS_MANAGER_TTL`, and the agent's default `ttl_seconds`.
 * @example
 * ```ts
 * await startLambdaExtensionEmulator({ secretsManager, token, ttlMs: DEFAULT_EXTENSION_TTL_MS / 60 });
 * ```
 */
export const DEFAULT_EXTENSION_TTL_MS = 300_000;

/**
 * Options of {@link startLambdaExtensionEmulator}.
 * @example
 * ```ts
 * const options: LambdaExtensionEmulatorOptions = {
 *   secretsManager: secretsManager.clientConfig(),
 *   token: 'test-session-token',
 *   flavor: 'lambda-extension',
 *   notReadyForMs: 200,
 * };
 * ```
 */
export interface LambdaExtensionEmulatorOptions {
  /** How the SDK client reaches Secrets Manager: `region`, `endpoint`, `credentials`, ... */
  secretsManager: SecretsManagerClientConfig;
  /**
   * The token requests must carry in `X-Aws-Parameters-Secrets-Token` (the agent also accepts
   * `X-Vault-Token`).
   * @defaultValue the environment variable `AWS_SESSION_TOKEN` when the emulator starts, as the
   * extension reads it; one of the two is required
   */
  token?: string;
  /**
   * Which implementation to emulate; see {@link LambdaExtensionFlavor}.
   * @defaultValue `'agent'`
   * @example
   * ```ts
   * await startLambdaExtensionEmulator({ secretsManager, token, flavor: 'agent-1.0' }); // rejects refreshNow
   * ```
   */
  flavor?: LambdaExtensionFlavor;
  /**
   * How long a value stays in the cache, in milliseconds. `0` turns the cache off.
   * @defaultValue {@link DEFAULT_EXTENSION_TTL_MS} (300000)
   */
  ttlMs?: number;
  /**
   * The port refuses connections for this long, in milliseconds, after the emulator starts,
   * as the extension's does on a cold start. `Infinity`: until {@link LambdaExtensionEmulator.listen}
   * is called. The port is chosen (and {@link LambdaExtensionEmulator.port} known) at once.
   * @defaultValue `0`
   */
  listenAfterMs?: number;
  /**
   * After it starts listening, answer every request with 400 `not ready to serve traffic,
   * please wait` for this long, in milliseconds, as the Lambda extension does during the
   * function's init phase.
   * @defaultValue `0`
   */
  notReadyForMs?: number;
  /**
   * The port to listen on.
   * @defaultValue a free port, chosen when the emulator starts
   */
  port?: number;
  /**
   * Log each request to `console.error` (without the token).
   * @defaultValue `false`
   */
  debug?: boolean;
}

/** Validated {@link LambdaExtensionEmulatorOptions}. */
export interface ResolvedExtensionOptions {
  readonly clientConfig: SecretsManagerClientConfig;
  readonly token: string;
  readonly flavor: LambdaExtensionFlavor;
  readonly ttlMs: number;
  /** `Infinity`: until `listen()` is called. */
  readonly listenAfterMs: number;
  readonly notReadyForMs: number;
  /** `undefined`: a free port. */
  readonly port: number | undefined;
  readonly debug: boolean;
}

const OPTION_KEYS = new Set(['secretsManager', 'token', 'flavor', 'ttlMs', 'listenAfterMs', 'notReadyForMs', 'port', 'debug']);
const PREFIX = 'startLambdaExtensionEmulator.';
const FLAVORS: readonly LambdaExtensionFlavor[] = ['agent', 'agent-1.0', 'lambda-extension'];

/** Validates the options of {@link startLambdaExtensionEmulator} and fills in the defaults. */
export function resolveExtensionOptions(options: LambdaExtensionEmulatorOptions): ResolvedExtensionOptions {
  const o = expectObject(options, 'startLambdaExtensionEmulator')!;
  rejectUnknownKeys(o, OPTION_KEYS, PREFIX);
  const clientConfig = expectObject(o.secretsManager, `${PREFIX}secretsManager`) as SecretsManagerClientConfig;
  const token = string(o, 'token', PREFIX, process.env.AWS_SESSION_TOKEN || undefined);
  if (token === undefined) {
    throw new InvalidOptionError(`${PREFIX}token`, 'is required when the environment variable AWS_SESSION_TOKEN is not set');
  }
  const flavor = oneOf(o, 'flavor', PREFIX, FLAVORS, 'agent');
  const ttlMs = duration(o, 'ttlMs', PREFIX, DEFAULT_EXTENSION_TTL_MS);
  const listenAfterMs = o.listenAfterMs === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : duration(o, 'listenAfterMs', PREFIX, 0);
  const notReadyForMs = duration(o, 'notReadyForMs', PREFIX, 0);
  const port = o.port === undefined ? undefined : integer(o, 'port', PREFIX, 0, 1);
  if (port !== undefined && port > 65535) throw new InvalidOptionError(`${PREFIX}port`, 'must be at most 65535');
  const debug = bool(o, 'debug', PREFIX, false);
  return { clientConfig, token, flavor, ttlMs, listenAfterMs, notReadyForMs, port, debug };
}
