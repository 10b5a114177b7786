#!/usr/bin/env bash
# Builds one pinned third-party Go tool from its Go module and caches the binary outside the
# checkout, keyed by name and version. Prints nothing when the binary is already cached.
#
# Upstream modules such as k8s.io/kubernetes and go.etcd.io/etcd/server/v3 carry `replace`
# directives pointing at sibling directories, which `go install mod@version` refuses. We build
# them through a throw-away wrapper module whose replaces map each such sibling to its published
# version (k8s staging modules `k8s.io/x v0.0.0` -> `v0.<minor>.<patch>`).
set -euo pipefail
name=${1:?usage: build-go-tool.sh NAME}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${TOOLGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolgate}

ldflags="-s -w"
tags=
case "$name" in
  opa)            module=github.com/open-policy-agent/opa; version=$OPA_VERSION; pkg=$module; tags=$OPA_TAGS ;;
  kube-apiserver|kubectl|kubelet|kube-controller-manager|kube-scheduler|kube-proxy)
                  module=k8s.io/kubernetes; version=$KUBERNETES_VERSION; pkg=k8s.io/kubernetes/cmd/$name
                  IFS=. read -r major minor _ <<<"${version#v}"
                  cv=k8s.io/component-base/version
                  ldflags+=" -X $cv.gitVersion=$version -X $cv.gitMajor=$major -X $cv.gitMinor=$minor -X $cv.gitTreeState=clean" ;;
  etcd)           module=go.etcd.io/etcd/server/v3; version=$ETCD_VERSION; pkg=$module ;;
  helm)           module=helm.sh/helm/v3; version=$HELM_VERSION; pkg=helm.sh/helm/v3/cmd/helm
                  ldflags+=" -X helm.sh/helm/v3/internal/version.version=$version" ;;
  kubeconform)    module=github.com/yannh/kubeconform; version=$KUBECONFORM_VERSION; pkg=$module/cmd/kubeconform ;;
  # krew proves the release archive installs as users install plugins (make test-release).
  krew)           module=sigs.k8s.io/krew; version=$KREW_VERSION; pkg=$module/cmd/krew
                  ldflags+=" -X sigs.k8s.io/krew/internal/version.gitTag=$version" ;;
  # DNS for the real node of `make cluster-up` (hack/cluster); its main package is the module root.
  coredns)        module=github.com/coredns/coredns; version=$COREDNS_VERSION; pkg=$module ;;
  # -e: tests of vault's plugins import sdk test helpers newer than the sdk the server pairs with.
  vault)          module=github.com/hashicorp/vault; version=$VAULT_VERSION; pkg=$module; tidy_flags=-e ;;
  # versitygw: the S3 server with Object Lock behind the S3 audit sink's integration test.
  versitygw)      module=github.com/versity/versitygw; version=$VERSITYGW_VERSION; pkg=$module/cmd/versitygw ;;
  # Bench peers only: the OPA-Envoy plugin (ext_authz over gRPC) and the ghz gRPC load generator.
  opa-envoy-plugin) module=github.com/open-policy-agent/opa-envoy-plugin; version=$OPA_ENVOY_PLUGIN_VERSION
                  pkg=$module/cmd/opa-envoy-plugin ;;
  ghz)            module=github.com/bojand/ghz; version=$GHZ_VERSION; pkg=$module/cmd/ghz
                  ldflags+=" -X main.version=$version" ;;
  *) echo "build-go-tool: unknown tool '$name' (expected opa, kube-apiserver, kubectl, etcd, helm, kubeconform, krew, vault, versitygw, kubelet, kube-controller-manager, kube-scheduler, kube-proxy, coredns, opa-envoy-plugin, ghz)" >&2; exit 2 ;;
esac

# Build tags change the binary, so they are part of the cache key like the version.
out="$cache/bin/$name-$version${tags:+-$tags}/$name"
[ -x "$out" ] && exit 0

fail() { echo "build-go-tool: $name $version: step '$1' failed (log: $log)" >&2; tail -n 20 "$log" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/toolgate-$name.XXXXXX")
log="$work/build.log"
trap 'rm -rf "$work/mod"' EXIT
mkdir -p "$work/mod" "$(dirname "$out")"
cd "$work/mod"
echo "building $name $version with $(go env GOVERSION) (first run only; cached in $cache)" >&2

upstream_mod=$(go mod download -json "$module@$version" 2>>"$log" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p') || fail "download $module@$version"
[ -n "$upstream_mod" ] || fail "download $module@$version"

# Which version a sibling module is published at: k8s staging modules use v0.<minor>.<patch>.
sibling_version=$version
[ "$module" = k8s.io/kubernetes ] && sibling_version="v0.${version#v1.}"
# Vault's api and sdk are versioned independently of the server: use the versions it requires.
[ "$module" = github.com/hashicorp/vault ] && sibling_version=required

{
  echo "module toolgate.local/tools/$name"
  echo "go $(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')"
  echo "require $module $version"
  # Copy every upstream replace: relative ones become the published sibling, others verbatim.
  # Relative replaces of modules upstream does not require (etcd's FORBIDDEN_DEPENDENCY guards)
  # are dropped: they only exist to stop accidental imports.
  awk -v sv="$sibling_version" '
    # First pass: what upstream requires (vault lists its replaces before its requires).
    NR == FNR { if (/^require[[:space:]]*\($/) inreq = 1; else if (inreq && /^\)/) inreq = 0
      else if (inreq) required[$1] = $2; else if (/^require[[:space:]]/) required[$2] = $3; next }
    /^replace[[:space:]]*\($/ { inblock = 1; next }
    inblock && /^\)/ { inblock = 0; next }
    inblock || /^replace[[:space:]]/ {
      line = $0; sub(/^replace[[:space:]]+/, "", line); sub(/\/\/.*/, "", line)
      n = split(line, f, /[[:space:]]+/); lhs = ""; rhs = ""; seen = 0
      for (i = 1; i <= n; i++) { if (f[i] == "") continue; if (f[i] == "=>") { seen = 1; continue }
        if (seen) rhs = rhs " " f[i]; else lhs = lhs " " f[i] }
      if (!seen) next
      split(rhs, r, " ")
      if (r[1] ~ /^\.\.?\//) { split(lhs, l, " "); if (l[1] in required) print "replace " l[1] " => " l[1] " " (sv == "required" ? required[l[1]] : sv) }
      else print "replace" lhs " =>" rhs
    }' "$upstream_mod" "$upstream_mod"
} > go.mod
printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" > tools.go
go mod tidy ${tidy_flags:-} >>"$log" 2>&1 || fail "go mod tidy (wrapper module)"
CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$out.tmp" "$pkg" >>"$log" 2>&1 || fail "go build $pkg"
mv "$out.tmp" "$out"
cp go.mod "$(dirname "$out")/wrapper.go.mod"
echo "built $name $version -> $out" >&2
