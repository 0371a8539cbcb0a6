/**
 * Scenario `vault-static`: credentials from a Vault static role; each rotation is
 * `database/rotate-role/<role>`, which changes the account's password in place. credswap
 * re-reads the role when a login is refused; a plain pool fails every new connection.
 *
 * @packageDocumentation
 */

import { setupVault } from './vault.js';
import type { Scenario, ScenarioSettings } from './types.js';

/** Sets the `vault-static` scenario up (embedded, or the role of `--vault-addr`/`--vault-role`). */
export function setup(settings: ScenarioSettings): Promise<Scenario> {
  return setupVault('vault-static', 'static', settings);
}
