/**
 * The template data directory that makes each throwaway server start fast: the system tables
 * are created once per machine (per flavour, server binary, version and user) into a cached
 * directory under `os.tmpdir()`, and every server starts from a copy of it. The same
 * build-once-and-rename cache ({@link ensureCachedDir}) holds server binaries unpacked from
 * packages.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ServerStartError } from './errors.js';

/** What a flavour's template is made of, and how to make it. */
export interface TemplateSpec {
  /** The flavour's name in directory names: `credswap-<flavour>-template-<key>`. */
  readonly flavour: string;
  /** Bump whenever the template's contents or the initialisation's options change. */
  readonly format: number;
  /** The server binary the template is for. */
  readonly binary: string;
  /** The binary's version, as it reports it. */
  readonly version: string;
  /** Fills `dataDir`, which does not exist yet, with a new server's system tables. */
  initialise(dataDir: string): Promise<void>;
}

const TEMPLATE_MARKER = 'template.json';

const templates = new Map<string, Promise<string>>();

/**
 * The path of a data directory initialised by `spec`, created on first use and shared by every
 * later server on the machine. Concurrent callers share one initialisation; a failed one is not
 * remembered.
 */
export function templateDataDir(spec: TemplateSpec): Promise<string> {
  const uid = process.getuid?.() ?? -1;
  const key = createHash('sha256')
    .update(JSON.stringify({ format: spec.format, binary: fs.realpathSync(spec.binary), version: spec.version, uid }))
    .digest('hex')
    .slice(0, 16);
  const cacheKey = `${spec.flavour}-${key}`;
  let template = templates.get(cacheKey);
  if (template === undefined) {
    template = ensureTemplate(path.join(os.tmpdir(), `credswap-${spec.flavour}-template-${key}`), spec);
    template.catch(() => templates.delete(cacheKey));
    templates.set(cacheKey, template);
  }
  return template;
}

/**
 * Makes `dir` a template unless it is one already, and resolves with its data directory. It is
 * built in a staging directory and renamed into place, so another process sees all of it or
 * none; when another process finishes first, its template is used.
 */
export async function ensureTemplate(dir: string, spec: TemplateSpec): Promise<string> {
  await ensureCachedDir(dir, {
    stagingPrefix: `credswap-${spec.flavour}-staging-`,
    fill: (staging) => spec.initialise(path.join(staging, 'data')),
    marker: { format: spec.format, binary: spec.binary },
  });
  return path.join(dir, 'data');
}

/** How {@link ensureCachedDir} builds a directory. */
export interface CachedDirBuild {
  /** Start of the staging directory's name under `os.tmpdir()`, e.g. `credswap-mariadb-staging-`. */
  readonly stagingPrefix: string;
  /** Fills `staging`, an empty directory of this user's only, with what the cache holds. */
  fill(staging: string): Promise<void>;
  /** What the marker file records about the build, besides its time. */
  readonly marker: Readonly<Record<string, unknown>>;
}

/**
 * Makes `dir` unless it is there already. It is built in a staging directory under
 * `os.tmpdir()` (so `dir` must be on the same file system), marked complete, and renamed into
 * place, so another process sees all of it or none; when another process finishes first, its
 * directory is used. One that lost its marker (a tmp cleaner at work, say) is built again; one
 * that is not a directory of this user's is refused.
 */
export async function ensureCachedDir(dir: string, build: CachedDirBuild): Promise<void> {
  const state = await templateState(dir);
  if (state === 'ready') return;
  // The marker is written before the rename, so a directory without it was damaged.
  if (state === 'damaged') await fsp.rm(dir, { recursive: true, force: true });

  const staging = await fsp.mkdtemp(path.join(os.tmpdir(), build.stagingPrefix));
  try {
    await build.fill(staging);
    await fsp.writeFile(path.join(staging, TEMPLATE_MARKER), JSON.stringify({ ...build.marker, createdAt: new Date().toISOString() }));
    try {
      await fsp.rename(staging, dir);
    } catch (error) {
      // Another process finished first: use its directory.
      if ((await templateState(dir)) !== 'ready') throw error;
    }
  } finally {
    await fsp.rm(staging, { recursive: true, force: true });
  }
}

async function templateState(dir: string): Promise<'missing' | 'ready' | 'damaged'> {
  let stat: fs.Stats;
  try {
    stat = await fsp.lstat(dir);
  } catch {
    return 'missing';
  }
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) {
    throw new ServerStartError(`${dir} is not a directory owned by this user; remove it and try again`);
  }
  return fs.existsSync(path.join(dir, TEMPLATE_MARKER)) ? 'ready' : 'damaged';
}
