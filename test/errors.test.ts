import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import type * as core from '../lib/errors.js';
import {
  ClosedError,
  CredentialsUnavailableError,
  CredswapError,
  ERROR_CODES,
  InvalidCredentialsError,
  InvalidOptionError,
  ProviderError,
  RotationCooldownError,
  RotationTimeoutError,
  isCredswapError,
} from '../lib/errors.js';
import { FileProviderError } from '../providers/file/errors.js';

import { errors, loadSecondCopy, type ErrorsModule } from './helpers/error-modules.js';

type ErrorClassName = Exclude<
  { [K in keyof ErrorsModule]: ErrorsModule[K] extends abstract new (...args: never[]) => Error ? K : never }[keyof ErrorsModule],
  'CredswapError'
>;

interface Case {
  readonly name: ErrorClassName;
  readonly code: core.CredswapErrorCode;
  /** Builds an instance with `mod`'s class; `cause` is passed where the class takes one. */
  make(mod: ErrorsModule, cause: unknown): Error;
  /** Whether the constructor takes a cause. */
  readonly takesCause: boolean;
}

const CASES: readonly Case[] = [
  {
    name: 'InvalidOptionError',
    code: 'CREDSWAP_INVALID_OPTION',
    make: (m) => new m.InvalidOptionError('rotation.timeoutMs', 'must not be negative'),
    takesCause: false,
  },
  {
    name: 'InvalidCredentialsError',
    code: 'CREDSWAP_INVALID_CREDENTIALS',
    make: (m, cause) => new m.InvalidCredentialsError('file:/etc/db.json', "'user' must be a non-empty string", { key: 'user', cause }),
    takesCause: true,
  },
  {
    name: 'CredentialsUnavailableError',
    code: 'CREDSWAP_CREDENTIALS_UNAVAILABLE',
    make: (m) => new m.CredentialsUnavailableError('vault:db/creds/app'),
    takesCause: false,
  },
  {
    name: 'ProviderError',
    code: 'CREDSWAP_PROVIDER_FAILED',
    make: (m, cause) => new m.ProviderError('vault:db/creds/app', cause),
    takesCause: true,
  },
  {
    name: 'RotationTimeoutError',
    code: 'CREDSWAP_ROTATION_TIMEOUT',
    make: (m, cause) => new m.RotationTimeoutError('vault:db/creds/app', 10_000, { cause }),
    takesCause: true,
  },
  {
    name: 'RotationCooldownError',
    code: 'CREDSWAP_ROTATION_COOLDOWN',
    make: (m, cause) => new m.RotationCooldownError('vault:db/creds/app', Date.UTC(2025, 0, 1), { cause }),
    takesCause: true,
  },
  {
    name: 'ClosedError',
    code: 'CREDSWAP_CLOSED',
    make: (m) => new m.ClosedError('the pool'),
    takesCause: false,
  },
  {
    name: 'AccountUnavailableError',
    code: 'CREDSWAP_ACCOUNT_UNAVAILABLE',
    make: (m, cause) => new m.AccountUnavailableError('app', 'temporarily-locked', (cause as Error | undefined) ?? new Error('locked')),
    takesCause: true,
  },
  {
    name: 'ReadOnlyError',
    code: 'CREDSWAP_READ_ONLY',
    make: (m, cause) => new m.ReadOnlyError((cause as Error | undefined) ?? Object.assign(new Error('read-only'), { errno: 1290 }), 5_000),
    takesCause: true,
  },
  {
    name: 'FileProviderError',
    code: 'CREDSWAP_FILE_ERROR',
    make: (m, cause) => new m.FileProviderError('/etc/db.json', 'cannot be read', { cause }),
    takesCause: true,
  },
  {
    name: 'MissingDependencyError',
    code: 'CREDSWAP_MISSING_DEPENDENCY',
    make: (m, cause) => new m.MissingDependencyError('@aws-sdk/client-secrets-manager', 'credswap/aws', { cause }),
    takesCause: true,
  },
  {
    name: 'SecretsManagerError',
    code: 'CREDSWAP_SECRETS_MANAGER_ERROR',
    make: (m, cause) => new m.SecretsManagerError('prod/db', 'ThrottlingException', 'rate exceeded', { retryable: true, cause }),
    takesCause: true,
  },
  {
    name: 'RotationStepError',
    code: 'CREDSWAP_ROTATION_STEP_FAILED',
    make: (m, cause) => new m.RotationStepError('prod/db', 'setSecret', 'login failed', { user: 'app', cause }),
    takesCause: true,
  },
  {
    name: 'VaultError',
    code: 'CREDSWAP_VAULT_ERROR',
    make: (m, cause) => new m.VaultError('database/creds/app', 'Vault is sealed', { statusCode: 503, retryable: true, cause }),
    takesCause: true,
  },
  {
    name: 'DrillTargetError',
    code: 'CREDSWAP_DRILL_TARGET_FAILED',
    make: (m, cause) => new m.DrillTargetError('mysql://admin:[redacted]@db.staging:3306/', 'cannot connect', { cause }),
    takesCause: true,
  },
];

describe('errors', () => {
  describe('every error class', () => {
    for (const c of CASES) {
      describe(c.name, () => {
        it(`has the literal name '${c.name}'`, () => {
          const error = c.make(errors, undefined);
          assert.equal(error.name, c.name);
          assert.equal(errors[c.name].name, c.name);
          assert.ok(String(error).startsWith(`${c.name}: credswap: `), String(error));
          assert.ok(inspect(error).includes(c.name));
        });

        it(`has the code ${c.code}`, () => {
          const error = c.make(errors, undefined) as Error & { code: unknown };
          assert.equal(error.code, c.code);
        });

        if (c.takesCause) {
          it('keeps its cause', () => {
            const cause = new Error('EACCES: permission denied');
            assert.equal(c.make(errors, cause).cause, cause);
          });
        }

        it('is an instance of its class, of CredswapError and of Error', () => {
          const error = c.make(errors, undefined);
          assert.ok(error instanceof errors[c.name]);
          assert.ok(error instanceof CredswapError);
          assert.ok(error instanceof Error);
          assert.ok(isCredswapError(error));
        });

        it('is not an instance of the other error classes', () => {
          const error = c.make(errors, undefined);
          for (const other of CASES) {
            if (other.name === c.name) continue;
            assert.ok(!(error instanceof errors[other.name]), `${c.name} is instanceof ${other.name}`);
          }
        });

        it('keeps a stack trace', () => {
          const error = c.make(errors, undefined);
          assert.ok(error.stack?.includes('errors.test'), error.stack);
        });
      });
    }
  });

  describe('CredswapError', () => {
    it('has the literal name CredswapError and keeps its code and cause', () => {
      const cause = new Error('boom');
      const error = new CredswapError('CREDSWAP_CLOSED', 'credswap: closed', { cause });
      assert.equal(error.name, 'CredswapError');
      assert.equal(error.code, 'CREDSWAP_CLOSED');
      assert.equal(error.cause, cause);
      assert.ok(error instanceof CredswapError);
    });

    it('does not claim a plain Error, even one with a credswap name and code', () => {
      const lookalike = Object.assign(new Error('credswap: the pool is closed'), { name: 'ClosedError', code: 'CREDSWAP_CLOSED' });
      assert.ok(!(new Error('x') instanceof CredswapError));
      assert.ok(!(lookalike instanceof CredswapError));
      assert.ok(!(lookalike instanceof ClosedError));
      assert.ok(!isCredswapError(lookalike));
      assert.ok(!(new TypeError('x') instanceof InvalidOptionError));
    });

    it('does not claim values that are not objects', () => {
      for (const value of [null, undefined, 'CREDSWAP_CLOSED', 42, Symbol.for('credswap.error')] as unknown[]) {
        assert.ok(!(value instanceof CredswapError));
        assert.ok(!(value instanceof ClosedError));
        assert.ok(!isCredswapError(value));
      }
    });
  });

  describe('two copies of the package', () => {
    let copy: ErrorsModule;
    before(() => {
      copy = loadSecondCopy();
    });

    it('loads a genuinely separate copy of the classes', () => {
      assert.notEqual(copy.ProviderError, ProviderError);
      assert.notEqual(copy.CredswapError, CredswapError);
      const fromCopy = new copy.ProviderError('p', new Error('x'));
      assert.notEqual(Object.getPrototypeOf(fromCopy), ProviderError.prototype);
    });

    for (const c of CASES) {
      it(`recognises a ${c.name} from the other copy with instanceof, both ways`, () => {
        const fromA = c.make(errors, undefined);
        const fromB = c.make(copy, undefined);
        assert.ok(fromA instanceof copy[c.name], `copy A's ${c.name} is not instanceof copy B's`);
        assert.ok(fromB instanceof errors[c.name], `copy B's ${c.name} is not instanceof copy A's`);
        assert.ok(fromA instanceof copy.CredswapError);
        assert.ok(fromB instanceof CredswapError);
        assert.ok(copy.isCredswapError(fromA));
        assert.ok(isCredswapError(fromB));
      });
    }

    it('still tells the classes apart across copies', () => {
      assert.ok(!(new copy.ProviderError('p', undefined) instanceof RotationTimeoutError));
      assert.ok(!(new ProviderError('p', undefined) instanceof copy.RotationTimeoutError));
      assert.ok(!(new Error('x') instanceof copy.CredswapError));
    });
  });

  describe('ERROR_CODES', () => {
    it('lists one distinct code per error class', () => {
      assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
      assert.equal(ERROR_CODES.length, CASES.length);
      const raised = CASES.map((c) => (c.make(errors, undefined) as Error & { code: string }).code);
      assert.deepEqual([...raised].sort(), [...ERROR_CODES].sort());
    });

    it('covers every error class the error modules export', () => {
      const exported = Object.entries(errors)
        .filter(([name, value]) => typeof value === 'function' && name !== 'CredswapError' && /^[A-Z]\w*Error$/.test(name))
        .map(([name]) => name)
        .sort();
      assert.deepEqual(exported, CASES.map((c) => c.name).sort());
    });
  });

  describe('InvalidOptionError', () => {
    it('is a TypeError, as the ecosystem expects for programmer errors', () => {
      const error = new InvalidOptionError('rotation.timeoutMs', 'must not be negative');
      assert.ok(error instanceof TypeError);
      assert.ok(error instanceof InvalidOptionError);
    });

    it('names the option in its message and in `option`', () => {
      const error = new InvalidOptionError('rotation.timeoutMs', 'must not be negative');
      assert.equal(error.option, 'rotation.timeoutMs');
      assert.equal(error.message, "credswap: option 'rotation.timeoutMs' must not be negative");
    });
  });

  describe('messages', () => {
    it('ProviderError describes an Error cause by name, code and message', () => {
      const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8200'), { code: 'ECONNREFUSED' });
      const error = new ProviderError('vault:db/creds/app', cause);
      assert.equal(error.provider, 'vault:db/creds/app');
      assert.equal(
        error.message,
        "credswap: provider 'vault:db/creds/app' failed: Error [ECONNREFUSED]: connect ECONNREFUSED 127.0.0.1:8200",
      );
    });

    it('ProviderError never echoes a thrown value that is not an Error', () => {
      const error = new ProviderError('vault:db/creds/app', 'hunter2-secret');
      assert.ok(!error.message.includes('hunter2'), error.message);
      assert.match(error.message, /a non-Error value \(string\)/);
      assert.equal(error.cause, 'hunter2-secret');
    });

    it('ProviderError accepts a message of its own', () => {
      const error = new ProviderError('p', undefined, 'credswap: custom');
      assert.equal(error.message, 'credswap: custom');
    });

    it('the errors carry the fields they name', () => {
      const invalid = new InvalidCredentialsError('file:/etc/db.json', "'port' must be an integer", { key: 'port' });
      assert.equal(invalid.source, 'file:/etc/db.json');
      assert.equal(invalid.key, 'port');
      assert.equal(new CredentialsUnavailableError('p').provider, 'p');
      const timeout = new RotationTimeoutError('p', 2500);
      assert.equal(timeout.provider, 'p');
      assert.equal(timeout.timeoutMs, 2500);
      assert.match(timeout.message, /2500 ms/);
      const retryAt = Date.UTC(2025, 0, 1);
      const cooldown = new RotationCooldownError('p', retryAt);
      assert.equal(cooldown.retryAt, retryAt);
      assert.ok(cooldown.message.includes(new Date(retryAt).toISOString()));
      assert.equal(new FileProviderError('/etc/db.json', 'is missing').path, '/etc/db.json');
      assert.equal(new ClosedError('the pool').message, 'credswap: the pool is closed');
    });
  });
});
