#!/usr/bin/env bash
# The races between the CLI and the controller, made deterministic with
# the pause points of a test build (configure --enable-test-hooks): the
# controller is held between reading a task and writing its status (or
# between recording Running and starting the run) while `paddock stop` or
# `paddock delete` runs, then let go.  The loser of each race must read
# again and do the right thing: a stopped task never runs, a deleted one
# leaves no run and no run directory, and the Agent's limit
# (maxConcurrentTasks: 1) is never exceeded, sampled from the host.
. "$(dirname "$0")/lib.sh"
pd version | grep -q "test hooks: compiled in" ||
	{ echo "SKIP: not a test build (configure --enable-test-hooks)"; exit 77; }
command -v bwrap >/dev/null || { echo "SKIP: bwrap not installed"; exit 77; }

pause=$work/pause
mkdir -p "$pause"
cat >"$work/agent.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: one}
spec:
  type: exec
  maxConcurrentTasks: 1
  command: "sleep 31"
EOT
pd apply -f "$work/agent.yaml" >/dev/null

# The agents alive now: `sleep 31` processes of this test's runs.
live_runs() {
	local n=0 p
	for p in $(pgrep -x sleep 2>/dev/null); do
		[ "$(cat "/proc/$p/cmdline" 2>/dev/null | tr '\0' ' ')" = "sleep 31 " ] || continue
		n=$((n + 1))
	done
	echo $n
}
sampler() { # the most runs alive at once, until $work/stop-sampler exists
	local max=0 n
	while [ ! -e "$work/stop-sampler" ]; do
		n=$(live_runs)
		[ "$n" -le "$max" ] || { max=$n; echo "$max" >"$work/max-live"; }
		sleep 0.05
	done
}
echo 0 >"$work/max-live"
sampler &
sampler_pid=$!
cleanup_pids+=("$sampler_pid")

ctl_pid=
start_controller() { # POINT:TASK to pause at
	local i n
	# counted before the launch: a quick controller logs at once
	n=$(grep -c "controller started" "$work/controller.log" 2>/dev/null || true)
	PADDOCK_TEST_PAUSE=$1 PADDOCK_TEST_PAUSE_DIR=$pause \
		"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 &
	ctl_pid=$!
	cleanup_pids+=("$ctl_pid")
	for i in $(seq 200); do
		[ "$(grep -c "controller started" "$work/controller.log" 2>/dev/null || true)" -gt "${n:-0}" ] && return 0
		sleep 0.05
	done
	fail "the controller did not start: $(tail -5 "$work/controller.log")"
}
stop_controller() { kill "$ctl_pid" 2>/dev/null || true; wait "$ctl_pid" 2>/dev/null || true; }
wait_file() { # FILE SECONDS
	local i
	for i in $(seq $(($2 * 20))); do [ -e "$1" ] && return 0; sleep 0.05; done
	return 1
}
phase() { pd get task "$1" -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get("phase",""))' 2>/dev/null || echo gone; }
uid_of() { pd get task "$1" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])'; }
events() { pd describe task "$1" | sed -n '/^Events:/,$p'; }
wait_phase() { # TASK PHASE SECONDS
	local i
	for i in $(seq $(($3 * 10))); do [ "$(phase "$1")" = "$2" ] && return 0; sleep 0.1; done
	return 1
}

# `paddock delete TASK` while the controller is held at POINT: the mark is
# stored, the controller let go; the delete returns once TASK and its run
# directory (of uid UID) are gone.
delete_while_paused() {
	local t=$1 point=$2 uid=$3 i
	pd delete task "$t" >"$work/delete.out" 2>&1 &
	local del_cli=$!
	for i in $(seq 100); do
		pd get task "$t" -o json | grep -q deletionTimestamp && break
		sleep 0.05
	done
	touch "$pause/$point.continue"
	wait "$del_cli" || fail "paddock delete failed: $(cat "$work/delete.out")"
	grep -q "Task/$t deleted" "$work/delete.out" || fail "delete said: $(cat "$work/delete.out")"
	[ "$(phase "$t")" = gone ] || fail "$t is still there: $(phase "$t")"
	[ ! -e "$PADDOCK_STATE_DIR/runs/$uid" ] || fail "the run directory of $t is left"
}

# 1. stop while the controller holds its decision to start the task.
stop_beats_start() {
	start_controller "before-running:s1"
	pd run --agent one --name s1 -p go --detach >/dev/null
	uid=$(uid_of s1)
	wait_file "$pause/before-running.reached" 20 || fail "the controller never reached its Running write for s1"
	pd stop s1 >"$work/stop.out" 2>&1 &
	stop_cli=$!
	# the intent is stored while the controller still holds its read
	for i in $(seq 100); do
		pd get task s1 -o json | grep -q '"paddock.dev/stop"' && break
		sleep 0.05
	done
	pd get task s1 -o json | grep -q '"paddock.dev/stop"' || fail "stop did not record its intent"
	touch "$pause/before-running.continue"
	wait "$stop_cli" || fail "paddock stop failed: $(cat "$work/stop.out")"
	grep -q "Task/s1 stopped" "$work/stop.out" || fail "stop said: $(cat "$work/stop.out")"
	[ "$(phase s1)" = Stopped ] || fail "s1 is $(phase s1), not Stopped"
	ev=$(events s1)
	! grep -q "Started" <<<"$ev" || fail "s1 was started although stopped first: $ev"
	[ "$(grep -c "Stopped" <<<"$ev")" = 1 ] || fail "not exactly one Stopped event: $ev"
	[ ! -e "$PADDOCK_STATE_DIR/runs/$uid/supervisor.pid" ] || fail "a run of s1 was started"
	pd get task s1 -o json | grep -q completionTime || fail "Stopped without a completionTime"
	# the slot is free: the next task runs
	pd run --agent one --name s2 -p go --detach >/dev/null
	wait_phase s2 Running 20 || fail "s2 did not start after s1 was stopped: $(phase s2)"
	pd stop s2 >/dev/null
	stop_controller
	pass "a stop that lands between the controller's read and its Running write: never started, Stopped once"
}

# 2. delete while the controller holds its decision to start the task.
delete_beats_start() {
	start_controller "before-running:d1"
	pd run --agent one --name d1 -p go --detach >/dev/null
	uid=$(uid_of d1)
	wait_file "$pause/before-running.reached" 20 || fail "the controller never reached its Running write for d1"
	delete_while_paused d1 before-running "$uid"
	grep -q '"task started\|msg="task phase".*task=d1.*phase=Running' "$work/controller.log" &&
		fail "d1 was recorded Running although deleted first"
	stop_controller
	pass "a delete that lands between the controller's read and its Running write: never started, gone"
}

# 3. delete after Running is recorded, before the run starts: the run that
# the controller then starts is killed and removed; the next task waits
# for the slot.
delete_during_start() {
	start_controller "before-start:r1"
	pd run --agent one --name r1 -p go --detach >/dev/null
	pd run --agent one --name r2 -p go --detach >/dev/null
	uid=$(uid_of r1)
	wait_file "$pause/before-start.reached" 20 || fail "the controller never reached the start of r1"
	delete_while_paused r1 before-start "$uid"
	wait_phase r2 Running 20 || fail "r2 did not start once r1 was gone: $(phase r2)"
	uid2=$(uid_of r2)
	pd delete task r2 >/dev/null
	[ ! -e "$PADDOCK_STATE_DIR/runs/$uid2" ] || fail "the run directory of r2 is left"
	stop_controller
	pass "a delete between recording Running and starting the run: the run is killed and removed, the next waits"
}

# 4. the supervisor dies before it reports "started" (the controller no
# longer waits for that report: it comes through the loop): the task is
# Failed StartFailed "did not report back" as when the start waited, it
# is not started again, no process of its run is left, and the slot is
# free for the next task.  Three points: before supervisor.pid exists
# (nothing on disk says a run began), after (a pid that is gone), and
# after the command's process was forked but before it was handed its
# sandbox: that process must never run the command (it exits when the
# hand-over's socket closes), and nothing of it may be left.
supervisor_dies() {
	local point
	start_controller none
	for point in before-pid before-setup after-fork; do
		local t=sd-$point
		printf '%s' "$point" >"$PADDOCK_STATE_DIR/test-supervisor-die"
		pd run --agent one --name "$t" -p go --detach >/dev/null
		wait_phase "$t" Failed 20 || fail "$t is $(phase "$t"), not Failed"
		rm -f "$PADDOCK_STATE_DIR/test-supervisor-die"
		local js reason msg uid
		js=$(pd get task "$t" -o json)
		reason=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["reason"])' <<<"$js")
		msg=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["message"])' <<<"$js")
		# After the fork, whether the controller hears first of the
		# report pipe's end or of the supervisor's death is not ordered:
		# either ends the task Failed, which is what matters here.
		case $point:$reason in
		*:StartFailed) grep -q "the supervisor did not report back" <<<"$msg" || fail "$t: message: $msg" ;;
		after-fork:RunLost) ;;
		*) fail "$t: reason $reason ($msg), not StartFailed" ;;
		esac
		uid=$(uid_of "$t")
		# not started again: still Failed a moment later, no result, no live process
		sleep 1
		[ "$(phase "$t")" = Failed ] || fail "$t went $(phase "$t") after Failed"
		[ ! -e "$PADDOCK_STATE_DIR/runs/$uid/result.json" ] || fail "$t was started again (a result exists)"
		! pgrep -f "__supervise $PADDOCK_STATE_DIR/runs/$uid" >/dev/null || fail "a supervisor of $t is alive"
		[ "$point" = before-pid ] || [ -e "$PADDOCK_STATE_DIR/runs/$uid/supervisor.pid" ] ||
			fail "$t: the hook did not fire after supervisor.pid: the case proves nothing"
		# no process of the run (the forked command's process has its cwd
		# in the run's workspace once it runs the command)
		local p rd
		rd=$(readlink -f "$PADDOCK_STATE_DIR/runs/$uid")
		for p in /proc/[0-9]*; do
			case $(readlink "$p/cwd" 2>/dev/null) in
			"$rd"*) fail "$t: process ${p#/proc/} of its run is alive: $(tr '\0' ' ' <"$p/cmdline")" ;;
			esac
		done
		! grep -qs . "$PADDOCK_STATE_DIR/runs/$uid/log" || fail "$t: its command wrote: $(head -c 200 "$PADDOCK_STATE_DIR/runs/$uid/log")"
	done
	# the slot is free and a run starts normally again
	pd run --agent one --name sd-after -p go --detach >/dev/null
	wait_phase sd-after Running 20 || fail "sd-after did not start: $(phase sd-after)"
	pd stop sd-after >/dev/null
	stop_controller
	pass "a supervisor that dies before reporting started: Failed StartFailed, never restarted, nothing left, slot freed"
}

# 5. the supervisor stays alive but never reports (stuck in its setup:
# the cgroup, bwrap, the proxy): past the start deadline (3 s here,
# PADDOCK_TEST_START_REPORT_MS; 30 s in a real build) the task is Failed
# StartFailed "did not report within 3 s", the hung supervisor (signals
# blocked: only SIGKILL ends it) is killed, and the slot is free.
supervisor_hangs() {
	local t=sh-hang uid i js reason msg
	# On a failure too: the next cases need the lock and no hook.
	trap 'stop_controller; rm -f "$PADDOCK_STATE_DIR/test-supervisor-die"' EXIT
	PADDOCK_TEST_START_REPORT_MS=3000 start_controller none
	printf 'hang:before-setup' >"$PADDOCK_STATE_DIR/test-supervisor-die"
	pd run --agent one --name "$t" -p go --detach >/dev/null
	for i in $(seq 40); do uid=$(uid_of "$t" 2>/dev/null) && [ -n "$uid" ] && break; sleep 0.05; done
	# the payload ran: a supervisor of this run is alive and silent, the task Running
	for i in $(seq 40); do
		pgrep -f "__supervise $PADDOCK_STATE_DIR/runs/$uid" >/dev/null && break
		sleep 0.05
	done
	pgrep -f "__supervise $PADDOCK_STATE_DIR/runs/$uid" >/dev/null ||
		fail "no supervisor of $t is alive: the hang hook did not fire"
	[ -e "$PADDOCK_STATE_DIR/runs/$uid/supervisor.pid" ] ||
		fail "the hook did not fire after supervisor.pid: the case proves nothing"
	[ "$(phase "$t")" = Running ] || fail "$t is $(phase "$t") while its supervisor hangs, not Running"
	wait_phase "$t" Failed 20 || fail "$t is $(phase "$t") 20 s after a 3 s start deadline, not Failed"
	rm -f "$PADDOCK_STATE_DIR/test-supervisor-die"
	js=$(pd get task "$t" -o json)
	reason=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["reason"])' <<<"$js")
	msg=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["message"])' <<<"$js")
	[ "$reason" = StartFailed ] || fail "$t: reason $reason ($msg), not StartFailed"
	grep -q "the supervisor did not report within 3 s" <<<"$msg" || fail "$t: message: $msg"
	for i in $(seq 40); do
		pgrep -f "__supervise $PADDOCK_STATE_DIR/runs/$uid" >/dev/null || break
		sleep 0.05
	done
	! pgrep -f "__supervise $PADDOCK_STATE_DIR/runs/$uid" >/dev/null || fail "the hung supervisor of $t is alive"
	sleep 1
	[ "$(phase "$t")" = Failed ] || fail "$t went $(phase "$t") after Failed"
	pd run --agent one --name sh-after -p go --detach >/dev/null
	wait_phase sh-after Running 20 || fail "sh-after did not start: $(phase sh-after)"
	pd stop sh-after >/dev/null
	stop_controller
	pass "a supervisor that hangs before reporting: Failed StartFailed past the start deadline, killed, slot freed"
}

trap 'stop_controller; cleanup' EXIT
run_case supervisor_dies
run_case supervisor_hangs
run_case stop_beats_start
run_case delete_beats_start
run_case delete_during_start

touch "$work/stop-sampler"
wait "$sampler_pid" 2>/dev/null || true
max=$(cat "$work/max-live")
[ "$max" -le 1 ] || { echo "FAIL: $max runs of an Agent with maxConcurrentTasks 1 were alive at once"; failed+=(limit); }
[ "$max" -le 1 ] && pass "never more than 1 run alive at once (sampled every 50 ms from the host; max $max)"
[ $(live_runs) = 0 ] || { echo "FAIL: runs left: $(live_runs)"; failed+=(leftovers); }
[ ${#failed[@]} = 0 ] || { echo "FAILED: ${failed[*]}"; [ -z "${KEEP:-}" ] || echo "kept $work"; exit 1; }
