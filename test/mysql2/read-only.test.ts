import assert from 'node:assert/strict';
import { isReadOnlyError } from '../../lib/mysql2/classify.js';
import { createPool, type PromisePool } from '../../lib/mysql2/promise.js';
import { ReadOnlyEpisodes } from '../../lib/mysql2/read-only.js';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import { describeEachFlavour, startServer } from '../helpers/servers.js';

const OPTION_PREVENTS_STATEMENT = 1290;
const READ_ONLY_TRANSACTION = 1792;

describe('ReadOnlyEpisodes', function () {
  let now: number;
  let episodes: ReadOnlyEpisodes;
  const open = (count: number) => Array.from({ length: count }, () => episodes.opening());

  beforeEach(function () {
    now = 1_000;
    episodes = new ReadOnlyEpisodes({ initialMs: 25, maxMs: 250 }, () => now);
  });

  it('discards every connection opened before the first refusal: their writes are retried', function () {
    const [a, b, c] = open(3);
    assert.equal(episodes.refused(a, OPTION_PREVENTS_STATEMENT), 'discard');
    assert.equal(episodes.refused(b, OPTION_PREVENTS_STATEMENT), 'discard');
    assert.equal(episodes.refused(c, OPTION_PREVENTS_STATEMENT), 'discard');
    assert.equal(episodes.holding, false);
  });

  it('holds once a connection opened after the first refusal is refused too, and keeps every refused connection meanwhile', function () {
    const [old, other] = open(2);
    assert.equal(episodes.refused(old, OPTION_PREVENTS_STATEMENT), 'discard');
    const [retry] = open(1);
    assert.equal(episodes.refused(retry, OPTION_PREVENTS_STATEMENT), 'keep');
    assert.equal(episodes.holding, true);
    now += 24;
    assert.equal(episodes.refused(other, OPTION_PREVENTS_STATEMENT), 'keep', 'an older connection is kept during the hold too');
    now += 1;
    assert.equal(episodes.holding, false);
    assert.equal(
      episodes.refused(other, OPTION_PREVENTS_STATEMENT),
      'discard',
      'after the hold, one connection is discarded and its write retried',
    );
    assert.equal(episodes.refused(retry, OPTION_PREVENTS_STATEMENT), 'keep', 'the others wait for that retry');
  });

  it('doubles the hold up to maxMs while each retry is refused too, with one discard per hold', function () {
    const [first, second] = open(2);
    episodes.refused(first, OPTION_PREVENTS_STATEMENT);
    let [retry] = open(1);
    const holds: number[] = [];
    let discards = 0;
    for (let i = 0; i < 6; i++) {
      assert.equal(episodes.refused(retry, OPTION_PREVENTS_STATEMENT), 'keep');
      const start = now;
      while (episodes.holding) {
        assert.equal(episodes.refused(second, OPTION_PREVENTS_STATEMENT), 'keep');
        now += 1;
      }
      holds.push(now - start);
      // The hold is over: the first refusal looks for a writable server, the next ones wait.
      if (episodes.refused(second, OPTION_PREVENTS_STATEMENT) === 'discard') discards += 1;
      if (episodes.refused(second, OPTION_PREVENTS_STATEMENT) === 'discard') discards += 1;
      [retry] = open(1);
    }
    assert.deepEqual(holds, [25, 50, 100, 200, 250, 250]);
    assert.equal(discards, 6);
  });

  it('a retry that is accepted ends the episode and marks the connections opened before it', function () {
    const [a, b] = open(2);
    episodes.refused(a, OPTION_PREVENTS_STATEMENT);
    const [retry] = open(1);
    assert.equal(episodes.refused(retry, OPTION_PREVENTS_STATEMENT), 'keep');
    now += 25;
    assert.equal(episodes.refused(b, OPTION_PREVENTS_STATEMENT), 'discard');
    const [look] = open(1);
    assert.equal(episodes.accepted(look), true, 'the first acceptance ends the episode');
    assert.equal(episodes.movedBefore, look, 'connections opened before the accepted retry are from before the move');
    assert.equal(episodes.accepted(look), false, 'there is no episode left to end');
    assert.equal(episodes.holding, false);
    assert.equal(
      episodes.refused(retry, OPTION_PREVENTS_STATEMENT),
      'discard',
      'a connection from before the move is discarded, without starting an episode:',
    );
    const [c] = open(1);
    assert.equal(episodes.refused(c, OPTION_PREVENTS_STATEMENT), 'discard', 'so the next refusal starts one, with a retry');
    const [d] = open(1);
    assert.equal(episodes.refused(d, OPTION_PREVENTS_STATEMENT), 'keep', 'a new episode holds from initialMs');
    const start = now;
    while (episodes.holding) now += 1;
    assert.equal(now - start, 25);
  });

  it('ends an episode after a quiet spell without refusals', function () {
    const [a] = open(1);
    episodes.refused(a, OPTION_PREVENTS_STATEMENT);
    const [b] = open(1);
    now += 1_001;
    assert.equal(episodes.refused(b, OPTION_PREVENTS_STATEMENT), 'discard', 'a refusal long after the last one is a new episode');
  });

  it('always discards on 1792 (a read-only transaction) and never lets it start an episode', function () {
    const [a] = open(1);
    assert.equal(episodes.refused(a, READ_ONLY_TRANSACTION), 'discard');
    const [b] = open(1);
    assert.equal(episodes.refused(b, READ_ONLY_TRANSACTION), 'discard');
    assert.equal(episodes.accepted(b), false, 'no episode to end');
  });

  it('with maxMs 0 discards every refused connection', function () {
    episodes = new ReadOnlyEpisodes({ initialMs: 0, maxMs: 0 }, () => now);
    for (const seq of open(5)) assert.equal(episodes.refused(seq, OPTION_PREVENTS_STATEMENT), 'discard');
    assert.equal(episodes.holding, false);
  });
});

describe('isReadOnlyError', function () {
  it('knows 1290, 1792, 1836 and 1874 by errno, and nothing else', function () {
    for (const errno of [1290, 1792, 1836, 1874]) assert.equal(isReadOnlyError({ errno }), true, String(errno));
    // 1036 (a table is read-only) is not a server-wide state; 1045 is a refused login.
    for (const errno of [1036, 1045, '1290', undefined]) assert.equal(isReadOnlyError({ errno }), false, String(errno));
    assert.equal(isReadOnlyError(null), false);
    assert.equal(isReadOnlyError(Object.assign(new Error('x'), { code: 'ER_OPTION_PREVENTS_STATEMENT' })), false, 'never by code text');
  });
});

describeEachFlavour('read-only refusals of a real server', (flavour) => {
  let server: MariaDBServer;
  let database: string;
  let account: { user: string; password: string };
  let pool: PromisePool | undefined;

  before(async function () {
    server = await startServer(flavour);
    database = await server.createDatabase('readonly');
    await server.query(`CREATE TABLE \`${database}\`.items (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL)`);
    account = await server.createUser({ prefix: 'ro', grants: `ALL ON \`${database}\`.*` });
  });

  after(async function () {
    await server?.stop();
  });

  afterEach(async function () {
    await pool?.end();
    pool = undefined;
    await server.setReadOnly(false);
  });

  /** A pool of the test's user, its logins so far and the reasons of its discards. */
  function readOnlyPool(): { p: PromisePool; seen: { logins: number; discards: string[] } } {
    pool = createPool({
      host: server.host,
      port: server.port,
      database,
      connectionLimit: 4,
      credentials: async () => account,
    });
    const seen = { logins: 0, discards: [] as string[] };
    pool.on('connection', () => (seen.logins += 1));
    pool.on('discard', (_connection, reason) => seen.discards.push(reason));
    return { p: pool, seen };
  }

  async function refusal(statement: Promise<unknown>): Promise<Error & { errno?: number }> {
    return statement.then(
      () => assert.fail('expected the server to refuse the write'),
      (error: Error & { errno?: number }) => error,
    );
  }

  // On MySQL, setReadOnly(true) sets super_read_only: the application's writes get the same 1290.
  it('refuses writes with 1290 once read-only: isReadOnlyError knows it, the pool discards the connection and retries the write once', async function () {
    const { p, seen } = readOnlyPool();
    await p.query('SELECT 1');
    await server.setReadOnly(true);
    const error = await refusal(p.query('INSERT INTO items (n) VALUES (1)'));
    assert.equal(error.errno, 1290);
    assert.ok(isReadOnlyError(error));
    assert.equal(seen.logins, 2, 'the write was retried once, on a fresh connection');
    assert.deepEqual(seen.discards, ['read-only'], 'the first connection; the retry was refused too, and its connection kept');
    await server.setReadOnly(false);
    await p.query('INSERT INTO items (n) VALUES (2)');
  });

  it('refuses a write in a READ ONLY transaction with 1792: isReadOnlyError knows it, and the pool discards that connection', async function () {
    const { p, seen } = readOnlyPool();
    const connection = await p.getConnection();
    await connection.query('START TRANSACTION READ ONLY');
    const error = await refusal(connection.query('INSERT INTO items (n) VALUES (3)'));
    connection.release();
    assert.equal(error.errno, 1792);
    assert.ok(isReadOnlyError(error));
    assert.deepEqual(seen.discards, ['read-only']);
  });
});
