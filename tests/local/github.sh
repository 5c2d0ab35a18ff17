#!/usr/bin/env bash
# Spawners with a github source (docs/triggers.md#github-issues), on the
# local backend, against a stateful scripted GitHub (tests/github/
# fake-github.py) behind Stoplight Prism validating every request and
# answer against GitHub's own OpenAPI description (@octokit/openapi):
#   - an issue labelled `ready` by an allowed author becomes exactly one
#     Task; the exec agent's result (outcome, branch, PR URL) comes back
#     as a comment; labels move ready -> in-progress -> needs-review (or
#     failed); other authors and other labels make nothing;
#   - a second Spawner and a second controller (another state dir, the
#     same GitHub) do not take the same issue;
#   - a retried poll (the ETag ignored) and a controller SIGKILLed in the
#     middle of a claim, then restarted, make nothing twice;
#   - polls after the first are conditional (304s);
#   - X-RateLimit-Remaining 0 makes it wait for the reset; a 403 and a 429
#     with Retry-After make it wait that long;
#   - a bot or App token, whose comments say author_association NONE,
#     still knows its own claims and markers (by the login its comments
#     were posted as), also after a restart; an outsider's do not count;
#   - the token is nowhere: logs, describe, events, the state dir;
#   - Prism reports no violation (tests/github/check-prism.py).
ISOLATION=none
. "$(dirname "$0")/lib.sh"
TOKEN_A="ghp_tokenA$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
TOKEN_B="ghp_tokenB$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
journal=$work/journal
echo "network: {allowLoopback: true}" >>"$PADDOCK_CONFIG"

. "$TOP_SRCDIR/tests/github/servers.sh"
rc=0
gh_servers "$work" "$TOKEN_A" "$TOKEN_B" || rc=$? # set -e: the status is ours to read
cleanup_pids+=("${GH_PIDS[@]}")
[ $rc = 77 ] && { echo "SKIP: $GH_WHY"; exit 77; }
[ $rc = 0 ] || fail "$GH_WHY"
# the scripted GitHub's URL through Prism is the one a token may go to
echo "github: {baseURLs: [\"$API\"]}" >>"$PADDOCK_CONFIG"

t() { curl -sf -X POST "$GH/_test/$1" -d "$2" >/dev/null || fail "fake github: $1"; }
issue() { gh_issue "$@"; }

spawner() { # NAME TOKEN-SECRET [REPO [CLAIM [COMMENT]]]
	cat <<EOT
---
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: $1}
spec:
  taskTemplate:
    metadata: {labels: {issue: "{{ event.issue.number }}"}}
    spec:
      agentRef: {name: worker}
      prompt: "Issue #{{ event.issue.number }} of {{ event.repository }}: {{ event.issue.title }}"
      outputs:
        parameters:
          - {name: branch, path: branch.txt}
          - {name: pullRequest, path: pr.txt}
  github:
    repositories: [${3:-octo/widgets}]
    labels: [ready]
    authors: [alice]
    baseURL: $API
    tokenSecretRef: {name: $2}
    claim: ${4:-{label: paddock\}}
    comment: ${5:-true}
$(gh_flow)
EOT
}
agent() {
	cat <<EOT
apiVersion: v1
kind: Secret
metadata: {name: $1}
stringData: {token: "$2"}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: worker}
spec:
  type: exec
  maxConcurrentTasks: 4
  command: |
    echo "run \$PADDOCK_TASK $3" >> $journal
    sleep 1
    if grep -q FAIL task.md; then echo "it failed"; exit 3; fi
    echo "paddock/fix-\${PADDOCK_TASK#*/}" > branch.txt
    echo "https://github.com/octo/widgets/pull/77" > pr.txt
EOT
}

# ---- validation: errors name the field and the fix -------------------------
bad() { # YAML-FRAGMENT EXPECTED
	printf 'apiVersion: paddock.dev/v1alpha1\nkind: Spawner\nmetadata: {name: bad}\nspec:\n  taskTemplate: {spec: {agentRef: {name: worker}, prompt: x}}\n  github: %s\n' "$1" >"$work/bad.yaml"
	if out=$(pd apply -f "$work/bad.yaml" 2>&1); then fail "accepted: $1"; fi
	grep -qF -- "$2" <<<"$out" || fail "for $1: expected '$2' in: $out"
}
bad '{tokenSecretRef: {name: t}}' "spec.github.repositories: required field is missing"
bad '{repositories: [widgets], tokenSecretRef: {name: t}}' "spec.github.repositories[0]: invalid value \"widgets\": use owner/name"
bad '{repositories: [o/r]}' "spec.github.tokenSecretRef: required field is missing"
bad '{repositories: [o/r], tokenSecretRef: {name: t}, claim: {label: a, assignee: b}}' "spec.github.claim: set one of label"
bad '{repositories: [o/r], tokenSecretRef: {name: t}, baseURL: "ftp://x"}' "spec.github.baseURL: invalid value"
bad '{repositories: [o/r], tokenSecretRef: {name: t}, baseURL: "http://api.github.com"}' "spec.github.baseURL: \"http://api.github.com\" is plain http to a host that is not loopback: the token would be sent unencrypted; use https://"
bad '{repositories: [o/r], tokenSecretRef: {name: t}, pollSeconds: 60, maxPollSeconds: 10}' "spec.github.maxPollSeconds: 10 is below pollSeconds 60"
bad '{repositories: [o/r], tokenSecretRef: {name: t}, onStart: {move: [x]}}' "spec.github.onStart"
pass "bad github sources are refused naming the field"

# ---- two controllers, three spawners, one GitHub -----------------------------
{
	agent gh-token "$TOKEN_A" A
	spawner fixer gh-token
	spawner fixer-two gh-token
	spawner assigner gh-token octo/gadgets "{assignee: paddock-bot}" false
} >"$work/a.yaml"
pd apply -f "$work/a.yaml" >/dev/null
STATE_A=$PADDOCK_STATE_DIR STATE_B=$work/state-b
mkdir -p "$STATE_B"
{ agent gh-token "$TOKEN_B" B; spawner fixer gh-token; } >"$work/b.yaml"
PADDOCK_STATE_DIR=$STATE_B pd apply -f "$work/b.yaml" >/dev/null

start_a() {
	PADDOCK_STATE_DIR=$STATE_A "$PADDOCK_BIN" controller >>"$work/a.log" 2>&1 &
	apid=$!
	cleanup_pids+=("$apid")
}
start_b() {
	PADDOCK_STATE_DIR=$STATE_B "$PADDOCK_BIN" controller >>"$work/b.log" 2>&1 &
	bpid=$!
	cleanup_pids+=("$bpid")
}
tasks_in() { # STATE-DIR: "name phase issue" lines of the spawners' tasks
	PADDOCK_STATE_DIR=$1 pd get tasks -o json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["items"]:
    l = t["metadata"].get("labels", {})
    if "paddock.dev/spawner" in l:
        print(t["metadata"]["name"], t.get("status", {}).get("phase", "Pending"), l.get("issue"))'
}
comments_on() { # NUMBER PATTERN: how many comments of issue NUMBER match
	ghstate | python3 -c '
import json, re, sys
i = json.load(sys.stdin)["issues"]["octo/widgets"][sys.argv[1]]
print(sum(1 for c in i["comments"] if re.search(sys.argv[2], c["body"])))' "$1" "$2"
}
labels_of() {
	ghstate | python3 -c 'import json,sys; print(",".join(sorted(json.load(sys.stdin)["issues"]["octo/widgets"][sys.argv[1]]["labels"])))' "$1"
}
wait_for() { # SECONDS CMD...: until CMD succeeds
	local end=$((SECONDS + $1))
	shift
	until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done
}
all_tasks() { { tasks_in "$STATE_A"; tasks_in "$STATE_B"; } | grep -v '^assigner-' | sort; }
finished_for() { # ISSUE...: each issue's one Task finished and reported
	for n in "$@"; do
		all_tasks | grep -qE " (Succeeded|Failed) $n\$" || return 1
		[ "$(comments_on "$n" 'paddock-task: \S+ end')" = 1 ] || return 1
	done
}

start_a
start_b
i1=$(issue '{"repo": "octo/widgets", "title": "Fix the widget", "labels": ["ready"], "user": "alice"}')
i2=$(issue '{"repo": "octo/widgets", "title": "From a stranger", "labels": ["ready"], "user": "mallory"}')
i3=$(issue '{"repo": "octo/widgets", "title": "Not ready", "labels": ["bug"], "user": "alice"}')
i4=$(issue '{"repo": "octo/widgets", "title": "FAIL on purpose", "labels": ["ready"], "user": "alice"}')
g1=$(issue '{"repo": "octo/gadgets", "title": "Claimed by assignment", "labels": ["ready"], "user": "alice"}')
wait_for 60 finished_for "$i1" "$i4" || { all_tasks; ghstate | head -c 3000; tail -20 "$work/a.log"; fail "issues $i1 and $i4 were not done and reported"; }
sleep 2 # time for a second spawner or controller to (wrongly) take them
gadget() { # FIELD of octo/gadgets issue g1
	ghstate | python3 -c 'import json,sys; print(",".join(sorted(json.load(sys.stdin)["issues"]["octo/gadgets"][sys.argv[1]][sys.argv[2]])))' "$g1" "$1"
}
wait_for 30 eval '[ "$(gadget labels)" = needs-review ]' || fail "octo/gadgets#$g1: labels $(gadget labels)"
[ "$(gadget assignees)" = paddock-bot ] || fail "octo/gadgets#$g1 not claimed by assignment: $(gadget assignees)"
[ "$(ghstate | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["issues"]["octo/gadgets"][sys.argv[1]]["comments"]))' "$g1")" = 0 ] ||
	fail "octo/gadgets#$g1: comments with comment: false"
[ "$(tasks_in "$STATE_A" | grep -c '^assigner-')" = 1 ] || fail "octo/gadgets#$g1: not one Task"
pass "claim by assignment with comment: false: one Task, assigned, labels moved, no comment"
all_tasks >"$work/tasks1"
[ "$(wc -l <"$work/tasks1")" = 2 ] || { cat "$work/tasks1"; fail "expected 2 Tasks over 3 spawners and 2 controllers"; }
[ "$(grep -c " $i1\$" "$work/tasks1")" = 1 ] && [ "$(grep -c " $i4\$" "$work/tasks1")" = 1 ] ||
	fail "not one Task per issue: $(cat "$work/tasks1")"
pass "an issue labelled ready made exactly one Task over two spawners and two controllers; other authors and labels none"
[ "$(grep -c '^run ' "$journal")" = 3 ] || fail "the agent ran $(grep -c '^run ' "$journal") times, not 3"

for n in "$i1" "$i4"; do
	[ "$(comments_on "$n" 'paddock-task: \S+ start')" = 1 ] || fail "issue $n: not one start comment"
done
[ "$(comments_on "$i1" 'finished: \*\*Succeeded\*\*')" = 1 ] || fail "issue $i1: no Succeeded comment"
[ "$(comments_on "$i1" 'branch: paddock/fix-fixer')" = 1 ] || fail "issue $i1: the comment lacks the branch"
[ "$(comments_on "$i1" 'pullRequest: https://github.com/octo/widgets/pull/77')" = 1 ] || fail "issue $i1: the comment lacks the PR URL"
[ "$(comments_on "$i4" 'finished: \*\*Failed\*\*')" = 1 ] || fail "issue $i4: no Failed comment"
[ "$(labels_of "$i1")" = "needs-review,paddock" ] || fail "issue $i1 labels: $(labels_of "$i1")"
[ "$(labels_of "$i4")" = "failed,paddock" ] || fail "issue $i4 labels: $(labels_of "$i4")"
[ "$(labels_of "$i2")" = "ready" ] && [ "$(labels_of "$i3")" = "bug" ] || fail "issues $i2/$i3 were touched"
[ "$(comments_on "$i2" .)" = 0 ] || fail "issue $i2 (author not allowed) got a comment"
pass "the outcome came back as comments (Succeeded with branch and PR URL; Failed), labels moved ready -> in-progress -> needs-review / failed"

# /metrics of controller A: its Tasks counted as accepted, the gauge set
port=$(grep -o 'metrics endpoint listening.*port=[0-9]*' "$work/a.log" | tail -1 | grep -o '[0-9]*$')
curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics.txt" || fail "no /metrics"
acc=$(awk '/^paddock_spawner_events_total\{spawner="default\/(fixer|fixer-two|assigner)",outcome="accepted"\}/ {n += $2} END {print n + 0}' "$work/metrics.txt")
[ "$acc" = "$(tasks_in "$STATE_A" | wc -l)" ] || fail "/metrics counts $acc accepted, the store has $(tasks_in "$STATE_A" | wc -l) Tasks"
grep -q 'paddock_spawner_github_ratelimit_remaining{spawner="default/fixer"}' "$work/metrics.txt" ||
	fail "no rate-limit gauge in /metrics"
pass "/metrics: $acc accepted by controller A's spawners (its Tasks), the rate-limit gauge"

# ---- conditional polls: 304s after the first ---------------------------------
n304=$(ghstate | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["log"] if e["status"] == 304 and e["inm"]))')
[ "$n304" -ge 3 ] || fail "only $n304 conditional polls answered 304"
pass "polls after the first are conditional: $n304 answered 304"

# ---- the second controller goes; a retried poll makes nothing ------------------
kill -TERM "$bpid"
wait "$bpid" 2>/dev/null || true
t noetag '{}'
sleep 3
all_tasks >"$work/tasks2"
cmp -s "$work/tasks1" "$work/tasks2" || fail "a retried poll changed the Tasks: $(cat "$work/tasks2")"
pass "a retried poll (the list answered 200 again) made nothing twice"

# ---- SIGKILL in the middle of a claim, then a restart --------------------------
i5=$(issue '{"repo": "octo/widgets", "title": "Kill me mid-claim", "labels": ["ready"], "user": "alice"}')
wait_for 20 bash -c "[ \"\$(curl -sf $GH/_test/state | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"issues\"][\"octo/widgets\"][\"$i5\"][\"comments\"]))')\" -ge 1 ]" ||
	fail "issue $i5 was never claimed"
kill -9 "$apid"
wait "$apid" 2>/dev/null || true
start_a
wait_for 60 finished_for "$i5" || { all_tasks; fail "issue $i5 was not done after the restart"; }
kill -9 "$apid" # and once more after it finished: nothing is posted twice
wait "$apid" 2>/dev/null || true
start_a
sleep 3
[ "$(all_tasks | grep -c " $i5\$")" = 1 ] || fail "issue $i5: not one Task after a SIGKILL and restart"
for w in start end; do
	[ "$(comments_on "$i5" "paddock-task: \\S+ $w")" = 1 ] || fail "issue $i5: $w comment not posted exactly once"
done
[ "$(comments_on "$i5" 'paddock-claim: ')" = 1 ] || fail "issue $i5: the restarted controller claimed it again"
[ "$(all_tasks | wc -l)" = 3 ] || fail "expected 3 Tasks: $(all_tasks)"
pass "a controller SIGKILLed mid-claim and restarted (twice) made one Task and posted each comment once"

# ---- a forged claim and a forged marker by an outsider -----------------------------
# Anyone may comment on a public issue: mallory claims issue 6 first with
# another claimer id and with controller A's own (ignored all the same).
claimer=$(ghstate | python3 -c '
import json, re, sys
for c in json.load(sys.stdin)["issues"]["octo/widgets"]["1"]["comments"]:
    m = re.search(r"paddock-claim: (\w+)", c["body"])
    if m: print(m.group(1)); break')
[ -n "$claimer" ] || fail "no claim comment on issue $i1"
i6=$(issue '{"repo": "octo/widgets", "title": "Forged claims", "labels": ["bug"], "user": "alice"}')
t comment "{\"repo\": \"octo/widgets\", \"number\": $i6, \"body\": \"<!-- paddock-claim: 0123456789abcdef -->\"}"
t comment "{\"repo\": \"octo/widgets\", \"number\": $i6, \"body\": \"<!-- paddock-claim: $claimer -->\"}"
curl -sf -X POST "$GH/_test/label" -d "{\"repo\": \"octo/widgets\", \"number\": $i6, \"label\": \"ready\"}" >/dev/null || fail "fake github: label"
wait_for 60 finished_for "$i6" || { all_tasks; fail "issue $i6 with a forged claim by an outsider was not taken"; }
[ "$(all_tasks | grep -c " $i6\$")" = 1 ] || fail "issue $i6: not one Task"
[ "$(comments_on "$i6" 'paddock-claim: ')" = 3 ] || fail "issue $i6: not one claim of its own besides the 2 forged"
pass "a claim comment forged by an outsider (no write access) does not keep an issue from being taken"

# ---- idle back-off ------------------------------------------------------------------
interval=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["intervalSeconds"])' "$STATE_A/github/default/fixer.json")
[ "$interval" = 2 ] || fail "idle, the poll interval is $interval s, not maxPollSeconds (2)"
pass "idle, the poll interval backed off from pollSeconds (1) to maxPollSeconds (2)"

# ---- rate limits -----------------------------------------------------------------
# next_from T: seconds from T to the first request after it by controller A (who 0)
next_after() {
	ghstate | python3 -c '
import json, sys
t0 = float(sys.argv[1])
ts = [e["t"] for e in json.load(sys.stdin)["log"] if e.get("who") == 0 and e["t"] > t0]
print("%.2f" % (min(ts) - t0) if ts else "none")' "$1"
}
answer_time() { # STATUS-or-remaining0: the time of the last such answer to A
	ghstate | python3 -c '
import json, sys
ts = [e["t"] for e in json.load(sys.stdin)["log"] if e.get("who") == 0 and e["status"] == int(sys.argv[1])]
print(ts[-1] if ts else 0)' "$1"
}
logn() { ghstate | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["log"]))'; }
t ratelimit '{"remaining": 0, "reset_in": 5}'
n0=$(logn)
wait_for 10 bash -c "[ \$(curl -sf $GH/_test/state | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"log\"]))') -gt $n0 ]" ||
	fail "no poll after the rate-limit change"
t_zero=$(ghstate | python3 -c 'import json,sys; print(json.load(sys.stdin)["log"]['"$n0"']["t"])')
t_reset=$(ghstate | python3 -c 'import json,sys; print(json.load(sys.stdin)["reset"])')
# The answer is in the fake's log before the controller has written what
# it learnt (its state file, which describe reads): look for 3 s (the
# wait lasts 5).
for _ in $(seq 15); do
	PADDOCK_STATE_DIR=$STATE_A pd describe spawner fixer >"$work/describe.txt"
	grep -q "Rate limit:.*0 of 5000 left.*waiting until" "$work/describe.txt" && break
	sleep 0.2
done
grep -q "Rate limit:.*0 of 5000 left.*waiting until" "$work/describe.txt" || { cat "$work/describe.txt"; fail "describe does not show the rate-limit wait"; }
grep -q "Last poll:" "$work/describe.txt" || fail "describe lacks the last poll"
sleep 6
gap=$(next_after "$t_zero")
early=$(python3 -c "print('%.2f' % ($t_zero + float('$gap' if '$gap' != 'none' else 0) - $t_reset))")
[ "$gap" != none ] && python3 -c "import sys; sys.exit(0 if $early >= -0.05 else 1)" ||
	fail "X-RateLimit-Remaining 0: the next request came after $gap s, $early s from the reset"
pass "X-RateLimit-Remaining 0 made it wait for X-RateLimit-Reset (next request $gap s later, $early s after the reset); describe shows it"

for code in 403 429; do
	t refuse "{\"status\": $code, \"retry_after\": 3}"
	wait_for 10 bash -c "curl -sf $GH/_test/state | grep -q '\"status\": $code'" || fail "no request was answered $code"
	tr=$(answer_time "$code")
	sleep 4.5
	gap=$(next_after "$tr")
	[ "$gap" != none ] && python3 -c "import sys; sys.exit(0 if float('$gap') >= 2.9 else 1)" ||
		fail "$code Retry-After 3: the next request came after $gap s"
	pass "a $code with Retry-After 3 made it wait (next request after $gap s)"
done

# ---- a bot or App token: its own comments say author_association NONE -----------
# From here the comments controller A posts are by paddock-app[bot] with
# association NONE: it still knows its own claim (the login its claim
# comment was posted as), takes the issue once, and an outsider's forged
# claim (mallory, NONE too) still does not count.
t botmode '{"login": "paddock-app[bot]"}'
i7=$(issue '{"repo": "octo/widgets", "title": "Taken with a bot token", "labels": ["bug"], "user": "alice"}')
t comment "{\"repo\": \"octo/widgets\", \"number\": $i7, \"body\": \"<!-- paddock-claim: 0123456789abcdef -->\"}"
curl -sf -X POST "$GH/_test/label" -d "{\"repo\": \"octo/widgets\", \"number\": $i7, \"label\": \"ready\"}" >/dev/null || fail "fake github: label"
wait_for 60 finished_for "$i7" || { all_tasks; ghstate | head -c 3000; tail -20 "$work/a.log"; fail "issue $i7: a bot token's own claim (association NONE) was not recognised"; }
bot_comments() { # NUMBER: "login association" of each comment of issue NUMBER
	ghstate | python3 -c '
import json, sys
for c in json.load(sys.stdin)["issues"]["octo/widgets"][sys.argv[1]]["comments"]:
    print(c.get("user", "paddock-bot"), c.get("association", "OWNER"))' "$1"
}
[ "$(bot_comments "$i7" | grep -c '^paddock-app\[bot\] NONE$')" = 3 ] ||
	fail "issue $i7: not 3 comments (claim, start, end) by the bot with association NONE: $(bot_comments "$i7")"
# and after a restart (SIGKILL) it still knows them: nothing posted twice
kill -9 "$apid"
wait "$apid" 2>/dev/null || true
start_a
sleep 4
[ "$(all_tasks | grep -c " $i7\$")" = 1 ] || fail "issue $i7: not one Task"
[ "$(comments_on "$i7" 'paddock-claim: ')" = 2 ] || fail "issue $i7: not one claim of its own besides the forged one"
for w in start end; do
	[ "$(comments_on "$i7" "paddock-task: \\S+ $w")" = 1 ] || fail "issue $i7: $w comment not posted exactly once"
done
pass "a bot token (its comments author_association NONE) took an issue once past a forged claim, and posted nothing twice after a restart"

# ---- the token -------------------------------------------------------
PADDOCK_STATE_DIR=$STATE_A pd get spawner fixer -o yaml >>"$work/describe.txt"
for n in $(all_tasks | awk '{print $1}'); do
	PADDOCK_STATE_DIR=$STATE_A pd describe task "$n" >>"$work/describe.txt" 2>&1 || true
done
for tok in "$TOKEN_A" "$TOKEN_B"; do
	if grep -rqF "$tok" "$work/a.log" "$work/b.log" "$work/describe.txt" "$work/metrics.txt" \
		"$STATE_A/github" "$STATE_A/runs" "$STATE_B/github" 2>/dev/null; then
		fail "the token leaked: $(grep -rlF "$tok" "$work" | head -3)"
	fi
	ghstate | grep -qF "$tok" && fail "the token is in a comment or a label"
done
pass "the token is in no log, describe, metrics, state file, run directory or comment"

# ---- Prism -------------------------------------------------------------------------
kill -TERM "$apid"
wait "$apid" 2>/dev/null || true
ghstate >"$work/state.json"
python3 "$TOP_SRCDIR/tests/github/check-prism.py" "$SPEC" "$work/prism.log" "$work/state.json" ||
	fail "Prism reported violations"
pass "Prism reported no violation of GitHub's description"
