import assert from 'node:assert/strict';
import { connectExternal } from '../../../lib/testing/server/external.js';

describe('testing/server/external', function () {
  it('refuses a server that is not on a loopback address, without showing the password', async function () {
    await assert.rejects(connectExternal('mysql://root:hunter22@db.example.com:3306/'), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /loopback address .* not db\.example\.com$/);
      assert.doesNotMatch(error.message, /hunter22/);
      return true;
    });
  });

  it('refuses a URL of another scheme than mysql:// or mariadb://', async function () {
    await assert.rejects(connectExternal('postgres://root@127.0.0.1/'), /must start with mysql:\/\/ or mariadb:\/\//);
  });

  it('refuses a URL it cannot parse, without showing it', async function () {
    await assert.rejects(connectExternal('mysql://root:hunter22@127.0.0.1:99999/'), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /^MYSQL_URL is not a valid URL/);
      assert.doesNotMatch(error.message, /hunter22/);
      return true;
    });
  });
});
