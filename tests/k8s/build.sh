#!/bin/bash
# Build the real Kubernetes test components from the Go module proxy and
# cache them outside the repository. Only missing binaries are rebuilt.
#
#   kube-apiserver, kube-controller-manager,
#   kube-scheduler, kubectl                           k8s.io/kubernetes
#   etcd                                              go.etcd.io/etcd/server/v3
#   kwok                                              sigs.k8s.io/kwok
#
# Prints the bin directory on the last line of stdout.
# Environment: PADDOCK_K8S_CACHE (default ~/.cache/paddock/k8s),
#              K8S_VERSION, ETCD_VERSION, KWOK_VERSION.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
CACHE=${PADDOCK_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddock/k8s}
BIN=$CACHE/$K8S_VERSION-etcd$ETCD_VERSION-kwok$KWOK_VERSION/bin
SRC=$CACHE/src
mkdir -p "$BIN" "$SRC"

export GOFLAGS=-mod=mod CGO_ENABLED=0
export GOPATH=${GOPATH:-$CACHE/gopath}
log() { echo "k8s-build: $*" >&2; }

need() { local b; for b in "$@"; do [ -x "$BIN/$b" ] || return 0; done; return 1; }
if ! need etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; then
    echo "$BIN"
    exit 0
fi

# Go: on PATH, else the usual install location.  k8s.io/kubernetes v1.37
# needs Go 1.26; a Go from 1.21 on fetches that toolchain from the module
# proxy by itself (GOTOOLCHAIN=auto), an older one cannot.
command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && PATH=$PATH:/usr/local/go/bin; }
if ! command -v go >/dev/null; then
    log "go not found: install Go 1.21 or newer (https://go.dev/doc/install, or /usr/local/go) and re-run"
    exit 1
fi
gominor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ "${gominor:-0}" -ge 26 ]; then
    export GOTOOLCHAIN=local
elif [ "${gominor:-0}" -ge 21 ]; then
    export GOTOOLCHAIN=go1.26.8
    log "Go $(go env GOVERSION) is older than 1.26: using toolchain $GOTOOLCHAIN from the module proxy"
else
    log "Go $(go env GOVERSION) is too old: k8s.io/kubernetes $K8S_VERSION needs Go 1.26 (1.21 or newer can fetch it); install a newer Go and re-run"
    exit 1
fi

# k8s.io/kubernetes declares its k8s.io/* staging modules as v0.0.0 with
# replace directives into its own tree; a consuming module has to pin each
# one to the published v0.x that matches the release.
if need kube-apiserver kube-controller-manager kube-scheduler kubectl; then
    d=$SRC/kubernetes-$K8S_VERSION
    mkdir -p "$d"
    modfile=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
              sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
    staging_v=v0.${K8S_VERSION#v1.}
    {
        echo "module paddock.test/k8s-tools"
        echo
        echo "go 1.26"
        echo
        echo "replace ("
        sed -n 's|^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*|\t\1 => \1 '"$staging_v"'|p' "$modfile"
        echo ")"
    } > "$d/go.mod"
    cat > "$d/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    (cd "$d" && log "resolving k8s.io/kubernetes@$K8S_VERSION" &&
     go get "k8s.io/kubernetes@$K8S_VERSION" >&2 &&
     { go mod tidy -e >&2 || true; })
    for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
        [ -x "$BIN/$c" ] && continue
        log "building $c (several minutes)"
        (cd "$d" && go build -trimpath -ldflags "-s -w \
            -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
            -X k8s.io/component-base/version.gitMajor=1 \
            -X k8s.io/component-base/version.gitMinor=${K8S_VERSION#v1.} \
            -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" \
            -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c") >&2
        mv "$BIN/$c.tmp" "$BIN/$c"
    done
fi

if need etcd; then
    d=$SRC/etcd-$ETCD_VERSION
    mkdir -p "$d"
    printf 'module paddock.test/etcd\n\ngo 1.26\n' > "$d/go.mod"
    log "building etcd $ETCD_VERSION"
    (cd "$d" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2 &&
     go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3) >&2
    mv "$BIN/etcd.tmp" "$BIN/etcd"
fi

if need kwok; then
    log "building kwok $KWOK_VERSION"
    GOBIN=$BIN.kwok go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2
    mv "$BIN.kwok/kwok" "$BIN/kwok"; rmdir "$BIN.kwok"
fi

echo "$BIN"
