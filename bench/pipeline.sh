#!/usr/bin/env bash
# bench/pipeline.sh [BUILD_DIR] - per-task overhead of the whole local
# pipeline (apply -> store -> reconcile -> plan -> workspace -> bwrap ->
# supervisor -> status) for N trivial tasks, as ratios against running the
# same command directly and through bwrap directly, all in this run.
# Tasks run one at a time (limits.maxConcurrentTasks: 1) so the three
# figures compare like with like.  N defaults to 1000.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/_build}
N=${N:-1000}
bin=$build/core/paddock
work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-bench.XXXXXX")
trap 'kill $cpid 2>/dev/null || true; rm -rf "$work" 2>/dev/null || true' EXIT
cpid=
export PADDOCK_STATE_DIR=$work/state PADDOCK_DATA_DIR=$here PADDOCK_CONFIG=$work/paddock.yaml
export PADDOCK_PLUGIN_PATH=$build/drivers/.libs:$build/contexts/.libs
cat >"$PADDOCK_CONFIG" <<EOT
isolation: bwrap
log: {level: warn}
limits: {maxConcurrentTasks: 1}
drivers: {exec: {enabled: true}}
contexts: {text: {enabled: true}}
EOT
cmd='echo ok > out.txt'
now() { date +%s.%N; }

# 1. the command directly, in a fresh directory each time
mkdir -p "$work/direct"
t0=$(now)
for i in $(seq "$N"); do mkdir "$work/direct/$i" && (cd "$work/direct/$i" && sh -c "$cmd" </dev/null >/dev/null); done
t1=$(now)
direct=$(echo "($t1 - $t0) / $N" | bc -l)

# 2. through bubblewrap directly, with the sandbox Paddock builds
mkdir -p "$work/bwrap"
t0=$(now)
for i in $(seq "$N"); do
	mkdir -p "$work/bwrap/$i/ws" "$work/bwrap/$i/home"
	bwrap --unshare-pid --unshare-ipc --unshare-uts --die-with-parent --new-session \
		--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
		--symlink usr/sbin /sbin --ro-bind /etc /etc --proc /proc --dev /dev --tmpfs /tmp \
		--bind "$work/bwrap/$i/ws" /workspace --bind "$work/bwrap/$i/home" /home/agent --chdir /workspace \
		sh -c "$cmd" </dev/null >/dev/null
done
t1=$(now)
viabwrap=$(echo "($t1 - $t0) / $N" | bc -l)

# 3. the whole pipeline: N Tasks applied at once, one controller
{
	printf 'apiVersion: paddock.dev/v1alpha1\nkind: Agent\nmetadata: {name: bench}\nspec: {type: exec, command: "%s"}\n' "$cmd"
	for i in $(seq "$N"); do
		printf -- '---\napiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: b%d}\nspec: {agentRef: {name: bench}, prompt: "p"}\n' "$i"
	done
} >"$work/tasks.yaml"
t0=$(now)
"$bin" apply -f "$work/tasks.yaml" >/dev/null
"$bin" controller 2>"$work/controller.log" &
cpid=$!
while :; do
	left=$(sqlite3 "$PADDOCK_STATE_DIR/paddock.db" "SELECT count(*) FROM objects WHERE kind='Task' AND phase NOT IN ('Succeeded','Failed','Stopped')")
	[ "$left" -eq 0 ] && break
	sleep 0.2
done
t1=$(now)
kill "$cpid"; wait "$cpid" 2>/dev/null || true
failed=$(sqlite3 "$PADDOCK_STATE_DIR/paddock.db" "SELECT count(*) FROM objects WHERE kind='Task' AND phase != 'Succeeded'")
pipeline=$(echo "($t1 - $t0) / $N" | bc -l)

printf 'tasks: %d (failed: %d)\n' "$N" "$failed"
printf '%-26s %10s %12s\n' "" "ms/task" "ratio"
printf '%-26s %10.2f %12.2f\n' "direct (sh -c)" "$(echo "$direct*1000" | bc -l)" 1
printf '%-26s %10.2f %12.2f\n' "bwrap directly" "$(echo "$viabwrap*1000" | bc -l)" "$(echo "$viabwrap/$direct" | bc -l)"
printf '%-26s %10.2f %12.2f\n' "paddock pipeline" "$(echo "$pipeline*1000" | bc -l)" "$(echo "$pipeline/$direct" | bc -l)"
printf 'pipeline / bwrap: %.2f; pipeline overhead over bwrap: %.2f ms/task\n' \
	"$(echo "$pipeline/$viabwrap" | bc -l)" "$(echo "($pipeline-$viabwrap)*1000" | bc -l)"
[ "$failed" -eq 0 ]

# 4. the fence alone: a trivial command in the sandbox runs get now (own
# uid in a user namespace, seccomp filter, cgroup) against bare bwrap.
if [ "$(id -u)" -eq 0 ] && [ -x "$build/core/sandbox_bench" ]; then
	"$build/core/sandbox_bench" "${SANDBOX_N:-200}"
fi

# 5. the egress proxy (core/proxy/egress.c) on a streamed response: time
# to first byte and throughput through it against direct, in one run
# (bench/egress_bench.c, built by `make -C core bench`; a few seconds).
if [ -x "$build/core/egress_bench" ]; then
	"$build/core/egress_bench" "${EGRESS_N:-300}"
fi
