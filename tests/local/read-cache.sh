#!/usr/bin/env bash
# The controller keeps the Agents, Budgets, Tasks and Running counts it
# read while nothing is written (local/backend.c's read caches).  What
# another process writes while it serves must still be what the next
# task gets: an Agent changed between two tasks, a Budget added, a Task
# deleted and applied again under its name, a lower maxConcurrentTasks.
. "$(dirname "$0")/lib.sh"
command -v bwrap >/dev/null || { echo "SKIP: bwrap not installed"; exit 77; }
agent() { # NAME COMMAND [maxConcurrentTasks]
	printf 'apiVersion: paddock.dev/v1alpha1\nkind: Agent\nmetadata: {name: %s}\nspec: {type: exec, command: "%s"%s}\n' \
		"$1" "$2" "${3:+, maxConcurrentTasks: $3}" | pd apply -f - >/dev/null
}
task() { # NAME AGENT
	printf 'apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: %s}\nspec: {agentRef: {name: %s}, prompt: go}\n' \
		"$1" "$2" | pd apply -f - >/dev/null
}
field() { task_field "$@"; }
wait_phase() { wait_task_phase "$@"; }
out() { cat "$PADDOCK_STATE_DIR/runs/$(field "$1" 't["metadata"]["uid"]')/workspace/out.txt" 2>/dev/null; }

agent flip "echo one > out.txt"
"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 &
cleanup_pids+=("$!")

# ---- an Agent changed between two tasks, the controller serving throughout
task f1 flip
wait_phase f1 Succeeded
[ "$(out f1)" = one ] || fail "f1 wrote '$(out f1)', not one: the payload did not run"
agent flip "echo two > out.txt"
task f2 flip
wait_phase f2 Succeeded
[ "$(out f2)" = two ] || fail "f2 ran the Agent read before it changed: wrote '$(out f2)'"
pass "an Agent applied while the controller serves is what the next task runs"

# ---- a Budget added while serving holds the next task of its Agent
printf 'apiVersion: paddock.dev/v1alpha1\nkind: Budget\nmetadata: {name: none-left}\nspec: {agentRef: {name: flip}, rollingHours: 24, maxTasks: 2}\n' |
	pd apply -f - >/dev/null
task f3 flip
wait_phase f3 Queued BudgetExhausted
[ -z "$(out f3)" ] || fail "f3 ran past a Budget applied before it"
pd delete budget none-left >/dev/null
wait_phase f3 Succeeded
pass "a Budget applied while serving holds the next task; deleting it lets it run"

# ---- a Task deleted and applied again under its name runs again
pd delete task f1 >/dev/null
for i in $(seq 100); do pd get task f1 >/dev/null 2>&1 || break; sleep 0.1; done
agent flip "echo three > out.txt"
task f1 flip
wait_phase f1 Succeeded
[ "$(out f1)" = three ] || fail "f1 applied again wrote '$(out f1)', not three"
pass "a Task deleted and applied again under its name runs as the new one"

# ---- maxConcurrentTasks lowered while serving is what admission counts
agent cap "sleep 3; echo done > out.txt" 2
task c1 cap
task c2 cap
wait_phase c1 Running
wait_phase c2 Running
agent cap "sleep 3; echo done > out.txt" 1
wait_phase c1 Succeeded
task c3 cap
sleep 0.5
[ "$(field c3 't["status"].get("phase")')" = Queued ] ||
	[ "$(field c2 't["status"].get("phase")')" = Succeeded ] ||
	fail "c3 is $(field c3 't["status"].get("phase")') with c2 still running under maxConcurrentTasks 1"
wait_phase c3 Succeeded
pass "a lower maxConcurrentTasks applied while serving holds the next task"
