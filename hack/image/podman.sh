#!/usr/bin/env bash
# podman as this sandbox needs it: its own storage under the tool cache (nothing shared with any
# other podman user), vfs (no overlay in nested containers), runc (crun refuses hybrid cgroups),
# cgroupfs (no systemd), file events (no journald), and bounded ulimits (the defaults exceed the
# sandbox's hard limits).
set -euo pipefail
cache=${TOOLGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolgate}
exec podman --root "$cache/podman/root" --runroot "$cache/podman/run" --storage-driver=vfs \
  --runtime=/usr/sbin/runc --cgroup-manager=cgroupfs --events-backend=file "$@"
