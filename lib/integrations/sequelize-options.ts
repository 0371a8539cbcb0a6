/**
 * The options of `attachCredentials` (`credswap/sequelize`) and their validation.
 *
 * @packageDocumentation
 */
import { COORDINATOR_TIMING_KEYS, type CoordinatorTimingOptions, type ResolvedTimings, resolveTimings } from '../coordinator.js';
import { InvalidOptionError } from '../errors.js';
import type { FailoverOptions } from '../mysql2/failover.js';
import { DEFAULT_MAX_ATTEMPTS } from '../mysql2/pool-options.js';
import { bool, expectObject, integer, rejectUnknownKeys } from '../options.js';
import { type CredentialsProvider, type HotSwapFunction, toProvider } from '../provider.js';
import { type OrmFailoverOptions, resolveFailover } from './orm-failover.js';

/** The `rotation` option of {@link attachCredentials}. */
export interface SequelizeRotationOptions extends CoordinatorTimingOptions {
  /**
   * Connection attempts for one new connection when the server answers 1045, counting the
   * first: after each 1045 the connect is repeated with the newest credentials.
   * @defaultValue 3
   */
  maxAttempts?: number;
}

/** Options of {@link attachCredentials}. */
export interface SequelizeCredentialsOptions {
  /** A provider (`FileProvider`, `SecretsManagerProvider`, `fromFunction(...)`, ...) or a hot-swap function. */
  credentials: CredentialsProvider | HotSwapFunction;
  /** When credentials rotate: the coordinator's timings and `maxAttempts`. */
  rotation?: SequelizeRotationOptions;
  /**
   * Follow a failover: each login asks its server who it is and whether it takes writes (one
   * round trip), connections to a server the address no longer leads to are dropped, and a
   * statement refused as read-only (1290, 1836, 1874) fails with a `ReadOnlyError` (Sequelize's
   * `err.parent`) and starts a failover episode (see `failover`). `false`: no observation at all.
   * @defaultValue true
   */
  rejectReadOnly?: boolean;
  /**
   * With `rejectReadOnly`: how a failover episode waits and probes. During an episode, refused
   * connections are kept (they serve reads), one probe login at a time (at most one per
   * `probeIntervalMs`) looks for a writable server, and each acquisition from Sequelize's pool,
   * except for reads (`type: 'SELECT'`), waits up to `waitMs` for one. `false`: no episodes; a
   * connection refused as read-only is dropped when released, and the next one is opened afresh.
   * @defaultValue `{ waitMs: 5000, probeIntervalMs: 40 }`
   */
  failover?: false | OrmFailoverOptions;
}

const OPTION_KEYS: ReadonlySet<string> = new Set(['credentials', 'rotation', 'rejectReadOnly', 'failover']);
const ROTATION_KEYS: ReadonlySet<string> = new Set([...COORDINATOR_TIMING_KEYS, 'maxAttempts']);

/** {@link SequelizeCredentialsOptions}, checked, with defaults applied. */
export interface ResolvedSequelizeOptions {
  readonly provider: CredentialsProvider;
  readonly timings: ResolvedTimings;
  readonly maxAttempts: number;
  readonly rejectReadOnly: boolean;
  /** `undefined`: no failover episodes. */
  readonly failover: Required<FailoverOptions> | undefined;
}

/**
 * Checks the options of `attachCredentials` and applies their defaults.
 *
 * @throws InvalidOptionError naming an unknown or invalid option.
 */
export function resolveSequelizeOptions(options: SequelizeCredentialsOptions): ResolvedSequelizeOptions {
  const bag = expectObject(options, 'options')!;
  rejectUnknownKeys(bag, OPTION_KEYS, '');
  if (bag.credentials === undefined) throw new InvalidOptionError('credentials', 'is required');
  const provider = toProvider(bag.credentials);
  const rotation = expectObject(bag.rotation, 'rotation', true) ?? {};
  rejectUnknownKeys(rotation, ROTATION_KEYS, 'rotation.');
  const timings = resolveTimings(rotation, 'rotation.');
  const maxAttempts = integer(rotation, 'maxAttempts', 'rotation.', DEFAULT_MAX_ATTEMPTS, 1);
  const rejectReadOnly = bool(bag, 'rejectReadOnly', '', true);
  return { provider, timings, maxAttempts, rejectReadOnly, failover: resolveFailover(bag, rejectReadOnly) };
}
