/**
 * The errors of `credswap/drill`.
 *
 * @packageDocumentation
 */

import { CredswapError, defineCode } from '../errors.js';

/**
 * `credswap drill` could not reach or prepare what it was pointed at: the MySQL server of
 * `--mysql`, the secret of `--secret-id`, the Vault of `--vault-addr`. `target` names it (a URL
 * with its password redacted, a secret id, a Vault path), never a secret value; `cause` is
 * what failed underneath.
 *
 * @example
 * ```ts
 * try {
 *   await runDrill({ scenario: 'function', mysqlUrl: 'mysql://admin:secret@db.staging:3306/' });
 * } catch (error) {
 *   if (error instanceof DrillTargetError) console.error(error.target, error.message);
 * }
 * ```
 */
export class DrillTargetError extends CredswapError {
  readonly target: string;

  constructor(target: string, problem: string, options?: { cause?: unknown }) {
    super('CREDSWAP_DRILL_TARGET_FAILED', `credswap: drill target ${target}: ${problem}`, options);
    this.target = target;
  }
}
defineCode(DrillTargetError, 'CREDSWAP_DRILL_TARGET_FAILED', 'DrillTargetError');
