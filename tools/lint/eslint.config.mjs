// ESLint for credswap: typescript-eslint's recommended type-checked rules, with the
// promise rules that matter most to a library whose work is asynchronous.
import js from '@eslint/js';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default tseslint.config(
  {
    basePath: root,
    ignores: ['dist/**', 'node_modules/**', 'tools/**', '.cache/**', 'test/fixtures/**', '**/*.mjs', '**/*.js', '**/*.cjs'],
  },
  {
    basePath: root,
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Rejections and throws pass on what they were given (an AbortSignal's reason, a
      // provider's error) unchanged.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // A timer read by a callback before it is set (cleared by an abort that comes first).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // credswap works with mysql2's internals and with JSON from the wire, typed at the
      // boundary as `unknown` and narrowed by hand: these rules would flag every such read.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      // Optional peers and mysql2/promise load on demand with require(), on purpose.
      '@typescript-eslint/no-require-imports': 'off',
      // Methods are taken to be called with .call(owner): mysql2's prototypes, provider hooks.
      '@typescript-eslint/unbound-method': 'off',
      // An async function that does not await still returns a promise, as its contract says.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests throw and print odd values on purpose (a string thrown by a provider, String() of
    // sealed credentials, ANSI escapes in a rendered table) and edit parsed JSON freely.
    basePath: root,
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      'no-control-regex': 'off',
    },
  },
);
