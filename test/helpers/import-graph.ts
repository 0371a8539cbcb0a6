/**
 * The graph of relative imports between the project's TypeScript files, read as text (the
 * project compiles with a compiler that has no JavaScript API to ask). Counts what runs:
 * `import ... from`, `export ... from` and `require('...')`; leaves out `import type`,
 * `export type`, imports whose every name is a `type`, and `typeof import('...')` in types.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const STATEMENT =
  /(?:^|\n)\s*(?:import|export)\s+(type\s+)?([^;]*?)\s+from\s+['"](\.{1,2}\/[^'"]+)['"]|require\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** True when an import clause (`{ type A, type B }`) brings in types only. */
function typesOnly(clause: string): boolean {
  const trimmed = clause.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return false;
  const names = trimmed
    .slice(1, -1)
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  return names.length > 0 && names.every((name) => name.startsWith('type '));
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/**
 * Each file under `folders` (relative to `root`) with the files it imports at run time, or, with
 * `types`, with type-only imports too.
 */
export function runtimeImports(root: string, folders: readonly string[], { types = false } = {}): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of folders.flatMap((folder) => sourceFiles(join(root, folder)))) {
    const targets = new Set<string>();
    for (const match of readFileSync(file, 'utf8').matchAll(STATEMENT)) {
      const [, typeKeyword, clause, fromSpecifier, requireSpecifier] = match;
      if (!types && fromSpecifier !== undefined && (typeKeyword !== undefined || typesOnly(clause))) continue;
      const specifier = fromSpecifier ?? requireSpecifier;
      targets.add(relative(root, resolve(dirname(file), specifier.replace(/\.js$/, '.ts'))));
    }
    graph.set(relative(root, file), targets);
  }
  return graph;
}

/** The cycles of `graph`: its strongly connected components of more than one file (Tarjan). */
export function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next);
    next += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1) found.push(component.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}
