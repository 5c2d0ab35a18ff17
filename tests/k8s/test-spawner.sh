#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/k8s/test-spawner.sh [KUBECONFIG] - Spawners' webhooks on the
# Kubernetes backend (docs/triggers.md), against a real kube-apiserver:
# two controller replicas (the standby serves webhooks too), real GitHub
# payloads from npm @octokit/webhooks-examples signed here.
#   - 50 deliveries of one event, alternating between the two replicas:
#     one Task (the API server refuses the second create of its name);
#   - a bad or missing signature: 401, nothing made;
#   - a filtered event: nothing made;
# Schedules and Budgets: tests/k8s/test-schedule-budget.sh; the github
# source: tests/k8s/test-github.sh.
#
# Needs a running test cluster (tests/k8s/env.sh start DIR); env as
# tests/k8s/test-cli.sh.  Prints "ok"/"not ok" per check.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/script-env.sh"
export PADDOCK_DATA_DIR=$SRC
K() { "$KUBECTL" --kubeconfig "$KUBECONFIG" --request-timeout=20s "$@"; }
EXAMPLES_CACHE=${EXAMPLES_CACHE:-$HOME/.cache/paddock/npm-webhooks}
EX=$EXAMPLES_CACHE/node_modules/@octokit/webhooks-examples
if [ ! -f "$EX/api.github.com/index.json" ]; then
	mkdir -p "$EXAMPLES_CACHE"
	npm install --no-audit --no-fund --prefix "$EXAMPLES_CACHE" @octokit/webhooks-examples@7 >/dev/null 2>&1 ||
		{ echo "ok - SKIP: npm install @octokit/webhooks-examples failed"; exit 0; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-k8s-spawner.XXXXXX")
ns=spawn-$$
pids=()
passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
nok() { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	K delete namespace "$ns" --wait=false >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

K apply -f "$SRC/etc/kubernetes/crds.yaml" >/dev/null &&
	K wait --for condition=established --timeout=60s crd/spawners.paddock.dev >/dev/null ||
	{ echo "not ok - the Spawner CRD is not established"; exit 1; }
K create namespace "$ns" >/dev/null
K get namespace paddock-system >/dev/null 2>&1 || K create namespace paddock-system >/dev/null
export PADDOCK_CONFIG=$work/paddock.yaml
cat >"$PADDOCK_CONFIG" <<EOF
backend: kubernetes
log: {level: info}
controller: {listen: "127.0.0.1:0"}
kubernetes: {kubeconfig: "$KUBECONFIG", namespace: $ns, leaseNamespace: paddock-system}
drivers: {exec: {enabled: true}}
EOF
for r in a b; do
	POD_NAME=hook-$r-$$ "$P" controller >>"$work/$r.log" 2>&1 &
	pids+=($!)
done
port() { sed -n 's/.*metrics endpoint listening.* port=\([0-9]*\).*/\1/p' "$work/$1.log" | tail -1; }
for _ in $(seq 100); do [ -n "$(port a)" ] && [ -n "$(port b)" ] && break; sleep 0.1; done

secret="k8s-hook-secret"
"$P" apply -f - >/dev/null <<EOF || { echo "not ok - paddock apply of the Spawner"; exit 1; }
apiVersion: v1
kind: Secret
metadata: {name: hook, namespace: $ns}
stringData: {webhookSecret: "$secret"}
---
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: triage, namespace: $ns}
spec:
  taskTemplate:
    spec: {type: exec, prompt: "Fix #{{ event.issue.number }}: {{ event.issue.title }}"}
  webhook: {secretRef: {name: hook}, events: [issues], actions: [opened]}
EOF
check "paddock get spawners lists it" bash -c "'$P' get spawners -n $ns | grep -q '^triage .*webhook:github'"

SEND="python3 $SRC/tests/webhook-send.py $EX"
hook=/hooks/$ns/triage
for i in $(seq 50); do
	r=$([ $((i % 2)) -eq 0 ] && echo a || echo b)
	$SEND "$work/$r.log" "$hook" "$secret" issues opened dup-1
done >"$work/dup.out" 2>&1
tasks() { K -n "$ns" get tasks -o name 2>/dev/null | wc -l; }
check "50 deliveries to two replicas: one 202 accepted, 49 200 duplicate, one Task" bash -c \
	"[ \$(grep -c '^202 accepted' '$work/dup.out') -eq 1 ] && [ \$(grep -c '^200 duplicate' '$work/dup.out') -eq 49 ] && [ \$(K() { '$KUBECTL' --kubeconfig '$KUBECONFIG' \"\$@\"; }; K -n $ns get tasks -o name | wc -l) -eq 1 ]"
check "the Task carries the event: prompt rendered, labelled by its Spawner" bash -c \
	"'$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get tasks -l paddock.dev/spawner=triage -o jsonpath='{.items[0].spec.prompt}' | grep -q '^Fix #1: Spelling error in the README file$'"
check "a bad signature and none: 401, nothing made" bash -c \
	"$SEND '$work/a.log' $hook '$secret' issues opened bad-1 --sig bad | grep -q '^401 ' &&
	 $SEND '$work/b.log' $hook '$secret' issues opened bad-2 --sig none | grep -q '^401 ' &&
	 $SEND '$work/a.log' $hook 'wrong' issues opened bad-3 | grep -q '^401 ' &&
	 [ \$('$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get tasks -o name | wc -l) -eq 1 ]"
check "a filtered event (issues edited): 202 filtered, nothing made" bash -c \
	"$SEND '$work/a.log' $hook '$secret' issues edited f-1 | grep -q '^202 filtered: action edited' &&
	 [ \$('$KUBECTL' --kubeconfig '$KUBECONFIG' -n $ns get tasks -o name | wc -l) -eq 1 ]"
check "an oversized body: 413" bash -c "$SEND '$work/b.log' $hook '$secret' issues opened big-1 --pad 2000000 | grep -q '^413 '"
check "the webhook secret is in no controller log" bash -c "! grep -qF '$secret' '$work/a.log' '$work/b.log'"
echo "# $passed passed, $failed failed"
[ $failed -eq 0 ]
