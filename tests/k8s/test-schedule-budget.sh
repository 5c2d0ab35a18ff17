#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/k8s/test-schedule-budget.sh [KUBECONFIG] - scheduled Spawners and
# Budgets on the Kubernetes backend (docs/triggers.md), against a real
# kube-apiserver, with a controller of its own (its own namespace and
# Lease) reading the test clock ($PADDOCK_TEST_CLOCK, a test-hooks build):
#   - every minute for 30 simulated minutes: 30 Tasks, one per start time,
#     status.lastScheduleTime on the Spawner; the controller SIGKILLed in
#     the middle (and a 409 for a Task made before lastScheduleTime moved)
#     makes none twice;
#   - a 20-minute outage: only the latest missed start time runs;
#   - Forbid: a start time while the Spawner's Task runs is skipped;
#     Replace: the running Task is stopped and the new one made;
#   - a Budget with maxTasks 2: the third Task waits Queued with
#     BudgetExhausted; `describe budget` shows the spend and who waits;
#     raising the cap lets it start;
#   - a Budget with maxCostUSD counts the finished Tasks' status.usage;
#   - a running Task (ten minutes under kwok) whose log reports usage past
#     its spec.maxCostUSD, or past its Agent's Budget, is stopped
#     BudgetExceeded: the leader follows its log (kube/usage.h), also
#     when the usage comes after more than limits.logBytesPerRun of noise;
#   - three Tasks applied at once under maxTasks 2: two start;
#   - a controller under RBAC from before Spawners and Budgets (403 on
#     their lists) says so once and runs Tasks.
#
# Needs a running test cluster (tests/k8s/env.sh start DIR); env as
# tests/k8s/test-cli.sh.  Prints "ok"/"not ok" per check.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/script-env.sh"
export PADDOCK_DATA_DIR=$SRC
K() { "$KUBECTL" --kubeconfig "$KUBECONFIG" --request-timeout=20s "$@"; }
"$P" version | grep -q "test hooks: compiled in" ||
	{ echo "ok - SKIP: not a test build (configure --enable-test-hooks)"; exit 0; }

work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-k8s-sched.XXXXXX")
ns=sched-$$
cpid=
passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
nok() { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
cleanup() {
	[ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
	K delete namespace "$ns" --wait=false >/dev/null 2>&1
	K delete clusterrole,clusterrolebinding "paddock-controller-$ns" --ignore-not-found >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

K apply -f "$SRC/etc/kubernetes/crds.yaml" >/dev/null &&
	K wait --for condition=established --timeout=60s crd/spawners.paddock.dev crd/budgets.paddock.dev >/dev/null ||
	{ echo "not ok - the Spawner and Budget CRDs are not established"; exit 1; }
K create namespace "$ns" >/dev/null
clock=$work/clock
export PADDOCK_TEST_CLOCK=$clock
t0=$(( ($(date +%s) / 60 + 1) * 60 )) # the next whole minute
echo $((t0 - 30)) >"$clock"
own_controller "$ns" "sched-$$"
count() { K -n "$ns" get tasks -l "paddock.dev/spawner=$1" -o name 2>/dev/null | wc -l; }
count_is() { [ "$(count "$1")" -eq "$2" ]; }
apply_quiet() { "$P" apply -f - >/dev/null; }
# yaml_task NAME AGENT PROMPT [SPEC...], yaml_budget NAME AGENT SPEC...: manifests.
yaml_task() {
	printf -- '---\napiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: %s, namespace: %s}\nspec: {agentRef: {name: %s}, prompt: "%s"%s}\n' \
		"$1" "$ns" "$2" "$3" "${4:+, $4}"
}
yaml_budget() {
	printf -- '---\napiVersion: paddock.dev/v1alpha1\nkind: Budget\nmetadata: {name: %s, namespace: %s}\nspec: {agentRef: {name: %s}, %s}\n' \
		"$1" "$ns" "$2" "$3"
}

# Agents: "quick" and "spender" run a second (kwok), "slow", "held",
# "burst", "runaway" and "noisy" ten minutes.
for a in quick:1s spender:1s slow:10m held:10m burst:10m runaway:10m noisy:10m; do
	printf -- '---\napiVersion: paddock.dev/v1alpha1\nkind: Agent\nmetadata: {name: %s, namespace: %s}\nspec: {type: exec, image: debian:bookworm-slim, command: "true", pod: {labels: {kwok.paddock.dev/run-time: "%s"}}}\n' \
		"${a%%:*}" "$ns" "${a#*:}"
done | "$P" apply -f - >/dev/null || { echo "not ok - paddock apply of the Agents"; exit 1; }
check "paddock apply takes a schedule Spawner on Kubernetes" apply_quiet <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: minutely, namespace: $ns}
spec:
  taskTemplate:
    spec: {agentRef: {name: quick}, prompt: "run at {{ schedule.time }}"}
  schedule: {cron: "* * * * *", timeZone: Europe/Berlin}
EOF
start_controller

# ---- 30 simulated minutes, a SIGKILL in the middle -------------------------
MINUTES=${MINUTES:-30}
for i in $(seq 0 $((MINUTES - 1))); do
	echo $((t0 + i * 60 + 1)) >"$clock"
	if [ "$i" -eq $((MINUTES / 2)) ]; then
		stop_controller
		start_controller
	fi
	wait_for 30 count_is minutely $((i + 1)) || { nok "minute $i: $(count minutely) Tasks, want $((i + 1))"; break; }
done
check "$MINUTES simulated minutes -> $MINUTES Tasks, one per start time (a SIGKILL in the middle)" count_is minutely "$MINUTES"
last=$(K -n "$ns" get spawner minutely -o jsonpath='{.status.lastScheduleTime}')
check "status.lastScheduleTime is the last start time ($last)" \
	test "$last" = "$(date -u -d "@$((t0 + (MINUTES - 1) * 60))" +%Y-%m-%dT%H:%M:%S.000Z)"
check "each Task is rendered with its own start time (distinct prompts)" bash -c \
	"[ \$('$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get tasks -l paddock.dev/spawner=minutely -o jsonpath='{range .items[*]}{.spec.prompt}{\"\\n\"}{end}' | sort -u | grep -c '^run at ') -eq $MINUTES ]"

# ---- a restart finds the start time's Task made, lastScheduleTime not moved --
# Put lastScheduleTime back one minute: the restarted controller takes
# that minute again, the API server answers 409, nothing is made twice.
stop_controller
prev=$(date -u -d "@$((t0 + (MINUTES - 2) * 60))" +%Y-%m-%dT%H:%M:%SZ)
K -n "$ns" patch spawner minutely --subresource=status --type=merge \
	-p "{\"status\":{\"lastScheduleTime\":\"$prev\"}}" >/dev/null
start_controller
wait_for 30 bash -c "grep -q 'spawner=minutely .*outcome=duplicate' '$log'"
check "a start time taken again after a restart is a duplicate (409): still $MINUTES Tasks" bash -c \
	"grep -q 'spawner=minutely .*outcome=duplicate' '$log' && [ \$('$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get tasks -l paddock.dev/spawner=minutely -o name | wc -l) -eq $MINUTES ]"

# ---- a 20-minute outage: only the latest start time runs --------------------
stop_controller
end=$((t0 + (MINUTES - 1 + 20) * 60))
echo $((end + 5)) >"$clock"
start_controller
wait_for 30 count_is minutely $((MINUTES + 1))
sleep 1
check "a 20-minute outage runs the latest missed start time once ($((MINUTES + 1)) Tasks)" count_is minutely $((MINUTES + 1))
check "... and says how many were missed" bash -c \
	"'$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get spawner minutely -o jsonpath='{.status.lastScheduleOutcome}' | grep -q '^19 earlier start times missed'"
K -n "$ns" patch spawner minutely --type=merge -p '{"spec":{"suspend":true}}' >/dev/null

# ---- Forbid and Replace, with a Task that runs ten minutes ------------------
tphase() { K -n "$ns" get task "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
tphase_is() { [ "$(tphase "$1")" = "$2" ]; }
outcome() { K -n "$ns" get spawner "$1" -o jsonpath='{.status.lastScheduleOutcome}'; }
# policy_spawner NAME POLICY: a minutely Spawner of "slow" Tasks; its
# first start time taken and its Task Running.  Sets base and first.
policy_spawner() {
	# The clock before the Spawner exists: the next whole minute, less 30 s.
	base=$(( ($(date +%s) / 60 + 1) * 60 ))
	echo $((base - 30)) >"$clock"
	"$P" apply -f - >/dev/null <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: $1, namespace: $ns}
spec:
  taskTemplate:
    spec: {agentRef: {name: slow}, prompt: "long {{ schedule.time }}"}
  schedule: {cron: "* * * * *", concurrencyPolicy: $2}
EOF
	echo $((base + 1)) >"$clock"
	wait_for 30 count_is "$1" 1
	first=$(K -n "$ns" get tasks -l "paddock.dev/spawner=$1" -o jsonpath='{.items[0].metadata.name}')
	wait_for 60 tphase_is "$first" Running
}
policy_spawner forbid Forbid
echo $((base + 61)) >"$clock"
wait_for 30 grep -q 'spawner=forbid .*concurrencyPolicy Forbid' "$log"
sleep 1
check "Forbid: the next start time is skipped while the Task runs ($(count forbid) Task, $(outcome forbid))" \
	bash -c "[ $(count forbid) -eq 1 ] && grep -q 'skipped.*Forbid and task $first' <<<'$(outcome forbid)'"
"$P" stop -n "$ns" "$first" >/dev/null
wait_for 30 tphase_is "$first" Stopped
echo $((base + 121)) >"$clock"
wait_for 30 count_is forbid 2
check "... and once it has finished, the next start time runs (2 Tasks)" count_is forbid 2

policy_spawner replace Replace
echo $((base + 61)) >"$clock"
wait_for 30 count_is replace 2
wait_for 30 tphase_is "$first" Stopped
check "Replace: the running Task is stopped ($(tphase "$first")) and the next start time's made ($(count replace) Tasks)" \
	bash -c "[ '$(tphase "$first")' = Stopped ] && [ $(count replace) -eq 2 ]"
for s in forbid replace; do
	K -n "$ns" delete spawner "$s" >/dev/null
	K -n "$ns" delete tasks -l "paddock.dev/spawner=$s" --wait=false >/dev/null
done

# ---- Budgets: admission ------------------------------------------------------
check "paddock apply takes a Budget on Kubernetes" apply_quiet <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Budget
metadata: {name: held-two, namespace: $ns}
spec: {agentRef: {name: held}, window: day, maxTasks: 2}
EOF
for n in b1 b2 b3; do
	"$P" run -n "$ns" --agent held --name "$n" -p "task $n" --detach >/dev/null
	wait_for 60 bash -c "[ -n \"\$('$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get task $n -o jsonpath='{.status.phase}')\" ]"
	[ "$n" = b3 ] || wait_for 60 bash -c "[ \"\$('$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get task $n -o jsonpath='{.status.phase}')\" = Running ]"
done
reason() { K -n "$ns" get task "$1" -o jsonpath='{.status.phase}/{.status.reason}'; }
reason_is() { [ "$(reason "$1")" = "$2" ]; }
wait_for 30 bash -c "[ \"\$('$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get task b3 -o jsonpath='{.status.phase}/{.status.reason}')\" = Queued/BudgetExhausted ]"
check "the third Task waits Queued with BudgetExhausted ($(reason b3))" test "$(reason b3)" = Queued/BudgetExhausted
check "... its message names the budget and the cap" bash -c \
	"'$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get task b3 -o jsonpath='{.status.message}' | grep -q 'budget held-two: 2 of 2 tasks (maxTasks) started this day'"
"$P" describe budget held-two -n "$ns" >"$work/describe.out" 2>&1
check "describe budget: the scope, 2 of 2 started, b3 waiting" bash -c \
	"grep -q '^Scope: *agent held' '$work/describe.out' && grep -q '^Tasks: *2 of 2 started, 0 remaining' '$work/describe.out' &&
	 grep -q '^Waiting (BudgetExhausted): 1' '$work/describe.out' && grep -q '^  $ns/b3\$' '$work/describe.out'" ||
	cat "$work/describe.out"
check "get budgets lists it" bash -c "'$P' get budgets -n $ns | grep -q '^held-two '"
sleep 6 # past the 5 s re-look: still held
check "... still held after the re-look ($(reason b3))" test "$(reason b3)" = Queued/BudgetExhausted
K -n "$ns" patch budget held-two --type=merge -p '{"spec":{"maxTasks":3}}' >/dev/null
raised=$SECONDS
wait_for 30 bash -c "[ \"\$('$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get task b3 -o jsonpath='{.status.phase}')\" = Running ]"
check "raising maxTasks to 3 lets it start ($(reason b3), within $((SECONDS - raised)) s)" bash -c \
	"[ \"\$('$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get task b3 -o jsonpath='{.status.phase}')\" = Running ]"
for n in b1 b2 b3; do "$P" stop -n "$ns" "$n" >/dev/null 2>&1; done

# ---- Budgets: a burst -------------------------------------------------------
# Three Tasks in one apply under maxTasks 2: admitted Tasks count before
# their pods run (a Task gets status.startTime only then), so the third
# waits even though none of the three had started when it was looked at.
yaml_budget burst-two burst "window: day, maxTasks: 2" | apply_quiet
for n in r1 r2 r3; do yaml_task "$n" burst "burst $n"; done >"$work/burst.yaml"
"$P" apply -f "$work/burst.yaml" >/dev/null
phases() { K -n "$ns" get tasks r1 r2 r3 -o jsonpath='{range .items[*]}{.status.phase}/{.status.reason}{"\n"}{end}' 2>/dev/null | sort | tr '\n' ' '; }
nrunning() { phases | grep -o 'Running/' | wc -l; }
burst_settled() { [ "$(nrunning)" -ge 2 ] && phases | grep -q 'Queued/BudgetExhausted'; }
wait_for 60 burst_settled
sleep 3 # an admission that overshot would have started the third by now
bphases=$(phases) brun=$(nrunning)
bjobs=$(K -n "$ns" get jobs -o name | grep -c '/r[123]-')
check "3 Tasks applied at once under maxTasks 2: exactly 2 start, the third waits BudgetExhausted ($bphases; $bjobs Jobs)" \
	bash -c "[ $brun -eq 2 ] && grep -q 'Queued/BudgetExhausted' <<<'$bphases' && [ $bjobs -eq 2 ]"
for n in r1 r2 r3; do "$P" stop -n "$ns" "$n" >/dev/null 2>&1; done
K -n "$ns" delete budget burst-two >/dev/null

# ---- Budgets: cost from the finished Tasks' usage ----------------------------
# kwok serves one log for every container: a run that reports $0.30.
printf 'working\nPADDOCK_USAGE input=1000 output=500 cost=0.30\ndone\n' | "$HERE/env.sh" log "$ENVDIR" >/dev/null
"$P" apply -f - >/dev/null <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Budget
metadata: {name: spender-cost, namespace: $ns}
spec: {agentRef: {name: spender}, rollingHours: 1, maxCostUSD: 0.3}
EOF
phase_is() { [ "$(tphase "$1")" = "$2" ]; }
"$P" run -n "$ns" --agent spender --name c1 -p "spend" --detach >/dev/null
wait_for 60 phase_is c1 Succeeded
check "a run that reaches the cap (\$0.30 of \$0.30) is not stopped: it did not pass it ($(reason c1))" phase_is c1 Succeeded
check "... its usage is in its status (costUSD 0.3)" bash -c \
	"'$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get task c1 -o jsonpath='{.status.usage.costUSD}' | grep -q '^0.3'"
"$P" run -n "$ns" --agent spender --name c2 -p "spend" --detach >/dev/null
wait_for 30 reason_is c2 Queued/BudgetExhausted
check "with \$0.30 of \$0.30 spent the next Task waits BudgetExhausted ($(reason c2))" reason_is c2 Queued/BudgetExhausted
"$P" describe budget spender-cost -n "$ns" >"$work/describe2.out" 2>&1
check "describe budget: \$0.30 of \$0.30 spent, 1 started, c2 waiting" bash -c \
	"grep -q '^Cost: *\$0.3000 of \$0.3000 spent, \$0.0000 remaining' '$work/describe2.out' &&
	 grep -q '^Window: *1h' '$work/describe2.out' && grep -q '^Tasks: *1 started' '$work/describe2.out' &&
	 grep -q '^  $ns/c2\$' '$work/describe2.out'"
port=$(sed -n 's/.*metrics endpoint listening.* port=\([0-9]*\).*/\1/p' "$log" | tail -1)
metric_ok() { curl -s "http://127.0.0.1:$port/metrics" | grep -q "^paddock_budget_spend_usd{budget=\"$ns/spender-cost\"} 0.3\$"; }
wait_for 10 metric_ok
check "/metrics: paddock_budget_spend_usd{budget=\"$ns/spender-cost\"} 0.3" metric_ok
K -n "$ns" delete budget spender-cost >/dev/null
wait_for 30 phase_is c2 Succeeded
check "deleting the Budget lets it run ($(reason c2))" phase_is c2 Succeeded

# ---- a running Task stopped midway: its log followed, usage so far ----------
# Both run ten minutes (kwok); the log already reports $0.30.
{
	yaml_task m1 slow spend "maxCostUSD: 0.2"
	yaml_budget runaway-cost runaway "window: day, maxCostUSD: 0.25"
	yaml_task m2 runaway spend
} | apply_quiet
t_apply=$SECONDS
wait_for 60 reason_is m1 Failed/BudgetExceeded
check "a running Task whose usage so far passes its spec.maxCostUSD is stopped BudgetExceeded ($(reason m1), $((SECONDS - t_apply)) s after apply; it would run 10 min)" \
	reason_is m1 Failed/BudgetExceeded
check "... its message says by how much" bash -c \
	"'$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get task m1 -o jsonpath='{.status.message}' | grep -q '0.3000 spent, over the task.s spec.maxCostUSD of \$0.2000'"
wait_for 60 reason_is m2 Failed/BudgetExceeded
check "a running Task whose usage so far takes its Agent's Budget past maxCostUSD is stopped BudgetExceeded ($(reason m2))" \
	reason_is m2 Failed/BudgetExceeded
check "... its Job is deleted" bash -c "! '$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get jobs -o name | grep -q '/m[12]-'"

# ---- a loud log: more than limits.logBytesPerRun before the usage -----------
# The controller again, with logBytesPerRun 64Ki; kwok serves 200 KiB of
# noise, then a usage line past the Budget's cap: the run is still stopped.
cap=65536
stop_controller
printf 'limits: {logBytesPerRun: %s}\n' "$cap" >>"$PADDOCK_CONFIG"
start_controller
{
	for i in $(seq 1 2000); do printf 'noise line %05d: %s\n' "$i" "$(printf '%080d' 0)"; done
	printf 'PADDOCK_USAGE input=1000 output=500 cost=0.30\nstill going\n'
} >"$work/noisy.log"
"$HERE/env.sh" log "$ENVDIR" "$work/noisy.log" >/dev/null
{
	yaml_task w1 slow witness
	yaml_budget noisy-cost noisy "window: day, maxCostUSD: 0.25"
	yaml_task n1 noisy noise
} | apply_quiet
t_apply=$SECONDS
# The witness (no cap covers it) runs on: the log its pod serves.
wait_for 60 tphase_is w1 Running
wpod=$(K -n "$ns" get pods -o name | grep -m1 '/w1-')
K -n "$ns" logs "$wpod" -c agent >"$work/served.log" 2>/dev/null
served=$(wc -c <"$work/served.log")
at=$(grep -b -m1 '^PADDOCK_USAGE' "$work/served.log" | cut -d: -f1)
check "the agent log served is $served bytes, its usage line at byte ${at:-none}: past logBytesPerRun ($cap)" \
	bash -c "[ $served -gt $cap ] && [ -n '$at' ] && [ '${at:-0}' -gt $cap ]"
wait_for 60 reason_is n1 Failed/BudgetExceeded
check "a run whose usage comes after more than logBytesPerRun of noise is still stopped BudgetExceeded ($(reason n1), $((SECONDS - t_apply)) s after apply)" \
	reason_is n1 Failed/BudgetExceeded
"$P" stop -n "$ns" w1 >/dev/null 2>&1

# The log kwok serves back to the suite's (tests/k8s/run.sh).
printf 'hello from kwok\n\n---PADDOCK_OUTPUTS_START---\nbranch: main\ncommit: 0123abc\n---PADDOCK_OUTPUTS_END---\n' |
	"$HERE/env.sh" log "$ENVDIR" >/dev/null

# ---- an upgrade: this binary under an install from before Spawners and Budgets
# The controller's RBAC (etc/kubernetes/rbac.yaml) without the spawners
# and budgets rules, through a ServiceAccount token: their lists answer
# 403; the controller says so once for each and runs Tasks all the same.
stop_controller
python3 - "$SRC/etc/kubernetes/rbac.yaml" "$ns" >"$work/old-rbac.yaml" <<'PY'
import re, sys
t = open(sys.argv[1]).read().replace("paddock-system", sys.argv[2])
t = t.replace("  name: paddock-controller\n", "  name: paddock-controller-%s\n" % sys.argv[2])
t = re.sub(r"  - apiGroups: \[paddock.dev\]\n    resources: \[(spawners|spawners/status|budgets)\]\n.*\n", "", t)
print(t)
PY
K apply -f "$work/old-rbac.yaml" >/dev/null
token=$(K -n "$ns" create token paddock 2>/dev/null)
"$KUBECTL" --kubeconfig "$KUBECONFIG" config view --raw --minify --flatten >"$work/old.kubeconfig"
"$KUBECTL" --kubeconfig "$work/old.kubeconfig" config set-credentials old-rbac --token="$token" >/dev/null
"$KUBECTL" --kubeconfig "$work/old.kubeconfig" config set-context --current --user=old-rbac >/dev/null
listable() { "$KUBECTL" --kubeconfig "$work/old.kubeconfig" -n "$ns" auth can-i list "$1" 2>/dev/null; }
check "the old RBAC: budgets and spawners not listable ($(listable budgets.paddock.dev), $(listable spawners.paddock.dev)), tasks listable ($(listable tasks.paddock.dev))" \
	bash -c "[ '$(listable budgets.paddock.dev)' = no ] && [ '$(listable spawners.paddock.dev)' = no ] && [ '$(listable tasks.paddock.dev)' = yes ]"
sed "s|kubeconfig: \"$KUBECONFIG\"|kubeconfig: \"$work/old.kubeconfig\"|" "$PADDOCK_CONFIG" >"$work/old.yaml"
: >"$log"
PADDOCK_CONFIG=$work/old.yaml start_controller
"$P" run -n "$ns" --agent quick --name u1 -p "after the upgrade" --detach >/dev/null
wait_for 60 phase_is u1 Succeeded
check "a controller under the old RBAC runs Tasks ($(reason u1))" phase_is u1 Succeeded
offs() { grep 'cannot list: off until it can' "$log" | grep -c "resource=$1"; }
check "... and says once that Budgets and Spawners are off ($(offs budgets), $(offs spawners) warnings)" \
	bash -c "[ $(offs budgets) -eq 1 ] && [ $(offs spawners) -eq 1 ] && grep 'cannot list: off until it can' '$log' | grep -q 'feature=Budgets'"
stop_controller
K delete -f "$work/old-rbac.yaml" --wait=false >/dev/null 2>&1

[ $failed -eq 0 ] || { echo "--- controller log (tail)"; tail -30 "$log"; }
echo "# $passed passed, $failed failed"
[ $failed -eq 0 ]
