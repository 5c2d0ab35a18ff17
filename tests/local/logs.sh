#!/usr/bin/env bash
# `paddock logs` shows what the agent did, rendered by its driver (ABI 1.1
# renderer ops), for every stream recorded from the real CLIs in
# tests/data/streams (success, 401, unreachable; claude-code, codex,
# gemini, opencode): a fake CLI per driver replays the recorded stream
# (its workspace paths as a run sees them, /workspace) through the real
# entrypoint, sandbox, parser and `paddock logs`.  For each stream:
#   - the rendering is the golden file tests/data/streams/NAME.rendered
#     (UPDATE_GOLDEN=1 rewrites them: review with git diff);
#   - no raw JSON line, and no noise the driver knows;
#   - success: the tool call named ("-> Write out.txt") and the final text;
#     failures: the error once;
#   - --raw is the stream as captured; --tail, --timestamps, --since.
# And a log over limits.logBytesPerRun keeps its head and its tail: the
# final error of a loud run is shown, the cut marked where it happened,
# the log on disk within the cap.
. "$(dirname "$0")/lib.sh"
streams=$TOP_SRCDIR/tests/data/streams
fakebin=$work/agents/bin
mkdir -p "$fakebin"
chmod 0700 "$work"
drivers="claude-code codex gemini opencode"
conf="exec: {enabled: true}"
for d in $drivers; do
	conf="$conf, $d: {enabled: true, settings: {bin: \"$fakebin/$d\"}}"
done
sed -i '/^drivers:/d' "$PADDOCK_CONFIG"
echo "drivers: {$conf}" >>"$PADDOCK_CONFIG"
logcap=65536
sed -i "s/^limits: {/limits: {logBytesPerRun: 64Ki, /" "$PADDOCK_CONFIG"

# The CLI's part of a recorded stream: what precedes the outputs block the
# entrypoint printed (and the blank line before it).
cli_part() { sed '/^---PADDOCK_OUTPUTS_START---$/,$d' "$1" | sed '${/^$/d}' |
	sed -E 's#/tmp/paddock-e2e\.[A-Za-z0-9]+/[a-z-]+/ws#/workspace#g'; }

for d in $drivers; do
	for k in success 401 unreachable; do
		cli_part "$streams/$d-$k.jsonl" >"$fakebin/$d-$k.stream"
		echo "$(cat "$streams/$d-$k.exit")" >"$fakebin/$d-$k.exit"
	done
	# The case comes with the prompt, in ./task.md: "case=KIND".
	cat >"$fakebin/$d" <<EOT
#!/bin/sh
k=\$(sed -n 's/^case=\([a-z0-9]*\).*/\1/p' task.md | head -n 1)
cat "$fakebin/$d-\$k.stream"
exit \$(cat "$fakebin/$d-\$k.exit")
EOT
	chmod 0755 "$fakebin/$d"
done

"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 &
cleanup_pids+=("$!")
for d in $drivers; do
	for k in success 401 unreachable; do
		pd run --detach --type "$d" --credentials none --name "$d-$k" -p "case=$k" >/dev/null 2>&1 ||
			fail "submit $d-$k"
	done
done
# 300 KiB of numbered lines, then the error that ends the run.
pd apply -f - >/dev/null <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: loud}
spec:
  type: exec
  command: |
    i=0; while [ $i -lt 10000 ]; do echo "line $i of a long and loud agent output"; i=$((i+1)); done
    echo "FATAL: the disk is on fire (the final error)" >&2; exit 3
EOT
pd run --detach --agent loud --name loud -p go >/dev/null 2>&1 || fail "submit loud"
for _ in $(seq 600); do
	left=$(pd get tasks -o json | python3 -c '
import json, sys
print(sum(1 for t in json.load(sys.stdin)["items"] if t.get("status", {}).get("phase") not in ("Succeeded", "Failed", "Stopped")))')
	[ "$left" = 0 ] && break
	sleep 0.2
done
[ "$left" = 0 ] || fail "tasks still running: $(pd get tasks)"

for d in $drivers; do
	for k in success 401 unreachable; do
		n=$d-$k
		pd logs "$n" >"$work/$n.out" 2>"$work/$n.err" || fail "$n: logs failed: $(cat "$work/$n.err")"
		if [ -n "${UPDATE_GOLDEN:-}" ]; then
			cp "$work/$n.out" "$streams/$n.rendered"
			continue
		fi
		diff -u "$streams/$n.rendered" "$work/$n.out" >&2 || fail "$n: the rendering differs from $n.rendered"
		! grep -n '^ *{' "$work/$n.out" || fail "$n: a raw JSON line"
		! grep -niE 'Reading additional input|256-color|YOLO mode|^ +at ' "$work/$n.out" || fail "$n: noise shown"
		! grep -q 'PADDOCK_OUTPUTS' "$work/$n.out" || fail "$n: the outputs markers shown"
		if [ "$k" = success ]; then
			grep -qx -- '-> Write out.txt' "$work/$n.out" || fail "$n: the tool call is not named: $(cat "$work/$n.out")"
			grep -qx -- '   ok' "$work/$n.out" || fail "$n: no tool result"
			grep -qx 'SCRIPTED_OK' "$work/$n.out" || fail "$n: no final text"
			grep -q '^-- tokens [0-9]* in / [0-9]* out' "$work/$n.out" || fail "$n: no token totals"
			! grep -q '^!! error' "$work/$n.out" || fail "$n: an error on success"
		else
			[ "$(grep -c '^!! error: ' "$work/$n.out")" = 1 ] || fail "$n: not one error line: $(cat "$work/$n.out")"
		fi
		[ "$k" != 401 ] || grep -q '^!! error: authentication failed (HTTP 401)' "$work/$n.out" ||
			fail "$n: the 401 is not said: $(cat "$work/$n.out")"
		pd logs --raw "$n" >"$work/$n.raw"
		cli_part "$streams/$n.jsonl" | cmp -s - <(head -n "$(cli_part "$streams/$n.jsonl" | wc -l)" "$work/$n.raw") ||
			fail "$n: --raw is not the stream as captured"
	done
done
[ -z "${UPDATE_GOLDEN:-}" ] || { echo "golden files rewritten; review: git diff tests/data/streams"; exit 0; }
pass "logs: every recorded stream rendered as its golden file, tool calls named, final text, errors once; --raw exact"

n=codex-success
pd logs --tail 2 "$n" >"$work/tail.out"
[ "$(wc -l <"$work/tail.out")" = 2 ] && tail -n 2 "$work/$n.out" | cmp -s - "$work/tail.out" ||
	fail "--tail 2: $(cat "$work/tail.out")"
pd logs --raw --tail 1 "$n" >"$work/tailraw.out"
[ "$(cat "$work/tailraw.out")" = "$(pd logs --raw "$n" | tail -n 1)" ] || fail "--raw --tail 1: $(cat "$work/tailraw.out")"
pd logs --timestamps "$n" >"$work/ts.out"
today=$(date -u +%Y-%m-%d)
[ "$(grep -c "^${today}T[0-9:]*\.[0-9]\{3\}Z " "$work/ts.out")" = "$(wc -l <"$work/$n.out")" ] ||
	fail "--timestamps: $(cat "$work/ts.out")"
[ -z "$(pd logs --since 1h "$n" | cmp - "$work/$n.out")" ] || fail "--since 1h lost lines"
sleep 2
[ -z "$(pd logs --since 1s "$n")" ] || fail "--since 1s: lines older than a second shown: $(pd logs --since 1s "$n")"
pd logs --since 5x "$n" >/dev/null 2>"$work/since.err" && fail "--since 5x accepted"
grep -q 'use a duration' "$work/since.err" || fail "--since 5x: $(cat "$work/since.err")"
pass "logs --tail N, --timestamps, --since (and a bad duration named)"

# A log over its cap: its head and its tail, the cut marked between them.
[ "$(pd get task loud -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["phase"])')" = Failed ] ||
	fail "loud: not Failed: $(pd get task loud)"
logf=$(grep -l "the disk is on fire" "$PADDOCK_STATE_DIR"/runs/*/log) || fail "loud: no run log holds the final error"
size=$(stat -c %s "$logf")
[ "$size" -le "$logcap" ] || fail "loud: the log on disk is $size bytes, over the cap $logcap"
[ "$size" -ge $((logcap - 1024)) ] || fail "loud: the log on disk is $size bytes: the cap is not used"
pd logs loud >"$work/loud.out" 2>"$work/loud.err" || fail "loud: logs failed: $(cat "$work/loud.err")"
head -n 1 "$work/loud.out" | grep -qx 'line 0 of a long and loud agent output' || fail "loud: the head is not kept: $(head -n 2 "$work/loud.out")"
grep -q 'FATAL: the disk is on fire (the final error)' "$work/loud.out" || fail "loud: the final error is lost: $(tail -n 3 "$work/loud.out")"
tail -n 1 "$work/loud.out" | grep -qx 'line 9999 of a long and loud agent output\|.*FATAL: the disk is on fire.*\|.*exited.*' ||
	fail "loud: the tail does not reach the end: $(tail -n 3 "$work/loud.out")"
marker=$(grep -n '^-- [0-9]* bytes cut here (limits.logBytesPerRun' "$work/loud.out") ||
	fail "loud: no marker line where the log was cut: $(grep -n -v '^line ' "$work/loud.out")"
mline=${marker%%:*}
last_head=$(sed -n "$((mline - 2))p" "$work/loud.out")
first_tail=$(sed -n "$((mline + 1))p" "$work/loud.out")
h=$(echo "$last_head" | sed -n 's/^line \([0-9]*\) .*/\1/p')
t=$(echo "$first_tail" | sed -n 's/^line \([0-9]*\) .*/\1/p')
[ -n "$h" ] && [ -n "$t" ] && [ "$t" -gt $((h + 1)) ] ||
	fail "loud: the marker is not where lines are missing: $(sed -n "$((mline - 2)),$((mline + 1))p" "$work/loud.out")"
# The bytes it says were cut are the lines missing between the two sides.
cut=$(sed -n "${mline}s/^-- \([0-9]*\) bytes.*/\1/p" "$work/loud.out")
missing=0
for ((i = h + 1; i < t; i++)); do missing=$((missing + ${#i} + 38)); done
[ "$cut" -ge "$missing" ] && [ "$cut" -le $((missing + 80)) ] ||
	fail "loud: the marker says $cut bytes cut, lines $((h + 1)) to $((t - 1)) are $missing bytes"
pd logs --raw loud >"$work/loud.raw"
grep -qx '\[paddock\] [0-9]* bytes cut here (limits.logBytesPerRun keeps the log.s head and tail)' "$work/loud.raw" ||
	fail "loud: --raw has no marker"
grep -q 'FATAL: the disk is on fire' "$work/loud.raw" || fail "loud: --raw lost the final error"
[ "$(pd logs --tail 1 loud)" = "$(tail -n 1 "$work/loud.out")" ] || fail "loud: --tail 1: $(pd logs --tail 1 loud)"
pd logs --timestamps loud | grep -q "^${today}T[0-9:.]*Z FATAL: the disk is on fire" ||
	fail "loud: the tail's lines have no time: $(pd logs --timestamps loud | tail -n 2)"
pass "a log over limits.logBytesPerRun: head and tail kept within the cap, the cut marked where it is with its size, the final error shown"
