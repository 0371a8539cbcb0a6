import assert from 'node:assert/strict';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { DataTypes, type Model, type ModelStatic, QueryTypes, Sequelize } from 'sequelize';
import { InvalidOptionError, ReadOnlyError } from '../../lib/errors.js';
import { attachCredentials, type SequelizeDiscardReason } from '../../lib/integrations/sequelize.js';
import { runToExit } from '../helpers/child.js';
import { errnoOf, rotateAndFailOverUnderLoad, useFailoverRig } from '../helpers/failover.js';
import { eventually } from '../helpers/load.js';

interface ItemAttributes {
  id?: number;
  n: number;
}

describe('credswap/sequelize through a rotation and a failover', function () {
  const rig = useFailoverRig('seq');
  let sequelize: Sequelize | undefined;

  afterEach(async function () {
    await sequelize?.close();
    sequelize = undefined;
    // Back to the primary, writable, for the next test.
    await rig.primary.setReadOnly(false);
    rig.proxy.flip(rig.primary);
  });

  function connect(pool: { max: number; maxUses?: number }): { db: Sequelize; Item: ModelStatic<Model<ItemAttributes>> } {
    const db = new Sequelize({ dialect: 'mysql', host: rig.host, port: rig.port, database: rig.database, logging: false, pool });
    sequelize = db;
    const Item = db.define<Model<ItemAttributes>>(
      'Item',
      { n: { type: DataTypes.INTEGER, allowNull: false } },
      { tableName: 'items', timestamps: false },
    );
    return { db, Item };
  }

  it('rotates a single user and follows a failover under load through models and transactions, failing only statements the server refused', async function () {
    // maxUses: Sequelize closes each connection after 25 uses, so new logins happen all the time.
    const { db, Item } = connect({ max: 8, maxUses: 25 });
    const credentials = attachCredentials(db, { credentials: rig.credentials });
    const discards: SequelizeDiscardReason[] = [];
    credentials.on('discard', (_connection, reason: SequelizeDiscardReason) => discards.push(reason));
    const result = await rotateAndFailOverUnderLoad(
      rig,
      async (worker, i) => {
        if (i % 3 === 0) {
          // A managed transaction: Sequelize rolls back and rethrows when a statement fails.
          await db.transaction(async (transaction) => {
            const item = await Item.create({ n: worker }, { transaction });
            await db.query('UPDATE items SET n = n + 1 WHERE id = ?', { replacements: [item.get('id')], transaction });
          });
          return;
        }
        await Item.create({ n: i });
      },
      {
        afterRotation: () =>
          assert.ok(
            credentials.stats.generation === 2 && credentials.stats.verified === 2,
            `the second generation verified: ${JSON.stringify(credentials.stats)}`,
          ),
      },
    );
    assert.ok(result.failedCount > 0, 'the old primary refused some writes');
    for (const error of result.failed) {
      const parent = (error as { parent?: unknown }).parent;
      assert.ok(parent instanceof ReadOnlyError, `a ReadOnlyError as Sequelize's parent: ${String(parent)}`);
    }
    assert.ok(discards.includes('failover'), `connections to the old primary were dropped: ${discards.join(', ')}`);
    assert.ok(!discards.includes('read-only'), 'connections refused as read-only were kept while the address led to their server');
  });

  it("a statement refused as read-only in a transaction fails with a ReadOnlyError that Sequelize's error wraps, and the connection stays", async function () {
    const { db, Item } = connect({ max: 1 });
    const credentials = attachCredentials(db, { credentials: rig.credentials });
    const discards: SequelizeDiscardReason[] = [];
    credentials.on('discard', (_connection, reason: SequelizeDiscardReason) => discards.push(reason));
    const [[before]] = (await db.query('SELECT CONNECTION_ID() AS id')) as [[{ id: number }], unknown];
    await rig.primary.setReadOnly(true);
    const error = (await db
      .transaction(async (transaction) => Item.create({ n: 1 }, { transaction }))
      .then(
        () => assert.fail('the server should refuse the write'),
        (e: unknown) => e,
      )) as {
      name: string;
      parent?: unknown;
      original?: unknown;
    };
    assert.equal(error.name, 'SequelizeDatabaseError');
    assert.ok(error.parent instanceof ReadOnlyError);
    assert.equal(error.original, error.parent);
    assert.equal(error.parent.code, 'CREDSWAP_READ_ONLY');
    assert.equal(error.parent.errno, 1290, "the server's errno");
    assert.equal(error.parent.retryable, true);
    // A read needs no writable server: the same connection serves it, at once.
    const [after] = await db.query<{ id: number }>('SELECT CONNECTION_ID() AS id', { type: QueryTypes.SELECT });
    assert.equal(after.id, before.id);
    assert.deepEqual(discards, []);
  });

  it('during a failover episode, a transaction waits for a writable server and runs there once', async function () {
    const { db, Item } = connect({ max: 2 });
    const episodes: string[] = [];
    const credentials = attachCredentials(db, { credentials: rig.credentials });
    credentials.on('failover', (event: { state: string }) => episodes.push(event.state));
    await Item.create({ n: 1 });
    await rig.primary.setReadOnly(true);
    await assert.rejects(Item.create({ n: 2 }), (e: { parent?: unknown }) => e.parent instanceof ReadOnlyError);
    assert.deepEqual(episodes, ['started']);
    const replicaBefore = await rig.count(rig.replica);
    const loginsBefore = rig.proxy.stats.accepted;
    const transaction = db.transaction(async (t) => Item.create({ n: 3 }, { transaction: t }));
    // Reads do not wait for the episode.
    await Item.findAll({ limit: 1 });
    // Someone waits: probe logins look for a writable server at the fast pace (40 ms).
    await eventually(() => rig.proxy.stats.accepted >= loginsBefore + 3, 5_000, 'probe logins while the transaction waits');
    assert.equal(await rig.count(rig.replica), replicaBefore);
    rig.proxy.flip(rig.replica);
    await transaction; // on the read-only primary, it would have failed
    assert.equal(await rig.count(rig.replica), replicaBefore + 1, 'the transaction ran on the new primary, once');
    assert.deepEqual(episodes, ['started', 'ended']);
  });

  it("with failover: false, a connection refused as read-only is dropped when released and the error is the server's", async function () {
    const { db, Item } = connect({ max: 1 });
    const credentials = attachCredentials(db, { credentials: rig.credentials, failover: false });
    const discards: SequelizeDiscardReason[] = [];
    credentials.on('discard', (_connection, reason: SequelizeDiscardReason) => discards.push(reason));
    await Item.create({ n: 1 });
    await rig.primary.setReadOnly(true);
    const error = await Item.create({ n: 2 }).then(
      () => assert.fail('the server should refuse the write'),
      (e: { parent?: unknown }) => e,
    );
    assert.equal(errnoOf(error), 1290);
    assert.ok(!(error.parent instanceof ReadOnlyError));
    assert.deepEqual(discards, ['read-only']);
  });

  it('logins refused at once cost one refused login: the others get a copy of the refusal as SequelizeAccessDeniedError', async function () {
    const { db } = connect({ max: 10 });
    attachCredentials(db, { credentials: async () => ({ user: rig.user, password: 'not-the-password' }) });
    const before = rig.proxy.stats.accepted;
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => db.query('SELECT 1')));
    assert.equal(rig.proxy.stats.accepted - before, 1, 'one login reached the server');
    for (const result of results) {
      assert.equal(result.status, 'rejected');
      const error = result.reason as { name: string; parent?: { errno?: number } };
      assert.equal(error.name, 'SequelizeAccessDeniedError');
      assert.equal(error.parent?.errno, 1045);
    }
  });

  it('answers twenty connections refused at once with one provider call', async function () {
    const { db } = connect({ max: 20 });
    let calls = 0;
    attachCredentials(db, {
      credentials: async (_signal, _current, { reason }) => {
        calls += 1;
        // The first answer is out of date: every first login is refused with 1045.
        return { user: rig.user, password: reason === 'initial' ? 'outdated-password' : rig.password };
      },
    });
    const results = await Promise.all(Array.from({ length: 20 }, () => db.query('SELECT SLEEP(0.05) AS s')));
    assert.equal(results.length, 20);
    assert.equal(calls, 2, 'the first fetch, then one rotation for all twenty refusals');
  });

  it('drops connections opened with older credentials once newer ones have worked', async function () {
    const { db } = connect({ max: 4 });
    let password = rig.password;
    const retired: string[] = [];
    const credentials = attachCredentials(db, {
      credentials: {
        name: 'retiring',
        getCredentials: async () => ({ user: rig.user, password }),
        retire: (old) => void retired.push(old.password),
      },
    });
    const discards: SequelizeDiscardReason[] = [];
    credentials.on('discard', (_connection, reason: SequelizeDiscardReason) => discards.push(reason));
    await Promise.all(Array.from({ length: 4 }, () => db.query('SELECT SLEEP(0.05)')));
    const before = credentials.stats.connections;
    assert.ok(before >= 2, `several connections are open (${before})`);
    await rig.rotatePassword();
    password = rig.password;
    await credentials.coordinator.refresh();
    // The refresh starts generation 2 and one connection verifies it; then the old connections
    // are dropped as Sequelize's pool hands them out.
    await eventually(
      async () => {
        await db.query('SELECT 1');
        return credentials.stats.verified === 2 && credentials.stats.stale === 0;
      },
      20_000,
      'old connections to drain',
    );
    assert.ok(discards.filter((r) => r === 'stale').length >= before, `stale connections dropped: ${discards.join(', ')}`);
    await eventually(() => retired.length === 1, 10_000, 'the old credentials to be retired');
    assert.notEqual(retired[0], password, 'the provider was told that the old password is unused');
  });

  it('passes on the server refusal, explained and without the password, when the provider has nothing newer', async function () {
    const { db } = connect({ max: 2 });
    const wrong = 'never-valid-password-x';
    attachCredentials(db, { credentials: async () => ({ user: rig.user, password: wrong }) });
    const error = await db.query('SELECT 1').then(
      () => assert.fail('the query should fail'),
      (e: Error) => e,
    );
    assert.equal(errnoOf(error), 1045);
    assert.equal(error.name, 'SequelizeAccessDeniedError');
    assert.match(error.message, /\[credswap: provider '.*' returned no new credentials\]/);
    assert.ok(!inspect(error, { depth: 6 }).includes(wrong), 'the password does not appear in the error');
  });

  it('never shows the password in util.inspect or JSON.stringify of the handle, Sequelize or its connections', async function () {
    const { db } = connect({ max: 2 });
    const credentials = attachCredentials(db, { credentials: rig.credentials });
    await db.query('SELECT 1');
    const manager = db.connectionManager as unknown as { getConnection(): Promise<object>; releaseConnection(c: object): void };
    const connection = await manager.getConnection();
    try {
      for (const text of [
        inspect(credentials, { depth: 8 }),
        JSON.stringify(credentials),
        inspect(connection, { depth: 3 }),
        inspect(db, { depth: 4 }),
      ]) {
        assert.ok(!text.includes(rig.password), 'the password is not shown');
      }
    } finally {
      manager.releaseConnection(connection);
    }
  });

  it('stops the provider when Sequelize is closed', async function () {
    const { db } = connect({ max: 2 });
    let closed = 0;
    const credentials = attachCredentials(db, {
      credentials: { name: 'closing', getCredentials: rig.credentials, close: () => void (closed += 1) },
    });
    await db.query('SELECT 1');
    await db.close();
    sequelize = undefined;
    assert.equal(closed, 1);
    assert.ok(credentials.coordinator.closed);
    await credentials.close(); // idempotent
    assert.equal(closed, 1);
  });

  it('a script that attaches credentials, queries and closes Sequelize exits by itself', async function () {
    const fixture = join(__dirname, '../fixtures/sequelize-exit.ts');
    const { code, out } = await runToExit([fixture, rig.primary.host, String(rig.primary.port), rig.database, rig.user, rig.password]);
    assert.equal(code, 0, out);
    assert.match(out, /closed unsubscribed=true/);
  });

  it('importing credswap/sequelize does not load Sequelize', async function () {
    const entry = join(__dirname, '../../lib/integrations/sequelize.ts');
    const code = `require(${JSON.stringify(entry)}); console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /node_modules[\\/](sequelize|typeorm)[\\/]/.test(k))))`;
    const { code: exit, out } = await runToExit(['-e', code]);
    assert.equal(exit, 0, out);
    assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), []);
  });

  describe('options', function () {
    const provider = async () => ({ user: 'u', password: 'p' });
    let instances: Sequelize[] = [];

    function plain(extra: Record<string, unknown> = {}): Sequelize {
      const db = new Sequelize({ dialect: 'mysql', host: '127.0.0.1', logging: false, ...extra });
      instances.push(db);
      return db;
    }

    afterEach(async function () {
      await Promise.all(instances.map((db) => db.close()));
      instances = [];
    });

    const cases: Array<[string, () => unknown, string]> = [
      ['an unknown option', () => attachCredentials(plain(), { credentials: provider, pool: {} } as never), 'pool'],
      ['no credentials', () => attachCredentials(plain(), {} as never), 'credentials'],
      ['credentials of the wrong type', () => attachCredentials(plain(), { credentials: 'secret' as never }), 'credentials'],
      [
        'an unknown rotation option',
        () => attachCredentials(plain(), { credentials: provider, rotation: { drain: 'force' } as never }),
        'rotation.drain',
      ],
      [
        'rotation.maxAttempts below 1',
        () => attachCredentials(plain(), { credentials: provider, rotation: { maxAttempts: 0 } }),
        'rotation.maxAttempts',
      ],
      [
        'a negative rotation.timeoutMs',
        () => attachCredentials(plain(), { credentials: provider, rotation: { timeoutMs: -1 } }),
        'rotation.timeoutMs',
      ],
      [
        'rejectReadOnly that is not a boolean',
        () => attachCredentials(plain(), { credentials: provider, rejectReadOnly: 'yes' as never }),
        'rejectReadOnly',
      ],
      [
        'an unknown failover option',
        () => attachCredentials(plain(), { credentials: provider, failover: { checkIntervalMs: 1_000 } as never }),
        'failover.checkIntervalMs',
      ],
      [
        'failover with rejectReadOnly: false',
        () => attachCredentials(plain(), { credentials: provider, rejectReadOnly: false, failover: {} }),
        'failover',
      ],
      ['something that is not Sequelize', () => attachCredentials({}, { credentials: provider }), 'sequelize'],
      [
        'a Sequelize instance with a password',
        () => attachCredentials(plain({ password: 'hunter2-secret' }), { credentials: provider }),
        'password',
      ],
    ];
    for (const [what, attach, option] of cases) {
      it(`rejects ${what} with an InvalidOptionError naming '${option}'`, function () {
        assert.throws(attach, (error: unknown) => {
          assert.ok(error instanceof InvalidOptionError);
          assert.equal(error.option, option);
          assert.ok(!error.message.includes('hunter2-secret') && !error.message.includes("'secret'"));
          return true;
        });
      });
    }

    it('rejects a second attach to the same Sequelize instance', function () {
      const db = plain();
      const first = attachCredentials(db, { credentials: provider });
      assert.throws(
        () => attachCredentials(db, { credentials: provider }),
        (e: unknown) => e instanceof InvalidOptionError && e.option === 'sequelize',
      );
      return first.close();
    });
  });
});
