/**
 * `credswap drill` for programs: run a drill and render its report. The command line is
 * `lib/drill/cli.ts` (the package's `credswap` bin).
 *
 * @example
 * ```ts
 * import { runDrill, renderTable } from 'credswap/drill';
 *
 * const report = await runDrill({ scenario: 'function', durationMs: 5_000, compare: 'mysql2' });
 * console.log(renderTable(report));
 * ```
 *
 * @packageDocumentation
 */

export {
  runDrill,
  resolveDrillOptions,
  DEFAULT_DRILL_DURATION_MS,
  DEFAULT_DRILL_CONCURRENCY,
  DEFAULT_DRILL_WRITE_RATIO,
  DEFAULT_DRILL_ROTATIONS,
  DEFAULT_DRILL_FLIP_DELAY_MS,
  DEFAULT_DRILL_CHURN_PER_SECOND,
} from './run.js';
export type { DrillOptions, DrillHooks, ResolvedDrillOptions } from './run.js';
export { SCENARIO_NAMES } from './scenarios/types.js';
export type { ScenarioName, DrillTargetOptions } from './scenarios/types.js';
export { summarize, buildReport, FAILOVER_SETTLE_MS } from './report.js';
export type { DrillReport, TargetReport, TargetStats, DrillWindow } from './report.js';
export { renderTable, renderJson, createProgress } from './render.js';
export { validateReport } from './validate.js';
export { redactUrl } from './redact.js';
export { DrillTargetError } from './errors.js';
