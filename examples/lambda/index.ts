/**
 * The Lambda example, run locally: `handler.ts` serves invocations while `rotation.ts` rotates
 * its secret (single user), and no invocation fails.
 *
 * A throwaway MariaDB stands in for RDS, the Secrets Manager emulator for Secrets Manager and
 * the Lambda extension emulator for the AWS Parameters and Secrets Lambda Extension layer. The
 * two Lambda modules are used as deployed: they read their configuration from the environment
 * variables that Lambda (and here, this script) sets.
 *
 * Three execution environments serve invocations, one at a time each, and are replaced by cold
 * ones about every 800 ms (on Lambda an environment lives minutes to hours). Meanwhile a
 * single-user rotation runs, held for 1.5 s between setSecret and finishSecret: environments
 * that start then get the old password from AWSCURRENT, are refused (1045), and switch to
 * AWSPENDING.
 *
 *   npx tsx examples/lambda/index.ts
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startLambdaExtensionEmulator } from '../../lib/testing/lambda-extension.js';
import { startMariaDB } from '../../lib/testing/mariadb.js';
import { startSecretsManagerEmulator } from '../../lib/testing/secrets-manager.js';

const SECRET_ID = 'prod/orders/mysql';
const RUN_MS = 4_000;
const ENVIRONMENTS = 3;
/** Average life of an execution environment in this run: shorter than the window below. */
const LIFETIME_MS = 800;
/** How long the rotation is held between setSecret and finishSecret. */
const WINDOW_MS = 1_500;

type HandlerModule = typeof import('./handler.js');

/**
 * A cold start: a fresh copy of handler.ts, whose module scope (and so its pool) runs again, as
 * in a new execution environment.
 */
function loadHandlerModule(): HandlerModule {
  const path = require.resolve('./handler.js');
  delete require.cache[path];
  return require(path) as HandlerModule;
}

async function main(): Promise<void> {
  const [server, secretsManager] = await Promise.all([startMariaDB(), startSecretsManagerEmulator()]);
  const database = await server.createDatabase('orders');
  const { user, password } = await server.createUser({ prefix: 'app', grants: `ALL ON ${database}.*` });
  // The secret, in the shape RDS and the rotation functions store.
  secretsManager.putSecret(SECRET_ID, {
    engine: 'mysql',
    host: server.host,
    port: server.port,
    username: user,
    password,
    dbname: database,
  });

  // One extension for every environment here; on Lambda each environment runs its own, whose
  // cache (300 s by default) starts empty: this one's cache is cleared at each cold start.
  const token = randomBytes(24).toString('base64url');
  const extension = await startLambdaExtensionEmulator({
    secretsManager: secretsManager.clientConfig(),
    token,
    flavor: 'lambda-extension',
  });

  // What Lambda sets, and the standard AWS SDK variables that point the fallback provider and
  // the rotation function at the emulator.
  const aws = secretsManager.clientConfig();
  Object.assign(process.env, {
    DB_SECRET_ID: SECRET_ID,
    PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(extension.port),
    AWS_SESSION_TOKEN: token,
    AWS_REGION: aws.region,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint,
    AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
  });
  const rotation = await import('./rotation.js');
  const functionArn = secretsManager.registerRotationFunction('rotate-orders-db', rotation.handler);
  const admin = new SecretsManagerClient({});

  const stats = { ok: 0, failed: 0, environments: 0, coldInWindow: 0, switchedToPending: 0 };
  let inWindow = false;
  let rotated = false;
  const deadline = Date.now() + RUN_MS;

  /** One execution environment: a cold start, then one invocation at a time until it is retired. */
  async function environment(): Promise<void> {
    extension.clearCache();
    const env = loadHandlerModule();
    stats.environments += 1;
    if (inWindow) stats.coldInWindow += 1;
    env.pool.on('rotate', (e) => {
      if (e.reason === 'rejected') stats.switchedToPending += 1;
    });
    const retireAt = Math.min(deadline, Date.now() + LIFETIME_MS * (0.5 + Math.random()));
    try {
      while (Date.now() < retireAt) {
        try {
          await env.handler();
          stats.ok += 1;
        } catch (error) {
          stats.failed += 1;
          if (stats.failed <= 5) console.log(`invocation failed: ${(error as Error).message}`);
        }
        await sleep(10);
      }
    } finally {
      await env.shutdown(); // what the handler does on SIGTERM when Lambda retires an environment
    }
  }

  async function concurrency(): Promise<void> {
    while (Date.now() < deadline) await environment();
  }

  async function rotate(): Promise<void> {
    await sleep(1_000);
    const pause = secretsManager.pauseRotation({ secretId: SECRET_ID, after: 'setSecret', ms: WINDOW_MS });
    await admin.send(new RotateSecretCommand({ SecretId: SECRET_ID, RotationLambdaARN: functionArn }));
    await pause.reached;
    inWindow = true;
    console.log(`-- the database has the new password, AWSCURRENT still the old one: held for ${WINDOW_MS} ms`);
    const result = await secretsManager.waitForRotation(SECRET_ID, { timeoutMs: 10_000 });
    inWindow = false;
    if (result.status !== 'succeeded') {
      console.log(`-- rotation ${result.status} in ${result.failedStep}: ${String(result.error)}`);
      return;
    }
    rotated = true;
    console.log('-- rotation done: AWSCURRENT holds the new password');
  }

  try {
    const running = Array.from({ length: ENVIRONMENTS }, concurrency);
    await rotate();
    await Promise.all(running);
  } finally {
    admin.destroy();
    await extension.close();
    await secretsManager.close();
    await server.stop();
  }

  const fromCache = extension.requests.filter((r) => r.source === 'cache').length;
  console.log(
    `invocations: ${stats.ok} ok, ${stats.failed} failed, in ${stats.environments} execution environments (${stats.coldInWindow} started during the window)`,
  );
  console.log(`environments refused with AWSCURRENT that switched to AWSPENDING: ${stats.switchedToPending}`);
  console.log(
    `extension: ${extension.calls.requests} requests, ${fromCache} answered from its cache; ${extension.calls.GetSecretValue} GetSecretValue calls to Secrets Manager`,
  );
  const ok = rotated && stats.failed === 0;
  console.log(ok ? 'OK: no invocation failed through a single-user rotation' : 'FAILED');
  if (!ok) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
