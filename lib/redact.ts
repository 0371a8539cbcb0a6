/**
 * Keeping secrets (passwords, tokens, secret values) out of messages, logs and errors: one
 * marker and one rule for every part of credswap.
 *
 * @packageDocumentation
 */

/** What a secret is replaced with wherever credswap shows a value it must not. */
export const REDACTED = '[redacted]';

/**
 * Secrets shorter than this are not searched for in text: replacing every `a` or `42` would
 * mangle messages and protect nothing a guess could not find.
 */
export const MIN_REDACTED_LENGTH = 4;

/** How a secret may appear inside a text besides itself (percent-encoded, SQL-escaped, ...). */
export type SecretForm = (secret: string) => string;

/**
 * `text` with every occurrence of each secret (and of each of its `forms`) replaced by
 * {@link REDACTED}.
 *
 * @example
 * ```ts
 * redactText(`login failed for ${url}`, [password], [encodeURIComponent]);
 * ```
 */
export function redactText(text: string, secrets: Iterable<string | undefined>, forms: readonly SecretForm[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === undefined || secret.length < MIN_REDACTED_LENGTH) continue;
    for (const form of new Set([secret, ...forms.map((f) => f(secret))])) out = out.split(form).join(REDACTED);
  }
  return out;
}

/** How mysql2 writes a string inside a quoted SQL literal: a {@link SecretForm} for statements. */
export function sqlEscaped(value: string): string {
  // eslint-disable-next-line no-control-regex -- \x1a (Ctrl-Z) is one of the characters mysql2 escapes.
  return value.replace(/[\0\b\t\n\r\x1a"'\\]/g, (c) => `\\${SQL_ESCAPES[c] ?? c}`);
}

const SQL_ESCAPES: Record<string, string> = { '\0': '0', '\b': 'b', '\t': 't', '\n': 'n', '\r': 'r', '\x1a': 'Z' };

/**
 * Removes secrets from an error in place, and from its causes: from `message`, `sqlMessage` and
 * `stack`, and deletes `sql` (mysql2 keeps the statement, values included, there; servers quote
 * statements in syntax errors). Returns the same error.
 */
export function redactError<T>(error: T, secrets: Iterable<string | undefined>, forms: readonly SecretForm[] = [], depth = 0): T {
  if (typeof error !== 'object' || error === null || depth > 5) return error;
  const e = error as Record<string, unknown>;
  if ('sql' in e) Reflect.deleteProperty(e, 'sql');
  const list = [...secrets];
  for (const key of ['message', 'sqlMessage', 'stack']) {
    const value = e[key];
    if (typeof value !== 'string') continue;
    const clean = redactText(value, list, forms);
    if (clean === value) continue;
    try {
      e[key] = clean;
    } catch {
      // A read-only property: nothing to do.
    }
  }
  if ('cause' in e) redactError(e.cause, list, forms, depth + 1);
  return error;
}
