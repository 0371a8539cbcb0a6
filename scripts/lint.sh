#!/usr/bin/env bash
# `npm run lint`: Prettier (formatting) and ESLint with typescript-eslint's type-checked rules.
# The linters live in tools/lint with a TypeScript 6 of their own: typescript-eslint needs
# TypeScript's JavaScript API, which the project's TypeScript 7 compiler does not have.
# `scripts/lint.sh --fix` formats and applies ESLint's fixes instead of checking.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=tools/lint
if [[ ! -x $tools/node_modules/.bin/eslint || $tools/package-lock.json -nt $tools/node_modules/.package-lock.json ]]; then
  npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error
fi
if [[ ${1:-} == --fix ]]; then
  "$tools/node_modules/.bin/prettier" --log-level warn --write .
  "$tools/node_modules/.bin/eslint" --config "$tools/eslint.config.mjs" --fix .
else
  "$tools/node_modules/.bin/prettier" --log-level warn --check .
  "$tools/node_modules/.bin/eslint" --config "$tools/eslint.config.mjs" .
fi
