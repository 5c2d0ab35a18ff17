#!/usr/bin/env bash
# 100 tasks through one Agent with maxConcurrentTasks: 2 while the
# controller is SIGKILLed again and again.  Checks, from times the runs
# recorded themselves and from the store:
#   - never more than 2 running at once,
#   - started in FIFO (creation) order,
#   - every task ran exactly once and ended exactly once, Succeeded.
# Runs use isolation: none so that each can append to one shared journal
# outside its workspace (the sandbox is tested in sandbox.sh).
N=${N:-100}
ISOLATION=none
. "$(dirname "$0")/lib.sh"
journal=$work/journal
manifest=$work/tasks.yaml
cat >"$manifest" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: fifo}
spec:
  type: exec
  maxConcurrentTasks: 2
  command: |
    echo "start \$PADDOCK_TASK \$(date +%s%N)" >> $journal
    sleep 0.2
    echo "end \$PADDOCK_TASK \$(date +%s%N)" >> $journal
EOT
for i in $(seq -w 1 "$N"); do
	printf -- '---\napiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: t%s}\nspec: {agentRef: {name: fifo}, prompt: "task %s"}\n' "$i" "$i" >>"$manifest"
done
pd apply -f "$manifest" >/dev/null

start_controller() {
	"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 & # the real process, so kills reach it
	cpid=$!
	cleanup_pids+=("$cpid")
}
kills=0
start_controller
deadline=$((SECONDS + 300))
while :; do
	[ $SECONDS -lt $deadline ] || fail "not done after 300 s"
	sleep "0.$((RANDOM % 9 + 1))"
	done_count=$(pd get tasks -o json | python3 -c 'import json,sys; print(sum(1 for t in json.load(sys.stdin)["items"] if t.get("status",{}).get("phase") in ("Succeeded","Failed","Stopped")))')
	[ "$done_count" -ge "$N" ] && break
	kill -9 "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	[ ! -d "/proc/$cpid" ] || fail "controller $cpid survived SIGKILL"
	kills=$((kills + 1))
	start_controller
done
kill -TERM "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true
echo "controller SIGKILLed $kills times"
[ "$kills" -ge 3 ] || fail "only $kills kills: the test did not exercise restarts"
pd get tasks -o json >"$work/tasks.json"
for i in $(seq -w 1 "$N"); do pd describe task "t$i"; done >"$work/describe.txt"
python3 - "$work/tasks.json" "$journal" "$work/describe.txt" "$N" <<'PY'
import json, sys, collections
tasks = json.load(open(sys.argv[1]))["items"]
n = int(sys.argv[4])
bad = [t["metadata"]["name"] for t in tasks if t["status"].get("phase") != "Succeeded"]
assert len(tasks) == n, f"{len(tasks)} tasks, want {n}"
assert not bad, f"not Succeeded: {bad[:5]}"
starts, ends = {}, {}
count = collections.Counter()
for line in open(sys.argv[2]):
    kind, task, ns = line.split()
    count[(kind, task)] += 1
    (starts if kind == "start" else ends)[task] = int(ns)
twice = [k for k, c in count.items() if c != 1]
assert not twice, f"ran more than once: {twice[:5]}"
assert len(starts) == n and len(ends) == n, f"{len(starts)} starts, {len(ends)} ends"
events = sorted([(t, 1) for t in starts.values()] + [(t, -1) for t in ends.values()], key=lambda e: (e[0], e[1]))
cur = peak = 0
for _, d in events:
    cur += d
    peak = max(peak, cur)
assert peak <= 2, f"{peak} ran at once"
order = [f"default/t{str(i).zfill(len(str(n)))}" for i in range(1, n + 1)]
by_start = sorted(starts, key=starts.get)
# FIFO: task i never starts before a task created earlier (allowing the
# two slots to start within the same moment).
inversions = [(a, b) for a, b in zip(by_start, by_start[1:]) if order.index(a) > order.index(b) + 1]
assert not inversions, f"out of FIFO order: {inversions[:5]}"
desc = open(sys.argv[3]).read()
completed = desc.count(" Completed ")
assert completed == n, f"{completed} Completed events, want {n} (one per task)"
print(f"{n} tasks Succeeded once each; peak concurrency {peak}; FIFO order kept; {completed} completion events")
PY
pass "fifo-restart"
