/**
 * `credswap/testing`: what rotation and failover drills need, for credswap's own tests and for
 * yours: throwaway MariaDB servers and local emulators of AWS Secrets Manager and HashiCorp
 * Vault that the real SDK clients talk to. Never import it in production code.
 *
 * @packageDocumentation
 */

export {
  startMariaDB,
  startTestServer,
  findMariaDBBinary,
  ServerNotFoundError,
  ServerStartError,
} from './mariadb.js';
export type { MariaDBServer, MariaDBServerOptions, CreateUserOptions, ProcessInfo } from './mariadb.js';
