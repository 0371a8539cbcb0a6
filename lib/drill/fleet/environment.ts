/**
 * What a fleet drill runs against, set up once in the parent: one database (a throwaway
 * server, or the server of `--mysql`), one emulated secret store, and the rotation. Each
 * scenario that supports `--fleet` has a module here that sets its environment up; the workers
 * get a {@link ProviderSpec} to build their own provider from.
 *
 * @packageDocumentation
 */

import { InvalidOptionError } from '../../errors.js';
import type { DisruptionTimes, DrillStatements, ScenarioName } from '../scenarios/types.js';
import type { DrillServer } from '../scenarios/server.js';
import type { ProviderSpec, WorkerEndpoint } from './protocol.js';
import type { OperationOf } from './store-proxy.js';

/** Workers per process when `--fleet` is given without `--concurrency`: a light load, so that many processes fit a small machine. */
export const DEFAULT_FLEET_CONCURRENCY = 2;
/** The most processes a fleet drill starts. */
export const MAX_FLEET_PROCESSES = 256;

/** The scenarios that run as a fleet. */
export const FLEET_SCENARIOS = ['aws-single-user', 'vault-static'] as const satisfies readonly ScenarioName[];

/** One of {@link FLEET_SCENARIOS}. */
export type FleetScenarioName = (typeof FLEET_SCENARIOS)[number];

/** True when `name` runs as a fleet. */
export function isFleetScenario(name: string): name is FleetScenarioName {
  return (FLEET_SCENARIOS as readonly string[]).includes(name);
}

/**
 * Refuses what a fleet drill cannot do: a scenario without a fleet, a comparison with plain
 * mysql2, a real secret store (a fleet rotates the secret of an emulator it starts).
 *
 * @throws {@link InvalidOptionError} naming the option
 */
export function checkFleetOptions(scenario: ScenarioName, options: { compare?: string; secretId?: string; vaultAddr?: string }): void {
  if (!isFleetScenario(scenario)) {
    throw new InvalidOptionError('fleet', `applies to the ${FLEET_SCENARIOS.join(' and ')} scenarios, not ${scenario}`);
  }
  if (options.compare !== undefined)
    throw new InvalidOptionError('compare', 'cannot be combined with fleet: a fleet runs credswap pools only');
  for (const key of ['secretId', 'vaultAddr'] as const) {
    if (options[key] !== undefined) {
      throw new InvalidOptionError(
        key,
        'cannot be combined with fleet: a fleet drill rotates the secret of an emulated store it starts itself',
      );
    }
  }
}

/** The fleet drill's settings, for its environment. */
export interface FleetSettings {
  scenario: FleetScenarioName;
  /** The server of `--mysql`; a throwaway server otherwise. */
  mysqlUrl: string | undefined;
  /** Time between rotations, ms: the single-user window is held open for a share of it. */
  intervalMs: number;
  /** Lines for the user. Never a secret. */
  log(line: string): void;
}

/** A fleet drill's environment, set up and ready. */
export interface FleetEnvironment {
  /** True when the database is a throwaway server (the store is always emulated). */
  readonly embedded: boolean;
  /** The database; the fleet's connections are counted on it. */
  readonly server: DrillServer;
  /** The database user every worker logs in as (its connections are the fleet's). */
  readonly user: string;
  readonly statements: DrillStatements;
  readonly endpoint: WorkerEndpoint;
  /** The store, as the report names it. */
  readonly store: 'secrets-manager' | 'vault';
  /** The emulator's address: the workers' proxies forward to it. */
  readonly storeUrl: string;
  /** How the store's requests are named. */
  readonly operationOf: OperationOf;
  /** Requests the emulator has received so far, per operation: every client's, the rotation's included. */
  storeCalls(): Record<string, number>;
  /** The provider a worker builds, talking to the store at `storeUrl` (its proxy). */
  providerSpec(storeUrl: string): ProviderSpec;
  /** Values to scrub from anything shown (the emulator's key, the Vault token). */
  readonly secrets: readonly string[];
  /** Rotates once (rotation `index`, 0-based). */
  disrupt(index: number): Promise<DisruptionTimes>;
  /** Removes everything it created. Idempotent. */
  close(): Promise<void>;
}
