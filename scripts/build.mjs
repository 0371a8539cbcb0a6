// Builds dist/: the CommonJS output of tsc, and thin ES module wrappers over it so that
// `import` and `require` share one module instance (no dual-package hazard).
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
for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (typeof target === 'string') continue;
  const cjsFile = join(root, target.require);
  const esmFile = join(root, target.import);
  const names = Object.keys(require(cjsFile)).filter((n) => n !== 'default' && n !== '__esModule');
  const from = relative(dirname(esmFile), cjsFile).replaceAll('\\', '/');
  const lines = [
    `// ES module entry for credswap${subpath === '.' ? '' : subpath.slice(1)}: re-exports the CommonJS build.`,
    `import cjs from '${from.startsWith('.') ? from : `./${from}`}';`,
    ...names.map((n) => `export const ${n} = cjs.${n};`),
    'export default cjs;',
    '',
  ];
  writeFileSync(esmFile, lines.join('\n'));
}
