#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/k8s/test-cli.sh [KUBECONFIG] - the task commands (run, apply, get,
# describe, logs, stop, delete) against a real kube-apiserver, as a user
# types them: paddock --kubeconfig FILE COMMAND ...
#
# Needs a running test cluster (tests/k8s/env.sh start DIR) and:
#   KUBECONFIG     its kubeconfig (or the first argument)
#   PADDOCK_BIN    the paddock binary (default: _build/core/paddock)
#   PADDOCK_PLUGIN_PATH  plugin directories; default: drivers/.libs and
#                  contexts/.libs next to a build tree's core/paddock
#   KUBECTL        kubectl (default: K8S_BIN of the env's ports.env, else PATH)
#
# Everything happens in fresh namespaces that are deleted at the end; the
# CRDs (etc/kubernetes/crds.yaml) are applied.  No controller is needed:
# the test writes status itself (kubectl patch --subresource=status), and
# kube-controller-manager + kwok turn Jobs into pods with logs.
# Prints "ok N - ..." / "not ok N - ..." and exits non-zero on a failure.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/script-env.sh"
K() { "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }

WORK=$(mktemp -d /tmp/paddock-test-cli.XXXXXX)
NS=pcli-$$-$RANDOM
NS2=$NS-b
SECRET_VALUE="sk-paddock-test-$RANDOM$RANDOM-do-not-print"
# Local state and the user's own config stay out of the way.
export HOME=$WORK/home PADDOCK_STATE_DIR=$WORK/state XDG_CONFIG_HOME=$WORK/home/.config
unset PADDOCK_NAMESPACE PADDOCK_API_KEY ANTHROPIC_API_KEY CLAUDE_CODE_OAUTH_TOKEN || true
mkdir -p "$HOME"
cat > "$WORK/paddock.yaml" <<EOF
isolation: none
drivers:
  exec:
    enabled: true
    settings: {command: "echo hello"}
  claude-code: {enabled: true}
contexts:
  text: {enabled: true}
EOF
export PADDOCK_CONFIG=$WORK/paddock.yaml

AGENT_LOG=$ENVDIR/kwok/agent.log
[ -f "$AGENT_LOG" ] && cp "$AGENT_LOG" "$WORK/agent.log.saved"
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	[ -f "$WORK/agent.log.saved" ] && cp "$WORK/agent.log.saved" "$AGENT_LOG"
	K delete namespace "$NS" "$NS2" --wait=false >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
# check DESC CMD...: ok when CMD succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d" "failed: $*"; fi; }
show() { sed 's/^/#     /' "$@"; }

# pd ARGS...: paddock against the cluster; stdout in $WORK/out, stderr in
# $WORK/err, exit status in $rc; every output also goes to $WORK/all.
pd() {
	"$P" --kubeconfig "$KUBECONFIG" "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	cat "$WORK/out" "$WORK/err" >> "$WORK/all"
	return 0
}
expect() { # expect DESC RC [grep-pattern-on-stdout+stderr]
	local d=$1 want=$2 pat=${3:-}
	if [ "$rc" -ne "$want" ]; then
		nok "$d" "exit $rc, expected $want"; echo "#   stdout:"; show "$WORK/out"; echo "#   stderr:"; show "$WORK/err"
	elif [ -n "$pat" ] && ! cat "$WORK/out" "$WORK/err" | grep -qE -- "$pat"; then
		nok "$d" "output does not match /$pat/"; echo "#   stdout:"; show "$WORK/out"; echo "#   stderr:"; show "$WORK/err"
	else
		ok "$d"
	fi
}
status() { # status TASK JSON: write the status as a controller would
	K -n "$NS" patch task "$1" --subresource=status --type=merge -p "{\"status\":$2}" >/dev/null
}
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done
}

# ---- setup ------------------------------------------------------------------

if ! K apply -f "$SRC/etc/kubernetes/crds.yaml" >"$WORK/crd.log" 2>&1; then
	echo "# kubectl apply -f etc/kubernetes/crds.yaml reported errors:"; show "$WORK/crd.log"
fi
check "Task CRD established" K wait --for=condition=Established crd/tasks.paddock.dev --timeout=30s
HAVE_AGENTS=0
K wait --for=condition=Established crd/agents.paddock.dev --timeout=10s >/dev/null 2>&1 && HAVE_AGENTS=1
K create namespace "$NS" >/dev/null && K create namespace "$NS2" >/dev/null
wait_for 30 K -n "$NS" get serviceaccount default

# ---- help -------------------------------------------------------------------

bad=
for c in run apply get describe logs stop delete; do
	"$P" "$c" --help | grep -q -- '--kubeconfig FILE \[--context NAME\]' || bad="$bad $c"
done
"$P" --help | grep -q -- '--kubeconfig FILE' || bad="$bad (paddock --help)"
check "every task command's --help names the cluster options" test -z "$bad"

# ---- apply --------------------------------------------------------------------

cat > "$WORK/bad.yaml" <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: good-one, namespace: $NS}
spec: {type: exec, prompt: hi}
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: bad-one, namespace: $NS}
spec: {type: exec, promt: hi}
EOF
pd apply -f "$WORK/bad.yaml"
expect "apply with a bad field fails" 1 'document 2: spec\.promt: unknown field: valid fields are'
"$P" apply -f "$WORK/bad.yaml" >/dev/null 2>"$WORK/local.err"
check "the error is the local backend's, word for word" diff "$WORK/local.err" "$WORK/err"
check "a file with an error creates nothing on the server" \
	test -z "$(K -n "$NS" get tasks -o name 2>&1)"

cat > "$WORK/good.yaml" <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: a1, namespace: $NS, labels: {team: one}}
spec: {type: exec, prompt: first}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1, namespace: $NS}
data: {notes.md: hello}
EOF
pd apply -f "$WORK/good.yaml"
expect "apply creates" 0 '^Task/a1 created$'
check "the Task is on the server as applied" \
	test "$(K -n "$NS" get task a1 -o jsonpath='{.spec.prompt}/{.metadata.labels.team}/{.spec.credentials.type}')" = "first/one/none"
sed -i 's/prompt: first/prompt: second/; s/team: one/team: two/' "$WORK/good.yaml"
pd apply -f "$WORK/good.yaml"
expect "apply again updates (configured)" 0 '^Task/a1 configured$'
rv=$(K -n "$NS" get task a1 -o jsonpath='{.metadata.resourceVersion}')
pd apply -f "$WORK/good.yaml"
expect "apply of the same file: unchanged" 0 '^Task/a1 unchanged$'
check "...for the ConfigMap too" grep -qx 'ConfigMap/cm1 unchanged' "$WORK/out"
check "...and nothing was written (resourceVersion)" \
	test "$(K -n "$NS" get task a1 -o jsonpath='{.metadata.resourceVersion}')" = "$rv"
check "the update replaced spec and labels" \
	test "$(K -n "$NS" get task a1 -o jsonpath='{.spec.prompt}/{.metadata.labels.team}/{.metadata.generation}')" = "second/two/2"
status a1 '{"phase":"Running","reason":"Started","message":"running"}'
sed -i 's/prompt: second/prompt: third/' "$WORK/good.yaml"
pd apply -f "$WORK/good.yaml"
expect "a started task's spec cannot change" 1 'task "'"$NS"'/a1" is Running: its spec cannot change once started'
check "...and its status was not touched" \
	test "$(K -n "$NS" get task a1 -o jsonpath='{.spec.prompt}/{.status.phase}')" = "second/Running"

# ---- run ----------------------------------------------------------------------

pd run --detach --type exec -p "say hi" --name r1 -n "$NS" --output greeting=greeting.txt --timeout 15m --context "some text"
expect "run submits the Task" 0 '^Task/r1 created$'
check "run built the Task like the local run (type, outputs, timeout, contexts)" \
	test "$(K -n "$NS" get task r1 -o jsonpath='{.spec.type}/{.spec.outputs.parameters[0].name}={.spec.outputs.parameters[0].path}/{.spec.timeout}/{.spec.contexts[0].text}')" = "exec/greeting=greeting.txt/15m/some text"
pd run --type exec -p "again" --name r1 -n "$NS"
expect "run with an existing name is refused" 1 'task "'"$NS"'/r1" already exists: pick another --name'

ANTHROPIC_API_KEY=$SECRET_VALUE pd run --detach --type claude-code -p "fix it" --name s1 -n "$NS"
expect "run --type claude-code with a key in the environment" 0 '^Task/s1 created$'
# The Secret is named by its content: the first 10 hex digits of SHA-256
# of the key name, a NUL and the value.
cred_secret() { printf '%s\0%s' "$1" "$2" | sha256sum | cut -c1-10 | sed 's/^/paddock-claude-code-credentials-/'; }
S1=$(cred_secret apiKey "$SECRET_VALUE")
S2=$(cred_secret apiKey "$SECRET_VALUE-2")
secret_rv() { K -n "$NS" get secret "$1" -o jsonpath='{.metadata.resourceVersion}'; }
check "the key is stored as Secret paddock-claude-code-credentials-HASH" \
	test "$(K -n "$NS" get secret "$S1" -o jsonpath='{.data.apiKey}' | base64 -d)" = "$SECRET_VALUE"
check "...immutable, labelled paddock.dev/credentials" \
	test "$(K -n "$NS" get secret "$S1" -o jsonpath='{.immutable}/{.metadata.labels.paddock\.dev/credentials}')" = "true/claude-code"
check "the Task references the Secret" \
	test "$(K -n "$NS" get task s1 -o jsonpath='{.spec.credentials.type}/{.spec.credentials.secretRef.name}')" = "api-key/$S1"
RV1=$(secret_rv "$S1")
ANTHROPIC_API_KEY=$SECRET_VALUE-2 pd run --detach --type claude-code -p "fix it" --name s2 -n "$NS"
expect "run with another key" 0 '^Task/s2 created$'
check "another key gets a Secret of its own" \
	test "$(K -n "$NS" get task s2 -o jsonpath='{.spec.credentials.secretRef.name}')/$(K -n "$NS" get secret "$S2" -o jsonpath='{.data.apiKey}' | base64 -d)" = "$S2/$SECRET_VALUE-2"
check "...and the Secret of the queued s1 still holds the first key, unchanged" \
	test "$(K -n "$NS" get secret "$S1" -o jsonpath='{.data.apiKey}' | base64 -d)/$(secret_rv "$S1")" = "$SECRET_VALUE/$RV1"
ANTHROPIC_API_KEY=$SECRET_VALUE pd run --detach --type claude-code -p "fix it" --name s3 -n "$NS"
expect "run with the first key again (its Secret exists: AlreadyExists is fine)" 0 '^Task/s3 created$'
check "...reuses that Secret, untouched" \
	test "$(K -n "$NS" get task s3 -o jsonpath='{.spec.credentials.secretRef.name}')/$(secret_rv "$S1")" = "$S1/$RV1"
check "two credentials Secrets for three runs with two keys" \
	test "$(K -n "$NS" get secrets -l paddock.dev/credentials=claude-code -o name | wc -l)" = 2
pd delete task s3 -n "$NS"
pd get task s1 -n "$NS" -o yaml
pd get secrets -n "$NS" -o yaml
expect "get secrets -o yaml redacts the values" 0 'apiKey: <redacted>'
pd get secret "$S1" -n "$NS" -o json
pd describe task s1 -n "$NS"
b64=$(printf %s "$SECRET_VALUE" | base64 -w0)
digest=$(printf 'apiKey\0%s' "$SECRET_VALUE" | sha256sum | cut -c1-64)
check "the key never appears in any output (plain, base64 or its full digest)" \
	bash -c "! grep -qF -e '$SECRET_VALUE' -e '$b64' -e '$digest' '$WORK/all'"

# ---- get ----------------------------------------------------------------------

pd get tasks -n "$NS"
expect "get tasks: the local table" 0 '^NAME +TYPE +PHASE +AGE'
check "...in creation order with type and phase" \
	test "$(awk 'NR>1 {print $1 ":" $2 ":" $3}' "$WORK/out" | tr '\n' ' ')" = "a1:exec:Running r1:exec:Pending s1:claude-code:Pending s2:claude-code:Pending "
pd get tasks -n "$NS" -o wide
expect "get -o wide adds reason and message" 0 '^a1 +exec +Running +[0-9]+s +Started +- +- +- +running$'
pd get tasks -n "$NS" -o name
expect "get -o name" 0 '^Task/r1$'
pd get tasks -n "$NS" -o json
check "get -o json is a List of Tasks with apiVersion and kind" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "List" and len(d["items"]) == 4, d
for it in d["items"]:
    assert it["apiVersion"] == "paddock.dev/v1alpha1" and it["kind"] == "Task", it
    assert "managedFields" not in it["metadata"]
' "$WORK/out"
pd get task r1 -n "$NS" -o yaml
expect "get task NAME -o yaml" 0 '^  name: r1$'
pd get tasks -A
expect "get -A has a NAMESPACE column" 0 "^$NS +r1 +exec +Pending"
pd get tasks -n "$NS2"
expect "an empty namespace" 0 "^No Tasks found in $NS2\.$"
pd get task nope -n "$NS"
expect "get of a missing task: exit 3" 3 "^paddock: task \"nope\" not found in namespace $NS$"
pd get task r1 -n "$NS" -o jsonpath='{.metadata.name} {.spec.type}'
check "get -o jsonpath of one task" test "$(cat "$WORK/out")" = "r1 exec"
pd get tasks -n "$NS" -o jsonpath='{.items[*].metadata.name}'
check "get -o jsonpath={.items[*].metadata.name}" test "$(cat "$WORK/out")" = "a1 r1 s1 s2"
pd get tasks -n "$NS" -o jsonpath='{range .items[*]}{.metadata.name}:{.spec.type}{"\n"}{end}'
check "get -o jsonpath={range .items[*]}...{end}" \
	test "$(cat "$WORK/out")" = "$(printf 'a1:exec\nr1:exec\ns1:claude-code\ns2:claude-code')"

# get -w: the tasks there, then a row for each change, from one watch.
"$P" --kubeconfig "$KUBECONFIG" get tasks -n "$NS" -w >"$WORK/w.out" 2>"$WORK/w.err" &
wpid=$!
wait_for 15 grep -q '^s2 ' "$WORK/w.out"; seen0=$?
status s2 '{"phase":"Running","reason":"Started","message":"running"}'
wait_for 15 grep -qE '^s2 +claude-code +Running' "$WORK/w.out"; seen1=$?
"$P" --kubeconfig "$KUBECONFIG" run --detach --type exec -p hi --name w1 -n "$NS" >/dev/null 2>&1
wait_for 15 grep -qE '^w1 +exec +Pending' "$WORK/w.out"; seen2=$?
kill -INT $wpid
end=$((SECONDS + 5)); while kill -0 $wpid 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.1; done
kill $wpid 2>/dev/null; wait $wpid; wrc=$?
cp "$WORK/w.out" "$WORK/out"; cp "$WORK/w.err" "$WORK/err"
check "get -w against the cluster: the tasks there, then a row for a status write and for a new task" \
	test "$seen0 $seen1 $seen2" = "0 0 0"
check "...each row once (an unchanged object is not printed again)" test -z "$(sort "$WORK/w.out" | uniq -d)"
check "...and SIGINT ends it, exit 0, nothing on stderr" test "$wrc:$(cat "$WORK/w.err")" = "0:"
"$P" --kubeconfig "$KUBECONFIG" delete task w1 -n "$NS" >/dev/null 2>&1
status s2 '{"phase":"Pending","reason":"","message":""}'

# ---- namespaces and contexts --------------------------------------------------------

PADDOCK_NAMESPACE=$NS pd get task r1
expect "\$PADDOCK_NAMESPACE is the default namespace" 0 '^r1 '
# the current context's namespace set to $NS (env.sh writes "    namespace:")
python3 - "$KUBECONFIG" "$WORK/kc-ns" "$NS" <<'PY'
import sys, re
src, dst, ns = sys.argv[1:]
t = open(src).read()
m = re.search(r"^contexts:\n- name: .*\n  context:\n((?:    .*\n)+)", t, re.M)
body = re.sub(r"    namespace: .*\n", "", m.group(1)) + "    namespace: %s\n" % ns
open(dst, "w").write(t[:m.start(1)] + body + t[m.end(1):])
PY
"$P" --kubeconfig "$WORK/kc-ns" get task r1 >"$WORK/out" 2>"$WORK/err"; rc=$?
expect "the kubeconfig context's namespace is the default" 0 '^r1 '
# a second context, chosen with --context
python3 - "$KUBECONFIG" "$WORK/kc-two" "$NS2" <<'PY'
import sys, re
src, dst, ns = sys.argv[1:]
t = open(src).read()
ctx = re.search(r"^current-context: *(\S+)", t, re.M).group(1)
m = re.search(r"^contexts:\n- name: .*\n  context:\n((?:    .*\n)+)", t, re.M)
body = re.sub(r"    namespace: .*\n", "", m.group(1)) + "    namespace: %s\n" % ns
t = t.replace("contexts:\n", "contexts:\n- name: other\n  context:\n" + body, 1)
open(dst, "w").write(t)
PY
"$P" --kubeconfig "$WORK/kc-two" --context other get tasks >"$WORK/out" 2>"$WORK/err"; rc=$?
expect "--context picks the context (and its namespace)" 0 "^No Tasks found in $NS2\.$"
cat > "$WORK/kube.yaml" <<EOF
backend: kubernetes
kubernetes:
  kubeconfig: $KUBECONFIG
  namespace: $NS
drivers:
  exec: {enabled: true, settings: {command: "echo hello"}}
EOF
"$P" -c "$WORK/kube.yaml" get task r1 >"$WORK/out" 2>"$WORK/err"; rc=$?
expect "backend: kubernetes and kubernetes.namespace in the config" 0 '^r1 '
"$P" get tasks >"$WORK/out" 2>"$WORK/err"; rc=$?
expect "without --kubeconfig nor backend: kubernetes, the local store" 0 '^No Tasks found in default\.$'

# ---- describe -----------------------------------------------------------------

status r1 '{"phase":"Running","reason":"Started","message":"the agent runs","runId":"run-1","startTime":"2030-01-02T03:04:06Z","jobName":"r1-job","runNamespace":"'"$NS"'"}'
uid=$(K -n "$NS" get task r1 -o jsonpath='{.metadata.uid}')
event() { # event REASON MESSAGE TIME: as the controller records them
	K create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Event","metadata":{"generateName":"r1.","namespace":"$NS"},
 "involvedObject":{"apiVersion":"paddock.dev/v1alpha1","kind":"Task","name":"r1","namespace":"$NS","uid":"$uid"},
 "reason":"$1","message":"$2","type":"Normal","firstTimestamp":"$3","lastTimestamp":"$3","count":1,
 "source":{"component":"paddock-controller"}}
EOF
}
event Started "Running: the agent runs" 2030-01-02T03:04:06Z
event Queued "Queued: waiting for a slot" 2030-01-02T03:04:05Z
pd describe task r1 -n "$NS"
expect "describe: phase, reason, message" 0 '^Phase: +Running$'
check "describe shows the Job" grep -qE "^Job: +$NS/r1-job$" "$WORK/out"
sed -n '/^Events:/,$p' "$WORK/out" > "$WORK/events"
check "describe lists the Task's Events in time order" test "$(sed -n '2,$p' "$WORK/events" | awk '{print $1 " " $3}' | tr '\n' ' ')" = "2030-01-02T03:04:05.000Z Queued 2030-01-02T03:04:06.000Z Started "
pd describe nope -n "$NS"
expect "describe of a missing task: exit 3" 3 "not found in namespace $NS"

# ---- run -w -------------------------------------------------------------------

watch_case() { # watch_case NAME FINAL_PHASE
	"$P" -v --kubeconfig "$KUBECONFIG" run --type exec -p hi --name "$1" -n "$NS" -w >"$WORK/w.out" 2>"$WORK/w.err" &
	local pid=$!
	wait_for 20 K -n "$NS" get task "$1" || return 1
	sleep 1
	status "$1" '{"phase":"Queued","reason":"Queued","message":"waiting"}'; sleep 1
	status "$1" '{"phase":"Running","reason":"Started","message":"running"}'; sleep 1
	status "$1" '{"phase":"'"$2"'","reason":"Done'"$2"'","message":"it is over"}'
	local end=$((SECONDS + 20))
	while kill -0 $pid 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
	kill $pid 2>/dev/null
	wait $pid; rc=$?
	cp "$WORK/w.out" "$WORK/out"; cp "$WORK/w.err" "$WORK/err"
}
watch_case w1 Succeeded
expect "run -w: exit 0 when Succeeded" 0
check "run -w prints a row per phase" \
	test "$(awk '{print $1 ":" $3}' "$WORK/out" | tr '\n' ' ')" = "NAME:PHASE w1:Pending w1:Queued w1:Running w1:Succeeded "
# -v logs each request: the list and the watch ask for this one Task only
check "run -w lists and watches only its Task (fieldSelector metadata.name)" \
	test "$(grep -cE 'msg="kube: (list|watch)" path="/apis/paddock.dev/v1alpha1/namespaces/'"$NS"'/tasks\?.*&fieldSelector=metadata.name%3Dw1"' "$WORK/err")" -ge 2 -a \
	"$(grep -E 'msg="kube: (list|watch)"' "$WORK/err" | grep -vc 'fieldSelector=metadata.name%3Dw1')" -eq 0
watch_case w2 Failed
expect "run -w: exit 1 when Failed, with the reason" 1 "task $NS/w2 Failed: DoneFailed: it is over"

# ---- logs ---------------------------------------------------------------------

status s1 '{"phase":"Queued","reason":"Queued","message":"waiting for a slot"}'
pd logs s1 -n "$NS"
expect "logs of a task that has not started: exit 3" 3 '^paddock: task s1 is Queued: no logs yet'
ts() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }
job() { # job NAME [RUN_TIME] [gated]: a Job whose pod kwok runs (container "agent");
	# gated: its pod stays Pending (a scheduling gate) until `ungate NAME`
	local gates=
	[ "${3:-}" = gated ] && gates="schedulingGates: [{name: paddock.dev/test-hold}]"
	K -n "$NS" create -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata: {name: $1}
spec:
  backoffLimit: 0
  template:
    metadata: {labels: {kwok.paddock.dev/run-time: "${2:-0s}"}}
    spec:
      restartPolicy: Never
      $gates
      containers: [{name: agent, image: busybox, command: ["true"]}]
EOF
}
job_pod() { K -n "$NS" get pods -l "batch.kubernetes.io/job-name=$1" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null; }
pod_phase() { K -n "$NS" get pods -l "batch.kubernetes.io/job-name=$1" -o jsonpath='{.items[0].status.phase}' 2>/dev/null; }
ungate() { K -n "$NS" patch pod "$(job_pod "$1")" --type=json -p '[{"op":"remove","path":"/spec/schedulingGates"}]' >/dev/null; }
running_task() { # running_task NAME JOB [run flags...]: a Task that (the test says) runs as JOB
	local t=$1 j=$2; shift 2
	"$P" --kubeconfig "$KUBECONFIG" run --detach --type exec -p hi --name "$t" -n "$NS" "$@" >/dev/null
	status "$t" '{"phase":"Running","reason":"Started","message":"running","jobName":"'"$j"'","runNamespace":"'"$NS"'"}'
}
# How many pod log requests the API server has answered (from its
# metrics; empty when they cannot be read).
log_requests() {
	K get --raw /metrics 2>/dev/null |
		awk '/^apiserver_request_total\{/ && /subresource="log"/ { s += $NF; n++ } END { if (n) print s }'
}
# wait_exit PID SECONDS: wait for PID to end (killed after SECONDS); its
# exit status in $rc.
wait_exit() {
	local end=$((SECONDS + $2))
	while kill -0 "$1" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.1; done
	kill "$1" 2>/dev/null; wait "$1"; rc=$?
}
if [ -d "$ENVDIR/kwok" ]; then
	printf '%s stdout F line one\n%s stdout F line two\n' "$(ts)" "$(ts)" > "$AGENT_LOG"
	job r1-job
	wait_for 30 bash -c "\"$KUBECTL\" --kubeconfig \"$KUBECONFIG\" -n $NS get pods -l batch.kubernetes.io/job-name=r1-job -o jsonpath='{.items[0].status.phase}' | grep -q Succeeded"
	pd logs r1 -n "$NS"
	expect "logs prints the agent container's log" 0
	check "...exactly" test "$(cat "$WORK/out")" = "$(printf 'line one\nline two')"
	pd logs r1 -n "$NS" --raw --tail 1
	check "logs --raw --tail 1 (tailLines)" test "$(cat "$WORK/out")" = "line two"
	pd logs r1 -n "$NS" --tail 1
	check "logs --tail 1 of the rendering" test "$(cat "$WORK/out")" = "line two"
	pd logs r1 -n "$NS" --timestamps
	check "logs --timestamps: each line with its time" \
		grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z line two$' "$WORK/out"
	pd logs r1 -n "$NS" --since 1h
	check "logs --since 1h (sinceSeconds)" test "$(cat "$WORK/out")" = "$(printf 'line one\nline two')"

	# A log over limits.logBytesPerRun: its head and its tail, the cut
	# marked between them (the final error is at the end).
	t0=$(ts)
	awk -v t="$t0" 'BEGIN { for (i = 0; i < 4000; i++) printf "%s stdout F line %d of a long log\n", t, i;
		printf "%s stdout F FATAL: the final error\n", t }' > "$AGENT_LOG"
	{ cat "$WORK/paddock.yaml"; echo "limits: {logBytesPerRun: 8Ki}"; } > "$WORK/small.yaml"
	PADDOCK_CONFIG=$WORK/small.yaml "$P" --kubeconfig "$KUBECONFIG" logs r1 -n "$NS" --raw >"$WORK/out" 2>"$WORK/err"; rc=$?
	expect "logs of a log over limits.logBytesPerRun" 0
	check "...its head, the cut marked, its tail to the final error, within the cap" bash -c '
		f=$1
		[ "$(head -n 1 "$f")" = "line 0 of a long log" ] &&
		grep -qx "\[paddock\] [0-9]* bytes cut here (limits.logBytesPerRun keeps the log.s head and tail)" "$f" &&
		[ "$(tail -n 1 "$f")" = "FATAL: the final error" ] &&
		grep -qx "line 3999 of a long log" "$f" &&
		[ "$(wc -c < "$f")" -le 8192 ]' _ "$WORK/out"

	# -f: one streaming request; each line shows up while the pod still
	# runs; the command returns once the pod has ended.
	printf '%s stdout F first\n' "$(ts)" > "$AGENT_LOG"
	job f1-job 12s
	running_task f1 f1-job
	wait_for 20 test "$(pod_phase f1-job)" = Running
	before=$(log_requests)
	"$P" --kubeconfig "$KUBECONFIG" logs -f f1 -n "$NS" >"$WORK/f.out" 2>"$WORK/f.err" &
	fpid=$!
	wait_for 10 grep -qx first "$WORK/f.out"
	sleep 1; printf '%s stdout F second\n' "$(ts)" >> "$AGENT_LOG"
	wait_for 5 grep -qx second "$WORK/f.out"; seen=$?
	check "logs -f prints a line as it is written, while the pod runs" \
		test "$seen $(pod_phase f1-job)" = "0 Running"
	sleep 1; printf '%s stdout F third\n%s stdout F fourth\n' "$(ts)" "$(ts)" >> "$AGENT_LOG"
	wait_for 5 grep -qx fourth "$WORK/f.out"
	running=no; kill -0 $fpid 2>/dev/null && running=yes
	check "logs -f keeps following while the pod runs" test "$running $(pod_phase f1-job)" = "yes Running"
	wait_for 30 test "$(pod_phase f1-job)" = Succeeded
	wait_exit $fpid 15
	cp "$WORK/f.out" "$WORK/out"; cp "$WORK/f.err" "$WORK/err"
	expect "logs -f returns when the pod ends (exit 0)" 0
	check "logs -f printed every line once, in order" \
		test "$(tr '\n' ' ' < "$WORK/out")" = "first second third fourth "
	if [ -n "$before" ]; then
		wait_for 5 test "$(log_requests)" -gt "$before"
		check "logs -f read the log with one request (a stream, no polling)" \
			test "$(( $(log_requests) - before ))" -eq 1
	fi

	# -f on a pod that is still Pending: waits, then follows (a line far
	# longer than any buffer comes out whole).
	long=$(head -c 200000 /dev/zero | tr '\0' x)
	printf '%s stdout F after the wait\n%s stdout F %s\n' "$(ts)" "$(ts)" "$long" > "$AGENT_LOG"
	job p1-job 2s gated
	running_task p1 p1-job
	wait_for 20 test "$(pod_phase p1-job)" = Pending
	"$P" --kubeconfig "$KUBECONFIG" logs -f p1 -n "$NS" >"$WORK/p.out" 2>"$WORK/p.err" &
	ppid=$!
	wait_for 10 grep -q "is Pending; waiting for it to start" "$WORK/p.err"; seen=$?
	sleep 1
	running=no; kill -0 $ppid 2>/dev/null && running=yes
	check "logs -f waits while the pod is Pending" test "$seen $running $(wc -c < "$WORK/p.out")" = "0 yes 0"
	ungate p1-job
	wait_exit $ppid 30
	cp "$WORK/p.out" "$WORK/out"; cp "$WORK/p.err" "$WORK/err"
	expect "...then follows the log once the pod started, to its end" 0
	check "...all of it, once (a 200 kB line whole)" test "$(cat "$WORK/out")" = "$(printf 'after the wait\n%s' "$long")"
	# the task's timeout bounds that wait
	job p2-job 2s gated
	running_task p2 p2-job --timeout 2s
	wait_for 20 test "$(pod_phase p2-job)" = Pending
	timeout 60 "$P" --kubeconfig "$KUBECONFIG" logs -f p2 -n "$NS" >"$WORK/out" 2>"$WORK/err"; rc=$?
	cat "$WORK/out" "$WORK/err" >> "$WORK/all"
	expect "logs -f stops waiting for a Pending pod after the task's timeout (exit 1)" 1 \
		"^paddock: task p2: pod $NS/p2-job-[a-z0-9]+ is still Pending after 2s \(the task's timeout\)"

	# SIGINT and SIGTERM end -f at once, exit 0.
	printf '%s stdout F long\n' "$(ts)" > "$AGENT_LOG"
	job i1-job 120s
	running_task i1 i1-job
	wait_for 20 test "$(pod_phase i1-job)" = Running
	for sig in INT TERM; do
		"$P" --kubeconfig "$KUBECONFIG" logs -f i1 -n "$NS" >"$WORK/i.out" 2>"$WORK/i.err" &
		ipid=$!
		wait_for 10 grep -qx long "$WORK/i.out"
		kill -$sig $ipid
		wait_exit $ipid 3
		cp "$WORK/i.out" "$WORK/out"; cp "$WORK/i.err" "$WORK/err"
		expect "SIG$sig ends logs -f within 3 s, exit 0" 0 '^long$'
	done
	K -n "$NS" delete job i1-job --wait=false >/dev/null 2>&1
else
	ok "# SKIP pod logs: $ENVDIR/kwok missing (not a tests/k8s/env.sh cluster)"
fi

# ---- stop / delete --------------------------------------------------------------

pd stop r1 -n "$NS"
expect "stop" 0 '^Task/r1 stop requested$'
check "stop sets annotation paddock.dev/stop=true" \
	test "$(K -n "$NS" get task r1 -o jsonpath='{.metadata.annotations.paddock\.dev/stop}')" = true
pd stop nope -n "$NS"
expect "stop of a missing task: exit 3" 3 "task \"nope\" not found in namespace $NS"
status a1 '{"phase":"Succeeded","reason":"Succeeded","message":"done"}'
pd stop a1 -n "$NS"
expect "stop of a finished task says so" 0 '^Task/a1 already Succeeded: nothing to stop$'
check "...and sets no annotation" \
	test -z "$(K -n "$NS" get task a1 -o jsonpath='{.metadata.annotations.paddock\.dev/stop}')"
# A Job owned by the Task goes with it (background propagation + GC).
K -n "$NS" create -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata:
  name: owned-job
  ownerReferences:
  - {apiVersion: paddock.dev/v1alpha1, kind: Task, name: r1, uid: $(K -n "$NS" get task r1 -o jsonpath='{.metadata.uid}'), controller: true, blockOwnerDeletion: true}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: agent, image: busybox, command: ["true"]}]
EOF
pd delete task r1 -n "$NS"
expect "delete" 0 '^Task/r1 deleted$'
check "the Task is gone" bash -c "! \"$KUBECTL\" --kubeconfig \"$KUBECONFIG\" -n $NS get task r1 >/dev/null 2>&1"
check "its Job goes by garbage collection" \
	wait_for 60 bash -c "! \"$KUBECTL\" --kubeconfig \"$KUBECONFIG\" -n $NS get job owned-job >/dev/null 2>&1"
pd delete task r1 -n "$NS"
expect "delete of a missing task: exit 3" 3 "^paddock: task \"r1\" not found in namespace $NS$"
pd delete task r1 -n "$NS" --ignore-not-found
expect "delete --ignore-not-found" 0
pd delete configmap cm1 -n "$NS"
expect "delete a ConfigMap" 0 '^ConfigMap/cm1 deleted$'

# ---- agents ---------------------------------------------------------------------

if [ "$HAVE_AGENTS" = 1 ]; then
	cat > "$WORK/agent.yaml" <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: hello, namespace: $NS}
spec: {type: exec, command: "echo hello", maxConcurrentTasks: 2}
EOF
	pd apply -f "$WORK/agent.yaml"
	expect "apply an Agent" 0 '^Agent/hello created$'
	pd get agents -n "$NS"
	expect "get agents" 0 '^hello +exec +2 '
	pd run --detach --agent hello -p hi --name ag1 -n "$NS"
	expect "run --agent" 0 '^Task/ag1 created$'
	pd run --agent nope -p hi --name ag2 -n "$NS"
	expect "run --agent with a missing Agent: the local message" 1 \
		"spec.agentRef: agent \"$NS/nope\" not found: apply the Agent first"
else
	ok "# SKIP Agents: the agents.paddock.dev CRD is not established"
fi

# ---- server-side errors -------------------------------------------------------------

python3 -c 'print("x" * 300000)' > "$WORK/big"
python3 - "$WORK/big.json" "$NS" <<'PY'
import json, sys
json.dump({"apiVersion": "paddock.dev/v1alpha1", "kind": "Task",
           "metadata": {"name": "big", "namespace": sys.argv[2]},
           "spec": {"type": "exec", "prompt": "x" * 300000}}, open(sys.argv[1], "w"))
PY
printf 'limits: {promptBytes: 1048576}\ndrivers: {exec: {enabled: true, settings: {command: "true"}}}\n' > "$WORK/big.yaml"
"$P" -c "$WORK/big.yaml" --kubeconfig "$KUBECONFIG" apply -f "$WORK/big.json" >"$WORK/out" 2>"$WORK/err"; rc=$?
expect "422 Invalid: the server's field causes" 1 'the API server refused task "big": spec\.prompt: Too long'

K -n "$NS" create serviceaccount nobody >/dev/null
token=$(K -n "$NS" create token nobody 2>/dev/null)
python3 - "$KUBECONFIG" "$WORK/kc-nobody" "$token" <<'PY'
import sys, re
src, dst, tok = sys.argv[1:]
t = open(src).read()
t = re.sub(r"^(- name: .*\n  user:\n)((?:    .*\n)+)", lambda m: m.group(1) + "    token: " + tok + "\n", t, count=1, flags=re.M)
open(dst, "w").write(t)
PY
"$P" --kubeconfig "$WORK/kc-nobody" get tasks -n "$NS" >"$WORK/out" 2>"$WORK/err"; rc=$?
expect "403: says which verb on which resource is forbidden" 1 "^paddock: forbidden: .*may not list tasks\.paddock\.dev in namespace $NS"
check "...and never prints the token" bash -c "! grep -qF '$token' '$WORK/out' '$WORK/err'"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
sed -E "s#(server: https://127\.0\.0\.1:)[0-9]+#\1$port#" "$KUBECONFIG" > "$WORK/kc-dead"
bad=
for c in "get tasks" "describe task r1" "logs r1" "stop r1" "delete task r1" "apply -f $WORK/good.yaml" "run --type exec -p hi"; do
	# shellcheck disable=SC2086
	"$P" --kubeconfig "$WORK/kc-dead" $c >"$WORK/out" 2>"$WORK/err"; rc=$?
	if [ $rc -ne 1 ] || [ -s "$WORK/out" ] || [ "$(wc -l < "$WORK/err")" -ne 1 ] ||
	   ! grep -qE "^paddock: cannot reach the API server at https://127\.0\.0\.1:$port: .+ \(check --kubeconfig / kubectl cluster-info\)$" "$WORK/err"; then
		bad="$bad [$c: exit $rc: $(head -c 300 "$WORK/err")]"
	fi
done
check "a dead API server: one line, exit 1, for every command" test -z "$bad"
[ -n "$bad" ] && echo "#  $bad"

check "no output ever held the key" bash -c "! grep -qF -e '$SECRET_VALUE' -e '$b64' '$WORK/all'"

echo "1..$n"
if [ $failed -ne 0 ]; then
	echo "# $failed of $n failed"
	exit 1
fi
echo "# all $n passed"
