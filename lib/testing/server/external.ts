/**
 * An existing server named by an admin URL (`MYSQL_URL`), shared with others: only loopback
 * hosts are accepted, it cannot be restarted, and stopping it gives back what the helpers
 * changed (databases and users they created are dropped, `read_only` is restored). Whether it
 * is MariaDB or MySQL is read from `VERSION()`.
 *
 * @packageDocumentation
 */

import { isLoopback } from '../../loopback.js';
import { BaseServer, closeConnection, ROOT, type MariaDBServer, type ServerFlavour } from './admin.js';

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
  await server.readFlavour();
  return server;
}

class ExternalServer extends BaseServer {
  readonly external = true;
  /** Set by readFlavour() before the server is handed out. */
  flavour: ServerFlavour = 'mariadb';
  /**
   * The statements that put `read_only` (and MySQL's `super_read_only`) back as they were before
   * the first setReadOnly(), for stop().
   */
  private restoreReadOnly: string[] | undefined;

  /** Reads which server this is from `VERSION()`, which says `MariaDB` on MariaDB only. */
  async readFlavour(): Promise<void> {
    const [row] = await this.adminQuery<Array<{ version: string }>>('SELECT VERSION() AS version');
    this.flavour = /mariadb/i.test(String(row?.version)) ? 'mariadb' : 'mysql';
  }

  override async setReadOnly(on: boolean): Promise<void> {
    if (this.restoreReadOnly === undefined) {
      const mysql = this.flavour === 'mysql';
      const [row] = await this.adminQuery<Array<{ readOnly: number; superReadOnly?: number }>>(
        `SELECT @@GLOBAL.read_only AS readOnly${mysql ? ', @@GLOBAL.super_read_only AS superReadOnly' : ''}`,
      );
      const onOff = (value: unknown) => (Number(value) ? 'ON' : 'OFF');
      // read_only first: turning it off turns super_read_only off, which is then set as it was.
      this.restoreReadOnly = [`SET GLOBAL read_only = ${onOff(row?.readOnly)}`];
      if (mysql) this.restoreReadOnly.push(`SET GLOBAL super_read_only = ${onOff(row?.superReadOnly)}`);
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
      // MySQL's super_read_only refuses the administrator's DROPs too.
      if (this.flavour === 'mysql' && this.restoreReadOnly !== undefined) await connection.query('SET GLOBAL read_only = OFF');
      for (const [user, hosts] of this.users) {
        for (const host of hosts) await connection.query('DROP USER IF EXISTS ?@?', [user, host]);
      }
      for (const database of this.databases) await connection.query(`DROP DATABASE IF EXISTS \`${database}\``);
      for (const statement of this.restoreReadOnly ?? []) await connection.query(statement);
    } finally {
      await closeConnection(connection);
    }
  }
}
