/**
 * A long-running service (ECS, EC2, EKS) whose database credentials come from AWS Secrets
 * Manager and rotate with alternating users, with a graceful shutdown on SIGTERM. In your code
 * the imports read:
 *
 *   import { createPool } from 'credswap/mysql2/promise';
 *   import { SecretsManagerProvider } from 'credswap/aws';
 *
 * With DB_SECRET_ID (and AWS_REGION) set, it runs the service against AWS until SIGTERM.
 * Without, it runs locally: a throwaway MariaDB, the Secrets Manager emulator and credswap's
 * rotation function, two alternating-users rotations while workers query, then SIGTERM.
 *
 *   npx tsx examples/ecs/index.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { RowDataPacket } from 'mysql2';
import { createPool } from '../../lib/mysql2/promise.js';
import { startMariaDB } from '../../lib/testing/mariadb.js';
import { startSecretsManagerEmulator } from '../../lib/testing/secrets-manager.js';
import { createRotationHandler, SecretsManagerProvider, type SecretsManagerClientConfig } from '../../providers/aws/index.js';

interface ServiceOptions {
  secretId: string;
  clientConfig: SecretsManagerClientConfig;
  /** How often to look for a new AWSCURRENT version; credswap's default is 5 minutes. */
  refreshIntervalMs?: number;
  /** Pause between two queries of a worker. */
  pauseMs: number;
}

interface Outcome {
  ok: number;
  failed: number;
  /** Queries per database user. */
  byUser: Map<string, number>;
}

// ---------------------------------------------------------------------------------------------
// The service: what runs in the container.

/** Starts the pool and the workers; resolves with what they did once SIGTERM has stopped them. */
function startService({ secretId, clientConfig, refreshIntervalMs, pauseMs }: ServiceOptions): Promise<Outcome> {
  const pool = createPool({
    connectionLimit: 8,
    // Host, port, user, password and database come from the secret. A DescribeSecret every
    // refreshIntervalMs notices a rotation: with alternating users the pool moves to the new
    // user while the old one still works, and closes the old user's connections as they go idle.
    credentials: new SecretsManagerProvider({ secretId, clientConfig, refreshIntervalMs }),
  });
  // Never log the password: the event carries a fingerprint that changes when it changes.
  pool.on('rotate', (e) => {
    console.log(`rotate: generation ${e.generation} (${e.reason}) user=${e.user} fingerprint=${e.fingerprint}`);
  });
  pool.on('rotation-error', (error, info) => console.warn(`rotation-error (${info.reason}): ${error.message}`));

  const outcome: Outcome = { ok: 0, failed: 0, byUser: new Map() };
  let stopping = false;

  // Stand-ins for request handlers: each runs queries until the service stops.
  async function worker(): Promise<void> {
    while (!stopping) {
      try {
        const [rows] = await pool.query<RowDataPacket[]>('SELECT CURRENT_USER() AS user');
        const user = String(rows[0]?.user).split('@')[0];
        outcome.byUser.set(user, (outcome.byUser.get(user) ?? 0) + 1);
        outcome.ok += 1;
      } catch (error) {
        outcome.failed += 1;
        if (outcome.failed <= 5) console.log(`query failed: ${(error as Error).message}`);
      }
      await sleep(pauseMs);
    }
  }
  const workers = Array.from({ length: 8 }, worker);

  // ECS sends SIGTERM when it stops a task and SIGKILL stopTimeout later (30 s by default):
  // finish the work in flight, then end the pool, which closes its connections and stops the
  // provider's refresh timer. Nothing else keeps the process alive, so it exits by itself.
  return new Promise<Outcome>((resolve, reject) => {
    process.once('SIGTERM', () => {
      console.log('SIGTERM: finishing the queries in flight, then closing the pool');
      stopping = true;
      Promise.all(workers)
        .then(() => pool.end())
        .then(() => resolve(outcome), reject);
    });
  });
}

/** In the container: region and credentials from the task role, as the AWS SDK finds them. */
async function runInAws(secretId: string): Promise<void> {
  const region = process.env.AWS_REGION;
  if (region === undefined || region === '') throw new Error('AWS_REGION is not set');
  const outcome = await startService({ secretId, clientConfig: { region }, pauseMs: 1_000 });
  console.log(`stopped: ${outcome.ok} queries ok, ${outcome.failed} failed`);
}

// ---------------------------------------------------------------------------------------------
// The local run.

const SECRET_ID = 'prod/orders/mysql';
const MASTER_SECRET_ID = 'prod/orders/mysql-admin';

async function runLocally(): Promise<void> {
  const [server, secretsManager] = await Promise.all([startMariaDB(), startSecretsManagerEmulator()]);
  const admin = new SecretsManagerClient(secretsManager.clientConfig());
  try {
    const database = await server.createDatabase('orders');
    const app = await server.createUser({ prefix: 'app', grants: `ALL ON ${database}.*` });
    const endpoint = { engine: 'mysql', host: server.host, port: server.port };
    // The administrator secret the rotation function logs in with to manage app and app_clone;
    // the service never reads it.
    const master = secretsManager.putSecret(MASTER_SECRET_ID, { ...endpoint, username: server.adminUser, password: server.adminPassword });
    secretsManager.putSecret(SECRET_ID, {
      ...endpoint,
      username: app.user,
      password: app.password,
      dbname: database,
      masterarn: master.arn,
    });
    const functionArn = secretsManager.registerRotationFunction(
      'rotate-orders-db',
      createRotationHandler({ strategy: 'alternating-users', clientConfig: secretsManager.clientConfig() }),
    );

    /** The service's open connections, per user, as the server sees them. */
    async function connections(): Promise<string> {
      const users = (await server.processlist()).map((p) => p.user).filter((user) => user.startsWith(app.user));
      return [app.user, `${app.user}_clone`].map((user) => `${user} ${users.filter((u) => u === user).length}`).join(', ');
    }

    // Two rotations, 1.5 s apart. Each gives the other user a new password and makes it AWSCURRENT.
    async function rotateTwice(): Promise<void> {
      for (let round = 1; round <= 2; round++) {
        await sleep(1_500);
        console.log(`-- open connections: ${await connections()}`);
        await admin.send(new RotateSecretCommand({ SecretId: SECRET_ID, RotationLambdaARN: functionArn }));
        const result = await secretsManager.waitForRotation(SECRET_ID, { timeoutMs: 10_000 });
        if (result.status !== 'succeeded')
          throw new Error(`rotation ${round} ${result.status} in ${result.failedStep}: ${String(result.error)}`);
        const current = JSON.parse(String(secretsManager.secretValue(SECRET_ID))) as { username: string };
        console.log(`-- rotation ${round} done: AWSCURRENT now names user ${current.username}`);
      }
    }

    // A short refresh interval so that the service sees each rotation within half a second.
    const stopped = startService({ secretId: SECRET_ID, clientConfig: secretsManager.clientConfig(), refreshIntervalMs: 500, pauseMs: 5 });
    let rotated = false;
    try {
      await rotateTwice();
      rotated = true;
      await sleep(1_500);
      console.log(`-- open connections: ${await connections()}`);
    } catch (error) {
      console.log(`-- ${(error as Error).message}`);
    } finally {
      process.kill(process.pid, 'SIGTERM'); // what ECS does when the task stops
    }
    const outcome = await stopped;

    const byUser = [...outcome.byUser].map(([user, n]) => `${user} ${n}`).join(', ');
    console.log(`queries: ${outcome.ok} ok, ${outcome.failed} failed (by user: ${byUser})`);
    const ok = rotated && outcome.failed === 0;
    console.log(ok ? 'OK: no query failed across two alternating-users rotations' : 'FAILED');
    if (!ok) process.exitCode = 1;
  } finally {
    admin.destroy();
    await secretsManager.close();
    await server.stop();
  }
}

const secretId = process.env.DB_SECRET_ID;
(secretId ? runInAws(secretId) : runLocally()).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
