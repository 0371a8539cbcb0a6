import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runToExit } from '../helpers/child.js';

const CJS = join(__dirname, '../fixtures/unreadable-credentials-file.ts');
const ESM = join(__dirname, '../fixtures/unreadable-credentials-file.mts');
/** Nothing is sent there: without credentials the pool never connects. */
const PORT = '9';
const PASSWORD = 'Qv7#Leak-Canary-pW2x';

/** Every 4-character piece of the password: none may appear in the output. */
function assertNoPartOf(secret: string, text: string): void {
  for (let i = 0; i + 4 <= secret.length; i++) {
    const piece = secret.slice(i, i + 4);
    assert.ok(!text.includes(piece), `found '${piece}' of the password in: ${text}`);
  }
}

describe('a script whose credentials file cannot be used', function () {
  this.timeout(40_000);
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'credswap-file-exit-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [flavour, fixture] of [
    ['an ES module', ESM],
    ['a CommonJS script', CJS],
  ] as const) {
    it(`fails the first query of ${flavour} with a FileProviderError naming a missing file, instead of exiting silently`, async () => {
      const path = join(dir, 'credentials.json');
      const { code, out } = await runToExit([fixture, path, PORT]);
      assert.equal(code, 1, out);
      assert.match(out, /FileProviderError/);
      assert.match(out, /CREDSWAP_FILE_ERROR/);
      assert.ok(out.includes(path), `the output does not name the file: ${out}`);
      assert.doesNotMatch(out, /answered/);
    });
  }

  it('fails the first query with an InvalidCredentialsError naming the file, and no part of its content, when the file is invalid', async () => {
    const path = join(dir, 'credentials.json');
    writeFileSync(path, `{"username": "app", "password": "${PASSWORD}"`); // cut short: not valid JSON
    const { code, out } = await runToExit([ESM, path, PORT]);
    assert.equal(code, 1, out);
    assert.match(out, /InvalidCredentialsError/);
    assert.ok(out.includes(path), `the output does not name the file: ${out}`);
    assertNoPartOf(PASSWORD, out);
  });

  it('fails the first query with an InvalidCredentialsError when the file is empty', async () => {
    const path = join(dir, 'credentials.env');
    writeFileSync(path, '');
    const { code, out } = await runToExit([CJS, path, PORT]);
    assert.equal(code, 1, out);
    assert.match(out, /InvalidCredentialsError/);
    assert.match(out, /the file is empty/);
    assert.ok(out.includes(path), `the output does not name the file: ${out}`);
  });
});
