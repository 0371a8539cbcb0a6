/**
 * Scenario `rds-iam`: RDS IAM database authentication. The pool logs in with tokens from
 * `RdsIamProvider` (the real `@aws-sdk/rds-signer`), over TLS, through the testing kit's RDS IAM
 * front end to a throwaway MariaDB (or the MariaDB server of `--mysql`). A token lives 15
 * minutes; each rotation compresses that: the credswap pool's coordinator renews its token (as
 * its timer does a minute before expiry), then every token used so far expires. A plain pool
 * with the token it read at start fails its new logins with 1045 from the first rotation on.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { createPool as createPlainPool } from 'mysql2/promise';
import { DrillTargetError } from '../errors.js';
import { createPool } from '../../mysql2/promise.js';
import type { PromisePool } from '../../mysql2/types.js';
import { startRdsIamFrontEnd } from '../../testing/rds-iam.js';
import { RdsIamProvider } from '../../../providers/aws/rds-iam.js';
import { loadRdsSigner } from '../../../providers/aws/rds-signer.js';
import { countingProvider, poolSize, readOnce } from './pools.js';
import { createDrillDatabase, openDrillServer, type DrillServer } from './server.js';
import { TABLE_STATEMENTS, type Scenario, type ScenarioSettings } from './types.js';

const NAME = 'rds-iam';

/** Sets the `rds-iam` scenario up on a throwaway MariaDB, or on the MariaDB server of `--mysql`. */
export async function setup(settings: ScenarioSettings): Promise<Scenario> {
  await loadRdsSigner(`the ${NAME} scenario`);
  const server = await openDrillServer(settings.mysqlUrl);
  let frontEnd: Awaited<ReturnType<typeof startRdsIamFrontEnd>> | undefined;
  try {
    await requireNativePasswords(server);
    const db = await createDrillDatabase(server, 'rds_iam');
    frontEnd = await startRdsIamFrontEnd({ backend: { host: server.host, port: server.port, user: db.user, password: db.password } });
    const fe = frontEnd;
    const newProvider = () => new RdsIamProvider({ ...fe.providerOptions(), name: `rds-iam:${db.user}` });
    let credswapPool: PromisePool | undefined;
    let closing: Promise<void> | undefined;
    return {
      name: NAME,
      embedded: server.embedded,
      kind: 'rotation',
      statements: TABLE_STATEMENTS,
      async createCredswapPool() {
        const rdsIam = newProvider();
        const counted = countingProvider(rdsIam);
        credswapPool = createPool({
          ...rdsIam.poolOptions(),
          database: db.database,
          connectionLimit: poolSize(settings.concurrency),
          credentials: counted.provider,
        });
        return { pool: credswapPool, providerCalls: counted.calls };
      },
      async createPlainPool() {
        // A naive service: one token, read at start, sent over TLS as the guide says.
        const rdsIam = newProvider();
        const { user, password } = await readOnce(rdsIam);
        return createPlainPool({
          ...rdsIam.poolOptions(),
          database: db.database,
          user,
          password,
          connectionLimit: poolSize(settings.concurrency),
        });
      },
      async disrupt(index) {
        const startAt = performance.now();
        fe.expireTokens();
        await credswapPool?.coordinator?.refresh();
        settings.log(`rotation ${index + 1}: 15 minutes pass: the credswap pool renewed its token, and every older token expired`);
        return { startAt, endAt: performance.now() };
      },
      close() {
        closing ??= (async () => {
          await fe.close();
          await server.stop();
        })();
        return closing;
      },
    };
  } catch (error) {
    await frontEnd?.close();
    await server.stop().catch(() => {});
    throw error;
  }
}

/** The front end logs sessions in to the server behind it with `mysql_native_password`: MariaDB's default. */
async function requireNativePasswords(server: DrillServer): Promise<void> {
  const [row] = await server.query<Array<{ version: string }>>('SELECT VERSION() AS version');
  const version = String(row?.version ?? '');
  if (!/mariadb/i.test(version)) {
    throw new DrillTargetError(
      server.label,
      `is MySQL ${version}: the ${NAME} scenario's front end logs in to the server behind it with mysql_native_password, which needs MariaDB; run it on a throwaway MariaDB (the default) or pass --mysql with a MariaDB server`,
    );
  }
}
