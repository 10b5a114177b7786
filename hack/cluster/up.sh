#!/usr/bin/env bash
# `make cluster-up`: a real one-node Kubernetes cluster without Docker — etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy (iptables), containerd + runc, the
# bridge CNI and CoreDNS — all inside a network namespace this run creates, so nothing listens on
# the host's interfaces and no pod or Service traffic leaves the machine. hack/cluster/README.md
# explains each setting. Images: $CLUSTER_IMAGES (OCI/Docker archives) are imported into containerd.
#
# Cleans up a previous (crashed) run first; on any failure it tears down what it started.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/env.sh"
bin=${TOOLGATE_BIN_DIR:-$root/build/bin}
started=$(date +%s)
log() { echo "cluster-up: [$(( $(date +%s) - started ))s] $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "cluster-up: must run as root (network namespaces, mounts, containerd)" >&2; exit 1; }
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl coredns; do
  [ -x "$bin/$b" ] || { echo "cluster-up: $bin/$b missing (make cluster-up builds it)" >&2; exit 1; }
done

"$here/down.sh" 2>/dev/null
trap 'status=$?; if [ $status -ne 0 ]; then log "failed (exit $status); logs in $CLUSTER_DIR/logs; tearing down"; "$here/down.sh"; fi' EXIT

d=$CLUSTER_DIR
rm -rf "$d/pki" "$d/etcd" "$d/kubelet" "$d/containerd" "$d/cni" "$d/logs" "$d/pod-logs" "$d/coredns"
mkdir -p "$d/pids" "$d/logs" "$d/pki" "$d/cni/net.d" "$d/containerd" "$d/coredns" "$d/pod-logs"

# --- network namespace: an interface for the node address and the default route ------------------
# A veth pair with both ends inside the namespace (the dummy driver is not available everywhere):
# nothing connects it to the host.
ip netns add "$CLUSTER_NETNS"
nsx() { ip netns exec "$CLUSTER_NETNS" "$@"; }
nsx ip link set lo up
nsx ip link add tg-node type veth peer name tg-node-peer
nsx ip addr add "$CLUSTER_NODE_IP/24" dev tg-node
nsx ip link set tg-node-peer up
nsx ip link set tg-node up
nsx ip route add default dev tg-node
# These are per network namespace: they change nothing on the host.
nsx sysctl -qw net.ipv4.ip_forward=1
[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] && nsx sysctl -qw net.bridge.bridge-nf-call-iptables=1

# Runs a component in the cluster's network namespace only (nsenter, not `ip netns exec`, which
# also gives it a private mount namespace: the kubelet's volume mounts must be visible to runc).
start() {
  local name=$1; shift
  setsid nsenter --net="/run/netns/$CLUSTER_NETNS" -- "$@" >"$d/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$d/pids/$name.pid"
}

# --- PKI --------------------------------------------------------------------------------------------
pki=$d/pki
openssl_q() { openssl "$@" 2>/dev/null; }
openssl_q req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=toolgate-cluster-ca \
  -keyout "$pki/ca.key" -out "$pki/ca.crt"
# cert NAME SUBJECT [SANs]: a client (and, with SANs, server) certificate signed by the cluster CA.
cert() {
  local name=$1 subj=$2 san=${3:-}
  openssl_q req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$subj" -keyout "$pki/$name.key" -out "$pki/$name.csr"
  openssl_q x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 30 -sha256 -out "$pki/$name.crt" \
    -extfile <(printf 'extendedKeyUsage=clientAuth%s\n%s' "${san:+,serverAuth}" "${san:+subjectAltName=$san}")
}
cert apiserver /CN=kube-apiserver "IP:$CLUSTER_API_IP,IP:$CLUSTER_NODE_IP,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert admin "/O=system:masters/CN=toolgate-cluster-admin"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert kube-controller-manager /CN=system:kube-controller-manager
cert kube-scheduler /CN=system:kube-scheduler
cert kube-proxy /CN=system:kube-proxy
cert kubelet "/O=system:nodes/CN=system:node:$CLUSTER_NODE_NAME" "IP:$CLUSTER_NODE_IP,DNS:$CLUSTER_NODE_NAME"
cert coredns /CN=system:coredns
openssl_q genrsa -out "$pki/sa.key" 2048
openssl_q rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"

kubeconfig() { # kubeconfig FILE CERT-NAME
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: toolgate, cluster: {server: "https://$CLUSTER_NODE_IP:6443", certificate-authority: "$pki/ca.crt"}}]
users: [{name: $2, user: {client-certificate: "$pki/$2.crt", client-key: "$pki/$2.key"}}]
contexts: [{name: toolgate, context: {cluster: toolgate, user: $2}}]
current-context: toolgate
EOF
}
for c in admin kube-controller-manager kube-scheduler kube-proxy kubelet coredns; do kubeconfig "$pki/$c.kubeconfig" "$c"; done
cp "$pki/admin.kubeconfig" "$CLUSTER_KUBECONFIG"
k() { nsx "$bin/kubectl" --kubeconfig "$CLUSTER_KUBECONFIG" "$@"; }

# --- control plane ------------------------------------------------------------------------------------
log "starting etcd, kube-apiserver"
# No fsync: throw-away data on a test node, and fsync is most of etcd's latency.
start etcd "$bin/etcd" --name=toolgate --data-dir="$d/etcd" --listen-client-urls=http://127.0.0.1:2379 \
  --advertise-client-urls=http://127.0.0.1:2379 --listen-peer-urls=http://127.0.0.1:2380 \
  --initial-advertise-peer-urls=http://127.0.0.1:2380 --initial-cluster=toolgate=http://127.0.0.1:2380 \
  --unsafe-no-fsync --log-level=warn
start kube-apiserver "$bin/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
  --bind-address=0.0.0.0 --advertise-address="$CLUSTER_NODE_IP" --secure-port=6443 \
  --cert-dir="$pki" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" --anonymous-auth=false --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range="$CLUSTER_SERVICE_CIDR" \
  --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP --profiling=false

wait_for() { # wait_for SECONDS WHAT COMMAND...
  local until=$(( $(date +%s) + $1 )) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$until" ] || { log "timed out waiting for $what"; return 1; }
    sleep 0.5
  done
}
wait_for 120 "kube-apiserver /readyz" k get --raw /readyz

log "starting kube-controller-manager, kube-scheduler, containerd"
start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig="$pki/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="$pki/kube-controller-manager.kubeconfig" --authorization-kubeconfig="$pki/kube-controller-manager.kubeconfig" \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
  --use-service-account-credentials=true --leader-elect=false --bind-address=127.0.0.1 \
  --service-cluster-ip-range="$CLUSTER_SERVICE_CIDR" --profiling=false
start kube-scheduler "$bin/kube-scheduler" --kubeconfig="$pki/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="$pki/kube-scheduler.kubeconfig" --authorization-kubeconfig="$pki/kube-scheduler.kubeconfig" \
  --leader-elect=false --bind-address=127.0.0.1 --profiling=false

# --- containerd: own root, state and socket under the cluster directory ------------------------------
cat > "$d/containerd/config.toml" <<EOF
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "toolgate.local/pause:latest"
  # The sandbox lacks CAP_SYS_RESOURCE: without this every pod sandbox fails to start
  # ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "${CLUSTER_SNAPSHOTTER:-overlayfs}"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc || echo /usr/sbin/runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni/net.d"
EOF
cat > "$d/cni/net.d/10-toolgate.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "toolgate",
  "plugins": [
    {
      "type": "bridge", "bridge": "tg-cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$d/cni/ipam", "ranges": [[{"subnet": "$CLUSTER_POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
start containerd containerd --config "$d/containerd/config.toml"
wait_for 60 "containerd" ctr --address "$CONTAINERD_SOCK" version

# --- images: the pause image (built here, no registry), then the ones asked for ----------------------
ctr_() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }
pause_tar=$("$here/pause-image.sh")
# shellcheck disable=SC2086
for tar in $pause_tar ${CLUSTER_IMAGES:-}; do
  log "importing $(basename "$tar")"
  ctr_ images import --no-unpack=false "$tar" >/dev/null
done
ctr_ images ls -q | grep -q '^toolgate.local/pause:latest$' || { log "pause image missing after import"; exit 1; }

# --- node: kubelet, kube-proxy, CoreDNS ---------------------------------------------------------------
for s in $CLUSTER_HOST_SYSCTLS; do echo "$s $(sysctl -n "$s")"; done > "$d/host-sysctls"
echo "nameserver $CLUSTER_NODE_IP" > "$d/resolv.conf"
cat > "$d/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$pki/ca.crt"}
authorization: {mode: Webhook}
address: $CLUSTER_NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
tlsCertFile: "$pki/kubelet.crt"
tlsPrivateKeyFile: "$pki/kubelet.key"
containerRuntimeEndpoint: "unix://$CONTAINERD_SOCK"
# No systemd and hybrid cgroups in this sandbox: cgroupfs, no QoS hierarchy, no allocatable enforcement.
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
failCgroupV1: false
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_NODE_IP]
resolvConf: "$d/resolv.conf"
podLogsDir: "$d/pod-logs"
serializeImagePulls: false
# A shared disk: evict only when it is really full.
evictionHard: {memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2%}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
EOF
cat > "$d/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$pki/kube-proxy.kubeconfig"}
hostnameOverride: $CLUSTER_NODE_NAME
mode: iptables
clusterCIDR: $CLUSTER_POD_CIDR
# Leave the host-wide conntrack table size and timeouts alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
EOF
log "starting kubelet, kube-proxy, CoreDNS"
start kubelet "$bin/kubelet" --config="$d/kubelet-config.yaml" --kubeconfig="$pki/kubelet.kubeconfig" \
  --root-dir="$d/kubelet" --node-ip="$CLUSTER_NODE_IP" --hostname-override="$CLUSTER_NODE_NAME" --v=1
start kube-proxy "$bin/kube-proxy" --config="$d/kube-proxy-config.yaml"

# CoreDNS runs on the node (not as a pod): it serves the cluster zone on the node address, which
# is the kubelet's clusterDNS. No `forward`: names outside the cluster get no answer from outside.
k apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
  - {apiGroups: [""], resources: [endpoints, services, pods, namespaces], verbs: [list, watch]}
  - {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:coredns"}]
EOF
cat > "$d/coredns/Corefile" <<EOF
.:53 {
    bind $CLUSTER_NODE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $pki/coredns.kubeconfig toolgate
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
EOF
start coredns "$bin/coredns" -conf "$d/coredns/Corefile"

wait_for 120 "node $CLUSTER_NODE_NAME Ready" k wait --for=condition=Ready "node/$CLUSTER_NODE_NAME" --timeout=2s
# Pods of a namespace are refused until its default ServiceAccount exists.
wait_for 60 "serviceaccount/default" k get serviceaccount default -n default
log "cluster ready: kubeconfig $CLUSTER_KUBECONFIG; run clients with: ip netns exec $CLUSTER_NETNS kubectl --kubeconfig $CLUSTER_KUBECONFIG ..."
trap - EXIT
