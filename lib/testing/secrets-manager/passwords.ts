/**
 * `GetRandomPassword`: random passwords from the character classes a request asks for.
 *
 * @packageDocumentation
 */

import { randomInt } from 'node:crypto';
import { optBool, optInt, optString } from './input.js';
import { invalidParameter, validation } from './protocol.js';
import type { Input } from './types.js';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
/** The punctuation set AWS documents for `GetRandomPassword`. */
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export function randomPassword(input: Input): string {
  const length = optInt(input, 'PasswordLength') ?? 32;
  if (length < 1 || length > 4096) {
    throw validation(`Value '${length}' at 'passwordLength' failed to satisfy constraint: Member must have value between 1 and 4096`);
  }
  const exclude = new Set(optString(input, 'ExcludeCharacters') ?? '');
  const classes: string[] = [];
  const add = (chars: string, excluded: boolean | undefined): void => {
    if (excluded === true) return;
    const allowed = [...chars].filter((c) => !exclude.has(c)).join('');
    if (allowed !== '') classes.push(allowed);
  };
  add(LOWER, optBool(input, 'ExcludeLowercase'));
  add(UPPER, optBool(input, 'ExcludeUppercase'));
  add(DIGITS, optBool(input, 'ExcludeNumbers'));
  add(PUNCTUATION, optBool(input, 'ExcludePunctuation'));
  if (optBool(input, 'IncludeSpace') === true && !exclude.has(' ')) classes.push(' ');
  const requireEach = optBool(input, 'RequireEachIncludedType') ?? true;
  if (classes.length === 0) {
    throw invalidParameter('The password must contain at least one character type; every type was excluded.');
  }
  if (requireEach && length < classes.length) {
    throw invalidParameter('Password length is too short based on the required types.');
  }
  const all = classes.join('');
  const chars: string[] = [];
  if (requireEach) for (const cls of classes) chars.push(cls[randomInt(cls.length)]);
  while (chars.length < length) chars.push(all[randomInt(all.length)]);
  // Fisher-Yates, so the required characters are not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}
