/**
 * Scenario `aws-dual-password`: a Secrets Manager rotation with MySQL's dual passwords
 * (`RotateSecret` running credswap's rotation handler with `strategy: 'dual-password'`):
 * setSecret changes the password with `RETAIN CURRENT PASSWORD`, the window between setSecret
 * and finishSecret is held open (the old and the new password both log in), and finishSecret
 * moves AWSCURRENT, then discards the old password. It needs MySQL 8.0.14 or later: a throwaway
 * MySQL server (embedded) or the MySQL server of `--mysql`; MariaDB has no dual passwords.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { describeCause } from '../../errors.js';
import { DrillTargetError } from '../errors.js';
import { MYSQLD_ENV, mysqlAvailability, startMySQL } from '../../testing/mysql.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../testing/secrets-manager.js';
import { createRotationHandler } from '../../../providers/aws/rotation/handler.js';
import { serverInfoOf } from '../../../providers/aws/rotation/sql.js';
import { loadSecretsManagerSdk, type SecretsManagerClientLike } from '../../../providers/aws/sdk.js';
import { SecretsManagerProvider } from '../../../providers/aws/secrets-manager.js';
import { DRILL_SECRET_REFRESH_INTERVAL_MS, rotateOnEmulator, windowHoldMs } from './aws.js';
import { credswapTarget, plainPool, readOnce } from './pools.js';
import { createDrillDatabase, openDrillServer, type DrillServer } from './server.js';
import { TABLE_STATEMENTS, type Scenario, type ScenarioSettings } from './types.js';

const NAME = 'aws-dual-password';
const SECRET_ID = `credswap-drill/${NAME}`;
const STRATEGY = 'dual-password';

/** Sets the `aws-dual-password` scenario up: on a throwaway MySQL server, or the MySQL server of `--mysql`. */
export async function setup(settings: ScenarioSettings): Promise<Scenario> {
  const sdk = await loadSecretsManagerSdk(`the ${NAME} scenario`);
  const server = settings.mysqlUrl !== undefined ? await openDrillServer(settings.mysqlUrl) : await throwawayMySQL();
  let emulator: SecretsManagerEmulator | undefined;
  let admin: SecretsManagerClientLike | undefined;
  try {
    await requireDualPasswords(server);
    const db = await createDrillDatabase(server, 'aws_dual_password');
    // The user changes its own password and keeps the current one: APPLICATION_PASSWORD_ADMIN.
    for (const host of ['%', 'localhost']) await server.query('GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO ?@?', [db.user, host]);
    emulator = await startSecretsManagerEmulator();
    const em = emulator;
    em.putSecret(SECRET_ID, {
      engine: 'mysql',
      host: server.host,
      port: server.port,
      username: db.user,
      password: db.password,
      dbname: db.database,
    });
    const functionArn = em.registerRotationFunction(
      'credswap-drill-rotation',
      createRotationHandler({ strategy: STRATEGY, clientConfig: em.clientConfig() }),
    );
    admin = new sdk.SecretsManagerClient({ ...em.clientConfig(), maxAttempts: 1 });
    const client = admin;
    const endpoint = { host: server.host, port: server.port, database: db.database };
    const holdMs = windowHoldMs(settings.intervalMs);
    let closing: Promise<void> | undefined;
    return {
      name: NAME,
      embedded: server.embedded,
      kind: 'rotation',
      statements: TABLE_STATEMENTS,
      async createCredswapPool() {
        const provider = new SecretsManagerProvider({
          secretId: SECRET_ID,
          clientConfig: em.clientConfig(),
          refreshIntervalMs: DRILL_SECRET_REFRESH_INTERVAL_MS,
        });
        return credswapTarget(provider, endpoint, settings.concurrency);
      },
      async createPlainPool() {
        const credentials = await readOnce(
          new SecretsManagerProvider({ secretId: SECRET_ID, clientConfig: em.clientConfig(), refreshIntervalMs: 0 }),
        );
        return plainPool(credentials, endpoint, settings.concurrency);
      },
      async disrupt(index) {
        const startAt = performance.now();
        settings.log(`rotation ${index + 1}: ${STRATEGY} rotation of ${SECRET_ID} started (window held ${holdMs} ms)`);
        await rotateOnEmulator({ emulator: em, client, sdk, functionArn }, SECRET_ID, holdMs);
        settings.log(`rotation ${index + 1}: finished, AWSCURRENT moved and the old password discarded`);
        return { startAt, endAt: performance.now() };
      },
      close() {
        closing ??= (async () => {
          client.destroy();
          await em.close();
          await server.stop();
        })();
        return closing;
      },
    };
  } catch (error) {
    admin?.destroy();
    await emulator?.close();
    await server.stop().catch(() => {});
    throw error;
  }
}

/** A throwaway MySQL server, or a {@link DrillTargetError} that says why there is none and what to do. */
async function throwawayMySQL(): Promise<DrillServer> {
  const target = 'a throwaway MySQL server';
  const hint =
    `${NAME} runs on MySQL only (dual passwords came with MySQL 8.0.14; MariaDB has none): ` +
    `pass --mysql <admin url> of a MySQL server, or install MySQL here (or set ${MYSQLD_ENV} to its mysqld)`;
  const availability = mysqlAvailability();
  if (!availability.available) throw new DrillTargetError(target, `cannot be started, ${availability.reason}; ${hint}`);
  let server: Awaited<ReturnType<typeof startMySQL>>;
  try {
    server = await startMySQL();
  } catch (error) {
    throw new DrillTargetError(target, `did not start: ${describeCause(error)}; ${hint}`, { cause: error });
  }
  return {
    host: server.host,
    port: server.port,
    adminUser: server.adminUser,
    adminPassword: server.adminPassword,
    embedded: true,
    label: `throwaway MySQL on ${server.host}:${server.port}`,
    query: (sql, values) => server.query(sql, values),
    createUser: (options) => server.createUser(options),
    setPassword: (user, password) => server.setPassword(user, password),
    stop: () => server.stop(),
  };
}

/** The server must be MySQL 8.0.14 or later: MariaDB and older MySQL have no `RETAIN CURRENT PASSWORD`. */
async function requireDualPasswords(server: DrillServer): Promise<void> {
  const [row] = await server.query<Array<{ version: string }>>('SELECT VERSION() AS version');
  const info = serverInfoOf(String(row?.version ?? ''));
  if (!info.dualPasswords) {
    throw new DrillTargetError(
      server.label,
      `is ${info.mariadb ? 'MariaDB' : 'MySQL'} ${info.version}, which has no dual passwords (RETAIN CURRENT PASSWORD): ` +
        `${NAME} needs MySQL 8.0.14 or later; run aws-single-user or aws-alternating against this server`,
    );
  }
}
