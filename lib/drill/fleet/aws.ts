/**
 * The environment of `credswap drill aws-single-user --fleet N`: the drill's database and user
 * (on a throwaway server or the `--mysql` server), the Secrets Manager emulator holding their
 * secret, and credswap's single-user rotation handler as the secret's rotation function. Each
 * rotation is `RotateSecret`, with the window between `setSecret` and `finishSecret` held open
 * as in the one-process scenario: the database has the new password, AWSCURRENT the old one.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../testing/secrets-manager.js';
import { createRotationHandler } from '../../../providers/aws/rotation/handler.js';
import { loadSecretsManagerSdk, type SecretsManagerClientLike } from '../../../providers/aws/sdk.js';
import { rotateOnEmulator, windowHoldMs } from '../scenarios/aws.js';
import { createDrillDatabase, openDrillServer, type DrillServer } from '../scenarios/server.js';
import { TABLE_STATEMENTS } from '../scenarios/types.js';
import type { FleetEnvironment, FleetSettings } from './environment.js';
import { secretsManagerOperation } from './store-proxy.js';

/** The secret the fleet shares. */
export const FLEET_SECRET_ID = 'credswap-drill/fleet';

/** Sets the `aws-single-user` fleet environment up. */
export async function setupFleetAws(settings: FleetSettings): Promise<FleetEnvironment> {
  // Before any server or emulator starts: a missing SDK must leave nothing running.
  const sdk = await loadSecretsManagerSdk('the aws-single-user fleet drill');
  const server: DrillServer = await openDrillServer(settings.mysqlUrl);
  let emulator: SecretsManagerEmulator | undefined;
  let admin: SecretsManagerClientLike | undefined;
  try {
    const db = await createDrillDatabase(server, 'fleet_aws');
    emulator = await startSecretsManagerEmulator();
    const em = emulator;
    const secretId = FLEET_SECRET_ID;
    em.putSecret(secretId, {
      engine: 'mysql',
      host: server.host,
      port: server.port,
      username: db.user,
      password: db.password,
      dbname: db.database,
    });
    const functionArn = em.registerRotationFunction(
      'credswap-drill-rotation',
      createRotationHandler({ strategy: 'single-user', clientConfig: em.clientConfig() }),
    );
    admin = new sdk.SecretsManagerClient({ ...em.clientConfig(), maxAttempts: 1 });
    const client = admin;
    const config = em.clientConfig();
    const holdMs = windowHoldMs(settings.intervalMs);
    let closing: Promise<void> | undefined;
    return {
      embedded: server.embedded,
      server,
      user: db.user,
      statements: TABLE_STATEMENTS,
      endpoint: { host: server.host, port: server.port, database: db.database },
      store: 'secrets-manager',
      storeUrl: em.endpoint,
      operationOf: secretsManagerOperation,
      storeCalls: () => em.calls,
      providerSpec: (endpoint) => ({
        kind: 'secrets-manager',
        secretId,
        clientConfig: {
          region: config.region,
          endpoint,
          credentials: { accessKeyId: config.credentials.accessKeyId, secretAccessKey: config.credentials.secretAccessKey },
        },
      }),
      secrets: [config.credentials.secretAccessKey],
      async disrupt(index) {
        const startAt = performance.now();
        settings.log(`rotation ${index + 1}: single-user rotation of ${secretId} started`);
        await rotateOnEmulator({ emulator: em, client, sdk, functionArn }, secretId, holdMs);
        settings.log(`rotation ${index + 1}: finished, AWSCURRENT moved`);
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
