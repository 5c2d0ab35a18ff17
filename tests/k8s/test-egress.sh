#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/k8s/test-egress.sh KUBECONFIG - the egress sidecar on Kubernetes
# (issue 12): a controller of its own with kubernetes.proxyImage and
# network.egress allowlist, in a namespace labelled
# pod-security.kubernetes.io/enforce: restricted, runs a claude-code Task
# whose key is in a Secret.  Checked against the real API server:
#   - the Job has the sidecar "paddock-egress" (an init container with
#     restartPolicy Always) holding the key as a secretKeyRef, and the
#     agent container has no secretKeyRef at all: a placeholder, the
#     proxy's endpoint and the proxy variables;
#   - the key's value is nowhere in the Job;
#   - the API server admits the Job's pod under "restricted" (a
#     server-side dry run of a Pod from the Job's template), and refuses a
#     plain pod there (the policy is really enforced);
#   - the Job controller's pod exists (no FailedCreate).
# Prints "ok - ..."/"not ok - ..." and "N passed, N failed".
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$HERE/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR/_build}
PADDOCK_BIN=${PADDOCK_BIN:-$TOP_BUILDDIR/core/paddock}
KUBECONFIG=${1:?usage: $0 KUBECONFIG}
KUBECONFIG=$(cd "$(dirname "$KUBECONFIG")" && pwd)/$(basename "$KUBECONFIG")
export KUBECONFIG
envdir=$(dirname "$KUBECONFIG")
K8S_BIN=$(sed -n 's/^K8S_BIN=//p' "$envdir/ports.env" 2>/dev/null)
KUBECTL=kubectl
[ -n "$K8S_BIN" ] && [ -x "$K8S_BIN/kubectl" ] && KUBECTL=$K8S_BIN/kubectl
kc() { timeout -k 5 60 "$KUBECTL" --kubeconfig "$KUBECONFIG" --request-timeout=20s "$@"; }

NS=egress-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-k8s-egress.XXXXXX")
passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
nok() { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
ctl=
cleanup() {
	[ -n "$ctl" ] && kill -9 "$ctl" 2>/dev/null
	kc delete namespace "$NS" "$NS-system" --wait=false >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

export HOME=$work/home PADDOCK_STATE_DIR=$work/state
mkdir -p "$HOME"
kc apply -f "$TOP_SRCDIR/etc/kubernetes/crds.yaml" >/dev/null
kc create namespace "$NS" >/dev/null && kc create namespace "$NS-system" >/dev/null || { nok "namespaces"; exit 1; }
kc label namespace "$NS" pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest >/dev/null
until kc -n "$NS" get serviceaccount default >/dev/null 2>&1; do sleep 0.2; done

key="sk-egress-k8s-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export PADDOCK_CONFIG=$work/paddock.yaml
export PADDOCK_PLUGIN_PATH=$TOP_BUILDDIR/drivers/.libs:$TOP_BUILDDIR/contexts/.libs
export PADDOCK_DATA_DIR=$TOP_SRCDIR
cat >"$PADDOCK_CONFIG" <<EOT
backend: kubernetes
log: {level: info}
controller: {listen: "127.0.0.1:0"}
kubernetes: {kubeconfig: "$KUBECONFIG", leaseNamespace: $NS-system, namespace: $NS, proxyImage: "paddock/controller:test"}
network: {egress: allowlist, allow: [pkg.example]}
drivers: {claude-code: {enabled: true, settings: {image: "paddock/agent-claude-code:test"}}}
EOT
kc -n "$NS" apply -f - >/dev/null <<EOT
apiVersion: v1
kind: Secret
metadata: {name: anthropic}
stringData: {apiKey: "$key"}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: coder}
spec:
  type: claude-code
  credentials: {type: api-key, secretRef: {name: anthropic}}
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: fenced}
spec: {agentRef: {name: coder}, prompt: "fix it"}
EOT
POD_NAME=egress-test "$PADDOCK_BIN" controller >"$work/controller.log" 2>&1 &
ctl=$!
job=
for _ in $(seq 300); do
	job=$(kc -n "$NS" get task fenced -o jsonpath='{.status.jobName}' 2>/dev/null)
	[ -n "$job" ] && break
	sleep 0.2
done
[ -n "$job" ] || { nok "the Task got no Job: $(tail -5 "$work/controller.log")"; echo "$passed passed, $failed failed"; exit 1; }
kc -n "$NS" get job "$job" -o json >"$work/job.json"
check "the Job has the sidecar with the key, and the agent container no credential reference" \
	python3 - "$work/job.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
pod = j["spec"]["template"]["spec"]
init = pod.get("initContainers", [])
sc = [c for c in init if c["name"] == "paddock-egress"]
errs = []
if len(sc) != 1:
    errs.append("no paddock-egress init container")
else:
    sc = sc[0]
    if sc.get("restartPolicy") != "Always": errs.append("sidecar restartPolicy %r" % sc.get("restartPolicy"))
    if sc.get("command") != ["paddock", "__egress"]: errs.append("sidecar command %r" % sc.get("command"))
    refs = [e for e in sc.get("env", []) if e.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == "anthropic"]
    if len(refs) != 1: errs.append("the sidecar does not hold the key by reference")
    if "--allow" not in sc.get("args", []) or "pkg.example" not in sc.get("args", []): errs.append("sidecar args %r" % sc.get("args"))
    if init.index(sc) != len(init) - 1: errs.append("the sidecar is not the last init container")
agent = [c for c in pod["containers"] if c["name"] == "agent"][0]
env = {e["name"]: e for e in agent.get("env", [])}
if any("valueFrom" in e for e in env.values()): errs.append("the agent container has a valueFrom: %r" % [n for n, e in env.items() if "valueFrom" in e])
if not env.get("ANTHROPIC_API_KEY", {}).get("value", "").startswith("paddock-placeholder-"): errs.append("ANTHROPIC_API_KEY is not the placeholder")
if env.get("ANTHROPIC_BASE_URL", {}).get("value") != "http://127.0.0.1:3129": errs.append("ANTHROPIC_BASE_URL %r" % env.get("ANTHROPIC_BASE_URL"))
if env.get("HTTPS_PROXY", {}).get("value") != "http://127.0.0.1:3128": errs.append("no HTTPS_PROXY")
print("\n".join(errs))
sys.exit(1 if errs else 0)
PY
check "the key's value is nowhere in the Job" bash -c "! grep -qF '$key' '$work/job.json'"
python3 - "$work/job.json" "$NS" >"$work/pod.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
t = j["spec"]["template"]
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "dry-run-egress", "namespace": sys.argv[2], "labels": t["metadata"].get("labels", {})},
                  "spec": t["spec"]}))
PY
check "the API server admits the Job's pod (sidecar included) under pod-security restricted" \
	kc create --dry-run=server -f "$work/pod.json" -o name
kc -n "$NS" run plain-probe --image=busybox --dry-run=server >"$work/priv.out" 2>&1
check "the namespace really enforces restricted (a plain pod, root and no seccomp profile, is refused)" \
	grep -q 'violates PodSecurity "restricted' "$work/priv.out"
pod=
for _ in $(seq 100); do
	pod=$(kc -n "$NS" get pods -l "job-name=$job" -o name 2>/dev/null | head -1)
	[ -n "$pod" ] && break
	sleep 0.2
done
check "the Job controller created its pod in the restricted namespace ($pod)" test -n "$pod"
kc -n "$NS" get events -o json >"$work/events.json" 2>/dev/null
check "no FailedCreate for the Job" bash -c "! grep -q FailedCreate '$work/events.json'"
check "the key's value is in no Event or controller log" bash -c \
	"! grep -qF '$key' '$work/events.json' '$work/controller.log'"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
