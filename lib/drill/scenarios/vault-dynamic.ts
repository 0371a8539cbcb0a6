/**
 * Scenario `vault-dynamic`: credentials from Vault's database secrets engine, one user per
 * lease. Leases end after a few seconds (embedded: the role's `max_ttl` follows the drill's
 * interval), so each rotation is the pool moving to a new lease's user and the old lease being
 * revoked once its connections are drained. A plain pool keeps its first lease's user, which
 * Vault drops when that lease ends.
 *
 * @packageDocumentation
 */

import { setupVault } from './vault.js';
import type { Scenario, ScenarioSettings } from './types.js';

/** Sets the `vault-dynamic` scenario up (embedded, or the role of `--vault-addr`/`--vault-role`). */
export function setup(settings: ScenarioSettings): Promise<Scenario> {
  return setupVault('vault-dynamic', 'dynamic', settings);
}
