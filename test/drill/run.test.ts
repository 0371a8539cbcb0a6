/**
 * lib/drill/run.ts: the checks of a drill's options, run before anything starts. (The drills
 * themselves run in scenarios.test.ts and cli.test.ts.)
 */
import assert from 'node:assert/strict';
import {
  DEFAULT_DRILL_CHURN_PER_SECOND,
  DEFAULT_DRILL_CONCURRENCY,
  DEFAULT_DRILL_DURATION_MS,
  DEFAULT_DRILL_FLIP_DELAY_MS,
  DEFAULT_DRILL_ROTATIONS,
  resolveDrillOptions,
  type DrillOptions,
} from '../../lib/drill/run.js';
import { InvalidOptionError } from '../../lib/errors.js';

/** Asserts that `options` are refused with an InvalidOptionError naming `option`, with `problem`. */
function refused(options: unknown, option: string, problem: RegExp): void {
  assert.throws(
    () => resolveDrillOptions(options as DrillOptions),
    (error: unknown) => {
      assert.ok(error instanceof InvalidOptionError, String(error));
      assert.equal(error.option, option);
      assert.match(error.message, problem);
      return true;
    },
  );
}

describe('resolveDrillOptions', function () {
  it('applies the defaults, and spaces the rotations evenly over the run', function () {
    const resolved = resolveDrillOptions({ scenario: 'function' });
    assert.deepEqual(
      { ...resolved, options: undefined },
      {
        scenario: 'function',
        durationMs: DEFAULT_DRILL_DURATION_MS,
        concurrency: DEFAULT_DRILL_CONCURRENCY,
        rotations: DEFAULT_DRILL_ROTATIONS,
        flipDelayMs: DEFAULT_DRILL_FLIP_DELAY_MS,
        churnPerSecond: DEFAULT_DRILL_CHURN_PER_SECOND,
        writeRatio: undefined,
        intervalMs: DEFAULT_DRILL_DURATION_MS / (DEFAULT_DRILL_ROTATIONS + 1),
        options: undefined,
      },
    );
  });

  it('keeps an explicit 0 where 0 is allowed', function () {
    const resolved = resolveDrillOptions({ scenario: 'function', writeRatio: 0, churnPerSecond: 0, flipDelayMs: 0 });
    assert.equal(resolved.writeRatio, 0);
    assert.equal(resolved.churnPerSecond, 0);
    assert.equal(resolved.flipDelayMs, 0);
  });

  it('refuses what is not an options object, an unknown option and a missing or unknown scenario', function () {
    refused(null, 'options', /must be an object/);
    refused({ scenario: 'function', duration: 5_000 }, 'duration', /is not a known option \(did you mean 'durationMs'\?\)/);
    refused({}, 'scenario', /is required/);
    refused({ scenario: 'kafka' }, 'scenario', /must be one of 'function', 'file'/);
  });

  it('refuses numbers out of range or of the wrong kind, naming the option', function () {
    refused({ scenario: 'function', durationMs: 499 }, 'durationMs', /must be at least 500/);
    refused({ scenario: 'function', durationMs: '10s' }, 'durationMs', /must be a finite number of milliseconds/);
    refused({ scenario: 'function', concurrency: 0 }, 'concurrency', /must be from 1 to 1000/);
    refused({ scenario: 'function', concurrency: 2.5 }, 'concurrency', /must be an integer/);
    refused({ scenario: 'function', rotations: 101 }, 'rotations', /must be from 1 to 100/);
    refused({ scenario: 'function', writeRatio: 5 }, 'writeRatio', /must be from 0 to 1/);
    refused({ scenario: 'function', churnPerSecond: Number.NaN }, 'churnPerSecond', /must be a finite number/);
    refused({ scenario: 'function', flipDelayMs: -1 }, 'flipDelayMs', /must not be negative/);
    refused({ scenario: 'function', compare: 'pg' }, 'compare', /must be one of 'mysql2'/);
  });

  it('refuses options that do not go together', function () {
    refused({ scenario: 'failover', mysqlUrl: 'mysql://root:pw@db/' }, 'mysqlUrl', /cannot be used with failover/);
    refused(
      { scenario: 'failover', durationMs: 2_000, flipDelayMs: 1_000 },
      'flipDelayMs',
      /must be shorter than the time between failovers/,
    );
    refused({ scenario: 'function', secretId: 'prod/db' }, 'secretId', /applies to the aws-single-user and aws-alternating scenarios/);
    refused({ scenario: 'aws-single-user', region: 'eu-west-1' }, 'region', /needs secretId/);
    refused({ scenario: 'aws-single-user', rotateLocally: true }, 'rotateLocally', /needs secretId/);
    refused(
      { scenario: 'function', vaultAddr: 'http://127.0.0.1:8200' },
      'vaultAddr',
      /applies to the vault-dynamic and vault-static scenarios/,
    );
    refused({ scenario: 'vault-static', vaultRole: 'app' }, 'vaultRole', /needs vaultAddr/);
  });
});
