/**
 * A local stand-in for an RDS endpoint with IAM database authentication, for tests and drills.
 *
 * {@link startRdsIamFrontEnd} starts a MySQL-protocol front end on a loopback port that offers
 * TLS, asks for the password with `mysql_clear_password`, checks it as an RDS IAM token (the
 * SigV4 presigned signature with test credentials, the endpoint, the user and the expiry against
 * a clock tests control) and relays accepted sessions to a real server behind it. Tokens from
 * the real `@aws-sdk/rds-signer` (through `RdsIamProvider`) pass; forged or expired ones get
 * 1045, as from RDS.
 *
 * @example
 * ```ts
 * import { startMariaDB, startRdsIamFrontEnd } from 'credswap/testing';
 * import { RdsIamProvider } from 'credswap/aws';
 * import { createPool } from 'credswap/mysql2/promise';
 *
 * const server = await startMariaDB();
 * const { user, password } = await server.createUser({ grants: 'ALL ON *.*' });
 * const frontEnd = await startRdsIamFrontEnd({ backend: { host: server.host, port: server.port, user, password } });
 * const rdsIam = new RdsIamProvider(frontEnd.providerOptions());
 * const pool = createPool({ ...rdsIam.poolOptions(), credentials: rdsIam });
 * await pool.query('SELECT 1');
 * ```
 *
 * @packageDocumentation
 */

export { startRdsIamFrontEnd } from './rds-iam/front-end.js';
export type {
  RdsIamFrontEnd,
  RdsIamFrontEndOptions,
  RdsIamFrontEndStats,
  RdsIamFrontEndProviderOptions,
  RdsIamBackend,
  RdsIamSession,
  FrontEndRefusal,
} from './rds-iam/options.js';
export type { TokenRefusal } from './rds-iam/token.js';
export { MAX_TOKEN_EXPIRES_SECONDS } from './rds-iam/token.js';
export { selfSignedCertificate } from './rds-iam/certificate.js';
export type { TestCertificate } from './rds-iam/certificate.js';
