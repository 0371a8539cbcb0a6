/**
 * lib/drill/args.ts: the command line of `credswap drill` turned into drill options, and usage
 * errors that name the flag a user typed.
 */
import assert from 'node:assert/strict';
import { DEFAULT_SCENARIO, parseDrillArgs, parseDuration, usageMessage } from '../../lib/drill/args.js';
import { InvalidOptionError } from '../../lib/errors.js';

describe('credswap drill arguments', function () {
  it('without a scenario: aws-single-user compared with mysql2', function () {
    const parsed = parseDrillArgs([]);
    assert.equal(DEFAULT_SCENARIO, 'aws-single-user');
    assert.deepEqual(parsed.options, { scenario: 'aws-single-user', compare: 'mysql2' });
    assert.equal(parsed.scenarioNamed, false);
    assert.equal(parseDrillArgs(['aws-single-user']).scenarioNamed, true);
  });

  it('reads durations as 500ms, 10s, 2m or seconds', function () {
    assert.deepEqual(
      ['500ms', '10s', '2m', '3'].map((t) => parseDuration(t, '--duration')),
      [500, 10_000, 120_000, 3_000],
    );
    assert.throws(() => parseDuration('soon', '--duration'), /'--duration'/);
  });

  it('turns every flag into its drill option', function () {
    const { options, json } = parseDrillArgs(
      [
        'aws-alternating',
        '--duration',
        '2m',
        '--concurrency',
        '4',
        '--write-ratio',
        '0.5',
        '--rotations',
        '3',
        '--flip-delay',
        '500ms',
        '--churn',
        '1.5',
        '--compare',
        'none',
        '--json',
      ],
      {},
    );
    assert.deepEqual(options, {
      scenario: 'aws-alternating',
      durationMs: 120_000,
      concurrency: 4,
      writeRatio: 0.5,
      rotations: 3,
      flipDelayMs: 500,
      churnPerSecond: 1.5,
    });
    assert.equal(json, true);
  });

  it('takes the Vault token from VAULT_TOKEN only', function () {
    const { options } = parseDrillArgs(['vault-static', '--vault-addr', 'http://127.0.0.1:8200', '--vault-role', 'app'], {
      VAULT_TOKEN: 't0k',
    });
    assert.equal(options.vaultToken, 't0k');
    assert.throws(() => parseDrillArgs(['vault-static', '--vault-token', 'x']), /'--vault-token'/);
  });

  it('names the flag of a bad value, never quoting the value', function () {
    assert.throws(
      () => parseDrillArgs(['function', '--concurrency', 'many-s3cret']),
      (error: unknown) => error instanceof InvalidOptionError && error.option === '--concurrency' && !error.message.includes('s3cret'),
    );
  });

  it('shows an option by the flag a user typed in usage errors', function () {
    assert.equal(usageMessage(new InvalidOptionError('writeRatio', 'must be from 0 to 1')), "'--write-ratio' must be from 0 to 1");
    assert.equal(usageMessage(new InvalidOptionError('vaultToken', 'is required')), "'VAULT_TOKEN' is required");
    assert.equal(
      usageMessage(new InvalidOptionError('--bogus', 'is not an option of credswap drill (see --help)')),
      "'--bogus' is not an option of credswap drill (see --help)",
    );
  });
});
