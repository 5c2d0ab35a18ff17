#!/usr/bin/env bash
# Text an agent controls never reaches the terminal raw.  Agents print
# `x \033]0;pwned\007\033[2J` (retitle the window, clear the screen), and
# that text lands in status.result, an output, status.message and the
# events.  Then, through the paddock binary:
#   - `paddock logs` into a file has the raw bytes (the payload ran);
#   - `describe task`, `get tasks -o wide`, `run -w` (stdout and stderr)
#     hold no ESC or BEL byte and show the escaped form \x1b ... \x07;
#     C1 and bidi controls show as \u009b, \u202e; é passes unchanged;
#   - `get task -o json` and `-o yaml` carry the exact values;
#   - `paddock logs` on a terminal (a pty through script(1)) is escaped.
. "$(dirname "$0")/lib.sh"

ESC=$'\033' BEL=$'\007'
RAW=$'x \033]0;pwned\007\033[2J'
SHOWN='x \x1b]0;pwned\x07\x1b[2J'
# C1 CSI, a right-to-left override, and an é that must stay as it is
RAW2=$'caf\303\251 \302\2332J \342\200\256gnp.exe'
SHOWN2='café \u009b2J \u202egnp.exe'

# The status.message carrier: the claude-code driver quotes the agent's
# last line when its output ends without a result.  A fake `claude` in a
# directory of its own (not below the config's directory, which no sandbox
# may see), bound read-only into the sandbox.
fakebin=$(mktemp -d "${TMPDIR:-/tmp}/paddock-fakecli.XXXXXX")
trap 'rm -rf "$fakebin"; cleanup' EXIT
chmod 755 "$fakebin"
cat >"$fakebin/claude" <<'EOT'
#!/bin/sh
printf 'x \033]0;pwned\007\033[2J\n'
exit 3
EOT
chmod 755 "$fakebin/claude"
sed -i "s|^drivers: {exec: {enabled: true}}\$|drivers: {exec: {enabled: true}, claude-code: {enabled: true, settings: {bin: \"$fakebin/claude\"}}}|" \
	"$PADDOCK_CONFIG"
grep -q "claude-code: {enabled: true" "$PADDOCK_CONFIG" || fail "config not rewritten: $(cat "$PADDOCK_CONFIG")"

cat >"$work/agents.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: exec-ok}
spec:
  type: exec
  command: |
    printf 'x \033]0;pwned\007\033[2J' > evil.txt
    printf 'caf\303\251 \302\2332J \342\200\256gnp.exe' > c1.txt
    printf 'x \033]0;pwned\007\033[2J\n'
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: exec-fail}
spec:
  type: exec
  command: |
    printf 'x \033]0;pwned\007\033[2J\n'
    exit 1
EOT
cat >>"$work/agents.yaml" <<EOT
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: fake-cli}
spec:
  type: claude-code
  credentials: {type: none}
  sandbox: {readOnlyPaths: ["$fakebin"]}
EOT
pd apply -f "$work/agents.yaml" >/dev/null

# no_raw FILE WHAT: no ESC, BEL, C1 CSI or RLO byte sequence in FILE
no_raw() {
	! grep -q "[$ESC$BEL]" "$1" || fail "$2: raw ESC/BEL bytes: $(od -c "$1" | head -20)"
	! LC_ALL=C grep -q $'\302\233\|\342\200\256' "$1" || fail "$2: raw C1/bidi bytes: $(od -c "$1" | head -20)"
}
# shows FILE TEXT WHAT: FILE holds TEXT (fixed string)
shows() {
	grep -qF -- "$2" "$1" || fail "$3: \"$2\" not shown in: $(cat "$1")"
}
# json_field TASK PATH: the exact bytes of a string field, as hex
json_field() {
	pd get task "$1" -o json | python3 -c '
import json, sys
v = json.loads(sys.stdin.buffer.read())
for k in sys.argv[1].split("."):
    v = v[k]
sys.stdout.write(v.encode("utf-8").hex())' "$2"
}
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# ---- outputs and result ------------------------------------------------
pd run --agent exec-ok --name evil -p go --output evil=evil.txt --output c1=c1.txt -w \
	>"$work/run.out" 2>"$work/run.err" || fail "task evil failed: $(cat "$work/run.err")"
pd logs --raw evil >"$work/logs.raw"
grep -qF "$RAW" "$work/logs.raw" || fail "the payload did not run: $(od -c "$work/logs.raw" | head)"
pass "the payload ran: paddock logs into a file has the raw bytes"

[ "$(json_field evil status.result)" = "$(hex "$RAW")" ] || fail "status.result not exact: $(pd get task evil -o json)"
[ "$(json_field evil status.outputs.evil)" = "$(hex "$RAW")" ] || fail "outputs.evil not exact"
[ "$(json_field evil status.outputs.c1)" = "$(hex "$RAW2")" ] || fail "outputs.c1 not exact"
pd get task evil -o json >"$work/get.json"
no_raw "$work/get.json" "get -o json"
pass "get -o json: exact values, control characters as \\u escapes"

pd get task evil -o yaml >"$work/get.yaml"
no_raw "$work/get.yaml" "get -o yaml"
if python3 -c 'import yaml' 2>/dev/null; then
	python3 - "$work/get.yaml" "$RAW" "$RAW2" <<'EOF' || fail "get -o yaml does not read back exact: $(cat "$work/get.yaml")"
import sys, yaml
st = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))["status"]
raw, raw2 = sys.argv[2], sys.argv[3]
assert st["result"] == raw, repr(st["result"])
assert st["outputs"]["evil"] == raw, repr(st["outputs"]["evil"])
assert st["outputs"]["c1"] == raw2, repr(st["outputs"]["c1"])
EOF
	pass "get -o yaml: escaped in double quotes, reads back exact"
else
	shows "$work/get.yaml" 'result: "x \e]0;pwned\a\e[2J"' "get -o yaml"
	pass "get -o yaml: escaped in double quotes (no PyYAML to read it back)"
fi

pd describe task evil >"$work/describe.out"
no_raw "$work/describe.out" "describe task evil"
shows "$work/describe.out" "Result:       $SHOWN" "describe: Result"
shows "$work/describe.out" "  evil: $SHOWN" "describe: Outputs"
shows "$work/describe.out" "  c1: $SHOWN2" "describe: C1/bidi output"
pass "describe: result and outputs escaped (\\x1b, \\u009b, \\u202e), é unchanged"

for f in run.out run.err; do no_raw "$work/$f" "run -w ($f)"; done
pd get tasks -o wide >"$work/wide.out"
no_raw "$work/wide.out" "get tasks -o wide"

# ---- a failed run: the result -------------------------------------------
set +e
pd run --agent exec-fail --name evilfail -p go -w >"$work/run2.out" 2>"$work/run2.err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "evilfail: exit $rc, want 1: $(cat "$work/run2.err")"
pd logs --raw evilfail | grep -qF "$RAW" || fail "evilfail: the payload did not run"
[ "$(json_field evilfail status.result)" = "$(hex "$RAW")" ] || fail "evilfail: status.result not exact"
pd describe task evilfail >"$work/describe2.out"
no_raw "$work/describe2.out" "describe task evilfail"
shows "$work/describe2.out" "Result:       $SHOWN" "describe evilfail: Result"
for f in run2.out run2.err; do no_raw "$work/$f" "run -w evilfail ($f)"; done
pass "a failed exec run: its result escaped in describe, exact in JSON"

# ---- status.message, the events, run -w and get -o wide -------------------
set +e
pd run --agent fake-cli --name evilmsg -p go -w >"$work/run3.out" 2>"$work/run3.err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "evilmsg: exit $rc, want 1: $(cat "$work/run3.err")"
json_field evilmsg status.message | grep -q "$(hex "$RAW")" ||
	fail "evilmsg: the payload is not in status.message: $(pd get task evilmsg -o json)"
pass "the payload reached status.message (claude-code driver, a fake claude)"
for f in run3.out run3.err; do no_raw "$work/$f" "run -w evilmsg ($f)"; done
shows "$work/run3.err" "$SHOWN" "run -w: the failure line"
pass "run -w: the failure line shows the message escaped"

pd describe task evilmsg >"$work/describe3.out"
no_raw "$work/describe3.out" "describe task evilmsg"
grep -F "Message:" "$work/describe3.out" | grep -qF "$SHOWN" || fail "describe: Message not escaped: $(cat "$work/describe3.out")"
grep -F "Warning" "$work/describe3.out" | grep -qF "$SHOWN" || fail "describe: the event not escaped: $(cat "$work/describe3.out")"
pass "describe: message and event escaped"

pd get tasks -o wide >"$work/wide.out"
no_raw "$work/wide.out" "get tasks -o wide"
grep "^evilmsg " "$work/wide.out" | grep -qF "$SHOWN" || fail "get -o wide: message not escaped: $(cat "$work/wide.out")"
# the columns stay where the header says
col=$(head -1 "$work/wide.out" | awk '{ print index($0, "MESSAGE") }')
grep "^evilmsg " "$work/wide.out" | cut -c"$col"- | grep -q '^agent failed' ||
	fail "get -o wide: MESSAGE column misaligned: $(cat "$work/wide.out")"
pass "get tasks -o wide: message escaped, columns aligned"

# ---- logs on a terminal -----------------------------------------------------
if command -v script >/dev/null 2>&1; then
	script -qec "$(printf '%q ' "$PADDOCK_BIN" logs evil)" /dev/null >"$work/logs.tty" </dev/null
	no_raw "$work/logs.tty" "logs on a terminal"
	shows "$work/logs.tty" "$SHOWN" "logs on a terminal"
	pass "paddock logs on a terminal: escaped; into a file: exact"
else
	echo "SKIP: no script(1): paddock logs on a terminal not checked"
fi
