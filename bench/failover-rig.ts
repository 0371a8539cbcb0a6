/**
 * The failover benchmark's rig: two throwaway servers of one flavour (A, the primary, and B)
 * with the same database, user and table, behind a TCP proxy that stands in for DNS. New
 * connections go where the proxy points; connections already open stay on their server, as
 * pooled connections do after a DNS change. Each write the benchmark makes carries a unique id
 * (`wid`), and the table has no unique key on it, so that a write that ran twice shows up as two
 * rows instead of being refused by the server.
 */
import type { MariaDBServer } from '../lib/testing/mariadb.js';
import { startMariaDB } from '../lib/testing/mariadb.js';
import { startMySQL } from '../lib/testing/mysql.js';
import type { ServerFlavour } from '../lib/testing/server/admin.js';
import { startTcpProxy, type TcpProxy } from '../lib/testing/proxy.js';

const TABLE = 'writes (seq BIGINT AUTO_INCREMENT PRIMARY KEY, wid VARCHAR(96) NOT NULL, KEY (wid))';

/** Two servers behind a proxy, and what the benchmark does with them. */
export interface FailoverRig {
  readonly flavour: ServerFlavour;
  /** The primary (A) and the server the address moves to (B). */
  readonly a: MariaDBServer;
  readonly b: MariaDBServer;
  readonly proxy: TcpProxy;
  /** Where the pools connect: the proxy, with the database and user both servers know. */
  readonly endpoint: { host: string; port: number; database: string };
  readonly user: string;
  readonly password: string;
  /** Back to the start: both servers writable and empty, new connections to A. */
  reset(): Promise<void>;
  /** TCP connections the proxy accepted so far (every new connection, to whichever server). */
  accepted(): number;
  /** Connections open through the proxy to A now. */
  openOnA(): number;
  /** How many rows each write id has, summed over both servers. */
  rowsByWid(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

const key = (server: MariaDBServer) => `${server.host}:${server.port}`;

/** Starts two throwaway servers of `flavour` and the proxy, pointing at A. */
export async function startFailoverRig(flavour: ServerFlavour): Promise<FailoverRig> {
  const start = () => (flavour === 'mysql' ? startMySQL() : startMariaDB());
  const started = await Promise.allSettled([start(), start()]);
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => s.stop().catch(() => {})));
    throw failed.reason;
  }
  const [a, b] = servers as [MariaDBServer, MariaDBServer];
  let proxy: TcpProxy | undefined;
  try {
    const database = await a.createDatabase('failover_bench');
    const account = await a.createUser({ prefix: 'fobench', grants: `ALL ON \`${database}\`.*` });
    await b.query(`CREATE DATABASE \`${database}\``);
    for (const host of ['%', 'localhost']) {
      await b.query('CREATE USER ?@? IDENTIFIED BY ?', [account.user, host, account.password]);
      await b.query(`GRANT ALL ON \`${database}\`.* TO ?@?`, [account.user, host]);
    }
    for (const server of [a, b]) await server.query(`CREATE TABLE \`${database}\`.${TABLE}`);
    const p = await startTcpProxy({ target: a });
    proxy = p;
    return {
      flavour,
      a,
      b,
      proxy: p,
      endpoint: { host: p.host, port: p.port, database },
      user: account.user,
      password: account.password,
      async reset() {
        await Promise.all([a.setReadOnly(false), b.setReadOnly(false)]);
        p.flip(a);
        await Promise.all([a, b].map((s) => s.query(`TRUNCATE TABLE \`${database}\`.writes`)));
      },
      accepted: () => p.stats.accepted,
      openOnA: () => p.stats.openByTarget[key(a)] ?? 0,
      async rowsByWid() {
        const counts = new Map<string, number>();
        for (const server of [a, b]) {
          const rows = await server.query<Array<{ wid: string; n: number | string }>>(
            `SELECT wid, COUNT(*) AS n FROM \`${database}\`.writes GROUP BY wid`,
          );
          for (const row of rows) counts.set(row.wid, (counts.get(row.wid) ?? 0) + Number(row.n));
        }
        return counts;
      },
      async close() {
        await p.close();
        await Promise.all([a.stop(), b.stop()]);
      },
    };
  } catch (error) {
    await proxy?.close();
    await Promise.all([a.stop().catch(() => {}), b.stop().catch(() => {})]);
    throw error;
  }
}
