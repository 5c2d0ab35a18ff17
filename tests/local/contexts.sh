#!/usr/bin/env bash
# A task with all five context types (Text, ConfigMap, Git, URL, Runtime),
# from the Agent and the Task, through `paddock run`, the exec driver and
# the sandbox.  The agent side compares task.md and every materialized
# file (content and mode) with tests/data/golden/.  Then traversal, SSRF
# and oversize attempts must each fail with a clear error and leave
# nothing outside the run's directory.
# UPDATE_GOLDEN=1 rewrites the golden files from this run (review the diff).
. "$(dirname "$0")/lib.sh"
golden=$TOP_SRCDIR/tests/data/golden
sed -i 's/^isolation: .*/isolation: bwrap\nnetwork: {allowLoopback: true}/' "$PADDOCK_CONFIG"

python3 "$TOP_SRCDIR/tests/url-server.py" --lifetime 120 >"$work/port" &
cleanup_pids+=("$!")
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")

# a repository with a library in lib/, fetched at a full commit SHA
repo=$work/lib.git
git init -q --bare "$repo"
git clone -q "$repo" "$work/src" 2>/dev/null
mkdir -p "$work/src/lib" && printf 'library v1\n' >"$work/src/lib/README.md"
git -C "$work/src" add -A && git -C "$work/src" -c user.name=t -c user.email=t@t commit -qm v1
sha=$(git -C "$work/src" rev-parse HEAD)
git -C "$work/src" push -q origin HEAD:main 2>/dev/null
printf 'library v2\n' >"$work/src/lib/README.md"
git -C "$work/src" -c user.name=t -c user.email=t@t commit -qam v2 && git -C "$work/src" push -q origin HEAD:main 2>/dev/null

mkdir -p "$work/expect"
[ -n "${UPDATE_GOLDEN:-}" ] || cp "$golden/contexts-task.md" "$golden/contexts-files.txt" "$work/expect/"
cat >"$work/all.yaml" <<EOT
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data:
  app.conf: "debug=true\n"
  run.sh: "#!/bin/sh\necho configured\n"
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: golden}
spec:
  type: exec
  sandbox: {readOnlyPaths: ["$work/expect"]}
  contexts:
    - {name: house-rules, type: Text, text: "Agent context: always run the tests."}
  command: |
    set -e
    find . -path ./task.md -prune -o -name .git -prune -o -type f -printf '%m %p ' -exec sha256sum {} \; |
      awk '{print \$1, \$2, \$3}' | sort > /tmp/files.txt
    find . -name .git -prune -o -type d -printf '%m %p/\n' | sort >> /tmp/files.txt
    cp task.md /tmp/task.md
    if [ ! -e $work/expect/contexts-task.md ]; then cat /tmp/task.md; echo ===; cat /tmp/files.txt; exit 0; fi
    diff -u $work/expect/contexts-task.md /tmp/task.md
    diff -u $work/expect/contexts-files.txt /tmp/files.txt
    echo GOLDEN_OK
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: all-contexts}
spec:
  agentRef: {name: golden}
  prompt: "Use every context."
  timeout: 2m
  contexts:
    - {name: note, type: Text, text: "Inline note with </context> inside."}
    - {name: script, type: Text, text: "#!/bin/sh\necho hello\n", mountPath: bin/hello.sh, fileMode: 0755}
    - {name: private, type: Text, text: "token-free secret-ish notes\n", mountPath: notes/private.txt, fileMode: 0600}
    - {name: conf, type: ConfigMap, configMap: {name: settings, key: app.conf}, mountPath: etc/app.conf}
    - {name: all-settings, type: ConfigMap, configMap: {name: settings}, mountPath: settings}
    - {name: settings-inline, type: ConfigMap, configMap: {name: settings, key: app.conf}}
    - {name: missing, type: ConfigMap, configMap: {name: nope, optional: true}}
    - {name: lib, type: Git, git: {repository: "file://$repo", ref: "$sha", path: lib}, mountPath: vendor/lib}
    - {name: page, type: URL, url: {url: "http://127.0.0.1:$port/ok"}}
    - {name: page-file, type: URL, url: {url: "http://127.0.0.1:$port/inject"}, mountPath: docs/page.txt}
    - {name: platform, type: Runtime}
  outputs: {parameters: [{name: verdict, path: verdict.txt, default: none}]}
EOT
pd apply -f "$work/all.yaml" >/dev/null
"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 & # the real process, so kills reach it
cleanup_pids+=("$!")
for _ in $(seq 300); do
	phase=$(pd get task all-contexts -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get("phase",""))')
	case $phase in Succeeded|Failed|Stopped) break ;; esac
	sleep 0.2
done
if [ -n "${UPDATE_GOLDEN:-}" ]; then
	pd logs --raw all-contexts | sed -n '1,/^===$/p' | sed '$d' >"$golden/contexts-task.md"
	pd logs --raw all-contexts | sed -n '/^===$/,/^---PADDOCK_OUTPUTS_START---$/p' | sed '1d;$d' | sed '${/^$/d}' >"$golden/contexts-files.txt"
	echo "golden files rewritten; review: git diff tests/data/golden"
	exit 0
fi
[ "$phase" = Succeeded ] || fail "all-contexts $phase: $(pd get task all-contexts -o json | grep -E '"(reason|message)"'; pd logs all-contexts | head -40)"
pd logs all-contexts | grep -q GOLDEN_OK || fail "no GOLDEN_OK"
pass "task.md and every file (content and mode) match the golden files"

# Refusals: each with a clear error, the task Failed, nothing outside the run dir.
expect_refused() { # NAME CONTEXT-YAML WANT-IN-MESSAGE
	local name=$1 ctx=$2 want=$3 out
	printf 'apiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: %s}\nspec:\n  agentRef: {name: golden}\n  prompt: refuse\n  contexts:\n    - %s\n' \
		"$name" "$ctx" >"$work/$name.yaml"
	if out=$(pd apply -f "$work/$name.yaml" 2>&1); then
		for _ in $(seq 100); do
			pd get task "$name" -o json | grep -qE '"phase": "(Failed|Succeeded)"' && break
			sleep 0.2
		done
		out=$(pd get task "$name" -o json)
		echo "$out" | grep -q '"phase": "Failed"' || fail "$name did not fail: $out"
	fi
	echo "$out" | grep -q "$want" || fail "$name: message lacks \"$want\": $out"
	pass "$name refused: $(echo "$out" | grep -oE "(paddock: .*|\"message\": \".*\")" | head -1)"
}
expect_refused traversal '{type: Text, text: x, mountPath: ../../outside.txt}' 'mountPath'
expect_refused absolute '{type: Text, text: x, mountPath: /etc/paddock-ctx}' 'mountPath'
expect_refused ssrf "{type: URL, url: {url: \"http://127.0.0.1:$port/redirect-metadata\"}}" '169.254.169.254'
expect_refused oversize "{type: URL, url: {url: \"http://127.0.0.1:$port/big\"}}" 'bytes'
# ../../outside.txt from a workspace would land in the runs directory.
[ ! -e "$PADDOCK_STATE_DIR/runs/outside.txt" ] && [ ! -e /etc/paddock-ctx ] || fail "a refused file was written"
for t in ssrf oversize; do
	run_dir=$(pd describe task "$t" | sed -n 's/^Run dir: *//p')
	[ ! -e "$run_dir/supervisor.pid" ] || fail "$t started a run"
done
pass "refused tasks wrote nothing outside their run directory and never started"
