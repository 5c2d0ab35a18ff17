#!/usr/bin/env bash
# The lifecycle as docs/lifecycle.md tells it, seen from the CLI: queue
# reasons that say why, completionTime on every terminal phase (StartFailed
# too), TTL deletion within a second of its due time, and `stop` with no
# controller running that never leaves a killed run Running.
. "$(dirname "$0")/lib.sh"
command -v bwrap >/dev/null || { echo "SKIP: bwrap not installed"; exit 77; }
cat >"$work/agents.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: quick}
spec: {type: exec, command: "echo ok"}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: single}
spec: {type: exec, maxConcurrentTasks: 1, command: "sleep 32"}
EOT
pd apply -f "$work/agents.yaml" >/dev/null
j() { pd get task "$1" -o json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$2"; }
phase() { j "$1" 'd["status"].get("phase","")' 2>/dev/null || echo gone; }
wait_phase() { local i; for i in $(seq $(($3 * 10))); do [ "$(phase "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
sleeps() { local n=0 p; for p in $(pgrep -x sleep); do [ "$(cat /proc/$p/cmdline 2>/dev/null | tr '\0' ' ')" = "sleep 32 " ] && n=$((n + 1)); done; echo $n; }
ctl=
start_ctl() {
	"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 &
	ctl=$!
	cleanup_pids+=("$ctl")
	local i; for i in $(seq 100); do grep -q "controller started" "$work/controller.log" 2>/dev/null && return 0; sleep 0.05; done
	fail "no controller"
}

lone_task() {
	pd run --agent quick --name lone -p go >/dev/null || fail "lone task failed"
	ev=$(pd describe task lone | sed -n '/^Events:/,$p')
	! grep -q "Queued" <<<"$ev" || fail "a lone task was Queued: $ev"
	pass "a lone task with a free slot goes Pending -> Running -> Succeeded, no Queued event"
}

queue_reasons() {
	start_ctl
	pd run --agent single --name q1 -p go --detach >/dev/null
	wait_phase q1 Running 20 || fail "q1 did not start"
	pd run --agent single --name q2 -p go --detach >/dev/null
	pd run --agent single --name q3 -p go --detach >/dev/null
	wait_phase q3 Queued 20 || fail "q3 is $(phase q3), not Queued"
	wait_phase q2 Queued 20 || fail "q2 is $(phase q2), not Queued"
	[ "$(j q2 'd["status"]["reason"]')" = AgentCapacity ] || fail "q2's reason: $(j q2 'd["status"]["reason"]')"
	[ "$(j q3 'd["status"]["reason"]')" = AgentCapacity ] || fail "q3's reason: $(j q3 'd["status"]["reason"]')"
	j q2 'd["status"]["message"]' | grep -q "1 of 1 agent slots" || fail "q2's message: $(j q2 'd["status"]["message"]')"
	pd stop q1 q2 q3 >/dev/null
	for t in q1 q2 q3; do
		[ "$(phase $t)" = Stopped ] || fail "$t is $(phase $t) after stop"
		[ -n "$(j $t 'd["status"].get("completionTime","")')" ] || fail "$t has no completionTime"
	done
	[ "$(sleeps)" = 0 ] || fail "runs left after stop"
	kill "$ctl"; wait "$ctl" 2>/dev/null || true
	pass "queued behind a full Agent: reason AgentCapacity with the slot count; stop ends every one with a completionTime"
}


start_failed_doc() {
	cat >"$work/sf.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: sf}
spec:
  agentRef: {name: quick}
  prompt: go
  ttlSecondsAfterFinished: 3
  contexts:
  - {type: URL, url: {url: "http://127.0.0.1:9/nothing"}, mountPath: x.txt}
EOT
	start_ctl
	pd apply -f "$work/sf.yaml" >/dev/null || fail "apply sf: $(pd apply -f "$work/sf.yaml" 2>&1)"
	wait_phase sf Failed 30 || fail "sf is $(phase sf), not Failed"
	[ "$(j sf 'd["status"]["reason"]')" = StartFailed ] || fail "sf's reason: $(j sf 'd["status"]["reason"]')"
	done_at=$(j sf 'd["status"].get("completionTime","")')
	[ -n "$done_at" ] || fail "StartFailed without a completionTime"
	# TTL: gone 3 s after completion, within a second.  Watched in the
	# store itself: a `paddock get` per look costs a process start, which
	# on a loaded machine (a sanitizer build) is most of that second.
	local db=$PADDOCK_STATE_DIR/paddock.db
	command -v sqlite3 >/dev/null || fail "sqlite3 is needed (setup.sh installs it)"
	local until=$((SECONDS + 30))
	while [ "$(sqlite3 "$db" "SELECT count(*) FROM objects WHERE kind = 'Task' AND name = 'sf'" 2>/dev/null)" != 0 ]; do
		[ $SECONDS -lt $until ] || fail "sf still there 30 s after its TTL"
		sleep 0.02
	done
	late=$(python3 -c "
import datetime,sys
c=datetime.datetime.fromisoformat(sys.argv[1].replace('Z','+00:00'))
n=datetime.datetime.now(datetime.timezone.utc)
print(round((n-c).total_seconds()-3,2))" "$done_at")
	python3 -c "import sys; sys.exit(0 if -0.2 <= float(sys.argv[1]) <= 1.0 else 1)" "$late" ||
		fail "TTL deletion ${late}s from its due time"
	kill "$ctl"; wait "$ctl" 2>/dev/null || true
	pass "StartFailed gets a completionTime, and its TTL deletes it ${late}s after the due time"
}

stop_without_controller() {
	start_ctl
	pd run --agent single --name lonely -p go --detach >/dev/null
	wait_phase lonely Running 20 || fail "lonely did not start"
	for i in $(seq 50); do [ "$(sleeps)" = 1 ] && break; sleep 0.1; done
	[ "$(sleeps)" = 1 ] || fail "the payload never ran"
	kill -9 "$ctl"; wait "$ctl" 2>/dev/null || true
	pd stop lonely >"$work/stop.out" 2>&1 || fail "stop failed: $(cat "$work/stop.out")"
	grep -q "Task/lonely stopped" "$work/stop.out" || fail "stop said: $(cat "$work/stop.out")"
	[ "$(phase lonely)" = Stopped ] || fail "lonely is $(phase lonely) right after stop"
	[ "$(sleeps)" = 0 ] || fail "the run is still alive"
	pass "stop with no controller running kills the run and records Stopped before it returns"
}

run_case lone_task
run_case queue_reasons
run_case start_failed_doc
run_case stop_without_controller
[ ${#failed[@]} = 0 ] || { echo "FAILED: ${failed[*]}"; exit 1; }
