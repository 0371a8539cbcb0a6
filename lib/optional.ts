/**
 * Loads optional peer dependencies (the AWS SDK, node-vault) on first use.
 *
 * `require()` is tried first because it honours `NODE_PATH`: AWS Lambda's Node.js runtimes put
 * their copy of the AWS SDK in a folder on `NODE_PATH`, which ES module resolution (and so
 * `import()`, even from CommonJS) ignores. `import()` is the second try, for packages only ES
 * module resolution can find.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { MissingDependencyError } from './errors.js';

/** Node's codes for "no such package". */
const NOT_FOUND = new Set(['MODULE_NOT_FOUND', 'ERR_MODULE_NOT_FOUND']);

function isNotFound(error: unknown): boolean {
  return NOT_FOUND.has((error as { code?: unknown } | null)?.code as string);
}

/**
 * A `require` resolving from this file, or from the working directory where there is no
 * `__filename` (credswap bundled into an ES module). Both see `NODE_PATH`.
 */
function requireHere(): NodeJS.Require {
  return createRequire(typeof __filename === 'string' ? __filename : join(process.cwd(), 'index.js'));
}

/**
 * Loads `name` with `require`, then with `import()`. A package neither finds rejects with a
 * {@link MissingDependencyError} naming it and `neededBy`; other errors (a package that throws
 * while loading) are passed on as they are.
 *
 * @example
 * ```ts
 * const sdk = await loadOptionalPeer<typeof import('@aws-sdk/client-secrets-manager')>(
 *   '@aws-sdk/client-secrets-manager', 'SecretsManagerProvider');
 * ```
 */
export async function loadOptionalPeer<T>(name: string, neededBy: string): Promise<T> {
  let firstError: unknown;
  try {
    return requireHere()(name) as T;
  } catch (error) {
    firstError = error;
  }
  try {
    // A module namespace: a CommonJS package's exports may sit under `default`.
    return (await import(name)) as T;
  } catch (error) {
    if (isNotFound(error) && isNotFound(firstError)) throw new MissingDependencyError(name, neededBy, { cause: firstError });
    throw isNotFound(error) ? firstError : error;
  }
}
