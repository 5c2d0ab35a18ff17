#!/usr/bin/env bash
# Budgets and spec.maxCostUSD (docs/triggers.md#budgets) on the local
# backend, with the exec driver reporting usage as it goes
# ("PADDOCK_USAGE cost=..." lines, read through the driver's parser_peek
# by the supervisor and written to the run's usage.json):
#   - a task whose streamed cost crosses its own maxCostUSD is stopped,
#     BudgetExceeded, at that update: the cost recorded is the crossing
#     one and the command never reaches its next step;
#   - the same against an Agent's Budget; afterwards new tasks wait
#     Queued (BudgetExhausted), `describe budget` shows spend, remaining
#     and who waits (and /metrics the spend and what remains), and
#     raising the cap lets them start; meanwhile other Agents' tasks run;
#   - maxTasks: the third task of a 2-task budget waits.
# isolation: none so the runs can leave markers outside their workspace.
ISOLATION=none
. "$(dirname "$0")/lib.sh"
marks=$work/marks
mkdir -p "$marks"

cat >"$work/setup.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: spender}
spec:
  type: exec
  command: |
    t=\${PADDOCK_TASK#*/}
    echo "PADDOCK_USAGE input=100 output=10 cost=0.10"
    sleep 0.3
    echo "PADDOCK_USAGE input=900 output=90 cost=\$(cat $work/step2-\$t 2>/dev/null || echo 0.20)"
    sleep 3
    touch $marks/\$t.after
    echo "PADDOCK_USAGE input=2000 output=200 cost=2.00"
    echo done
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: counted}
spec: {type: exec, command: "echo PADDOCK_USAGE cost=0.01; echo ok"}
---
apiVersion: paddock.dev/v1alpha1
kind: Budget
metadata: {name: spender-daily}
spec: {agentRef: {name: spender}, window: day, maxCostUSD: 1.0, maxTokens: 1000000}
---
apiVersion: paddock.dev/v1alpha1
kind: Budget
metadata: {name: two-tasks}
spec: {agentRef: {name: counted}, rollingHours: 24, maxTasks: 2}
EOT
pd apply -f "$work/setup.yaml" >/dev/null
"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 &
cpid=$!
cleanup_pids+=("$cpid")

task() { # NAME AGENT [maxCostUSD]
	printf 'apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: %s}\nspec: {agentRef: {name: %s}, prompt: go%s}\n' \
		"$1" "$2" "${3:+, maxCostUSD: $3}" | pd apply -f - >/dev/null
}
field() { task_field "$@"; }
wait_phase() { wait_task_phase "$@"; }

# ---- its own maxCostUSD: 0.10, then 0.40 > 0.30 -> stopped at that update
echo 0.40 >"$work/step2-own"
t0=$SECONDS
task own spender 0.30
wait_phase own Failed BudgetExceeded
[ $((SECONDS - t0)) -lt 3 ] || fail "own: stopped only after $((SECONDS - t0)) s"
[ ! -e "$marks/own.after" ] || fail "own: the run went on past the crossing update"
cost=$(field own 't["status"]["usage"]["costUSD"]')
python3 -c "assert abs($cost - 0.40) < 1e-9, $cost" || fail "own: usage $cost, want the crossing 0.40"
field own 't["status"]["message"]' | grep -q 'over the task.s spec.maxCostUSD of \$0.3000' ||
	fail "own: message: $(field own 't["status"]["message"]')"
pass "a task crossing its spec.maxCostUSD is stopped BudgetExceeded at that usage update"

# ---- the Agent's Budget ($1.00 a day; "own" spent 0.40 of it): 0.10, then 1.20 -> $1.60, stopped
echo 1.20 >"$work/step2-big"
task big spender
wait_phase big Failed BudgetExceeded
[ ! -e "$marks/big.after" ] || fail "big: the run went on past the crossing update"
field big 't["status"]["message"]' | grep -q 'budget spender-daily: \$1.6000 of \$1.0000 (maxCostUSD) spent this day' ||
	fail "big: message: $(field big 't["status"]["message"]')"
pass "a task crossing its Agent's Budget is stopped BudgetExceeded"

# ---- exhausted: new tasks wait
task next spender
wait_phase next Queued BudgetExhausted
sleep 1
[ "$(field next 't["status"]["phase"]')" = Queued ] || fail "next started on an exhausted budget"
d=$(pd describe budget spender-daily)
grep -q 'Cost: .*\$1.6000 of \$1.0000 spent, \$0.0000 remaining' <<<"$d" || fail "describe: $d"
grep -q 'Waiting (BudgetExhausted): 1' <<<"$d" && grep -q 'default/next' <<<"$d" || fail "describe waiting: $d"
pd get budgets | grep -q 'spender-daily .*agent spender .*day' || fail "get budgets: $(pd get budgets)"
port=$(grep -o 'port=[0-9]*' "$work/controller.log" | tail -1 | cut -d= -f2)
sleep 1.2 # published every second
m=$(curl -sf "http://127.0.0.1:$port/metrics")
grep -q '^paddock_budget_spend_usd{budget="default/spender-daily"} 1.6' <<<"$m" &&
	grep -q '^paddock_budget_remaining_usd{budget="default/spender-daily"} 0' <<<"$m" ||
	fail "metrics: $(grep budget <<<"$m")"
# A held task stalls its own Agent's queue only: a younger task of another
# Agent starts.
printf 'apiVersion: paddock.dev/v1alpha1\nkind: Agent\nmetadata: {name: free}\nspec: {type: exec, command: "echo ok"}\n' |
	pd apply -f - >/dev/null
task free1 free
wait_phase free1 Succeeded
# A raised cap lets it start (the window rolling over does the same: unit/test_spawner).
sed -i 's/maxCostUSD: 1.0,/maxCostUSD: 100,/' "$work/setup.yaml"
pd apply -f "$work/setup.yaml" >/dev/null
wait_phase next Running
pass "new tasks wait Queued BudgetExhausted; describe shows spend, remaining, who waits; a raised cap admits them"
pd stop next >/dev/null

# ---- maxTasks: 2
for n in c1 c2 c3; do task $n counted; done
wait_phase c1 Succeeded
wait_phase c2 Succeeded
wait_phase c3 Queued BudgetExhausted
field c3 't["status"]["message"]' | grep -q 'budget two-tasks: 2 of 2 tasks (maxTasks) started in the last 24 hours' ||
	fail "c3: $(field c3 't["status"]["message"]')"
pass "maxTasks: the third task waits"

kill -TERM "$cpid"
wait "$cpid" 2>/dev/null || true
