/**
 * Redaction of the secrets a drill's flags may carry: the password of a `--mysql` URL.
 *
 * @packageDocumentation
 */

import { REDACTED, redactText } from '../redact.js';

/**
 * A MySQL URL with its password replaced by `[redacted]`, for messages, logs and reports. Text that
 * does not parse as a URL is replaced entirely, since it may be a password typed in the wrong
 * place.
 *
 * @example
 * ```ts
 * redactUrl('mysql://admin:s3cret@db.staging:3306/'); // 'mysql://admin:[redacted]@db.staging:3306/'
 * ```
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<a URL that does not parse>';
  }
  if (parsed.password === '') return parsed.toString();
  // The URL setter would percent-encode the marker's brackets: put it in after serialising.
  parsed.password = 'x';
  const [scheme, rest] = parsed.toString().split('//', 2) as [string, string];
  return `${scheme}//${rest.replace(':x@', `:${REDACTED}@`)}`;
}

/**
 * `text` with every occurrence of each secret replaced (and of their percent-encoded forms), for
 * messages of errors that may quote a URL or a statement.
 *
 * @example
 * ```ts
 * scrubSecrets(error.message, [password]);
 * ```
 */
export function scrubSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  return redactText(text, secrets, [encodeURIComponent]);
}
