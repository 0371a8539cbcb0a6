/**
 * Lockout-safe logins in the pools Sequelize and Knex own: a rotation storm (the password
 * changed, every session killed, many queries queued) costs at most two refused logins as the
 * server counts them, fails no query and never locks an account; an account the server refuses
 * whatever its password is reported as such, without asking the provider again.
 */
import assert from 'node:assert/strict';
import knex, { type Knex } from 'knex';
import { Sequelize } from 'sequelize';
import type { HotSwapFunction } from '../../lib/provider.js';
import { AccountUnavailableError } from '../../lib/errors.js';
import { attachCredentials } from '../../lib/integrations/sequelize.js';
import { knexConnection } from '../../lib/integrations/knex.js';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import { eventually } from '../helpers/load.js';
import { killSessionsOf, lockingUser, refusedLogins } from '../helpers/lockout.js';
import { describeEachFlavour, startServer } from '../helpers/servers.js';

/** What an ORM under test offers the storm: queries, its open connections, and closing it. */
interface Orm {
  query(i: number): Promise<unknown>;
  /** Connections open, logging in included. */
  open(): number;
  /** Connections idle (logged in). */
  idle(): number;
  close(): Promise<unknown>;
}

const MAX = 10;
const QUEUED = 200;

describeEachFlavour('ORM-owned pools: logins that never lock an account', (flavour) => {
  let server: MariaDBServer;
  const closing: Array<() => Promise<unknown>> = [];

  before(async function () {
    server = await startServer(flavour);
    // MariaDB blocks an account after 3 refused logins in a row: a global setting.
    if (flavour === 'mariadb') await server.query('SET GLOBAL max_password_errors = 3');
  });

  after(async () => {
    await server?.stop();
  });

  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });

  function sequelizeOn(credentials: HotSwapFunction): Orm {
    const db = new Sequelize({ dialect: 'mysql', host: server.host, port: server.port, logging: false, pool: { max: MAX } });
    attachCredentials(db, { credentials });
    closing.push(() => db.close());
    const pool = (db.connectionManager as unknown as { pool: { size: number; available: number } }).pool;
    return { query: (i) => db.query(`SELECT ${i} AS i`), open: () => pool.size, idle: () => pool.available, close: () => db.close() };
  }

  function knexOn(credentials: HotSwapFunction): Orm {
    const connection = knexConnection({ host: server.host, port: server.port, credentials });
    const db: Knex = knex({
      client: 'mysql2',
      connection,
      pool: connection.pool({ min: 0, max: MAX }),
      acquireConnectionTimeout: 10_000,
      log: { warn() {} },
    });
    closing.push(() => db.destroy());
    // tarn finds out that a connection died only when it next validates it: count the live ones.
    const pool = db.client.pool as unknown as {
      numUsed(): number;
      numPendingCreates(): number;
      free: Array<{ resource: { stream: { destroyed: boolean } } }>;
    };
    const idle = () => pool.free.filter((f) => !f.resource.stream.destroyed).length;
    const open = () => pool.numUsed() + pool.numPendingCreates() + idle();
    return { query: (i) => db.raw('SELECT ? AS i', [i]), open, idle, close: () => db.destroy() };
  }

  for (const [name, make] of [
    ['Sequelize', sequelizeOn],
    ['Knex (knexConnection)', knexOn],
  ] as const) {
    it(`${name}: a password change and killed sessions with ${QUEUED} queued queries cost at most 2 refused logins, fail none and lock nothing`, async function () {
      const account = await lockingUser(server, 'storm');
      let secret = account.password;
      let providerCalls = 0;
      const orm = make(async () => {
        providerCalls += 1;
        return { user: account.user, password: secret };
      });
      await Promise.all(Array.from({ length: MAX }, (_, i) => orm.query(i)));
      // The pool opens a connection for each query that waited, even when another one's
      // connection served it first: let those logins finish before the password changes.
      await eventually(() => orm.idle() === MAX, 5_000, 'every connection of the warm-up to log in');

      const before = await refusedLogins(server);
      const next = `n3w-${Math.random().toString(36).slice(2)}`;
      await server.setPassword(account.user, next);
      secret = next;
      await killSessionsOf(server, account.user);
      await eventually(() => orm.open() === 0, 5_000, 'the pool to see its sessions killed');
      const results = await Promise.allSettled(Array.from({ length: QUEUED }, (_, i) => orm.query(i)));
      const refused = (await refusedLogins(server)) - before;

      if (process.env.CREDSWAP_FIGURES) console.log(JSON.stringify({ flavour, orm: name, refusedLogins: refused, providerCalls }));
      const failed = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
      assert.deepEqual(failed, []);
      assert.ok(refused <= 2, `${refused} refused logins`);
      assert.equal(providerCalls, 2, 'the first fetch and one rotation');
      // Not blocked or locked: a fresh login with the new password works.
      await orm.close();
      const fresh = make(async () => ({ user: account.user, password: secret }));
      await fresh.query(1);
    });

    it(`${name}: a locked account fails with AccountUnavailableError naming the user, without asking the provider again`, async function () {
      const account = await server.createUser({ prefix: 'acct' });
      let providerCalls = 0;
      const orm = make(async () => {
        providerCalls += 1;
        return { user: account.user, password: account.password };
      });
      for (const host of ['%', 'localhost']) await server.query(`ALTER USER ?@? ACCOUNT LOCK`, [account.user, host]);
      const error = await orm.query(1).then(
        () => assert.fail('expected the account to be refused'),
        (e: unknown) => e,
      );
      const unavailable = findCause(error, AccountUnavailableError);
      assert.ok(unavailable, `an AccountUnavailableError: ${String(error)}`);
      assert.equal(unavailable.user, account.user);
      assert.equal(unavailable.problem, 'locked');
      assert.ok(!String((error as Error).message).includes(account.password));
      assert.equal(providerCalls, 1, 'only the first fetch');
    });
  }
});

/** `error` or the error it wraps (Sequelize's `parent`, `cause`) when it is a `type`. */
function findCause<T>(error: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    if (e instanceof type) return e;
    e = (e as { parent?: unknown; cause?: unknown }).parent ?? (e as { cause?: unknown }).cause;
  }
  return undefined;
}
