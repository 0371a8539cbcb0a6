import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const root = join(__dirname, '..');
const guides = readdirSync(join(root, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .sort()
  .map((name) => `docs/${name}`);
/** The files whose links are checked, relative to the project. */
const files = ['README.md', ...guides];
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

/** The lines of a markdown text outside fenced code blocks, with their line numbers. */
function prose(text: string): { line: string; n: number }[] {
  const out: { line: string; n: number }[] = [];
  let fence: string | undefined;
  text.split('\n').forEach((line, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
    } else if (marker) {
      fence = marker;
    } else {
      out.push({ line, n: i + 1 });
    }
  });
  return out;
}

/** GitHub's anchor for a heading's text: lower case, punctuation but `-` and `_` dropped, spaces to `-`. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/[`*]/g, '')
    .trim();
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a file's headings get on GitHub, repeated headings numbered `-1`, `-2`, … */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { line } of prose(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  return out;
}

/** Inline links, images and reference definitions outside code, with their line numbers. */
function links(text: string): { target: string; n: number }[] {
  const out: { target: string; n: number }[] = [];
  for (const { line, n } of prose(text)) {
    // Brackets inside code spans are code, not links.
    const masked = line.replace(/(`+)([^`]|[^`].*?[^`])\1/g, (span) => span.replace(/[[\]()]/g, ' '));
    for (const m of masked.matchAll(/\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1], n });
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(masked);
    if (def) out.push({ target: def[1], n });
  }
  return out;
}

/** What is wrong with one link of `from`, or undefined. */
function brokenLink(from: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return undefined; // https:, mailto:
  if (target === '') return 'an empty link';
  const hash = target.indexOf('#');
  const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const file = path === '' ? join(root, from) : join(root, dirname(from), path);
  if (relative(root, file).startsWith('..')) return `${path} is outside the project`;
  if (!existsSync(file)) return `${path} does not exist`;
  if (anchor === undefined) return undefined;
  if (!statSync(file).isFile() || !file.endsWith('.md')) return `#${anchor} points into ${path}, which is not a markdown file`;
  const found = anchors(readFileSync(file, 'utf8'));
  return found.has(anchor) ? undefined : `${relative(root, file)} has no heading #${anchor}`;
}

describe('docs', function () {
  it('slugs headings as GitHub does', function () {
    assert.equal(slug('Drills: `credswap drill`'), 'drills-credswap-drill');
    assert.equal(slug('On AWS Lambda: `LambdaExtensionProvider`'), 'on-aws-lambda-lambdaextensionprovider');
    assert.equal(slug('Half-written files, missed events'), 'half-written-files-missed-events');
    assert.equal(slug('Testing your service: `credswap/testing`'), 'testing-your-service-credswaptesting');
    assert.equal(slug('KV version 2: `VaultKvProvider`'), 'kv-version-2-vaultkvprovider');
    assert.deepEqual([...anchors('# A\n\n## A\n\n```sh\n# not a heading\n```\n')], ['a', 'a-1']);
  });

  it('finds links outside code only', function () {
    const text = 'See [a](a.md#x) and [`b`](../b.md).\n\n`[c](c.md)`\n\n```md\n[d](d.md)\n```\n\n[e]: e.md\n';
    assert.deepEqual(
      links(text).map(({ target }) => target),
      ['a.md#x', '../b.md', 'e.md'],
    );
  });

  it('has no relative link in README.md or docs/ to a missing file or heading', function () {
    const broken: string[] = [];
    let checked = 0;
    for (const from of files) {
      for (const { target, n } of links(read(from))) {
        checked++;
        const problem = brokenLink(from, target);
        if (problem) broken.push(`${from}:${n} ${target}: ${problem}`);
      }
    }
    assert.deepEqual(broken, []);
    assert.ok(checked > guides.length, `${checked} links checked`);
  });

  it('starts every guide with a title, a one-line description and a link back to the README', function () {
    for (const guide of guides) {
      const [title, blank1, description, blank2, back] = read(guide).split('\n');
      assert.match(title, /^# \S/, `${guide} starts with a title`);
      assert.equal(blank1, '', guide);
      assert.ok(description.trim() !== '' && !/^(#|\||[-*>] |\[)/.test(description), `${guide} has a one-line description`);
      assert.equal(blank2, '', `${guide}: the description is one line`);
      assert.ok(
        links(back).some(({ target }) => target.split('#')[0] === '../README.md'),
        `${guide} links back to the README`,
      );
    }
  });

  it('lists every guide in the README', function () {
    const linked = new Set(links(read('README.md')).map(({ target }) => target.split('#')[0]));
    assert.deepEqual(
      guides.filter((guide) => !linked.has(guide)),
      [],
    );
  });
});
