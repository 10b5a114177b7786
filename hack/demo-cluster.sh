#!/usr/bin/env bash
# `make demo-cluster`: a real node (hack/cluster/up.sh, its own network namespace), the business
# story told through `helm install` (hack/demo-cluster.ts, run inside that namespace, where the
# API server and the Service addresses exist), then the node stopped and the host restored
# (hack/cluster/down.sh) — also when the demo fails or is interrupted. DEMO_KEEP=1 keeps the node.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=hack/cluster/env.sh
source "$root/hack/cluster/env.sh"
[ "$(id -u)" = 0 ] || { echo "demo-cluster: must run as root (network namespaces, mounts, containerd); make demo needs neither" >&2; exit 1; }
begun=$(date +%s)
down() {
  local rc=$?
  if [ "${DEMO_KEEP:-}" = 1 ]; then
    echo "DEMO_KEEP=1: the node keeps running (network namespace $CLUSTER_NETNS); make cluster-down stops it"
  else
    echo "==> stopping the node (hack/cluster/down.sh)"
    "$root/hack/cluster/down.sh" || rc=1
  fi
  echo "==> make demo-cluster finished in $(( $(date +%s) - begun )) s (exit $rc)"
  exit "$rc"
}
trap down EXIT
trap 'exit 130' INT TERM
echo "==> starting a real node (hack/cluster/up.sh: containerd, kubelet, control plane, CoreDNS, kube-proxy) with the image imported"
"$root/hack/cluster/up.sh"
ip netns exec "$CLUSTER_NETNS" node "$root/hack/demo-cluster.ts"
