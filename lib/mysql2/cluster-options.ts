/**
 * Options of `createPoolCluster` and of the nodes added to it: validation, defaults, and what a
 * node inherits from the cluster.
 */
import { InvalidOptionError } from '../errors.js';
import { bool, duration, expectObject, integer, rejectUnknownKeys } from '../options.js';
import { type CredentialsProvider, type HotSwapFunction, toProvider } from '../provider.js';
import type { NodeAddress } from './cluster-provider.js';
import { type PoolOptions, type RotationOptions, resolvePoolOptions } from './pool-options.js';

/** How a namespace picks one node among those matching its pattern. */
export type Selector = 'RR' | 'RANDOM' | 'ORDER';

/** @defaultValue true */
export const DEFAULT_CAN_RETRY = true;
/** @defaultValue 5 */
export const DEFAULT_REMOVE_NODE_ERROR_COUNT = 5;
/** @defaultValue 0 */
export const DEFAULT_RESTORE_NODE_TIMEOUT = 0;
/** @defaultValue 'RR' */
export const DEFAULT_SELECTOR: Selector = 'RR';
/** @defaultValue 60000 */
export const DEFAULT_READ_ONLY_NODE_TIMEOUT_MS = 60_000;

const SELECTORS: readonly Selector[] = ['RR', 'RANDOM', 'ORDER'];

/**
 * Options of `createPoolCluster`: mysql2's PoolClusterOptions, plus credswap's. Unlike a node's
 * options, these are all implemented by credswap's cluster (it is not mysql2's PoolCluster), so
 * an unknown key throws rather than being passed on. A node's config (`add()`) follows
 * `createPool`'s rule: keys that are not credswap's go to mysql2, which warns about those it
 * does not know.
 */
export interface PoolClusterOptions {
  /**
   * When getting a connection from a node fails, try again on another node matching the
   * pattern (the failed node counts an error). Also enables the retry of a cluster
   * `query`/`execute` refused as read-only on another node.
   * @defaultValue true
   */
  canRetry?: boolean;
  /**
   * Failed connection attempts after which a node goes offline (with `restoreNodeTimeout`)
   * or is removed (without). Each successful one counts one down.
   * @defaultValue 5
   */
  removeNodeErrorCount?: number;
  /**
   * Milliseconds a node that reached `removeNodeErrorCount` stays offline; `0` removes it for good.
   * @defaultValue 0
   */
  restoreNodeTimeout?: number;
  /**
   * The selector of `of()` and `getConnection()` without one: `'RR'` (round robin),
   * `'RANDOM'` or `'ORDER'` (the first node online, in the order they were added).
   * @defaultValue 'RR'
   */
  defaultSelector?: Selector | Lowercase<Selector>;
  /**
   * Credentials for every node that sets neither `credentials` nor `password`: a provider
   * or a hot-swap function. Each such node rotates on its own (one provider call per
   * rotation per node); the provider is closed by the cluster's `end()`.
   */
  credentials?: CredentialsProvider | HotSwapFunction;
  /** Default `rotation` of the nodes that have credentials and no `rotation` of their own. */
  rotation?: RotationOptions;
  /**
   * Default `rejectReadOnly` of the nodes: discard connections that received a read-only
   * error, pass over their node (see `readOnlyNodeTimeoutMs`) and retry cluster statements.
   * @defaultValue true
   */
  rejectReadOnly?: boolean;
  /**
   * How long a node whose server refused a statement as read-only (1290, 1792, 1836, 1874) is passed
   * over, as long as another node matching the pattern is online. It is never removed for it.
   * @defaultValue 60000
   */
  readOnlyNodeTimeoutMs?: number;
}

/** TypeORM passes its `replication` object as is; these keys of it are not for the cluster. */
const TYPEORM_REPLICATION_KEYS = ['master', 'slaves', 'defaultMode', 'selector'];
const CLUSTER_KEYS: ReadonlySet<string> = new Set([
  'canRetry',
  'removeNodeErrorCount',
  'restoreNodeTimeout',
  'defaultSelector',
  'credentials',
  'rotation',
  'rejectReadOnly',
  'readOnlyNodeTimeoutMs',
  ...TYPEORM_REPLICATION_KEYS,
]);

/** A cluster's validated options; `cluster.config` shows them without `credentials` and `rotation`. */
export interface ResolvedClusterOptions {
  readonly canRetry: boolean;
  readonly removeNodeErrorCount: number;
  readonly restoreNodeTimeout: number;
  readonly defaultSelector: Selector;
  readonly credentials: CredentialsProvider | HotSwapFunction | undefined;
  readonly rotation: RotationOptions | undefined;
  readonly rejectReadOnly: boolean;
  readonly readOnlyNodeTimeoutMs: number;
}

/** A selector name, case-insensitive as in mysql2. */
export function toSelector(value: unknown, option: string): Selector {
  const upper = typeof value === 'string' ? value.toUpperCase() : value;
  if (!SELECTORS.includes(upper as Selector)) {
    throw new InvalidOptionError(option, `must be one of ${SELECTORS.map((s) => `'${s}'`).join(', ')}`);
  }
  return upper as Selector;
}

/**
 * @internal Validates `createPoolCluster` options; throws InvalidOptionError naming the option,
 * including any unknown key (all of these are credswap's: see {@link PoolClusterOptions}).
 */
export function resolveClusterOptions(input: PoolClusterOptions | undefined): ResolvedClusterOptions {
  const bag = expectObject(input ?? {}, 'options')!;
  rejectUnknownKeys(bag, CLUSTER_KEYS, '');
  if (bag.credentials !== undefined) toProvider(bag.credentials);
  const rotation = expectObject(bag.rotation, 'rotation', true);
  // Checked now, with the rules of a pool, rather than at the first add().
  if (rotation) resolvePoolOptions({ credentials: { name: 'cluster', getCredentials: async () => undefined }, rotation });
  const defaultSelector = bag.defaultSelector ?? bag.selector; // TypeORM's name for it
  return {
    canRetry: bool(bag, 'canRetry', '', DEFAULT_CAN_RETRY),
    removeNodeErrorCount: integer(bag, 'removeNodeErrorCount', '', DEFAULT_REMOVE_NODE_ERROR_COUNT, 1),
    restoreNodeTimeout: duration(bag, 'restoreNodeTimeout', '', DEFAULT_RESTORE_NODE_TIMEOUT),
    defaultSelector:
      defaultSelector === undefined
        ? DEFAULT_SELECTOR
        : toSelector(defaultSelector, bag.defaultSelector === undefined ? 'selector' : 'defaultSelector'),
    credentials: bag.credentials as ResolvedClusterOptions['credentials'],
    rotation: rotation,
    rejectReadOnly: bool(bag, 'rejectReadOnly', '', true),
    readOnlyNodeTimeoutMs: duration(bag, 'readOnlyNodeTimeoutMs', '', DEFAULT_READ_ONLY_NODE_TIMEOUT_MS),
  };
}

/** @internal A node's pool options with the cluster's defaults applied. */
export interface NodePlan {
  /** The options for the node's pool, without `credentials` (the cluster supplies a view). */
  readonly options: PoolOptions;
  /** The provider or function the node's credentials come from, if any. */
  readonly source: CredentialsProvider | HotSwapFunction | undefined;
  /** True when `source` is the cluster's own `credentials`. */
  readonly inherited: boolean;
  readonly address: NodeAddress;
}

/** @internal Applies the cluster's defaults to the config passed to `add()`. */
export function planNode(config: PoolOptions | string, cluster: ResolvedClusterOptions): NodePlan {
  const bag: Record<string, unknown> = typeof config === 'string' ? { uri: config } : { ...expectObject(config, 'config')! };
  const uri = typeof bag.uri === 'string' ? parseUri(bag.uri) : undefined;
  const ownPassword = ['password', 'password1', 'passwordSha1'].some((key) => bag[key] !== undefined) || uri?.password === true;
  const inherited = bag.credentials === undefined && !ownPassword && cluster.credentials !== undefined;
  const source = (bag.credentials ?? (inherited ? cluster.credentials : undefined)) as NodePlan['source'];
  delete bag.credentials;
  if (source !== undefined && bag.rotation === undefined && cluster.rotation !== undefined) bag.rotation = cluster.rotation;
  if (bag.rejectReadOnly === undefined) bag.rejectReadOnly = cluster.rejectReadOnly;
  return {
    options: bag,
    source,
    inherited,
    address: {
      host: bag.host !== undefined || bag.socketPath !== undefined || uri !== undefined,
      port: bag.port !== undefined || uri?.port === true,
      database: bag.database !== undefined || uri?.database === true,
    },
  };
}

function parseUri(uri: string): { password: boolean; port: boolean; database: boolean } | undefined {
  try {
    const url = new URL(uri);
    return { password: url.password !== '', port: url.port !== '', database: url.pathname.length > 1 };
  } catch {
    return undefined; // the pool reports it
  }
}
