import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { canConnect, freePort, LOOPBACK } from '../../../lib/testing/server/ports.js';

describe('testing/server/ports', function () {
  it('finds a port that a server can listen on at 127.0.0.1', async function () {
    const port = await freePort();
    const server = net.createServer().listen(port, LOOPBACK);
    try {
      await once(server, 'listening');

      assert.equal(await canConnect(port), true);
    } finally {
      server.close();
    }
  });

  it('tells that nothing listens on a port', async function () {
    assert.equal(await canConnect(await freePort()), false);
  });
});
