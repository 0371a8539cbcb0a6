/**
 * Scenario `failover`: two throwaway servers (MariaDB, or MySQL as `CREDSWAP_DRILL_SERVER`
 * says) with the same database, table and user, behind a local TCP proxy that stands in for
 * DNS. A failover turns the primary read-only and, `flipDelayMs` later, points the proxy at the
 * other server; connections already open stay on the old primary, as pooled connections do
 * after a DNS change. The next failover goes back.
 *
 * Only on throwaway servers: it sets `read_only` on the primary (`super_read_only` on MySQL).
 * From `read_only=ON` to the flip (`disrupt`'s `startAt` to `endAt`) every new connection
 * reaches the old primary: the report counts each pool's logins in that window.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fromFunction } from '../../provider.js';
import type { MariaDBServer } from '../../testing/mariadb.js';
import { startTcpProxy } from '../../testing/proxy.js';
import { credswapTarget, plainPool } from './pools.js';
import { startDrillServer } from './server.js';
import { TABLE_STATEMENTS, type Scenario, type ScenarioSettings } from './types.js';

const TABLE = 'items (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL)';

/** Creates the same database, table, row and user on both servers. */
async function prepare(servers: MariaDBServer[]): Promise<{ database: string; user: string; password: string }> {
  const [first, second] = servers as [MariaDBServer, MariaDBServer];
  const database = await first.createDatabase('credswap_drill');
  const account = await first.createUser({ prefix: 'drill', grants: `ALL ON \`${database}\`.*` });
  await second.query(`CREATE DATABASE \`${database}\``);
  for (const host of ['%', 'localhost']) {
    await second.query('CREATE USER ?@? IDENTIFIED BY ?', [account.user, host, account.password]);
    await second.query(`GRANT ALL ON \`${database}\`.* TO ?@?`, [account.user, host]);
  }
  for (const server of servers) {
    await server.query(`CREATE TABLE \`${database}\`.${TABLE}`);
    await server.query(`INSERT INTO \`${database}\`.items (id, n) VALUES (1, 0)`);
  }
  return { database, ...account };
}

/** Sets the `failover` scenario up: two throwaway servers and the proxy. */
export async function setup(settings: ScenarioSettings): Promise<Scenario> {
  const servers = await Promise.allSettled([startDrillServer(), startDrillServer()]);
  const started = servers.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stopAll = () => Promise.all(started.map((s) => s.stop().catch(() => {})));
  const failure = servers.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) {
    await stopAll();
    throw failure.reason;
  }
  try {
    const account = await prepare(started);
    let [primary, standby] = started as [MariaDBServer, MariaDBServer];
    const proxy = await startTcpProxy({ target: primary });
    const endpoint = { host: proxy.host, port: proxy.port, database: account.database };
    const credentials = { user: account.user, password: account.password };
    let closing: Promise<void> | undefined;
    return {
      name: 'failover',
      embedded: true,
      kind: 'failover',
      statements: TABLE_STATEMENTS,
      async createCredswapPool() {
        return credswapTarget(
          fromFunction(async () => ({ ...credentials }), { name: 'drill-secret' }),
          endpoint,
          settings.concurrency,
        );
      },
      async createPlainPool() {
        return plainPool({ ...credentials }, endpoint, settings.concurrency);
      },
      async disrupt(index) {
        await standby.setReadOnly(false);
        const startAt = performance.now();
        await primary.setReadOnly(true);
        const accepted = proxy.stats.accepted;
        settings.log(`failover ${index + 1}: primary ${primary.port} is read-only; the proxy flips in ${settings.flipDelayMs} ms`);
        await sleep(Math.max(0, settings.flipDelayMs - (performance.now() - startAt)));
        const reachedReadOnly = proxy.stats.accepted - accepted;
        proxy.flip(standby);
        const endAt = performance.now();
        // Every pool's connections together; the report counts each pool's own (its logins while read-only).
        settings.log(
          `failover ${index + 1}: new connections go to ${standby.port}; ${reachedReadOnly} reached ${primary.port} while it was read-only`,
        );
        [primary, standby] = [standby, primary];
        return { startAt, endAt };
      },
      close() {
        closing ??= (async () => {
          await proxy.close();
          await stopAll();
        })();
        return closing;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
