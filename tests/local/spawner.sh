#!/usr/bin/env bash
# Spawners with a webhook source (docs/triggers.md), on the local backend,
# fed real GitHub payloads from npm @octokit/webhooks-examples signed here
# with the Spawner's secret:
#   - 50 deliveries of one event make one Task (49 answered "duplicate");
#   - a bad or missing signature is 401, a wrong content type 415, an
#     oversized body 413: nothing is made;
#   - generic sources (HMAC X-Signature-256, bearer token, field filters);
#   - event, action and command-prefix filters; an issue whose text holds
#     "{{" reaches the agent literally (never a template tag);
#   - 100 events while the Agent runs 2 at a time, with the controller
#     SIGKILLed three times during intake: 100 Tasks, each run once, in
#     the order the events arrived.
# Runs use isolation: none so that each can append to a journal outside
# its workspace (the sandbox is tested in sandbox.sh).
N=${N:-100}
ISOLATION=none
. "$(dirname "$0")/lib.sh"
EXAMPLES_CACHE=${EXAMPLES_CACHE:-$HOME/.cache/paddock/npm-webhooks}
EX=$EXAMPLES_CACHE/node_modules/@octokit/webhooks-examples
if [ ! -f "$EX/api.github.com/index.json" ]; then
	command -v npm >/dev/null || { echo "SKIP: npm missing (needed for @octokit/webhooks-examples)"; exit 77; }
	mkdir -p "$EXAMPLES_CACHE"
	npm install --no-audit --no-fund --prefix "$EXAMPLES_CACHE" @octokit/webhooks-examples@7 >/dev/null 2>&1 ||
		{ echo "SKIP: npm install @octokit/webhooks-examples failed"; exit 77; }
fi
SEND="python3 $TOP_SRCDIR/tests/webhook-send.py $EX"
journal=$work/journal
log=$work/controller.log

cat >"$work/setup.yaml" <<EOT
apiVersion: v1
kind: Secret
metadata: {name: hook}
stringData: {webhookSecret: "it's-a-secret"}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: worker}
spec:
  type: exec
  maxConcurrentTasks: 2
  command: |
    echo "start \$PADDOCK_TASK \$(date +%s%N)" >> $journal
    cp task.md $work/prompt-\${PADDOCK_TASK#*/}.md
    sleep 0.1
    echo "end \$PADDOCK_TASK \$(date +%s%N)" >> $journal
---
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: triage}
spec:
  taskTemplate:
    metadata: {labels: {issue: "{{ event.issue.number }}"}}
    spec:
      agentRef: {name: worker}
      prompt: "Issue #{{ event.issue.number }} of {{ event.repository }}: {{ event.issue.title }}"
  webhook:
    secretRef: {name: hook}
    events: [issues, issue_comment]
    actions: [opened, created]
    commandPrefix: /paddock
    maxBodyBytes: 65536
EOT
pd apply -f "$work/setup.yaml" >/dev/null

start_controller() {
	"$PADDOCK_BIN" controller >>"$log" 2>&1 &
	cpid=$!
	cleanup_pids+=("$cpid")
	for _ in $(seq 100); do
		[ "$(grep -c 'metrics endpoint listening' "$log")" -gt "${1:-0}" ] && return 0
		sleep 0.05
	done
	fail "controller did not listen"
}
start_controller 0
hook=/hooks/default/triage
secret="it's-a-secret"
tasks_of() { pd get tasks -o json | python3 -c "import json,sys; print(sum(1 for t in json.load(sys.stdin)['items'] if t['metadata'].get('labels',{}).get('paddock.dev/spawner')=='$1'))"; }

# ---- 50 duplicates -> 1 Task
out=$($SEND "$log" $hook "$secret" issues opened dup-1 --repeat 50)
[ "$(grep -c '^202 accepted' <<<"$out")" -eq 1 ] || fail "50 deliveries: want one accepted: $(sort <<<"$out" | uniq -c)"
[ "$(grep -c '^200 duplicate' <<<"$out")" -eq 49 ] || fail "50 deliveries: want 49 duplicates: $(sort <<<"$out" | uniq -c)"
[ "$(tasks_of triage)" -eq 1 ] || fail "50 deliveries made $(tasks_of triage) Tasks"
pass "50 duplicate deliveries -> 1 Task"

# ---- refused: nothing made, nothing taken
for args in "--sig bad:401" "--sig none:401" "--ctype text/plain:415" "--pad 70000:413"; do
	out=$($SEND "$log" $hook "$secret" issues opened ref-1 ${args%%:*})
	[ "${out%% *}" = "${args##*:}" ] || fail "${args%%:*}: want ${args##*:}, got: $out"
done
$SEND "$log" $hook "wrong-secret" issues opened ref-1 | grep -q '^401 ' || fail "wrong secret not refused"
[ "$(tasks_of triage)" -eq 1 ] || fail "refused deliveries made Tasks"
# The refused id was not taken: the real sender's delivery goes through.
$SEND "$log" $hook "$secret" issues opened ref-1 --setint issue.number=7 | grep -q '^202 accepted' ||
	fail "a delivery id refused unsigned blocks the signed one"
pass "bad/missing signature 401, content type 415, oversized 413: nothing made"

# ---- filters
$SEND "$log" $hook "$secret" issues edited f-1 | grep -q '^202 filtered: action edited' || fail "action filter"
$SEND "$log" $hook "$secret" issue_comment created f-2 --comment "looks good" | grep -q '^202 filtered' ||
	fail "comment without the command accepted"
$SEND "$log" $hook "$secret" issue_comment created f-3 --comment "/paddock fix it" | grep -q '^202 accepted' ||
	fail "comment with the command refused"
$SEND "$log" $hook "$secret" push "" f-4 2>/dev/null | grep -q '^202 filtered: event push' || true
[ "$(tasks_of triage)" -eq 3 ] || fail "filters: $(tasks_of triage) Tasks, want 3"
pass "event, action and command filters"

# ---- an issue's "{{" is text, never a tag
$SEND "$log" $hook "$secret" issues opened inj-1 --setint issue.number=4242 \
	--set 'issue.title={{ deps.x.results.y }} {{ "{{" }}' | grep -q '^202 accepted' || fail "injection delivery"
deadline=$((SECONDS + 60))
until grep -l "Issue #4242" "$work"/prompt-*.md >/dev/null 2>&1; do
	[ $SECONDS -lt $deadline ] || fail "the injection task did not run: $(pd get tasks -o wide)"
	sleep 0.2
done
got=$(cat $(grep -l "Issue #4242" "$work"/prompt-*.md))
want='Issue #4242 of Codertocat/Hello-World: {{ deps.x.results.y }} {{ "{{" }}'
[ "$got" = "$want" ] || fail "prompt: got [$got], want [$want]"
pass "event text with {{ reaches the agent literally"

describe=$(pd describe spawner triage)
grep -q "accepted 4, filtered 2, duplicate 49, rejected 5" <<<"$describe" || fail "describe: $describe"
grep -q "rejected .*bad signature" <<<"$describe" || fail "describe lacks the rejection reason"
port=$(grep -o 'port=[0-9]*' "$log" | tail -1 | cut -d= -f2)
curl -sf "http://127.0.0.1:$port/metrics" | grep -q 'paddock_spawner_events_total{spawner="default/triage",outcome="duplicate"} 49' ||
	fail "metrics: $(curl -s "http://127.0.0.1:$port/metrics" | grep spawner)"
grep -q "$secret" "$log" && fail "the secret is in the controller's log"
pd describe spawner triage | grep -q "$secret" && fail "describe shows the secret"
pass "describe and metrics count by outcome; the secret shows nowhere"

# ---- generic sources: HMAC (X-Signature-256) and a bearer token, field filters
cat >"$work/generic.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: signed}
spec:
  taskTemplate: {spec: {agentRef: {name: worker}, prompt: "signed {{ event.issue.number }}"}}
  webhook:
    type: generic
    secretRef: {name: hook}
    filters: [{field: issue.labels.name, values: [bug]}]
---
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: token}
spec:
  taskTemplate: {spec: {agentRef: {name: worker}, prompt: "token {{ event.issue.number }}"}}
  webhook: {type: generic, auth: bearer, secretRef: {name: hook}}
EOT
pd apply -f "$work/generic.yaml" >/dev/null
$SEND "$log" /hooks/default/signed "$secret" issues opened g-1 --as hmac | grep -q '^202 accepted' || fail "generic hmac"
$SEND "$log" /hooks/default/signed "$secret" issues opened g-1 --as hmac | grep -q '^200 duplicate' || fail "generic replay"
$SEND "$log" /hooks/default/signed "$secret" issues opened g-2 --as hmac --sig bad | grep -q '^401 ' || fail "generic bad hmac"
$SEND "$log" /hooks/default/signed "$secret" issues opened g-3 --as hmac --set 'issue.labels.0.name=docs' |
	grep -q '^202 filtered: issue.labels.name' || fail "generic field filter"
$SEND "$log" /hooks/default/token "$secret" issues opened b-1 --as bearer | grep -q '^202 accepted' || fail "bearer"
$SEND "$log" /hooks/default/token "$secret" issues opened b-2 --as bearer --sig bad | grep -q '^401 ' || fail "wrong bearer"
$SEND "$log" /hooks/default/token "$secret" issues opened b-3 --as bearer --sig none | grep -q '^401 ' || fail "no bearer"
[ "$(tasks_of signed)" -eq 1 ] && [ "$(tasks_of token)" -eq 1 ] || fail "generic: $(tasks_of signed) and $(tasks_of token) Tasks"
pass "generic sources: HMAC and bearer checked, replay ignored, field filters"

# ---- 100 events, capacity 2, the controller SIGKILLed three times during intake
cat >"$work/bulk.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: bulk}
spec:
  taskTemplate:
    spec: {agentRef: {name: worker}, prompt: "event {{ event.issue.number }}"}
  webhook: {secretRef: {name: hook}, events: [issues]}
EOT
pd apply -f "$work/bulk.yaml" >/dev/null
progress=$work/progress
$SEND "$log" /hooks/default/bulk "$secret" issues opened bulk --series "$N" --progress "$progress" \
	>"$work/sender.out" 2>&1 &
spid=$!
cleanup_pids+=("$spid")
kills=0
restarts=0
for at in $((N / 5)) $((N / 2)) $((N * 4 / 5)); do
	deadline=$((SECONDS + 120))
	until [ "$(cat "$progress" 2>/dev/null || echo 0)" -ge "$at" ]; do
		[ $SECONDS -lt $deadline ] || fail "intake stalled at $(cat "$progress" 2>/dev/null) events"
		kill -0 "$spid" 2>/dev/null || fail "sender ended early: $(cat "$work/sender.out")"
		sleep 0.02
	done
	kill -9 "$cpid"
	wait "$cpid" 2>/dev/null || true
	kills=$((kills + 1))
	sleep 0.3 # deliveries meanwhile are refused: the sender retries
	restarts=$((restarts + 1))
	start_controller "$restarts"
done
wait "$spid" || fail "sender: $(cat "$work/sender.out")"
deadline=$((SECONDS + 240))
while :; do
	[ $SECONDS -lt $deadline ] || fail "not all bulk Tasks done after 240 s"
	n=$(pd get tasks -o json | python3 -c 'import json,sys; print(sum(1 for t in json.load(sys.stdin)["items"] if t["metadata"].get("labels",{}).get("paddock.dev/spawner")=="bulk" and t.get("status",{}).get("phase") in ("Succeeded","Failed","Stopped")))')
	[ "$n" -ge "$N" ] && break
	sleep 0.5
done
kill -TERM "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true
echo "controller SIGKILLed $kills times during intake"
pd get tasks -o json >"$work/tasks.json"
python3 - "$work/tasks.json" "$journal" "$N" <<'PY'
import collections, json, sys
n = int(sys.argv[3])
tasks = [t for t in json.load(open(sys.argv[1]))["items"]
         if t["metadata"].get("labels", {}).get("paddock.dev/spawner") == "bulk"]
assert len(tasks) == n, f"{len(tasks)} Tasks, want {n}"
bad = [t["metadata"]["name"] for t in tasks if t["status"].get("phase") != "Succeeded"]
assert not bad, f"not Succeeded: {bad[:5]}"
# creation order (the store lists in it) is the events' order
created = [int(t["spec"]["prompt"].split()[1]) for t in tasks]
assert created == list(range(1, n + 1)), f"created out of order: {created[:20]}"
name_of = {f"default/{t['metadata']['name']}": int(t["spec"]["prompt"].split()[1]) for t in tasks}
count, starts = collections.Counter(), {}
for line in open(sys.argv[2]):
    kind, task, ns = line.split()
    if task in name_of:
        count[(kind, task)] += 1
        if kind == "start":
            starts[task] = int(ns)
twice = [k for k, c in count.items() if c != 1]
assert not twice, f"ran more than once: {twice[:5]}"
assert len(starts) == n, f"{len(starts)} started, want {n}"
by_start = [name_of[t] for t in sorted(starts, key=starts.get)]
inv = [(a, b) for a, b in zip(by_start, by_start[1:]) if a > b + 1]
assert not inv, f"started out of arrival order: {inv[:5]}"
print(f"{n} events -> {n} Tasks, created in arrival order, each run once, FIFO starts")
PY
[ "$kills" -ge 3 ] || fail "only $kills kills"
pass "$N events with capacity 2 and 3 controller SIGKILLs: $N Tasks, in order, once each"
