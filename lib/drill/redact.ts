/**
 * Redaction of the secrets a drill's flags may carry: the password of a `--mysql` URL.
 *
 * @packageDocumentation
 */

/**
 * A MySQL URL with its password replaced by `***`, for messages, logs and reports. Text that
 * does not parse as a URL is replaced entirely, since it may be a password typed in the wrong
 * place.
 *
 * @example
 * ```ts
 * redactUrl('mysql://admin:s3cret@db.staging:3306/'); // 'mysql://admin:***@db.staging:3306/'
 * ```
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<a URL that does not parse>';
  }
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

/**
 * `text` with every occurrence of each secret replaced by `***` (and their percent-encoded
 * forms), for messages of errors that may quote a URL or a statement.
 *
 * @example
 * ```ts
 * scrubSecrets(error.message, [password]);
 * ```
 */
export function scrubSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === undefined || secret === '') continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  }
  return out;
}
