#!/usr/bin/env bash
# podman as this sandbox needs it: its own storage under the tool cache (nothing shared with any
# other podman user), runc (crun refuses hybrid cgroups), cgroupfs (no systemd), file events (no
# journald). Build and run steps need bounded ulimits (the defaults exceed the sandbox's hard
# limits): callers pass `--ulimit nofile=10000:10000 --ulimit nproc=4096:4096`.
# Overlay storage; PODMAN_STORAGE_DRIVER=vfs where overlay mounts are refused (nested containers).
set -euo pipefail
cache=${TOOLGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolgate}
driver=${PODMAN_STORAGE_DRIVER:-overlay}
exec podman --root "$cache/podman/$driver" --runroot "$cache/podman/run-$driver" --storage-driver="$driver" \
  --runtime=/usr/sbin/runc --cgroup-manager=cgroupfs --events-backend=file "$@"
