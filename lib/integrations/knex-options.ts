/**
 * The options of `knexConnection` (`credswap/knex`) and their validation.
 *
 * @packageDocumentation
 */
import type { ConnectionOptions } from 'mysql2';
import { COORDINATOR_TIMING_KEYS, type CoordinatorTimingOptions, RotationCoordinator, resolveTimings } from '../coordinator.js';
import { InvalidOptionError } from '../errors.js';
import type { FailoverOptions } from '../mysql2/failover.js';
import { SECRET_CONFIG_KEYS } from '../mysql2/internals.js';
import { MYSQL2_POOL_KEYS } from '../mysql2/pool-options.js';
import { bool, expectObject, rejectMisspeltKeys, rejectUnknownKeys } from '../options.js';
import { type CredentialsProvider, type HotSwapFunction, toProvider } from '../provider.js';
import { type OrmFailoverOptions, resolveFailover } from './orm-failover.js';

/**
 * Options that belong to a pool, not to one connection, rejected by name because Knex's `pool`
 * sizes and runs its pool: mysql2's pool options (which mysql2 would accept on a connection and
 * ignore without a warning) and credswap's `maxLifetimeMs` (Knex's pool has
 * `maxConnectionLifetimeMillis`). This is not a list of mysql2's options: every key that is
 * neither here nor credswap's goes to mysql2 as given.
 */
const POOL_ONLY_KEYS = [...MYSQL2_POOL_KEYS, 'pool', 'maxLifetimeMs'];
/** credswap's own keys: kept from mysql2, and (with `maxLifetimeMs`) the only ones checked for misspellings. */
const CREDSWAP_KEYS = ['credentials', 'coordinator', 'rotation', 'rejectReadOnly', 'failover'];

/**
 * Options of {@link knexConnection}: mysql2 connection options plus credswap's. Keys that are not
 * credswap's go to mysql2 as given, so the installed mysql2 decides: it accepts its options and
 * warns about others (when Knex opens each connection), which it ignores. A key that looks like a
 * misspelt credswap option (`credential`, `Rotation`) throws, as do pool options and `uri`.
 */
export interface KnexConnectionOptions extends Omit<ConnectionOptions, (typeof SECRET_CONFIG_KEYS)[number] | 'uri' | 'pool'> {
  /**
   * Where credentials come from: a provider or a hot-swap function (as `credentials` of
   * `createPool`). Exactly one of `credentials` and `coordinator`.
   */
  credentials?: CredentialsProvider | HotSwapFunction;
  /** Timing of rotations (as `rotation` of `createPool`: `timeoutMs`, `cooldownMs`, ...). With `credentials` only. */
  rotation?: CoordinatorTimingOptions;
  /**
   * A coordinator of your own instead of `credentials`, e.g. shared with a credswap pool. It is
   * not closed by `close()` or `knex.destroy()`.
   */
  coordinator?: RotationCoordinator;
  /**
   * Follow a failover (needs the hooks of `connection.pool(...)`): each login asks its server who
   * it is and whether it takes writes (one round trip), connections to a server the address no
   * longer leads to are destroyed at their next acquire, and a statement refused as read-only
   * (1290, 1836, 1874) fails with a `ReadOnlyError` and starts a failover episode (see
   * `failover`). `false`: no observation at all.
   * @defaultValue true
   */
  rejectReadOnly?: boolean;
  /**
   * With `rejectReadOnly`: how a failover episode waits and probes. During an episode, refused
   * connections are kept (they serve reads), one probe login at a time (at most one per
   * `probeIntervalMs`) looks for a writable server, and each acquisition waits up to `waitMs`
   * for one. `false`: no episodes; a connection refused as read-only is destroyed at its next
   * acquire (a login per refused write while the address still leads to the old primary).
   * @defaultValue `{ waitMs: 5000, probeIntervalMs: 40 }`
   */
  failover?: false | OrmFailoverOptions;
}

/** {@link KnexConnectionOptions}, checked, with defaults applied. */
export interface ResolvedKnexOptions {
  /** What goes to mysql2 as given. */
  readonly mysqlOptions: Record<string, unknown>;
  readonly coordinator: RotationCoordinator;
  /** Whether `knexConnection` created the coordinator (and closes it). */
  readonly owned: boolean;
  readonly rejectReadOnly: boolean;
  /** `undefined`: no failover episodes. */
  readonly failover: Required<FailoverOptions> | undefined;
}

/**
 * Checks the options of `knexConnection` and applies their defaults.
 *
 * @throws InvalidOptionError naming an invalid option, a pool option, or one that looks like a
 * misspelt credswap option.
 */
export function resolveKnexOptions(input: KnexConnectionOptions): ResolvedKnexOptions {
  const bag = expectObject(input, 'options')!;
  rejectMisspeltKeys(bag, [...CREDSWAP_KEYS, 'maxLifetimeMs'], '');
  for (const key of POOL_ONLY_KEYS) {
    if (bag[key] !== undefined)
      throw new InvalidOptionError(key, "is a pool option: Knex sizes its pool with 'pool: connection.pool({ min, max })'");
  }
  if (bag.uri !== undefined) throw new InvalidOptionError('uri', 'must not be set: it could carry a password; use host, port and database');
  for (const key of ['host', 'user', 'database', 'socketPath'] as const) {
    if (bag[key] !== undefined && typeof bag[key] !== 'string') throw new InvalidOptionError(key, 'must be a string');
  }
  if (bag.port !== undefined && !(Number.isInteger(bag.port) || (typeof bag.port === 'string' && /^\d+$/.test(bag.port)))) {
    throw new InvalidOptionError('port', 'must be an integer');
  }
  for (const key of SECRET_CONFIG_KEYS) {
    if (bag[key] !== undefined) throw new InvalidOptionError(key, "must not be set: passwords come from 'credentials'");
  }
  const rejectReadOnly = bool(bag, 'rejectReadOnly', '', true);
  const failover = resolveFailover(bag, rejectReadOnly);
  const rotation = expectObject(bag.rotation, 'rotation', true);
  let coordinator: RotationCoordinator;
  let owned: boolean;
  if (bag.coordinator !== undefined) {
    if (bag.credentials !== undefined) throw new InvalidOptionError('coordinator', "must not be set together with 'credentials'");
    if (rotation !== undefined) throw new InvalidOptionError('rotation', "has no effect with 'coordinator': set it on the coordinator");
    if (!(bag.coordinator instanceof RotationCoordinator)) throw new InvalidOptionError('coordinator', 'must be a RotationCoordinator');
    coordinator = bag.coordinator;
    owned = false;
  } else {
    if (bag.credentials === undefined) throw new InvalidOptionError('credentials', "is required (or pass 'coordinator')");
    const provider = toProvider(bag.credentials);
    rejectUnknownKeys(rotation ?? {}, new Set(COORDINATOR_TIMING_KEYS), 'rotation.');
    coordinator = RotationCoordinator.fromResolved(provider, resolveTimings(rotation ?? {}, 'rotation.'));
    owned = true;
  }
  const mysqlOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(bag)) {
    if (!CREDSWAP_KEYS.includes(key)) mysqlOptions[key] = value;
  }
  return { mysqlOptions, coordinator, owned, rejectReadOnly, failover };
}
