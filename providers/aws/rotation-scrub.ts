/**
 * Keeping passwords out of a rotation's errors and log messages.
 *
 * @packageDocumentation
 */

const REDACTED = '[redacted]';

/** Only strings this long are scrubbed: shorter ones would mangle messages and protect nothing. */
const MIN_SCRUB_LENGTH = 4;

/** `text` with every password (raw or as SQL-escaped in a statement) replaced. */
export function scrubText(text: string, passwords: ReadonlySet<string>): string {
  let out = text;
  for (const password of passwords) {
    if (password.length < MIN_SCRUB_LENGTH) continue;
    for (const form of new Set([password, sqlEscaped(password)])) out = out.split(form).join(REDACTED);
  }
  return out;
}

/** How mysql2 writes a string inside a quoted SQL literal. */
function sqlEscaped(value: string): string {
  return value.replace(/[\0\b\t\n\r\x1a"'\\]/g, (c) => `\\${({ '\0': '0', '\b': 'b', '\t': 't', '\n': 'n', '\r': 'r', '\x1a': 'Z' } as Record<string, string>)[c] ?? c}`);
}

/**
 * Removes passwords from an error in place (and from its causes): mysql2 keeps the statement,
 * values included, in `sql`, and the server quotes statements in syntax errors.
 */
export function scrub<T>(error: T, passwords: ReadonlySet<string>, depth = 0): T {
  if (typeof error !== 'object' || error === null || depth > 5) return error;
  const e = error as Record<string, unknown>;
  if ('sql' in e) Reflect.deleteProperty(e, 'sql');
  for (const key of ['message', 'sqlMessage', 'stack']) {
    const value = e[key];
    if (typeof value === 'string') {
      const clean = scrubText(value, passwords);
      if (clean !== value) {
        try {
          e[key] = clean;
        } catch {
          // A read-only property: nothing to do.
        }
      }
    }
  }
  if ('cause' in e) scrub(e.cause, passwords, depth + 1);
  return error;
}
