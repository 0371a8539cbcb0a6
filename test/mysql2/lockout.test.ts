import assert from 'node:assert/strict';
import { AccountUnavailableError } from '../../lib/errors.js';
import { createPool, type Pool } from '../../lib/mysql2/promise.js';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import { eventually } from '../helpers/load.js';
import { killSessionsOf, lockingUser, refusedLogins } from '../helpers/lockout.js';
import { describeEachFlavour, startServer } from '../helpers/servers.js';

describeEachFlavour('credswap/mysql2 pool: logins that never lock an account', (flavour) => {
  let server: MariaDBServer;
  let pool: Pool | undefined;

  before(async function () {
    server = await startServer(flavour);
    // MariaDB blocks an account after 3 refused logins in a row: a global setting. MySQL's
    // FAILED_LOGIN_ATTEMPTS is set on each user (lockingUser).
    if (flavour === 'mariadb') await server.query('SET GLOBAL max_password_errors = 3');
  });

  after(async () => {
    await server?.stop();
  });

  afterEach(async () => {
    await pool?.end();
    pool = undefined;
  });

  for (const connectionLimit of [1, 10]) {
    it(`survives a password change and killed sessions with 200 queued queries (connectionLimit ${connectionLimit}): at most 2 refused logins, none failed, not blocked`, async function () {
      const account = await lockingUser(server, 'lock');
      let secret = account.password;
      let providerCalls = 0;
      pool = createPool({
        host: server.host,
        port: server.port,
        connectionLimit,
        credentials: async () => {
          providerCalls += 1;
          return { user: account.user, password: secret };
        },
      });
      const p = pool;
      await Promise.all(Array.from({ length: connectionLimit }, () => p.query('SELECT 1')));

      const before = await refusedLogins(server);
      const next = `n3w-${Math.random().toString(36).slice(2)}`;
      await server.setPassword(account.user, next);
      secret = next;
      await killSessionsOf(server, account.user);
      await eventually(() => p.stats.total === 0, 5_000, 'the pool to see its sessions killed');
      const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => p.query('SELECT ? AS i', [i])));
      const refused = (await refusedLogins(server)) - before;

      const failed = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
      assert.deepEqual(failed, []);
      assert.ok(refused <= 2, `${refused} refused logins`);
      assert.equal(providerCalls, 2, 'the first fetch and one rotation');
      // Not blocked: a new login with the new password works.
      const [rows] = await p.query<Array<{ u: string }> & import('mysql2').RowDataPacket[]>('SELECT CURRENT_USER() AS u');
      assert.match(rows[0].u, new RegExp(`^${account.user}@`));
    });
  }

  it('tries new credentials with one login first, so a pool that starts with a wrong password is refused once', async function () {
    const account = await lockingUser(server, 'wrong');
    let secret = 'not-the-password';
    pool = createPool({
      host: server.host,
      port: server.port,
      connectionLimit: 10,
      rotation: { cooldownMs: 60_000, maxAttempts: 2 },
      credentials: async () => ({ user: account.user, password: secret }),
    });
    const p = pool;
    const before = await refusedLogins(server);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => p.query('SELECT 1')));
    const refused = (await refusedLogins(server)) - before;
    assert.equal(refused, 1, 'one refused login however many queries wait');
    assert.ok(results.every((r) => r.status === 'rejected'));
    const reason = results[0].reason as Error & { errno?: number };
    assert.equal(reason.errno, 1045);
    // The account is not blocked: the right password still logs in.
    secret = account.password;
    await server.setPassword(account.user, account.password);
  });

  for (const [what, statement, problem] of [
    ['locked', 'ACCOUNT LOCK', 'locked'],
    ['whose password expired', 'PASSWORD EXPIRE', 'password-expired'],
  ] as const) {
    it(`reports an account ${what} as AccountUnavailableError naming the user, without asking the provider again`, async function () {
      const account = await server.createUser({ prefix: 'acct' });
      let providerCalls = 0;
      pool = createPool({
        host: server.host,
        port: server.port,
        credentials: async () => {
          providerCalls += 1;
          return { user: account.user, password: account.password };
        },
      });
      const p = pool;
      for (const host of ['%', 'localhost']) await server.query(`ALTER USER ?@? ${statement}`, [account.user, host]);
      const error = await p.query('SELECT 1').then(
        () => assert.fail('expected the account to be refused'),
        (e: unknown) => e,
      );
      if (flavour === 'mariadb' && problem === 'password-expired') {
        // MariaDB lets the login in (sandbox mode) and refuses the statement: its own error, as is.
        assert.equal((error as { errno?: number }).errno, 1820);
        return;
      }
      assert.ok(error instanceof AccountUnavailableError, String(error));
      assert.equal(error.user, account.user);
      assert.equal(error.problem, problem);
      assert.ok(!error.message.includes(account.password));
      assert.equal(providerCalls, 1, 'only the first fetch');
    });
  }
});
