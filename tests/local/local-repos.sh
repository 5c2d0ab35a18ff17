#!/usr/bin/env bash
# One rule for repositories on the controller's file system (file://, a
# path), in spec.workspace.repo and in Git contexts alike:
# git.allowLocalRepositories in paddock.yaml.  Attacked through webhook
# Spawners that clone "GIT/{{event.repo}}" (a directory of repositories
# on the host, the event naming one; a generic source with a bearer
# token, as anyone holding the token could send), with events that climb
# out of it:
#   - not allowed: ../../etc, another run's workspace (a git repository in
#     the state directory, holding a secret) and the host repository
#     itself are all refused, as the workspace and as a Git context: the
#     Task fails naming the field and the setting, the agent never runs,
#     nothing is cloned;
#   - allowed: the same Spawners clone the host repository and its agent
#     reads it (the payload works), while the state directory stays
#     refused (another run's workspace is never cloned).
. "$(dirname "$0")/lib.sh"
sed -i '/^git:/d' "$PADDOCK_CONFIG"
log=$work/controller.log
secret=bearer-$RANDOM$RANDOM

pub=$work/git/pub
git init -q "$pub"
echo "PUBLIC-CANARY-$RANDOM" >"$pub/canary.txt"
git -C "$pub" add canary.txt
git -C "$pub" -c user.email=t@example.com -c user.name=t commit -qm canary
pub_canary=$(cat "$pub/canary.txt")
victim_secret="VICTIM-SECRET-$RANDOM$RANDOM"

cat >"$work/setup.yaml" <<EOT
apiVersion: v1
kind: Secret
metadata: {name: hook}
stringData: {webhookSecret: "$secret"}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: reader}
spec:
  type: exec
  command: 'echo "agent ran"; cat canary.txt vendor/canary.txt secret.txt vendor/secret.txt 2>/dev/null; true'
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: victim}
spec:
  type: exec
  command: 'git init -q . && echo "$victim_secret" > secret.txt && git add secret.txt && git -c user.email=v@example.com -c user.name=v commit -qm s'
---
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: ws}
spec:
  taskTemplate:
    spec: {agentRef: {name: reader}, prompt: "read", workspace: {repo: "$work/git/{{event.repo}}"}}
  webhook: {type: generic, auth: bearer, secretRef: {name: hook}}
---
apiVersion: paddock.dev/v1alpha1
kind: Spawner
metadata: {name: ctx}
spec:
  taskTemplate:
    spec:
      agentRef: {name: reader}
      prompt: "read"
      contexts: [{name: v, type: Git, git: {repository: "file://$work/git/{{event.repo}}"}, mountPath: vendor}]
  webhook: {type: generic, auth: bearer, secretRef: {name: hook}}
EOT
pd apply -f "$work/setup.yaml" >/dev/null

ctl=
start_controller() {
	"$PADDOCK_BIN" controller >>"$log" 2>&1 &
	ctl=$!
	cleanup_pids+=("$ctl")
	local n=$1
	for _ in $(seq 100); do
		[ "$(grep -c 'metrics endpoint listening' "$log")" -gt "$n" ] && return 0
		sleep 0.05
	done
	fail "controller did not listen: $(tail -n 5 "$log")"
}
phase_of() { pd get task "$1" -o json | python3 -c 'import json,sys; s=json.load(sys.stdin).get("status",{}); print(s.get("phase",""), s.get("message",""))'; }
wait_done() {
	local i st
	for i in $(seq 600); do
		st=$(phase_of "$1")
		case "$st" in Succeeded* | Failed* | Stopped*) echo "$st"; return 0 ;; esac
		sleep 0.1
	done
	fail "$1 still ${st:-unknown}"
}
# rendered SPAWNER REPO: the repository the Spawner's template makes.
rendered() { if [ "$1" = ws ]; then echo "$work/git/$2"; else echo "file://$work/git/$2"; fi; }
# send SPAWNER ID REPO: one event; prints the Task made.
send() {
	local port body out
	port=$(grep -o 'port=[0-9]*' "$log" | tail -1 | cut -d= -f2)
	body=$(python3 -c 'import json,sys; print(json.dumps({"repo": sys.argv[1]}))' "$3")
	out=$(curl -s -w ' %{http_code}' -X POST -H "Authorization: Bearer $secret" -H "X-Delivery-Id: $2" \
		-H 'Content-Type: application/json' --data "$body" "http://127.0.0.1:$port/hooks/default/$1")
	[ "${out##* }" = 202 ] || fail "event $2 to $1: ${out}"
	pd get tasks -o json | python3 -c 'import json,sys
for t in json.load(sys.stdin)["items"]:
    if t["metadata"].get("annotations", {}).get("paddock.dev/event", "").endswith("/" + sys.argv[1]):
        print(t["metadata"]["name"])' "$2"
}
# nothing_leaked TASK: its run cloned nothing and its agent never ran.
nothing_leaked() {
	! pd logs "$1" 2>/dev/null | grep -q 'agent ran' || fail "$1: the agent ran: $(pd logs "$1")"
	! grep -rlqF -e "$victim_secret" -e "$pub_canary" --exclude-dir="$victim_run" \
		"$PADDOCK_STATE_DIR/runs" 2>/dev/null ||
		fail "$1: cloned: $(grep -rlF -e "$victim_secret" -e "$pub_canary" "$PADDOCK_STATE_DIR/runs")"
}

# At submit: paddock run and apply refuse it, naming the field and the setting.
pd run --detach --agent reader -p hi --workspace-repo "file://$pub" >/dev/null 2>"$work/run.err" &&
	fail "run --workspace-repo file://... accepted"
grep -q "^paddock: spec.workspace.repo: local repository \"file://$pub\" refused: .*git.allowLocalRepositories: true in paddock.yaml" \
	"$work/run.err" || fail "run --workspace-repo: $(cat "$work/run.err")"
printf 'apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: t1}\nspec: {agentRef: {name: reader}, prompt: hi, workspace: {repo: /etc}}\n' |
	pd apply -f - >/dev/null 2>"$work/apply.err" && fail "apply of a Task cloning /etc accepted"
grep -q 'spec.workspace.repo: local repository "/etc" refused' "$work/apply.err" || fail "apply: $(cat "$work/apply.err")"
[ -z "$(pd get tasks -o name)" ] || fail "a refused Task was stored: $(pd get tasks)"
pass "paddock run --workspace-repo and apply refuse a local repository at submit"

start_controller 0
pd run --detach --agent victim --name victim -p "keep a secret" >/dev/null 2>&1
[ "$(wait_done victim | cut -d' ' -f1)" = Succeeded ] || fail "victim: $(phase_of victim)"
victim_ws=$(dirname "$(grep -rlF "$victim_secret" "$PADDOCK_STATE_DIR"/runs/*/workspace/secret.txt)")
[ -d "$victim_ws/.git" ] || fail "the victim's workspace is not a git repository: $victim_ws"
victim_run=$(basename "$(dirname "$victim_ws")")

up=$(echo "$work/git" | sed 's#/[^/]*#../#g') # from GIT up to /
inside_state=../state/runs/$victim_run/workspace
[ -d "$work/git/$inside_state/.git" ] || fail "test setup: $work/git/$inside_state"

# ---- not allowed: every local form refused, as workspace and as context
i=0
for repo in "${up}etc" "$inside_state" pub; do
	for sp in ws ctx; do
		i=$((i + 1))
		t=$(send "$sp" "off-$i" "$repo")
		[ -n "$t" ] || fail "event off-$i to $sp made no Task"
		st=$(wait_done "$t")
		field=spec.workspace.repo
		[ "$sp" = ws ] || field='spec.contexts\[0\].git.repository'
		echo "$st" | grep -qF "$(rendered "$sp" "$repo")\" refused" &&
			echo "$st" | grep -q "^Failed .*$field: local repository .*git.allowLocalRepositories: true in paddock.yaml" ||
			fail "$sp $repo: want Failed naming $field and git.allowLocalRepositories, got: $st"
		nothing_leaked "$t"
	done
done
pass "not allowed: ../etc, another run's workspace and the host repository refused as workspace and Git context ($i Tasks from a webhook), the field and the setting named, the agent never ran, nothing cloned"

# ---- allowed: the payload works, the state directory stays out of reach
kill "$ctl"
wait "$ctl" 2>/dev/null || true
echo "git: {allowLocalRepositories: true}" >>"$PADDOCK_CONFIG"
start_controller 1
t=$(send ws on-1 pub)
st=$(wait_done "$t")
[ "${st%% *}" = Succeeded ] || fail "allowed: a host repository as workspace: $st"
pd logs "$t" | grep -qx "$pub_canary" || fail "allowed: the agent did not read its clone: $(pd logs "$t")"
t=$(send ctx on-2 pub)
st=$(wait_done "$t")
[ "${st%% *}" = Succeeded ] && pd logs "$t" | grep -qx "$pub_canary" ||
	fail "allowed: a host repository as Git context: $st $(pd logs "$t")"
for repo in "$inside_state" "../state/runs/../runs/$victim_run/workspace/.git"; do
	for sp in ws ctx; do
		i=$((i + 1))
		t=$(send "$sp" "on-$i" "$repo")
		st=$(wait_done "$t")
		echo "$st" | grep -qF "local repository \"$(rendered "$sp" "$repo")\" lies inside" &&
			echo "$st" | grep -q "^Failed .*holds Paddock's state" ||
			fail "allowed, $sp $repo: want Failed (state directory), got: $st"
		! pd logs "$t" 2>/dev/null | grep -q 'agent ran' || fail "$t: the agent ran"
		! grep -rlqF "$victim_secret" --exclude-dir="$victim_run" "$PADDOCK_STATE_DIR/runs" ||
			fail "$sp $repo: the victim's secret was cloned"
	done
done
pass "allowed: the same Spawner clones a host repository and its agent reads it; another run's workspace in the state directory stays refused"
