#!/usr/bin/env bash
# Through `paddock run` and the real bubblewrap sandbox:
#   - a task that writes outside its workspace (the user's home, /etc)
#     fails, and the files are not there afterwards;
#   - the workspace is writable and the environment is exactly the plan's;
#   - the sandbox knows its user (agent 1000:1000) from a read-only
#     /etc/passwd and /etc/group that are no files of the run directory,
#     and a run that used no network leaves no egress.jsonl (nor a
#     start.lock: the start lock is on the run directory);
#   - a timeout kills the whole process tree (reason Timeout);
#   - `paddock stop` kills a running task (reason Stopped).
. "$(dirname "$0")/lib.sh"
home_target="$HOME/paddock-escape-$$"
etc_target="/etc/paddock-escape-$$"
marker=$((100000 + $$))  # a sleep length no other process uses
cat >"$work/agents.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: escape}
spec:
  type: exec
  command: |
    set -e
    echo inside > inside.txt
    echo "writing \$1"
    echo x > "\$1"
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: envcheck}
spec:
  type: exec
  command: |
    env | sort > env.txt
    test -z "\${CANARY_FROM_PARENT:-}" && test "\$HOME" = /home/agent && test "\$PWD" = /workspace
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: users}
spec:
  type: exec
  command: |
    set -e
    test "\$(id -un):\$(id -gn)" = agent:agent
    grep -qx 'agent:x:1000:1000:Paddock agent:/home/agent:/bin/sh' /etc/passwd
    grep -qx 'agent:x:1000:' /etc/group
    test "\$(stat -c %a /etc/passwd /etc/group)" = "644
    644"
    # (set -e does not stop at a failed "! cmd": each refusal is tested)
    (echo x >>/etc/passwd) 2>/dev/null && { echo "appended to /etc/passwd"; exit 1; }
    (echo x >>/etc/group) 2>/dev/null && { echo "appended to /etc/group"; exit 1; }
    chmod 666 /etc/passwd 2>/dev/null && { echo "chmod of /etc/passwd"; exit 1; }
    # nor replaced: by a rename over it, or a mount on it
    printf 'root:x:0:0::/root:/bin/sh\\nagent:x:0:0::/:/bin/sh\\n' >/tmp/pw
    mv -f /tmp/pw /etc/passwd 2>/dev/null && { echo "renamed over /etc/passwd"; exit 1; }
    mount --bind /tmp/pw /etc/passwd 2>/dev/null && { echo "mounted over /etc/passwd"; exit 1; }
    test "\$(cat /etc/passwd /etc/group | wc -l)" = 6
    # the pipes that carried them are not left to the command
    for fd in 12 13; do ! test -e /proc/self/fd/\$fd || { ls -l /proc/self/fd; exit 1; }; done
    echo users-ok
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: sleeper}
spec:
  type: exec
  command: |
    (sleep $marker; echo leaked) & sleep $marker
EOT
pd apply -f "$work/agents.yaml" >/dev/null

for target in "$home_target" "$etc_target"; do
	name=escape-$(basename "$(dirname "$target")")
	set +e
	pd run --agent escape --name "$name" -p "$target" >"$work/escape.out" 2>&1
	rc=$?
	set -e
	[ $rc -ne 0 ] || fail "the task writing $target succeeded: $(cat "$work/escape.out")"
	[ ! -e "$target" ] || { rm -f "$target"; fail "$target was written"; }
	pd get task "$name" -o json | grep -q '"phase": "Failed"' || fail "$name not Failed"
	pd logs "$name" | grep -q "writing $target" || fail "the command did not run: $(pd logs "$name")"
	run_dir=$(pd describe task "$name" | sed -n 's/^Run dir: *//p')
	[ "$(cat "$run_dir/workspace/inside.txt")" = inside ] || fail "workspace write lost"
	pass "writing $target fails the task and leaves no file; the workspace was writable"
done

CANARY_FROM_PARENT=leak pd run --agent envcheck --name envcheck -p "env" >/dev/null 2>&1 ||
	fail "env check task failed: $(pd logs envcheck)"
pass "environment is the plan's (no parent variables), HOME private, cwd the workspace"

pd run --agent users --name users -p "users" >/dev/null 2>&1 || fail "users task failed: $(pd logs users)"
pd logs users | grep -qx users-ok || fail "users: the check did not run: $(pd logs users)"
run_dir=$(pd describe task users | sed -n 's/^Run dir: *//p')
[ -d "$run_dir/workspace" ] || fail "users: no run directory ($run_dir)"
[ ! -e "$run_dir/etc" ] || fail "users: the run directory holds $(ls "$run_dir/etc")"
[ ! -e "$run_dir/start.lock" ] || fail "users: a start.lock file (the start lock is on the run directory)"
[ ! -e "$run_dir/egress.jsonl" ] || fail "users: egress.jsonl without network use: $(cat "$run_dir/egress.jsonl")"
pass "the sandbox's users: agent 1000:1000 from a read-only /etc/passwd and /etc/group, no file of the run's; no egress.jsonl without network use, no start.lock"

set +e
pd run --agent sleeper --name sleeper -p "sleep" --timeout 2s >/dev/null 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || fail "timeout task succeeded"
pd get task sleeper -o json | grep -q '"reason": "Timeout"' || fail "reason not Timeout: $(pd get task sleeper -o json)"
sleep 1
! pgrep -f "sleep $marker" >/dev/null || fail "processes left after timeout: $(pgrep -af "sleep $marker")"
pass "timeout kills the whole tree (reason Timeout)"

pd run --agent sleeper --name stopme -p "sleep" --detach >/dev/null
"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 & # the real process, so kills reach it
cleanup_pids+=("$!")
for _ in $(seq 50); do pd get task stopme -o json | grep -q '"phase": "Running"' && break; sleep 0.2; done
pd stop stopme >/dev/null
for _ in $(seq 100); do pd get task stopme -o json | grep -q '"phase": "Stopped"' && break; sleep 0.2; done
pd get task stopme -o json | grep -q '"phase": "Stopped"' || fail "not Stopped: $(pd get task stopme -o json)"
sleep 1
! pgrep -f "sleep $marker" >/dev/null || fail "processes left after stop: $(pgrep -af "sleep $marker")"
pass "stop kills the run (phase Stopped)"
