#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/k8s/run.sh - the Kubernetes backend's integration suite, against a
# real control plane (tests/k8s/env.sh: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok) and the real controller
# (`paddock controller` with backend: kubernetes), two replicas of it.
#
#   TOP_BUILDDIR=_build tests/k8s/run.sh
#
# Prints "ok"/"not ok" per check and ends with "N passed, N failed".
# KEEP=1 keeps the work directory (logs, kubeconfig) and stops nothing
# but the controllers.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$HERE/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR/_build}
PADDOCK_BIN=${PADDOCK_BIN:-$TOP_BUILDDIR/core/paddock}
[ -x "$PADDOCK_BIN" ] || { echo "k8s: $PADDOCK_BIN not built" >&2; exit 1; }

K8S_BIN=$("$HERE/build.sh" | tail -n1) || { echo "k8s: building the test components failed" >&2; exit 1; }
export K8S_BIN PATH=$K8S_BIN:$PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-k8s.XXXXXX")
cluster=$work/cluster
passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
nok() { echo "not ok - $*"; failed=$((failed + 1)); }
check() { # check DESCRIPTION CMD...
	local d=$1; shift
	if "$@"; then ok "$d"; else nok "$d"; fi
}

ctl_pids=()
declare -A ctl_pid
cleanup() {
	for p in "${ctl_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	if [ -z "${KEEP:-}" ]; then
		"$HERE/env.sh" stop "$cluster" >/dev/null 2>&1
		rm -rf "$work"
	else
		echo "k8s: kept $work" >&2
	fi
}
trap cleanup EXIT

"$HERE/env.sh" start "$cluster" || { echo "k8s: the control plane did not start" >&2; exit 1; }
export KUBECONFIG=$cluster/kubeconfig
kc() { kubectl --request-timeout=20s "$@"; }

kc apply -f "$TOP_SRCDIR/etc/kubernetes/crds.yaml" >/dev/null &&
	kc wait --for condition=established --timeout=60s crd/tasks.paddock.dev crd/agents.paddock.dev >/dev/null ||
	{ echo "k8s: CRDs not established" >&2; exit 1; }
for ns in paddock-system team-a team-b; do kc create namespace "$ns" >/dev/null; done

export PADDOCK_CONFIG=$work/paddock.yaml
export PADDOCK_PLUGIN_PATH=$TOP_BUILDDIR/drivers/.libs:$TOP_BUILDDIR/contexts/.libs
export PADDOCK_DATA_DIR=$TOP_SRCDIR
cat >"$PADDOCK_CONFIG" <<EOF
backend: kubernetes
log: {level: info}
controller: {listen: "127.0.0.1:0"}
kubernetes: {kubeconfig: "$KUBECONFIG", leaseNamespace: paddock-system}
limits: {maxConcurrentTasks: 50, defaultTaskTimeout: 10m}
drivers: {exec: {enabled: true}, claude-code: {enabled: true}}
contexts: {text: {enabled: true}, configmap: {enabled: true}}
EOF

start_controller() { # NAME: a replica whose Lease identity is NAME
	POD_NAME=$1 "$PADDOCK_BIN" controller >>"$work/$1.log" 2>&1 &
	ctl_pids+=($!)
	ctl_pid[$1]=$!
}
lease_holder() { kc -n paddock-system get lease paddock-controller -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
wait_for() { # SECONDS CMD...: until CMD succeeds
	local t=$1; shift
	local end=$((SECONDS + t))
	while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.3; done
	return 1
}
phase() { kc -n "$1" get task "$2" -o jsonpath='{.status.phase}' 2>/dev/null; }
phase_is() { [ "$(phase "$1" "$2")" = "$3" ]; }
gone() { ! kc -n "$1" get "$2" "$3" >/dev/null 2>&1; }

# ---- two replicas: one leads --------------------------------------------
start_controller replica-a
sleep 1
start_controller replica-b
wait_for 30 test -n "$(lease_holder)"
leader=$(lease_holder)
case $leader in
replica-a) standby=replica-b ;;
replica-b) standby=replica-a ;;
*) standby= ;;
esac
check "a replica holds the Lease (holder: ${leader:-none})" test -n "$standby"

# ---- agents and a credential ------------------------------------------------
canary="sk-canary-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
metadata: {name: model-key, namespace: team-a}
stringData: {apiKey: "$canary"}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: echo, namespace: team-a}
spec:
  type: exec
  image: debian:bookworm-slim
  command: "echo hello"
  maxConcurrentTasks: 3
  credentials: {type: api-key, secretRef: {name: model-key, key: apiKey}}
  pod:
    labels: {team: a, kwok.paddock.dev/run-time: "1s"}
    runtimeClassName: kwok-class
    nodeSelector: {type: kwok}
    tolerations: [{key: dedicated, operator: Equal, value: agents, effect: NoSchedule}]
    resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 256Mi}}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: slow, namespace: team-a}
spec:
  type: exec
  image: debian:bookworm-slim
  command: "sleep 600"
  allowedNamespaces: ["team-*"]
  pod: {labels: {kwok.paddock.dev/run-time: "10m"}}
EOF
[ $? -eq 0 ] || nok "applying the agents"
# The RuntimeClass the Agent names must exist for the pod to be admitted.
kc apply -f - >/dev/null <<EOF
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: kwok-class}
handler: kwok
EOF

# The agent log kwok serves for every container: a run's output with the
# outputs block, as paddock_lib.sh prints it.
printf 'hello from kwok\n\n---PADDOCK_OUTPUTS_START---\nbranch: main\ncommit: 0123abc\n---PADDOCK_OUTPUTS_END---\n' |
	"$HERE/env.sh" log "$cluster" >/dev/null

# ---- a Task becomes a Job with the expected spec ---------------------------
kc apply -f - >/dev/null <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: first, namespace: team-a}
spec:
  agentRef: {name: echo}
  prompt: "Say hello"
  timeout: 15m
  outputs: {parameters: [{name: branch, path: branch.txt}]}
EOF
wait_for 60 phase_is team-a first Succeeded
check "first: Pending -> Running -> Succeeded, driven by kwok (phase: $(phase team-a first))" phase_is team-a first Succeeded
job=$(kc -n team-a get task first -o jsonpath='{.status.jobName}')
kc -n team-a get job "$job" -o json >"$work/job.json" 2>/dev/null
jq_job() { python3 - "$work/job.json" "$@"; }
check "the Job has the expected spec (ownerRef, backoffLimit 0, deadline, secretKeyRef, restricted pod, Agent pod settings)" \
	jq_job "$canary" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); canary = sys.argv[2]
md, spec = j["metadata"], j["spec"]
pod = spec["template"]["spec"]
errs = []
def want(c, what):
    if not c: errs.append(what)
o = md.get("ownerReferences", [{}])[0]
want(o.get("kind") == "Task" and o.get("name") == "first" and o.get("controller") is True, "ownerReference to the Task")
want(spec.get("backoffLimit") == 0, "backoffLimit 0")
want(spec.get("activeDeadlineSeconds") == 900, "activeDeadlineSeconds 900")
want(pod.get("restartPolicy") == "Never", "restartPolicy Never")
psc = pod.get("securityContext", {})
want(psc.get("runAsNonRoot") is True and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "pod securityContext")
for c in pod.get("initContainers", []) + pod["containers"]:
    sc = c.get("securityContext", {})
    want(sc.get("allowPrivilegeEscalation") is False and sc.get("capabilities", {}).get("drop") == ["ALL"], "container %s securityContext" % c["name"])
agent = [c for c in pod["containers"] if c["name"] == "agent"][0]
refs = [e for e in agent.get("env", []) if "valueFrom" in e]
want(any(e["valueFrom"].get("secretKeyRef", {}).get("name") == "model-key" and "value" not in e for e in refs), "credential as secretKeyRef")
want(pod.get("runtimeClassName") == "kwok-class", "runtimeClassName")
want(pod.get("nodeSelector") == {"type": "kwok"}, "nodeSelector")
want(any(t.get("key") == "dedicated" for t in pod.get("tolerations", [])), "tolerations")
want(spec["template"]["metadata"]["labels"].get("team") == "a", "pod labels")
want(agent.get("resources", {}).get("limits", {}).get("memory") == "256Mi", "resources")
want(agent.get("command") == ["/bin/sh", "/paddock/config/paddock_entrypoint.sh"], "the controller's entrypoint script, from the ConfigMap")
want(canary not in json.dumps(j), "no secret value")
if errs:
    print("  missing: " + ", ".join(errs), file=sys.stderr); sys.exit(1)
PY
check "first: outputs from the agent container's log (results.branch=main)" \
	test "$(kc -n team-a get task first -o jsonpath='{.status.results.branch}')" = main
check "kubectl get tasks shows NAME TYPE PHASE AGE" \
	bash -c "kubectl -n team-a get tasks | head -1 | grep -Eq '^NAME +TYPE +PHASE +AGE'"
check "kubectl get tasks shows the phase" bash -c "kubectl -n team-a get pt first | grep -q Succeeded"
# A lone task with a free slot goes from Pending straight to Running: no
# Queued event saying it waited behind older ones (there were none).
check "events record the transitions (Running, Succeeded; no Queued for a lone task)" bash -c \
	"m=\$(kubectl -n team-a get events --field-selector involvedObject.name=first -o jsonpath='{.items[*].message}');
	 grep -q 'Running:' <<<\"\$m\" && grep -q 'Succeeded:' <<<\"\$m\" && ! grep -q 'QueuedBehindOlder\|Queued:' <<<\"\$m\""
check "only the leader ($leader) created Jobs" bash -c "! grep -q 'job created' '$work/$standby.log' && grep -q 'job created' '$work/$leader.log'"

# ---- the endpoints: /readyz knows who leads, /metrics passes promtool -------
mport() { sed -n 's/.*metrics endpoint listening.* port=\([0-9]*\).*/\1/p' "$work/$1.log" | tail -1; }
lp=$(mport "$leader") sp=$(mport "$standby")
check "/readyz on the leader: ok: leader" bash -c "curl -fsS http://127.0.0.1:$lp/readyz | grep -q 'ok: leader'"
check "/readyz on the standby: 200 ok: standby; /readyz?leader: 503" bash -c \
	"curl -fsS http://127.0.0.1:$sp/readyz | grep -q 'ok: standby' &&
	 [ \"\$(curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:$sp/readyz?leader')\" = 503 ]"
# The counts are published after the pass that wrote the status kubectl
# already shows: look again for a few seconds, then say which part failed.
metrics_ok() {
	curl -fsS "http://127.0.0.1:$lp/metrics" >"$work/metrics.txt" || return 1
	grep -q '^paddock_leader 1' "$work/metrics.txt" && grep -q '^paddock_tasks{phase="Succeeded"} 1' "$work/metrics.txt" &&
		grep -q '^paddock_api_errors_total' "$work/metrics.txt"
}
if ! wait_for 10 metrics_ok; then
	echo "  /metrics after 10 s:" >&2
	grep -E '^paddock_(leader|tasks|api_errors_total)' "$work/metrics.txt" | sed 's/^/    /' >&2
fi
check "/metrics: paddock_leader 1, tasks by phase, API counters$(command -v promtool >/dev/null && echo ', promtool check metrics')" bash -c \
	"grep -q '^paddock_leader 1' '$work/metrics.txt' && grep -q '^paddock_tasks{phase=\"Succeeded\"} 1' '$work/metrics.txt' &&
	 grep -q '^paddock_api_errors_total' '$work/metrics.txt' &&
	 { ! command -v promtool >/dev/null || promtool check metrics <'$work/metrics.txt' || { promtool check metrics <'$work/metrics.txt' 2>&1 | head -5 >&2; false; }; }"

# ---- paddock install --dry-run: the manifests the API server accepts ---------
check "paddock install --dry-run | kubectl apply --dry-run=server (CRDs, RBAC, Deployment)" bash -c \
	"'$PADDOCK_BIN' install --dry-run | kubectl apply --dry-run=server -f - >'$work/install.log' 2>&1"

# ---- no secret value anywhere in Jobs, ConfigMaps, Tasks, Events ------------
check "the credential's value is in no Job, ConfigMap, Task, Event or controller log" bash -c \
	"! { kubectl get jobs,configmaps,tasks,events -A -o yaml; cat '$work'/replica-*.log; } | grep -qF '$canary'"

# ---- 50 tasks queue against maxConcurrentTasks: 3, FIFO across restarts ------
# With both replicas down, 50 Tasks are created; then the replicas start
# again, and the leader is SIGKILLed once about 10 have finished: the
# order (creationTimestamp, then uid) lives in the objects, so the new
# leader carries on with it.
stop_all() {
	for n in "${!ctl_pid[@]}"; do kill -TERM "${ctl_pid[$n]}" 2>/dev/null; wait "${ctl_pid[$n]}" 2>/dev/null; unset "ctl_pid[$n]"; done
}
stop_all
{
	for i in $(seq -w 1 50); do
		printf -- '---\napiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: q%s, namespace: team-a}\nspec: {agentRef: {name: echo}, prompt: "task %s"}\n' "$i" "$i"
	done
} | kc apply -f - >/dev/null
start_controller replica-a
start_controller replica-b
n_done() { kc -n team-a get tasks -o jsonpath='{range .items[*]}{.metadata.name} {.status.phase}{"\n"}{end}' | grep -c '^q.* Succeeded$'; }
at_least() { [ "$(n_done)" -ge "$1" ]; }
wait_for 120 at_least 10
wait_for 30 test -n "$(lease_holder)"
crashed=$(lease_holder)
case $crashed in
replica-a | replica-b)
	kill -KILL "${ctl_pid[$crashed]}" 2>/dev/null
	wait "${ctl_pid[$crashed]}" 2>/dev/null
	unset "ctl_pid[$crashed]"
	echo "# SIGKILLed the leader $crashed after $(n_done) of 50 had finished"
	;;
*)
	nok "a replica leads while the queue drains (Lease holder: '${crashed}')"
	crashed=replica-a
	;;
esac
wait_for 300 at_least 50
check "50 queued tasks all Succeeded, across a leader crash" at_least 50
kc -n team-a get tasks -o json >"$work/tasks.json"
check "never more than 3 ran at once, and they started in FIFO order (creationTimestamp, uid), each once" \
	python3 - "$work/tasks.json" <<'PY'
import json, sys
from datetime import datetime
def t(s): return datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z" if "." in s else "%Y-%m-%dT%H:%M:%S%z").timestamp()
items = [i for i in json.load(open(sys.argv[1]))["items"] if i["metadata"]["name"].startswith("q")]
ev = []
for i in items:
    st = i["status"]; ev += [(t(st["startTime"]), 1), (t(st["completionTime"]), -1)]
ev.sort(key=lambda e: (e[0], e[1]))
cur = peak = 0
for _, d in ev:
    cur += d; peak = max(peak, cur)
fifo = sorted(items, key=lambda i: (t(i["metadata"]["creationTimestamp"]), i["metadata"]["uid"]))
starts = [t(i["status"]["startTime"]) for i in fifo]
inorder = all(a <= b for a, b in zip(starts, starts[1:]))
print("  peak concurrency %d, FIFO %s" % (peak, inorder), file=sys.stderr)
sys.exit(0 if peak <= 3 and inorder else 1)
PY
check "one Job per task (50 Jobs for q01..q50)" \
	test "$(kc -n team-a get jobs -l paddock.dev/task -o jsonpath='{range .items[*]}{.metadata.labels.paddock\.dev/task}{"\n"}{end}' | grep -c '^q')" -eq 50
start_controller "$crashed"
wait_for 30 test -n "$(lease_holder)"
leader=$(lease_holder)
standby=$([ "$leader" = replica-a ] && echo replica-b || echo replica-a)

# ---- a dependency chain runs in order -----------------------------------------
kc apply -f - >/dev/null <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: chain-3, namespace: team-a}
spec: {agentRef: {name: echo}, prompt: "third, after {{ deps.chain-2.results.branch }}", dependsOn: [chain-2]}
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: chain-2, namespace: team-a}
spec: {agentRef: {name: echo}, prompt: "second", dependsOn: [chain-1]}
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: chain-1, namespace: team-a}
spec: {agentRef: {name: echo}, prompt: "first"}
EOF
wait_for 90 phase_is team-a chain-3 Succeeded
ts() { kc -n team-a get task "$1" -o jsonpath="{.status.$2}"; }
check "chain: chain-1, chain-2, chain-3 Succeeded, each starting after the previous completed" bash -c \
	"[ '$(phase team-a chain-3)' = Succeeded ] && [[ '$(ts chain-1 completionTime)' < '$(ts chain-2 startTime)' || '$(ts chain-1 completionTime)' = '$(ts chain-2 startTime)' ]] && [[ '$(ts chain-2 completionTime)' < '$(ts chain-3 startTime)' || '$(ts chain-2 completionTime)' = '$(ts chain-3 startTime)' ]]"
check "chain-3's prompt got chain-2's result through its template" bash -c \
	"kubectl -n team-a get configmap '$(ts chain-3 jobName)' -o jsonpath='{.data.task\.md}' | grep -q 'third, after main'"

# ---- stop, through the annotation ---------------------------------------------------
kc apply -f - >/dev/null <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: long, namespace: team-b}
spec: {agentRef: {name: slow, namespace: team-a}, prompt: "take your time"}
EOF
wait_for 60 phase_is team-b long Running
check "cross-namespace agentRef (allowedNamespaces team-*): the run lives in the Agent's namespace" \
	test "$(kc -n team-b get task long -o jsonpath='{.status.runNamespace}')" = team-a
ljob=$(kc -n team-b get task long -o jsonpath='{.status.jobName}')
kc -n team-b annotate task long paddock.dev/stop=true >/dev/null
wait_for 30 phase_is team-b long Stopped
check "stop annotation: Running -> Stopped" phase_is team-b long Stopped
wait_for 30 gone team-a job "$ljob"
check "stop: the Job is deleted" gone team-a job "$ljob"

# ---- Running means the pod runs: an unschedulable pod says so and stays out of Running ----
kc apply -f - >/dev/null <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: nowhere, namespace: team-a}
spec:
  type: exec
  image: debian:bookworm-slim
  command: "echo never"
  pod: {nodeSelector: {paddock.dev/no-such-node: "true"}}
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: stuck, namespace: team-a}
spec: {agentRef: {name: nowhere}, prompt: "hi"}
EOF
reason_is() { [ "$(kc -n "$1" get task "$2" -o jsonpath='{.status.reason}' 2>/dev/null)" = "$3" ]; }
wait_for 60 reason_is team-a stuck Unschedulable
sjob=$(kc -n team-a get task stuck -o jsonpath='{.status.jobName}')
check "a Job whose pod cannot be scheduled: Queued, reason Unschedulable with the scheduler's message, never Running (phase $(phase team-a stuck), job ${sjob:-none})" \
	bash -c "[ '$(phase team-a stuck)' = Queued ] && kubectl -n team-a get task stuck -o jsonpath='{.status.message}' | grep -q node &&
		[ -n '$sjob' ] && kubectl -n team-a get job '$sjob' >/dev/null &&
		! kubectl -n team-a get events --field-selector involvedObject.name=stuck -o jsonpath='{.items[*].reason}' | grep -qw Started"
kc -n team-a annotate task stuck paddock.dev/stop=true >/dev/null
wait_for 30 phase_is team-a stuck Stopped
check "stop of a task whose pod waits: Stopped" phase_is team-a stuck Stopped
wait_for 30 gone team-a job "$sjob"
check "... and its Job is deleted" gone team-a job "$sjob"

# A namespace the Agent does not allow.
kc create namespace other >/dev/null
kc apply -f - >/dev/null <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: sneaky, namespace: other}
spec: {agentRef: {name: slow, namespace: team-a}, prompt: "hi"}
EOF
wait_for 30 phase_is other sneaky Failed
check "agentRef from a namespace not in allowedNamespaces fails Forbidden" \
	test "$(kc -n other get task sneaky -o jsonpath='{.status.reason}')" = Forbidden

# ---- what kubectl lets through, the controller checks as `paddock apply` does ----
kc apply -f - >/dev/null <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: bad-driver, namespace: team-b}
spec: {type: no-such-driver, prompt: "hi"}
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: bad-template, namespace: team-b}
spec: {agentRef: {name: slow, namespace: team-a}, prompt: "use {{ deps.nowhere.results.x }}"}
EOF
wait_for 30 phase_is team-b bad-driver Failed
check "a Task naming a driver that is not enabled fails DriverNotFound" \
	test "$(kc -n team-b get task bad-driver -o jsonpath='{.status.reason}')" = DriverNotFound
wait_for 30 phase_is team-b bad-template Failed
check "a template naming a task not in dependsOn fails InvalidSpec, naming it" bash -c \
	"[ \"\$(kubectl -n team-b get task bad-template -o jsonpath='{.status.reason}')\" = InvalidSpec ] &&
	 kubectl -n team-b get task bad-template -o jsonpath='{.status.message}' | grep -q nowhere"

# ---- delete cascades through the garbage collector ------------------------------------
fjob=$(kc -n team-a get task first -o jsonpath='{.status.jobName}')
kc -n team-a delete task first --wait=false >/dev/null
wait_for 60 gone team-a job "$fjob"
check "deleting a Task deletes its Job (garbage collector)" gone team-a job "$fjob"
wait_for 30 gone team-a configmap "$fjob"
check "... and its ConfigMap" gone team-a configmap "$fjob"

# ---- the watch survives an API server restart (and the 410 Gone after it) --------
relists_before=$(grep -c 'relisting.*410' "$work/$leader.log")
"$HERE/env.sh" restart-apiserver "$cluster" >/dev/null 2>&1
# Changes while the controller's watches are down or resuming.
kc apply -f - >/dev/null <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: after-restart, namespace: team-a}
spec: {agentRef: {name: echo}, prompt: "still there?"}
EOF
wait_for 90 phase_is team-a after-restart Succeeded
check "after an API server restart, a new Task still runs to Succeeded" phase_is team-a after-restart Succeeded
relists_after=$(grep -c 'relisting.*410' "$work/$leader.log")
check "the leader's watches met 410 Gone after the restart and relisted ($relists_before -> $relists_after)" \
	test "$relists_after" -gt "$relists_before"

# ---- failover: SIGTERM the leader, the standby takes over -----------------------------
leader_pid=${ctl_pid[$leader]}
kill -TERM "$leader_pid"
wait "$leader_pid" 2>/dev/null
check "the leader exits 0 on SIGTERM" bash -c "grep -q 'controller stopping' '$work/$leader.log'"
wait_for 30 test "$(lease_holder)" = "$standby"
check "the standby ($standby) takes the Lease" test "$(lease_holder)" = "$standby"
kc apply -f - >/dev/null <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: after-failover, namespace: team-a}
spec: {agentRef: {name: echo}, prompt: "new leader"}
EOF
wait_for 60 phase_is team-a after-failover Succeeded
check "after failover, a new Task runs to Succeeded under $standby" bash -c \
	"[ '$(phase team-a after-failover)' = Succeeded ] && grep -q 'task=after-failover' '$work/$standby.log'"

# ---- the paddock CLI against the cluster, with the controller acting ------------
pd() { "$PADDOCK_BIN" "$@"; }
check "paddock run --agent echo -w: Succeeded through the controller (exit 0)" \
	pd run -n team-a --agent echo --name via-cli -p "hello through the CLI" -w
check "paddock logs via-cli: the agent container's log" bash -c "'$PADDOCK_BIN' logs -n team-a via-cli | grep -q 'hello from kwok'"
check "paddock get task via-cli -o yaml: results.branch main" bash -c \
	"'$PADDOCK_BIN' get task via-cli -n team-a -o yaml | grep -Eq '^ +branch: main'"
kc apply -f - >/dev/null <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: stop-cli, namespace: team-b}
spec: {agentRef: {name: slow, namespace: team-a}, prompt: "long"}
EOF
wait_for 60 phase_is team-b stop-cli Running
pd stop -n team-b stop-cli >/dev/null
wait_for 30 phase_is team-b stop-cli Stopped
check "paddock stop: Running -> Stopped" phase_is team-b stop-cli Stopped

# ---- the CLI against the cluster (it writes status itself: no controller) ---------------
stop_all
if [ -x "$HERE/test-cli.sh" ]; then
	if PADDOCK_BIN=$PADDOCK_BIN "$HERE/test-cli.sh" "$KUBECONFIG" >"$work/cli.log" 2>&1; then
		ok "tests/k8s/test-cli.sh ($(grep -c '^ok' "$work/cli.log") checks)"
	else
		nok "tests/k8s/test-cli.sh"; grep -v '^ok' "$work/cli.log" | tail -20
	fi
fi

# ---- Spawners' webhooks (two replicas of their own, in a namespace of their own) ----
if [ -x "$HERE/test-spawner.sh" ]; then
	if PADDOCK_BIN=$PADDOCK_BIN "$HERE/test-spawner.sh" "$KUBECONFIG" >"$work/spawner.log" 2>&1; then
		ok "tests/k8s/test-spawner.sh ($(grep -c '^ok' "$work/spawner.log") checks)"
	else
		nok "tests/k8s/test-spawner.sh"; grep -v '^ok' "$work/spawner.log" | tail -20
	fi
fi

# ---- Spawners' github source (a controller of its own, scripted GitHub behind Prism) --
if [ -x "$HERE/test-github.sh" ]; then
	if PADDOCK_BIN=$PADDOCK_BIN "$HERE/test-github.sh" "$KUBECONFIG" >"$work/github.log" 2>&1; then
		if grep -q '^ok - SKIP' "$work/github.log"; then
			ok "tests/k8s/test-github.sh $(sed -n 's/^ok - //p' "$work/github.log" | head -1)"
		else
			ok "tests/k8s/test-github.sh ($(grep -c '^ok' "$work/github.log") checks)"
		fi
	else
		nok "tests/k8s/test-github.sh"; grep -v '^ok' "$work/github.log" | tail -30
	fi
fi

# ---- schedules and Budgets (a controller of its own, the test clock) ----------------
if [ -x "$HERE/test-schedule-budget.sh" ]; then
	# It needs the test clock: a test-hooks build (run-all passes the
	# sanitizer build's binary as PADDOCK_HOOKS_BIN).
	if PADDOCK_BIN=${PADDOCK_HOOKS_BIN:-$PADDOCK_BIN} "$HERE/test-schedule-budget.sh" "$KUBECONFIG" >"$work/schedule-budget.log" 2>&1; then
		if grep -q '^ok - SKIP' "$work/schedule-budget.log"; then
			ok "tests/k8s/test-schedule-budget.sh $(sed -n 's/^ok - //p' "$work/schedule-budget.log" | head -1)"
		else
			ok "tests/k8s/test-schedule-budget.sh ($(grep -c '^ok' "$work/schedule-budget.log") checks)"
		fi
	else
		nok "tests/k8s/test-schedule-budget.sh"; grep -v '^ok' "$work/schedule-budget.log" | tail -30
	fi
fi

# ---- leader election under clock skew, against this API server ------------------
[ -x "$TOP_BUILDDIR/tests/k8s/lease-probe" ] || make -s -C "$TOP_BUILDDIR/tests" k8s/lease-probe >/dev/null 2>&1 || true
if [ -x "$HERE/test-lease.sh" ]; then
	if TOP_BUILDDIR=$TOP_BUILDDIR "$HERE/test-lease.sh" "$KUBECONFIG" >"$work/lease.log" 2>&1; then
		ok "tests/k8s/test-lease.sh ($(grep -c '^ok' "$work/lease.log") checks: skewed clocks, release, races)"
	else
		nok "tests/k8s/test-lease.sh"; grep -v '^ok' "$work/lease.log" | tail -40
	fi
fi

# ---- stop/delete storm with controller crashes (its own namespace and controller) ----
if [ -x "$HERE/storm.sh" ]; then
	if PADDOCK_BIN=$PADDOCK_BIN TOP_SRCDIR=$TOP_SRCDIR TOP_BUILDDIR=$TOP_BUILDDIR "$HERE/storm.sh" "$KUBECONFIG" >"$work/storm.log" 2>&1; then
		ok "tests/k8s/storm.sh ($(grep -c '^ok' "$work/storm.log") checks; $(sed -n 's/^#   max active Jobs *//p' "$work/storm.log"))"
	else
		nok "tests/k8s/storm.sh"; grep -v '^ok' "$work/storm.log" | tail -40
	fi
fi

# ---- the egress sidecar under pod-security restricted, and kubernetes.networkPolicy (its own namespace and controller) ----
if [ -x "$HERE/test-egress.sh" ]; then
	if PADDOCK_BIN=$PADDOCK_BIN TOP_SRCDIR=$TOP_SRCDIR TOP_BUILDDIR=$TOP_BUILDDIR "$HERE/test-egress.sh" "$KUBECONFIG" >"$work/egress.log" 2>&1; then
		ok "tests/k8s/test-egress.sh ($(grep -c '^ok' "$work/egress.log") checks: sidecar, no credential on the agent, restricted, the run's NetworkPolicy, the sidecar's log as Events and metrics)"
	else
		nok "tests/k8s/test-egress.sh"; grep -v '^ok' "$work/egress.log" | tail -20
	fi
fi

if [ $failed -gt 0 ]; then
	for f in "$work"/replica-*.log; do echo "--- $f (tail)"; tail -15 "$f"; done
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
