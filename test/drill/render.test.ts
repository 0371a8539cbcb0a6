import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { buildReport, summarize, type DrillReport, type DrillWindow } from '../../lib/drill/report.js';
import { createProgress, renderJson, renderTable } from '../../lib/drill/render.js';
import { validateReport } from '../../lib/drill/validate.js';
import type { QueryOutcome } from '../../lib/testing/load.js';

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const strip = (text: string) => text.replace(ANSI, '');

/** `count` outcomes spread over `spanMs`, every `failEvery`-th failing with `code`. */
function outcomes(count: number, spanMs: number, failEvery = 0, code = 'ER_ACCESS_DENIED_ERROR'): QueryOutcome[] {
  return Array.from({ length: count }, (_, i) => {
    const failed = failEvery > 0 && i % failEvery === failEvery - 1;
    return {
      at: (i * spanMs) / count,
      durationMs: 0.3 + (i % 10) * 0.05,
      kind: i % 5 === 4 ? 'write' : 'read',
      worker: i % 8,
      ok: !failed,
      ...(failed ? { code, errno: 1045 } : {}),
    } satisfies QueryOutcome;
  });
}

const windows: DrillWindow[] = [
  { kind: 'rotation', startMs: 3000, endMs: 3900, convergedMs: 3038.4 },
  { kind: 'rotation', startMs: 7000, endMs: 7800, convergedMs: 7041.2 },
];

function singleUserReport(options: { compare?: boolean; credswapFailEvery?: number } = {}): DrillReport {
  const credswap = summarize({
    outcomes: outcomes(41_233, 10_000, options.credswapFailEvery ?? 0),
    windows,
    stats: { target: 'credswap', providerCalls: 3, rotations: 2, connectionsOpened: 12 },
  });
  const targets = [credswap];
  if (options.compare) {
    targets.push(
      summarize({
        outcomes: outcomes(29_514, 10_000, 48),
        windows: windows.map(({ convergedMs: _, ...w }) => w),
        stats: { target: 'mysql2', connectionsOpened: 8 },
      }),
    );
  }
  return buildReport({
    scenario: 'aws-single-user',
    embedded: true,
    options: { durationMs: 10_000, concurrency: 8, writeRatio: 0.2, rotations: 2 },
    targets,
    startedAt: new Date('2025-03-01T10:00:00Z'),
    machine: { node: 'v20.19.0', platform: 'linux-x64', cpus: 2, cpuModel: 'Test CPU' },
  });
}

/** The table's body: the lines between the two rules. */
function body(table: string): string[] {
  const lines = table.split('\n');
  const rules = lines.flatMap((l, i) => (l.trim().startsWith('─') ? [i] : []));
  assert.equal(rules.length, 2);
  return lines.slice(rules[0] + 1, rules[1]);
}

/** The cells of the body row whose label is `label`. */
function row(table: string, label: string): string[] {
  const line = body(table).find((l) => l.trimStart().startsWith(`${label}  `) || l.trim() === label);
  assert.ok(line, `row ${label}`);
  return line
    .trim()
    .slice(label.length)
    .trim()
    .split(/\s{2,}/)
    .filter(Boolean);
}

/** A writable stream that records what is written, as a terminal or as a pipe. */
function fakeStream(tty: boolean, columns?: number) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, callback) {
        chunks.push(String(chunk));
        callback();
      },
    }),
    tty ? { isTTY: true, columns } : {},
  );
  return { stream, chunks, text: () => chunks.join('') };
}

describe('drill rendering', function () {
  describe('renderTable', function () {
    it('shows credswap and mysql2 side by side, one row per error code, and the verdict', function () {
      const table = renderTable(singleUserReport({ compare: true }));
      assert.match(table, /^credswap drill: aws-single-user, on throwaway servers and emulators\n/);
      assert.match(table, /10\.0 s, 8 workers, 20% writes, 2 rotations; Node v20\.19\.0, linux-x64, 2 × Test CPU/);
      assert.deepEqual(row(table, 'queries ok'), ['41,233', '28,900']);
      assert.deepEqual(row(table, 'queries failed'), ['0', '614']);
      assert.deepEqual(row(table, 'ER_ACCESS_DENIED_ERROR'), ['0', '614']);
      assert.deepEqual(row(table, 'rotations'), ['2', '—']);
      assert.deepEqual(row(table, 'provider calls'), ['3', '—']);
      assert.deepEqual(row(table, 'connections opened'), ['12', '8']);
      assert.deepEqual(row(table, 'convergence (slowest)'), ['41.2 ms', 'never']);
      assert.equal(
        body(table).some((l) => /write-error window|after the flip|logins while read-only/.test(l)),
        false,
        'no failover row in a rotation drill',
      );
      assert.ok(
        table.endsWith(
          'PASS: credswap failed 0 of 41,233 queries\n' +
            'plain mysql2, same drill: failed 614 of 29,514 queries (614 ER_ACCESS_DENIED_ERROR)\n',
        ),
      );
    });

    it('shows latency p50/p99/max inside and outside the windows', function () {
      const report = singleUserReport({ compare: true });
      const table = renderTable(report);
      const lines = body(table).map((l) => l.trim());
      const inside = lines.indexOf('latency inside rotation windows');
      const outside = lines.indexOf('latency outside rotation windows');
      assert.ok(inside >= 0 && outside > inside);
      assert.deepEqual(
        lines.slice(inside + 1, inside + 4).map((l) => l.split(/\s+/)[0]),
        ['p50', 'p99', 'max'],
      );
      const p99 = report.targets[0].latencyMs.outside.p99;
      assert.match(lines[outside + 2], new RegExp(`^p99\\s+${p99.toFixed(2)} ms\\s+`));
    });

    it('aligns every column: the values of a column end at the same place', function () {
      const table = renderTable(singleUserReport({ compare: true }));
      const lines = body(table).filter((l) => /\d|—|never/.test(l));
      const ends = new Set(lines.map((l) => l.length));
      assert.equal(ends.size, 1, `rows end at ${[...ends].join(', ')}`);
      const header = table.split('\n').find((l) => l.trim() === 'credswap    mysql2' || /^\s+credswap\s+mysql2$/.test(l))!;
      assert.ok(header, 'a header row names the targets');
      assert.equal(header.length, lines[0].length, 'the header is right-aligned with the values');
    });

    it('says FAIL with the codes when credswap failed queries', function () {
      const table = renderTable(singleUserReport({ credswapFailEvery: 1000 }));
      assert.ok(table.endsWith('FAIL: credswap failed 41 of 41,233 queries (41 ER_ACCESS_DENIED_ERROR)\n'));
      assert.equal(table.includes('plain mysql2'), false);
      assert.equal(body(table)[0].includes('mysql2'), false);
    });

    it('says FAIL when credswap ran no query', function () {
      const report = buildReport({
        scenario: 'function',
        embedded: false,
        options: { durationMs: 1000, concurrency: 1, writeRatio: 0, rotations: 1 },
        targets: [summarize({ outcomes: [], windows: [], stats: { target: 'credswap', connectionsOpened: 0 } })],
        startedAt: new Date(),
      });
      const table = renderTable(report);
      assert.ok(table.endsWith('FAIL: credswap ran no successful query\n'));
      assert.match(table, /on the infrastructure named by the flags/);
      assert.equal(table.includes('latency inside'), false, 'no latency section without queries');
      assert.deepEqual(row(table, 'convergence (slowest)'), ['—']);
    });

    it('failover: names the window, and shows the write-error window, its part after the flip and the logins while read-only', function () {
      const window: DrillWindow = { kind: 'failover', startMs: 2000, endMs: 4000, convergedMs: 4012, logins: 41 };
      const fails = (n: number, from: number, step: number) =>
        Array.from({ length: n }, (_, i): QueryOutcome => ({
          at: from + i * step,
          durationMs: 1.5,
          kind: 'write',
          worker: 0,
          ok: false,
          code: 'ER_OPTION_PREVENTS_STATEMENT',
          errno: 1290,
        }));
      const credswap = summarize({
        outcomes: [...outcomes(5000, 8000), ...fails(120, 2001, 16.5)],
        windows: [window],
        stats: { target: 'credswap', providerCalls: 1, rotations: 0, connectionsOpened: 16 },
        failover: true,
      });
      const mysql2 = summarize({
        outcomes: [...outcomes(5000, 8000), ...fails(900, 2001, 6.6)],
        windows: [{ kind: 'failover', startMs: 2000, endMs: 4000, logins: 3 }],
        stats: { target: 'mysql2', connectionsOpened: 8 },
        failover: true,
      });
      const report = buildReport({
        scenario: 'failover',
        embedded: true,
        options: { durationMs: 8000, concurrency: 8, writeRatio: 0.2, rotations: 1 },
        targets: [credswap, mysql2],
        startedAt: new Date(),
      });
      const table = renderTable(report);
      assert.match(table, /1 failover;/);
      assert.match(table, /latency inside failover window/);
      assert.deepEqual(row(table, 'write-error window'), ['1,965 ms', '5,935 ms']);
      // credswap's last failed write was issued at 3964.5 (error at 3966); mysql2's at 7934.4 (error at 7935.9).
      assert.deepEqual(row(table, 'after the flip'), ['none', '3,936 ms']);
      assert.deepEqual(row(table, 'logins while read-only'), ['41 (20.5/s)', '3 (1.5/s)']);
      assert.deepEqual(row(table, 'ER_OPTION_PREVENTS_STATEMENT'), ['120', '900']);
      assert.ok(
        table.endsWith(
          'PASS: credswap failed 0 of 5,120 queries beyond the 120 writes the read-only primary refused before the flip\n' +
            'plain mysql2, same drill: failed 900 of 5,900 queries (900 ER_OPTION_PREVENTS_STATEMENT)\n',
        ),
      );
    });

    it('colours only when asked, and the coloured table reads the same without its escapes', function () {
      const report = singleUserReport({ compare: true });
      const plain = renderTable(report);
      assert.equal(ANSI.test(plain), false);
      const colored = renderTable(report, { color: true });
      assert.match(colored, /\x1b\[1m\x1b\[32mPASS\x1b\[39m\x1b\[22m/);
      assert.match(colored, /\x1b\[31m\s*614\x1b\[39m/);
      assert.equal(strip(colored), plain);
      const failing = renderTable(singleUserReport({ credswapFailEvery: 1000 }), { color: true });
      assert.match(failing, /\x1b\[1m\x1b\[31mFAIL\x1b\[39m\x1b\[22m/);
    });
  });

  describe('renderJson', function () {
    it('is the report as indented JSON that validates against the schema', function () {
      const report = singleUserReport({ compare: true });
      const text = renderJson(report);
      assert.ok(text.endsWith('}\n'));
      assert.match(text, /^\{\n {2}"version": 1,\n/);
      const parsed = JSON.parse(text);
      assert.deepEqual(parsed, JSON.parse(JSON.stringify(report)));
      assert.deepEqual(validateReport(parsed), []);
    });
  });

  describe('createProgress', function () {
    const state = (elapsedMs: number, phase = 'steady', ok = 1000, failed = 0) => ({ elapsedMs, ok, failed, phase });

    it('on a terminal, redraws one line in place with a bar as wide as the terminal allows', function () {
      const { stream, chunks } = fakeStream(true, 100);
      const progress = createProgress(stream, 20_000, { now: () => 0 });
      progress.update(state(5000, 'rotation 1', 41_233, 0));
      assert.equal(chunks.length, 1);
      const chunk = chunks[0];
      assert.ok(chunk.startsWith('\r') && chunk.endsWith('\x1b[K'));
      const line = chunk.slice(1, -3);
      assert.ok(line.length <= 99, 'never wider than the terminal');
      const bar = /^\[(█*)(░*)\] 5\.0 s \/ 20\.0 s {2}ok 41,233 {2}failed 0 {2}rotation 1$/.exec(line);
      assert.ok(bar, line);
      const width = bar[1].length + bar[2].length;
      assert.equal(bar[1].length, Math.round(width / 4), 'a quarter of the way');
      assert.ok(width >= 10 && width <= 40);
    });

    it('on a narrow terminal, drops the bar and cuts the line to fit', function () {
      const { stream, chunks } = fakeStream(true, 30);
      const progress = createProgress(stream, 20_000, { now: () => 0 });
      progress.update(state(5000, 'waiting for the first rotation'));
      const line = chunks[0].slice(1, -3);
      assert.equal(line.length, 29);
      assert.ok(line.startsWith('5.0 s / 20.0 s  ok 1,000'));
    });

    it('on a terminal, redraws at most every 100 ms, except when the phase changes', function () {
      let clock = 0;
      const { stream, chunks } = fakeStream(true, 80);
      const progress = createProgress(stream, 10_000, { now: () => clock });
      progress.update(state(0));
      clock = 50;
      progress.update(state(50));
      assert.equal(chunks.length, 1);
      progress.update(state(60, 'rotation 1'));
      assert.equal(chunks.length, 2, 'a new phase is shown at once');
      clock = 200;
      progress.update(state(200, 'rotation 1'));
      assert.equal(chunks.length, 3);
    });

    it('on a terminal, prints log lines above the bar and clears the bar when done', function () {
      const { stream, chunks } = fakeStream(true, 80);
      const progress = createProgress(stream, 10_000, { now: () => 0 });
      progress.log('before any update');
      progress.update(state(1000));
      progress.log('rotation 1 started');
      assert.equal(chunks[0], 'before any update\n');
      assert.equal(chunks[2], '\r\x1b[Krotation 1 started\n');
      assert.match(chunks[3], /^\r\[.*\] 1\.0 s/, 'the bar is drawn again below the line');
      progress.done();
      assert.equal(chunks.at(-1), '\r\x1b[K');
      const written = chunks.length;
      progress.update(state(2000));
      progress.done();
      assert.equal(chunks.length, written, 'nothing is drawn after done()');
      progress.log('after');
      assert.deepEqual(chunks.slice(written), ['after\n'], 'after done(), log lines are plain');
    });

    it('in a log, prints a plain line at most every second and each log line at once', function () {
      let clock = 0;
      const { stream, chunks, text } = fakeStream(false);
      const progress = createProgress(stream, 20_000, { now: () => clock });
      progress.update(state(0, 'warming up', 0, 0));
      clock = 400;
      progress.update(state(400, 'warming up', 500));
      progress.log('rotation 1 started');
      clock = 999;
      progress.update(state(999, 'rotation 1', 900));
      clock = 1000;
      progress.update(state(1000, 'rotation 1', 1000, 2));
      clock = 1500;
      progress.update(state(1500, 'steady', 1500, 2));
      progress.done();
      progress.update(state(2000));
      progress.done();
      assert.deepEqual(chunks, [
        '0.0 s / 20.0 s  ok 0  failed 0  warming up\n',
        'rotation 1 started\n',
        '1.0 s / 20.0 s  ok 1,000  failed 2  rotation 1\n',
        '1.5 s / 20.0 s  ok 1,500  failed 2  steady\n',
      ]);
      assert.equal(ANSI.test(text()) || text().includes('\r'), false, 'no escapes or carriage returns in a log');
    });

    it('colours failures only when asked', function () {
      const { stream, chunks } = fakeStream(false);
      const progress = createProgress(stream, 1000, { color: true, now: () => 0 });
      progress.update(state(100, 'steady', 10, 3));
      assert.equal(chunks[0], '0.1 s / 1.0 s  ok 10  \x1b[31mfailed 3\x1b[39m  steady\n');
    });
  });
});
