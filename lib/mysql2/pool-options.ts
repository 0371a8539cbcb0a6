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
import { DEFAULT_FAILOVER, type FailoverOptions } from './failover.js';

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

/** @defaultValue 1800000 (30 minutes) */
export const DEFAULT_MAX_LIFETIME_MS = 1_800_000;

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
   * Follow a failover: each login asks its server who it is and whether it takes writes (one
   * round trip); connections to a server the address no longer leads to are discarded; writes
   * refused as read-only (1290, 1836, 1874) start a failover episode (see `failover`).
   * `false` behaves like mysql2: a refused connection is destroyed, and `query`/`execute`
   * run again at once on a new connection.
   * @defaultValue true
   */
  rejectReadOnly?: boolean;
  /**
   * With `rejectReadOnly`: how a failover episode waits and probes. `false`: no episodes; a
   * connection refused as read-only is destroyed and `query`/`execute` run again at once on a new
   * connection (a login per refused write while the address still leads to the old primary).
   * @defaultValue `{ waitMs: 5000, probeIntervalMs: 40, checkIntervalMs: 1000 }`
   */
  failover?: false | FailoverOptions;
  /**
   * Connections older than this are closed when idle, or when released (minus up to 10 % of
   * jitter per connection, so that they do not all close at once), as HikariCP's `maxLifetime`.
   * A backstop for whatever else would keep a connection on a server it should have left. `0`:
   * no limit.
   * @defaultValue 1800000 (30 minutes)
   */
  maxLifetimeMs?: number;
}

/**
 * credswap's own top-level keys: kept from mysql2, and the only ones checked for misspellings.
 * Every other key is mysql2's to accept or warn about.
 */
export const CREDSWAP_POOL_KEYS: readonly string[] = ['credentials', 'rotation', 'rejectReadOnly', 'failover', 'maxLifetimeMs'];
const FAILOVER_KEYS: ReadonlySet<string> = new Set(['waitMs', 'probeIntervalMs', 'checkIntervalMs']);
const ROTATION_KEYS: ReadonlySet<string> = new Set([...COORDINATOR_TIMING_KEYS, 'maxAttempts', 'drain', 'drainTimeoutMs']);
const DRAIN_MODES: readonly DrainMode[] = ['graceful', 'force', 'none'];

/** Validated `createPool` options, defaults applied. */
export interface ResolvedPoolOptions {
  /** Every key that is not credswap's, as given: mysql2 warns about those it does not know. */
  readonly mysqlOptions: Record<string, unknown>;
  readonly provider: CredentialsProvider | undefined;
  readonly rotation: Required<RotationOptions>;
  readonly rejectReadOnly: boolean;
  /** `undefined`: no failover episodes (`failover: false` or `rejectReadOnly: false`). */
  readonly failover: Required<FailoverOptions> | undefined;
  readonly maxLifetimeMs: number;
  readonly connectionLimit: number;
  readonly waitForConnections: boolean;
  readonly queueLimit: number;
  readonly maxIdle: number;
  readonly idleTimeout: number;
  readonly resetOnRelease: boolean;
}

/**
 * Validates `createPool` options; throws InvalidOptionError naming the option. Unknown keys
 * inside credswap's options (`rotation`, `failover`) and top-level keys that look like
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
    failover: resolveFailover(bag.failover, rejectReadOnly),
    maxLifetimeMs: duration(bag, 'maxLifetimeMs', '', DEFAULT_MAX_LIFETIME_MS),
    connectionLimit,
    waitForConnections: bool(bag, 'waitForConnections', '', true),
    queueLimit: integer(bag, 'queueLimit', '', 0, 0),
    maxIdle: integer(bag, 'maxIdle', '', connectionLimit, 0),
    idleTimeout: duration(bag, 'idleTimeout', '', 60_000),
    resetOnRelease: bool(bag, 'resetOnRelease', '', false),
  };
}

function resolveFailover(value: unknown, rejectReadOnly: boolean): Required<FailoverOptions> | undefined {
  if (value !== undefined && !rejectReadOnly) throw new InvalidOptionError('failover', "has no effect with 'rejectReadOnly: false'");
  if (!rejectReadOnly || value === false) return undefined;
  if (value === undefined) return DEFAULT_FAILOVER;
  const bag = expectObject(value, 'failover')!;
  rejectUnknownKeys(bag, FAILOVER_KEYS, 'failover.');
  return {
    waitMs: duration(bag, 'waitMs', 'failover.', DEFAULT_FAILOVER.waitMs),
    probeIntervalMs: duration(bag, 'probeIntervalMs', 'failover.', DEFAULT_FAILOVER.probeIntervalMs, 1),
    checkIntervalMs: duration(bag, 'checkIntervalMs', 'failover.', DEFAULT_FAILOVER.checkIntervalMs),
  };
}
