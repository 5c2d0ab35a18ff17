#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/web/run.sh - the dashboard (core/web/) in a real headless Chromium
# (Debian's `chromium`, driven by puppeteer-core from npm installed into
# a cache outside the repository by tests/web/install.sh), against a real
# `paddock controller` with real exec agents in the sandbox.
#
#   TOP_BUILDDIR=_build tests/web/run.sh
#
# Needs a build configured with --enable-test-hooks (the task list must
# be seen Pending: the controller is paused before it records Running);
# skips (exit 77) without it, without chromium or without node.
# Screenshots of each page go to $TOP_BUILDDIR/tests/web/screenshots/.
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
source "$TOP_SRCDIR/tests/local/lib.sh"

CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
[ -n "$CHROMIUM" ] || { echo "SKIP: no chromium (apt-get install chromium)"; exit 77; }
command -v node >/dev/null || { echo "SKIP: no node"; exit 77; }
grep -q '^#define PADDOCK_TEST_HOOKS 1' "$TOP_BUILDDIR/config.h" 2>/dev/null ||
	{ echo "SKIP: configure --enable-test-hooks for the Pending step"; exit 77; }
modules=$("$TOP_SRCDIR/tests/web/install.sh") || fail "cannot install puppeteer-core"

# The port a controller logged (listen 127.0.0.1:0 picks a free one).
wait_port() { # LOG
	local p
	for _ in $(seq 100); do
		p=$(sed -n 's/.*metrics endpoint listening.* port=\([0-9]*\).*/\1/p' "$1")
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	fail "the controller did not listen: $(cat "$1")"
}

shots=$TOP_BUILDDIR/tests/web/screenshots
mkdir -p "$shots"
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

# 1. Beyond loopback without a token: the controller refuses to start.
refuse_cfg=$work/etc/refuse.yaml
sed 's/127.0.0.1:0/0.0.0.0:0/' "$PADDOCK_CONFIG" >"$refuse_cfg"
set +e
out=$(PADDOCK_CONFIG=$refuse_cfg timeout 20 "$PADDOCK_BIN" controller 2>&1)
rc=$?
set -e
[ $rc -eq 4 ] || fail "controller on 0.0.0.0 without dashboard.token: exit $rc, want 4: $out"
grep -q 'dashboard.token' <<<"$out" || fail "the refusal does not name dashboard.token: $out"
grep -q '0.0.0.0:0' <<<"$out" || fail "the refusal does not name the address: $out"
echo "$out" | grep -q "$token" && fail "the token leaked"
pass "controller on 0.0.0.0 without dashboard.token refuses to start: $out"
# ... and starts with one (then stopped at once).
printf 'dashboard: {token: "%s"}\n' "$token" >>"$refuse_cfg"
PADDOCK_CONFIG=$refuse_cfg "$PADDOCK_BIN" controller >"$work/ctl-any.log" 2>&1 &
any_pid=$!
cleanup_pids+=("$any_pid")
wait_port "$work/ctl-any.log" >/dev/null
grep -q "$token" "$work/ctl-any.log" && fail "the token is in the log"
kill -TERM "$any_pid"; wait "$any_pid" || true
pass "controller on 0.0.0.0 with dashboard.token starts"

cat >"$work/agents.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: slow}
spec:
  type: exec
  command: |
    for i in 1 2 3 4 5; do
      echo "line $i <script>window.__pwned=1</script> <img src=x onerror=window.__pwned=2>"
      sleep 1
    done
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: sleeper}
spec:
  type: exec
  maxConcurrentTasks: 1
  command: echo sleeping; sleep 120
EOT
pd apply -f "$work/agents.yaml" >/dev/null

# 2. Without a token (on loopback): read-only, actions refused, nothing written.
"$PADDOCK_BIN" controller >"$work/ctl-ro.log" 2>&1 &
ro_pid=$!
cleanup_pids+=("$ro_pid")
ro_port=$(wait_port "$work/ctl-ro.log")
pd run --detach --agent sleeper -p x --name ro-task >/dev/null
ro=$(curl -s -w ' %{http_code}' -X POST -H "X-Paddock-Token: $token" \
	"http://127.0.0.1:$ro_port/api/task/stop?ns=default&name=ro-task")
case $ro in *'read-only'*' 403') ;; *) fail "stop on a read-only dashboard: $ro" ;; esac
curl -s "http://127.0.0.1:$ro_port/api/tasks" | grep -q '"readOnly":true' || fail "/api/tasks does not say readOnly"
pd get task ro-task -o json | grep -q 'paddock.dev/stop' && fail "a read-only dashboard wrote a stop request"
pd stop ro-task >/dev/null
kill -TERM "$ro_pid"; wait "$ro_pid" || true
pass "without dashboard.token the dashboard is read-only: $ro"

# 3. The dashboard in the browser.
printf 'dashboard: {token: "%s"}\n' "$token" >>"$PADDOCK_CONFIG"
pause=$work/pause
mkdir -p "$pause"
PADDOCK_TEST_PAUSE=before-running:live-1 PADDOCK_TEST_PAUSE_DIR=$pause \
	"$PADDOCK_BIN" controller >"$work/controller.log" 2>&1 &
ctl=$!
cleanup_pids+=("$ctl")
port=$(wait_port "$work/controller.log")

set +e
NODE_PATH=$modules PORT=$port TOKEN=$token PADDOCK_BIN=$PADDOCK_BIN PAUSE_DIR=$pause SHOTS=$shots \
	CHROMIUM=$CHROMIUM node "$TOP_SRCDIR/tests/web/dashboard.mjs"
rc=$?
set -e
# The controller stops cleanly with pages and streams open.
kill -TERM "$ctl"
for _ in $(seq 100); do kill -0 "$ctl" 2>/dev/null || break; sleep 0.1; done
kill -0 "$ctl" 2>/dev/null && fail "controller did not stop on SIGTERM with streams open"
grep -q "$token" "$work/controller.log" && fail "the token is in the controller's log"
# A sanitizer build (tests/run-all.sh uses one) reports here.
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$work/controller.log"; then
	grep -E -A30 'AddressSanitizer|LeakSanitizer|runtime error:' "$work/controller.log" | head -60 >&2
	fail "the sanitizers found an error in the controller"
fi
[ $rc -eq 0 ] || { tail -20 "$work/controller.log" >&2; fail "browser tests failed"; }
echo "screenshots: $shots"
ls "$shots"
pass "dashboard in chromium"
