/**
 * lib/options.ts: the misspelling check that stands between credswap's own options and the keys
 * it passes to mysql2 unchecked, and the checks of single values.
 */
import assert from 'node:assert/strict';
import { InvalidOptionError } from '../lib/errors.js';
import { editDistance, inRange, misspeltKey, rejectMisspeltKeys, rejectUnknownKeys } from '../lib/options.js';
import { CREDSWAP_POOL_KEYS } from '../lib/mysql2/pool-options.js';

describe('options', function () {
  describe('editDistance', function () {
    for (const [a, b, distance] of [
      ['', '', 0],
      ['', 'abc', 3],
      ['rotation', 'rotation', 0],
      ['rotation', 'rotations', 1],
      ['credential', 'credentials', 1],
      ['rotaiton', 'rotation', 2],
      ['kitten', 'sitting', 3],
      ['port', 'pool', 2],
    ] as const) {
      it(`'${a}' and '${b}' are ${distance} apart, either way round`, function () {
        assert.equal(editDistance(a, b), distance);
        assert.equal(editDistance(b, a), distance);
      });
    }
  });

  describe('misspeltKey', function () {
    const own = CREDSWAP_POOL_KEYS;
    for (const [key, meant] of [
      ['credential', 'credentials'],
      ['Credentials', 'credentials'],
      ['CREDENTIALS', 'credentials'],
      ['credentails', 'credentials'],
      ['rotations', 'rotation'],
      ['Rotation', 'rotation'],
      ['rejectReadonly', 'rejectReadOnly'],
      ['rejectReadOnlY', 'rejectReadOnly'],
      ['failovr', 'failover'],
      ['Failover', 'failover'],
      ['maxLifetimeMS', 'maxLifetimeMs'],
      ['maxLifetime', 'maxLifetimeMs'],
    ] as const) {
      it(`takes '${key}' for '${meant}'`, function () {
        assert.equal(misspeltKey(key, own), meant);
      });
    }

    for (const key of ['credentials', 'rotation', 'host', 'port', 'jsonStrings', 'fooBar', 'credentialsProvider', 'rotate', 'readOnly']) {
      it(`leaves '${key}' alone`, function () {
        assert.equal(misspeltKey(key, own), undefined);
      });
    }

    it('picks the nearest candidate, and the first listed on a tie', function () {
      assert.equal(misspeltKey('abcd', ['abxy', 'abcx']), 'abcx');
      assert.equal(misspeltKey('abcd', ['abcx', 'abcy']), 'abcx');
    });
  });

  describe('rejectMisspeltKeys', function () {
    it('throws an InvalidOptionError naming the key and the credswap key it looks like', function () {
      assert.throws(
        () => rejectMisspeltKeys({ host: 'db', credential: async () => undefined }, CREDSWAP_POOL_KEYS, ''),
        (error: unknown) => {
          assert.ok(error instanceof InvalidOptionError);
          assert.equal(error.option, 'credential');
          assert.equal(error.message, "credswap: option 'credential' is not a known option (did you mean 'credentials'?)");
          return true;
        },
      );
    });

    it('passes credswap keys, and keys it does not know that look like none of them', function () {
      rejectMisspeltKeys({ credentials: 1, rotation: {}, host: 'db', jsonStrings: true, fooBar: 1 }, CREDSWAP_POOL_KEYS, '');
    });
  });

  describe('rejectUnknownKeys', function () {
    const allowed = new Set(['timeoutMs', 'cooldownMs']);

    it('suggests the allowed key an unknown one is close to, with its path', function () {
      assert.throws(
        () => rejectUnknownKeys({ timeout: 5 }, allowed, 'rotation.'),
        (error: unknown) =>
          error instanceof InvalidOptionError &&
          error.option === 'rotation.timeout' &&
          error.message === "credswap: option 'rotation.timeout' is not a known option (did you mean 'rotation.timeoutMs'?)",
      );
    });

    it('suggests nothing when no allowed key is close', function () {
      assert.throws(
        () => rejectUnknownKeys({ colour: 'red' }, allowed, ''),
        (error: unknown) => error instanceof InvalidOptionError && error.message === "credswap: option 'colour' is not a known option",
      );
    });
  });

  describe('inRange', function () {
    /** Asserts that checking `value` throws an InvalidOptionError naming `pool.size`, with `message`. */
    function rejects(value: unknown, range: Parameters<typeof inRange>[4], message: string): void {
      assert.throws(
        () => inRange({ size: value }, 'size', 'pool.', 1, range),
        (error: unknown) => {
          assert.ok(error instanceof InvalidOptionError);
          assert.equal(error.option, 'pool.size');
          assert.equal(error.message, `credswap: option 'pool.size' ${message}`);
          return true;
        },
      );
    }

    it('returns the fallback when the option is not given', function () {
      assert.equal(inRange({}, 'size', 'pool.', 7, { min: 1, max: 10 }), 7);
    });

    it('accepts both bounds and what lies between, an explicit 0 included', function () {
      for (const value of [0, 0.25, 1]) assert.equal(inRange({ ratio: value }, 'ratio', '', 0.5, { min: 0, max: 1 }), value);
    });

    it('names the bounds of a number outside them', function () {
      rejects(0, { min: 1, max: 10 }, 'must be from 1 to 10');
      rejects(10.5, { min: 1, max: 10 }, 'must be from 1 to 10');
      rejects(-1, { min: 0, max: 1 }, 'must be from 0 to 1');
    });

    it('rejects what is not a finite number, by its type and never its value', function () {
      rejects('hunter2', { min: 0, max: 1 }, 'must be a finite number, got string');
      rejects(Number.NaN, { min: 0, max: 1 }, 'must be a finite number, got number');
      rejects(Number.POSITIVE_INFINITY, { min: 0, max: Number.POSITIVE_INFINITY }, 'must be a finite number, got number');
      rejects(null, { min: 0, max: 1 }, 'must be a finite number, got null');
    });

    it('with integer, rejects a fraction', function () {
      assert.equal(inRange({ size: 4 }, 'size', 'pool.', 1, { min: 1, max: 10, integer: true }), 4);
      rejects(1.5, { min: 1, max: 10, integer: true }, 'must be an integer, got number');
    });

    it('names the unit in the message of a wrong type', function () {
      rejects('100', { min: 0, max: 1000, unit: 'milliseconds' }, 'must be a finite number of milliseconds, got string');
    });
  });
});
