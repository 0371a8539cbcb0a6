/**
 * What the two AWS Secrets Manager scenarios share. Embedded: a database and user of the
 * drill's own (on a throwaway server or the `--mysql` server), the Secrets Manager emulator
 * holding their secret, and credswap's rotation handler registered as the secret's rotation
 * function. With `--secret-id`: the named secret on Secrets Manager (region from `--region` or
 * the SDK's environment), rotated through `RotateSecret` or, with `--rotate-locally`, by running
 * the rotation handler in this process.
 *
 * @packageDocumentation
 */

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeCause, InvalidOptionError } from '../../errors.js';
import { DrillTargetError } from '../errors.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../testing/secrets-manager.js';
import { createRotationHandler, type RotationHandler } from '../../../providers/aws/rotation/handler.js';
import {
  loadSecretsManagerSdk,
  newSdkClient,
  type SecretsManagerClientConfig,
  type SecretsManagerClientLike,
  type SecretsManagerSdk,
} from '../../../providers/aws/sdk.js';
import { SecretsManagerProvider } from '../../../providers/aws/secrets-manager.js';
import { credswapTarget, plainPool, readOnce } from './pools.js';
import { createDrillDatabase, openDrillServer, trackExtraUser, type DrillServer } from './server.js';
import { READ_ONLY_STATEMENTS, TABLE_STATEMENTS, type Scenario, type ScenarioName, type ScenarioSettings } from './types.js';

/**
 * How often the drill's credswap pool looks for a moved AWSCURRENT (`refreshIntervalMs`): often
 * enough to see a rotation within a short drill. Services keep the default (5 minutes).
 */
export const DRILL_SECRET_REFRESH_INTERVAL_MS = 1_000;
/** How long a rotation through `RotateSecret` on AWS may take before the drill gives up. */
export const DRILL_REMOTE_ROTATION_TIMEOUT_MS = 300_000;

type Strategy = 'single-user' | 'alternating-users';

/** Where the secret lives and how the drill rotates it. */
interface SecretSide {
  secretId: string;
  clientConfig: SecretsManagerClientConfig;
  /** Rotates once; `holdMs` keeps the single-user window open where the drill can. */
  rotate(holdMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The single-user window to hold open in each rotation: long enough for new logins to land in
 * it, short enough to leave room between rotations.
 */
/** What {@link rotateOnEmulator} needs: the emulator, a client of it, and the rotation function's ARN. */
export interface EmulatedRotation {
  readonly emulator: SecretsManagerEmulator;
  readonly client: SecretsManagerClientLike;
  readonly sdk: SecretsManagerSdk;
  readonly functionArn: string;
}

/**
 * `RotateSecret` on the emulator, the setSecret..finishSecret window held `holdMs` (0: not
 * held), and its outcome: a {@link DrillTargetError} naming the secret and the failed step.
 */
export async function rotateOnEmulator(rotation: EmulatedRotation, secretId: string, holdMs: number): Promise<void> {
  const { emulator, client, sdk, functionArn } = rotation;
  const pause = holdMs > 0 ? emulator.pauseRotation({ secretId, after: 'setSecret', ms: holdMs }) : undefined;
  await client.send(new sdk.RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: functionArn }));
  await pause?.reached;
  const result = await emulator.waitForRotation(secretId, { timeoutMs: 60_000 });
  if (result.status !== 'succeeded') {
    throw new DrillTargetError(
      `secret ${secretId}`,
      `rotation ${result.status} in ${result.failedStep ?? 'a step'}: ${describeCause(result.error)}`,
      { cause: result.error },
    );
  }
}

export function windowHoldMs(intervalMs: number): number {
  return Math.round(Math.min(3_000, Math.max(300, intervalMs / 3)));
}

/** Sets an AWS scenario up with `strategy`. */
export async function setupAws(name: ScenarioName, strategy: Strategy, settings: ScenarioSettings): Promise<Scenario> {
  if (settings.secretId !== undefined && settings.mysqlUrl !== undefined) {
    throw new InvalidOptionError('--mysql', 'cannot be combined with --secret-id: the secret names the database');
  }
  const sdk = await loadSecretsManagerSdk(`the ${name} scenario`);
  const side = settings.secretId !== undefined ? await realSecret(sdk, strategy, settings) : undefined;
  const embedded = side === undefined ? await embeddedSecret(sdk, name, strategy, settings) : undefined;
  const secret = side ?? embedded!.side;
  const holdMs = strategy === 'single-user' ? windowHoldMs(settings.intervalMs) : 0;
  let closing: Promise<void> | undefined;
  return {
    name,
    embedded: embedded !== undefined && embedded.server.embedded,
    kind: 'rotation',
    statements: embedded !== undefined ? TABLE_STATEMENTS : READ_ONLY_STATEMENTS,
    async createCredswapPool() {
      const provider = new SecretsManagerProvider({
        secretId: secret.secretId,
        clientConfig: secret.clientConfig,
        refreshIntervalMs: DRILL_SECRET_REFRESH_INTERVAL_MS,
      });
      return credswapTarget(provider, embedded?.endpoint ?? {}, settings.concurrency);
    },
    async createPlainPool() {
      const credentials = await readOnce(
        new SecretsManagerProvider({ secretId: secret.secretId, clientConfig: secret.clientConfig, refreshIntervalMs: 0 }),
      );
      return plainPool(credentials, embedded?.endpoint ?? {}, settings.concurrency);
    },
    async disrupt(index) {
      const startAt = performance.now();
      settings.log(`rotation ${index + 1}: ${strategy} rotation of ${secret.secretId} started`);
      await secret.rotate(holdMs);
      settings.log(`rotation ${index + 1}: finished, AWSCURRENT moved`);
      return { startAt, endAt: performance.now() };
    },
    close() {
      closing ??= (async () => {
        await secret.close();
        await embedded?.server.stop();
      })();
      return closing;
    },
  };
}

type Sdk = Awaited<ReturnType<typeof loadSecretsManagerSdk>>;

async function embeddedSecret(sdk: Sdk, name: ScenarioName, strategy: Strategy, settings: ScenarioSettings) {
  const server: DrillServer = await openDrillServer(settings.mysqlUrl);
  let emulator: SecretsManagerEmulator | undefined;
  let admin: SecretsManagerClientLike | undefined;
  try {
    const db = await createDrillDatabase(server, name.replace('-', '_'));
    if (strategy === 'alternating-users') trackExtraUser(server, `${db.user}_clone`);
    emulator = await startSecretsManagerEmulator();
    const em = emulator;
    const secretId = `credswap-drill/${name}`;
    const target = { engine: 'mysql', host: server.host, port: server.port };
    const extra: Record<string, unknown> = {};
    if (strategy === 'alternating-users') {
      extra.masterarn = em.putSecret(`${secretId}-admin`, { ...target, username: server.adminUser, password: server.adminPassword }).arn;
    }
    em.putSecret(secretId, { ...target, username: db.user, password: db.password, dbname: db.database, ...extra });
    const functionArn = em.registerRotationFunction(
      'credswap-drill-rotation',
      createRotationHandler({ strategy, clientConfig: em.clientConfig() }),
    );
    admin = new sdk.SecretsManagerClient({ ...em.clientConfig(), maxAttempts: 1 });
    const client = admin;
    const side: SecretSide = {
      secretId,
      clientConfig: em.clientConfig(),
      rotate: (holdMs) => rotateOnEmulator({ emulator: em, client, sdk, functionArn }, secretId, holdMs),
      async close() {
        client.destroy();
        await em.close();
      },
    };
    return { server, side, endpoint: { host: server.host, port: server.port, database: db.database } };
  } catch (error) {
    admin?.destroy();
    await emulator?.close();
    await server.stop().catch(() => {});
    throw error;
  }
}

/** The user's own secret, named by `--secret-id`: checked before anything happens. */
async function realSecret(sdk: Sdk, strategy: Strategy, settings: ScenarioSettings): Promise<SecretSide> {
  const secretId = settings.secretId!;
  const target = `secret ${secretId}`;
  const clientConfig: SecretsManagerClientConfig = settings.region !== undefined ? { region: settings.region } : {};
  const client = newSdkClient(sdk, clientConfig);
  try {
    let described;
    try {
      described = await client.send(new sdk.DescribeSecretCommand({ SecretId: secretId }));
    } catch (error) {
      throw new DrillTargetError(target, `cannot be described: ${describeCause(error)}`, { cause: error });
    }
    if (settings.rotateLocally) {
      // The rotation handler, like AWS's rotation functions, refuses a secret that is not enabled for rotation.
      if (!described.RotationEnabled)
        throw new DrillTargetError(target, 'is not enabled for rotation, which the rotation handler requires');
    } else if (!described.RotationEnabled && described.RotationLambdaARN === undefined) {
      throw new DrillTargetError(target, 'has no rotation function: configure rotation on the secret, or pass --rotate-locally');
    }
  } catch (error) {
    client.destroy();
    throw error;
  }
  const handler: RotationHandler | undefined = settings.rotateLocally ? createRotationHandler({ strategy, clientConfig }) : undefined;
  return {
    secretId,
    clientConfig,
    async rotate(holdMs) {
      if (handler !== undefined) {
        // RotateSecret creates the version the steps work on before it invokes the function;
        // here the drill does, with the value createSecret would store (a new password, and for
        // alternating users the other user), then runs the four steps as Secrets Manager would.
        const token = randomUUID();
        try {
          const current = JSON.parse(
            (await client.send(new sdk.GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '{}',
          ) as Record<string, unknown>;
          const { RandomPassword } = await client.send(
            new sdk.GetRandomPasswordCommand({ PasswordLength: 32, ExcludeCharacters: '/@"\'\\' }),
          );
          const next: Record<string, unknown> = { ...current, password: RandomPassword };
          if (strategy === 'alternating-users' && typeof current.username === 'string') {
            next.username = current.username.endsWith('_clone') ? current.username.slice(0, -'_clone'.length) : `${current.username}_clone`;
          }
          await client.send(
            new sdk.PutSecretValueCommand({
              SecretId: secretId,
              ClientRequestToken: token,
              SecretString: JSON.stringify(next),
              VersionStages: ['AWSPENDING'],
            }),
          );
        } catch (error) {
          throw new DrillTargetError(target, `cannot create the pending version: ${describeCause(error)}`, { cause: error });
        }
        for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
          await handler({ Step: step, SecretId: secretId, ClientRequestToken: token });
          if (step === 'setSecret' && holdMs > 0) await sleep(holdMs);
        }
        return;
      }
      let versionId: string | undefined;
      try {
        versionId = (await client.send(new sdk.RotateSecretCommand({ SecretId: secretId }))).VersionId;
      } catch (error) {
        throw new DrillTargetError(target, `RotateSecret failed: ${describeCause(error)}`, { cause: error });
      }
      const deadline = performance.now() + DRILL_REMOTE_ROTATION_TIMEOUT_MS;
      for (;;) {
        const described = await client.send(new sdk.DescribeSecretCommand({ SecretId: secretId }));
        if (versionId !== undefined && described.VersionIdsToStages?.[versionId]?.includes('AWSCURRENT')) return;
        if (performance.now() > deadline) {
          throw new DrillTargetError(target, `the rotation did not finish within ${DRILL_REMOTE_ROTATION_TIMEOUT_MS / 1000} s`);
        }
        await sleep(500);
      }
    },
    async close() {
      client.destroy();
    },
  };
}
