# Shared by up.sh, down.sh and the tests: where the cluster lives and what it is called.
# Sourced, not run. Everything is derived from CLUSTER_DIR so two checkouts never share a cluster.
root=${root:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CLUSTER_DIR=${CLUSTER_DIR:-$root/build/cluster}
mkdir -p "$CLUSTER_DIR"
CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
# The network namespace everything runs in: named after the directory, so a second checkout gets its own.
CLUSTER_NETNS=toolgate-$(printf %s "$CLUSTER_DIR" | sha256sum | cut -c1-8)
# Addresses exist only inside that namespace, so they cannot collide with the host's or another run's.
CLUSTER_NODE_NAME=toolgate-node
CLUSTER_NODE_IP=10.213.0.1
CLUSTER_POD_CIDR=10.214.0.0/24
CLUSTER_SERVICE_CIDR=10.215.0.0/24
CLUSTER_API_IP=10.215.0.1
CLUSTER_KUBECONFIG=$CLUSTER_DIR/kubeconfig
CONTAINERD_SOCK=$CLUSTER_DIR/containerd/containerd.sock
# The host sysctls the kubelet sets (protectKernelDefaults: false); saved before it starts, restored by down.sh.
CLUSTER_HOST_SYSCTLS="vm.overcommit_memory kernel.panic kernel.panic_on_oops"
export CLUSTER_DIR CLUSTER_NETNS CLUSTER_KUBECONFIG CONTAINERD_SOCK
