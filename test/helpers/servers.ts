/**
 * Servers of either flavour for tests, and suites that need MySQL. Where there is no MySQL such
 * a suite is replaced by one pending test whose title says why; with `CREDSWAP_REQUIRE_MYSQL=1`
 * (as in CI) it is replaced by one failing test instead, so MySQL tests cannot vanish unnoticed.
 */
import { startMariaDB, startTestServer } from '../../lib/testing/mariadb.js';
import { MySQLNotFoundError, mysqlAvailability, REQUIRE_MYSQL_ENV, startMySQL } from '../../lib/testing/mysql.js';
import type { MariaDBServer, ServerFlavour } from '../../lib/testing/server/admin.js';

/** Every flavour of throwaway server, MariaDB first. */
export const FLAVOURS: readonly ServerFlavour[] = ['mariadb', 'mysql'];

/** Starts a throwaway server of `flavour`: {@link startMariaDB} or {@link startMySQL}. */
export function startServer(flavour: ServerFlavour): Promise<MariaDBServer> {
  return flavour === 'mysql' ? startMySQL() : startMariaDB();
}

/**
 * The server of a test run, of `flavour`: for MariaDB {@link startTestServer} (the server
 * `MYSQL_URL` names, else a throwaway MariaDB), for MySQL a throwaway MySQL. For suites that ran
 * on {@link startTestServer} before they ran on both flavours.
 */
export function startTestServerOf(flavour: ServerFlavour): Promise<MariaDBServer> {
  return flavour === 'mysql' ? startMySQL() : startTestServer();
}

/**
 * `describe(title, body)` when MySQL can be started here. Otherwise one pending test, `<title>:
 * skipped, no MySQL found: ...`, or, when `CREDSWAP_REQUIRE_MYSQL` is set, one failing test
 * whose error says where MySQL was looked for.
 */
export function describeWithMySQL(title: string, body: (this: Mocha.Suite) => void): void {
  const mysql = mysqlAvailability();
  if (mysql.available) {
    describe(title, body);
  } else if (mysql.required) {
    it(`${title}: finds a MySQL server, as ${REQUIRE_MYSQL_ENV} requires`, function () {
      throw new MySQLNotFoundError(mysql.tried);
    });
  } else {
    it.skip(`${title}: skipped, ${mysql.reason} (set ${REQUIRE_MYSQL_ENV}=1 to fail instead)`);
  }
}

/** `describe('<title> (<flavour>)', ...)` once per flavour; MySQL's through {@link describeWithMySQL}. */
export function describeEachFlavour(title: string, body: (flavour: ServerFlavour) => void): void {
  for (const flavour of FLAVOURS) {
    const suite = `${title} (${flavour})`;
    if (flavour === 'mysql') describeWithMySQL(suite, () => body(flavour));
    else describe(suite, () => body(flavour));
  }
}

/**
 * `it` for a suite of {@link describeEachFlavour} that registers its test on MariaDB only: for
 * tests whose subject does not depend on the server (a service's retries, tokens, sealing), which
 * on MySQL too would only cost time. Say at the call why the server plays no part.
 */
export function mariadbOnly(flavour: ServerFlavour): (title: string, fn: Mocha.AsyncFunc) => void {
  return (title, fn) => {
    if (flavour === 'mariadb') it(title, fn);
  };
}
