#!/usr/bin/env bash
# Honest waits (issue 15):
#   - apply of a Task with no controller running warns that it stays
#     Pending (run --detach too); with a controller running, no warning;
#   - logs -f of a task that has not started says on stderr what it waits
#     for (and that no controller is running), then follows it once one runs;
#   - the controller rereads paddock.yaml on SIGHUP: a driver enabled in the
#     file runs tasks without a restart (before: DriverNotFound); a bad file
#     is refused and the running config kept; `config check` says when the
#     running controller's config is older than the file;
#   - paddock status: controller, config, plugins, store, sandbox.
. "$(dirname "$0")/lib.sh"
cat >"$work/task.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: waiting}
spec: {type: exec, prompt: "hi"}
EOT
sed -i '/^drivers:/d' "$PADDOCK_CONFIG"
echo 'drivers: {exec: {enabled: true, settings: {command: "echo from-exec; echo $1"}}}' >>"$PADDOCK_CONFIG"

pd apply -f "$work/task.yaml" >"$work/apply.out" 2>"$work/apply.err"
grep -qx 'paddock: warning: no controller is running: the task stays Pending until `paddock controller` runs' \
	"$work/apply.err" || fail "apply without a controller: $(cat "$work/apply.err")"
pd run --detach --type exec -p hi --name detached >/dev/null 2>"$work/detach.err"
grep -q 'warning: no controller is running: task detached stays Pending' "$work/detach.err" ||
	fail "run --detach: $(cat "$work/detach.err")"
pass "apply and run --detach warn when no controller will run the task"

pd status >"$work/status0"
grep -q '^Controller: *not running' "$work/status0" || fail "status: $(cat "$work/status0")"

# logs -f before the task starts: says what it waits for, on stderr.
"$PADDOCK_BIN" logs -f waiting >"$work/follow.out" 2>"$work/follow.err" &
follower=$!
cleanup_pids+=("$follower")
for _ in $(seq 50); do [ -s "$work/follow.err" ] && break; sleep 0.1; done
grep -qx 'paddock: task default/waiting is Pending: waiting for it to start; no controller is running: start `paddock controller`, or Ctrl-C' \
	"$work/follow.err" || fail "logs -f: $(cat "$work/follow.err")"
"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 &
ctl=$!
cleanup_pids+=("$ctl")
for _ in $(seq 100); do kill -0 "$follower" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$follower" 2>/dev/null || fail "logs -f did not end with the task"
grep -qx 'from-exec' "$work/follow.out" || fail "logs -f did not follow the run: $(cat "$work/follow.out")"
pass "logs -f says on stderr it waits (no controller), then follows the run"

pd status >"$work/status1"
grep -qE "^Controller: *running, pid $ctl, config loaded .* from $PADDOCK_CONFIG$" "$work/status1" ||
	fail "status with a controller: $(cat "$work/status1")"
grep -qE '^Drivers: *exec$' "$work/status1" || fail "status drivers: $(cat "$work/status1")"
grep -qE '^Store: .*: 2 tasks \(0 pending or queued, 0 running, 2 finished\)$' "$work/status1" ||
	fail "status store: $(cat "$work/status1")"
for k in bubblewrap 'user namespaces' 'network namespace' cgroups seccomp; do
	grep -qE "^  $k: +(yes|ok|no|v1|v2|none)" "$work/status1" || fail "status: no $k line: $(cat "$work/status1")"
done
pass "status: controller (pid, config), drivers, store by phase, sandbox capabilities"

pd apply -f - >/dev/null 2>"$work/apply2.err" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: with-controller}
spec: {type: exec, prompt: "hi"}
EOT
! grep -q warning "$work/apply2.err" || fail "a warning with a controller running: $(cat "$work/apply2.err")"

# A fake claude CLI; the driver is enabled in the file while the
# controller runs.
fake=$work/agents/bin/claude
mkdir -p "$(dirname "$fake")"
chmod 0700 "$work"
cat >"$fake" <<'EOT'
#!/bin/sh
echo '{"type":"result","subtype":"success","is_error":false,"result":"reloaded ok","usage":{"input_tokens":1,"output_tokens":1}}'
EOT
chmod 0755 "$fake"
sleep 1.1 # a later mtime than the controller's load
sed -i '/^drivers:/d' "$PADDOCK_CONFIG"
echo "drivers: {exec: {enabled: true}, claude-code: {enabled: true, settings: {bin: \"$fake\"}}}" >>"$PADDOCK_CONFIG"
pd config check >"$work/check.out" 2>&1 || fail "config check: $(cat "$work/check.out")"
grep -q "warning: the running controller (pid $ctl) loaded $PADDOCK_CONFIG before its last change and runs the old version: reload it with kill -HUP $ctl" \
	"$work/check.out" || fail "config check does not say the controller's config is old: $(cat "$work/check.out")"
pd run --detach --type claude-code --credentials none --name before-hup -p hi >/dev/null 2>&1
phase_of() { pd get task "$1" -o json | python3 -c 'import json,sys; s=json.load(sys.stdin).get("status",{}); print(s.get("phase",""), s.get("reason",""))'; }
for _ in $(seq 100); do [ "$(phase_of before-hup)" = "Failed DriverNotFound" ] && break; sleep 0.1; done
[ "$(phase_of before-hup)" = "Failed DriverNotFound" ] || fail "before SIGHUP: $(phase_of before-hup)"
kill -HUP "$ctl"
for _ in $(seq 100); do grep -q '"plugins":"[a-z,-]*claude-code' "$PADDOCK_STATE_DIR/controller.json" 2>/dev/null && break; sleep 0.1; done
kill -0 "$ctl" || fail "the controller died on SIGHUP: $(tail -5 "$work/controller.log")"
pd config check >"$work/check2.out" 2>&1
! grep -q 'runs the old version' "$work/check2.out" || fail "still old after SIGHUP: $(cat "$work/check2.out")"
pd run --detach --type claude-code --credentials none --name after-hup -p hi >/dev/null 2>&1
for _ in $(seq 100); do [ "$(phase_of after-hup)" = "Succeeded Completed" ] && break; sleep 0.1; done
[ "$(phase_of after-hup)" = "Succeeded Completed" ] || fail "after SIGHUP: $(phase_of after-hup): $(tail -5 "$work/controller.log")"
pass "SIGHUP: the controller runs the newly enabled driver without a restart; config check said it was old"

echo "garbage: [" >>"$PADDOCK_CONFIG"
kill -HUP "$ctl"
for _ in $(seq 50); do grep -q 'SIGHUP: the config was not reloaded' "$work/controller.log" && break; sleep 0.1; done
grep -q 'SIGHUP: the config was not reloaded; the controller keeps the one it runs' "$work/controller.log" ||
	fail "a bad file on SIGHUP: $(tail -3 "$work/controller.log")"
sed -i '/^garbage/d' "$PADDOCK_CONFIG"
pd run --detach --type claude-code --credentials none --name after-bad -p hi >/dev/null 2>&1
for _ in $(seq 100); do [ "$(phase_of after-bad)" = "Succeeded Completed" ] && break; sleep 0.1; done
[ "$(phase_of after-bad)" = "Succeeded Completed" ] || fail "after a bad SIGHUP the controller should serve on: $(phase_of after-bad)"
pass "SIGHUP with a bad file: logged, the controller serves on with its config"
