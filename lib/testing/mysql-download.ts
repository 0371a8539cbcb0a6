/**
 * MySQL's Debian packages fetched from Debian's archive, for machines that have neither a MySQL
 * `mysqld` nor a folder of its packages: Debian's unstable suite ("sid") has MySQL, its stable
 * suite only MariaDB. A scratch apt configuration (its own source list, package lists, cache and
 * an empty status file, so the machine's apt state is neither read nor changed) lists what
 * `mysql-server-core` and `mysql-client-core` need and downloads the server, the client and
 * their libraries into a folder cached under `os.tmpdir()`, once per machine. Nothing is
 * installed: `mysql-packages.ts` unpacks them like any folder of packages.
 *
 * Whatever the suite has that day is fetched; a pinned folder (`CREDSWAP_MYSQL_DEBS`) is what
 * keeps tests from depending on the suite moving. `CREDSWAP_MYSQL_DOWNLOAD=0` turns this off.
 *
 * @packageDocumentation
 */

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ServerStartError } from './server/errors.js';
import { findExecutable, run, searchDirs } from './server/executables.js';
import { ensureCachedDir } from './server/template.js';

/** The environment variable that turns fetching from Debian's archive off (`0` or `false`). */
export const MYSQL_DOWNLOAD_ENV = 'CREDSWAP_MYSQL_DOWNLOAD';
/** Debian's archive, and the suite that has MySQL. */
export const DEBIAN_ARCHIVE = 'http://deb.debian.org/debian';
export const DEBIAN_SUITE = 'sid';
/** The keyring apt checks the archive's signatures with (Debian's `debian-archive-keyring`). */
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const ROOTS = ['mysql-server-core', 'mysql-client-core'];
const APT_TIMEOUT_MS = 300_000;
/** Bump whenever what the folder holds changes. */
const DOWNLOAD_FORMAT = 1;

/** The folder the packages are downloaded into (whether or not they are there yet). */
export function downloadDir(): string {
  return path.join(os.tmpdir(), `credswap-mysql-debs-${DEBIAN_SUITE}-v${DOWNLOAD_FORMAT}`);
}

/**
 * Why packages cannot be fetched here, or `undefined` when they can: turned off by
 * `CREDSWAP_MYSQL_DOWNLOAD`, another platform than x86_64 Linux, or no `apt-get` or Debian
 * archive keyring. Nothing is fetched to answer.
 */
export function downloadProblem(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (['0', 'false'].includes((env[MYSQL_DOWNLOAD_ENV] ?? '').trim().toLowerCase())) return `${MYSQL_DOWNLOAD_ENV} is off`;
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `no download of Debian packages on ${process.platform} ${process.arch}`;
  if (findExecutable(['apt-get'], searchDirs(['/usr/bin'])) === undefined) return 'no apt-get to fetch packages from Debian';
  if (!fs.existsSync(KEYRING)) return `no Debian archive keyring (${KEYRING})`;
  return undefined;
}

/**
 * Of the packages apt would install into an empty system for the server and client, those they
 * need at run time: the server and client, and the libraries (the C library and its loader
 * included). Left out: perl and its modules, apt and debconf, and other programs that only a
 * full system needs.
 */
export function packagesToFetch(simulatedInstall: string): string[] {
  const names = [...simulatedInstall.matchAll(/^Inst (\S+) /gm)].map((m) => m[1]);
  return names.filter(
    (name) => ROOTS.includes(name) || (/^(lib|gcc-\d+-base$|zlib1g$|openssl-provider-legacy$)/.test(name) && !/-perl$|^libperl/.test(name)),
  );
}

const downloads = new Map<string, Promise<string>>();

/**
 * Downloads the packages into {@link downloadDir} unless that was done before, by this process
 * or another, and resolves with the folder. Concurrent callers share one download; a failed one
 * is not remembered.
 */
export function downloadMySQLPackages(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<string> {
  const dir = downloadDir();
  let result = downloads.get(dir);
  if (result === undefined) {
    result = fetchInto(dir, log).then(() => dir);
    result.catch(() => downloads.delete(dir));
    downloads.set(dir, result);
  }
  return result;
}

async function fetchInto(dir: string, log: (line: string) => void): Promise<void> {
  const problem = downloadProblem();
  if (problem !== undefined) throw new ServerStartError(`cannot fetch MySQL's packages: ${problem}`);
  await ensureCachedDir(dir, {
    stagingPrefix: 'credswap-mysql-debs-staging-',
    marker: { archive: DEBIAN_ARCHIVE, suite: DEBIAN_SUITE, format: DOWNLOAD_FORMAT },
    async fill(staging) {
      log(`credswap/testing: fetching MySQL's Debian packages (${DEBIAN_SUITE}) from ${DEBIAN_ARCHIVE} into ${dir}, once`);
      const apt = await fsp.mkdtemp(path.join(os.tmpdir(), 'credswap-apt-'));
      try {
        const options = await scratchApt(apt);
        const aptGet = findExecutable(['apt-get'], searchDirs(['/usr/bin']))!;
        await run(aptGet, [...options, 'update'], APT_TIMEOUT_MS);
        const plan = await run(aptGet, [...options, '-s', 'install', ...ROOTS], APT_TIMEOUT_MS);
        const wanted = packagesToFetch(plan);
        if (!ROOTS.every((root) => wanted.includes(root))) {
          throw new ServerStartError(`Debian's ${DEBIAN_SUITE} suite has no ${ROOTS.join(' and ')} today`);
        }
        // apt-get download writes into its working directory.
        await run(aptGet, [...options, 'download', ...wanted], APT_TIMEOUT_MS, staging);
      } finally {
        await fsp.rm(apt, { recursive: true, force: true });
      }
    },
  });
}

/** apt's options for a configuration of its own under `dir`: only the archive's suite, nothing of the machine's state. */
async function scratchApt(dir: string): Promise<string[]> {
  const lists = path.join(dir, 'lists');
  const cache = path.join(dir, 'cache');
  await fsp.mkdir(path.join(lists, 'partial'), { recursive: true });
  await fsp.mkdir(path.join(cache, 'archives', 'partial'), { recursive: true });
  const sources = path.join(dir, 'sources.list');
  await fsp.writeFile(sources, `deb [signed-by=${KEYRING}] ${DEBIAN_ARCHIVE} ${DEBIAN_SUITE} main\n`);
  const status = path.join(dir, 'status');
  await fsp.writeFile(status, '');
  return [
    '-q',
    '-o',
    `Dir::Etc::SourceList=${sources}`,
    '-o',
    'Dir::Etc::SourceParts=/dev/null',
    '-o',
    `Dir::State::Lists=${lists}`,
    '-o',
    `Dir::Cache=${cache}`,
    '-o',
    `Dir::State::status=${status}`,
    '-o',
    'APT::Architecture=amd64',
    '-o',
    'APT::Architectures=amd64',
    // apt drops root to _apt to download, which cannot write to a folder of ours.
    '-o',
    'APT::Sandbox::User=root',
  ];
}
