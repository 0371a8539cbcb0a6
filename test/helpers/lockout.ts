/**
 * What lockout tests share: the server's count of refused logins, a user the server locks at its
 * third refused login in a row, and killing a user's sessions.
 */
import type { MariaDBServer } from '../../lib/testing/mariadb.js';

/** Refused logins the server counted so far (every account): MariaDB's `Access_denied_errors`, MySQL's `Aborted_connects`. */
export async function refusedLogins(server: MariaDBServer): Promise<number> {
  const counter = server.flavour === 'mysql' ? 'Aborted_connects' : 'Access_denied_errors';
  const rows = await server.query<Array<{ Value: string }>>(`SHOW GLOBAL STATUS LIKE '${counter}'`);
  return Number(rows[0]?.Value);
}

/**
 * A user the server locks at its third refused login in a row: MySQL's `FAILED_LOGIN_ATTEMPTS`
 * on the user; on MariaDB, the suite sets the global `max_password_errors = 3` itself.
 */
export async function lockingUser(server: MariaDBServer, prefix: string): Promise<{ user: string; password: string }> {
  const account = await server.createUser({ prefix });
  if (server.flavour === 'mysql') {
    for (const host of ['%', 'localhost']) {
      await server.query(`ALTER USER ?@? FAILED_LOGIN_ATTEMPTS 3 PASSWORD_LOCK_TIME 1`, [account.user, host]);
    }
  }
  return account;
}

/** Kills every session of `user` (one already gone is fine). */
export async function killSessionsOf(server: MariaDBServer, user: string): Promise<void> {
  for (const session of await server.processlist(user)) {
    await server.query(`KILL CONNECTION ${Number(session.id)}`).catch(() => {});
  }
}
