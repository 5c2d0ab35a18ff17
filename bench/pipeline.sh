#!/usr/bin/env bash
# bench/pipeline.sh [BUILD_DIR] - the whole local pipeline (apply -> store
# -> reconcile -> plan -> workspace -> bwrap -> supervisor -> status) for N
# trivial tasks, against the same command run directly and through bare
# bwrap, all in this run, as ratios:
#   one at a time (limits.maxConcurrentTasks: 1) against a shell loop of
#   bwrap (goal: at most 1.3x);
#   at concurrency 8 (maxConcurrentTasks: 8) against `xargs -P 8` of the
#   same bwrap command (goal: at least 0.9x its throughput).
# Each figure is the median of ROUNDS rounds (default 3).  N defaults to
# 200.  A pipeline run ends at the last status write (the store's
# updated_ms), so the completion poll's period does not count.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/_build}
N=${N:-200}
ROUNDS=${ROUNDS:-3}
bin=$build/core/paddock
work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-bench.XXXXXX")
trap 'rm -rf "$work" 2>/dev/null || true' EXIT
export PADDOCK_DATA_DIR=$here PADDOCK_PLUGIN_PATH=$build/drivers/.libs:$build/contexts/.libs
cmd='echo ok > out.txt'
now_ms() { date +%s%3N; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

bare_bwrap() { # DIR
	mkdir -p "$1/ws" "$1/home"
	bwrap --unshare-pid --unshare-ipc --unshare-uts --die-with-parent --new-session \
		--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
		--symlink usr/sbin /sbin --ro-bind /etc /etc --proc /proc --dev /dev --tmpfs /tmp \
		--bind "$1/ws" /workspace --bind "$1/home" /home/agent --chdir /workspace \
		sh -c "$cmd" </dev/null >/dev/null
}
export -f bare_bwrap
export cmd

# ms for N tasks in a fresh state directory, MAX at a time.
pipeline() { # MAX
	local d=$work/p$1.$RANDOM
	mkdir -p "$d"
	export PADDOCK_STATE_DIR=$d/state PADDOCK_CONFIG=$d/paddock.yaml
	cat >"$PADDOCK_CONFIG" <<EOT
isolation: bwrap
log: {level: warn}
limits: {maxConcurrentTasks: $1}
drivers: {exec: {enabled: true}}
contexts: {text: {enabled: true}}
EOT
	{
		printf 'apiVersion: paddock.dev/v1alpha1\nkind: Agent\nmetadata: {name: bench}\nspec: {type: exec, command: "%s"}\n' "$cmd"
		for i in $(seq "$N"); do
			printf -- '---\napiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: b%d}\nspec: {agentRef: {name: bench}, prompt: "p"}\n' "$i"
		done
	} >"$d/tasks.yaml"
	local db=$PADDOCK_STATE_DIR/paddock.db t0
	t0=$(now_ms)
	"$bin" apply -f "$d/tasks.yaml" >/dev/null
	"$bin" controller 2>"$d/controller.log" &
	cpid=$!
	trap 'kill "$cpid" 2>/dev/null || true' EXIT # this subshell's controller
	while [ "$(sqlite3 "$db" "SELECT count(*) FROM objects WHERE kind='Task' AND phase NOT IN ('Succeeded','Failed','Stopped')")" -ne 0 ]; do
		sleep 0.1
	done
	kill "$cpid"
	wait "$cpid" 2>/dev/null || true
	trap - EXIT
	local failed t1
	failed=$(sqlite3 "$db" "SELECT count(*) FROM objects WHERE kind='Task' AND phase != 'Succeeded'")
	t1=$(sqlite3 "$db" "SELECT max(updated_ms) FROM objects WHERE kind='Task'")
	rm -rf "$d"
	if [ "$failed" -ne 0 ]; then
		echo "pipeline (max $1): $failed of $N tasks did not succeed" >&2
		return 1
	fi
	echo $((t1 - t0))
}

direct=() viabwrap=() pipe1=() xargs8=() pipe8=()
for r in $(seq "$ROUNDS"); do
	# 1. the command directly, in a fresh directory each time
	mkdir -p "$work/direct"
	t0=$(now_ms)
	for i in $(seq "$N"); do mkdir "$work/direct/$i" && (cd "$work/direct/$i" && sh -c "$cmd" </dev/null >/dev/null); done
	direct+=($(($(now_ms) - t0)))
	rm -rf "$work/direct"
	# 2. bare bwrap with the sandbox Paddock builds, one at a time
	t0=$(now_ms)
	for i in $(seq "$N"); do bare_bwrap "$work/bwrap/$i"; done
	viabwrap+=($(($(now_ms) - t0)))
	rm -rf "$work/bwrap"
	# 3. the pipeline, one at a time
	pipe1+=($(pipeline 1))
	# 4. bare bwrap, 8 at a time
	t0=$(now_ms)
	seq "$N" | xargs -P 8 -I{} bash -c 'bare_bwrap "$0/{}"' "$work/xargs"
	xargs8+=($(($(now_ms) - t0)))
	rm -rf "$work/xargs"
	# 5. the pipeline, 8 at a time
	pipe8+=($(pipeline 8))
	printf 'round %d: direct %d ms, bwrap %d ms, pipeline %d ms; xargs -P 8 %d ms, pipeline x8 %d ms\n' \
		"$r" "${direct[-1]}" "${viabwrap[-1]}" "${pipe1[-1]}" "${xargs8[-1]}" "${pipe8[-1]}"
done
md=$(median "${direct[@]}") mb=$(median "${viabwrap[@]}") mp=$(median "${pipe1[@]}")
mx=$(median "${xargs8[@]}") mp8=$(median "${pipe8[@]}")
per() { echo "scale=3; $1 / $N" | bc -l; }
printf 'tasks: %d, medians of %d rounds\n' "$N" "$ROUNDS"
printf '%-30s %10s %10s\n' "one at a time" "ms/task" "ratio"
printf '%-30s %10.2f %10.2f\n' "direct (sh -c)" "$(per "$md")" 1
printf '%-30s %10.2f %10.2f\n' "bwrap directly" "$(per "$mb")" "$(echo "$mb / $md" | bc -l)"
printf '%-30s %10.2f %10.2f\n' "paddock pipeline" "$(per "$mp")" "$(echo "$mp / $md" | bc -l)"
printf 'pipeline / bwrap: %.2f (goal <= 1.3); overhead over bwrap: %.2f ms/task\n' \
	"$(echo "$mp / $mb" | bc -l)" "$(echo "($mp - $mb) / $N" | bc -l)"
printf '%-30s %10s %10s\n' "at concurrency 8" "tasks/s" "ratio"
printf '%-30s %10.1f %10.2f\n' "xargs -P 8 bwrap" "$(echo "$N * 1000 / $mx" | bc -l)" 1
printf '%-30s %10.1f %10.2f\n' "paddock pipeline x8" "$(echo "$N * 1000 / $mp8" | bc -l)" "$(echo "$mx / $mp8" | bc -l)"
printf 'pipeline x8 throughput / xargs -P 8: %.2f (goal >= 0.9)\n' "$(echo "$mx / $mp8" | bc -l)"

# 6. the fence alone: a trivial command in the sandbox runs get now (own
# uid in a user namespace, seccomp filter, cgroup) against bare bwrap.
if [ "$(id -u)" -eq 0 ] && [ -x "$build/core/sandbox_bench" ]; then
	"$build/core/sandbox_bench" "${SANDBOX_N:-200}"
fi

# 7. the egress proxy (core/proxy/egress.c) on a streamed response: time
# to first byte and throughput through it against direct, in one run
# (bench/egress_bench.c, built by `make -C core bench`; a few seconds).
if [ -x "$build/core/egress_bench" ]; then
	"$build/core/egress_bench" "${EGRESS_N:-300}"
fi
