/**
 * What every drill scenario provides to {@link runDrill}: a way to build the credswap pool and
 * a plain mysql2 pool against the same database, one disruption (a rotation or a failover) on
 * demand, and a teardown that leaves nothing behind.
 *
 * @packageDocumentation
 */

import type { Pool as PlainPromisePool } from 'mysql2/promise';
import type { PromisePool } from '../../mysql2/types.js';

/** The scenarios `credswap drill` knows. */
export const SCENARIO_NAMES = [
  'function',
  'file',
  'aws-single-user',
  'aws-alternating',
  'aws-dual-password',
  'vault-dynamic',
  'vault-static',
  'failover',
  'rds-iam',
] as const;

/** One of {@link SCENARIO_NAMES}. */
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** The database statements a drill's load runs. */
export interface DrillStatements {
  /** A read that touches the drill's table (so a user that lost its privileges fails it). */
  read: string;
  /** An insert into the drill's table, `?` for one integer; `undefined` when the drill owns no table. */
  write: string | undefined;
}

/** The statements when the drill created its own table `items (id, n)` with a row `id = 1`. */
export const TABLE_STATEMENTS: DrillStatements = {
  read: 'SELECT n FROM items WHERE id = 1',
  write: 'INSERT INTO items (n) VALUES (?)',
};

/** The statements on a database the drill does not own: reads only. */
export const READ_ONLY_STATEMENTS: DrillStatements = { read: 'SELECT 1', write: undefined };

/** A credswap pool built by a scenario, and how many times its provider was asked for credentials. */
export interface CredswapTarget {
  readonly pool: PromisePool;
  /** Calls of the provider's `getCredentials` so far. */
  providerCalls(): number;
}

/** The plain mysql2 pool of `--compare mysql2`. */
export type PlainPool = PlainPromisePool;

/** When a disruption happened, on the `performance.now()` clock. */
export interface DisruptionTimes {
  /** The disruption began (the rotation was started, the primary turned read-only). */
  startAt: number;
  /** It ended from the outside's point of view (the rotation finished, the proxy flipped). */
  endAt: number;
}

/** The real infrastructure a drill targets, when the user names it; embedded otherwise. */
export interface DrillTargetOptions {
  /** An administrator URL of a real server: the drill creates its own database and users there and drops them. */
  mysqlUrl?: string;
  /** AWS scenarios: the secret to rotate (the user's own). */
  secretId?: string;
  region?: string;
  /** With `secretId`: run the rotation handler in this process instead of `RotateSecret`. */
  rotateLocally?: boolean;
  /** Vault scenarios: a real Vault, its role, and a token (the CLI reads `VAULT_TOKEN`). */
  vaultAddr?: string;
  vaultRole?: string;
  vaultToken?: string;
}

/** Settings a scenario is set up with (already validated). */
export interface ScenarioSettings extends DrillTargetOptions {
  /** Workers per target: the pools are sized from it. */
  concurrency: number;
  /** How many disruptions the drill will ask for, and how far apart (ms). */
  rotations: number;
  intervalMs: number;
  /** `failover`: how long after `read_only=ON` the proxy flips. */
  flipDelayMs: number;
  /** Lines for the user (progress). Never a secret. */
  log(line: string): void;
}

/** A scenario, set up and ready. Obtained from a scenario module's `setup()`. */
export interface Scenario {
  readonly name: ScenarioName;
  /** True when everything runs on throwaway servers and emulators. */
  readonly embedded: boolean;
  readonly kind: 'rotation' | 'failover';
  /** What the load runs. */
  readonly statements: DrillStatements;
  /** Builds the credswap pool (once). */
  createCredswapPool(): Promise<CredswapTarget>;
  /** Builds a plain mysql2 pool with credentials read once, as a naive service does. */
  createPlainPool(): Promise<PlainPool>;
  /** Performs disruption `index` (0-based) and resolves with when it started and ended. */
  disrupt(index: number): Promise<DisruptionTimes>;
  /** Removes everything the scenario created (servers, users, files, leases). Idempotent. */
  close(): Promise<void>;
}

/** A module under `lib/drill/scenarios/`: sets its scenario up. */
export type ScenarioSetup = (settings: ScenarioSettings) => Promise<Scenario>;
