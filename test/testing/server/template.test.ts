import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureTemplate, templateDataDir, type TemplateSpec } from '../../../lib/testing/server/template.js';
import { removeScratchDirs, scratchDir } from './fake-binaries.js';

describe('testing/server/template', function () {
  /** A flavour of its own per test, so that no template is shared with another test or run. */
  let flavour: string;
  let initialised: number;

  function spec(initialise?: (dataDir: string) => Promise<void>): TemplateSpec {
    return {
      flavour,
      format: 1,
      binary: __filename,
      version: 'test 1.0',
      async initialise(dataDir) {
        initialised += 1;
        if (initialise !== undefined) return initialise(dataDir);
        fs.mkdirSync(dataDir);
        fs.writeFileSync(path.join(dataDir, 'ibdata1'), 'system tables');
      },
    };
  }

  /** Directories of this test's flavour under the temporary directory. */
  const leftovers = () => fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith(`credswap-${flavour}-`));

  beforeEach(function () {
    flavour = `test${randomBytes(4).toString('hex')}`;
    initialised = 0;
  });

  afterEach(function () {
    for (const name of leftovers()) fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
    removeScratchDirs();
  });

  it('initialises once for callers that ask at the same time, and gives them its data directory', async function () {
    const [first, second] = await Promise.all([templateDataDir(spec()), templateDataDir(spec())]);

    assert.equal(first, second);
    assert.equal(initialised, 1);
    assert.equal(fs.readFileSync(path.join(first, 'ibdata1'), 'utf8'), 'system tables');
  });

  it('does not remember a failed initialisation, and leaves nothing of it behind', async function () {
    const failing = spec(() => Promise.reject(new Error('disk full')));
    await assert.rejects(templateDataDir(failing), /disk full/);
    assert.deepEqual(leftovers(), []);

    const data = await templateDataDir(spec());

    assert.equal(initialised, 2);
    assert.ok(fs.existsSync(path.join(data, 'ibdata1')));
  });

  it('uses a template that is already there without initialising again', async function () {
    const dir = path.join(scratchDir(), 'template');
    await ensureTemplate(dir, spec());

    const data = await ensureTemplate(dir, spec());

    assert.equal(initialised, 1);
    assert.equal(data, path.join(dir, 'data'));
  });

  it('rebuilds a template that lost its marker', async function () {
    const dir = path.join(scratchDir(), 'template');
    fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'data', 'half-written'), '');

    const data = await ensureTemplate(dir, spec());

    assert.equal(initialised, 1);
    assert.deepEqual(fs.readdirSync(data), ['ibdata1']);
  });
});
