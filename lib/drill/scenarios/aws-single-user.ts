/**
 * Scenario `aws-single-user`: the secret's one user changes its own password through a
 * Secrets Manager rotation (`RotateSecret` running credswap's rotation handler), with the
 * window between `setSecret` and `finishSecret` held open, in which the database has the new
 * password and AWSCURRENT still the old one. credswap reads AWSPENDING when a login is refused;
 * a plain pool fails every new connection from then on.
 *
 * @packageDocumentation
 */

import { setupAws } from './aws.js';
import type { Scenario, ScenarioSettings } from './types.js';

/** Sets the `aws-single-user` scenario up (embedded, or the secret of `--secret-id`). */
export function setup(settings: ScenarioSettings): Promise<Scenario> {
  return setupAws('aws-single-user', 'single-user', settings);
}
