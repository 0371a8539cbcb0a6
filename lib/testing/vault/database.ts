/**
 * What the database secrets engine does to MariaDB/MySQL, statement by statement, with the
 * defaults of Vault's MySQL plugin (`plugins/database/mysql`):
 *
 * - creation: `CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT <grants> TO '{{name}}'@'%'`
 *   (the statements Vault's documentation configures for a MySQL role);
 * - revocation (the plugin's default): `REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{{name}}'@'%'; DROP USER '{{name}}'@'%'`,
 *   no KILL, so open sessions stay connected but lose their privileges;
 * - static rotation (the plugin's default): `ALTER USER '{{username}}'@'%' IDENTIFIED BY '{{password}}'`.
 *
 * Each statement is run for every account host the emulator manages (`'%'` and `'localhost'` by
 * default), because a server that resolves names matches a loopback client against `'localhost'`
 * accounts (including anonymous ones) before `'%'`.
 *
 * @packageDocumentation
 */

import type { Admin, AdminQuery } from './admin.js';

export class DatabaseStatements {
  constructor(
    private readonly admin: Admin,
    private readonly hosts: readonly string[],
  ) {}

  /** Creates `username` on every managed host and grants it `grants` (SQL between GRANT and TO). */
  createUser(username: string, password: string, grants: string): Promise<void> {
    return this.admin.run(
      async (query) => {
        try {
          for (const host of this.hosts) await query('CREATE USER ?@? IDENTIFIED BY ?', [username, host, password]);
          for (const host of this.hosts) await query(`GRANT ${grants} TO ?@?`, [username, host]);
        } catch (error) {
          // Vault's creation is one transaction; DDL is not transactional, so clean up by hand.
          for (const host of this.hosts) await query('DROP USER IF EXISTS ?@?', [username, host]).catch(() => undefined);
          throw error;
        }
      },
      [password],
    );
  }

  /** Runs the default revocation statements for `username` on every managed host. */
  dropUser(username: string): Promise<void> {
    return this.admin.run(async (query) => {
      for (const host of this.hosts) {
        await query('REVOKE ALL PRIVILEGES, GRANT OPTION FROM ?@?', [username, host]);
        await query('DROP USER ?@?', [username, host]);
      }
    });
  }

  /** Sets a new password with `ALTER USER` on every existing account of `username`. */
  setPassword(username: string, password: string): Promise<void> {
    return this.admin.run(
      async (query) => {
        const hosts = await accountHosts(query, username);
        if (hosts.length === 0) throw new Error(`there is no database account named '${username}'`);
        for (const host of hosts) await query('ALTER USER ?@? IDENTIFIED BY ?', [username, host, password]);
      },
      [password],
    );
  }

  /** Throws unless the account `username` exists. */
  requireUser(username: string): Promise<void> {
    return this.admin.run(async (query) => {
      if ((await accountHosts(query, username)).length === 0) {
        throw new Error(`there is no database account named '${username}'`);
      }
    });
  }
}

async function accountHosts(query: AdminQuery, username: string): Promise<string[]> {
  const rows = await query<Array<{ host: string }>>('SELECT Host AS host FROM mysql.user WHERE User = ?', [username]);
  return rows.map((row) => row.host);
}
