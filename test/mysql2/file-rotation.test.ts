import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RotateEvent } from '../../lib/coordinator.js';
import { createPool, type PromisePool } from '../../lib/mysql2/promise.js';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import { FileProvider } from '../../providers/file/index.js';
import { eventually, sampleMax, startLoad, stopAllLoads } from '../helpers/load.js';
import { describeEachFlavour, startTestServerOf } from '../helpers/servers.js';

/** Writes a Kubernetes-style Secret volume and updates it the way the kubelet's atomic writer does. */
function secretVolume(dir: string) {
  let n = 0;
  const write = (content: string) => {
    n += 1;
    const ts = `..2026_11_21_00_00_00.${String(n).padStart(9, '0')}`;
    mkdirSync(join(dir, ts));
    writeFileSync(join(dir, ts, 'credentials.json'), content);
    symlinkSync(ts, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    if (n === 1) symlinkSync('..data/credentials.json', join(dir, 'credentials.json'));
    else rmSync(join(dir, `..2026_11_21_00_00_00.${String(n - 1).padStart(9, '0')}`), { recursive: true });
  };
  return { write, path: join(dir, 'credentials.json') };
}

describeEachFlavour('credswap/mysql2 pool with FileProvider', (flavour) => {
  let server: MariaDBServer;
  let database: string;
  let dir: string;
  let pool: PromisePool | undefined;

  before(async function () {
    server = await startTestServerOf(flavour);
    database = await server.createDatabase('file');
  });

  after(async function () {
    await server?.stop();
  });

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'credswap-file-rotation-'));
  });

  afterEach(async function () {
    await stopAllLoads();
    await pool?.end();
    pool = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function rotateUnderLoad(update: (user: string, password: string) => void, path: string, first: () => void) {
    const account = await server.createUser({ prefix: 'file', grants: `ALL ON ${database}.*` });
    first.call(null);
    update(account.user, account.password);
    const provider = new FileProvider({ path, debounceMs: 20, pollIntervalMs: 1000 });
    pool = createPool({ host: server.host, port: server.port, database, connectionLimit: 6, credentials: provider });
    const p = pool;
    const rotations: RotateEvent[] = [];
    p.on('rotate', (e) => rotations.push(e));
    const load = startLoad(12, async (worker, i) => {
      if ((worker + i) % 4 === 0) {
        const conn = await p.getConnection();
        await conn.query('SELECT 1');
        conn.destroy();
        return;
      }
      await p.query('SELECT 1');
    });
    const peak = sampleMax(20, async () => (await server.processlist(account.user)).length);
    await load.untilOk(100);
    for (let r = 1; r <= 3; r++) {
      const next = `file-${r}-${Math.random().toString(36).slice(2)}`;
      // The secret first, then the database: new logins never see a password the file lacks.
      update(account.user, next);
      await server.setPassword(account.user, next);
      const before = load.result.ok;
      await eventually(() => rotations.length === r + 1, 15_000, `rotation ${r}`);
      await load.untilOk(before + 100);
    }
    const result = await load.stop();
    assert.deepEqual(
      result.failed.map((e) => e.message),
      [],
    );
    assert.deepEqual(
      rotations.map((e) => e.generation),
      [1, 2, 3, 4],
      'exactly one generation per rotation',
    );
    assert.ok((await peak.stop()) <= 6, 'never more than connectionLimit connections');
  }

  it('follows a Kubernetes Secret volume update (..data swap) under load with zero failed queries', async function () {
    const volume = secretVolume(dir);
    await rotateUnderLoad(
      (user, password) => volume.write(JSON.stringify({ username: user, password })),
      volume.path,
      () => {},
    );
  });

  it('keeps its working connections when the file changes long before the server does', async function () {
    const account = await server.createUser({ prefix: 'early', grants: `ALL ON ${database}.*` });
    const path = join(dir, 'creds.json');
    const write = (password: string) => {
      writeFileSync(`${path}.tmp`, JSON.stringify({ user: account.user, password }));
      renameSync(`${path}.tmp`, path);
    };
    write(account.password);
    pool = createPool({
      host: server.host,
      port: server.port,
      database,
      connectionLimit: 4,
      credentials: new FileProvider({ path, debounceMs: 20, pollIntervalMs: 0 }),
    });
    const p = pool;
    const rotations: RotateEvent[] = [];
    p.on('rotate', (e) => rotations.push(e));
    const load = startLoad(8, () => p.query('SELECT 1'));
    await load.untilOk(100);
    const next = `early-${Math.random().toString(36).slice(2)}`;
    write(next);
    await eventually(() => rotations.length === 2, 10_000, 'the push');
    // The pool tried the new password, was refused, and kept serving on its old connections.
    const before = load.result.ok;
    await load.untilOk(before + 200);
    await server.setPassword(account.user, next);
    await eventually(
      async () => {
        // Once a login with the new password works, the old connections drain.
        await p.getConnection().then((c) => c.destroy());
        return p.stats.total > 0;
      },
      10_000,
      'a login with the new password',
    );
    await load.untilOk(load.result.ok + 100);
    const result = await load.stop();
    assert.deepEqual(
      result.failed.map((e) => e.message),
      [],
    );
  });

  it('follows an atomic rename of the credentials file under load with zero failed queries', async function () {
    const path = join(dir, 'db.env');
    let n = 0;
    await rotateUnderLoad(
      (user, password) => {
        const tmp = `${path}.tmp-${++n}`;
        writeFileSync(tmp, `DB_USER=${user}\nDB_PASSWORD="${password}"\n`);
        renameSync(tmp, path);
      },
      path,
      () => {},
    );
  });
});
