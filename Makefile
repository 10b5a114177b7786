# toolgate — `make help` lists the targets. Every target installs what it needs first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

export TOOLGATE_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/toolgate
include hack/tools/versions.env

# Node: the machine's when new enough, else the pinned Node 24 (installed on first use).
NODE_BIN_DIR := $(shell hack/tools/node.sh)
ifeq ($(NODE_BIN_DIR),)
$(error could not provision Node $(NODE_VERSION); see the message above)
endif
# Third-party binaries are symlinked from the versioned cache into build/bin.
export TOOLGATE_BIN_DIR := $(CURDIR)/build/bin
export PATH := $(TOOLGATE_BIN_DIR):$(NODE_BIN_DIR):$(CURDIR)/node_modules/.bin:$(PATH)
export npm_config_update_notifier := false

GO_TOOLS := opa etcd kube-apiserver kubectl helm kubeconform krew vault versitygw
# Each tool's cache key: its version (and build tags, which change the binary).
version_opa := $(OPA_VERSION)$(if $(OPA_TAGS),-$(OPA_TAGS))
version_etcd := $(ETCD_VERSION)
version_kube-apiserver := $(KUBERNETES_VERSION)
version_kubectl := $(KUBERNETES_VERSION)
version_helm := $(HELM_VERSION)
version_kubeconform := $(KUBECONFORM_VERSION)
version_krew := $(KREW_VERSION)
version_vault := $(VAULT_VERSION)
version_versitygw := $(VERSITYGW_VERSION)
# The real node of `make cluster-up`: built only when a cluster target runs, never by `make tools`.
CLUSTER_TOOLS := kubelet kube-controller-manager kube-scheduler kube-proxy coredns
version_kubelet := $(KUBERNETES_VERSION)
version_kube-controller-manager := $(KUBERNETES_VERSION)
version_kube-scheduler := $(KUBERNETES_VERSION)
version_kube-proxy := $(KUBERNETES_VERSION)
version_coredns := $(COREDNS_VERSION)
# Bench peers: built only when a bench target runs, never by `make tools` or `make test`.
BENCH_TOOLS := opa-envoy-plugin ghz
version_opa-envoy-plugin := $(OPA_ENVOY_PLUGIN_VERSION)
version_ghz := $(GHZ_VERSION)
tool_version = $(version_$(1))

POLICY_WASM := build/policy/policy.wasm

##@ General
.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Setup
.PHONY: tools
tools: $(addprefix build/bin/,$(GO_TOOLS)) build/bin/kubectl-mcp build/bin/argocd-health node_modules/.installed ## Build/install every tool (cached per version under $TOOLGATE_CACHE).

# Runs Argo CD health Lua as Argo CD does (gopher-lua); our own code, built from its go.mod.
build/bin/argocd-health: $(wildcard test/support/argocd-health/*.go) test/support/argocd-health/go.mod test/support/argocd-health/go.sum
	@mkdir -p build/bin && cd test/support/argocd-health && CGO_ENABLED=0 go build -trimpath -o $(CURDIR)/$@ .

# The kubectl plugin, on PATH beside kubectl so `kubectl mcp ...` works in the demo and tests.
build/bin/kubectl-mcp:
	@mkdir -p build/bin && ln -sfn ../../cmd/kubectl-mcp/main.ts $@

build/bin/%: hack/tools/versions.env hack/tools/build-go-tool.sh
	@hack/tools/build-go-tool.sh $*
	@mkdir -p build/bin && ln -sfn "$(TOOLGATE_CACHE)/bin/$*-$(call tool_version,$*)/$*" $@

node_modules/.installed: package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

##@ Development
.PHONY: generate
generate: node_modules/.installed ## Regenerate crds/ (from api/v1alpha1), the chart (from config/) and schemas/.
	@node hack/generate.ts
	@node hack/write-json-schemas.ts

.PHONY: verify
verify: tools ## Check generated files are current, manifests are valid and docs/compliance.md names only tests that exist.
	@node hack/generate.ts --check
	@node hack/write-json-schemas.ts --check
	@node hack/check-compliance.ts
	@node hack/write-cr-schemas.ts
	@kubeconform -strict -summary -schema-location 'build/schemas/{{.ResourceKind}}-toolgate-{{.ResourceAPIVersion}}.json' \
	  -skip CustomResourceDefinition,Kustomization config/samples profiles
	@helm lint --strict --quiet --kube-version $(KUBERNETES_VERSION) charts/toolgate
	@helm lint --strict --quiet --kube-version $(KUBERNETES_VERSION) charts/toolgate --set namespace.create=true \
	  --set approvals.webhook.enabled=true --set bundleTls.certManager.enabled=true --set serviceMonitor.enabled=true
# kubeconform -strict of the rendered chart and its server-side dry run need the API server's
# schemas (no route to kubeconform's registry here): test/integration/chart.test.ts runs both.

.PHONY: typecheck
typecheck: node_modules/.installed ## Type-check all TypeScript.
	@tsc --noEmit

.PHONY: lint
lint: node_modules/.installed ## Lint all TypeScript.
	@eslint --max-warnings 0 .

.PHONY: policy
policy: $(POLICY_WASM) ## Compile the Rego policy to wasm with the real opa.

# Built by pkg/policy/engine/policy-wasm.ts, as tests and benches build it.
$(POLICY_WASM): $(wildcard pkg/policy/rego/*.rego) pkg/policy/engine/policy-wasm.ts build/bin/opa node_modules/.installed
	@node hack/build-policy-wasm.ts $@

# The operator and the authorizer as the image runs them (hack/dist.ts → build/dist/).
DIST := build/dist/.built
DIST_SOURCES := $(shell find api pkg operator authorizer cmd -name '*.ts' -not -name '*.test.ts' -not -path '*/testdata/*' 2>/dev/null)
.PHONY: dist
dist: $(DIST) ## Bundle the operator, the authorizer and the policy worker with esbuild, as the image runs them (→ build/dist/).

$(DIST): $(DIST_SOURCES) authorizer/src/extauthz/proto/health.proto hack/dist.ts node_modules/.installed
	@node hack/dist.ts && touch $@

.PHONY: test-policy
test-policy: build/bin/opa ## Run the Rego unit tests with coverage (opa test).
	@node hack/opa-test.ts

.PHONY: test-unit
test-unit: node_modules/.installed policy ## Unit tests (pure logic, beside the code; the decision table runs on the real wasm).
	@vitest run --project unit --reporter=default --reporter=json --outputFile.json=build/test-results/unit.json

.PHONY: test-integration
test-integration: tools $(DIST) ## Integration tests against a real kube-apiserver + etcd.
	@vitest run --project integration --reporter=default --reporter=json --outputFile.json=build/test-results/integration.json

# --- conformance (issue 11) ---
.PHONY: conformance
conformance: node_modules/.installed policy ## MCP conformance suite + inspector-cli, directly vs through toolgate (→ build/test-results/conformance.json).
	@vitest run --project integration test/integration/conformance.test.ts test/integration/inspector-cli.test.ts
# --- end conformance ---

.PHONY: test
test: tools verify typecheck lint test-policy test-unit test-integration test-cluster ## Everything CI runs.

##@ Image and a real node (hack/image, hack/cluster; README "Run it on a real node")
IMAGE_VERSION := $(shell sed -n 's/^  "version": "\(.*\)",$$/\1/p' package.json)
IMAGE_ARCHIVE := build/image/toolgate-$(IMAGE_VERSION).oci.tar
# Debian packages the node needs (installed when missing; command or path = package).
CLUSTER_PACKAGES := containerd=containerd runc=runc /usr/lib/cni/bridge=containernetworking-plugins \
  iptables=iptables ip=iproute2 conntrack=conntrack nsenter=util-linux openssl=openssl

.PHONY: image
image: node_modules/.installed $(POLICY_WASM) $(DIST) ## Build the image ghcr.io/toolgate/toolgate:<version> offline with podman (→ build/image/*.oci.tar).
	@hack/image/build.sh

.PHONY: cluster-tools
cluster-tools: $(addprefix build/bin/,$(CLUSTER_TOOLS) etcd kube-apiserver kubectl helm)
	@hack/image/ensure-packages.sh $(CLUSTER_PACKAGES)

.PHONY: cluster-up
cluster-up: cluster-tools image ## Start a real one-node cluster in its own network namespace, the image imported (hack/cluster/README.md).
	@CLUSTER_IMAGES=$(CURDIR)/$(IMAGE_ARCHIVE) hack/cluster/up.sh

.PHONY: cluster-down
cluster-down: ## Stop the cluster of cluster-up and undo its host changes (mounts, sysctls, netns).
	@hack/cluster/down.sh

.PHONY: kind-up
kind-up: image ## With Docker: a kind cluster (kind-config.yaml) with the image loaded.
	@kind create cluster --config kind-config.yaml
	@kind load image-archive --name toolgate $(IMAGE_ARCHIVE)

.PHONY: test-cluster
test-cluster: ## helm install on a real node → Ready pods → MCP calls allowed, denied and approved; pod kills mid-approval; helm upgrade under load; uninstall (test/cluster; root only).
	@if [ "$$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then \
	  echo "##### test-cluster SKIPPED: needs root and network namespaces (ip netns); CI runs it #####" >&2; \
	else $(MAKE) cluster-tools image && vitest run --config test/cluster/vitest.config.ts --reporter=default --reporter=json --outputFile.json=build/test-results/cluster.json; fi

##@ Release
.PHONY: release
release: node_modules/.installed $(POLICY_WASM) ## kubectl-mcp plugin archive (reproducible) + krew manifest with its real sha256 (→ build/release/).
	@node hack/release.ts

##@ Benchmarks (reported, never asserted; see bench/README.md)
.PHONY: bench
bench: bench-policy bench-scale bench-extauthz bench-proxy bench-propagation bench-approval bench-audit bench-session bench-soak ## Run every benchmark and print the figures.

.PHONY: bench-policy
bench-policy: node_modules/.installed policy build/bin/opa ## Policy engine: eval latency at 10/100/1000 rules, compile, bundle size, toolgate vs opa run --server (→ build/bench/policy.json).
	@node bench/policy.ts

.PHONY: bench-scale
bench-scale: node_modules/.installed policy ## Scale run: 100 000 tools × 5 000 rules — compile, data.json and bundle size, eval p50/p99, peak RSS (→ build/bench/scale.json).
	@node bench/scale.ts

.PHONY: test-bench
test-bench: node_modules/.installed build/bin/opa-envoy-plugin ## The OPA-Envoy adapter's Rego tests, with the plugin's own OPA (bench-extauthz runs them first).
	@node bench/extauthz/adapter-test.ts

.PHONY: bench-extauthz
bench-extauthz: node_modules/.installed policy build/bin/opa $(addprefix build/bin/,$(BENCH_TOOLS)) test-bench ## ext_authz Check: floor, toolgate (+JWT) and the OPA-Envoy plugin (+JWT), grpc-js and ghz, concurrency 1/16/64, 1 vs 2 cores (→ build/bench/extauthz.json).
	@node bench/extauthz/run.ts

.PHONY: bench-proxy
bench-proxy: node_modules/.installed policy build/bin/opa ## MCP proxy: added p50/p99 per tools/call vs calling the upstream directly, the proxy in its own process as the StatefulSet runs it (→ build/bench/proxy.json).
	@hack/image/ensure-packages.sh /usr/lib/x86_64-linux-gnu/libjemalloc.so.2=libjemalloc2
	@node bench/proxy/overhead.ts

.PHONY: bench-propagation
bench-propagation: node_modules/.installed policy build/bin/opa build/bin/etcd build/bin/kube-apiserver build/bin/kubectl ## kubectl apply → first decision under the new revision, p50/p99/max (→ build/bench/propagation.json).
	@node bench/propagation/run.ts

.PHONY: bench-audit
bench-audit: node_modules/.installed policy ## Audit before the call: an allowed tools/call without a trail vs with the write awaited (fdatasync on/off).
	@node bench/audit/run.ts

.PHONY: bench-approval
bench-approval: node_modules/.installed policy build/bin/etcd build/bin/kube-apiserver build/bin/kubectl-mcp ## Approval release: kubectl mcp approve → held call answered, p50/p99 (→ build/bench/approval.json).
	@node bench/approval/release.ts

.PHONY: bench-session
bench-session: node_modules/.installed policy ## Session state: decision latency without and with spec.session (limits, taint), same run (→ build/bench/session.json).
	@node bench/session/run.ts

.PHONY: bench-soak
bench-soak: node_modules/.installed policy $(DIST) build/bin/etcd build/bin/kube-apiserver build/bin/kubectl ## Memory soak: the authorizer at half its maximum load through both front ends, the operator serving 200 long pollers; BENCH_SOAK_SECONDS (default 600) each (→ build/bench/soak.json, operator-soak.json).
	@hack/image/ensure-packages.sh /usr/lib/x86_64-linux-gnu/libjemalloc.so.2=libjemalloc2
	@node bench/soak/run.ts

##@ Run locally
.PHONY: run-apiserver
run-apiserver: tools ## Start a local etcd + kube-apiserver with the CRDs installed (Ctrl-C stops).
	@node test/harness/run-controlplane.ts

.PHONY: run
run: node_modules/.installed ## Run the operator against $KUBECONFIG (plain-HTTP bundle service unless BUNDLE_TLS_CERT_FILE/KEY_FILE are set).
	@$(if $(BUNDLE_TLS_CERT_FILE),,BUNDLE_ALLOW_INSECURE_HTTP=true) node cmd/operator/main.ts

.PHONY: install
install: tools ## Install the CRDs into the cluster of $KUBECONFIG.
	@kubectl apply --server-side --field-manager=toolgate-install -f crds/

.PHONY: deploy
deploy: install ## Apply RBAC, admission policies and samples to the cluster of $KUBECONFIG.
	@kubectl apply --server-side --field-manager=toolgate-install -k config/default

.PHONY: demo
# Only what the demo uses (never Vault, a test peer that costs most of a cold tool build).
DEMO_TOOLS := $(addprefix build/bin/,opa etcd kube-apiserver kubectl kubectl-mcp) node_modules/.installed
# Cold build times measured on a fresh 2-core machine (empty Go, npm and tool caches; 2026-12-02:
# the whole cold `make demo` took 5 min 39 s), so a first run says what it waits for.
demo_cold_opa := 1 min
demo_cold_etcd := 1 min
demo_cold_kube-apiserver := 3 min
demo_cold_kubectl := 1 min
demo: ## The governance guide's business-automation story on a local control plane (builds only opa, etcd, kube-apiserver, kubectl).
	@for t in opa etcd kube-apiserver kubectl; do \
	  case $$t in opa) v='$(version_opa)'; c='$(demo_cold_opa)';; etcd) v='$(version_etcd)'; c='$(demo_cold_etcd)';; \
	    kube-apiserver) v='$(version_kube-apiserver)'; c='$(demo_cold_kube-apiserver)';; kubectl) v='$(version_kubectl)'; c='$(demo_cold_kubectl)';; esac; \
	  if [ -x "$(TOOLGATE_CACHE)/bin/$$t-$$v/$$t" ]; then echo "==> $$t $$v: cached"; else echo "==> $$t $$v: building from its Go module (about $$c on 2 cores; cached afterwards)"; fi; \
	done
	@$(MAKE) -s $(DEMO_TOOLS) $(POLICY_WASM)
	@node hack/demo.ts

.PHONY: demo-cluster
demo-cluster: cluster-tools image build/bin/kubectl-mcp ## The same story on a real node through helm install, then the node stopped (root only; hack/demo-cluster.sh).
	@CLUSTER_IMAGES=$(CURDIR)/$(IMAGE_ARCHIVE) hack/demo-cluster.sh

.PHONY: clean
clean: ## Remove build output (the tool cache is kept).
	@rm -rf build coverage
