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
cat >"$PADDOCK_CONFIG" <<YML
backend: kubernetes
log: {level: info}
controller: {listen: "127.0.0.1:0"}
kubernetes: {kubeconfig: "$KUBECONFIG", leaseNamespace: paddock-system}
limits: {maxConcurrentTasks: 20, defaultTaskTimeout: 10m}
drivers: {exec: {enabled: true}}
contexts: {text: {enabled: true}}
YML
POD_NAME=real-host-replica "$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 &
ctl_pids+=($!)

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

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
