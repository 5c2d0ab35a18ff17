#!/usr/bin/env bash
# The CLI as a user reads it (issue 15): `stop` on a finished task says so
# and writes nothing; `help` everywhere; a bad option is named with the
# command's usage line; costs as $0.0003; `unchanged` on a no-op apply
# (nothing written); tables aligned and without trailing spaces.
. "$(dirname "$0")/lib.sh"
command -v bwrap >/dev/null || { echo "SKIP: bwrap not installed"; exit 77; }
cat >"$work/agents.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: quick}
spec: {type: exec, command: "echo ok"}
EOT
pd apply -f "$work/agents.yaml" >/dev/null
j() { pd get "$1" "$2" -o json | python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$3"; }
# run CMD...: stdout in $out, stderr in $err, exit status in $rc
run() { set +e; "$@" >"$work/out" 2>"$work/err"; rc=$?; set -e; out=$(cat "$work/out"); err=$(cat "$work/err"); }
want() { # want WHAT EXPECTED ACTUAL
	[ "$2" = "$3" ] || fail "$1: expected
$2
got
$3"
}

stop_finished() {
	pd run --agent quick --name done1 -p go >/dev/null || fail "done1 failed"
	local rv; rv=$(j task done1 'd["metadata"]["resourceVersion"]')
	run pd stop done1
	want "stop of a Succeeded task" "0:Task/done1 already Succeeded: nothing to stop" "$rc:$out"
	want "stop of a Succeeded task, stderr" "" "$err"
	want "nothing written (resourceVersion)" "$rv" "$(j task done1 'd["metadata"]["resourceVersion"]')"
	want "no stop annotation" "None" "$(j task done1 'd["metadata"].get("annotations", {}).get("paddock.dev/stop")')"
	pd run --agent quick --name pending1 -p go --detach >/dev/null 2>&1
	run pd stop pending1
	want "stop of a Pending task (no controller: done in-process)" "0:Task/pending1 stopped" "$rc:$out"
	run pd stop pending1 done1
	want "stop again" "0:Task/pending1 already Stopped: nothing to stop
Task/done1 already Succeeded: nothing to stop" "$rc:$out"
	run pd stop nope
	want "stop of a missing task" '3:paddock: task "nope" not found in namespace default' "$rc:$err"
	pass "stop on a finished task says so, exit 0, and writes nothing"
}

help_everywhere() {
	run pd help --help
	want "help --help" 0 "$rc"
	want "help --help's first line" "Usage: paddock help [COMMAND]" "$(head -1 <<<"$out")"
	local h="$out"
	run pd help -h
	want "help -h" "$h" "$out"
	run pd help help
	want "help help" "$h" "$out"
	run pd help get
	want "help get" 0 "$rc"
	want "help get = get --help" "$(pd get --help)" "$out"
	run pd help
	grep -q '^  help  *show help for paddock or a command$' <<<"$out" || fail "help is not listed: $out"
	run pd help nosuch
	want "help of an unknown command" 2 "$rc"
	grep -q '^paddock: help: unknown command "nosuch": valid commands are run, ' <<<"$err" || fail "help nosuch: $err"
	pass "paddock help --help, help help, help COMMAND"
}

bad_options() {
	local get_usage='Usage: paddock get KIND [NAME...] | KIND/NAME... [-o wide|yaml|json|name|jsonpath=TEMPLATE]
                   [-n NS | -A] [-l SELECTOR] [--sort-by FIELD] [-w]'
	run pd get tasks --foo
	want "get --foo" "2:paddock: get: unknown option \"--foo\"
$get_usage
Run 'paddock get --help' for the options." "$rc:$err"
	want "get --foo, stdout" "" "$out"
	run pd get --foo=bar tasks
	want "get --foo=bar" 'paddock: get: unknown option "--foo"' "$(head -1 <<<"$err")"
	run pd get tasks -x
	want "get -x" 'paddock: get: unknown option "-x"' "$(head -1 <<<"$err")"
	run pd get tasks -n
	want "get -n" "2:paddock: get: option \"-n\" needs an argument
$get_usage" "$rc:$(head -3 <<<"$err")"
	run pd get tasks --namespace
	want "get --namespace" 'paddock: get: option "--namespace" needs an argument' "$(head -1 <<<"$err")"
	run pd run --watch=1 -p x --type exec
	want "run --watch=1" 'paddock: run: option "--watch" takes no argument' "$(head -1 <<<"$err")"
	local cmd
	for cmd in run apply get describe logs stop delete plugins install; do
		run pd $cmd x --bogus
		want "$cmd --bogus" "2:paddock: $cmd: unknown option \"--bogus\"" "$rc:$(head -1 <<<"$err")"
		want "$cmd --bogus: the usage line" "$(pd $cmd --help | head -1)" "$(sed -n 2p <<<"$err")"
		want "$cmd --bogus: the hint" "Run 'paddock $cmd --help' for the options." "$(sed -n '$p' <<<"$err")"
	done
	run pd --bogus get tasks
	want "paddock --bogus" "2:paddock: unknown option \"--bogus\"
Usage: paddock [GLOBAL OPTIONS] COMMAND [ARGS...]
Run 'paddock help' for the options." "$rc:$err"
	run pd --config
	want "paddock --config" 'paddock: option "--config" needs an argument' "$(head -1 <<<"$err")"
	pass "bad options are named, with the command's usage line (exit 2)"
}

unchanged_apply() {
	cat >"$work/objs.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: later, labels: {a: b}}
spec: {agentRef: {name: quick}, prompt: hi}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1}
data: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: s1}
stringData: {k: v}
EOT
	run pd apply -f "$work/objs.yaml"
	want "first apply" "0:Task/later created
ConfigMap/cm1 created
Secret/s1 created" "$rc:$out"
	local rv; rv=$(j task later 'd["metadata"]["resourceVersion"]')
	run pd apply -f "$work/objs.yaml"
	want "the same again" "0:Task/later unchanged
ConfigMap/cm1 unchanged
Secret/s1 unchanged" "$rc:$out"
	want "an unchanged task is not written (resourceVersion)" "$rv" "$(j task later 'd["metadata"]["resourceVersion"]')"
	run pd apply -f "$work/agents.yaml"
	want "an unchanged Agent" "0:Agent/quick unchanged" "$rc:$out"
	sed -i 's/a: b/a: c/; s/k: v}/k: w}/' "$work/objs.yaml"
	run pd apply -f "$work/objs.yaml"
	want "changed" "0:Task/later configured
ConfigMap/cm1 configured
Secret/s1 configured" "$rc:$out"
	[ "$(j task later 'd["metadata"]["resourceVersion"]')" != "$rv" ] || fail "a changed task kept its resourceVersion"
	pd delete task later >/dev/null
	pass "apply of an unchanged document prints unchanged and writes nothing"
}

# Every line of file $1 without trailing spaces, and each column up to AGE
# (never empty) starting where its header does.
check_table() {
	python3 - "$1" <<'PY' || fail "table $1: $(cat "$1")"
import re, sys
lines = open(sys.argv[1]).read().split("\n")[:-1]
assert lines, "empty"
for l in lines:
    assert not l.endswith(" "), "trailing space: %r" % l
head = lines[0]
words = [(m.group(), m.start()) for m in re.finditer(r"\S+", head)]
starts = []
for w, s in words:
    starts.append(s)
    if w == "AGE":
        break
for l in lines[1:]:
    for s in starts[1:]:
        assert l[s - 1] == " " and l[s] != " ", "column %d of %r" % (s, l)
PY
}

tables() {
	local long=a-task-with-a-rather-long-name-for-the-table-x
	pd run --agent quick --name "$long" -p go >/dev/null || fail "$long failed"
	pd run --agent quick --name t2 -p go >/dev/null || fail "t2 failed"
	pd get tasks >"$work/t1"
	check_table "$work/t1"
	grep -q "^$long  *agent:quick  *Succeeded " "$work/t1" || fail "the long name's row: $(cat "$work/t1")"
	pd get tasks -o wide >"$work/t2"
	check_table "$work/t2"
	pd get tasks -A >"$work/t3"
	check_table "$work/t3"
	pd get task t2 >"$work/t4"
	check_table "$work/t4"
	grep -q '^t2  *agent:quick  *Succeeded  *[0-9]*s$' "$work/t4" || fail "one task's row: $(cat "$work/t4")"
	pd get agents >"$work/t5"
	check_table "$work/t5"
	pd get configmaps >"$work/t6"
	check_table "$work/t6"
	pd describe task t2 >"$work/d"
	! grep -n ' $' "$work/d" || fail "describe has trailing spaces"
	grep -q '^  [0-9T:.-]*Z  *Normal  *Created  *task created$' "$work/d" || fail "describe's events: $(cat "$work/d")"
	pass "tables are aligned (long names too) and have no trailing spaces"
}

costs() {
	# a fake claude CLI reporting a cost, in a 0700 directory as config-check.sh does
	local cli=$work/agents/bin/fake-claude
	mkdir -p "$(dirname "$cli")"
	cat >"$cli" <<'EOT'
#!/bin/sh
echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","total_cost_usd":0.000282,"usage":{"input_tokens":10,"output_tokens":2}}'
EOT
	chmod 0755 "$cli"
	chmod 0700 "$work"
	sed -i '/^drivers:/d' "$PADDOCK_CONFIG"
	echo "drivers: {exec: {enabled: true}, claude-code: {enabled: true, settings: {bin: \"$cli\"}}}" >>"$PADDOCK_CONFIG"
	pd run --type claude-code --credentials none --name costly -p hi >/dev/null 2>&1 ||
		fail "the fake claude task failed: $(pd describe task costly 2>&1)"
	pd describe task costly >"$work/d"
	grep -qx '  costUSD: \$0.0003' "$work/d" || fail "describe's cost: $(sed -n '/^Usage:/,/^[A-Z]/p' "$work/d")"
	want "JSON keeps the number" "True" "$(j task costly 'abs(d["status"]["usage"]["costUSD"] - 0.000282) < 1e-12')"
	pd get task costly -o yaml | grep -q '^    costUSD: 0\.00028' || fail "YAML: $(pd get task costly -o yaml | grep costUSD)"
	pd get task costly -o wide | awk 'NR==2 {print $7, $8}' >"$work/w"
	want "get -o wide: TOKENS and COST" '10/2 $0.0003' "$(cat "$work/w")"
	pass "describe and get -o wide print the cost as \$0.0003; -o json/yaml keep the number"
}

kubectl_habits() {
	pd run --agent quick --name q1 -p go >/dev/null || fail "q1"
	pd run --agent quick --name q2 -p go >/dev/null || fail "q2"
	cat >"$work/labelled.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: web-a, labels: {team: web, tier: front}}
spec: {type: exec, command: "echo a"}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: db-b, labels: {team: db}}
spec: {type: exec, command: "echo b"}
EOT
	pd apply -f "$work/labelled.yaml" >/dev/null
	want "get tasks q1 q2: both" "q1 q2" "$(pd get tasks q1 q2 | awk 'NR>1 {print $1}' | xargs)"
	want "get task/q1 agent/quick: a table each" "NAME q1 NAME quick" "$(pd get task/q1 agent/quick | awk '{print $1}' | xargs)"
	want "get -o yaml of two names is a List" "List 2" "$(pd get tasks q1 q2 -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["kind"], len(d["items"]))')"
	want "-l team=web" "web-a" "$(pd get agents -l team=web -o name | sed 's|^Agent/||' | xargs)"
	want "-l team,!tier" "db-b" "$(pd get agents -l 'team,!tier' -o name | sed 's|^Agent/||' | xargs)"
	want "-l team,team!=web" "db-b" "$(pd get agents --selector 'team,team!=web' --sort-by .metadata.name -o name | sed 's|^Agent/||' | xargs)"
	want "--sort-by .metadata.name" "db-b quick web-a" "$(pd get agents --sort-by .metadata.name -o name | sed 's|^Agent/||' | xargs)"
	want "--sort-by {.metadata.name} (kubectl's form)" "db-b quick web-a" "$(pd get agents --sort-by '{.metadata.name}' -o name | sed 's|^Agent/||' | xargs)"
	run pd get agents -l '=x'
	want "a bad selector is a usage error naming the forms" "2" "$rc"
	grep -q 'use key=value, key!=value, key or !key' "$work/err" || fail "bad -l: $err"
	run pd get tasks -A -o name
	grep -qx 'Task/q1' "$work/out" || fail "-A: $out"
	# one not-found format, whichever command
	for cmd in "get task nosuch" "get tasks q1 nosuch" "describe task nosuch" "describe task/nosuch" "logs nosuch" "stop nosuch" "delete task nosuch"; do
		run pd $cmd
		want "$cmd: exit 3" 3 "$rc"
		grep -qx 'paddock: task "nosuch" not found in namespace default' "$work/err" ||
			fail "$cmd: not-found message: $err"
	done
	run pd delete -f "$work/labelled.yaml"
	want "delete -f FILE" "0:Agent/web-a deleted
Agent/db-b deleted" "$rc:$out"
	run pd delete task/q2 agent/quick-nosuch --ignore-not-found
	want "delete TYPE/NAME" "0:Task/q2 deleted" "$rc:$out"
	run pd delete -f "$work/labelled.yaml" q1
	want "delete names and -f together is a usage error" 2 "$rc"
	pass "get NAME..., TYPE/NAME, -l, --sort-by, -A; delete -f FILE and TYPE/NAME; one not-found message"
}

jsonpath() {
	pd run --agent quick --name jp1 -p go >/dev/null || fail "jp1"
	pd run --agent quick --name jp2 -p go >/dev/null || fail "jp2"
	want "-o jsonpath={.metadata.name} of one task" "jp1" "$(pd get task jp1 -o jsonpath='{.metadata.name}')"
	want "{.status.phase}" "Succeeded" "$(pd get task jp1 -o 'jsonpath={.status.phase}')"
	want "{.items[*].metadata.name}" "jp1 jp2" "$(pd get tasks jp1 jp2 -o jsonpath='{.items[*].metadata.name}')"
	pd get tasks jp1 jp2 -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.phase}{"\n"}{end}' >"$work/range.out"
	printf 'jp1 Succeeded\njp2 Succeeded\n' | cmp -s - "$work/range.out" || fail "{range .items[*]}...{end}: $(od -c "$work/range.out")"
	want "--sort-by with jsonpath" "$(pd get agents --sort-by .metadata.name -o name | sed 's|^Agent/||' | xargs)" \
		"$(pd get agents --sort-by .metadata.name -o jsonpath='{.items[*].metadata.name}')"
	# The same value as -o json's (compared as JSON: 0.020 and 0.02 are one number).
	pd get task jp1 -o json >"$work/jp1.json"
	pd get task jp1 -o jsonpath='{.status.usage}' >"$work/jp1.usage"
	python3 - "$work/jp1.json" "$work/jp1.usage" <<'EOT' || fail "{.status.usage} is not -o json's status.usage: $(cat "$work/jp1.usage")"
import json, sys
want = json.load(open(sys.argv[1]))["status"]["usage"]
got = json.load(open(sys.argv[2]))
sys.exit(0 if want == got and want else 1)
EOT
	pd apply -f - >/dev/null <<'EOT'
apiVersion: v1
kind: Secret
metadata: {name: jp-secret}
stringData: {token: jp-secret-value-never-printed}
EOT
	run pd get secret jp-secret -o jsonpath='{.data.token}{.stringData}'
	want "a Secret's value stays redacted" "0:<redacted>" "$rc:$out"
	run pd get tasks -o jsonpath='{.items[?(@.status.phase=="Failed")].metadata.name}'
	want "a filter: usage error" 2 "$rc"
	grep -q '^paddock: get: -o jsonpath: filters \[?(...)\] are not supported at position 8 of the template: use {.field}' "$work/err" ||
		fail "filter: $err"
	run pd get tasks -o jsonpath='{range .items[*]}{.metadata.name}'
	want "a range without end: usage error" 2 "$rc"
	grep -q 'a {range} has no {end}' "$work/err" || fail "range: $err"
	run pd get tasks -w -o jsonpath='{.metadata.name}'
	want "-w with jsonpath: usage error" 2 "$rc"
	pass "-o jsonpath: {.metadata.name}, {.status.phase}, {.items[*].x}, {range}{end}; Secrets redacted; unsupported syntax named with its position"
}

task_md_excluded() {
	local repo=$work/repo
	git init -q -b main "$repo"
	git -C "$repo" -c user.name=t -c user.email=t@t commit -q --allow-empty -m init
	cat >"$work/gitagent.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: gitter}
spec: {type: exec, command: "echo new >work.txt; git add -A; echo STATUS; git status --porcelain; echo END"}
EOT
	pd apply -f "$work/gitagent.yaml" >/dev/null
	pd run --agent gitter --name gitty -p go --workspace-repo "file://$repo" >"$work/git.out" 2>&1 ||
		fail "gitty: $(cat "$work/git.out"; pd logs --raw gitty)"
	pd logs --raw gitty | sed -n '/^STATUS$/,/^END$/p' >"$work/status"
	grep -qx 'A  work.txt' "$work/status" || fail "the agent's git add did not run: $(pd logs --raw gitty)"
	! grep -q 'task.md' "$work/status" || fail "task.md in the agent's git status: $(cat "$work/status")"
	pass "task.md stays out of the agent's git status (git add -A does not take it)"
}

# A driver built for ABI 1.0 loads, and `paddock plugins` says what it
# lacks (its agents hold their key: no credential route).
old_abi() {
	local fx=$TOP_BUILDDIR/tests/fixtures/.libs
	[ -f "$fx/old-abi.so" ] || { echo "SKIP old_abi: fixtures not built (make -C tests/fixtures check)"; return 0; }
	PADDOCK_PLUGIN_PATH=$fx pd plugins >"$work/plugins.out" 2>&1 || true # refused fixtures make it exit 1
	grep -q '^driver  *old-abi  *0.0.1  *1.0 ' "$work/plugins.out" || fail "old-abi not listed as ABI 1.0: $(cat "$work/plugins.out")"
	grep -q 'driver old-abi is built for ABI 1.0: it cannot route its credential' "$work/plugins.out" ||
		fail "no warning for the 1.0 driver: $(cat "$work/plugins.out")"
	pass "a 1.0 driver loads, and plugins warns that it cannot route its credential"
}

run_case old_abi
run_case stop_finished
run_case kubectl_habits
run_case help_everywhere
run_case bad_options
run_case unchanged_apply
run_case tables
run_case costs
run_case task_md_excluded
run_case jsonpath
[ ${#failed[@]} -eq 0 ] || fail "failed: ${failed[*]}"
