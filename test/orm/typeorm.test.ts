import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { DataSource, EntitySchema } from 'typeorm';
import { ClosedError, InvalidOptionError } from '../../lib/errors.js';
import * as credswapMysql2 from '../../lib/mysql2/index.js';
import type { CallbackPool } from '../../lib/mysql2/pool.js';
import { rotateAndFailOverUnderLoad, useFailoverRig } from '../helpers/failover.js';

interface Item {
  id: number;
  n: number;
}

const ItemSchema = new EntitySchema<Item>({
  name: 'Item',
  tableName: 'items',
  columns: { id: { type: Number, primary: true, generated: true }, n: { type: Number } },
});

describe('TypeORM with driver: credswap/mysql2 through a rotation and a failover', function () {
  const rig = useFailoverRig('torm');
  let dataSource: DataSource | undefined;

  afterEach(async function () {
    if (dataSource?.isInitialized) await dataSource.destroy();
    dataSource = undefined;
  });

  /** The recipe: credswap's mysql2 module as TypeORM's driver, the provider in `extra`. */
  function recipe(extra: Record<string, unknown>, options: Record<string, unknown> = {}): DataSource {
    dataSource = new DataSource({
      type: 'mysql',
      driver: credswapMysql2,
      host: rig.host,
      port: rig.port,
      database: rig.database,
      entities: [ItemSchema],
      extra,
      ...options,
    });
    return dataSource;
  }

  function poolOf(ds: DataSource): CallbackPool {
    return (ds.driver as unknown as { pool: CallbackPool }).pool;
  }

  it('rotates a single user and follows a failover under load through repositories, the query builder and transactions, failing only statements the server refused', async function () {
    const ds = recipe({ credentials: rig.credentials, connectionLimit: 16 });
    // initialize() opens a connection: the first login happens here.
    const callsBefore = rig.calls;
    await ds.initialize();
    const repository = ds.getRepository(ItemSchema);
    const discards: string[] = [];
    poolOf(ds).on('discard', (_connection: unknown, reason: string) => discards.push(reason));
    const result = await rotateAndFailOverUnderLoad(
      rig,
      async (worker, i) => {
        if (i % 3 === 0) {
          // TypeORM rolls back and rethrows when a statement in the callback fails.
          await ds.transaction(async (manager) => {
            const { identifiers } = await manager.insert(ItemSchema, { n: worker });
            await manager.increment(ItemSchema, { id: identifiers[0].id }, 'n', 1);
          });
          return;
        }
        if (i % 3 === 1) {
          await repository.insert({ n: i });
          return;
        }
        await ds.createQueryBuilder().insert().into(ItemSchema).values({ n: i }).execute();
      },
      { callsBefore },
    );
    assert.ok(result.failedCount > 0, 'the old primary refused some writes');
    assert.ok(discards.includes('failover'), `connections to the old primary were dropped: ${discards.join(', ')}`);
  });

  it('rejects a password next to credentials with an InvalidOptionError naming it, without its value', async function () {
    const ds = recipe({ credentials: rig.credentials }, { username: rig.user, password: 'typeorm-static-secret' });
    const error = await ds.initialize().then(
      () => assert.fail('initialize should fail'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof InvalidOptionError);
    assert.equal(error.option, 'password');
    assert.ok(!error.message.includes('typeorm-static-secret'));
  });

  it("passes TypeORM's acquireTimeout, which is not a mysql2 option, to mysql2, which warns that it ignores it", async function () {
    const ds = recipe({ credentials: rig.credentials }, { acquireTimeout: 10_000 });
    const printed: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
    try {
      await ds.initialize();
      await ds.query('SELECT 1');
    } finally {
      console.error = original;
    }
    const warnings = printed.filter((line) => line.includes('acquireTimeout'));
    assert.equal(warnings.length, 1, 'once, as mysql2 warns once per createPool');
    assert.match(warnings[0], /^Ignoring invalid configuration option passed to Connection: acquireTimeout\./);
  });

  it("uses the provider's user over TypeORM's username", async function () {
    const ds = recipe({ credentials: rig.credentials }, { username: 'someone-else' });
    await ds.initialize();
    const [row] = await ds.query<Array<{ u: string }>>('SELECT CURRENT_USER() AS u');
    assert.equal(row.u.split('@')[0], rig.user);
  });

  it('never shows the password in util.inspect or JSON.stringify of the DataSource, its pool or a connection', async function () {
    const ds = recipe({ credentials: rig.credentials });
    await ds.initialize();
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT 1');
      const texts = [
        inspect(ds, { depth: 5 }),
        inspect(poolOf(ds), { depth: 5 }),
        JSON.stringify(poolOf(ds)),
        inspect(await runner.connect(), { depth: 3 }),
      ];
      for (const text of texts) assert.ok(!text.includes(rig.password), 'the password is not shown');
    } finally {
      await runner.release();
    }
  });

  it('dataSource.destroy() ends the pool and its coordinator', async function () {
    const ds = recipe({ credentials: rig.credentials });
    await ds.initialize();
    const pool = poolOf(ds);
    await ds.destroy();
    assert.ok(pool.coordinator?.closed);
    await assert.rejects(
      new Promise((resolve, reject) => pool.query('SELECT 1', undefined, (err: Error | null) => (err ? reject(err) : resolve(undefined)))),
      (e: unknown) => e instanceof ClosedError,
    );
  });
});
