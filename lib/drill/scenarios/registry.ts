/**
 * The drill's scenarios by name. Each module is required only when its scenario runs, so that a
 * drill that needs neither AWS nor Vault never loads their SDKs (or needs them installed).
 *
 * @packageDocumentation
 */

import type { ScenarioName, ScenarioSetup } from './types.js';

/** Loads the setup function of scenario `name`. */
export function loadScenario(name: ScenarioName): ScenarioSetup {
  switch (name) {
    case 'function':
      return (require('./function.js') as typeof import('./function.js')).setup;
    case 'file':
      return (require('./file.js') as typeof import('./file.js')).setup;
    case 'aws-single-user':
      return (require('./aws-single-user.js') as typeof import('./aws-single-user.js')).setup;
    case 'aws-alternating':
      return (require('./aws-alternating.js') as typeof import('./aws-alternating.js')).setup;
    case 'aws-dual-password':
      return (require('./aws-dual-password.js') as typeof import('./aws-dual-password.js')).setup;
    case 'vault-dynamic':
      return (require('./vault-dynamic.js') as typeof import('./vault-dynamic.js')).setup;
    case 'vault-static':
      return (require('./vault-static.js') as typeof import('./vault-static.js')).setup;
    case 'failover':
      return (require('./failover.js') as typeof import('./failover.js')).setup;
    case 'rds-iam':
      return (require('./rds-iam.js') as typeof import('./rds-iam.js')).setup;
  }
}
