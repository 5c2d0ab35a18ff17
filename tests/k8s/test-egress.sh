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
#   - the Job controller's pod exists (no FailedCreate);
#   - with kubernetes.networkPolicy: the run's NetworkPolicy, admitted by
#     the API server: it selects the run's pod, no ingress, egress to
#     kube-dns and the allowlist's addresses and ports only (an
#     allowlisted metadata address left out), owned by the Task and gone
#     once the Task is deleted; describe says it is in place.  With the
#     setting off (a second controller), a run has none;
#   - a run whose sidecar's log (served by kwok from env.sh egress-log)
#     holds refusals, allowed requests, a rejected count, garbage and the
#     summary: the controller reads it when the run ends and records an
#     EgressDenied Event per host, port and rule with its count and an
#     EgressRejected for the 400s on the Task, and
#     paddock_egress_{denied,requests,bytes}_total on its /metrics;
#     describe task shows the per-host table from the same log.
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
	: | "$HERE/env.sh" egress-log "$envdir" >/dev/null 2>&1
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
kubernetes: {kubeconfig: "$KUBECONFIG", leaseNamespace: $NS-system, namespace: $NS, proxyImage: "paddock/controller:test", networkPolicy: true}
network: {egress: allowlist, allow: [pkg.example, "203.0.113.7", "198.51.100.9:8443", "169.254.169.254"]}
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
# A Task $1 of Agent coder with prompt $2.
new_task() {
	kc -n "$NS" apply -f - >/dev/null <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: $1}
spec: {agentRef: {name: coder}, prompt: "$2"}
EOT
}
# The Job name of task $1, once it has one (60 s).
job_of() {
	local j=
	for _ in $(seq 300); do
		j=$(kc -n "$NS" get task "$1" -o jsonpath='{.status.jobName}' 2>/dev/null)
		[ -n "$j" ] && break
		sleep 0.2
	done
	echo "$j"
}
job=$(job_of fenced)
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

# kubernetes.networkPolicy: the run's NetworkPolicy, accepted by the API
# server, selecting the run's pod, DNS and the allowlist's addresses only
# (the metadata address left out although allowlisted), owned by the Task.
uid=$(kc -n "$NS" get task fenced -o jsonpath='{.metadata.uid}')
kc -n "$NS" get networkpolicy "$job" -o json >"$work/np.json" 2>"$work/np.err"
check "the run has a NetworkPolicy named like its Job, accepted by the API server" test -s "$work/np.json"
kc -n "$NS" get "$pod" -o json >"$work/pod-live.json" 2>/dev/null
check "the NetworkPolicy selects the run's pod by its task uid; no ingress; egress to kube-dns and the allowlist's addresses only" \
	python3 - "$work/np.json" "$work/pod-live.json" "$uid" <<'PY'
import json, sys
np = json.load(open(sys.argv[1])); pod = json.load(open(sys.argv[2])); uid = sys.argv[3]
spec = np["spec"]; errs = []
sel = spec["podSelector"].get("matchLabels", {})
if sel != {"paddock.dev/task-uid": uid}: errs.append("podSelector %r" % sel)
if pod["metadata"]["labels"].get("paddock.dev/task-uid") != uid: errs.append("the pod does not carry the label")
if sorted(spec.get("policyTypes", [])) != ["Egress", "Ingress"]: errs.append("policyTypes %r" % spec.get("policyTypes"))
if spec.get("ingress"): errs.append("ingress %r" % spec.get("ingress"))
refs = np["metadata"].get("ownerReferences", [])
if not any(r.get("kind") == "Task" and r.get("uid") == uid for r in refs): errs.append("owner %r" % refs)
eg = spec.get("egress", [])
dns = [r for r in eg if any(p.get("podSelector", {}).get("matchLabels") == {"k8s-app": "kube-dns"} for p in r.get("to", []))]
if not dns or sorted((p["protocol"], p["port"]) for p in dns[0]["ports"]) != [("TCP", 53), ("UDP", 53)]: errs.append("no DNS rule: %r" % eg)
blocks = {}
for r in eg:
    for p in r.get("to", []):
        if "ipBlock" in p:
            blocks.setdefault(p["ipBlock"]["cidr"], set()).update(x["port"] for x in r["ports"])
if blocks.get("203.0.113.7/32") != {80, 443}: errs.append("203.0.113.7: %r" % blocks)
if blocks.get("198.51.100.9/32") != {8443}: errs.append("198.51.100.9:8443: %r" % blocks)
if any(c.startswith("169.254.") for c in blocks): errs.append("the metadata address is in the policy: %r" % blocks)
if any(c in ("0.0.0.0/0", "::/0") or "except" in json.dumps(eg) for c in blocks): errs.append("a wide block: %r" % blocks)
print("\n".join(errs)); sys.exit(1 if errs else 0)
PY
"$PADDOCK_BIN" describe task fenced -n "$NS" >"$work/describe.out" 2>&1
check "describe task says the NetworkPolicy is in place" grep -q "^NetworkPolicy: in place ($job)" "$work/describe.out"
"$PADDOCK_BIN" describe agent coder -n "$NS" >"$work/describe-agent.out" 2>&1
check "describe agent says its runs get one" grep -q "^NetworkPolicy: one per run" "$work/describe-agent.out"

# An Agent narrowed to egress: none has no sidecar, and its runs get the
# narrowest policy, not the pod network: DNS only (no git host here).
kc -n "$NS" apply -f - >/dev/null <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: closed}
spec:
  type: claude-code
  credentials: {type: api-key, secretRef: {name: anthropic}}
  network: {egress: none}
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: shut}
spec: {agentRef: {name: closed}, prompt: "fix it"}
EOT
jobn=$(job_of shut)
kc -n "$NS" get networkpolicy "$jobn" -o json >"$work/np-none.json" 2>"$work/np-none.err"
check "an egress: none run ($jobn) gets a NetworkPolicy too: DNS only, no ipBlock, no ingress" \
	python3 -c '
import json, sys
np = json.load(open(sys.argv[1])); eg = np["spec"]["egress"]
ok = len(eg) == 1 and all("ipBlock" not in p for r in eg for p in r.get("to", [])) and not np["spec"].get("ingress")
sys.exit(0 if ok else print(json.dumps(np["spec"])) or 1)' "$work/np-none.json"
"$PADDOCK_BIN" describe task shut -n "$NS" >"$work/describe-none.out" 2>&1
check "describe task says so" grep -q "^NetworkPolicy: in place ($jobn): DNS and its git hosts only" "$work/describe-none.out"
kc -n "$NS" delete task shut --wait=false >/dev/null 2>&1
kc -n "$NS" delete task fenced --wait=false >/dev/null 2>&1
gone=
for _ in $(seq 300); do
	kc -n "$NS" get networkpolicy "$job" >/dev/null 2>&1 || { gone=1; break; }
	sleep 0.2
done
check "the NetworkPolicy is gone after the Task is deleted" test -n "$gone"

# The setting off (its default): no NetworkPolicy, and describe says so.
kill -9 "$ctl" 2>/dev/null; wait "$ctl" 2>/dev/null; ctl=
sed -i 's/, networkPolicy: true//' "$PADDOCK_CONFIG"
new_task unfenced "fix it"
POD_NAME=egress-test-2 "$PADDOCK_BIN" controller >"$work/controller2.log" 2>&1 &
ctl=$!
job2=$(job_of unfenced)
check "with kubernetes.networkPolicy off the run starts ($job2)" test -n "$job2"
sleep 1 # a policy would have been created before the Job
kc -n "$NS" get networkpolicies -o name >"$work/np2.out" 2>&1
check "and has no NetworkPolicy (the API server answered: $(kc -n "$NS" get networkpolicies 2>&1 | head -1))" \
	test ! -s "$work/np2.out"
"$PADDOCK_BIN" describe task unfenced -n "$NS" >"$work/describe2.out" 2>&1
check "describe task says there is none" grep -q "^NetworkPolicy: none (kubernetes.networkPolicy is off)" "$work/describe2.out"

# ---- the sidecar's log read back when the run ends ------------------------
# kwok serves $envdir/kwok/egress.log as every paddock-egress container's
# log (env.sh egress-log): the lines sidecar.c prints, refusals, allowed
# requests, a rejected count, its stderr and garbage, and its summary.
# (kwok ends a run at once with exit code 0; the agent log it serves is
# not claude's stream, so the Task fails on its output: either phase means
# the run was collected.)
ended() { case "$(kc -n "$NS" get task "$1" -o jsonpath='{.status.phase}' 2>/dev/null)" in Succeeded|Failed) ;; *) false ;; esac; }
for _ in $(seq 300); do ended unfenced && break; sleep 0.2; done
check "the previous run has ended (its sidecar's empty log read)" ended unfenced
{
	echo 'paddock __egress: serving 127.0.0.1:3128 (allowlist)'
	for _ in 1 2 3; do
		echo '{"host":"evil.example","port":443,"method":"CONNECT","rule":"","allowed":false,"status":403,"reason":"not in the allowlist","bytesUp":0,"bytesDown":0}'
	done
	echo '{"host":"169.254.169.254","port":80,"method":"GET","rule":"169.254.169.254","allowed":false,"status":403,"reason":"a link-local address","bytesUp":0,"bytesDown":0}'
	echo '{"host":"pkg.example","port":443,"method":"CONNECT","rule":"pkg.example","allowed":true,"status":200,"addr":"203.0.113.7:443","bytesUp":700,"bytesDown":41000}'
	echo '{"rejected":30,"status":400,"reason":"malformed request line"}'
	echo 'not json {{{'
	echo '{"summary":{"hosts":[{"host":"pkg.example","requests":4,"bytesUp":2800,"bytesDown":164000}],"rejected":{"badRequest":30,"timeout":0,"busy":0}}}'
} >"$work/egress-sidecar.log"
"$HERE/env.sh" egress-log "$envdir" "$work/egress-sidecar.log" >/dev/null 2>&1
new_task leaky "fetch it"
for _ in $(seq 300); do ended leaky && break; sleep 0.2; done
check "the run with refusals in its sidecar's log ends ($(kc -n "$NS" get task leaky -o jsonpath='{.status.phase}: {.status.message}'))" ended leaky
luid=$(kc -n "$NS" get task leaky -o jsonpath='{.metadata.uid}')
task_events() { kc -n "$NS" get events --field-selector "involvedObject.uid=$luid,reason=$1" \
	-o jsonpath='{range .items[*]}{.type} {.message}{"\n"}{end}'; }
for _ in $(seq 50); do [ -n "$(task_events EgressRejected)" ] && break; sleep 0.2; done
task_events EgressDenied >"$work/denied.out"
task_events EgressRejected >"$work/rejected.out"
check "an EgressDenied Event per refused host, port and rule, with its count ($(tr '\n' '|' <"$work/denied.out"))" \
	bash -c "[ \$(wc -l <'$work/denied.out') = 2 ] &&
		grep -qx 'Warning egress refused evil.example:443 (not in the allowlist; rule: -), times: 3' '$work/denied.out' &&
		grep -qx 'Warning egress refused 169.254.169.254:80 (a link-local address; rule: 169.254.169.254)' '$work/denied.out'"
check "one EgressRejected Event for the 400s ($(cat "$work/rejected.out"))" \
	grep -qx 'Warning egress proxy answered 30 clients 400 before a target (last: malformed request line)' "$work/rejected.out"
"$PADDOCK_BIN" describe task leaky -n "$NS" >"$work/describe3.out" 2>&1
check "describe task lists them" grep -q "egress refused evil.example:443" "$work/describe3.out"
check "describe task shows the traffic table from the sidecar's summary" \
	grep -Eq '^  pkg\.example +4 req +2\.7 KiB up +160\.2 KiB down' "$work/describe3.out"
port=$(sed -n 's/.*metrics endpoint listening.* port=\([0-9]*\).*/\1/p' "$work/controller2.log" | tail -1)
curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics.out" 2>&1
check "paddock_egress_denied_total on the controller's /metrics, by Agent and host" \
	grep -qx "paddock_egress_denied_total{agent=\"$NS/coder\",host=\"evil.example\"} 3" "$work/metrics.out"
check "paddock_egress_requests_total and _bytes_total from the sidecar's summary" bash -c "
	grep -qx 'paddock_egress_requests_total{agent=\"$NS/coder\",host=\"pkg.example\"} 4' '$work/metrics.out' &&
	grep -qx 'paddock_egress_bytes_total{agent=\"$NS/coder\",host=\"pkg.example\",direction=\"down\"} 164000' '$work/metrics.out'"
check "the key's value is in no Event or controller log" bash -c \
	"kc() { $KUBECTL --kubeconfig '$KUBECONFIG' \"\$@\"; }; ! { kc -n '$NS' get events -o json; cat '$work/controller2.log'; } | grep -qF '$key'"
: | "$HERE/env.sh" egress-log "$envdir" >/dev/null 2>&1
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
