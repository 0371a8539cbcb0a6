/**
 * Scenario `aws-alternating`: a Secrets Manager rotation with alternating users
 * (`RotateSecret` running credswap's rotation handler as an administrator): each rotation gives
 * the other user (`<user>` / `<user>_clone`) a new password and moves AWSCURRENT to it. credswap
 * follows AWSCURRENT and drains the old user's connections; a plain pool keeps the old user,
 * which works until the rotation after next changes its password.
 *
 * @packageDocumentation
 */

import { setupAws } from './aws.js';
import type { Scenario, ScenarioSettings } from './types.js';

/** Sets the `aws-alternating` scenario up (embedded, or the secret of `--secret-id`). */
export function setup(settings: ScenarioSettings): Promise<Scenario> {
  return setupAws('aws-alternating', 'alternating-users', settings);
}
