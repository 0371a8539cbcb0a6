/**
 * MySQL from Debian packages, for machines whose own packages have no MySQL (Debian's stable
 * suite ships only MariaDB): a folder of `.deb` files holding the server and every library it
 * needs is unpacked with `dpkg-deb -x` into a folder cached under `os.tmpdir()`, once per machine
 * and set of packages, and the server runs through the unpacked dynamic loader, so that it uses
 * the unpacked C library and libraries and nothing of the machine's.
 *
 * The folder is `../shared/mysql-server/debs` next to credswap's own folder, or the one named by
 * `CREDSWAP_MYSQL_DEBS`.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ServerStartError } from './server/errors.js';
import { findExecutable, isExecutableFile, run, searchDirs } from './server/executables.js';
import { ensureCachedDir } from './server/template.js';

/** The environment variable naming a folder of MySQL's Debian packages. */
export const MYSQL_DEBS_ENV = 'CREDSWAP_MYSQL_DEBS';

/** Bump whenever the layout of the unpacked folder changes. */
const UNPACK_FORMAT = 1;
const UNPACK_TIMEOUT_MS = 120_000;
/** The server's package, whose presence makes a folder one of MySQL's packages. */
const SERVER_PACKAGE = /^mysql(-community)?-server-core[^_]*_[^_]+_amd64\.deb$/;
/** The packages' architecture, the only one they are looked for in: amd64, on x86_64 Linux. */
const LIB_DIR = 'usr/lib/x86_64-linux-gnu';
const LOADER = `${LIB_DIR}/ld-linux-x86-64.so.2`;
const MYSQLD = 'usr/sbin/mysqld';

/** MySQL unpacked from packages: what to run, and where its files are. */
export interface UnpackedMySQL {
  /** The folder the packages were unpacked into, standing for `/`. */
  readonly root: string;
  /** The unpacked `mysqld`. */
  readonly mysqld: string;
  /** The unpacked dynamic loader, which runs `mysqld` with the unpacked libraries. */
  readonly loader: string;
  /** The folder of the unpacked libraries, for the loader's `--library-path`. */
  readonly libraryPath: string;
  /** `mysqld`'s options that point it at its unpacked files: base, messages and plugin folders. */
  readonly serverOptions: readonly string[];
}

/**
 * The folder of packages to use: `CREDSWAP_MYSQL_DEBS` when set, else `../shared/mysql-server/debs`
 * next to the folder of credswap's `package.json` (`undefined` when there is no such
 * `package.json` above this file).
 */
export function packagesDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const named = env[MYSQL_DEBS_ENV];
  if (named !== undefined && named !== '') return path.resolve(named);
  const root = credswapRoot(__dirname);
  return root === undefined ? undefined : path.resolve(root, '..', 'shared', 'mysql-server', 'debs');
}

/**
 * Why the packages in `dir` cannot be used on this machine, without unpacking anything: no such
 * folder, no MySQL server package in it, another platform, or no `dpkg-deb`. `undefined` when
 * they look usable.
 */
export function packagesProblem(dir: string): string | undefined {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return `no packages folder ${dir}`;
  }
  if (!names.some((name) => SERVER_PACKAGE.test(name))) return `no mysql-server-core_*_amd64.deb in ${dir}`;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return `the packages in ${dir} are for x86_64 Linux, not ${process.platform} ${process.arch}`;
  }
  if (dpkgDeb() === undefined) return `dpkg-deb, which unpacks the packages in ${dir}, is not on PATH`;
  return undefined;
}

const unpacked = new Map<string, Promise<UnpackedMySQL>>();

/**
 * Unpacks every `.deb` in `dir` into a folder cached under `os.tmpdir()` unless that was done
 * before, by this process or another, and resolves with what to run. The folder's name holds a
 * hash of the packages' names and sizes, so other packages get a folder of their own. Concurrent
 * callers share one unpacking; a failed one is not remembered.
 */
export function unpackMySQL(dir: string): Promise<UnpackedMySQL> {
  const problem = packagesProblem(dir);
  if (problem !== undefined) return Promise.reject(new ServerStartError(`cannot unpack MySQL: ${problem}`));
  const debs = fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.deb'))
    .sort();
  const cacheDir = path.join(os.tmpdir(), `credswap-mysql-packages-${packagesKey(dir, debs)}`);
  let result = unpacked.get(cacheDir);
  if (result === undefined) {
    result = unpackInto(cacheDir, dir, debs);
    result.catch(() => unpacked.delete(cacheDir));
    unpacked.set(cacheDir, result);
  }
  return result;
}

async function unpackInto(cacheDir: string, dir: string, debs: readonly string[]): Promise<UnpackedMySQL> {
  const tool = dpkgDeb()!;
  await ensureCachedDir(cacheDir, {
    stagingPrefix: 'credswap-mysql-packages-staging-',
    // dpkg-deb gives the folder it unpacks into the mode of the packages' `/`: not the staging
    // folder itself, which stays this user's only.
    async fill(staging) {
      const root = path.join(staging, 'root');
      await fsp.mkdir(root);
      for (const deb of debs) await run(tool, ['-x', path.join(dir, deb), root], UNPACK_TIMEOUT_MS);
      for (const file of [MYSQLD, LOADER]) {
        if (!isExecutableFile(path.join(root, file))) {
          throw new ServerStartError(`the packages in ${dir} have no /${file}: they are not MySQL with its libraries`);
        }
      }
    },
    marker: { format: UNPACK_FORMAT, packages: dir },
  });
  return layout(path.join(cacheDir, 'root'));
}

/** What to run in a folder the packages were unpacked into. */
export function layout(root: string): UnpackedMySQL {
  return {
    root,
    mysqld: path.join(root, MYSQLD),
    loader: path.join(root, LOADER),
    libraryPath: path.join(root, LIB_DIR),
    serverOptions: [
      `--basedir=${path.join(root, 'usr')}`,
      `--lc-messages-dir=${path.join(root, 'usr/share/mysql')}`,
      `--plugin-dir=${path.join(root, 'usr/lib/mysql/plugin')}`,
    ],
  };
}

/** A hash of the packages' names and sizes, and of the user: unpacked folders are never shared between users. */
function packagesKey(dir: string, debs: readonly string[]): string {
  const packages = debs.map((name) => [name, fs.statSync(path.join(dir, name)).size]);
  const uid = process.getuid?.() ?? -1;
  return createHash('sha256')
    .update(JSON.stringify({ format: UNPACK_FORMAT, uid, packages }))
    .digest('hex')
    .slice(0, 16);
}

function dpkgDeb(): string | undefined {
  return findExecutable(['dpkg-deb'], searchDirs(['/usr/bin']));
}

/** The folder of the nearest `package.json` named `credswap` at or above `from`. */
function credswapRoot(from: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (manifest.name === 'credswap') return dir;
    } catch {
      // None here, or not readable: look further up.
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}
