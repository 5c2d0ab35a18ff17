#!/usr/bin/env bash
# `paddock config check` looks each enabled driver's CLI up inside a real
# sandbox, as its runs see it:
#   - a CLI installed under a private directory (here the test's 0700 work
#     directory) is bound automatically: check OK, and a task of that
#     driver really runs it;
#   - a CLI the run's uid may not execute, or one that does not exist,
#     fails the check with a message naming the driver and the fix.
. "$(dirname "$0")/lib.sh"
cli=$work/agents/bin/fake-claude
mkdir -p "$(dirname "$cli")"
cat >"$cli" <<'EOT'
#!/bin/sh
echo '{"type":"result","subtype":"success","is_error":false,"result":"fake claude ran","usage":{"input_tokens":1,"output_tokens":1}}'
EOT
chmod 0755 "$cli"
chmod 0700 "$work"
config() { # config BIN
	sed -i '/^drivers:/d' "$PADDOCK_CONFIG"
	echo "drivers: {exec: {enabled: true}, claude-code: {enabled: true, settings: {bin: \"$1\"}}}" >>"$PADDOCK_CONFIG"
}

config "$cli"
pd config check >"$work/check.out" 2>&1 || fail "config check failed for a CLI in a private directory: $(cat "$work/check.out")"
grep -q 'config OK' "$work/check.out" || fail "no OK line: $(cat "$work/check.out")"
pass "a CLI in a 0700 directory is visible in the sandbox (config check OK)"

pd run --type claude-code --credentials none --name fake -p hi -w >"$work/run.out" 2>&1 ||
	fail "the task with the private CLI failed: $(cat "$work/run.out"; pd logs fake 2>&1 | tail -5)"
pd logs fake | grep -q 'fake claude ran' || fail "the CLI did not run: $(pd logs fake)"
pass "a task runs that CLI through the sandbox"

chmod 0700 "$cli"
set +e
pd config check >"$work/check.out" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || fail "config check passed with a CLI the run's uid cannot execute: $(cat "$work/check.out")"
grep -q 'drivers.claude-code: its CLI' "$work/check.out" && grep -q 'settings.bin' "$work/check.out" ||
	fail "the message does not name the driver and the fix: $(cat "$work/check.out")"
pass "a CLI the run's uid cannot execute fails config check: $(head -1 "$work/check.out")"

config "$work/agents/bin/missing-claude"
! pd config check >"$work/check.out" 2>&1 || fail "config check passed with a missing CLI"
grep -q 'missing-claude' "$work/check.out" || fail "the message does not name the CLI: $(cat "$work/check.out")"
pass "a missing CLI fails config check"
