/**
 * The options of `createPool` and their validation: what credswap adds to mysql2's pool options,
 * with their defaults. Keys that are not credswap's go to mysql2 as given. Parsing options needs
 * no pool: `createPoolCluster` and `createConnection` validate with it too.
 */
import type { PoolOptions as Mysql2PoolOptions } from 'mysql2';
import { COORDINATOR_TIMING_KEYS, type CoordinatorTimingOptions, resolveTimings } from '../coordinator.js';
import { InvalidOptionError } from '../errors.js';
import { bool, duration, expectObject, integer, oneOf, rejectMisspeltKeys, rejectUnknownKeys } from '../options.js';
import { type CredentialsProvider, type HotSwapFunction, toProvider } from '../provider.js';
import { DEFAULT_READ_ONLY_BACKOFF, type ReadOnlyBackoffOptions } from './read-only.js';

/** mysql2's options that size and run a pool, not one connection (`createConnection` and Knex refuse them). */
export const MYSQL2_POOL_KEYS = [
  'connectionLimit',
  'maxIdle',
  'idleTimeout',
  'queueLimit',
  'waitForConnections',
  'resetOnRelease',
] as const;

/** How connections of older credentials are drained when a new generation of credentials starts. */
export type DrainMode = 'graceful' | 'force' | 'none';

/** @defaultValue 3 */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** @defaultValue 'graceful' */
export const DEFAULT_DRAIN: DrainMode = 'graceful';
/** @defaultValue 30000 */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** The `rotation` option of `createPool`. */
export interface RotationOptions extends CoordinatorTimingOptions {
  /**
   * Connection attempts for one request when the server answers 1045, counting the first:
   * after each 1045 the attempt is repeated with the newest credentials. The statement that
   * waited for the connection runs once, on the connection that succeeded.
   * @defaultValue 3
   */
  maxAttempts?: number;
  /**
   * What happens to connections opened with older credentials when a new generation starts.
   * `graceful`: idle ones close at once, busy ones when released. `force`: as graceful, and busy
   * ones still checked out after `drainTimeoutMs` are destroyed. `none`: they stay in the pool.
   * @defaultValue 'graceful'
   */
  drain?: DrainMode;
  /** With `drain: 'force'`: how long a busy old connection may live on. @defaultValue 30000 */
  drainTimeoutMs?: number;
}

/**
 * Options of `createPool`: every mysql2 pool option, plus credswap's. Keys that are not
 * credswap's go to mysql2 as given, so the installed mysql2 decides: it accepts its options
 * (including ones newer than credswap) and warns once about others, which it ignores. A key that
 * looks like a misspelt credswap option (`credential`, `Rotation`, `rejectReadonly`) throws.
 */
export interface PoolOptions extends Mysql2PoolOptions {
  /**
   * Where credentials come from: a provider (`FileProvider`, `fromFunction(...)`, ...) or a
   * hot-swap function. Without it, `user` and `password` behave exactly as in mysql2.
   */
  credentials?: CredentialsProvider | HotSwapFunction;
  /** When and how credentials rotate. Requires `credentials`. */
  rotation?: RotationOptions;
  /**
   * Destroy, instead of reusing, a connection that received a read-only error (1290, 1792,
   * 1836, 1874), on every path; `query`/`execute` on the pool retry the statement once on a
   * freshly opened connection. See `readOnlyBackoff` for a server that stays read-only.
   * @defaultValue true
   */
  rejectReadOnly?: boolean;
  /**
   * With `rejectReadOnly`: when a connection opened after a read-only refusal is refused too
   * (the address still leads to the read-only server), connections refused under `query`/`execute`
   * on the pool are kept and those statements are not retried for a hold that doubles from
   * `initialMs` to `maxMs`, instead of a new login for every refused write. Connections from
   * `getConnection()` are discarded after any refusal. `false` discards every refused connection.
   * @defaultValue `{ initialMs: 25, maxMs: 250 }`
   */
  readOnlyBackoff?: false | ReadOnlyBackoffOptions;
}

/**
 * credswap's own top-level keys: kept from mysql2, and the only ones checked for misspellings.
 * Every other key is mysql2's to accept or warn about.
 */
export const CREDSWAP_POOL_KEYS: readonly string[] = ['credentials', 'rotation', 'rejectReadOnly', 'readOnlyBackoff'];
const READ_ONLY_BACKOFF_KEYS: ReadonlySet<string> = new Set(['initialMs', 'maxMs']);
const ROTATION_KEYS: ReadonlySet<string> = new Set([...COORDINATOR_TIMING_KEYS, 'maxAttempts', 'drain', 'drainTimeoutMs']);
const DRAIN_MODES: readonly DrainMode[] = ['graceful', 'force', 'none'];

/** Validated `createPool` options, defaults applied. */
export interface ResolvedPoolOptions {
  /** Every key that is not credswap's, as given: mysql2 warns about those it does not know. */
  readonly mysqlOptions: Record<string, unknown>;
  readonly provider: CredentialsProvider | undefined;
  readonly rotation: Required<RotationOptions>;
  readonly rejectReadOnly: boolean;
  readonly readOnlyBackoff: Required<ReadOnlyBackoffOptions>;
  readonly connectionLimit: number;
  readonly waitForConnections: boolean;
  readonly queueLimit: number;
  readonly maxIdle: number;
  readonly idleTimeout: number;
  readonly resetOnRelease: boolean;
}

/**
 * Validates `createPool` options; throws InvalidOptionError naming the option. Unknown keys
 * inside credswap's options (`rotation`, `readOnlyBackoff`) and top-level keys that look like
 * misspelt credswap keys throw; other top-level keys are passed to mysql2 unchecked.
 */
export function resolvePoolOptions(input: PoolOptions | string): ResolvedPoolOptions {
  const bag = typeof input === 'string' ? { uri: input } : expectObject(input, 'options')!;
  rejectMisspeltKeys(bag, CREDSWAP_POOL_KEYS, '');
  const mysqlOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(bag)) {
    if (!CREDSWAP_POOL_KEYS.includes(key)) mysqlOptions[key] = value;
  }
  for (const key of ['host', 'user', 'password', 'database', 'socketPath', 'uri'] as const) {
    if (bag[key] !== undefined && typeof bag[key] !== 'string') {
      throw new InvalidOptionError(key, 'must be a string');
    }
  }
  if (bag.port !== undefined && !(Number.isInteger(bag.port) || (typeof bag.port === 'string' && /^\d+$/.test(bag.port)))) {
    throw new InvalidOptionError('port', 'must be an integer');
  }
  duration(bag, 'connectTimeout', '', 10_000);
  const provider = bag.credentials === undefined ? undefined : toProvider(bag.credentials);
  if (provider) {
    for (const key of ['password', 'password1', 'passwordSha1'] as const) {
      if (bag[key] !== undefined) throw new InvalidOptionError(key, "must not be set together with 'credentials'");
    }
  }
  const rotationBag = expectObject(bag.rotation, 'rotation', true) ?? {};
  if (bag.rotation !== undefined && !provider) {
    throw new InvalidOptionError('rotation', "has no effect without 'credentials'");
  }
  rejectUnknownKeys(rotationBag, ROTATION_KEYS, 'rotation.');
  const connectionLimit = integer(bag, 'connectionLimit', '', 10, 0);
  const rejectReadOnly = bool(bag, 'rejectReadOnly', '', true);
  return {
    mysqlOptions,
    provider,
    rotation: {
      ...resolveTimings(rotationBag, 'rotation.'),
      maxAttempts: integer(rotationBag, 'maxAttempts', 'rotation.', DEFAULT_MAX_ATTEMPTS, 1),
      drain: oneOf(rotationBag, 'drain', 'rotation.', DRAIN_MODES, DEFAULT_DRAIN),
      drainTimeoutMs: duration(rotationBag, 'drainTimeoutMs', 'rotation.', DEFAULT_DRAIN_TIMEOUT_MS),
    },
    rejectReadOnly,
    readOnlyBackoff: resolveReadOnlyBackoff(bag.readOnlyBackoff, rejectReadOnly),
    connectionLimit,
    waitForConnections: bool(bag, 'waitForConnections', '', true),
    queueLimit: integer(bag, 'queueLimit', '', 0, 0),
    maxIdle: integer(bag, 'maxIdle', '', connectionLimit, 0),
    idleTimeout: duration(bag, 'idleTimeout', '', 60_000),
    resetOnRelease: bool(bag, 'resetOnRelease', '', false),
  };
}

function resolveReadOnlyBackoff(value: unknown, rejectReadOnly: boolean): Required<ReadOnlyBackoffOptions> {
  if (value === undefined) return DEFAULT_READ_ONLY_BACKOFF;
  if (!rejectReadOnly) throw new InvalidOptionError('readOnlyBackoff', "has no effect with 'rejectReadOnly: false'");
  if (value === false) return { initialMs: 0, maxMs: 0 };
  const bag = expectObject(value, 'readOnlyBackoff')!;
  rejectUnknownKeys(bag, READ_ONLY_BACKOFF_KEYS, 'readOnlyBackoff.');
  const maxMs = duration(bag, 'maxMs', 'readOnlyBackoff.', DEFAULT_READ_ONLY_BACKOFF.maxMs);
  const initialMs = duration(bag, 'initialMs', 'readOnlyBackoff.', Math.min(DEFAULT_READ_ONLY_BACKOFF.initialMs, maxMs));
  if (initialMs > maxMs) throw new InvalidOptionError('readOnlyBackoff.initialMs', "must not exceed 'readOnlyBackoff.maxMs'");
  if (maxMs > 0 && initialMs === 0) throw new InvalidOptionError('readOnlyBackoff.initialMs', 'must be at least 1 when maxMs is not 0');
  return { initialMs, maxMs };
}
