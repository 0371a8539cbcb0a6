/**
 * Every error class credswap exports: the core's (`credswap`) and those each entry point owns
 * (`credswap/aws`, `credswap/vault`, `credswap/file`, `credswap/drill`).
 */
import * as core from '../../lib/errors.js';
import * as drill from '../../lib/drill/errors.js';
import * as aws from '../../providers/aws/errors.js';
import * as file from '../../providers/file/errors.js';
import * as vault from '../../providers/vault/errors.js';

/** The error modules, as paths `require` resolves from this file. */
export const ERROR_MODULES = [
  '../../lib/errors.js',
  '../../providers/aws/errors.js',
  '../../providers/vault/errors.js',
  '../../providers/file/errors.js',
  '../../lib/drill/errors.js',
] as const;

export type ErrorsModule = typeof core & typeof aws & typeof vault & typeof file & typeof drill;

export const errors: ErrorsModule = { ...core, ...aws, ...vault, ...file, ...drill };

/** A second, independent copy of the error modules, as when two copies of the package are installed. */
export function loadSecondCopy(): ErrorsModule {
  const paths = ERROR_MODULES.map((m) => require.resolve(m));
  const originals = paths.map((p) => require.cache[p]);
  for (const p of paths) delete require.cache[p];
  try {
    return Object.assign({}, ...ERROR_MODULES.map((m) => require(m) as object)) as ErrorsModule;
  } finally {
    paths.forEach((p, i) => {
      if (originals[i]) require.cache[p] = originals[i];
      else delete require.cache[p];
    });
  }
}
