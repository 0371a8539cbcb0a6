/**
 * A rotation-and-failover rig for integration tests (the ORM tests share it): two servers of one
 * flavour (MariaDB or MySQL) with the same database, table and user, behind a TCP proxy that
 * stands in for DNS, and a "secret" that a hot-swap function reads. `rotatePassword()` runs a
 * single-user rotation; `failover()` turns the primary read-only (`super_read_only` on MySQL)
 * and points the proxy at the replica. `rotateAndFailOverUnderLoad()` drives both under write
 * load and checks what every pool owes.
 */
import assert from 'node:assert/strict';
import type { Credentials } from '../../lib/credentials.js';
import type { HotSwapFunction } from '../../lib/provider.js';
import { READ_ONLY_ERRNOS } from '../../lib/mysql2/classify.js';
import { errorCodeOf } from '../../lib/testing/load.js';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import type { ServerFlavour } from '../../lib/testing/server/admin.js';
import { startTcpProxy, type TcpProxy } from '../../lib/testing/proxy.js';
import { eventually, startLoad, stopAllLoads } from './load.js';
import { startServer, startTestServerOf } from './servers.js';

/** Two servers behind a proxy, a hot-swap secret, and the moves of a rotation and a failover. */
export interface FailoverRig {
  readonly primary: MariaDBServer;
  readonly replica: MariaDBServer;
  readonly proxy: TcpProxy;
  /** Where clients connect: the proxy. */
  readonly host: string;
  readonly port: number;
  /** A database present on both servers, with a table `items (id INT AUTO_INCREMENT PRIMARY KEY, n INT)`. */
  readonly database: string;
  /** The user both servers know, with the same password. */
  readonly user: string;
  /** The hot-swap callback reading the "secret"; `calls` counts its calls. */
  readonly credentials: HotSwapFunction;
  readonly calls: number;
  /** The secret's current password (for libraries that take `password` directly). */
  readonly password: string;
  /** Single-user rotation: the secret gets a new password, then both servers do. */
  rotatePassword(): Promise<void>;
  /** The primary turns read-only; `flipAfterMs` later the proxy sends new connections to the replica. */
  failover(flipAfterMs?: number): Promise<void>;
  /** Rows in `items` on a server (as administrator). */
  count(server: MariaDBServer): Promise<number>;
  close(): Promise<void>;
}

/** The errno of an error or of the driver error an ORM wrapped it in. */
export function errnoOf(error: unknown): number | undefined {
  return errorCodeOf(error).errno;
}

/** True when the server refused the statement because it was read-only. */
export function refusedAsReadOnly(error: unknown): boolean {
  const errno = errnoOf(error);
  return errno !== undefined && READ_ONLY_ERRNOS.has(errno);
}

const TABLE = 'CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL)';

/**
 * Starts a rig: two servers of `flavour` with the same database, table and user, behind a proxy
 * aimed at the primary. On MariaDB, the primary is the server `MYSQL_URL` names when it is set.
 */
export async function startFailoverRig(prefix = 'rig', flavour: ServerFlavour = 'mariadb'): Promise<FailoverRig> {
  const [primary, replica] = await Promise.all([startTestServerOf(flavour), startServer(flavour)]);
  const database = await primary.createDatabase(prefix);
  await replica.query(`CREATE DATABASE \`${database}\``);
  const account = await primary.createUser({ prefix, grants: `ALL ON \`${database}\`.*` });
  await replica.query("CREATE USER ?@'%' IDENTIFIED BY ?", [account.user, account.password]);
  await replica.query("CREATE USER ?@'localhost' IDENTIFIED BY ?", [account.user, account.password]);
  for (const host of ['%', 'localhost']) {
    await replica.query(`GRANT ALL ON \`${database}\`.* TO ?@?`, [account.user, host]);
  }
  await primary.query(`${TABLE.replace('items', `\`${database}\`.items`)}`);
  await replica.query(`${TABLE.replace('items', `\`${database}\`.items`)}`);
  const proxy = await startTcpProxy({ target: primary });
  let password = account.password;
  let calls = 0;
  let rotation = 0;
  const credentials: HotSwapFunction = async (): Promise<Credentials> => {
    calls += 1;
    return { user: account.user, password };
  };
  return {
    primary,
    replica,
    proxy,
    host: proxy.host,
    port: proxy.port,
    database,
    user: account.user,
    credentials,
    get calls() {
      return calls;
    },
    get password() {
      return password;
    },
    async rotatePassword() {
      rotation += 1;
      password = `${prefix}-${rotation}-${Math.random().toString(36).slice(2)}`;
      await Promise.all([primary.setPassword(account.user, password), replica.setPassword(account.user, password)]);
    },
    async failover(flipAfterMs = 300) {
      await primary.setReadOnly(true);
      await new Promise((resolve) => setTimeout(resolve, flipAfterMs));
      proxy.flip(replica);
    },
    async count(server) {
      const rows = await server.query<Array<{ n: number }>>(`SELECT COUNT(*) AS n FROM \`${database}\`.items`);
      return Number(rows[0].n);
    },
    async close() {
      await proxy.close();
      await Promise.all([primary.stop(), replica.stop()]);
    },
  };
}

/**
 * Starts a rig before the tests of the enclosing `describe` and closes it after them, and stops
 * any load a test left running after each test (before the file's own `afterEach` hooks, which
 * end its pools). The returned rig forwards to the running one.
 */
export function useFailoverRig(prefix: string, flavour: ServerFlavour = 'mariadb'): FailoverRig {
  let current: FailoverRig | undefined;
  before(async function () {
    current = await startFailoverRig(prefix, flavour);
  });
  after(async function () {
    await current?.close();
    current = undefined;
  });
  afterEach(async function () {
    await stopAllLoads();
  });
  return new Proxy({} as FailoverRig, {
    get(_target, key) {
      if (current === undefined) throw new Error(`the '${prefix}' rig is used outside the tests of its describe block`);
      return Reflect.get(current, key, current);
    },
  });
}

/** Options of {@link rotateAndFailOverUnderLoad}. */
export interface RotateAndFailOverOptions {
  /**
   * `rig.calls` before the pool was created, when creating it already logged in (TypeORM's
   * `initialize()`). Default: `rig.calls` when the drill starts.
   */
  callsBefore?: number;
  /** Checks of the caller's own, run once the rotation is through (say, that the pool grew). */
  afterRotation?: () => void | Promise<void>;
  /**
   * How long connections to the old primary may take to close once the load has stopped, for
   * pools that close them lazily. Default 0: none may be left at that moment.
   */
  drainMs?: number;
}

/** What happened under load, for a caller's own assertions. */
export interface FailoverOutcome {
  /** Tasks that succeeded. */
  ok: number;
  /** The failures kept (all of them read-only refusals, from before the flip). */
  failed: Error[];
  failedCount: number;
}

/** An error's message, with the errno and cause an ORM may have wrapped it around. */
function describeFailure(error: Error): string {
  const errno = errnoOf(error);
  const cause = (error as { cause?: unknown }).cause;
  return `${error.message}${errno === undefined ? '' : ` [errno ${errno}]`}${cause === undefined ? '' : ` (cause: ${String(cause)})`}`;
}

/**
 * A single-user rotation, then a failover, under write load through `task` (which should use the
 * library's own API, with a transaction every third iteration, writing to `items`). Three workers
 * first; thirteen more join after the rotation, so that the pool must open new connections
 * while the server refuses the old password. Asserts: one provider call for the first logins and
 * one for the rotation, no failure through the rotation, only read-only refusals through the
 * failover and none once the pool had moved to the new primary, no connection left on the old
 * primary, rows on the replica, and no provider call for the failover.
 */
export async function rotateAndFailOverUnderLoad(
  rig: FailoverRig,
  task: (worker: number, iteration: number) => Promise<unknown>,
  options: RotateAndFailOverOptions = {},
): Promise<FailoverOutcome> {
  const callsBefore = options.callsBefore ?? rig.calls;
  const providerCalls = () => rig.calls - callsBefore;
  const early = startLoad(3, task);
  await early.untilOk(100);
  assert.equal(providerCalls(), 1, 'one provider call for the first logins');
  await rig.rotatePassword();
  const late = startLoad(13, task);
  const loads = [early, late];
  const failed = () => loads.flatMap((load) => load.result.failed);
  const failedCount = () => loads.reduce((sum, load) => sum + load.result.failedCount, 0);
  await eventually(() => providerCalls() >= 2, 30_000, 'a provider call after the password change');
  await late.untilOk(300);
  assert.deepEqual(failed().map(describeFailure), [], 'no failures through the rotation');
  assert.equal(providerCalls(), 2, 'one provider call for the first logins, one for the rotation');
  await options.afterRotation?.();

  await rig.failover(300);
  await late.untilOk(late.result.ok + 300);
  const failedByFlip = failedCount();
  await late.untilOk(late.result.ok + 500);
  const results = await Promise.all(loads.map((load) => load.stop()));

  assert.ok(failed().every(refusedAsReadOnly), `only read-only refusals: ${failed().map(describeFailure).join('; ')}`);
  assert.equal(failedCount(), failedByFlip, 'no failure once the pool had moved to the new primary');
  const primary = `${rig.primary.host}:${rig.primary.port}`;
  const leftOnPrimary = () => rig.proxy.stats.openByTarget[primary] ?? 0;
  if (options.drainMs) await eventually(() => leftOnPrimary() === 0, options.drainMs, 'no connection left on the old primary');
  else assert.equal(leftOnPrimary(), 0, 'no connection left on the old primary');
  assert.ok((await rig.count(rig.replica)) > 0, 'rows written on the new primary');
  assert.equal(providerCalls(), 2, 'no provider call for the failover');
  return { ok: results.reduce((sum, r) => sum + r.ok, 0), failed: failed(), failedCount: failedCount() };
}
