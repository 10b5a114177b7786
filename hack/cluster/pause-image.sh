#!/usr/bin/env bash
# Builds the pod sandbox image toolgate.local/pause:latest (hack/cluster/pause) once per source
# change and prints the path of its OCI archive (cached in $TOOLGATE_CACHE/image).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${TOOLGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolgate}
key=$(cat "$here/pause/main.go" "$here/pause/go.mod" "$here/pause/Containerfile" | sha256sum | cut -c1-16)
out="$cache/image/pause-$key.oci.tar"
if [ ! -s "$out" ]; then
  ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
  (cd "$here/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$ctx/pause" .)
  cp "$here/pause/Containerfile" "$ctx/"
  "$here/../image/podman.sh" build --quiet --pull=never -t toolgate.local/pause:latest "$ctx" >/dev/null
  mkdir -p "$cache/image"
  "$here/../image/podman.sh" save --quiet --format oci-archive -o "$out.tmp" toolgate.local/pause:latest
  mv "$out.tmp" "$out"
fi
echo "$out"
