/**
 * A small JSON Schema (draft 2020-12) validator: just the keywords `report-schema.json` uses,
 * so that a drill's JSON output can be checked against its documented shape without a
 * dependency. A schema using any other keyword is refused rather than half-checked.
 *
 * @packageDocumentation
 */

import { isDeepStrictEqual } from 'node:util';
import reportSchema from './report-schema.json';

/** A JSON Schema, as far as {@link validate} understands one. */
export interface JsonSchema {
  $schema?: string;
  $id?: string;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  title?: string;
  description?: string;
  type?: JsonType | JsonType[];
  enum?: unknown[];
  const?: unknown;
  required?: string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
}

/** The JSON Schema type names. */
export type JsonType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

/** The schema of a drill report (`lib/drill/report-schema.json`). */
export const DRILL_REPORT_SCHEMA: JsonSchema = reportSchema as JsonSchema;

const KEYWORDS = new Set([
  '$schema',
  '$id',
  '$ref',
  '$defs',
  'title',
  'description',
  'type',
  'enum',
  'const',
  'required',
  'properties',
  'additionalProperties',
  'items',
  'minimum',
  'maximum',
]);

function typeOf(value: unknown): JsonType | 'undefined' | 'other' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'object':
      return 'object';
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return Number.isFinite(value) ? 'number' : 'other';
    case 'undefined':
      return 'undefined';
    default:
      return 'other';
  }
}

function hasType(value: unknown, type: JsonType): boolean {
  const actual = typeOf(value);
  if (type === 'integer') return actual === 'number' && Number.isInteger(value);
  return actual === type;
}

const at = (pointer: string) => (pointer === '' ? '(root)' : pointer);
const escapeToken = (token: string) => token.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * Checks `value` against `schema` and returns what is wrong, one message per problem, each
 * starting with the JSON Pointer of the offending value (values themselves are not quoted).
 * An empty array means valid. Understands `type`, `enum`, `const`, `required`, `properties`,
 * `additionalProperties`, `items`, `minimum`, `maximum` and local `$ref`s (`#/$defs/...`).
 *
 * @throws TypeError when the schema uses a keyword outside that list or a `$ref` that does not resolve.
 * @example
 * ```ts
 * validate({ type: 'object', required: ['ok'] }, {}); // ['(root) is missing required property "ok"']
 * ```
 */
export function validate(schema: JsonSchema, value: unknown): string[] {
  const problems: string[] = [];
  check(schema, schema, value, '', problems);
  return problems;
}

function resolve(root: JsonSchema, ref: string): JsonSchema {
  const match = /^#\/\$defs\/([^/]+)$/.exec(ref);
  const target = match ? root.$defs?.[match[1]] : undefined;
  if (target === undefined) throw new TypeError(`schema $ref '${ref}' does not resolve to a local #/$defs entry`);
  return target;
}

function check(root: JsonSchema, schema: JsonSchema, value: unknown, pointer: string, problems: string[]): void {
  for (const keyword of Object.keys(schema)) {
    if (!KEYWORDS.has(keyword)) throw new TypeError(`schema keyword '${keyword}' (at ${at(pointer)}) is not supported`);
  }
  if (schema.$ref !== undefined) check(root, resolve(root, schema.$ref), value, pointer, problems);

  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => hasType(value, t))) {
      problems.push(`${at(pointer)} must be ${types.join(' or ')}, got ${typeOf(value)}`);
      return;
    }
  }
  if (schema.enum !== undefined && !schema.enum.some((option) => isDeepStrictEqual(option, value))) {
    problems.push(`${at(pointer)} must be one of ${schema.enum.map((o) => JSON.stringify(o)).join(', ')}`);
  }
  if ('const' in schema && !isDeepStrictEqual(schema.const, value)) {
    problems.push(`${at(pointer)} must be ${JSON.stringify(schema.const)}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${at(pointer)} must be >= ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at(pointer)} must be <= ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.items !== undefined) {
      value.forEach((item, i) => check(root, schema.items!, item, `${pointer}/${i}`, problems));
    }
    return;
  }
  if (typeOf(value) !== 'object') return;
  const record = value as Record<string, unknown>;
  for (const name of schema.required ?? []) {
    if (!Object.hasOwn(record, name) || record[name] === undefined) {
      problems.push(`${at(pointer)} is missing required property ${JSON.stringify(name)}`);
    }
  }
  for (const [name, child] of Object.entries(record)) {
    if (child === undefined) continue; // JSON has no undefined: JSON.stringify leaves such keys out
    const childPointer = `${pointer}/${escapeToken(name)}`;
    const known = schema.properties !== undefined && Object.hasOwn(schema.properties, name);
    if (known) check(root, schema.properties![name], child, childPointer, problems);
    else if (schema.additionalProperties === false) problems.push(`${childPointer} is not an allowed property`);
    else if (typeof schema.additionalProperties === 'object') check(root, schema.additionalProperties, child, childPointer, problems);
  }
}

/**
 * Checks a drill report (an object, or the parsed output of `credswap drill --json`) against
 * {@link DRILL_REPORT_SCHEMA}; returns the problems found, none when it is valid.
 *
 * @example
 * ```ts
 * const problems = validateReport(JSON.parse(stdout));
 * assert.deepEqual(problems, []);
 * ```
 */
export function validateReport(value: unknown): string[] {
  return validate(DRILL_REPORT_SCHEMA, value);
}
