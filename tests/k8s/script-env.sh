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

# For scripts with a controller of their own (test-schedule-budget.sh,
# test-github.sh), in namespace NS with its Lease there:
#   own_controller NS NAME [YAML-LINE...]  writes $work/paddock.yaml
#       (PADDOCK_CONFIG) with the lines appended; the controller logs to
#       $log, with Lease identity NAME (the same after a restart: the Lease
#       is taken back at once);
#   start_controller / stop_controller  start it ($cpid) / SIGKILL it;
#   wait_for SECONDS CMD...  until CMD succeeds.
own_controller() {
	local ns=$1
	CTL_NAME=$2
	shift 2
	export PADDOCK_CONFIG=$work/paddock.yaml
	{
		printf '%s\n' "backend: kubernetes" "log: {level: info}" 'controller: {listen: "127.0.0.1:0"}' \
			"kubernetes: {kubeconfig: \"$KUBECONFIG\", namespace: $ns, leaseNamespace: $ns}" \
			"drivers: {exec: {enabled: true}}"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$PADDOCK_CONFIG"
	log=$work/controller.log
}
start_controller() {
	POD_NAME=$CTL_NAME "$P" controller >>"$log" 2>&1 &
	cpid=$!
}
stop_controller() { kill -9 "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null; cpid=; }
wait_for() {
	local end=$((SECONDS + $1)); shift
	while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.2; done
	return 1
}
