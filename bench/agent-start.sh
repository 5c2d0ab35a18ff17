#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/agent-start.sh [BUILD_DIR] - a real agent CLI's start through
# `paddock run` against its own start on the host: from the command's
# exec to the CLI's first model request (the first POST the scripted model
# server tests/e2e/model_server.py sees, stamped when its request line
# arrives), per round:
#   bare     the CLI itself, run on the host with the argv and environment
#            its driver's entrypoint gives it (recorded once by running the
#            entrypoint with the plan's environment, tests/e2e/plan-dump,
#            and a recorder as the CLI), in a fresh workspace and HOME;
#   run      `paddock run --agent CLI -p ...` with a `paddock controller`
#            already serving (the state dir and paddock.yaml of
#            tests/e2e/test-paddock.sh: bwrap, the egress proxy);
#   run+ctl  the same with no controller serving, where `paddock run`
#            acts as the controller itself (a second state dir).
# Alternating bare, run, run+ctl round by round; prints the medians of
# ROUNDS (5) and the ratios run / bare (goal: at most 1.1x) and
# run+ctl / bare, then where a `paddock run` round's time goes (medians):
# command -> Task stored (created_ms) -> Started event -> supervisor.json
# written (the controller spawns the supervisor) -> supervisor.pid (the
# supervisor up) -> first output byte of the run (log.times: the
# entrypoint's or CLI's first line) -> first model request.
# The same prompt everywhere, without a tool call: one turn, SCRIPTED_OK.
# Bench only: nothing is asserted on time.  Every wait is bounded
# (RUN_TIMEOUT, 120 s a run); servers, controllers and the work dir go on
# exit.  Skips (exit 0) a CLI not installed by tests/e2e/install-clis.sh.
# Env: CLIS (claude-code; "claude-code codex gemini opencode" for all),
#      ROUNDS (5), EGRESS (allowlist, as test-paddock.sh; "open" for none),
#      PADDOCK_CACHE_DIR (see install-clis.sh), KEEP=1 keeps the work dir.
# Root, bwrap, python3, sqlite3, cc.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/_build}" && pwd)
CLIS=${CLIS:-claude-code}
ROUNDS=${ROUNDS:-5}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
EGRESS=${EGRESS:-allowlist}
paddock=$build/core/paddock
e2e=$here/tests/e2e
[ -x "$paddock" ] || { echo "agent-start.sh: no $paddock: build first" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-agent-start.XXXXXX")
spid= cpid=
cleanup() {
	local p f st
	for p in $cpid $spid; do
		kill "$p" 2>/dev/null && { timeout 10 tail --pid="$p" -f /dev/null || true; }
	done
	# A run cut short (interrupt, failure): its supervisor (pid and start
	# time in supervisor.pid) stops its process tree on SIGTERM.
	for f in "$work"/*/*/state/runs/*/supervisor.pid; do
		[ -f "$f" ] && read -r p st _ <"$f" || continue
		[ "$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $20}')" = "$st" ] || continue
		kill "$p" 2>/dev/null && { timeout 10 tail --pid="$p" -f /dev/null || true; }
	done
	if [ -n "${KEEP:-}" ]; then echo "agent-start.sh: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

have=()
for cli in $CLIS; do
	case $cli in
	claude-code | codex | gemini | opencode) ;;
	*) echo "agent-start.sh: unknown CLI \"$cli\" in CLIS: use claude-code, codex, gemini or opencode" >&2; exit 2 ;;
	esac
	if bin=$("$e2e/install-clis.sh" --print "$cli" 2>/dev/null); then
		have+=("$cli")
	else
		echo "agent-start.sh: SKIP $cli: not installed (tests/e2e/install-clis.sh $cli)"
	fi
done
[ ${#have[@]} -gt 0 ] || exit 0
# Needed only once a CLI is there to measure (the bench stage runs this
# script on machines without the CLIs, where it skips).
for t in bwrap python3 sqlite3 cc bc; do
	command -v "$t" >/dev/null || { echo "agent-start.sh: $t not installed" >&2; exit 2; }
done

# The helpers of the e2e tests: bin_of, base_url_of, model_of, agent_objects.
HERE=$e2e WORK=$work
. "$e2e/lib.sh"
BINS=$("$e2e/install-clis.sh" --print "${have[@]}")

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
wait_for() { # wait_for SECONDS COMMAND...: poll every 50 ms
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# ---- the scripted model server ----------------------------------------------
python3 "$e2e/model_server.py" --port 0 --port-file "$work/port" --log "$work/server.log" \
	--lifetime 3600 >/dev/null 2>"$work/server.err" &
spid=$!
wait_for 10 test -s "$work/port" || { echo "agent-start.sh: model server did not start: $(cat "$work/server.err")" >&2; exit 2; }
port=$(cat "$work/port")
: >"$work/server.log"

# Arrival (unix seconds) of the first POST logged after line $1 of the
# server log; empty when none.
first_post() {
	tail -n +"$(($1 + 1))" "$work/server.log" | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e.get("method") == "POST":
        print("%.6f" % e["arrived"]); break'
}
log_lines() { wc -l <"$work/server.log"; }

# timed OUT_PREFIX CWD [--env FILE] COMMAND...: runs COMMAND (stdin
# /dev/null, stdout and stderr together to OUT_PREFIX.out, as a run's
# log has them; its own process group killed after RUN_TIMEOUT); prints
# the unix times of its exec and of its first output byte, then its exit
# status.  --env FILE: the whole environment, NUL-separated.
timed() {
	python3 - "$RUN_TIMEOUT" "$@" <<'PY'
import os, signal, subprocess, sys, threading, time
limit, prefix, cwd, argv = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
env = None
if argv[0] == "--env":
    env = dict(kv.split("=", 1) for kv in open(argv[1], "rb").read().decode().split("\0") if "=" in kv)
    argv = argv[2:]
first, killed = 0.0, []
def kill():
    killed.append(1)
    os.killpg(p.pid, signal.SIGKILL)
with open(prefix + ".out", "wb") as out:
    t0 = time.time()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    timer = threading.Timer(limit, kill)
    timer.start()
    while True:
        b = os.read(p.stdout.fileno(), 65536)
        if not b:
            break
        if not first:
            first = time.time()
        out.write(b)
    rc = p.wait()
    timer.cancel()
print("%.6f %.6f %s" % (t0, first, "timeout" if killed else rc))
PY
}

# tests/e2e/plan-dump, built here from the current sources.
plan_dump=$work/plan-dump
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -I"$build" -I"$here/core" \
	-I"$here/core/include" "$e2e/plan-dump.c" "$here/core/control/plan.c" "$here/core/base/util.c" \
	-ldl -o "$plan_dump"

export PADDOCK_DATA_DIR=$here
export PADDOCK_PLUGIN_PATH=$build/drivers/.libs:$build/contexts/.libs
unset PADDOCK_NAMESPACE ANTHROPIC_API_KEY CODEX_API_KEY GEMINI_API_KEY OPENCODE_API_KEY PADDOCK_API_KEY
KEY="sk-paddock-bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
PROMPT="Say hello, then reply SCRIPTED_OK."

# A state dir and config as tests/e2e/test-paddock.sh's success case.
state_setup() { # state_setup DIR CLI
	local d=$1 cli=$2 retries="maxRetries: \"0\", "
	[ "$cli" = opencode ] && retries=
	mkdir -p "$d"
	cat >"$d/paddock.yaml" <<EOT
isolation: bwrap
log: {level: info}
limits: {maxConcurrentTasks: 2}
controller: {listen: "127.0.0.1:0"}
drivers:
  $cli:
    enabled: true
    settings: {bin: "$(bin_of "$cli")", baseURL: "$(base_url_of "$cli" "$port")", ${retries}}
contexts: {text: {enabled: true}}
network: {egress: $EGRESS, allowLoopback: true}
EOT
	agent_objects "$cli" "$KEY" >"$d/objects.yaml"
	PADDOCK_STATE_DIR=$d/state PADDOCK_CONFIG=$d/paddock.yaml "$paddock" apply -f "$d/objects.yaml" >/dev/null
}

# The bare CLI's argv and environment: the driver's plan (plan-dump) and
# its entrypoint, run with a recorder in place of the CLI.
bare_setup() { # bare_setup DIR CLI
	local d=$1 cli=$2
	mkdir -p "$d/home" "$d/ws"
	printf 'llm/apiKey=%s\n' "$KEY" >"$d/secrets"
	"$plan_dump" "$build/drivers/.libs/$cli.so" --home "$d/run/home" --workspace "$d/run/ws" \
		--secrets "$d/secrets" --cred api-key --secret llm --task "default/bench-$cli" \
		--model "$(model_of "$cli")" --set "bin=$d/recorder" --set "baseURL=$(base_url_of "$cli" "$port")" \
		$([ "$cli" = opencode ] || echo --set maxRetries=0) >"$d/env.sh"
	# plan-dump wrote the plan's files into run/: the template of each round.
	mkdir -p "$d/run/home" "$d/run/ws"
	printf '%s\n' "$PROMPT" >"$d/run/ws/task.md"
	mv "$d/run" "$d/template"
	sed -i "s|$d/run/|$d/template/|g; s|$d/run'|$d/template'|g" "$d/env.sh"
	cat >"$d/recorder" <<EOT
#!/bin/sh
printf '%s\0' "\$@" >"$d/argv"
cat /proc/\$\$/environ >"$d/environ"
EOT
	chmod 700 "$d/recorder"
	(
		cd "$d/template/ws"
		env -i PATH="$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin" \
			PADDOCK_LIB="$here/drivers/paddock_lib.sh" \
			sh -c '. "$1"; shift; exec "$@"' sh "$d/env.sh" "$here/drivers/$cli/paddock_entrypoint.sh" "$PROMPT"$'\n'
	) </dev/null >"$d/entrypoint.out" 2>&1 || true
	[ -s "$d/argv" ] || { echo "agent-start.sh: $cli: the entrypoint did not run the CLI: $(tail -3 "$d/entrypoint.out")" >&2; return 1; }
	# The paths of the template become those of each round's copy.
	sed -i "s|$d/template/|$d/round/|g; s|$d/template\\x00|$d/round\\x00|g" "$d/argv" "$d/environ"
	sed -i "s|$d/template|$d/round|g" "$d/argv" "$d/environ"
	# Whatever the entrypoint made in HOME before the CLI (mkdir -p of
	# config dirs) is part of the template too.
}

# One bare round: ms from exec to the first POST, and to the CLI's first
# output byte.
bare_round() { # bare_round DIR CLI N
	local d=$1 cli=$2 n=$3 lines r t0 fb rc t1
	rm -rf "$d/round"
	cp -a "$d/template" "$d/round"
	lines=$(log_lines)
	local argv=()
	mapfile -d '' argv <"$d/argv"
	r=$(timed "$d/bare.$n" "$d/round/ws" --env "$d/environ" "$(bin_of "$cli")" "${argv[@]}")
	read -r t0 fb rc <<<"$r"
	t1=$(first_post "$lines")
	[ -n "$t1" ] || { echo "agent-start.sh: $cli bare round $n: no model request (rc $rc): $(tail -c 300 "$d/bare.$n.out")" >&2; return 1; }
	echo "$t0 $t1 $fb" | awk '{printf "%.1f %.1f\n", ($2 - $1) * 1000, ($3 - $1) * 1000}'
}

# One `paddock run` round: ms from exec to the first POST, and the
# breakdown (ms after exec): stored started supjson suppid cliexec firstbyte.
run_round() { # run_round DIR CLI N -> "TOTAL STORED STARTED SUPJSON SUPPID CLIEXEC FIRSTBYTE"
	local d=$1 cli=$2 n=$3 lines r t0 rc t1 name
	name=bench-$n
	lines=$(log_lines)
	r=$(PADDOCK_STATE_DIR=$d/state PADDOCK_CONFIG=$d/paddock.yaml \
		timed "$d/run.$n" "$d" "$paddock" run --agent "$cli" --name "$name" -p "$PROMPT" --timeout 100s)
	read -r t0 _ rc <<<"$r"
	t1=$(first_post "$lines")
	[ -n "$t1" ] || { echo "agent-start.sh: $cli paddock run round $n: no model request (rc $rc): $(tail -c 300 "$d/run.$n.out")" >&2; return 1; }
	[ "$rc" = 0 ] || echo "agent-start.sh: note: $cli paddock run round $n exited $rc" >&2
	local db=$d/state/paddock.db rd created started sj sp fb
	rd=$(PADDOCK_STATE_DIR=$d/state PADDOCK_CONFIG=$d/paddock.yaml "$paddock" describe task "$name" 2>/dev/null |
		sed -n 's/^Run dir: *//p')
	created=$(sqlite3 "$db" "SELECT created_ms FROM objects WHERE kind='Task' AND name='$name'")
	started=$(sqlite3 "$db" "SELECT min(e.time_ms) FROM events e JOIN objects o ON o.seq = e.object_seq
		WHERE o.kind='Task' AND o.name='$name' AND e.reason='Started'")
	sj=$(date -r "$rd/supervisor.json" +%s%3N 2>/dev/null || echo)
	sp=$(date -r "$rd/supervisor.pid" +%s%3N 2>/dev/null || echo)
	fb=$(awk 'NR == 1 {print $2}' "$rd/log.times" 2>/dev/null || echo)
	# The CLI's exec, nearly: the entrypoint's last mkdir -p before it
	# (its birth time; 0 where the file system keeps none).
	local mark=.tmp ce
	[ "$cli" = claude-code ] && mark=.cache/claude-tmp
	ce=$(stat -c %.6W "$rd/home/$mark" 2>/dev/null | awk '$1 > 0 {printf "%.3f", $1 * 1000}')
	echo "$t0 $t1 $created $started $sj $sp $ce $fb" | awk '{
		t0 = $1 * 1000
		printf "%.1f", ($2 * 1000 - t0)
		for (i = 3; i <= 8; i++) printf " %s", ($i == "" ? "-" : sprintf("%.1f", $i - t0))
		printf "\n"}'
}

for cli in "${have[@]}"; do
	echo "== $cli ($(bin_of "$cli")), egress $EGRESS, load $(cut -d' ' -f1-3 /proc/loadavg)"
	cdir=$work/$cli
	bare_setup "$cdir/bare" "$cli"
	state_setup "$cdir/ctl" "$cli"
	state_setup "$cdir/inproc" "$cli"
	PADDOCK_STATE_DIR=$cdir/ctl/state PADDOCK_CONFIG=$cdir/ctl/paddock.yaml \
		"$paddock" controller </dev/null >"$cdir/controller.out" 2>"$cdir/controller.err" &
	cpid=$!
	wait_for 10 grep -qs 'controller started' "$cdir/controller.err" ||
		{ echo "agent-start.sh: controller did not start: $(tail -3 "$cdir/controller.err")" >&2; exit 2; }
	# One unmeasured round of each: the page cache and the CLI's first
	# start (the same for all three).
	bare_round "$cdir/bare" "$cli" 0 >/dev/null
	run_round "$cdir/ctl" "$cli" 0 >/dev/null
	run_round "$cdir/inproc" "$cli" 0 >/dev/null
	bv=() bf=() rv=() iv=() rrows=() irows=()
	for n in $(seq "$ROUNDS"); do
		b=$(bare_round "$cdir/bare" "$cli" "$n")
		r=$(run_round "$cdir/ctl" "$cli" "$n")
		i=$(run_round "$cdir/inproc" "$cli" "$n")
		bv+=("${b%% *}") bf+=("${b#* }") rv+=("${r%% *}") iv+=("${i%% *}") rrows+=("$r") irows+=("$i")
		# Task stored -> Started: how soon the controller took it up.
		printf 'round %d: bare %s ms, paddock run %s ms (stored -> Started %s ms), paddock run starting the controller %s ms (%s ms)\n' \
			"$n" "${b%% *}" "${r%% *}" "$(echo "$r" | awk '{print $3 - $2}')" \
			"${i%% *}" "$(echo "$i" | awk '{print $3 - $2}')"
	done
	kill "$cpid"
	timeout 10 tail --pid="$cpid" -f /dev/null || true
	cpid=
	mb=$(median "${bv[@]}") mr=$(median "${rv[@]}") mi=$(median "${iv[@]}")
	printf '%s: command -> first model request, median of %d rounds\n' "$cli" "$ROUNDS"
	printf '  %-34s %8s ms\n' "bare CLI" "$mb"
	printf '  %-34s %8s ms  ratio %.2f (goal <= 1.1)\n' "paddock run (controller serving)" "$mr" \
		"$(echo "$mr / $mb" | bc -l)"
	printf '  %-34s %8s ms  ratio %.2f\n' "paddock run (no controller)" "$mi" "$(echo "$mi / $mb" | bc -l)"
	# Where the time goes: the median of each stamp (ms after the
	# command's exec) over the rounds.
	printf "  %-24s %8s %8s %8s %8s %8s %8s %8s\n" "ms after exec (medians)" stored Started sup.json sup.pid CLI-exec 1st-byte request
	printf '  %-24s %8s %8s %8s %8s %8s %8s %8s\n' "bare CLI" - - - - 0 "$(median "${bf[@]}")" "$mb"
	for k in r i; do
		local_rows="${k}rows[@]"
		rows=("${!local_rows}")
		printf '  %-24s' "$([ $k = r ] && echo "run, controller serving" || echo "run, no controller")"
		for c in 2 3 4 5 6 7 1; do
			v=()
			for row in "${rows[@]}"; do
				set -- $row
				v+=("${!c}")
			done
			printf ' %8s' "$(median "${v[@]}")"
		done
		printf '\n'
	done
done
