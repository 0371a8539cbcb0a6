/**
 * The failover benchmark's paths: each is one way an application writes through a pool (credswap's
 * `pool.query`, a transaction on `getConnection()`, an ORM wired to credswap as docs/orms.md says,
 * plain mysql2 for comparison). A path opens fresh pools on the rig's address and gives the
 * benchmark one autocommit write, one attempt of a transaction, or one read; the benchmark owns
 * the workers, the clock and the retry loop of docs/failover.md.
 */
import knex, { type Knex } from 'knex';
import { type Generated, Kysely, MysqlDialect } from 'kysely';
import { drizzle } from 'drizzle-orm/mysql2';
import { bigint, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import * as mysql2Promise from 'mysql2/promise';
import { DataTypes, Sequelize } from 'sequelize';
import { DataSource, EntitySchema } from 'typeorm';
import type { HotSwapFunction } from '../lib/provider.js';

/** The credswap modules a run uses: from dist/ (as users load them) or from the TypeScript source. */
export interface CredswapModules {
  readonly promise: typeof import('../lib/mysql2/promise.js');
  readonly callback: typeof import('../lib/mysql2/index.js');
  readonly knex: typeof import('../lib/integrations/knex.js');
  readonly sequelize: typeof import('../lib/integrations/sequelize.js');
}

/** Loads the credswap modules from `dist/` or from the source. */
export function loadCredswap(dist: boolean): CredswapModules {
  const from = dist ? '../dist' : '..';
  return {
    promise: require(`${from}/lib/mysql2/promise.js`) as CredswapModules['promise'],
    callback: require(`${from}/lib/mysql2/index.js`) as CredswapModules['callback'],
    knex: require(`${from}/lib/integrations/knex.js`) as CredswapModules['knex'],
    sequelize: require(`${from}/lib/integrations/sequelize.js`) as CredswapModules['sequelize'],
  };
}

/** What a path is opened with. */
export interface PathContext {
  readonly credswap: CredswapModules;
  /** The proxy's address and the database. */
  readonly endpoint: { host: string; port: number; database: string };
  /** For plain mysql2: the password as an option. */
  readonly user: string;
  readonly password: string;
  /** For credswap: a hot-swap function answering with the same user and password. */
  readonly credentials: HotSwapFunction;
  readonly connectionLimit: number;
}

/** A path's pools, opened: one operation of each kind it runs, and how to end them. */
export interface PathDriver {
  /** One autocommit write of `wid`. The benchmark never retries it. */
  autocommit?(wid: string): Promise<unknown>;
  /** One attempt of a transaction writing `wid`; the benchmark retries a refused one (docs/failover.md). */
  transaction?(wid: string): Promise<unknown>;
  /** One read. */
  read?(): Promise<unknown>;
  close(): Promise<void>;
}

/** A path: its name for `--paths`, its label, how many workers of each kind it runs. */
export interface PathDefinition {
  readonly name: string;
  readonly label: string;
  readonly workers: { readonly autocommit: number; readonly transaction: number; readonly read: number };
  open(context: PathContext): Promise<PathDriver>;
}

const INSERT = 'INSERT INTO writes (wid) VALUES (?)';

interface KyselyDatabase {
  writes: { seq: Generated<number>; wid: string };
}

const drizzleWrites = mysqlTable('writes', {
  seq: bigint('seq', { mode: 'number' }).primaryKey().autoincrement(),
  wid: varchar('wid', { length: 96 }).notNull(),
});

const WriteSchema = new EntitySchema<{ seq: number; wid: string }>({
  name: 'Write',
  tableName: 'writes',
  columns: { seq: { type: Number, primary: true, generated: true }, wid: { type: String } },
});

/** A transaction on a connection of `pool`, as docs/failover.md writes it (one attempt). */
async function connectionTransaction(pool: { getConnection(): Promise<mysql2Promise.PoolConnection> }, wid: string): Promise<void> {
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    await conn.query(INSERT, [wid]);
    await conn.commit();
  } catch (error) {
    await conn.rollback().catch(() => {});
    throw error;
  } finally {
    conn.release();
  }
}

const autocommitOnly = { autocommit: 8, transaction: 0, read: 0 };
const transactionsOnly = { autocommit: 0, transaction: 8, read: 0 };
const mixed = { autocommit: 4, transaction: 4, read: 0 };

/** Every path, in the order a run takes them. */
export const PATHS: readonly PathDefinition[] = [
  {
    name: 'query',
    label: 'credswap pool.query',
    workers: autocommitOnly,
    async open(c) {
      const pool = c.credswap.promise.createPool({ ...c.endpoint, connectionLimit: c.connectionLimit, credentials: c.credentials });
      return { autocommit: (wid) => pool.query(INSERT, [wid]), close: () => pool.end() };
    },
  },
  {
    name: 'execute',
    label: 'credswap pool.execute',
    workers: autocommitOnly,
    async open(c) {
      const pool = c.credswap.promise.createPool({ ...c.endpoint, connectionLimit: c.connectionLimit, credentials: c.credentials });
      return { autocommit: (wid) => pool.execute(INSERT, [wid]), close: () => pool.end() };
    },
  },
  {
    name: 'transaction',
    label: 'credswap getConnection + transaction',
    workers: transactionsOnly,
    async open(c) {
      const pool = c.credswap.promise.createPool({ ...c.endpoint, connectionLimit: c.connectionLimit, credentials: c.credentials });
      return { transaction: (wid) => connectionTransaction(pool, wid), close: () => pool.end() };
    },
  },
  {
    name: 'kysely',
    label: 'Kysely',
    workers: mixed,
    async open(c) {
      const pool = c.credswap.callback.createPool({ ...c.endpoint, connectionLimit: c.connectionLimit, credentials: c.credentials });
      const db = new Kysely<KyselyDatabase>({ dialect: new MysqlDialect({ pool }) });
      return {
        autocommit: (wid) => db.insertInto('writes').values({ wid }).execute(),
        transaction: (wid) => db.transaction().execute((trx) => trx.insertInto('writes').values({ wid }).execute()),
        close: () => db.destroy(),
      };
    },
  },
  {
    name: 'knex-pool',
    label: 'Knex, connectionPool',
    workers: mixed,
    async open(c) {
      const pool = c.credswap.callback.createPool({ ...c.endpoint, connectionLimit: c.connectionLimit, credentials: c.credentials });
      // Knex 3.3's types reject mysql2's own Pool type too (the callback of end()): hence the cast.
      const db = knex({ client: 'mysql2', connectionPool: pool as Knex.MySQLPoolLike });
      return {
        autocommit: (wid) => db('writes').insert({ wid }),
        transaction: (wid) => db.transaction((trx) => trx('writes').insert({ wid })),
        async close() {
          await db.destroy();
          await new Promise<void>((resolve) => pool.end(() => resolve()));
        },
      };
    },
  },
  {
    name: 'knex-own',
    label: 'Knex, knexConnection',
    workers: mixed,
    async open(c) {
      const connection = c.credswap.knex.knexConnection({ ...c.endpoint, credentials: c.credentials });
      const db = knex({ client: 'mysql2', connection, pool: connection.pool({ min: 0, max: c.connectionLimit }) });
      return {
        autocommit: (wid) => db('writes').insert({ wid }),
        transaction: (wid) => db.transaction((trx) => trx('writes').insert({ wid })),
        close: () => db.destroy(),
      };
    },
  },
  {
    name: 'drizzle',
    label: 'Drizzle',
    workers: mixed,
    async open(c) {
      const pool = c.credswap.promise.createPool({ ...c.endpoint, connectionLimit: c.connectionLimit, credentials: c.credentials });
      const db = drizzle(pool as unknown as mysql2Promise.Pool);
      return {
        autocommit: (wid) => db.insert(drizzleWrites).values({ wid }),
        transaction: (wid) =>
          db.transaction((tx) =>
            tx
              .insert(drizzleWrites)
              .values({ wid })
              .then(() => undefined),
          ),
        close: () => pool.end(),
      };
    },
  },
  {
    name: 'sequelize',
    label: 'Sequelize, attachCredentials',
    workers: mixed,
    async open(c) {
      const db = new Sequelize({
        dialect: 'mysql',
        host: c.endpoint.host,
        port: c.endpoint.port,
        database: c.endpoint.database,
        logging: false,
        pool: { max: c.connectionLimit },
      });
      c.credswap.sequelize.attachCredentials(db, { credentials: c.credentials });
      const Write = db.define(
        'Write',
        {
          seq: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
          wid: { type: DataTypes.STRING, allowNull: false },
        },
        { tableName: 'writes', timestamps: false },
      );
      return {
        autocommit: (wid) => Write.create({ wid }),
        transaction: (wid) => db.transaction((transaction) => Write.create({ wid }, { transaction })),
        close: () => db.close(),
      };
    },
  },
  {
    name: 'typeorm',
    label: 'TypeORM, driver credswap/mysql2',
    workers: mixed,
    async open(c) {
      const ds = new DataSource({
        type: 'mysql',
        driver: c.credswap.callback,
        ...c.endpoint,
        entities: [WriteSchema],
        extra: { credentials: c.credentials, connectionLimit: c.connectionLimit },
      });
      await ds.initialize();
      const repository = ds.getRepository(WriteSchema);
      return {
        autocommit: (wid) => repository.insert({ wid }),
        transaction: (wid) => ds.transaction((manager) => manager.insert(WriteSchema, { wid })),
        close: () => ds.destroy(),
      };
    },
  },
  {
    name: 'cluster',
    label: "credswap createPoolCluster, 'MASTER'",
    workers: mixed,
    async open(c) {
      const cluster = c.credswap.promise.createPoolCluster({ credentials: c.credentials });
      cluster.add('MASTER', { ...c.endpoint, connectionLimit: c.connectionLimit });
      return {
        autocommit: (wid) => cluster.of('MASTER').query(INSERT, [wid]),
        transaction: (wid) => connectionTransaction({ getConnection: () => cluster.getConnection('MASTER') }, wid),
        close: () => cluster.end(),
      };
    },
  },
  readsOnly('reads', 0, ''),
  readsOnly('reads-checked', 1_000, ' (the default)'),
  {
    name: 'mysql2-query',
    label: 'plain mysql2 pool.query',
    workers: autocommitOnly,
    async open(c) {
      const pool = plainPool(c);
      return { autocommit: (wid) => pool.query(INSERT, [wid]), close: () => pool.end() };
    },
  },
  {
    name: 'mysql2-transaction',
    label: 'plain mysql2 getConnection + transaction',
    workers: transactionsOnly,
    async open(c) {
      const pool = plainPool(c);
      return { transaction: (wid) => connectionTransaction(pool, wid), close: () => pool.end() };
    },
  },
];

/** A credswap pool that only reads, with the server check every `checkIntervalMs` (0: off). */
function readsOnly(name: string, checkIntervalMs: number, note: string): PathDefinition {
  return {
    name,
    label: `credswap pool.query, reads only, failover.checkIntervalMs ${checkIntervalMs}${note}`,
    workers: { autocommit: 0, transaction: 0, read: 8 },
    async open(c) {
      const pool = c.credswap.promise.createPool({
        ...c.endpoint,
        connectionLimit: c.connectionLimit,
        credentials: c.credentials,
        failover: { checkIntervalMs },
      });
      return { read: () => pool.query('SELECT COUNT(*) FROM writes'), close: () => pool.end() };
    },
  };
}

function plainPool(c: PathContext): mysql2Promise.Pool {
  return mysql2Promise.createPool({ ...c.endpoint, user: c.user, password: c.password, connectionLimit: c.connectionLimit });
}
