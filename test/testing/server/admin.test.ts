import assert from 'node:assert/strict';
import { uniqueName } from '../../../lib/testing/server/admin.js';

describe('testing/server/admin', function () {
  it('names databases and users with the prefix and a random suffix', function () {
    const [first, second] = [uniqueName('shop', 'prefix'), uniqueName('shop', 'prefix')];

    assert.match(first, /^shop_[0-9a-f]{8}$/);
    assert.notEqual(first, second);
  });

  it('rejects a prefix that would need quoting with a TypeError naming the option', function () {
    for (const prefix of ['', '1st', 'a-b', 'x'.repeat(21), 'a`b']) {
      assert.throws(() => uniqueName(prefix, 'options.prefix'), /^TypeError: options\.prefix must be 1 to 20 letters/, prefix);
    }
  });
});
