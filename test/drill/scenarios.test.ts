/**
 * Every drill scenario, end to end in a short mode: real MariaDB and MySQL servers, the
 * emulators, the real AWS SDK and node-vault clients, credswap's and mysql2's pools under load.
 */
import assert from 'node:assert/strict';
import { InvalidOptionError } from '../../lib/errors.js';
import type { MariaDBServer } from '../../lib/testing/mariadb.js';
import type { ServerFlavour } from '../../lib/testing/server/admin.js';
import { startVaultEmulator } from '../../lib/testing/vault.js';
import type { DrillReport, TargetReport } from '../../lib/drill/report.js';
import { runDrill, type DrillOptions } from '../../lib/drill/run.js';
import { DRILL_SERVER_ENV, drillServerFlavour, openDrillServer } from '../../lib/drill/scenarios/server.js';
import type { ScenarioName } from '../../lib/drill/scenarios/types.js';
import { validateReport } from '../../lib/drill/validate.js';
import { describeEachFlavour, mariadbOnly, startServer } from '../helpers/servers.js';

const SHORT = { durationMs: 3_000, concurrency: 8 } as const;

function target(report: DrillReport, name: 'credswap' | 'mysql2'): TargetReport {
  const found = report.targets.find((t) => t.target === name);
  assert.ok(found, `a ${name} target`);
  return found;
}

async function drill(options: DrillOptions): Promise<DrillReport> {
  const lines: string[] = [];
  const report = await runDrill(options, { progress: { update() {}, log: (line) => lines.push(line), done() {} } });
  assert.deepEqual(validateReport(JSON.parse(JSON.stringify(report))), [], 'the report has the documented shape');
  return report;
}

function assertNoCredswapFailure(report: DrillReport): void {
  const credswap = target(report, 'credswap');
  assert.deepEqual(credswap.queries.failedByCode, {}, 'no failed credswap query');
  assert.ok(credswap.queries.ok > 0, 'credswap queries ran');
  assert.equal(report.ok, true);
  assert.ok((credswap.rotations ?? 0) >= 1, `rotations: ${credswap.rotations}`);
  for (const w of credswap.windows) assert.notEqual(w.convergedMs, undefined, 'credswap converged after each rotation');
}

/**
 * Makes the drills of the enclosing suite start throwaway servers of `flavour`
 * (`CREDSWAP_DRILL_SERVER`), and puts the variable back after them.
 */
function useDrillServer(flavour: ServerFlavour): void {
  let previous: string | undefined;
  before(function () {
    previous = process.env[DRILL_SERVER_ENV];
    process.env[DRILL_SERVER_ENV] = flavour;
  });
  after(function () {
    if (previous === undefined) delete process.env[DRILL_SERVER_ENV];
    else process.env[DRILL_SERVER_ENV] = previous;
  });
}

describe('the drill server flavour (CREDSWAP_DRILL_SERVER)', function () {
  it('is MariaDB when the variable is unset or empty, and either flavour by name', function () {
    assert.equal(drillServerFlavour({}), 'mariadb');
    assert.equal(drillServerFlavour({ [DRILL_SERVER_ENV]: '' }), 'mariadb');
    assert.equal(drillServerFlavour({ [DRILL_SERVER_ENV]: 'mariadb' }), 'mariadb');
    assert.equal(drillServerFlavour({ [DRILL_SERVER_ENV]: 'MySQL' }), 'mysql');
  });

  it('refuses any other value with an InvalidOptionError naming the variable', function () {
    assert.throws(
      () => drillServerFlavour({ [DRILL_SERVER_ENV]: 'postgres' }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === DRILL_SERVER_ENV && !error.message.includes('postgres'),
    );
  });
});

describeEachFlavour('credswap drill scenarios', (flavour) => {
  useDrillServer(flavour);

  it(`runs on a throwaway ${flavour === 'mysql' ? 'MySQL' : 'MariaDB'} server`, async function () {
    const server = await openDrillServer(undefined);
    try {
      assert.equal(server.embedded, true);
      assert.match(server.label, flavour === 'mysql' ? /^throwaway MySQL on / : /^throwaway MariaDB on /);
      const [{ v }] = await server.query<Array<{ v: string }>>('SELECT VERSION() AS v');
      assert.equal(/mariadb/i.test(v), flavour === 'mariadb', v);
    } finally {
      await server.stop();
    }
  });

  // vault-static rotates with the same ALTER USER as test/mysql2/vault-static-rotation.test.ts,
  // which runs on both; on MySQL the Vault scenario here is vault-dynamic.
  const scenarios: ScenarioName[] =
    flavour === 'mysql' ? ['function', 'file', 'aws-alternating'] : ['function', 'file', 'aws-alternating', 'vault-static'];
  for (const scenario of scenarios) {
    it(`${scenario}: credswap fails no query through a rotation`, async function () {
      const report = await drill({ scenario, ...SHORT });
      assert.equal(report.embedded, true);
      assert.equal(report.targets.length, 1);
      assertNoCredswapFailure(report);
    });
  }

  it('vault-dynamic: credswap fails no query while leases end, and the plain pool fails once its lease is dropped', async function () {
    const report = await drill({ scenario: 'vault-dynamic', ...SHORT, durationMs: 4_000, compare: 'mysql2' });
    assertNoCredswapFailure(report);
    assert.ok(target(report, 'mysql2').queries.failed > 0, 'the plain pool lost its user');
  });

  // The single-user rotation runs on MySQL through the same handler in test/mysql2/aws-rotation.test.ts.
  mariadbOnly(flavour)(
    'aws-single-user with --compare mysql2: credswap fails nothing, the plain pool fails its new logins with 1045',
    async function () {
      const report = await drill({ scenario: 'aws-single-user', ...SHORT, compare: 'mysql2' });
      assertNoCredswapFailure(report);
      const mysql2 = target(report, 'mysql2');
      assert.ok((mysql2.queries.failedByCode.ER_ACCESS_DENIED_ERROR ?? 0) > 0, JSON.stringify(mysql2.queries));
      assert.equal(mysql2.windows[0].convergedMs, undefined, 'a plain pool never takes the new password');
      assert.ok((target(report, 'credswap').providerCalls ?? 0) >= 2);
    },
  );

  // The RDS IAM front end logs in to the server behind it with mysql_native_password: MariaDB.
  mariadbOnly(flavour)(
    'rds-iam with --compare mysql2: credswap renews its token and fails nothing, the plain pool fails its new logins with 1045',
    async function () {
      const report = await drill({ scenario: 'rds-iam', ...SHORT, rotations: 2, churnPerSecond: 4, compare: 'mysql2' });
      assertNoCredswapFailure(report);
      assert.equal(target(report, 'credswap').providerCalls, 3, 'one token at start and one per rotation');
      const mysql2 = target(report, 'mysql2');
      assert.ok((mysql2.queries.failedByCode.ER_ACCESS_DENIED_ERROR ?? 0) > 0, JSON.stringify(mysql2.queries));
    },
  );

  it('failover: the credswap write-error window is bounded by the flip delay plus a small margin, while mysql2 keeps failing after the flip', async function () {
    const flipDelayMs = 1_000;
    const report = await drill({
      scenario: 'failover',
      durationMs: 6_000,
      concurrency: 8,
      flipDelayMs,
      churnPerSecond: 1,
      compare: 'mysql2',
    });
    const credswap = target(report, 'credswap');
    const mysql2 = target(report, 'mysql2');
    assert.deepEqual(
      Object.keys(credswap.queries.failedByCode),
      ['CREDSWAP_READ_ONLY'],
      'only writes the read-only server refused, in transactions (ReadOnlyError)',
    );
    assert.ok(credswap.writeErrorWindowMs! <= flipDelayMs + 1_000, `credswap write-error window ${credswap.writeErrorWindowMs} ms`);
    assert.notEqual(credswap.windows[0].convergedMs, undefined);
    assert.ok(mysql2.queries.failed > 0);
    assert.ok(
      mysql2.writeErrorWindowMs! > credswap.writeErrorWindowMs!,
      `mysql2 ${mysql2.writeErrorWindowMs} ms vs credswap ${credswap.writeErrorWindowMs} ms`,
    );
    assert.ok(mysql2.writeErrorAfterFlipMs! > 0, 'the plain pool kept failing writes after the flip');
    assert.ok(
      mysql2.writeErrorAfterFlipMs! > credswap.writeErrorAfterFlipMs!,
      `after the flip: mysql2 ${mysql2.writeErrorAfterFlipMs} ms vs credswap ${credswap.writeErrorAfterFlipMs} ms`,
    );
    for (const t of [credswap, mysql2]) {
      const logins = t.windows[0].logins;
      assert.ok(logins !== undefined && logins <= t.connectionsOpened, `${t.target}: ${logins} logins while read-only`);
    }
    assert.equal(credswap.queries.refused, credswap.queries.failed, 'every failure was a write refused before the flip');
    assert.equal(report.ok, true);
    assert.ok(mysql2.queries.failed > mysql2.queries.refused, 'the plain pool kept writing to the read-only server after the flip');
  });

  describe('on infrastructure named by flags', function () {
    let server: MariaDBServer;

    before(async function () {
      server = await startServer(flavour);
    });

    after(async function () {
      await server?.stop();
    });

    async function leftovers(): Promise<string[]> {
      const dbs = await server.query<Array<{ n: string }>>(
        "SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'credswap_drill%'",
      );
      const users = await server.query<Array<{ n: string }>>("SELECT User AS n FROM mysql.user WHERE User LIKE 'drill%'");
      return [...dbs, ...users].map((r) => r.n);
    }

    it('--mysql: runs on the named server with a database and user of its own, and drops them afterwards', async function () {
      const report = await drill({ scenario: 'function', ...SHORT, mysqlUrl: server.adminUrl, compare: 'mysql2' });
      assert.equal(report.embedded, false);
      assertNoCredswapFailure(report);
      assert.ok(target(report, 'mysql2').queries.failed > 0);
      assert.deepEqual(await leftovers(), []);
    });

    it('--mysql with aws-alternating: the _clone user the rotation created is dropped too', async function () {
      const report = await drill({ scenario: 'aws-alternating', ...SHORT, mysqlUrl: server.adminUrl });
      assertNoCredswapFailure(report);
      assert.deepEqual(await leftovers(), []);
    });

    it('--vault-addr/--vault-role: rotates the named static role of a running Vault, reading only', async function () {
      const database = await server.createDatabase('vaultdrill');
      const account = await server.createUser({ prefix: 'svc', grants: `SELECT ON \`${database}\`.*` });
      const vault = await startVaultEmulator({ server });
      try {
        await vault.configureStaticRole('svc', { username: account.user, rotationPeriodS: 86_400 });
        const report = await drill({
          scenario: 'vault-static',
          ...SHORT,
          vaultAddr: vault.endpoint,
          vaultRole: 'svc',
          vaultToken: vault.createToken({ ttlS: 600 }),
          mysqlUrl: `mysql://${server.host}:${server.port}/${database}`,
        });
        assertNoCredswapFailure(report);
        assert.equal(report.options.writeRatio, 0, 'no table of its own: reads only');
        assert.equal(vault.calls['database/rotate-role/:role'], 1);
      } finally {
        await vault.close();
      }
    });
  });
});
