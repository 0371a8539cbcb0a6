/**
 * Cold-start cost of each credswap entry point, next to mysql2 alone.
 *
 * Each sample is a fresh `node` process that records the time and memory before and after one
 * `require()` of the entry point from dist/ (build first: `npm run build`). The table shows the
 * median over the runs, and the ratio to requiring `mysql2` alone, measured the same way in the
 * same run (runs interleave the entry points, so a busy moment hits them all alike). credswap
 * requires mysql2 itself, so "credswap/mysql2" includes mysql2's cost.
 *
 * The last rows show what the AWS SDK and node-vault cost when a provider first needs them:
 * `credswap/aws` and `credswap/vault` alone must not load them (they load lazily at the first
 * request), and no entry point loads an ORM. The last columns say what each child had loaded.
 *
 *   npm run bench:import                   # 15 runs per entry point
 *   npm run bench:import -- --runs 30 --json
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.join(__dirname, '..');

interface Entry {
  readonly name: string;
  /** What the child requires, relative to the project root (or a package name). */
  readonly modules: readonly string[];
}

const ENTRIES: readonly Entry[] = [
  { name: 'mysql2', modules: ['mysql2'] },
  { name: 'mysql2/promise', modules: ['mysql2/promise'] },
  { name: 'credswap', modules: ['./dist/lib/index.js'] },
  { name: 'credswap/mysql2', modules: ['./dist/lib/mysql2/index.js'] },
  { name: 'credswap/mysql2/promise', modules: ['./dist/lib/mysql2/promise.js'] },
  { name: 'credswap/file', modules: ['./dist/providers/file/index.js'] },
  { name: 'credswap/aws', modules: ['./dist/providers/aws/index.js'] },
  { name: 'credswap/vault', modules: ['./dist/providers/vault/index.js'] },
  { name: 'credswap/testing', modules: ['./dist/lib/testing/index.js'] },
  { name: 'credswap/aws + the AWS SDK (first request)', modules: ['./dist/providers/aws/index.js', '@aws-sdk/client-secrets-manager'] },
  { name: '@aws-sdk/client-secrets-manager alone', modules: ['@aws-sdk/client-secrets-manager'] },
  { name: 'credswap/vault + node-vault (first request)', modules: ['./dist/providers/vault/index.js', 'node-vault'] },
  { name: 'node-vault alone', modules: ['node-vault'] },
];

/** Packages that must load only when used: what each child reports having loaded. */
const HEAVY = {
  awsSdk: '/node_modules/@aws-sdk/',
  nodeVault: '/node_modules/node-vault/',
  orm: /\/node_modules\/(knex|kysely|drizzle-orm|sequelize|typeorm)\//,
};

interface Sample {
  readonly ms: number;
  readonly rssKiB: number;
  readonly heapKiB: number;
  readonly awsSdk: boolean;
  readonly nodeVault: boolean;
  readonly orm: boolean;
}

/** Runs one child process that requires `modules` and reports what it cost. */
function sample(modules: readonly string[]): Sample {
  const code = `
    const { performance } = require('node:perf_hooks');
    const before = process.memoryUsage();
    const t0 = performance.now();
    for (const m of ${JSON.stringify(modules)}) require(m);
    const ms = performance.now() - t0;
    const after = process.memoryUsage();
    const loaded = Object.keys(require.cache).map((k) => k.replaceAll('\\\\', '/'));
    const awsSdk = loaded.some((k) => k.includes(${JSON.stringify(HEAVY.awsSdk)}));
    const nodeVault = loaded.some((k) => k.includes(${JSON.stringify(HEAVY.nodeVault)}));
    const orm = loaded.some((k) => ${HEAVY.orm.toString()}.test(k));
    process.stdout.write(JSON.stringify({ ms, rssKiB: (after.rss - before.rss) / 1024, heapKiB: (after.heapUsed - before.heapUsed) / 1024, awsSdk, nodeVault, orm }));`;
  // NODE_NO_WARNINGS: the AWS SDK's Node version notice would otherwise go to stderr.
  const out = execFileSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  return JSON.parse(out) as Sample;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function main(): void {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' }, json: { type: 'boolean', default: false } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs <= 0) throw new TypeError('--runs must be a positive integer');
  const samples = new Map<string, Sample[]>(ENTRIES.map((e) => [e.name, []]));
  for (let i = 0; i < runs; i++) {
    for (const entry of ENTRIES) samples.get(entry.name)!.push(sample(entry.modules));
  }
  const baseline = median(samples.get('mysql2')!.map((s) => s.ms));
  const rows = ENTRIES.map((entry) => {
    const s = samples.get(entry.name)!;
    const ms = median(s.map((x) => x.ms));
    return {
      entry: entry.name,
      ms: Number(ms.toFixed(1)),
      ratioToMysql2: Number((ms / baseline).toFixed(2)),
      rssKiB: Math.round(median(s.map((x) => x.rssKiB))),
      heapKiB: Math.round(median(s.map((x) => x.heapKiB))),
      awsSdkLoaded: s.some((x) => x.awsSdk),
      nodeVaultLoaded: s.some((x) => x.nodeVault),
      ormLoaded: s.some((x) => x.orm),
    };
  });
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${runs} runs per entry point`;
  if (values.json) {
    console.log(JSON.stringify({ machine, rows }, null, 2));
    return;
  }
  console.log(`cold require() from dist/ (median; ${machine})\n`);
  const yesNo = (b: boolean) => (b ? 'yes' : 'no');
  console.log(
    `${'entry point'.padEnd(44)} ${'ms'.padStart(7)} ${'x mysql2'.padStart(9)} ${'rss KiB'.padStart(9)} ${'heap KiB'.padStart(9)}  AWS SDK  node-vault  ORM`,
  );
  for (const r of rows) {
    console.log(
      `${r.entry.padEnd(44)} ${r.ms.toFixed(1).padStart(7)} ${r.ratioToMysql2.toFixed(2).padStart(9)} ${String(r.rssKiB).padStart(9)} ${String(r.heapKiB).padStart(9)}  ${yesNo(r.awsSdkLoaded).padEnd(7)}  ${yesNo(r.nodeVaultLoaded).padEnd(10)}  ${yesNo(r.ormLoaded)}`,
    );
  }
}

main();
