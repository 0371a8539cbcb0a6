import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CredswapErrorCode } from '../lib/errors.js';
import { errors } from './helpers/error-modules.js';
import { DEFAULT_COOLDOWN_MS, DEFAULT_MAX_COOLDOWN_MS, DEFAULT_REFRESH_BEFORE_EXPIRY_MS, DEFAULT_TIMEOUT_MS } from '../lib/coordinator.js';
import { DEFAULT_DRAIN, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_MAX_ATTEMPTS } from '../lib/mysql2/pool-options.js';

const root = join(__dirname, '..');
/** README.md and every guide in docs/, by path relative to the project. */
const markdown = new Map<string, string>([
  ['README.md', readFileSync(join(root, 'README.md'), 'utf8')],
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => [`docs/${name}`, readFileSync(join(root, 'docs', name), 'utf8')] as const),
]);
/** The guide with the errors table. */
const ERRORS_DOC = 'docs/errors.md';
/** The guide with the options table of `createPool`. */
const OPTIONS_DOC = 'docs/pools.md';

const errorRows = (text: string) => [...text.matchAll(/^\| `(CREDSWAP_[A-Z_]+)` \| `([A-Za-z]+)`/gm)].map((m) => [m[1], m[2]] as const);

describe('README and docs/', function () {
  it('lists every error code with its class, and no other', function () {
    const rows = errorRows(markdown.get(ERRORS_DOC)!);
    assert.deepEqual(rows.map(([code]) => code).sort(), [...errors.ERROR_CODES].sort());
    for (const [code, className] of rows) {
      const cls = (errors as unknown as Record<string, new (...args: never[]) => Error>)[className];
      assert.equal(typeof cls, 'function', `${className} is exported`);
      assert.equal((cls.prototype as { name: string }).name, className);
      assert.ok(errors.ERROR_CODES.includes(code as CredswapErrorCode));
    }
    for (const [path, text] of markdown) {
      if (path !== ERRORS_DOC) assert.deepEqual(errorRows(text), [], `${path} has no second errors table`);
    }
  });

  it('documents each rotation option once, with the default the code applies', function () {
    const defaults: Record<string, string> = {
      'rotation.timeoutMs': `\`${DEFAULT_TIMEOUT_MS}\``,
      'rotation.cooldownMs': `\`${DEFAULT_COOLDOWN_MS}\``,
      'rotation.maxCooldownMs': `\`${DEFAULT_MAX_COOLDOWN_MS}\``,
      'rotation.refreshBeforeExpiryMs': `\`${DEFAULT_REFRESH_BEFORE_EXPIRY_MS}\``,
      'rotation.maxAttempts': `\`${DEFAULT_MAX_ATTEMPTS}\``,
      'rotation.drain': `\`'${DEFAULT_DRAIN}'\``,
      'rotation.drainTimeoutMs': `\`${DEFAULT_DRAIN_TIMEOUT_MS}\``,
      rejectReadOnly: '`true`',
    };
    for (const [option, value] of Object.entries(defaults)) {
      const rows = [...markdown].flatMap(([path, text]) =>
        text
          .split('\n')
          .filter((line) => line.startsWith(`| \`${option}\` |`))
          .map((line) => ({ path, line })),
      );
      assert.equal(rows.length, 1, `${option} is documented once`);
      assert.equal(rows[0].path, OPTIONS_DOC, `${option} is documented in ${OPTIONS_DOC}`);
      assert.equal(rows[0].line.split('|')[2].trim(), value, `${option} default`);
    }
  });
});
