#!/usr/bin/env bash
# bench/start.sh [BUILD_DIR [BASE_BUILD_DIR]] - a local run's start path
# alone: from the controller writing supervisor.json (right before it
# spawns the supervisor) to the first byte of the command's output
# (log.times), per run, for N trivial tasks one at a time, against bare
# bwrap's own time from fork to the same command's first output byte, all
# in this run.  With BASE_BUILD_DIR, the same tasks through that build
# too, alternating the two builds round by round, so that a change is
# measured against its base on the same machine at the same time.
# Prints the median of each round's median; ROUNDS (3) rounds of N (30)
# tasks.  Root, bwrap, sqlite3.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/_build}
base=${2:-}
N=${N:-30}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-start.XXXXXX")
# through() runs in $(...): its controller's pid goes in a file for the
# trap of this shell.
cleanup() {
	local p
	for p in $(cat "$work"/cpid.* 2>/dev/null); do kill "$p" 2>/dev/null || true; done
	rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT
export PADDOCK_DATA_DIR=$here
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
mtime_ms() { date -r "$1" +%s%3N; }

# Median ms from supervisor.json to the first output byte over N tasks
# through the controller of build $1.
through() { # BUILD
	local b=$1 d=$work/p.$RANDOM
	mkdir -p "$d"
	export PADDOCK_STATE_DIR=$d/state PADDOCK_CONFIG=$d/paddock.yaml
	export PADDOCK_PLUGIN_PATH=$b/drivers/.libs:$b/contexts/.libs
	cat >"$PADDOCK_CONFIG" <<EOT
isolation: bwrap
log: {level: warn}
controller: {listen: "127.0.0.1:0"}
limits: {maxConcurrentTasks: 1}
drivers: {exec: {enabled: true}}
contexts: {text: {enabled: true}}
EOT
	{
		printf 'apiVersion: paddock.dev/v1alpha1\nkind: Agent\nmetadata: {name: bench}\nspec: {type: exec, command: "echo ok"}\n'
		for i in $(seq "$N"); do
			printf -- '---\napiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: s%d}\nspec: {agentRef: {name: bench}, prompt: "p"}\n' "$i"
		done
	} >"$d/tasks.yaml"
	"$b/core/paddock" apply -f "$d/tasks.yaml" >/dev/null 2>&1 ||
		{ echo "start.sh: paddock apply failed ($b)" >&2; return 1; }
	"$b/core/paddock" controller 2>"$d/controller.log" &
	local cpid=$! db=$PADDOCK_STATE_DIR/paddock.db left=-1 end=$((SECONDS + 30 + N * 2))
	echo "$cpid" >"$work/cpid.$cpid"
	# Until every task ended, the controller died, or the time is up.
	while [ "$left" != 0 ] && kill -0 "$cpid" 2>/dev/null && [ $SECONDS -lt $end ]; do
		sleep 0.1
		left=$(sqlite3 "$db" "SELECT count(*) FROM objects WHERE kind='Task' AND phase NOT IN ('Succeeded','Failed','Stopped')" 2>/dev/null) || left=-1
	done
	kill "$cpid" 2>/dev/null
	wait "$cpid" 2>/dev/null || true
	rm -f "$work/cpid.$cpid"
	[ "$left" = 0 ] || { echo "start.sh: tasks left unfinished ($b): $(tail -3 "$d/controller.log")" >&2; return 1; }
	local failed v=() r t0 t1
	failed=$(sqlite3 "$db" "SELECT count(*) FROM objects WHERE kind='Task' AND phase != 'Succeeded'")
	[ "$failed" -eq 0 ] || { echo "start.sh: $failed of $N tasks failed ($b): $(tail -3 "$d/controller.log")" >&2; return 1; }
	for r in "$PADDOCK_STATE_DIR"/runs/*/; do
		t0=$(mtime_ms "$r/supervisor.json")
		t1=$(awk 'NR == 1 {print $2}' "$r/log.times")
		v+=($((t1 - t0)))
	done
	rm -rf "$d"
	median "${v[@]}"
}

# Median ms from fork to the first output byte of the same command through
# bare bwrap (the sandbox of bench/pipeline.sh).
bare() {
	local v=() i
	for i in $(seq "$N"); do
		mkdir -p "$work/b/ws" "$work/b/home"
		v+=("$(python3 - "$work/b" <<'PY'
import os, subprocess, sys, time
d = sys.argv[1]
t0 = time.monotonic()
p = subprocess.Popen(["bwrap", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
    "--new-session", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib",
    "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin", "--ro-bind", "/etc",
    "/etc", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", d + "/ws", "/workspace",
    "--bind", d + "/home", "/home/agent", "--chdir", "/workspace", "sh", "-c", "echo ok"],
    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
p.stdout.read(1)
t1 = time.monotonic()
p.wait()
print(round((t1 - t0) * 1000, 2))
PY
)")
		rm -rf "$work/b"
	done
	median "${v[@]}"
}

new=() old=() bw=()
for r in $(seq "$ROUNDS"); do
	bw+=("$(bare)")
	new+=("$(through "$build")")
	[ -z "$base" ] || old+=("$(through "$base")")
	printf 'round %d: bare bwrap %s ms, this build %s ms%s\n' "$r" "${bw[-1]}" "${new[-1]}" \
		"${base:+, base ${old[-1]} ms}"
done
mb=$(median "${bw[@]}") mn=$(median "${new[@]}")
printf 'start path (supervisor.json -> first output byte), median of %d rounds of %d tasks\n' "$ROUNDS" "$N"
printf '%-24s %8s ms\n' "bare bwrap" "$mb"
printf '%-24s %8s ms  %.2fx bwrap\n' "this build" "$mn" "$(echo "$mn / $mb" | bc -l)"
if [ -n "$base" ]; then
	mo=$(median "${old[@]}")
	printf '%-24s %8s ms  %.2fx bwrap\n' "base build" "$mo" "$(echo "$mo / $mb" | bc -l)"
	printf 'this build / base: %.2f\n' "$(echo "$mn / $mo" | bc -l)"
fi
