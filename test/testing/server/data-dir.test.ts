import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createServerDir, removeServerDir } from '../../../lib/testing/server/data-dir.js';
import { removeScratchDirs, scratchDir } from './fake-binaries.js';

describe('testing/server/data-dir', function () {
  /** A flavour of its own per run, so that directories of other runs are not counted. */
  const flavour = `test${randomBytes(4).toString('hex')}`;

  afterEach(removeScratchDirs);

  it('gives a server a copy of the template under the temporary directory, and removes it all', async function () {
    const template = scratchDir();
    fs.writeFileSync(path.join(template, 'ibdata1'), 'system tables');

    const files = await createServerDir(flavour, template);
    try {
      assert.equal(path.dirname(files.dir), os.tmpdir());
      assert.equal(fs.readFileSync(path.join(files.data, 'ibdata1'), 'utf8'), 'system tables');
    } finally {
      await removeServerDir(files);
    }

    assert.equal(fs.existsSync(files.dir), false);
  });

  it('leaves no directory behind when the template cannot be copied', async function () {
    const missing = path.join(scratchDir(), 'no-template');

    await assert.rejects(createServerDir(flavour, missing), { code: 'ENOENT' });

    assert.deepEqual(
      fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith(`credswap-${flavour}-`)),
      [],
    );
  });
});
