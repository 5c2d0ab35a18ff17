#!/bin/bash
# Build the kubelet (same k8s.io/kubernetes version as tests/k8s/build.sh's
# API server) and helm from the Go module proxy, cached outside the
# repository like the control plane; only missing binaries are built.
# Prints the bin directory on the last line of stdout.
# Environment: PADDOCK_K8S_CACHE, K8S_VERSION, HELM_VERSION.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

K8S_VERSION=${K8S_VERSION:-v1.37.2}
HELM_VERSION=${HELM_VERSION:-v4.3.2}
CACHE=${PADDOCK_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddock/k8s}
BIN=$CACHE/real-$K8S_VERSION-helm$HELM_VERSION/bin
SRC=$CACHE/src
mkdir -p "$BIN" "$SRC"
export GOFLAGS=-mod=mod CGO_ENABLED=0
export GOPATH=${GOPATH:-$CACHE/gopath}
log() { echo "k8s-real-build: $*" >&2; }

if [ -x "$BIN/kubelet" ] && [ -x "$BIN/helm" ]; then echo "$BIN"; exit 0; fi

command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && PATH=$PATH:/usr/local/go/bin; }
command -v go >/dev/null || { log "go not found: install Go 1.21 or newer"; exit 1; }
gominor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ "${gominor:-0}" -ge 26 ]; then export GOTOOLCHAIN=local
else export GOTOOLCHAIN=go1.26.8; fi

if [ ! -x "$BIN/kubelet" ]; then
    t0=$SECONDS
    d=$SRC/kubelet-$K8S_VERSION
    mkdir -p "$d"
    # tests/k8s/build.sh's module (its replace block pins the staging
    # modules to the release's v0.x), renamed: the same dependency versions.
    base=$SRC/kubernetes-$K8S_VERSION
    [ -f "$base/go.mod" ] || "$HERE/../build.sh" >/dev/null
    sed 's|^module .*|module paddock.test/kubelet|' "$base/go.mod" > "$d/go.mod"
    cp "$base/go.sum" "$d/go.sum"
    printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kubelet"\n' > "$d/tools.go"
    log "building kubelet $K8S_VERSION (a few minutes cold)"
    (cd "$d" && go get "k8s.io/kubernetes@$K8S_VERSION" >&2 && { go mod tidy -e >&2 || true; } &&
     go build -trimpath -ldflags "-s -w \
        -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
        -X k8s.io/component-base/version.gitMajor=1 \
        -X k8s.io/component-base/version.gitMinor=${K8S_VERSION#v1.}" \
        -o "$BIN/kubelet.tmp" k8s.io/kubernetes/cmd/kubelet) >&2
    mv "$BIN/kubelet.tmp" "$BIN/kubelet"
    log "kubelet built in $((SECONDS - t0)) s"
fi

if [ ! -x "$BIN/helm" ]; then
    t0=$SECONDS
    log "building helm $HELM_VERSION"
    GOBIN=$BIN.helm go install -trimpath -ldflags "-s -w" "helm.sh/helm/${HELM_VERSION%%.*}/cmd/helm@$HELM_VERSION" >&2
    mv "$BIN.helm/helm" "$BIN/helm"; rmdir "$BIN.helm"
    log "helm built in $((SECONDS - t0)) s"
fi
echo "$BIN"
