/**
 * A Lambda function that queries MySQL with credentials from AWS Secrets Manager, read through
 * the AWS Parameters and Secrets Lambda Extension. This is the file you deploy (bundled, with the
 * extension layer); `index.ts` runs it locally. In your code the imports read:
 *
 *   import { createPool } from 'credswap/mysql2/promise';
 *   import { LambdaExtensionProvider, SecretsManagerProvider } from 'credswap/aws';
 *
 * Environment: DB_SECRET_ID, the name or ARN of a secret in the shape RDS and the rotation
 * functions store ({ engine, host, port, username, password, dbname }).
 */
import type { RowDataPacket } from 'mysql2';
import { createPool } from '../../lib/mysql2/promise.js';
import { LambdaExtensionProvider, SecretsManagerProvider } from '../../providers/aws/index.js';

const secretId = process.env.DB_SECRET_ID;
if (secretId === undefined || secretId === '') {
  throw new Error('DB_SECRET_ID is not set: give the name or ARN of the database secret');
}

// Module scope runs once per execution environment, at its cold start; every invocation that
// environment serves reuses this pool, so the handler never ends it. Host, port, user, password
// and database all come from the secret. (Exported so that index.ts can watch its events.)
export const pool = createPool({
  // An environment serves one invocation at a time, and every environment has its own pool:
  // the database sees up to connectionLimit x concurrent environments connections.
  connectionLimit: 2,
  credentials: new LambdaExtensionProvider({
    secretId,
    // The extension (the layer) answers GET localhost:2773/secretsmanager/get from its cache,
    // for up to 300 s (SECRETS_MANAGER_TTL), with the token in AWS_SESSION_TOKEN.
    //
    // There is no background refresh: between invocations Lambda freezes the environment, so no
    // timer would run anyway. A rotation is noticed when the database refuses a login (1045):
    // the provider asks again with refreshNow=true (the Secrets Manager Agent then skips its
    // cache), and when AWSCURRENT still holds the refused password, it asks for AWSPENDING.
    // During a single-user rotation, between setSecret and finishSecret, AWSPENDING holds the
    // password the database already has. Logins refused at the same moment share one fetch.
    //
    // On a cold start the function can call before the extension listens: the provider retries
    // for 2 s, then asks Secrets Manager directly with the fallback (region and credentials from
    // the Lambda environment, as the AWS SDK finds them).
    fallback: new SecretsManagerProvider({ secretId, refreshIntervalMs: 0 }),
  }),
});

// Never log the password: the event carries a fingerprint that changes when it changes.
pool.on('rotate', (e) => {
  console.log(`credswap rotate: generation ${e.generation} (${e.reason}) user=${e.user} fingerprint=${e.fingerprint}`);
});
pool.on('rotation-error', (error, info) => console.warn(`credswap rotation-error (${info.reason}): ${error.message}`));

/** The Lambda handler: one query per invocation, on the shared pool. */
export async function handler(): Promise<{ user: string }> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT CURRENT_USER() AS user');
  return { user: String(rows[0]?.user) };
}

/**
 * Ends the pool. Lambda sends SIGTERM before it shuts an environment down when an extension is
 * registered (the secrets extension is one) and leaves the runtime a few hundred milliseconds:
 * enough to close the connections instead of leaving them open on the server until its
 * `wait_timeout`.
 */
export async function shutdown(): Promise<void> {
  process.off('SIGTERM', onSigterm);
  await pool.end();
}

function onSigterm(): void {
  shutdown().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.once('SIGTERM', onSigterm);
