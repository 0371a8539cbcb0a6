/**
 * `npm run bench`: every benchmark, one after the other, each in a process of its own, with the
 * machine they ran on printed first. credswap is loaded from dist/ (the script builds first).
 *
 * Sections (each is also a script of its own):
 * - `hot`: hot-path throughput, credswap / mysql2 (bench/pool-query.ts, `npm run bench:hot`)
 * - `storm`: rotation storms of 10, 100 and 1000 pending requests (bench/rotation-storm.ts,
 *   `npm run bench:storm`)
 * - `import`: cold start of each entry point next to mysql2 (bench/cold-import.ts,
 *   `npm run bench:import`)
 * - `soak`: 10,000 rotations, heap, handles and connections before and after (bench/soak.ts,
 *   `npm run bench:soak`)
 *
 *   npm run bench
 *   npm run bench -- --only storm,soak
 *   npm run bench -- --json > bench.json
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startTestServer } from '../lib/testing/mariadb.js';
import { describeMachine, machineLines } from './machine.js';

const HELP = `usage: npm run bench -- [--only SECTION,...] [--json]

  --only   run only these sections: hot, storm, import, soak (default: all, in this order)
  --json   print one JSON document: the machine and each section's own JSON output

Each section is a script with its own flags: npm run bench:hot|bench:storm|bench:import|bench:soak -- --help`;

interface Section {
  readonly name: string;
  readonly title: string;
  readonly script: string;
  readonly args: readonly string[];
}

const SECTIONS: readonly Section[] = [
  {
    name: 'hot',
    title: 'hot path: queries per second, credswap / mysql2',
    script: 'pool-query.ts',
    args: ['--module', 'dist/lib/mysql2/promise.js'],
  },
  { name: 'storm', title: 'rotation storms: N requests pending when the password rotates', script: 'rotation-storm.ts', args: ['--dist'] },
  { name: 'import', title: 'cold start: require() of each entry point, next to mysql2', script: 'cold-import.ts', args: [] },
  { name: 'soak', title: 'soak: 10,000 rotations on one pool', script: 'soak.ts', args: ['--dist'] },
];

const root = path.join(__dirname, '..');

/** Runs one section's script with `node --import tsx`; resolves with its stdout when captured. */
function run(section: Section, json: boolean): Promise<string> {
  const args = ['--import', 'tsx', path.join(__dirname, section.script), ...section.args, ...(json ? ['--json'] : [])];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', json ? 'pipe' : 'inherit', 'inherit'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`bench/${section.script} exited with ${signal ?? `code ${code}`}`));
    });
  });
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      only: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const names = flags.only?.split(',').map((s) => s.trim()) ?? SECTIONS.map((s) => s.name);
  for (const name of names) {
    if (!SECTIONS.some((s) => s.name === name)) throw new TypeError(`--only: unknown section ${JSON.stringify(name)}`);
  }
  const json = flags.json === true;

  const server = await startTestServer();
  const machine = await describeMachine(server).finally(() => server.stop());
  if (!json) {
    console.log(`credswap benchmarks, ${new Date().toISOString().slice(0, 10)}`);
    for (const line of machineLines(machine)) console.log(line);
  }

  const results: Record<string, unknown> = {};
  for (const section of SECTIONS.filter((s) => names.includes(s.name))) {
    if (!json) console.log(`\n== ${section.name}: ${section.title} (bench/${section.script}) ==\n`);
    const started = performance.now();
    const out = await run(section, json);
    if (json) results[section.name] = JSON.parse(out);
    else console.log(`\n(${section.name} took ${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  if (json) console.log(JSON.stringify({ date: new Date().toISOString(), machine, sections: results }, null, 2));
}

main().catch((error: unknown) => {
  console.error(error instanceof TypeError ? `${error.message}\n\n${HELP}` : error);
  process.exitCode = 1;
});
