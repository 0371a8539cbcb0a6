import assert from 'node:assert/strict';
import { createPool, type PromisePool } from '../../lib/mysql2/promise.js';
import { rotateAndFailOverUnderLoad, useFailoverRig } from '../helpers/failover.js';

describe('credswap/mysql2 pool through a rotation and a failover', function () {
  const rig = useFailoverRig('failover');
  let pool: PromisePool | undefined;

  afterEach(async function () {
    await pool?.end();
    pool = undefined;
  });

  it('rotates a single user and follows a failover under write load, failing only statements the server refused', async function () {
    pool = createPool({ host: rig.host, port: rig.port, database: rig.database, connectionLimit: 8, credentials: rig.credentials });
    const p = pool;
    await rotateAndFailOverUnderLoad(
      rig,
      async (worker, i) => {
        if (i % 3 === 0) {
          // A transaction on a held connection: never retried, so the server's refusal reaches us.
          const conn = await p.getConnection();
          try {
            await conn.beginTransaction();
            await conn.query('INSERT INTO items (n) VALUES (?)', [worker]);
            await conn.commit();
          } catch (error) {
            await conn.rollback().catch(() => {});
            throw error;
          } finally {
            conn.release();
          }
          return;
        }
        await p.query('INSERT INTO items (n) VALUES (?)', [i]);
      },
      { afterRotation: () => assert.equal(p.stats.total, 8, 'the pool grew after the rotation') },
    );
  });
});
