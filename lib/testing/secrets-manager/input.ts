/**
 * Reading and checking a request's parameters.
 *
 * @packageDocumentation
 */

import { invalidParameter, serialization, validation } from './protocol.js';
import type { Input, Value } from './types.js';

const MAX_SECRET_BYTES = 65536;

// Input readers: a wrong JSON type is a SerializationException, as in AWS's JSON protocol;
// a constraint (length, range) is a ValidationException or the service's own error.

export function optString(input: Input, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw serialization(`Expected a string for '${key}'`);
  return value;
}

export function reqString(input: Input, key: string, member: string): string {
  const value = optString(input, key);
  if (value === undefined) throw validation(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  if (value === '') {
    throw validation(`Value '' at '${member}' failed to satisfy constraint: Member must have length greater than or equal to 1`);
  }
  return value;
}

export function optBool(input: Input, key: string): boolean | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw serialization(`Expected a boolean for '${key}'`);
  return value;
}

export function optInt(input: Input, key: string): number | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw serialization(`Expected an integer for '${key}'`);
  return value;
}

export function optStringList(input: Input, key: string): string[] | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw serialization(`Expected a list of strings for '${key}'`);
  }
  return value as string[];
}

export function optObject(input: Input, key: string): Input | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw serialization(`Expected an object for '${key}'`);
  return value as Input;
}

/** `SecretString` or `SecretBinary` (base64 on the wire), or neither. Never both. */
export function readValue(input: Input): Value | undefined {
  const text = optString(input, 'SecretString');
  const b64 = optString(input, 'SecretBinary');
  if (text !== undefined && b64 !== undefined) {
    throw invalidParameter("You can't specify both a binary secret value and a string secret value in the same secret.");
  }
  if (text !== undefined) {
    if (Buffer.byteLength(text) > MAX_SECRET_BYTES) {
      throw validation(
        `Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to ${MAX_SECRET_BYTES}`,
      );
    }
    return { string: text };
  }
  if (b64 !== undefined) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw serialization("Expected base64 for 'SecretBinary'");
    const binary = Buffer.from(b64, 'base64');
    if (binary.length > MAX_SECRET_BYTES) {
      throw validation(
        `Value at 'secretBinary' failed to satisfy constraint: Member must have length less than or equal to ${MAX_SECRET_BYTES}`,
      );
    }
    return { binary };
  }
  return undefined;
}

export function checkToken(token: string): void {
  if (token.length < 32 || token.length > 64) {
    throw invalidParameter('ClientRequestToken must be 32-64 characters long.');
  }
}

export function checkStage(stage: string): void {
  if (stage.length < 1 || stage.length > 256) {
    throw validation(`Value '${stage}' at 'versionStage' failed to satisfy constraint: Member must have length between 1 and 256`);
  }
}
