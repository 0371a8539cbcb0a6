/**
 * An existing server named by an admin URL (`MYSQL_URL`), shared with others: only loopback
 * hosts are accepted, it cannot be restarted, and stopping it gives back what the helpers
 * changed (databases and users they created are dropped, `read_only` is restored).
 *
 * @packageDocumentation
 */

import { isLoopback } from '../../loopback.js';
import { BaseServer, closeConnection, ROOT, type MariaDBServer } from './admin.js';

/**
 * Connects to the existing server named by an admin URL such as
 * `mysql://root:secret@127.0.0.1:3306/`. Only loopback hosts are accepted, since the helpers
 * create users and change global settings.
 */
export async function connectExternal(url: string): Promise<MariaDBServer> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError('MYSQL_URL is not a valid URL (expected mysql://user:password@127.0.0.1:3306/)');
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new TypeError('MYSQL_URL must start with mysql:// or mariadb://');
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!isLoopback(host)) {
    throw new TypeError(`MYSQL_URL must point at a loopback address (127.0.0.1, ::1 or localhost), not ${host}`);
  }
  const server = new ExternalServer({
    host,
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username) || ROOT,
    password: decodeURIComponent(parsed.password),
    url,
  });
  await server.query('SELECT 1');
  return server;
}

class ExternalServer extends BaseServer {
  readonly external = true;
  /** `@@GLOBAL.read_only` before the first setReadOnly(), to put back on stop(). */
  private originalReadOnly: number | undefined;

  override async setReadOnly(on: boolean): Promise<void> {
    if (this.originalReadOnly === undefined) {
      const [row] = await this.adminQuery<Array<{ value: number }>>('SELECT @@GLOBAL.read_only AS value');
      this.originalReadOnly = Number(row?.value);
    }
    await super.setReadOnly(on);
  }

  restart(): Promise<void> {
    return Promise.reject(new Error(`cannot restart the external server at ${this.host}:${this.port} (MYSQL_URL)`));
  }

  stop(): Promise<void> {
    this.stopping ??= this.cleanUp();
    return this.stopping;
  }

  private async cleanUp(): Promise<void> {
    // adminQuery() refuses once stopping is set, so clean up through a connection of our own.
    this.closeAdminConnections();
    const connection = await this.connectAsAdmin();
    try {
      for (const [user, hosts] of this.users) {
        for (const host of hosts) await connection.query('DROP USER IF EXISTS ?@?', [user, host]);
      }
      for (const database of this.databases) await connection.query(`DROP DATABASE IF EXISTS \`${database}\``);
      if (this.originalReadOnly !== undefined) {
        await connection.query(`SET GLOBAL read_only = ${this.originalReadOnly ? 'ON' : 'OFF'}`);
      }
    } finally {
      await closeConnection(connection);
    }
  }
}
