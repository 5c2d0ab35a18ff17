#!/usr/bin/env bash
# A run's supervisor is a program of its own, not a fork of the controller
# (core/local/local.h, docs/sandbox.md "Supervision and limits").  With a
# controller that holds its SQLite database and a metrics listener open,
# and a run that waits for the test, the test checks from the host:
#   - /proc/PID/exe of the supervisor is paddock-supervisor, found beside
#     the paddock binary of the build tree, and its command line is
#     exactly "DIR/paddock-supervisor __supervise RUN_DIR";
#   - NoNewPrivs is 1; its environment holds nothing of the controller's;
#   - /proc/PID/fd holds only what it needs (/dev/null, pipes, its
#     signalfd, the run's log, its uid slot lock, the sink's unix
#     socket): not the database, not controller.lock, not the listener,
#     nothing else the controller has open;
#   - it is not the controller's child nor in its session, and it lives on
#     when the controller is SIGKILLed;
#   - the Secret the command gets (an api-key credential) is in neither
#     supervisor.json (0600) nor the supervisor's command line or
#     environment;
#   - the sink process (the driver's parser while the local backend does
#     not name its driver: local.h) keeps nothing but its socket, has
#     no_new_privs, is not dumpable, and runs as uid 65534 when we are root;
#   - after all that, the driver's parse still arrives (the result and a
#     declared output), through a restarted controller.
# Then the other form of the sink (local_spec.sink_rebuild, which the local
# backend does not use yet): sup-rebuild starts a run whose supervisor
# builds the exec driver's parser itself from the config and the plugin
# directories: no sink process, no socket, and the parse arrives.
# Last, a paddock copied alone (no paddock-supervisor beside it) runs a
# task with itself as the supervisor.
. "$(dirname "$0")/lib.sh"
# The supervisor's own descriptors on the host's network: under the
# default allowlist (as root) it also holds the egress proxy's (an
# eventfd, egress.jsonl, sockets in the run's namespace), which
# tests/local/egress.sh covers.
echo "network: {egress: open}" >>"$PADDOCK_CONFIG"

bin=$(dirname "$(readlink -f "$PADDOCK_BIN")")/paddock-supervisor
[ -x "$bin" ] || fail "no $bin beside $PADDOCK_BIN"
key="sup-key-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$work/sup.yaml" <<EOT
apiVersion: v1
kind: Secret
metadata: {name: sup-key}
stringData: {apiKey: "$key"}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: waiter}
spec:
  type: exec
  credentials: {type: api-key, secretRef: {name: sup-key}}
  command: 'sh -c "\$1"'
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: sup}
spec:
  agentRef: {name: waiter}
  timeout: 5m
  outputs: {parameters: [{name: answer, path: answer.txt}]}
  prompt: |
    echo "key=\$PADDOCK_API_KEY"
    echo started
    while [ ! -e go ]; do sleep 0.1; done
    echo 42 >answer.txt
    echo "the answer is ready"
EOT
pd apply -f "$work/sup.yaml" >/dev/null

start_controller() {
	"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 & # the real process, so kills reach it
	cpid=$!
	cleanup_pids+=("$cpid")
}
start_controller
run_dir=
for _ in $(seq 300); do
	run_dir=$(pd describe task sup | sed -n 's/^Run dir: *//p')
	[ -n "$run_dir" ] && [ -s "$run_dir/log" ] && grep -q '^started$' "$run_dir/log" && break
	sleep 0.1
done
[ -n "$run_dir" ] && grep -q '^started$' "$run_dir/log" 2>/dev/null ||
	fail "the run did not start: $(pd describe task sup; tail -5 "$work/controller.log")"
run_dir=$(readlink -f "$run_dir")
grep -qx "key=$key" "$run_dir/log" || fail "the command did not get its Secret"
sp=$(cut -d' ' -f1 "$run_dir/supervisor.pid")
[ -d "/proc/$sp" ] || fail "supervisor $sp is not running"
ctl_pid=$cpid

# ---- a fresh program image ------------------------------------------------
[ "$(readlink "/proc/$sp/exe")" = "$bin" ] || fail "/proc/$sp/exe is $(readlink "/proc/$sp/exe"), not $bin"
cmd=$(tr '\0' '\n' <"/proc/$sp/cmdline")
want=$(printf '%s\n__supervise\n%s' "$bin" "$run_dir")
[ "$cmd" = "$want" ] || fail "supervisor command line: $(tr '\0' ' ' <"/proc/$sp/cmdline")"
pass "the supervisor ($sp) runs $bin afresh: $(tr '\0' ' ' <"/proc/$sp/cmdline")"

grep -Eq '^NoNewPrivs:[[:space:]]+1$' "/proc/$sp/status" || fail "supervisor: $(grep NoNewPrivs "/proc/$sp/status")"
pass "supervisor: NoNewPrivs 1"

env_lines=$(tr '\0' '\n' <"/proc/$sp/environ")
bad_env=$(printf '%s\n' "$env_lines" | grep -Ev '^(PATH|LD_LIBRARY_PATH)=' || true)
[ -z "$bad_env" ] || fail "supervisor environment holds more than PATH: $bad_env"
pass "supervisor environment: $(printf '%s' "$env_lines" | tr '\n' ' ')"

# ---- detached -------------------------------------------------------------------
stat_field() { sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f"$2"; } # 2: ppid, 4: session
[ "$(stat_field "$sp" 2)" != "$ctl_pid" ] || fail "the supervisor is the controller's child"
[ "$(stat_field "$sp" 4)" != "$(stat_field "$ctl_pid" 4)" ] || fail "the supervisor is in the controller's session"
pass "supervisor: parent $(stat_field "$sp" 2), session $(stat_field "$sp" 4) (controller: $ctl_pid, session $(stat_field "$ctl_pid" 4))"

# ---- descriptors --------------------------------------------------------------
unix_inodes=$(awk 'NR > 1 {print $7}' /proc/net/unix)
is_unix() { printf '%s\n' "$unix_inodes" | grep -qx "$1"; }
listen_inodes=$(awk 'NR > 1 && $4 == "0A" {print $10}' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
fd_targets() { for f in /proc/"$1"/fd/*; do readlink "$f" 2>/dev/null || true; done; }
ctl_fds=$(fd_targets "$ctl_pid")
ctl_listen=
for t in $ctl_fds; do
	case $t in socket:\[*\]) i=${t#socket:[}; i=${i%]}
		printf '%s\n' "$listen_inodes" | grep -qx "$i" && ctl_listen="$ctl_listen $t" ;; esac
done
[ -n "$ctl_listen" ] || fail "the controller has no listening socket (controller.listen): nothing to compare with"
printf '%s\n' "$ctl_fds" | grep -q "/paddock.db$" || fail "the controller has no database open: nothing to compare with"
sup_fds=$(fd_targets "$sp")
for fd in /proc/"$sp"/fd/*; do
	t=$(readlink "$fd") || continue
	n=${fd##*/}
	case $t in
	/dev/null) [ "$n" -le 2 ] || fail "supervisor fd $n: /dev/null above 2" ;;
	"$run_dir/log" | "$run_dir/log.times" | pipe:\[*\] | anon_inode:\[signalfd\]) ;;
	"$run_dir") [ "$n" = 6 ] || fail "supervisor fd $n: its start lock (the run directory) is not on fd 6" ;;
	"$PADDOCK_STATE_DIR"/uid-slots/*) [ "$(id -u)" = 0 ] || fail "supervisor fd $n: $t without root" ;;
	socket:\[*\]) i=${t#socket:[}; i=${i%]}; is_unix "$i" || fail "supervisor fd $n: $t is not a unix socket" ;;
	*) fail "supervisor fd $n: $t is not one it needs; all: $(printf '%s ' $sup_fds)" ;;
	esac
	if [ "$t" != /dev/null ] && printf '%s\n' "$ctl_fds" | grep -qxF "$t"; then
		fail "supervisor fd $n: $t is the controller's"
	fi
done
pass "supervisor descriptors: $(printf '%s ' $sup_fds)(controller: $(printf '%s\n' "$ctl_fds" | grep -c .) open, database and listener$ctl_listen among them)"

# ---- the secret ------------------------------------------------------------------
[ "$(stat -c %a "$run_dir/supervisor.json")" = 600 ] || fail "supervisor.json mode $(stat -c %a "$run_dir/supervisor.json")"
for f in "$run_dir/supervisor.json" "/proc/$sp/cmdline" "/proc/$sp/environ"; do
	! grep -qF "$key" "$f" || fail "the Secret's value is in $f"
done
pass "the Secret reached the command, but neither supervisor.json (0600) nor the supervisor's argv or environment"

# ---- the sink process ----------------------------------------------------------
kp=
for p in $(pgrep -x paddock-sink); do
	[ "$(stat_field "$p" 4)" = "$(stat_field "$sp" 4)" ] && kp=$p
done
if grep -q '"process":true' "$run_dir/supervisor.json"; then
	[ -n "$kp" ] || fail "no sink process in the supervisor's session $(stat_field "$sp" 4)"
	grep -Eq '^NoNewPrivs:[[:space:]]+1$' "/proc/$kp/status" || fail "sink process: $(grep NoNewPrivs "/proc/$kp/status")"
	if [ "$(id -u)" = 0 ]; then
		[ "$(awk '/^Uid:/ {print $2}' "/proc/$kp/status")" = 65534 ] || fail "sink process: $(grep Uid: "/proc/$kp/status")"
		# Not dumpable: its /proc files belong to root, not to its uid.
		[ "$(stat -c %u "/proc/$kp/environ")" = 0 ] || fail "sink process is dumpable"
	fi
	kfds=$(fd_targets "$kp")
	for fd in /proc/"$kp"/fd/*; do
		t=$(readlink "$fd") || continue
		n=${fd##*/}
		case $t in
		/dev/null) [ "$n" -le 2 ] || fail "sink process fd $n: /dev/null above 2" ;;
		socket:\[*\]) i=${t#socket:[}; i=${i%]}; is_unix "$i" && [ "$n" = 3 ] || fail "sink process fd $n: $t" ;;
		*) fail "sink process fd $n: $t; all: $(printf '%s ' $kfds)" ;;
		esac
	done
	pass "sink process ($kp): uid $(awk '/^Uid:/ {print $2}' "/proc/$kp/status"), NoNewPrivs 1, descriptors: $(printf '%s ' $kfds)"
else
	[ -z "$kp" ] || fail "a sink process ($kp) although the supervisor rebuilds the sink"
	pass "no sink process: the supervisor rebuilds the driver's parser itself"
fi

# ---- the controller dies; the run goes on --------------------------------------------
kill -9 "$ctl_pid"
wait "$ctl_pid" 2>/dev/null || true
[ ! -d "/proc/$ctl_pid" ] || fail "controller $ctl_pid survived SIGKILL"
sleep 0.3
kill -0 "$sp" 2>/dev/null || fail "the supervisor died with the controller"
[ -z "$kp" ] || kill -0 "$kp" 2>/dev/null || fail "the sink process died with the controller"
pass "the supervisor lives on after the controller was SIGKILLed"

start_controller
touch "$run_dir/workspace/go"
phase=
for _ in $(seq 300); do
	phase=$(pd get task sup -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get("phase",""))')
	case $phase in Succeeded|Failed|Stopped) break ;; esac
	sleep 0.1
done
pd get task sup -o json >"$work/sup.json"
[ "$phase" = Succeeded ] || fail "task sup: $phase: $(cat "$work/sup.json")"
python3 - "$work/sup.json" <<'PY' || fail "the driver's parse did not arrive: $(cat "$work/sup.json")"
import json, sys
st = json.load(open(sys.argv[1]))["status"]
assert st.get("result") == "the answer is ready", st
assert st.get("results", {}).get("answer") == "42", st
PY
for _ in $(seq 50); do kill -0 "$sp" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$sp" 2>/dev/null || fail "the supervisor did not exit"
[ -z "$kp" ] || ! kill -0 "$kp" 2>/dev/null || fail "the sink process did not exit"
pass "the run Succeeded with the driver's result and outputs, through a restarted controller"
kill -TERM "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true

# ---- the sink rebuilt in the supervisor ------------------------------------------
rebuild=$TOP_BUILDDIR/tests/local/sup-rebuild
[ -x "$rebuild" ] || fail "$rebuild not built: make -C $TOP_BUILDDIR/tests local/sup-rebuild"
rb_dir=$work/rebuild-run
cat >"$work/rebuild.sh" <<'EOT'
#!/bin/sh
echo started
while [ ! -e go ]; do sleep 0.1; done
echo "parsed in the supervisor"
printf -- '---PADDOCK_OUTPUTS_START---\nanswer: 43\n---PADDOCK_OUTPUTS_END---\n'
EOT
chmod 0755 "$work/rebuild.sh"
"$rebuild" "$rb_dir" "$PADDOCK_CONFIG" "$work/rebuild.sh" "$bin" >"$work/rebuild.out" 2>&1 &
rb_pid=$!
cleanup_pids+=("$rb_pid")
for _ in $(seq 300); do grep -qs '^started$' "$rb_dir/log" && break; sleep 0.1; done
grep -qs '^started$' "$rb_dir/log" || fail "sup-rebuild: the run did not start: $(cat "$work/rebuild.out")"
rb_dir=$(readlink -f "$rb_dir")
rp=$(cut -d' ' -f1 "$rb_dir/supervisor.pid")
[ "$(tr '\0' ' ' <"/proc/$rp/cmdline")" = "$bin __supervise $rb_dir " ] || fail "sup-rebuild supervisor: $(tr '\0' ' ' <"/proc/$rp/cmdline")"
grep -Eq '^NoNewPrivs:[[:space:]]+1$' "/proc/$rp/status" || fail "sup-rebuild supervisor: no no_new_privs"
grep -q '"sink":{"driver":"exec"' "$rb_dir/supervisor.json" || fail "supervisor.json: $(cat "$rb_dir/supervisor.json")"
for p in $(pgrep -x paddock-sink); do
	[ "$(stat_field "$p" 4)" != "$(stat_field "$rp" 4)" ] || fail "a sink process ($p) beside a supervisor that rebuilds its sink"
done
rfds=$(fd_targets "$rp")
! printf '%s\n' "$rfds" | grep -q '^socket:' || fail "sup-rebuild supervisor holds a socket: $(printf '%s ' $rfds)"
touch "$rb_dir/workspace/go"
wait "$rb_pid" || fail "sup-rebuild: $(cat "$work/rebuild.out")"
python3 - "$work/rebuild.out" <<'PY' || fail "the supervisor's own parse: $(cat "$work/rebuild.out")"
import json, sys
r = json.loads(open(sys.argv[1]).read())
assert r["result"] == "parsed in the supervisor" and r["outcome"] == 1, r
assert r["outputs"] == {"answer": "43"}, r
PY
pass "sink rebuilt in the supervisor ($rp, descriptors: $(printf '%s ' $rfds)): $(cat "$work/rebuild.out")"

# ---- a paddock alone: it supervises with itself --------------------------------
# A paddock copied where no paddock-supervisor lies beside it (and that is
# not the installed one) runs `paddock __supervise RUN_DIR` through
# /proc/self/exe: the same code, started from the same file.
# lone_run NAME DIR: task NAME under a controller run from DIR/paddock;
# sets ap (its supervisor's pid, seen while it ran) and acmd.
lone_run() {
	local name=$1 dir=$2 cpid a_dir
	cat >"$work/$name.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: $name}
spec:
  agentRef: {name: waiter}
  timeout: 5m
  prompt: |
    echo started
    while [ ! -e go ]; do sleep 0.1; done
    echo "alone done"
EOT
	pd apply -f "$work/$name.yaml" >/dev/null
	"$dir/paddock" controller >>"$work/$name.log" 2>&1 &
	cpid=$!
	cleanup_pids+=("$cpid")
	a_dir=
	for _ in $(seq 300); do
		a_dir=$(pd describe task "$name" | sed -n 's/^Run dir: *//p')
		[ -n "$a_dir" ] && grep -qs '^started$' "$a_dir/log" && break
		sleep 0.1
	done
	grep -qs '^started$' "$a_dir/log" || fail "the run of $dir/paddock did not start: $(tail -5 "$work/$name.log")"
	a_dir=$(readlink -f "$a_dir")
	ap=$(cut -d' ' -f1 "$a_dir/supervisor.pid")
	aexe=$(readlink "/proc/$ap/exe")
	acmd=$(tr '\0' ' ' <"/proc/$ap/cmdline")
	[ "$acmd" = "$dir/paddock __supervise $a_dir " ] || fail "$dir/paddock's supervisor: $acmd"
	touch "$a_dir/workspace/go"
	for _ in $(seq 300); do
		[ "$(pd get task "$name" -o jsonpath='{.status.phase}' 2>/dev/null)" = Succeeded ] && break
		sleep 0.1
	done
	[ "$(pd get task "$name" -o jsonpath='{.status.phase}')" = Succeeded ] || fail "$name: $(pd describe task "$name")"
	kill -TERM "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
}
mkdir -p "$work/alone"
cp "$(readlink -f "$PADDOCK_BIN")" "$work/alone/paddock"
lone_run alone "$work/alone"
[ "$aexe" = "$work/alone/paddock" ] || fail "a lone paddock's supervisor runs $aexe, not $work/alone/paddock"
pass "a paddock without paddock-supervisor beside it supervises with itself ($ap): $acmd"

# ---- a planted paddock-supervisor is not run ------------------------------------
# Beside a paddock run by root from a directory others may write to, a
# paddock-supervisor writable by group (or owned by another user) is not
# run: it would get every run's credentials.  Its payload is proved first.
mkdir -p "$work/planted"
cp "$(readlink -f "$PADDOCK_BIN")" "$work/planted/paddock"
printf '#!/bin/sh\ntouch %s/planted-ran\nexec %s "$@"\n' "$work" "$bin" >"$work/planted/paddock-supervisor"
chmod 0775 "$work/planted/paddock-supervisor"
"$work/planted/paddock-supervisor" --version >/dev/null 2>&1 || true
[ -e "$work/planted-ran" ] || fail "the planted supervisor's payload did not run when called directly"
rm -f "$work/planted-ran"
lone_run planted "$work/planted"
[ ! -e "$work/planted-ran" ] || fail "the controller ran a group-writable paddock-supervisor"
[ "$aexe" = "$work/planted/paddock" ] || fail "with a planted paddock-supervisor the supervisor runs $aexe"
grep -q "paddock-supervisor not used.*writable by group" "$work/planted.log" ||
	fail "no warning about the planted paddock-supervisor: $(grep -i supervisor "$work/planted.log" | tail -3)"
pass "a group-writable paddock-supervisor beside paddock is not run (warned; paddock supervises itself)"
