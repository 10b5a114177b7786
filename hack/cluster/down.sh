#!/usr/bin/env bash
# `make cluster-down`: stops everything `make cluster-up` started and removes what it changed on
# the host — its processes (by recorded PID, checked to still be ours), the containers and their
# pod network namespaces, every mount under the cluster directory, the host sysctls the kubelet
# set, and the network namespace. Safe to run any number of times, also after a crash.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/env.sh"
pids=$CLUSTER_DIR/pids

# A recorded PID is ours only while its command line still names our directory (PIDs get reused).
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF -- "$CLUSTER_DIR"; }
stop_pid() {
  local pid=$1 i
  ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 50); do ours "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
}
stop() { local f=$pids/$1.pid; [ -f "$f" ] && stop_pid "$(cat "$f")"; rm -f "$f"; }

# The kubelet first, so it does not restart the containers removed below.
for c in kubelet kube-proxy kube-scheduler kube-controller-manager coredns; do stop "$c"; done

# The shims containerd started for our socket, and the pod network namespaces their sandboxes hold.
shims=$(for p in /proc/[0-9]*; do p=${p#/proc/}; [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q "^[^ ]*containerd-shim[^ ]* .*-address $CONTAINERD_SOCK " && echo "$p"; done)
pod_netns=
for shim in $shims; do
  for child in $(cat "/proc/$shim/task/$shim/children" 2>/dev/null); do
    pod_netns+=" $(ip netns identify "$child" 2>/dev/null)"
  done
done
if [ -S "$CONTAINERD_SOCK" ] && command -v ctr >/dev/null; then
  ctr_() { timeout 20 ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 0.5
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" >/dev/null 2>&1; done
  for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" >/dev/null 2>&1; done
fi
for shim in $shims; do
  { tr '\0' ' ' < "/proc/$shim/cmdline" | grep -qF -- "$CONTAINERD_SOCK"; } 2>/dev/null && kill -KILL "$shim" 2>/dev/null
done
stop containerd
stop kube-apiserver
stop etcd

for n in $pod_netns; do
  case "$n" in cni-*) ip netns delete "$n" 2>/dev/null ;; esac
done

# Every mount under the cluster directory (secret/projected volumes, rootfs snapshots), deepest first.
if command -v findmnt >/dev/null; then
  findmnt -rn -o TARGET | grep -F -- "$CLUSTER_DIR/" | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
fi

if [ -f "$CLUSTER_DIR/host-sysctls" ]; then
  while read -r k v; do
    [ -n "$k" ] && [ "$(sysctl -n "$k" 2>/dev/null)" != "$v" ] && sysctl -qw "$k=$v"
  done < "$CLUSTER_DIR/host-sysctls"
  rm -f "$CLUSTER_DIR/host-sysctls"
fi

ip netns list 2>/dev/null | grep -q "^$CLUSTER_NETNS\b" && ip netns delete "$CLUSTER_NETNS"
rm -rf "$pids"
echo "cluster-down: stopped the cluster in $CLUSTER_DIR (netns $CLUSTER_NETNS)" >&2
exit 0
