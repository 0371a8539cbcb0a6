/**
 * RDS IAM authentication end to end: a credswap pool with RdsIamProvider (the real
 * `@aws-sdk/rds-signer`), over TLS, through the testing kit's RDS IAM front end to a real
 * MariaDB, with a clock the test moves (sinon) so that one test lives through several 15-minute
 * token lifetimes.
 */
import assert from 'node:assert/strict';
import sinon from 'sinon';
import type { RotateEvent } from '../../lib/coordinator.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { createPool, type PromisePool } from '../../lib/mysql2/promise.js';
import { startTestServer } from '../../lib/testing/mariadb.js';
import type { MariaDBServer } from '../../lib/testing/server/admin.js';
import { startRdsIamFrontEnd, type RdsIamBackend, type RdsIamFrontEnd } from '../../lib/testing/rds-iam.js';
import { RDS_IAM_TOKEN_LIFETIME_MS, RdsIamProvider, type RdsIamProviderOptions } from '../../providers/aws/rds-iam.js';

describe('credswap/mysql2 pool with RdsIamProvider', function () {
  this.timeout(120_000);
  let server: MariaDBServer;
  let backend: RdsIamBackend;
  let frontEnd: RdsIamFrontEnd;
  let pool: PromisePool | undefined;
  let clock: sinon.SinonFakeTimers | undefined;

  before(async function () {
    server = await startTestServer();
    const { user, password } = await server.createUser({ prefix: 'iam' });
    backend = { host: server.host, port: server.port, user, password };
  });

  after(async function () {
    await server?.stop();
  });

  beforeEach(async function () {
    frontEnd = await startRdsIamFrontEnd({ backend });
  });

  afterEach(async function () {
    clock?.restore();
    clock = undefined;
    await pool?.end();
    pool = undefined;
    await frontEnd.close();
  });

  /** A pool as the guide shows it, recording rotations and discards. */
  function iamPool(options: Partial<RdsIamProviderOptions> = {}, connectionLimit = 4) {
    const rdsIam = new RdsIamProvider({ ...frontEnd.providerOptions(), ...options });
    const p = createPool({ ...rdsIam.poolOptions(), credentials: rdsIam, connectionLimit });
    const rotations: RotateEvent[] = [];
    const discards: string[] = [];
    p.on('rotate', (event) => rotations.push(event));
    p.pool.on('discard', (_connection, reason) => discards.push(reason));
    pool = p;
    return { pool: p, rotations, discards, signed: sinon.spy(rdsIam, 'getCredentials') };
  }

  it('serves queries across several token lifetimes with one token per lifetime, draining nothing', async function () {
    const start = Date.now();
    clock = sinon.useFakeTimers({ now: start, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const { pool: p, rotations, discards, signed } = iamPool({}, 8);
    const LIFETIMES = 3;
    const STEP_MS = 30_000;
    const idsByLifetime: Array<Set<number>> = Array.from({ length: LIFETIMES }, () => new Set());
    let failed = 0;
    let queries = 0;
    let churned = 0;
    while (Date.now() - start < LIFETIMES * RDS_IAM_TOKEN_LIFETIME_MS) {
      const lifetime = Math.floor((Date.now() - start) / RDS_IAM_TOKEN_LIFETIME_MS);
      // 24 queries at once on a pool of 8: it is full, and requests queue.
      const results = await Promise.allSettled(
        Array.from({ length: 24 }, () => p.query<Array<{ id: number } & import('mysql2').RowDataPacket>>('SELECT CONNECTION_ID() AS id')),
      );
      for (const result of results) {
        queries += 1;
        if (result.status === 'rejected') failed += 1;
        else idsByLifetime[lifetime].add(result.value[0][0].id);
      }
      // Time passes with the pool full and idle (token refreshes fall in here), then a
      // connection dies, so that new logins keep happening all along.
      await clock.tickAsync(STEP_MS);
      const victim = await p.getConnection();
      victim.destroy();
      churned += 1;
    }
    const elapsed = Date.now() - start;
    const stats = frontEnd.stats();
    const tokens = signed.callCount;
    const summary =
      `${queries} queries, ${failed} failed; ${stats.accepted} logins with ${stats.tokens} tokens (${tokens} signed); ` +
      `${stats.closed} sessions closed, ${churned} by the test; discards ${JSON.stringify(countBy(discards))}`;
    assert.deepEqual(
      discards.filter((reason) => reason === 'make-room'),
      [],
      `no probe login (which would close an idle connection to make room) for a new token: ${summary}`,
    );
    assert.equal(failed, 0);
    assert.equal(stats.refused, 0);
    assert.deepEqual(
      discards.filter((reason) => reason === 'stale' || reason === 'drain-timeout'),
      [],
      'a new token drains nothing',
    );
    await eventually(() => frontEnd.stats().closed === churned + discards.length);
    assert.equal(
      frontEnd.stats().closed,
      churned + discards.length,
      'every session closed was destroyed by the test or discarded by the pool',
    );
    // One token per lifetime: the first, then one before each expiry (60 to 66 s early).
    assert.equal(tokens, 1 + Math.floor(elapsed / (RDS_IAM_TOKEN_LIFETIME_MS - 60_000)), `${tokens} tokens in ${elapsed} ms`);
    assert.equal(rotations.length, tokens, 'each token is a generation');
    assert.equal(stats.tokens, tokens, 'every token signed logged connections in');
    assert.ok(stats.accepted >= churned, `${stats.accepted} logins for ${tokens} tokens`);
    const survivors = [...idsByLifetime[0]].filter((id) => idsByLifetime[1].has(id));
    assert.ok(survivors.length > 0, 'sessions opened with the first token still serve queries after it expired');
  });

  it('after a refused token (1045: expired by the server clock), signs once more and keeps the open connections', async function () {
    const start = Date.now();
    clock = sinon.useFakeTimers({ now: start, toFake: ['Date'] });
    const { pool: p, rotations, discards } = iamPool();
    const held = await p.getConnection();
    // The server's clock is past the token's expiry, and the pool's refresh has not run yet.
    clock.setSystemTime(start + RDS_IAM_TOKEN_LIFETIME_MS + 1_000);
    const [rows] = await p.query<Array<{ one: number } & import('mysql2').RowDataPacket>>('SELECT 1 AS one');
    assert.equal(rows[0].one, 1);
    assert.deepEqual(
      rotations.map((r) => r.reason),
      ['initial', 'rejected'],
      'one new token for the refusal',
    );
    assert.deepEqual(frontEnd.stats().refusals, { expired: 1 });
    const [own] = await held.query<Array<{ id: number } & import('mysql2').RowDataPacket>>('SELECT CONNECTION_ID() AS id');
    assert.equal(own[0].id, held.threadId, 'the connection opened with the expired token still works');
    held.release();
    assert.deepEqual(discards, [], 'and it stays in the pool');
  });

  it('with a forged token (wrong AWS secret key) fails with 1045 after signing once more, not once per login', async function () {
    const forged = { ...frontEnd.providerOptions().credentials, secretAccessKey: 'not-the-key' };
    const { pool: p, signed } = iamPool({ credentials: forged });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => p.query('SELECT 1')));
    for (const result of results) {
      assert.equal(result.status, 'rejected');
      assert.equal((result.reason as { errno?: number }).errno, 1045);
    }
    assert.equal(signed.callCount, 2, 'the first token and one more');
    assert.ok((frontEnd.stats().refusals['bad-signature'] ?? 0) <= 3, JSON.stringify(frontEnd.stats().refusals));
  });

  it('never sends the token over plain TCP unless allowed: the login fails with InvalidOptionError naming ssl', async function () {
    const plain = await startRdsIamFrontEnd({ backend, tls: false });
    try {
      const { allowPlainTcpOnLoopback: _allowed, ...options } = plain.providerOptions();
      const rdsIam = new RdsIamProvider(options);
      const { ssl: _ssl, ...withoutTls } = rdsIam.poolOptions();
      pool = createPool({ ...withoutTls, credentials: rdsIam, connectionLimit: 1 });
      await assert.rejects(pool.query('SELECT 1'), (e: unknown) => e instanceof InvalidOptionError && e.option === 'ssl');
      assert.deepEqual(
        { accepted: plain.stats().accepted, refused: plain.stats().refused },
        { accepted: 0, refused: 0 },
        'no token arrived',
      );
    } finally {
      await pool?.end();
      pool = undefined;
      await plain.close();
    }
  });
});

async function eventually(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
