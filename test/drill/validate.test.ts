import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildReport, summarize, type DrillReport } from '../../lib/drill/report.js';
import { DRILL_REPORT_SCHEMA, validate, validateReport, type JsonSchema } from '../../lib/drill/validate.js';

/** A report with every optional field present: both targets, a converged and an unconverged window, a failover. */
function fullReport(): DrillReport {
  const windows = [{ kind: 'failover' as const, startMs: 100, endMs: 400, convergedMs: 420, logins: 6 }];
  const credswap = summarize({
    outcomes: [
      { at: 50, durationMs: 1, kind: 'read', worker: 0, ok: true },
      { at: 150, durationMs: 3, kind: 'write', worker: 1, ok: false, code: 'ER_OPTION_PREVENTS_STATEMENT', errno: 1290 },
    ],
    windows,
    stats: { target: 'credswap', providerCalls: 1, rotations: 0, connectionsOpened: 9 },
    failover: true,
  });
  const mysql2 = summarize({
    outcomes: [{ at: 150, durationMs: 2, kind: 'write', worker: 0, ok: false, code: 'ER_OPTION_PREVENTS_STATEMENT', errno: 1290 }],
    windows: [{ kind: 'failover', startMs: 100, endMs: 400, logins: 30 }],
    stats: { target: 'mysql2', connectionsOpened: 8 },
    failover: true,
  });
  return buildReport({
    scenario: 'failover',
    embedded: true,
    options: { durationMs: 5000, concurrency: 4, writeRatio: 0.5, rotations: 1 },
    targets: [credswap, mysql2],
    startedAt: new Date(),
  });
}

/** The report as parsed JSON, for editing. */
const json = (): Record<string, any> => JSON.parse(JSON.stringify(fullReport()));

describe('drill report schema and validator', function () {
  it('the schema file is JSON Schema draft 2020-12 and is what the validator uses', function () {
    const file = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'lib', 'drill', 'report-schema.json'), 'utf8'));
    assert.equal(file.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.deepEqual(DRILL_REPORT_SCHEMA, file);
  });

  it('accepts a report with every optional field, as an object and as parsed JSON', function () {
    const report = fullReport();
    const [window] = report.targets[0].windows;
    assert.ok(window.convergenceMs !== undefined && report.targets[0].writeErrorWindowMs !== undefined);
    assert.ok(
      window.loginsPerSecond !== undefined &&
        window.writeErrorAfterFlipMs !== undefined &&
        report.targets[0].writeErrorAfterFlipMs !== undefined,
    );
    assert.deepEqual(validateReport(report), []);
    assert.deepEqual(validateReport(json()), []);
  });

  it('names a missing required property by its JSON Pointer', function () {
    const report = json();
    delete report.targets[1].queries.failedByCode;
    delete report.ok;
    assert.deepEqual(validateReport(report), [
      '(root) is missing required property "ok"',
      '/targets/1/queries is missing required property "failedByCode"',
    ]);
  });

  it('rejects wrong types, integers that are not, and values out of range', function () {
    const report = json();
    report.embedded = 'yes';
    report.options.concurrency = 2.5;
    report.options.writeRatio = 1.5;
    report.targets[0].latencyMs.inside.p99 = -1;
    report.targets[0].queries.failedByCode.ER_OPTION_PREVENTS_STATEMENT = 0;
    assert.deepEqual(validateReport(report), [
      '/embedded must be boolean, got string',
      '/options/concurrency must be integer, got number',
      '/options/writeRatio must be <= 1',
      '/targets/0/queries/failedByCode/ER_OPTION_PREVENTS_STATEMENT must be >= 1',
      '/targets/0/latencyMs/inside/p99 must be >= 0',
    ]);
  });

  it('rejects unknown properties, unknown enum values and a wrong version', function () {
    const report = json();
    report.version = 2;
    report.extra = true;
    report.targets[1].target = 'pg';
    report.targets[0].windows[0].kind = 'restart';
    assert.deepEqual(validateReport(report), [
      '/version must be one of 1',
      '/targets/0/windows/0/kind must be one of "rotation", "failover"',
      '/targets/1/target must be one of "credswap", "mysql2"',
      '/extra is not an allowed property',
    ]);
  });

  it('treats NaN and Infinity as not numbers, and arrays and null as not objects', function () {
    const report = fullReport() as unknown as Record<string, any>;
    report.options = { ...report.options, durationMs: Number.NaN };
    report.machine = null;
    report.targets = {};
    assert.deepEqual(validateReport(report), [
      '/options/durationMs must be number, got other',
      '/machine must be object, got null',
      '/targets must be array, got object',
    ]);
    assert.deepEqual(validateReport([]), ['(root) must be object, got array']);
  });

  it('supports const, type lists, items and additionalProperties schemas', function () {
    const schema: JsonSchema = {
      type: 'object',
      properties: { a: { const: 'x' }, b: { type: ['string', 'null'] }, c: { type: 'array', items: { type: 'integer', minimum: 1 } } },
      additionalProperties: { type: 'boolean' },
    };
    assert.deepEqual(validate(schema, { a: 'x', b: null, c: [1, 2], d: true }), []);
    assert.deepEqual(validate(schema, { a: 'y', b: 1, c: [0, 'z'], 'd/e': 1 }), [
      '/a must be "x"',
      '/b must be string or null, got number',
      '/c/0 must be >= 1',
      '/c/1 must be integer, got string',
      '/d~1e must be boolean, got number',
    ]);
  });

  it('refuses a schema with a keyword it does not implement, or a $ref it cannot resolve', function () {
    assert.throws(
      () => validate({ type: 'string', pattern: '^a' } as JsonSchema, 'a'),
      /keyword 'pattern' \(at \(root\)\) is not supported/,
    );
    assert.throws(() => validate({ $ref: '#/$defs/missing' }, 1), /does not resolve/);
    assert.throws(() => validate({ $ref: 'https://example.com/s.json' }, 1), /does not resolve/);
  });
});
