#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/k8s/real/run.sh - the Kubernetes backend on a real node: images
# built here from the repository's Dockerfiles (images.sh), pushed to a
# local registry and run by containerd + runc under a real kubelet
# (node.sh), beside the kwok nodes of tests/k8s/env.sh.  Every pod of these
# tests is pinned to the real node (nodeSelector + toleration of its taint)
# in namespaces labelled pod-security.kubernetes.io/enforce: restricted,
# and every check reads the real pod: no test here can pass on kwok alone.
#
#   TOP_BUILDDIR=_build tests/k8s/real/run.sh
#
# Needs root and setup.sh's PKGS_TEST (buildah, mmdebstrap, containerd, ...).
# Prints the time of each preparation step, "ok"/"not ok" per check, and
# "N passed, N failed".  KEEP=1 keeps the work directory (the node and the
# control plane are stopped all the same).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$HERE/../../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR/_build}
PADDOCK_BIN=${PADDOCK_BIN:-$TOP_BUILDDIR/core/paddock}
[ -x "$PADDOCK_BIN" ] || { echo "k8s-real: $PADDOCK_BIN not built" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "k8s-real: needs root (containerd, kubelet, buildah)" >&2; exit 1; }

prep() { # prep NAME CMD...: a timed preparation step; its last stdout line is kept in $PREP
	local t0=$SECONDS out
	out=$("$@") || { echo "k8s-real: $1 failed" >&2; exit 1; }
	PREP=$(printf '%s\n' "$out" | tail -n1)
	echo "# prep: $* : $((SECONDS - t0)) s"
}
T_ALL=$SECONDS
prep "$HERE/../build.sh"; K8S_BIN=$PREP
prep "$HERE/build-go.sh"; REAL_BIN=$PREP
# REAL_IMAGES: a subset of the images (images.sh NAME...), for work on one test.
# shellcheck disable=SC2086
prep "$HERE/images.sh" ${REAL_IMAGES:-}; IMAGES_ENV=$PREP
export K8S_BIN REAL_BIN PATH=$K8S_BIN:$PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-k8s-real.XXXXXX")
cluster=$work/cluster
passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
nok() { echo "not ok - $*"; failed=$((failed + 1)); }
check() { # check DESCRIPTION CMD...
	local d=$1; shift
	if "$@"; then ok "$d"; else nok "$d"; fi
}
ctl_pids=()
cleanup() {
	local p
	for p in "${ctl_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	"$HERE/node.sh" stop "$cluster" >/dev/null 2>&1
	"$HERE/../env.sh" stop "$cluster" >/dev/null 2>&1
	if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "k8s-real: kept $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

prep "$HERE/../env.sh" start "$cluster"
prep "$HERE/node.sh" start "$cluster"
# shellcheck disable=SC1090
. "$PREP"
echo "# prep: total $((SECONDS - T_ALL)) s"
export KUBECONFIG=$cluster/kubeconfig
kc() { kubectl --request-timeout=20s "$@"; }

kc apply -f "$TOP_SRCDIR/etc/kubernetes/crds.yaml" >/dev/null &&
	kc wait --for condition=established --timeout=60s crd/tasks.paddock.dev crd/agents.paddock.dev >/dev/null ||
	{ echo "k8s-real: CRDs not established" >&2; exit 1; }
NS=real-a
kc create namespace paddock-system >/dev/null
kc create namespace "$NS" >/dev/null
kc label namespace "$NS" pod-security.kubernetes.io/enforce=restricted >/dev/null

export PADDOCK_CONFIG=$work/paddock.yaml
export PADDOCK_PLUGIN_PATH=$TOP_BUILDDIR/drivers/.libs:$TOP_BUILDDIR/contexts/.libs
export PADDOCK_DATA_DIR=$TOP_SRCDIR
# host_controller NAME [DRIVER LINES] [MORE YAML]: (re)start the controller on
# the host with a paddock.yaml enabling exec and the drivers given
# ($KUBE_EXTRA: more keys of its kubernetes map, ", key: value").
host_controller() {
	local p
	for p in "${ctl_pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	ctl_pids=()
	cat >"$PADDOCK_CONFIG" <<YML
backend: kubernetes
log: {level: info}
controller: {listen: "127.0.0.1:0"}
kubernetes: {kubeconfig: "$KUBECONFIG", leaseNamespace: paddock-system${KUBE_EXTRA:-}}
limits: {maxConcurrentTasks: 20, defaultTaskTimeout: 10m}
# The default (2 CPUs, requested) would not fit beside anything on this node.
resources: {limits: {cpu: "1", memory: 2Gi}, requests: {cpu: 100m, memory: 64Mi}}
drivers:
  exec: {enabled: true}
${2:-}
contexts: {text: {enabled: true}, git: {enabled: true}}
${3:-}
YML
	POD_NAME=$1 "$PADDOCK_BIN" controller >>"$work/$1.log" 2>&1 &
	ctl_pids+=($!)
}
host_controller real-host-replica

wait_for() { # SECONDS CMD...
	local end=$((SECONDS + $1)); shift
	while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.3; done
	return 1
}
phase() { kc -n "$NS" get task "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
phase_is() { [ "$(phase "$1")" = "$2" ]; }
job_of() { kc -n "$NS" get task "$1" -o jsonpath='{.status.jobName}' 2>/dev/null; }
pod_of() { kc -n "$NS" get pods -l "job-name=$(job_of "$1")" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null; }
pod_field() { kc -n "$NS" get pod "$1" -o jsonpath="$2" 2>/dev/null; }
agent_status() { pod_field "$1" "{.status.containerStatuses[?(@.name==\"agent\")]$2}"; }
# The line the log needs for each real pod: image digest, node, phase, exit code.
report_pod() { # report_pod TASK
	local p; p=$(pod_of "$1")
	echo "# $1: pod $p node $(pod_field "$p" '{.spec.nodeName}') image $(agent_status "$p" '.imageID')" \
		"phase $(pod_field "$p" '{.status.phase}') exit $(agent_status "$p" '.state.terminated.exitCode')" \
		"reason $(agent_status "$p" '.state.terminated.reason')"
	kc -n "$NS" logs "$p" -c agent 2>&1 | tail -n 12 | sed 's/^/#   | /'
}
pod_gone() { [ -z "$(kc -n "$NS" get pods -l "job-name=$1" -o name 2>/dev/null)" ]; }
job_gone() { ! kc -n "$NS" get job "$1" >/dev/null 2>&1; }

# An exec Agent pinned to the real node.
agent() { # agent NAME COMMAND [EXTRA POD YAML]
	kc apply -f - >/dev/null <<YML
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: $1, namespace: $NS}
spec:
  type: exec
  image: $IMG_EXEC
  command: $(printf '%s' "$2" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')
  pod:
    nodeSelector: {paddock.dev/real-node: "true"}
    tolerations: [{key: paddock.dev/real-node, operator: Exists, effect: NoSchedule}]
YML
}
task() { # task NAME AGENT [EXTRA SPEC YAML]
	kc apply -f - >/dev/null <<YML
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: $1, namespace: $NS}
spec:
  agentRef: {name: $2}
  prompt: "prompt of $1"
  timeout: 5m
${3:-}
YML
}

# ---- exec: Task -> Job -> real Pod -> Succeeded with outputs -------------------
agent hello 'set -e
printf "%s uid=%s host=%s\n" "$(printf %s "$1" | head -n 1)" "$(id -u)" "$(uname -n)" > proof.txt
git init -q -b real-branch . && git add proof.txt
git -c user.name=t -c user.email=t@localhost commit -qm proof
echo "done: $(cat proof.txt)"'
task hello hello "  outputs: {parameters: [{name: proof, path: proof.txt}]}"
wait_for 120 phase_is hello Succeeded
report_pod hello
pod=$(pod_of hello)
check "exec: Task Succeeded on the real node (phase $(phase hello))" phase_is hello Succeeded
check "exec: the pod ran on $REAL_NODE, Succeeded, agent exit code 0" test \
	"$(pod_field "$pod" '{.spec.nodeName}')/$(pod_field "$pod" '{.status.phase}')/$(agent_status "$pod" '.state.terminated.exitCode')" = \
	"$REAL_NODE/Succeeded/0"
check "exec: the image is the one built here, pulled from the local registry by digest" bash -c \
	"[[ '$(agent_status "$pod" '.imageID')' == 127.0.0.1:$REG_PORT/paddock/agent-exec@sha256:* ]]"
proof=$(kc -n "$NS" get task hello -o jsonpath='{.status.outputs.proof}' 2>/dev/null)
echo "# hello: status.outputs.proof = $proof"
check "exec: status.outputs.proof written by the command inside the pod (uid 1000, hostname = pod name)" \
	test "$proof" = "prompt of hello uid=1000 host=$pod"
check "exec: results.branch from the pod's repository" \
	test "$(kc -n "$NS" get task hello -o jsonpath='{.status.results.branch}')" = real-branch
check "exec: results.commit is a sha" bash -c \
	"[[ '$(kc -n "$NS" get task hello -o jsonpath='{.status.results.commit}')' =~ ^[0-9a-f]{40}$ ]]"

# ---- a memory limit from the Task's resources: OOMKilled ------------------------
agent hog 'echo allocating; dd if=/dev/zero of=/dev/null bs=200M count=1; rc=$?; echo "dd exited $rc"; exit $rc'
task oom hog "  resources: {limits: {memory: 64Mi}}"
wait_for 120 phase_is oom Failed
report_pod oom
pod=$(pod_of oom)
msg=$(kc -n "$NS" get task oom -o jsonpath='{.status.message}' 2>/dev/null)
echo "# oom: status.message = $msg"
check "oom: 64Mi from the Task's resources on the real pod's agent container" test \
	"$(pod_field "$pod" '{.spec.containers[?(@.name=="agent")].resources.limits.memory}')" = 64Mi
check "oom: the kernel killed the allocation (container reason OOMKilled)" test \
	"$(agent_status "$pod" '.state.terminated.reason')" = OOMKilled
check "oom: Task Failed with reason OOMKilled (phase $(phase oom), reason $(kc -n "$NS" get task oom -o jsonpath='{.status.reason}'))" \
	test "$(phase oom)/$(kc -n "$NS" get task oom -o jsonpath='{.status.reason}')" = Failed/OOMKilled
check "oom: the message names the limit" bash -c "grep -q 'memory limit 64Mi exceeded' <<<'$msg'"

# ---- paddock stop and the stop annotation: the pod is deleted, Stopped ------------
agent sleeper 'echo started; exec sleep 600'
running_on_node() { # TASK: the agent container runs on the real node
	local p; p=$(pod_of "$1")
	[ -n "$p" ] && [ -n "$(agent_status "$p" '.state.running.startedAt')" ]
}
for how in cli annotation; do
	task "stop-$how" sleeper
	wait_for 120 running_on_node "stop-$how"
	check "stop ($how): the agent container runs on the real node" running_on_node "stop-$how"
	job=$(job_of "stop-$how")
	if [ $how = cli ]; then
		"$PADDOCK_BIN" stop -n "$NS" "stop-$how" >/dev/null
	else
		kc -n "$NS" annotate task "stop-$how" paddock.dev/stop=true >/dev/null
	fi
	wait_for 60 phase_is "stop-$how" Stopped
	check "stop ($how): Running -> Stopped (phase $(phase "stop-$how"))" phase_is "stop-$how" Stopped
	wait_for 60 pod_gone "$job"
	check "stop ($how): the real pod is deleted" pod_gone "$job"
done

# ---- deleting the Task garbage-collects its Job and Pod ---------------------------
task gc sleeper
wait_for 120 running_on_node gc
job=$(job_of gc)
check "gc: the Job's pod runs on the real node" running_on_node gc
kc -n "$NS" delete task gc --wait=false >/dev/null
wait_for 60 job_gone "$job"
check "gc: deleting the Task deletes the Job" job_gone "$job"
wait_for 60 pod_gone "$job"
check "gc: ... and its real pod" pod_gone "$job"

# ---- from inside a real pod: what the agent can reach ------------------------------
# The payload proves it ran (uid, then each probe's outcome in a file);
# the checks want: no service account token, no capabilities, no
# privilege escalation, and neither the API server nor the kubelet
# reachable (they listen on the host's 127.0.0.1, the pod's loopback is
# its own and the bridge has no host address).
. "$cluster/ports.env"
KUBELET_PORT=$(sed -n 's/^port: //p' "$cluster/real/kubelet.yaml")
agent probe 'bash -c '"'"'
probe() { if timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; then echo "$3=open"; else echo "$3=closed"; fi; }
{
echo "uid=$(id -u)"
echo "token=$(ls /var/run/secrets/kubernetes.io/serviceaccount 2>/dev/null | tr "\n" " ")"
echo "capeff=$(sed -n "s/^CapEff:[[:space:]]*//p" /proc/self/status)"
echo "nnp=$(sed -n "s/^NoNewPrivs:[[:space:]]*//p" /proc/self/status)"
probe 127.0.0.1 '"$APISERVER_PORT"' apiserver-loopback
probe 127.0.0.1 '"$KUBELET_PORT"' kubelet-loopback
for ip in $(getent ahostsv4 kubernetes.default.svc 2>/dev/null | cut -d" " -f1 | sort -u) 10.96.0.1; do probe "$ip" 443 "service-$ip"; done
} > probe.txt; cat probe.txt'"'"
task probe probe "  outputs: {parameters: [{name: probe, path: probe.txt}]}"
wait_for 120 phase_is probe Succeeded
report_pod probe
pr=$(kc -n "$NS" get task probe -o jsonpath='{.status.outputs.probe}' | tr '\n' ' ')
echo "# probe: $pr"
check "probe: the payload ran in the real pod as uid 1000" bash -c "grep -q 'uid=1000' <<<'$pr'"
check "probe: no service account token in the pod" bash -c "grep -q 'token= ' <<<'$pr ' && ! grep -q 'token=[a-z]' <<<'$pr'"
check "probe: no effective capabilities, no_new_privs set" bash -c \
	"grep -q 'capeff=0000000000000000' <<<'$pr' && grep -q 'nnp=1' <<<'$pr'"
check "probe: the API server and the kubelet on the host's 127.0.0.1 are out of reach" bash -c \
	"grep -q 'apiserver-loopback=closed' <<<'$pr' && grep -q 'kubelet-loopback=closed' <<<'$pr' && ! grep -q '=open' <<<'$pr'"

# ---- the four agent CLIs (REAL_CLIS="" skips them) ---------------------------------
if [ -n "${REAL_CLIS-x}" ]; then
	# shellcheck source=tests/k8s/real/test-agents.sh
	. "$HERE/test-agents.sh"
fi

# ---- the Helm chart -----------------------------------------------------------------
CHART=$TOP_SRCDIR/etc/kubernetes/chart
helm() { "$REAL_BIN/helm" "$@"; }
check "helm lint etc/kubernetes/chart" bash -c "'$REAL_BIN/helm' lint '$CHART' >'$work/helm-lint.log' 2>&1"
check "helm template | kubectl apply --dry-run=server (default values)" bash -c \
	"'$REAL_BIN/helm' template paddock '$CHART' -n paddock-system 2>/dev/null |
	 kubectl apply --dry-run=server -f - >'$work/helm-dry.log' 2>&1"
# The dashboard's ports the chart renders for a dashboard.listen:
# "service=PORT container=PORT", "none" for a port left out.
chart_dashboard_ports() {
	"$REAL_BIN/helm" template paddock "$CHART" --set config.dashboard.listen="$1" 2>/dev/null |
		python3 -c 'import sys, yaml
d = [o for o in yaml.safe_load_all(sys.stdin) if o]
def port(ports, key):
    return next((str(p[key]) for p in ports if p["name"] == "dashboard"), "none")
svc = next(o for o in d if o["kind"] == "Service")
dep = next(o for o in d if o["kind"] == "Deployment")
print("service=" + port(svc["spec"]["ports"], "port"),
      "container=" + port(dep["spec"]["template"]["spec"]["containers"][0].get("ports", []), "containerPort"))'
}
check "the chart's Service and containerPort follow config.dashboard.listen" \
	test "$(chart_dashboard_ports 127.0.0.1:9777)" = "service=9777 container=9777"
check "the chart declares no dashboard port for config.dashboard.listen port 0" \
	test "$(chart_dashboard_ports 127.0.0.1:0)" = "service=none container=none"
check "the chart renders the same RBAC rules and controller container as paddock install" \
	python3 "$HERE/chart-vs-install.py" "$REAL_BIN/helm" "$CHART" "$PADDOCK_BIN"

# ---- the controller in the cluster: the chart's Deployment, two replicas ------------
# The API server listens on 127.0.0.1 only and pods on the bridge cannot
# reach the host: the replicas use hostNetwork (so their namespace is
# privileged; the runs' namespace stays restricted) and KUBERNETES_SERVICE_HOST
# 127.0.0.1.  controller.listen 127.0.0.1:0: two replicas on one node's
# network cannot share a fixed port, so the probes are off here.
for p in "${ctl_pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
ctl_pids=()
# shellcheck disable=SC1091
. "$cluster/ports.env"
CTL_NS=paddock-ctl
kc create namespace "$CTL_NS" >/dev/null
kc label namespace "$CTL_NS" pod-security.kubernetes.io/enforce=privileged >/dev/null
cat >"$work/values.yaml" <<YML
image: {repository: "${IMG_CONTROLLER%:*}", tag: "${IMG_CONTROLLER##*:}"}
replicas: 2
hostNetwork: true
probes: {enabled: false}
extraEnv:
  - {name: KUBERNETES_SERVICE_HOST, value: "127.0.0.1"}
  - {name: KUBERNETES_SERVICE_PORT, value: "$APISERVER_PORT"}
nodeSelector: {paddock.dev/real-node: "true"}
tolerations: [{key: paddock.dev/real-node, operator: Exists, effect: NoSchedule}]
config:
  backend: kubernetes
  log: {level: info}
  controller: {listen: "127.0.0.1:0"}
  dashboard: {listen: "127.0.0.1:0"}   # the chart's 9465 would collide on the host network
  limits: {maxConcurrentTasks: 20, defaultTaskTimeout: 10m}
  resources: {limits: {cpu: "1", memory: 1Gi}, requests: {cpu: 100m, memory: 64Mi}}
  drivers: {exec: {enabled: true}}
  contexts: {text: {enabled: true}}
YML
helm install paddock "$CHART" -n "$CTL_NS" -f "$work/values.yaml" >"$work/helm-install.log" 2>&1
check "helm install: the chart installs (image $IMG_CONTROLLER)" test $? -eq 0
ctl_ready() { [ "$(kc -n "$CTL_NS" get deploy paddock-controller -o jsonpath='{.status.readyReplicas}' 2>/dev/null)" = 2 ]; }
wait_for 120 ctl_ready
check "the Deployment has 2 ready replicas on the real node" ctl_ready
kc -n "$CTL_NS" get pods -o wide 2>&1 | sed 's/^/# /'
lease_holder() { kc -n "$CTL_NS" get lease paddock-controller -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
wait_for 60 test -n "$(lease_holder)"
leader=$(lease_holder)
check "a replica pod holds the Lease (holder: ${leader:-none})" bash -c \
	"kubectl -n $CTL_NS get pod '$leader' >/dev/null 2>&1"

task incluster hello
wait_for 120 phase_is incluster Succeeded
report_pod incluster
check "in-cluster controller: an exec Task runs to Succeeded on the real node" phase_is incluster Succeeded
check "... handled by the leader pod" bash -c \
	"kubectl -n $CTL_NS logs '$leader' | grep -qE 'task=incluster|\"task\":\"incluster\"'"

# SIGKILL of the leader's container process while runs are being created
# and running: the standby takes the Lease; every Task ends Succeeded with
# exactly one Job and one pod.
agent quick 'sleep 6; echo "ran $(uname -n)"'
for i in 1 2 3 4 5 6; do task "fo-$i" quick; done
sleep 1
cid=$(kc -n "$CTL_NS" get pod "$leader" -o jsonpath='{.status.containerStatuses[0].containerID}')
cid=${cid#containerd://}
sock=$(sed -n 's/^SOCKDIR=//p' "$cluster/real/id.env")/containerd.sock
lpid=
[ -n "$cid" ] && lpid=$(ctr -a "$sock" -n k8s.io tasks ls 2>/dev/null | awk -v c="$cid" '$1 == c { print $2 }')
echo "# failover: leader $leader container ${cid:0:12} pid ${lpid:-?}: SIGKILL"
check "the leader's controller process is found on the node" test -n "$lpid"
unfinished=0
for i in 1 2 3 4 5 6; do phase_is "fo-$i" Succeeded || unfinished=$((unfinished + 1)); done
[ -n "$lpid" ] && kill -KILL "$lpid"
echo "# failover: $unfinished of the 6 Tasks unfinished at the SIGKILL"
check "runs were in flight when the leader was killed" test "$unfinished" -gt 0
# The kubelet restarts the killed container; the restarted process has the
# same identity (the pod name) and may take the Lease again, or the
# standby takes it: either way a live replica must lead.
restarts() { kc -n "$CTL_NS" get pod "$leader" -o jsonpath='{.status.containerStatuses[0].restartCount}' 2>/dev/null; }
recovered() {
	local h; h=$(lease_holder)
	[ -n "$h" ] && { [ "$h" != "$leader" ] || [ "$(restarts)" -ge 1 ] 2>/dev/null; }
}
wait_for 90 recovered
check "after the SIGKILL a live replica leads (holder $(lease_holder), killed container restarts $(restarts))" recovered
all_done() { local i; for i in 1 2 3 4 5 6; do phase_is "fo-$i" Succeeded || return 1; done; }
wait_for 180 all_done
for i in 1 2 3 4 5 6; do echo "# fo-$i: $(phase "fo-$i")"; done
check "failover: the 6 Tasks all Succeeded (none lost)" all_done
one_each() {
	local i n
	for i in 1 2 3 4 5 6; do
		n=$(kc -n "$NS" get jobs -o json | python3 -c '
import json, sys
print(sum(1 for j in json.load(sys.stdin)["items"]
          for o in j["metadata"].get("ownerReferences", []) if o["name"] == sys.argv[1]))' "fo-$i")
		[ "$n" = 1 ] || { echo "  fo-$i has $n Jobs" >&2; return 1; }
		n=$(kc -n "$NS" get pods -l "job-name=$(job_of "fo-$i")" -o name | wc -l)
		[ "$n" = 1 ] || { echo "  fo-$i has $n pods" >&2; return 1; }
	done
}
check "failover: exactly one Job and one pod per Task (none duplicated)" one_each

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
