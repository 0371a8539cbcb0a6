// Builds dist/: the CommonJS output of tsc, and thin ES module wrappers over it so that
// `import` and `require` share one module instance (no dual-package hazard). Each wrapper gets
// a `.d.mts` beside it, so TypeScript sees the `import` entry as an ES module, not as CommonJS.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
mkdirSync(join(dist, 'esm'), { recursive: true });

/** `from` relative to the folder of `file`, as an import specifier. */
const specifier = (file, to) => {
  const path = relative(dirname(file), to).replaceAll('\\', '/');
  return path.startsWith('.') ? path : `./${path}`;
};

for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (typeof target === 'string') continue;
  const cjsFile = join(root, target.require.default);
  const esmFile = join(root, target.import.default);
  const name = `credswap${subpath === '.' ? '' : subpath.slice(1)}`;
  const names = Object.keys(require(cjsFile)).filter((n) => n !== 'default' && n !== '__esModule');
  const from = specifier(esmFile, cjsFile);
  writeFileSync(
    esmFile,
    [
      `// ES module entry for ${name}: re-exports the CommonJS build.`,
      `import cjs from '${from}';`,
      ...names.map((n) => `export const ${n} = cjs.${n};`),
      'export default cjs;',
      '',
    ].join('\n'),
  );
  // The declarations of the CommonJS build, seen from an ES module: the same names, and the
  // module object as the default export (what `import cjs from` gives at run time).
  const typesFrom = specifier(esmFile, join(root, target.require.types)).replace(/\.d\.ts$/, '.js');
  writeFileSync(
    join(root, target.import.types),
    [
      `// Types of the ES module entry for ${name}.`,
      `import cjs from '${typesFrom}';`,
      `export * from '${typesFrom}';`,
      'export default cjs;',
      '',
    ].join('\n'),
  );
}
