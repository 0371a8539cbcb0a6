import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cycles, runtimeImports } from './helpers/import-graph.js';

const root = join(__dirname, '..');

describe('the import graph', function () {
  it('has no cycle of run-time imports between credswap modules', function () {
    assert.deepEqual(cycles(runtimeImports(root, ['lib', 'providers'])), []);
  });

  it('has no cycle of imports, type-only imports included', function () {
    assert.deepEqual(cycles(runtimeImports(root, ['lib', 'providers'], { types: true })), []);
  });

  it('sees a cycle through a lazy require, and not through a type-only import', function () {
    const graph = new Map([
      ['a.ts', new Set(['b.ts'])],
      ['b.ts', new Set(['a.ts'])],
      ['c.ts', new Set<string>()],
    ]);
    assert.deepEqual(cycles(graph), [['a.ts', 'b.ts']]);
    const read = runtimeImports(root, ['lib/mysql2']);
    assert.ok(
      read.get(join('lib', 'mysql2', 'pool.ts'))!.has(join('lib', 'mysql2', 'promise-pool.ts')),
      'the lazy require of the promise wrapper',
    );
    assert.ok(!read.get(join('lib', 'mysql2', 'promise-pool.ts'))!.has(join('lib', 'mysql2', 'pool.ts')), 'a type-only import');
  });

  it('entry points only re-export', function () {
    const entries = [
      'lib/index.ts',
      'lib/mysql2/index.ts',
      'lib/mysql2/promise.ts',
      'providers/file/index.ts',
      'providers/aws/index.ts',
      'providers/vault/index.ts',
      'lib/testing/index.ts',
      'lib/drill/index.ts',
      'lib/otel/index.ts',
    ];
    for (const entry of entries) {
      const code = readFileSync(join(root, entry), 'utf8');
      const statements = code
        .replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
        .split(';')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const statement of statements)
        assert.match(statement, /^export (type )?\{[\s\S]*\} from '/, `${entry}: ${statement.slice(0, 60)}`);
    }
  });
});
