# syntax=docker/dockerfile:1
# The toolgate image: the operator, the authorizer and kubectl-mcp on Node 24 (which runs the
# TypeScript sources natively), production npm dependencies only, the compiled Rego policy.
#
#   make image                 # offline: Debian-package base, built with podman (hack/image/build.sh)
#   docker build -t ghcr.io/toolgate/toolgate:0.1.0 .     # or buildah bud; needs `make policy dist` first
#
# The operator and the authorizer run as bundles (build/dist/*.mjs, `make dist`: the same code as
# cmd/<name>/main.ts, loading ~40 MiB less); kubectl-mcp runs from its sources.
#
# The bases are build arguments: any Debian-like image with Node 24 on PATH as `node` (and npm
# in BUILD_BASE). Docker/Buildah users keep the defaults; `make image` passes bases it built
# from Debian packages because no registry can be reached on the machines it runs on.
ARG BUILD_BASE=docker.io/library/node:24-bookworm-slim
ARG BASE=docker.io/library/node:24-bookworm-slim

FROM ${BUILD_BASE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no production dependency needs an install script, and none may run one here.
# Behind a TLS-inspecting proxy, pass its CA as a build secret (`--secret id=npm-ca,src=ca.pem`):
# it is mounted for this step only and never stored in a layer. Without it the file is absent and
# Node ignores the variable.
RUN --mount=type=secret,id=npm-ca NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
 && rm -rf /root/.npm
# Everything .dockerignore lets through: package.json, the sources the three entry points import
# (tests and test data left out), the bundles in build/dist and the compiled policy at
# build/policy/policy.wasm, where the operator's POLICY_WASM_FILE defaults to (relative to /app):
# it ships it in every bundle.
COPY . ./
# The context keeps the builder's file modes (a 077 umask, a 0600 file from a tar); the image runs
# as 65532, which must read every file and write none.
RUN chmod -R a+rX,go-w /app

FROM ${BASE}
WORKDIR /app
COPY --from=deps /app ./
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="toolgate" \
      org.opencontainers.image.description="Kubernetes-native policy, human approval and audit for AI-agent MCP tool calls" \
      org.opencontainers.image.source="https://github.com/toolgate/toolgate" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
ENV NODE_ENV=production
# Numeric, so runAsNonRoot can verify it without an /etc/passwd entry. Nothing is written under
# /app: the pods run with readOnlyRootFilesystem and write only to their mounted volumes.
USER 65532:65532
# The chart and config/ set the command per component; this default is the authorizer.
CMD ["node", "--heap-growing-percent=25", "build/dist/authorizer.mjs"]
