#!/bin/bash
# SPDX-License-Identifier: MIT
# test-paddock.sh - end-to-end test of the four agent drivers THROUGH THE
# PRODUCT: `paddock run` (local backend, SQLite store, bubblewrap sandbox)
# with the REAL agent CLIs against the scripted model server on 127.0.0.1.
#
# Per CLI, one private state dir and, per case, a config enabling the
# driver with settings bin (the cached CLI), baseURL (the mock server) and
# maxRetries 0; an Agent (type, credentials api-key -> Secret e2e-key; no
# readOnlyPaths: the sandbox binds the driver's CLI by itself) and the
# Secret e2e-key whose apiKey is a random canary.
#
#   success      through a `paddock -v controller` daemon (`paddock run -w`
#                submits and watches): a git workspace (--workspace-repo);
#                Succeeded; the CLI's tool call wrote RUN_DIR/workspace/out.txt;
#                status.results has branch, commit and the declared output;
#                status.usage input/output tokens > 0; result text; the server
#                saw an auth header carrying the Secret's value (by sha256:
#                the server never logs a key); the canary is nowhere: paddock logs,
#                get -o yaml/json, describe, task.md, the controller's and the
#                CLI's stderr, the state dir (grep -r, paddock.db* excluded),
#                the server log.
#   401          in-process `paddock run` against the server in --fail-401
#                mode: Failed, message contains "authentication failed".
#   unreachable  baseURL on a closed 127.0.0.1 port, --timeout 120s: Failed by
#                the CLI itself (not reason Timeout), with a message.
#   every case   no process of the run is left: the supervisor (pid and start
#                time of RUN_DIR/supervisor.pid) is gone, and no process has
#                RUN_DIR in its cwd or cmdline or the task in PADDOCK_TASK.
#
# Usage: tests/e2e/test-paddock.sh [CLI...]   (default: all four)
# Env: TOP_BUILDDIR (default: the newest _build*/ with a built paddock),
#      PADDOCK_CACHE_DIR (see install-clis.sh), KEEP=1 keeps the work dir.
# Prints "test-paddock: N passed, N failed"; exit 0 only if none failed,
# 77 (skip) when the CLIs are not installed, 2 on a set-up error.
set -u
set -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$HERE/../.." && pwd)}
if [ -z "${TOP_BUILDDIR:-}" ]; then
	TOP_BUILDDIR=$(ls -dt "$TOP_SRCDIR"/_build*/ 2>/dev/null | while read -r d; do
		[ -x "$d/core/paddock" ] && [ -f "$d/drivers/.libs/exec.so" ] && { echo "${d%/}"; break; }; done)
fi
if [ -z "${TOP_BUILDDIR:-}" ] || [ ! -x "$TOP_BUILDDIR/core/paddock" ]; then
	echo "test-paddock: no built paddock: set TOP_BUILDDIR to a build tree after make" >&2
	exit 2
fi
TOP_BUILDDIR=$(cd "$TOP_BUILDDIR" && pwd)
PADDOCK_BIN=$TOP_BUILDDIR/core/paddock
CLIS=${*:-claude-code codex gemini opencode}
RUN_TIMEOUT=${E2E_RUN_TIMEOUT:-180} # timeout(1) around one `paddock run`

CANARY_HEX=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
CANARY="sk-paddock-canary-$CANARY_HEX"
CANARY_SHA=$(printf '%s' "$CANARY" | sha256sum | cut -d' ' -f1)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/paddock-e2e-run.XXXXXX")
CACHE=${PADDOCK_CACHE_DIR:-$HOME/.cache/paddock}/clis
SERVER_PID=
SERVER401_PID=
CONTROLLER_PID=
WATCH_PID=
cleanup() {
	local p
	for p in $CONTROLLER_PID $SERVER_PID $SERVER401_PID $WATCH_PID; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] && { echo "test-paddock: kept $WORK" >&2; return; }
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$HERE/lib.sh"

# ---- tools --------------------------------------------------------------
find_clis test-paddock
command -v bwrap >/dev/null || { echo "test-paddock: bwrap not installed" >&2; exit 2; }
command -v python3 >/dev/null || { echo "test-paddock: python3 not installed" >&2; exit 2; }

start_server() { # start_server NAME [--fail-401] -> sets ${NAME}_PORT-like globals via echo
	local name=$1
	shift
	rm -f "$WORK/$name.port"
	python3 "$HERE/model_server.py" --port 0 --port-file "$WORK/$name.port" --log "$WORK/$name.log" \
		--lifetime 1800 "$@" >/dev/null 2>"$WORK/$name.err" &
	echo $!
}
wait_port() { # wait_port NAME
	for _ in $(seq 100); do
		[ -s "$WORK/$1.port" ] && { cat "$WORK/$1.port"; return 0; }
		sleep 0.1
	done
	echo "test-paddock: model server $1 did not start: $(cat "$WORK/$1.err")" >&2
	return 1
}
SERVER_PID=$(start_server server)
SERVER401_PID=$(start_server server401 --fail-401)
PORT=$(wait_port server) || exit 2
PORT401=$(wait_port server401) || exit 2
# A port with nothing listening: bind, note, close.
DEAD_PORT=$(free_port)


# A small git repository for the success case's workspace.
REPO=$WORK/repo
git init -q -b paddock-e2e "$REPO"
echo "e2e" >"$REPO/README"
git -C "$REPO" add README
git -C "$REPO" -c user.email=e2e@paddock -c user.name=e2e commit -q -m init
REPO_HEAD=$(git -C "$REPO" rev-parse HEAD)

# ---- paddock ------------------------------------------------------------
export PADDOCK_DATA_DIR=$TOP_SRCDIR
export PADDOCK_PLUGIN_PATH=$TOP_BUILDDIR/drivers/.libs:$TOP_BUILDDIR/contexts/.libs
unset PADDOCK_NAMESPACE ANTHROPIC_API_KEY CODEX_API_KEY GEMINI_API_KEY OPENCODE_API_KEY PADDOCK_API_KEY
pd() { "$PADDOCK_BIN" "$@"; }

write_config() { # write_config FILE CLI BASE_URL
	local retries="maxRetries: \"0\", "
	[ "$2" = opencode ] && retries= # no retry setting (README: Known limits)
	cat >"$1" <<EOT
isolation: bwrap
log: {level: info}
limits: {maxConcurrentTasks: 2}
controller: {listen: "127.0.0.1:0"} # any free port: never collide with another controller
drivers:
  $2:
    enabled: true
    settings: {bin: "$(bin_of "$2")", baseURL: "$3", ${retries}}
contexts: {git: {enabled: true}}
git: {allowLocalRepositories: true} # the workspace is a repository made here ($REPO)
# Every run behind Paddock's egress proxy: the model server on 127.0.0.1
# is reached by the proxy (allowLoopback), and the CLI holds only a
# placeholder for its key (credential route, plugin ABI 1.1).
network: {egress: ${E2E_EGRESS:-allowlist}, allowLoopback: true}
EOT
}

# While a run works, every 50 ms: each process of the run (PADDOCK_TASK
# in its environment) and the files the agent can read (the run's
# workspace, home and tmp).  Writes WATCH_OUT: "procs N" (processes seen),
# "placeholder N" (environments holding the placeholder), then one line
# per canary found ("env PID CMD", "file PATH").  Stops when STOP exists.
watch_run() { # watch_run TASK STATE_DIR WATCH_OUT STOP
	local task=$1 sd=$2 out=$3 stop=$4 p env procs=0 ph=0 hits= rd f
	while [ ! -e "$stop" ]; do
		for p in /proc/[0-9]*; do
			env=$({ tr '\0' '\n' <"$p/environ"; } 2>/dev/null) || continue
			[[ $'\n'"$env"$'\n' == *$'\n'"PADDOCK_TASK=default/$task"$'\n'* ]] || continue
			procs=$((procs + 1))
			[[ "$env" == *paddock-placeholder-* ]] && ph=$((ph + 1))
			[[ "$env" == *"$CANARY_HEX"* ]] &&
				hits="${hits}env ${p#/proc/} $({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | cut -c1-80)"$'\n'
		done
		for rd in "$sd"/runs/*/; do
			for f in $(grep -rlF "$CANARY_HEX" "$rd/workspace" "$rd/home" "$rd/tmp" 2>/dev/null); do
				hits="${hits}file $f"$'\n'
			done
		done
		sleep 0.05
	done
	{ echo "procs $procs"; echo "placeholder $ph"; printf '%s' "$hits"; } >"$out"
}

json_field() { # json_field FILE DOTTED.PATH -> value ("" when absent)
	python3 - "$1" "$2" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)
EOF
}

run_dir_of() { pd describe task "$1" 2>/dev/null | sed -n 's/^Run dir: *//p'; }

# Processes of a run still alive: the supervisor (pid + start time), any
# process with RUN_DIR in its cwd or command line, or the task in
# PADDOCK_TASK (inside the sandbox the cwd is /workspace).
leftovers() { # leftovers RUN_DIR TASK
	local rd=$1 task=$2 p pid st
	if [ -f "$rd/supervisor.pid" ]; then
		read -r pid st _ <"$rd/supervisor.pid"
		if [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] &&
			[ "$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $20 }')" = "$st" ]; then
			echo "supervisor:$pid:state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)"
		fi
	fi
	local cwd cmd env
	for p in /proc/[0-9]*; do
		[ "$p" = "/proc/$$" ] || [ "$p" = "/proc/$BASHPID" ] && continue
		# bash matching, not grep: a grep would carry RUN_DIR in its argv.
		cwd=$(readlink "$p/cwd" 2>/dev/null)
		cmd=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)
		env=$({ tr '\0' '\n' <"$p/environ"; } 2>/dev/null)
		if [ "$cwd" = "$rd" ] || [[ "$cwd" == "$rd/"* ]] || [[ "$cmd" == *"$rd"* ]] ||
			[[ $'\n'"$env"$'\n' == *$'\n'"PADDOCK_TASK=default/$task"$'\n'* ]]; then
			echo "${p#/proc/}:${cmd:0:120}"
		fi
	done
}
# The task's phase is final once result.json exists; the supervisor exits
# right after writing it, so allow it a moment (10 s) to be gone.
no_leftovers() { # no_leftovers RUN_DIR TASK
	local l i first
	[ -n "$1" ] || return 1
	for i in $(seq 50); do
		l=$(leftovers "$1" "$2")
		[ -z "$l" ] && break
		[ -n "${first:-}" ] || first=$l
		sleep 0.2
	done
	[ "$i" = 1 ] || echo "     (the run's processes took $(((i - 1) * 2))00 ms to go after the task ended; first seen: $first)"
	[ -z "$l" ] || { echo "     left: $l"; return 1; }
}

canary_nowhere() { # canary_nowhere DIR STATE_DIR RUN_DIR FILES...: both forms of the canary
	local d=$1 sd=$2 rd=$3 hit=0 f
	shift 3
	for f in "$@"; do
		if grep -qF "$CANARY_HEX" "$f" 2>/dev/null; then
			echo "     canary in $f"
			hit=1
		fi
	done
	if [ -n "$rd" ] && grep -qF "$CANARY_HEX" "$rd/workspace/task.md" 2>/dev/null; then
		echo "     canary in task.md"
		hit=1
	fi
	f=$(grep -rlF --exclude='paddock.db*' "$CANARY_HEX" "$sd" 2>/dev/null)
	[ -z "$f" ] || { echo "     canary in state files: $f"; hit=1; }
	[ "$hit" = 0 ]
}

show() { # show CASE_DIR RUN_DIR: the evidence on failure
	local d=$1 rd=$2
	echo "---- $d"
	echo "     paddock run: rc=$(cat "$d/rc" 2>/dev/null) seconds=$(cat "$d/seconds" 2>/dev/null)"
	tail -n 15 "$d/run.err" 2>/dev/null | sed 's/^/    stderr| /'
	[ -f "$d/controller.err" ] && tail -n 15 "$d/controller.err" | sed 's/^/    ctl| /'
	[ -n "$rd" ] && tail -c 2500 "$rd/log" 2>/dev/null | sed 's/^/    log| /'
	sed -n '/"status"/,$p' "$d/task.json" 2>/dev/null | head -40 | sed 's/^/    /'
}

# run_case CLI CASE NAME -- PADDOCK_RUN_ARGS...: runs the task, collects
# $d/{rc,seconds,run.out,run.err,task.json,task.yaml,logs,describe}
run_case() {
	local cli=$1 case=$2 name=$3 d=$WORK/$1/$2
	shift 4
	mkdir -p "$d"
	local t0 t1
	t0=$(date +%s)
	timeout -k 10 "$RUN_TIMEOUT" "$PADDOCK_BIN" run --agent "$cli" --name "$name" "$@" -w \
		</dev/null >"$d/run.out" 2>"$d/run.err"
	echo $? >"$d/rc"
	t1=$(date +%s)
	echo $((t1 - t0)) >"$d/seconds"
	pd get task "$name" -o json >"$d/task.json" 2>>"$d/run.err"
	pd get task "$name" -o yaml >"$d/task.yaml" 2>>"$d/run.err"
	pd logs "$name" >"$d/logs" 2>>"$d/run.err"
	pd logs --raw "$name" >"$d/logs.raw" 2>>"$d/run.err"
	pd describe task "$name" >"$d/describe" 2>>"$d/run.err"
}

# The rendering of the real CLI's stream (paddock logs, tests/local/logs.sh
# for the recorded ones): no raw JSON line, and for KIND success the tool
# call named and the final text, else one error line.
rendered() { # rendered KIND LOGS
	! grep -q '^ *{' "$2" || { echo "     raw JSON in paddock logs: $(grep -m1 '^ *{' "$2" | cut -c1-120)"; return 1; }
	if [ "$1" = success ]; then
		grep -qx -- '-> Write out.txt' "$2" && grep -qx 'SCRIPTED_OK' "$2" && return 0
	else
		[ "$(grep -c '^!! error: ' "$2")" = 1 ] && return 0
	fi
	sed 's/^/     logs| /' "$2" | head -n 30
	return 1
}

TIMES=
for cli in $CLIS; do
	echo "== $cli via paddock run + bwrap ($(bin_of "$cli"))"
	cdir=$WORK/$cli
	mkdir -p "$cdir"
	export PADDOCK_STATE_DIR=$cdir/state
	write_config "$cdir/success.yaml" "$cli" "$(base_url_of "$cli" "$PORT")"
	write_config "$cdir/401.yaml" "$cli" "$(base_url_of "$cli" "$PORT401")"
	write_config "$cdir/unreachable.yaml" "$cli" "$(base_url_of "$cli" "$DEAD_PORT")"
	agent_objects "$cli" "$CANARY" >"$cdir/objects.yaml"
	export PADDOCK_CONFIG=$cdir/success.yaml
	if ! pd apply -f "$cdir/objects.yaml" >"$cdir/apply.out" 2>&1; then
		bad "$cli: paddock apply: $(cat "$cdir/apply.out")"
		continue
	fi
	rm -f "$cdir/objects.yaml" # it holds the canary; not part of the product

	# -- success, through a controller daemon -------------------------------
	d=$cdir/success
	mkdir -p "$d"
	: >"$WORK/server.log"
	# -v: debug logging, so the canary check covers the chattiest logs.
	"$PADDOCK_BIN" -v controller </dev/null >"$d/controller.out" 2>"$d/controller.err" &
	CONTROLLER_PID=$!
	# Submit once it holds the controller lock (logged right after), else
	# `paddock run` may find no daemon yet and run the task in-process.
	for _ in $(seq 100); do
		grep -q 'controller started' "$d/controller.err" 2>/dev/null && break
		sleep 0.1
	done
	name=$cli-ok
	rm -f "$d/watch.stop"
	watch_run "$name" "$PADDOCK_STATE_DIR" "$d/watch" "$d/watch.stop" &
	WATCH_PID=$!
	run_case "$cli" success "$name" -- \
		-p "TOOLTEST: write the file PADDOCK_TOOL_PATH=/workspace/out.txt then reply SCRIPTED_OK." \
		--workspace-repo "$REPO" --output result=out.txt --timeout 120s
	touch "$d/watch.stop"
	wait "$WATCH_PID"
	kill "$CONTROLLER_PID" 2>/dev/null
	timeout 30 tail --pid="$CONTROLLER_PID" -f /dev/null
	wait "$CONTROLLER_PID" 2>/dev/null
	CONTROLLER_PID=
	rd=$(run_dir_of "$name")
	nfail=$FAIL
	echo "     (watched while it ran: $(tr '\n' ' ' <"$d/watch"))"
	check "$cli success: the watcher saw the run's processes (so its checks below mean something)" \
		test "$(sed -n 's/^procs //p' "$d/watch")" -gt 0
	if [ "${E2E_EGRESS:-allowlist}" = allowlist ]; then
		check "$cli success: the CLI held the placeholder, not the key" \
			test "$(sed -n 's/^placeholder //p' "$d/watch")" -gt 0
		check "$cli success: no process of the run had the key in its environment, no file it could read held it" \
			test -z "$(grep -E '^(env|file) ' "$d/watch")"
	fi
	check "$cli success: paddock run exit 0" test "$(cat "$d/rc")" = 0
	check "$cli success: phase Succeeded" test "$(json_field "$d/task.json" status.phase)" = Succeeded
	check "$cli success: ran through the controller daemon" \
		grep -q "$name" "$d/controller.err"
	check "$cli success: the CLI's tool call wrote workspace/out.txt" \
		test "$(cat "$rd/workspace/out.txt" 2>/dev/null)" = PADDOCK_E2E_FILE_OK
	check "$cli success: results.result (declared output)" \
		test "$(json_field "$d/task.json" status.results.result)" = PADDOCK_E2E_FILE_OK
	check "$cli success: outputs.result" \
		test "$(json_field "$d/task.json" status.outputs.result)" = PADDOCK_E2E_FILE_OK
	check "$cli success: results.branch" test "$(json_field "$d/task.json" status.results.branch)" = paddock-e2e
	check "$cli success: results.commit" test "$(json_field "$d/task.json" status.results.commit)" = "$REPO_HEAD"
	check "$cli success: usage.inputTokens > 0" test "$(json_field "$d/task.json" status.usage.inputTokens)" -gt 0
	check "$cli success: usage.outputTokens > 0" test "$(json_field "$d/task.json" status.usage.outputTokens)" -gt 0
	check "$cli success: result text" grep -q SCRIPTED_OK <<<"$(json_field "$d/task.json" status.result)"
	check "$cli success: paddock logs rendered (Write out.txt, SCRIPTED_OK, no raw JSON)" rendered success "$d/logs"
	check "$cli success: the server saw an auth header" \
		grep -q '"auth_headers": \["[a-z-]*"\]' "$WORK/server.log"
	check "$cli success: the CLI sent the Secret's value (its sha256 in the server log)" \
		grep -qF "\"$CANARY_SHA\"" "$WORK/server.log"
	check "$cli success: canary nowhere (logs, get -o json/yaml, describe, task.md, stderr, state dir, server log)" \
		canary_nowhere "$d" "$PADDOCK_STATE_DIR" "$rd" "$d/logs" "$d/logs.raw" "$d/task.json" "$d/task.yaml" \
		"$d/describe" "$d/run.out" "$d/run.err" "$d/controller.err" "$d/controller.out" "$WORK/server.log"
	if [ "$cli" = codex ]; then
		# codex's shell snapshot is a dump of its environment, the key
		# included; left behind when codex exits early (driver turns it off).
		check "$cli success: no shell snapshot (environment dump) in the run's home" \
			test ! -e "$rd/home/.codex/shell_snapshots"
	fi
	check "$cli success: no process of the run left" no_leftovers "$rd" "$name"
	[ "$FAIL" = "$nfail" ] || show "$d" "$rd"
	t_ok=$(cat "$d/seconds")

	# -- 401 (in-process controller) -----------------------------------------
	export PADDOCK_CONFIG=$cdir/401.yaml
	d=$cdir/401
	name=$cli-401
	run_case "$cli" 401 "$name" -- -p "Say hello, then reply SCRIPTED_OK." --timeout 120s
	rd=$(run_dir_of "$name")
	nfail=$FAIL
	check "$cli 401: paddock run exit 1" test "$(cat "$d/rc")" = 1
	check "$cli 401: phase Failed" test "$(json_field "$d/task.json" status.phase)" = Failed
	check "$cli 401: message says authentication failed" \
		grep -q "authentication failed" <<<"$(json_field "$d/task.json" status.message)"
	check "$cli 401: paddock logs rendered (one error line, no raw JSON)" rendered 401 "$d/logs"
	check "$cli 401: canary nowhere" canary_nowhere "$d" "$PADDOCK_STATE_DIR" "$rd" \
		"$d/logs" "$d/task.json" "$d/task.yaml" "$d/describe" "$d/run.out" "$d/run.err" "$WORK/server401.log"
	check "$cli 401: no process of the run left" no_leftovers "$rd" "$name"
	[ "$FAIL" = "$nfail" ] || show "$d" "$rd"
	echo "     ($cli 401: $(cat "$d/seconds")s, message: $(json_field "$d/task.json" status.message | cut -c1-160))"
	t_401=$(cat "$d/seconds")

	# -- unreachable -----------------------------------------------------------
	export PADDOCK_CONFIG=$cdir/unreachable.yaml
	d=$cdir/unreachable
	name=$cli-unreachable
	run_case "$cli" unreachable "$name" -- -p "Say hello, then reply SCRIPTED_OK." --timeout 120s
	rd=$(run_dir_of "$name")
	nfail=$FAIL
	check "$cli unreachable: paddock run exit 1 (not killed by timeout(1))" test "$(cat "$d/rc")" = 1
	check "$cli unreachable: phase Failed" test "$(json_field "$d/task.json" status.phase)" = Failed
	check "$cli unreachable: failed by the CLI, not the task timeout" \
		test "$(json_field "$d/task.json" status.reason)" != Timeout
	check "$cli unreachable: has a message" test -n "$(json_field "$d/task.json" status.message)"
	check "$cli unreachable: paddock logs rendered (one error line, no raw JSON)" rendered unreachable "$d/logs"
	check "$cli unreachable: canary nowhere" canary_nowhere "$d" "$PADDOCK_STATE_DIR" "$rd" \
		"$d/logs" "$d/task.json" "$d/task.yaml" "$d/describe" "$d/run.out" "$d/run.err"
	check "$cli unreachable: no process of the run left" no_leftovers "$rd" "$name"
	[ "$FAIL" = "$nfail" ] || show "$d" "$rd"
	echo "     ($cli unreachable: $(cat "$d/seconds")s, reason $(json_field "$d/task.json" status.reason), message: $(json_field "$d/task.json" status.message | cut -c1-160))"
	t_un=$(cat "$d/seconds")
	TIMES="$TIMES$cli: success ${t_ok}s, 401 ${t_401}s, unreachable ${t_un}s
"
done

printf 'test-paddock: times per driver:\n%s' "$TIMES" | sed '2,$s/^/  /'
echo "test-paddock: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
