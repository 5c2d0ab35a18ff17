# tests/local/lib.sh - shared set-up for the local-backend scripts: a
# private state dir, a config pointing at the build tree's plugins, and
# a `pd` function running the built binary.
set -euo pipefail
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${TOP_BUILDDIR:=$TOP_SRCDIR/_build}"
PADDOCK_BIN=${PADDOCK_BIN:-$TOP_BUILDDIR/core/paddock}
work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-test.XXXXXX")
export PADDOCK_STATE_DIR=$work/state
export PADDOCK_DATA_DIR=$TOP_SRCDIR
export PADDOCK_PLUGIN_PATH=$TOP_BUILDDIR/drivers/.libs:$TOP_BUILDDIR/contexts/.libs
# In a directory of its own: a sandbox may not see the config's directory.
mkdir -p "$work/etc"
export PADDOCK_CONFIG=$work/etc/paddock.yaml
isolation=${ISOLATION:-bwrap}
cat >"$PADDOCK_CONFIG" <<EOT
isolation: $isolation
log: {level: info}
controller: {listen: "127.0.0.1:0"}
limits: {maxConcurrentTasks: ${GLOBAL_MAX:-8}}
drivers: {exec: {enabled: true}}
contexts: {text: {enabled: true}, configmap: {enabled: true}, git: {enabled: true}, url: {enabled: true}, runtime: {enabled: true}}
# The tests clone repositories they made on this host (file://, paths).
git: {allowLocalRepositories: true}
EOT
pd() { "$PADDOCK_BIN" "$@"; }
cleanup_pids=()
cleanup() {
	for p in "${cleanup_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	# Anything else still running from this test's state dir (never
	# expected); a supervisor has a clean environment but names its run.
	for p in $(pgrep -f "$PADDOCK_BIN" 2>/dev/null); do
		if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "PADDOCK_STATE_DIR=$PADDOCK_STATE_DIR" ||
			tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$PADDOCK_STATE_DIR/runs/"; then
			echo "leftover process $p: $(tr '\0' ' ' <"/proc/$p/cmdline")" >&2
			kill -9 "$p" 2>/dev/null || true
		fi
	done
	[ -n "${KEEP:-}" ] || rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work"; } || true
	# The runs' cgroups went with their runs; their shared parent
	# "paddock" below our own cgroup goes too once empty (rmdir refuses
	# while another run lives in it).
	local line ctl path
	while IFS=: read -r _ ctl path; do
		for c in ${ctl//,/ }; do
			[ -n "$c" ] && [ "${c#name=}" = "$c" ] || continue
			rmdir "/sys/fs/cgroup/$c${path%/}/paddock" 2>/dev/null || true
		done
		[ -z "$ctl" ] && rmdir "/sys/fs/cgroup${path%/}/paddock" 2>/dev/null || true
	done </proc/self/cgroup
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }
# Suites of independent cases: run_case FUNCTION runs one in a subshell,
# so that a `fail` ends that case only; the names of the failed ones
# collect in ${failed[@]} for the script's end.
failed=()
run_case() {
	set +e
	(
		set -e
		"$1"
	)
	local rc=$?
	set -e
	[ $rc -eq 0 ] || failed+=("$1")
}
# A Task's field as a Python expression over its JSON (`t`), and a wait
# for its phase (and reason) for at most 60 s.
task_field() { pd get task "$1" -o json 2>/dev/null | python3 -c "import json,sys; t=json.load(sys.stdin); print(eval(sys.argv[1]))" "$2"; }
wait_task_phase() { # NAME PHASE [REASON]
	local deadline=$((SECONDS + 60))
	until [ "$(task_field "$1" 't["status"].get("phase")')" = "$2" ] &&
		{ [ -z "${3:-}" ] || [ "$(task_field "$1" 't["status"].get("reason")')" = "$3" ]; }; do
		[ $SECONDS -lt $deadline ] || fail "$1: not $2 ${3:-} after 60 s: $(pd get task "$1" -o wide 2>&1)"
		sleep 0.1
	done
}
