#!/bin/bash
# SPDX-License-Identifier: MIT
# test-entrypoints.sh - end-to-end test of the four agent drivers with the
# REAL agent CLIs against the scripted model server on 127.0.0.1.
#
# For each CLI and each case (success, 401, unreachable) it plans one task
# through the driver plugin (plan-dump: validate + credentials + entrypoint
# into a real run_plan), runs the driver's paddock_entrypoint.sh in a temp
# workspace and HOME with exactly the plan's environment and stdin
# </dev/null, and checks what a user would check:
#   success:     the file was written by the CLI's real tool call; the
#                outputs block carries branch, commit and the declared output;
#                the stream parses to SUCCESS with tokens and the result text;
#                the canary key appears nowhere in the output, task.md or the
#                server log, and the server saw the auth header.
#   401:         FAILED with "authentication failed".
#   unreachable: FAILED with a message, within the time bound, no hang.
#   all:         no process of the run is left behind.
#
# Usage: tests/e2e/test-entrypoints.sh [--record] [CLI...]
#   CLI: claude-code codex gemini opencode (default: all four)
#   --record: also copy each stream to tests/data/streams/<cli>-<case>.jsonl
#             (+ .exit) for the unit tests.
# Env: TOP_BUILDDIR (default: the newest _build*/ with built drivers),
#      PADDOCK_CACHE_DIR (see install-clis.sh), E2E_RUNNER (direct),
#      PLAN_DUMP (a built tests/e2e/plan-dump; default: built here).
# The same drivers through `paddock run` and bubblewrap: test-paddock.sh;
# both are run by tests/e2e/run.sh BUILD_DIR.
# Exit 77 (skip) when the CLIs are not installed: run install-clis.sh.
set -u
set -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$HERE/../.." && pwd)}
if [ -z "${TOP_BUILDDIR:-}" ]; then
	TOP_BUILDDIR=$(ls -dt "$TOP_SRCDIR"/_build*/ 2>/dev/null | while read -r d; do
		[ -f "$d/drivers/.libs/exec.so" ] && { echo "${d%/}"; break; }; done)
fi
if [ -z "${TOP_BUILDDIR:-}" ] || [ ! -d "$TOP_BUILDDIR/drivers/.libs" ]; then
	echo "test-entrypoints: no built drivers: set TOP_BUILDDIR to a build tree after make" >&2
	exit 2
fi
RUNNER=${E2E_RUNNER:-direct}
RECORD=0
if [ "${1:-}" = "--record" ]; then
	RECORD=1
	shift
fi
CLIS=${*:-claude-code codex gemini opencode}

CANARY="sk-paddock-canary-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/paddock-e2e.XXXXXX")
SERVER_PID=
cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$HERE/lib.sh"

# ---- tools --------------------------------------------------------------
find_clis test-entrypoints

if [ -n "${PLAN_DUMP:-}" ] && [ -x "$PLAN_DUMP" ]; then
	: # built by run.sh
elif PLAN_DUMP=$WORK/plan-dump && ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
	-I"$TOP_BUILDDIR" -I"$TOP_SRCDIR/core" -I"$TOP_SRCDIR/core/include" \
	"$HERE/plan-dump.c" "$TOP_SRCDIR/core/control/plan.c" "$TOP_SRCDIR/core/base/util.c" -ldl -o "$PLAN_DUMP"; then
	echo "test-entrypoints: cannot build plan-dump" >&2
	exit 2
fi
printf 'llm/apiKey=%s\n' "$CANARY" >"$WORK/secrets"

start_server() { # start_server [--fail-401]
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	rm -f "$WORK/port"
	: >"$WORK/server.log"
	python3 "$HERE/model_server.py" --port 0 --port-file "$WORK/port" --log "$WORK/server.log" \
		--lifetime 900 "$@" >/dev/null 2>"$WORK/server.err" &
	SERVER_PID=$!
	for _ in $(seq 50); do
		[ -s "$WORK/port" ] && break
		sleep 0.1
	done
	PORT=$(cat "$WORK/port" 2>/dev/null) || { echo "model server did not start" >&2; exit 2; }
}

# A port with nothing listening: bind, note, close.

# Any process still carrying this run's PADDOCK_TASK in its environment.
leftovers() { # leftovers TASK
	local p
	for p in /proc/[0-9]*; do
		[ "$p" = "/proc/$$" ] && continue
		if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "PADDOCK_TASK=$1"; then
			echo "${p#/proc/}"
		fi
	done
}

# ---- how one task is run (the step the core will take over) --------------
# run_task CLI CASE_DIR BASE_URL TASK PROMPT
#   -> $CASE_DIR/stream (stdout+stderr), $CASE_DIR/rc, $CASE_DIR/seconds
run_task_direct() {
	local cli=$1 dir=$2 url=$3 task=$4 prompt=$5
	local ws=$dir/ws home=$dir/home
	mkdir -p "$ws" "$home"
	local bin
	bin=$(bin_of "$cli")
	if ! "$PLAN_DUMP" "$TOP_BUILDDIR/drivers/.libs/$cli.so" --home "$home" --workspace "$ws" \
		--secrets "$WORK/secrets" --cred api-key --secret llm --task "$task" \
		--model "$(model_of "$cli")" --set "bin=$bin" --set "baseURL=$url" --set maxRetries=0 \
		--output result=out.txt >"$dir/env.sh" 2>"$dir/plan.err"; then
		cat "$dir/plan.err" >&2
		echo 99 >"$dir/rc"
		: >"$dir/stream"
		return
	fi
	chmod 600 "$dir/env.sh"
	# What the core does: task.md in the workspace, the prompt as $1.
	printf '%s\n' "$prompt" >"$ws/task.md"
	local t0 t1
	t0=$(date +%s)
	(
		cd "$ws" || exit 98
		# A clean environment: only the plan's variables, a PATH for
		# node/git/sh, and the location of the shared script library.
		exec env -i PATH="$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin" \
			PADDOCK_LIB="$TOP_SRCDIR/drivers/paddock_lib.sh" \
			sh -c '. "$1"; shift; exec timeout -k 5 "$@"' sh "$dir/env.sh" \
			"${E2E_TIMEOUT:-150}" "$TOP_SRCDIR/drivers/$cli/paddock_entrypoint.sh" "$prompt"
	) </dev/null >"$dir/stream" 2>&1
	echo $? >"$dir/rc"
	t1=$(date +%s)
	echo $((t1 - t0)) >"$dir/seconds"
}

run_task() {
	case $RUNNER in
	direct) run_task_direct "$@" ;;
	paddock) echo "E2E_RUNNER=paddock: the paddock run + bwrap test is tests/e2e/test-paddock.sh" >&2; exit 2 ;;
	*) echo "unknown E2E_RUNNER $RUNNER" >&2; exit 2 ;;
	esac
}

parse() { # parse CLI CASE_DIR -> CASE_DIR/parsed
	"$PLAN_DUMP" --parse "$TOP_BUILDDIR/drivers/.libs/$1.so" "$2/stream" "$(cat "$2/rc")" >"$2/parsed"
}
field() { sed -n "s/^$1=//p" "$2/parsed"; }

record() { # record CLI CASE CASE_DIR
	[ "$RECORD" = 1 ] || return 0
	local out=$TOP_SRCDIR/tests/data/streams/$1-$2
	if grep -qF "$CANARY" "$3/stream"; then
		echo "not recording $1-$2: the canary is in the stream" >&2
		return 1
	fi
	cp "$3/stream" "$out.jsonl"
	cp "$3/rc" "$out.exit"
}

show() { # on failure, the evidence
	echo "---- $1: rc=$(cat "$1/rc") seconds=$(cat "$1/seconds" 2>/dev/null)"
	tail -c 3000 "$1/stream" | sed 's/^/    | /'
	sed 's/^/    parsed: /' "$1/parsed" 2>/dev/null
}

PROMPT_TAIL="then reply SCRIPTED_OK."

for cli in $CLIS; do
	echo "== $cli ($(bin_of "$cli"))"

	# -- success ----------------------------------------------------------
	start_server
	dir=$WORK/$cli-success
	mkdir -p "$dir/ws"
	git -C "$dir/ws" init -q -b paddock-e2e
	git -C "$dir/ws" -c user.email=e2e@paddock -c user.name=e2e commit -q --allow-empty -m init
	task="e2e/$cli-success-$$"
	run_task "$cli" "$dir" "$(base_url_of "$cli" "$PORT")" "$task" \
		"TOOLTEST: write the file PADDOCK_TOOL_PATH=$dir/ws/out.txt $PROMPT_TAIL"
	parse "$cli" "$dir"
	nfail=$FAIL
	check "$cli success: exit status 0" test "$(cat "$dir/rc")" = 0
	check "$cli success: the CLI's tool call wrote out.txt" \
		test "$(cat "$dir/ws/out.txt" 2>/dev/null)" = PADDOCK_E2E_FILE_OK
	check "$cli success: outputs block printed" \
		grep -qx -e '---PADDOCK_OUTPUTS_START---' "$dir/stream"
	check "$cli success: outputs block has the branch" grep -qx 'branch: paddock-e2e' "$dir/stream"
	check "$cli success: outputs block has the commit" \
		grep -qx "commit: $(git -C "$dir/ws" rev-parse HEAD)" "$dir/stream"
	check "$cli success: outputs block has the declared output" \
		grep -qx 'result: PADDOCK_E2E_FILE_OK' "$dir/stream"
	check "$cli success: parses to SUCCESS" test "$(field outcome "$dir")" = SUCCESS
	check "$cli success: result text" grep -qx 'result=.*SCRIPTED_OK.*' "$dir/parsed"
	check "$cli success: input tokens counted" test "$(field input_tokens "$dir")" -gt 0
	check "$cli success: output tokens counted" test "$(field output_tokens "$dir")" -gt 0
	check "$cli success: the server saw an auth header" \
		grep -q '"auth_headers": \["[a-z-]*"\]' "$WORK/server.log"
	check "$cli success: canary not in the output" bash -c '! grep -rqF "$1" "$2/stream" "$2/ws/task.md" "$3"' \
		_ "$CANARY" "$dir" "$WORK/server.log"
	check "$cli success: no process left behind" test -z "$(leftovers "$task")"
	[ "$FAIL" = "$nfail" ] || show "$dir"
	record "$cli" success "$dir"

	# -- 401 ----------------------------------------------------------------
	start_server --fail-401
	dir=$WORK/$cli-401
	task="e2e/$cli-401-$$"
	run_task "$cli" "$dir" "$(base_url_of "$cli" "$PORT")" "$task" "Say hello, $PROMPT_TAIL"
	parse "$cli" "$dir"
	nfail=$FAIL
	check "$cli 401: parses to FAILED" test "$(field outcome "$dir")" = FAILED
	check "$cli 401: error says authentication failed" grep -q '^error=authentication failed' "$dir/parsed"
	check "$cli 401: canary not in the output" bash -c '! grep -qF "$1" "$2"' _ "$CANARY" "$dir/stream"
	check "$cli 401: no process left behind" test -z "$(leftovers "$task")"
	[ "$FAIL" = "$nfail" ] || show "$dir"
	record "$cli" 401 "$dir"

	# -- unreachable ----------------------------------------------------------
	kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
	dir=$WORK/$cli-unreachable
	task="e2e/$cli-unreachable-$$"
	run_task "$cli" "$dir" "$(base_url_of "$cli" "$(free_port)")" "$task" "Say hello, $PROMPT_TAIL"
	parse "$cli" "$dir"
	nfail=$FAIL
	check "$cli unreachable: not killed by the time bound" test "$(cat "$dir/rc")" != 124
	check "$cli unreachable: parses to FAILED" test "$(field outcome "$dir")" = FAILED
	check "$cli unreachable: has an error message" test -n "$(field error "$dir")"
	check "$cli unreachable: no process left behind" test -z "$(leftovers "$task")"
	echo "     ($cli unreachable: $(cat "$dir/seconds")s, error: $(field error "$dir" | cut -c1-160))"
	[ "$FAIL" = "$nfail" ] || show "$dir"
	record "$cli" unreachable "$dir"
done

echo "test-entrypoints: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
