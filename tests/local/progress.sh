#!/usr/bin/env bash
# `paddock run` attached, on a real terminal (tmux: send-keys,
# capture-pane), with a slow exec agent that prints a step a second:
#   - one status block, updated in place: the screen holds one "Task NAME"
#     line while the step moves on (step 2, then step 4), with the elapsed
#     time;
#   - the final screen has the result and the outputs, and the block is gone;
#   - Ctrl-C asks stop / detach / go on; "s" stops the task (Stopped);
#   - off a terminal: plain timestamped lines (phase changes, the steps).
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || { echo "SKIP: no tmux"; exit 77; }
sock=$work/tmux.sock
trap 'tmux -S "$sock" kill-server 2>/dev/null || true; cleanup' EXIT

cat >"$work/slow.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: slow}
spec:
  type: exec
  command: |
    for i in 1 2 3 4 5 6; do echo "step $i"; sleep 1; done
    echo carrot > out.txt
    echo all done
EOT
pd apply -f "$work/slow.yaml" >/dev/null

# A pane running `paddock run ARGS`, then "EXIT=rc", then idle.
term() { # term NAME ARGS...
	local n=$1
	shift
	{
		echo "#!/bin/sh"
		echo "trap \"\" INT # Ctrl-C is for paddock: the pane stays"
		for v in PADDOCK_STATE_DIR PADDOCK_DATA_DIR PADDOCK_PLUGIN_PATH PADDOCK_CONFIG; do
			printf 'export %s=%q\n' "$v" "${!v}"
		done
		printf '%q ' "$PADDOCK_BIN" run "$@"
		echo
		echo 'echo "EXIT=$?"'
		echo 'exec sleep 600'
	} >"$work/$n.sh"
	chmod +x "$work/$n.sh"
	tmux -S "$sock" new-session -d -s "$n" -x 120 -y 40 "$work/$n.sh"
}
screen() { tmux -S "$sock" capture-pane -p -t "$1"; }
wait_screen() { # wait_screen PANE REGEX SECONDS
	local i
	for i in $(seq $(($3 * 10))); do
		screen "$1" | grep -qE -- "$2" && return 0
		sleep 0.1
	done
	fail "$1: no /$2/ on the screen after $3 s: $(screen "$1")"
}

# Ctrl-C at step 2, answer KEY: the final screen in $work/PANE.final.
interrupt() { # interrupt PANE KEY
	wait_screen "$1" '^  step:  step 2$' 20
	tmux -S "$sock" send-keys -t "$1" C-c
	wait_screen "$1" "Stop task $1 \(s\), detach and leave it running \(d\), or keep watching \(c\)\?" 10
	tmux -S "$sock" send-keys -t "$1" "$2"
	wait_screen "$1" '^EXIT=' 30
	screen "$1" >"$work/$1.final"
}

term t1 --agent slow --name t1 -p go --output f=out.txt
wait_screen t1 '^  step:  step 2$' 20
screen t1 >"$work/s2"
wait_screen t1 '^  step:  step 4$' 20
screen t1 >"$work/s4"
for s in s2 s4; do
	[ "$(grep -c '^Task t1 ' "$work/$s")" = 1 ] || fail "not one status block: $(cat "$work/$s")"
	[ "$(grep -c '^  step:' "$work/$s")" = 1 ] || fail "the block scrolled instead of updating: $(cat "$work/$s")"
	grep -qE '^Task t1  Running  0m0[0-9]s$' "$work/$s" || fail "phase and elapsed: $(cat "$work/$s")"
done
! grep -q 'step 4' "$work/s2" || fail "step 4 before its time"
wait_screen t1 '^EXIT=' 30
screen t1 >"$work/final"
grep -qx 'EXIT=0' "$work/final" || fail "t1 exit: $(cat "$work/final")"
grep -qE '^Task t1 Succeeded in [0-9.]+s$' "$work/final" || fail "final line: $(cat "$work/final")"
grep -qx '  f: carrot' "$work/final" || fail "the outputs are not on the final screen: $(cat "$work/final")"
grep -qx '  all done' "$work/final" || fail "the result is not on the final screen: $(cat "$work/final")"
! grep -q '^  step:' "$work/final" || fail "the block stayed: $(cat "$work/final")"
pass "run on a terminal: one block updated in place (step 2, step 4), then result and outputs"

term t2 --agent slow --name t2 -p go
interrupt t2 s
grep -q '^Task t2 Stopped' "$work/t2.final" || fail "Ctrl-C s: $(cat "$work/t2.final")"
grep -qx 'EXIT=1' "$work/t2.final" || fail "a stopped task exits 1: $(cat "$work/t2.final")"
[ "$(pd get task t2 -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["phase"])')" = Stopped ] ||
	fail "t2 not Stopped in the store"
pass "run on a terminal: Ctrl-C asks stop/detach/continue; s stops the task"

pd run --agent slow --name t3 -p go >"$work/plain.out" 2>&1 || fail "t3: $(cat "$work/plain.out")"
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z task default/t3 Running$' "$work/plain.out" || fail "plain: $(cat "$work/plain.out")"
grep -qE '^[0-9-]+T[0-9:.]+Z step 3$' "$work/plain.out" || fail "plain steps: $(cat "$work/plain.out")"
! grep -q $'\033' "$work/plain.out" || fail "escape sequences off a terminal"
pass "run off a terminal: plain timestamped lines"

"$PADDOCK_BIN" get tasks -w >"$work/watch.out" 2>&1 &
watcher=$!
cleanup_pids+=("$watcher")
term t4 --agent slow --name t4 -p go
interrupt t4 d
grep -q '^Detached: task default/t4 goes on' "$work/t4.final" || fail "Ctrl-C d: $(cat "$work/t4.final")"
grep -qx 'EXIT=0' "$work/t4.final" || fail "detach exits 0: $(cat "$work/t4.final")"
# get -o wide: the duration of a running task, live.
dur() { pd get task t4 -o wide | awk 'NR==2 {print $6}'; }
d1=$(dur)
sleep 1.2
d2=$(dur)
[[ $d1 =~ ^[0-9]+\.[0-9]s$ && $d2 =~ ^[0-9]+\.[0-9]s$ ]] || fail "DURATION while running: $d1 $d2: $(pd get task t4 -o wide)"
python3 -c "import sys; sys.exit(0 if float('${d2%s}') > float('${d1%s}') else 1)" || fail "DURATION not live: $d1 then $d2"
pd get task t4 -o wide | head -n 1 | grep -qE '^NAME +TYPE +PHASE +AGE +REASON +DURATION +TOKENS\(IN/OUT\) +COST +MESSAGE$' ||
	fail "wide header: $(pd get task t4 -o wide | head -n 1)"
pass "get -o wide: DURATION of a running task grows ($d1, $d2); TOKENS and COST columns"
# The run goes on without its terminal; a controller records its end.
"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 &
cleanup_pids+=("$!")
for _ in $(seq 200); do
	phase=$(pd get task t4 -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get("phase",""))')
	[ "$phase" = Succeeded ] && break
	sleep 0.1
done
[ "$phase" = Succeeded ] || fail "t4 after detach: $phase: $(pd logs --raw t4)"
pd logs t4 | grep -qx 'step 6' || fail "t4 did not run to its end: $(pd logs t4)"
pass "run on a terminal: Ctrl-C d detaches, the run goes on to Succeeded"
sleep 0.5
kill "$watcher"
for p in Running Succeeded; do
	grep -qE "^t4 +agent:slow +$p " "$work/watch.out" || fail "get -w: no $p row for t4: $(cat "$work/watch.out")"
done
[ "$(grep -cE '^t4 +agent:slow +Succeeded ' "$work/watch.out")" = 1 ] || fail "get -w repeats an unchanged row: $(cat "$work/watch.out")"
pass "get -w: a row per change (t4 Running, then Succeeded, once)"
