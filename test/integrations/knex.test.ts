/**
 * credswap/knex's options, secrets and lifecycle. Rotation and failover under load through
 * Knex are in test/orm/knex.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { inspect } from 'node:util';
import knex from 'knex';
import { RotationCoordinator } from '../../lib/coordinator.js';
import type { Credentials } from '../../lib/credentials.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { knexConnection, type KnexConnectionOptions } from '../../lib/integrations/knex.js';
import { type MariaDBServer, startTestServer } from '../../lib/testing/mariadb.js';
import { runToExit } from '../helpers/child.js';

const SECRET = 'pa55-Wörd-that-must-not-leak';
const hotSwap = async (): Promise<Credentials> => ({ user: 'app', password: SECRET });

describe('credswap/knex', function () {
  describe('options', function () {
    const cases: Array<[string, () => unknown, string]> = [
      ['a misspelt credswap option', () => knexConnection({ credentials: hotSwap, cordinator: {} } as KnexConnectionOptions), 'cordinator'],
      [
        'a credswap option in another case',
        () => knexConnection({ credentials: hotSwap, RejectReadOnly: false } as KnexConnectionOptions),
        'RejectReadOnly',
      ],
      ['a misspelt credentials', () => knexConnection({ credential: hotSwap } as KnexConnectionOptions), 'credential'],
      [
        'maxLifetimeMs (a pool option)',
        () => knexConnection({ credentials: hotSwap, maxLifetimeMs: 1 } as KnexConnectionOptions),
        'maxLifetimeMs',
      ],
      [
        "failover's periodic check (credswap's pool only)",
        () => knexConnection({ credentials: hotSwap, failover: { checkIntervalMs: 1_000 } } as KnexConnectionOptions),
        'failover.checkIntervalMs',
      ],
      ['a negative failover.waitMs', () => knexConnection({ credentials: hotSwap, failover: { waitMs: -1 } }), 'failover.waitMs'],
      [
        'failover with rejectReadOnly: false',
        () => knexConnection({ credentials: hotSwap, rejectReadOnly: false, failover: { waitMs: 100 } }),
        'failover',
      ],
      [
        'a password next to credentials',
        () => knexConnection({ credentials: hotSwap, password: SECRET } as KnexConnectionOptions),
        'password',
      ],
      ['neither credentials nor coordinator', () => knexConnection({ host: 'db' }), 'credentials'],
      [
        'both credentials and a coordinator',
        () => knexConnection({ credentials: hotSwap, coordinator: new RotationCoordinator({ provider: hotSwap }) }),
        'coordinator',
      ],
      [
        'rotation with a coordinator',
        () => knexConnection({ coordinator: new RotationCoordinator({ provider: hotSwap }), rotation: {} }),
        'rotation',
      ],
      ['a coordinator that is not one', () => knexConnection({ coordinator: {} as RotationCoordinator }), 'coordinator'],
      [
        'an unknown rotation option',
        () => knexConnection({ credentials: hotSwap, rotation: { drain: 'force' } as object }),
        'rotation.drain',
      ],
      ['a negative rotation timeout', () => knexConnection({ credentials: hotSwap, rotation: { timeoutMs: -1 } }), 'rotation.timeoutMs'],
      ['a port that is not a number', () => knexConnection({ credentials: hotSwap, port: 'x' as unknown as number }), 'port'],
      ['a pool option (Knex sizes its pool)', () => knexConnection({ credentials: hotSwap, connectionLimit: 5 }), 'connectionLimit'],
      [
        'a uri (it could carry a password)',
        () => knexConnection({ credentials: hotSwap, uri: `mysql://app:${SECRET}@db/app` } as KnexConnectionOptions),
        'uri',
      ],
      [
        'credentials that are not a provider',
        () => knexConnection({ credentials: { user: 'app', password: SECRET } as never }),
        'credentials',
      ],
      [
        'rejectReadOnly that is not a boolean',
        () => knexConnection({ credentials: hotSwap, rejectReadOnly: 'yes' as never }),
        'rejectReadOnly',
      ],
      [
        'a pool hook that is not a function',
        () => knexConnection({ credentials: hotSwap }).pool({ validate: 'yes' as never }),
        'pool.validate',
      ],
    ];
    for (const [what, make, option] of cases) {
      it(`rejects ${what} with an InvalidOptionError naming '${option}', never the value`, function () {
        assert.throws(make, (error: unknown) => {
          assert.ok(error instanceof InvalidOptionError);
          assert.ok(error instanceof TypeError);
          assert.equal(error.option, option);
          assert.equal(error.code, 'CREDSWAP_INVALID_OPTION');
          assert.ok(!error.message.includes(SECRET));
          return true;
        });
      });
    }

    it('says which credswap option a misspelt one looks like', function () {
      assert.throws(
        () => knexConnection({ credential: hotSwap } as KnexConnectionOptions),
        /'credential' is not a known option \(did you mean 'credentials'\?\)/,
      );
    });

    it("passes keys that are not credswap's to mysql2 as given, for it to accept or warn about", async function () {
      const connection = knexConnection({ credentials: hotSwap, jsonStrings: true, colour: 'red' } as KnexConnectionOptions);
      const settings = await connection();
      assert.equal(settings.jsonStrings, true);
      assert.equal(settings.colour, 'red');
      await connection.close();
    });

    it("adds its hooks to the user's pool options and calls the user's own after its own", async function () {
      // failover: false, so that afterCreate asks nothing of this connection, which is not one.
      const connection = knexConnection({ credentials: hotSwap, failover: false });
      const calls: string[] = [];
      const pool = connection.pool({
        max: 3,
        afterCreate: (raw, done) => {
          calls.push('afterCreate');
          done(null, raw);
        },
        validate: () => {
          calls.push('validate');
          return true;
        },
      });
      assert.equal(pool.max, 3);
      assert.equal(pool.propagateCreateError, false);
      assert.equal(connection.pool({ propagateCreateError: true }).propagateCreateError, true);
      const raw = { config: { user: 'someone', password: 'else' } };
      await new Promise((resolve, reject) => pool.afterCreate!(raw, (err) => (err ? reject(err) : resolve(undefined))));
      assert.equal(await pool.validate!(raw), true);
      assert.deepEqual(calls, ['afterCreate', 'validate']);
      await connection.close();
    });
  });

  describe('secrets', function () {
    it('never shows the password in util.inspect or JSON.stringify of the settings, the function or the pool options', async function () {
      const connection = knexConnection({ host: 'db.internal', database: 'app', credentials: hotSwap });
      const settings = await connection();
      assert.equal(settings.password, SECRET, 'mysql2 can still read it');
      assert.equal(settings.user, 'app');
      for (const value of [settings, connection, connection.pool({ max: 2 }), connection.coordinator]) {
        assert.ok(!inspect(value, { depth: 10 }).includes(SECRET), inspect(value));
        assert.ok(!String(JSON.stringify(value) ?? '').includes(SECRET));
      }
      assert.match(inspect(connection), /KnexConnection \{ generation: 1, closed: false \}/);
      await connection.close();
    });

    it("keeps the password out of util.inspect of Knex's client", async function () {
      const connection = knexConnection({ host: '127.0.0.1', port: 1, credentials: hotSwap });
      const db = knex({
        client: 'mysql2',
        connection,
        pool: connection.pool({ min: 0, max: 1 }),
        acquireConnectionTimeout: 500,
        log: { warn() {} },
      });
      await assert.rejects(db.raw('SELECT 1'));
      assert.ok(!inspect(db.client.connectionSettings, { depth: 10 }).includes(SECRET));
      await db.destroy();
      assert.equal(connection.coordinator.closed, true);
    });
  });

  describe('lifecycle', function () {
    let server: MariaDBServer;

    before(async function () {
      server = await startTestServer();
    });

    after(async function () {
      await server?.stop();
    });

    it('leaves a coordinator it was given open, and closes one it created', async function () {
      const coordinator = new RotationCoordinator({ provider: hotSwap });
      const shared = knexConnection({ coordinator });
      await shared.close();
      assert.equal(coordinator.closed, false);
      await coordinator.close();
      const own = knexConnection({ credentials: hotSwap });
      await own[Symbol.asyncDispose]();
      assert.equal(own.coordinator.closed, true);
      await assert.rejects(own(), { code: 'CREDSWAP_CLOSED' });
    });

    it('a script that creates a Knex with knexConnection, queries and destroys it exits by itself, without loading Knex first', async function () {
      const database = await server.createDatabase('kexit');
      const account = await server.createUser({ prefix: 'kexit', grants: `ALL ON ${database}.*` });
      const fixture = join(__dirname, '../fixtures/knex-query-destroy.ts');
      const { code, out } = await runToExit([fixture, server.host, String(server.port), database, account.user, account.password]);
      assert.equal(code, 0, out);
      assert.match(out, /knex loaded by credswap\/knex: false/);
      assert.match(out, /destroyed closed=true/);
    });
  });
});
