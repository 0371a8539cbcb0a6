import assert from 'node:assert/strict';
import { isLoopback } from '../lib/loopback.js';

describe('isLoopback', function () {
  it('accepts localhost, 127.0.0.0/8, ::1 and IPv4-mapped 127.x, bracketed or not, in any case', function () {
    for (const host of ['localhost', 'LocalHost', '127.0.0.1', '127.255.0.9', '::1', '[::1]', '::ffff:127.0.0.1', '[::FFFF:127.1.2.3]']) {
      assert.equal(isLoopback(host), true, host);
    }
  });

  it('refuses every other address and name, without resolving names', function () {
    for (const host of [
      '10.0.0.1',
      '192.168.1.1',
      '128.0.0.1',
      '0.0.0.0',
      '::',
      '::2',
      '::ffff:10.0.0.1',
      'db.internal',
      'localhost.example.com',
      '127.0.0.1.nip.io',
      '',
    ]) {
      assert.equal(isLoopback(host), false, host);
    }
  });
});
