# tests/k8s/script-env.sh - sourced by the scripts that run against an
# already running test cluster (test-cli.sh, test-spawner.sh) with "$@":
# KUBECONFIG (first argument, else $KUBECONFIG; made absolute), ENVDIR,
# SRC, P (the paddock binary: $PADDOCK_BIN, else the build tree's),
# KUBECTL (the env's, else PATH's) and PADDOCK_PLUGIN_PATH (next to P).
SRC=$(cd "$HERE/../.." && pwd)
KUBECONFIG=${1:-${KUBECONFIG:-}}
[ -n "$KUBECONFIG" ] && [ -r "$KUBECONFIG" ] || { echo "usage: $0 KUBECONFIG (or set KUBECONFIG)" >&2; exit 2; }
KUBECONFIG=$(cd "$(dirname "$KUBECONFIG")" && pwd)/$(basename "$KUBECONFIG")
export KUBECONFIG
ENVDIR=$(dirname "$KUBECONFIG")
P=${PADDOCK_BIN:-$SRC/_build/core/paddock}
[ -x "$P" ] || { echo "paddock binary $P not found: set PADDOCK_BIN" >&2; exit 2; }
if [ -z "${KUBECTL:-}" ]; then
	K8S_BIN=
	[ -f "$ENVDIR/ports.env" ] && K8S_BIN=$(sed -n 's/^K8S_BIN=//p' "$ENVDIR/ports.env")
	if [ -n "$K8S_BIN" ] && [ -x "$K8S_BIN/kubectl" ]; then KUBECTL=$K8S_BIN/kubectl; else KUBECTL=kubectl; fi
fi
if [ -z "${PADDOCK_PLUGIN_PATH:-}" ]; then
	b=$(cd "$(dirname "$P")/.." && pwd)
	[ -d "$b/drivers/.libs" ] && export PADDOCK_PLUGIN_PATH=$b/drivers/.libs:$b/contexts/.libs
fi
