#!/usr/bin/env bash
# Dependencies through `paddock run`/`apply` and the controller:
#   - a task waits for its dependsOn and sees their results in its prompt
#     ({{ deps.NAME.results.KEY }});
#   - a failed dependency fails its dependents with DependencyFailed;
#   - an unknown template reference is refused at submit time;
#   - a dependency cycle fails with DependencyCycle.
. "$(dirname "$0")/lib.sh"
cat >"$work/chain.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: sh}
spec:
  type: exec
  command: |
    case "$1" in
      fail*) exit 3 ;;
      build*) echo feature-42 > branch.txt ;;
      *) printf '%s\n' "$1" > seen.txt ;;
    esac
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: test}
spec:
  agentRef: {name: sh}
  dependsOn: [build]
  prompt: "test branch {{ deps.build.results.built }}"
  outputs: {parameters: [{name: seen, path: seen.txt}]}
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: build}
spec:
  agentRef: {name: sh}
  prompt: build it
  outputs: {parameters: [{name: built, path: branch.txt}]}
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: broken}
spec: {agentRef: {name: sh}, prompt: fail now}
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: after-broken}
spec: {agentRef: {name: sh}, prompt: never, dependsOn: [broken]}
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: cycle-a}
spec: {agentRef: {name: sh}, prompt: a, dependsOn: [cycle-b]}
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: cycle-b}
spec: {agentRef: {name: sh}, prompt: b, dependsOn: [cycle-a]}
EOT
pd apply -f "$work/chain.yaml" >/dev/null
"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 & # the real process, so kills reach it
cleanup_pids+=("$!")
phase() { pd get task "$1" -o json | python3 -c 'import json,sys; s=json.load(sys.stdin)["status"]; print(s.get("phase",""), s.get("reason",""))'; }
for _ in $(seq 150); do
	done=0
	for t in test after-broken cycle-a cycle-b; do case $(phase $t) in Succeeded*|Failed*|Stopped*) done=$((done + 1)) ;; esac; done
	[ $done -eq 4 ] && break
	sleep 0.2
done
[ "$(phase build)" = "Succeeded Completed" ] || fail "build: $(phase build)"
[ "$(phase test)" = "Succeeded Completed" ] || fail "test: $(phase test)"
pd get task test -o json | grep -q '"seen": "test branch feature-42' || fail "template not rendered: $(pd get task test -o json | grep seen)"
pass "a dependent waited and saw its dependency's result in its prompt"
[ "$(phase after-broken)" = "Failed DependencyFailed" ] || fail "after-broken: $(phase after-broken)"
pass "a failed dependency fails its dependent with DependencyFailed"
[ "$(phase cycle-a)" = "Failed DependencyCycle" ] || fail "cycle-a: $(phase cycle-a)"
pass "a dependency cycle fails with DependencyCycle"
if out=$(pd run --agent sh -p "x {{ deps.nope.results.y }}" --depends-on build 2>&1); then
	fail "unknown template reference accepted: $out"
fi
echo "$out" | grep -q "nope" || fail "error does not name the reference: $out"
pass "an unknown template reference is refused at submit time: $out"
