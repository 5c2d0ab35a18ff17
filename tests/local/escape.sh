#!/usr/bin/env bash
# Sandbox escape attempts, through `paddock run`, the exec driver and the
# real bubblewrap sandbox, with Paddock running as root (the case that
# matters: a mistake there hands root to the agent).  Each case is an
# `exec` agent whose command is the attack; each first proves that its
# payload ran (a marker line, built at run time so that it is not in the
# prompt, must be in `pd logs`), then the attack is judged from the
# host's side wherever that is possible (host files, the host's keyrings
# and core_pattern, host process state), not from the agent's exit code:
#   - sysctls: no file under /proc/sys accepts a write; the core_pattern
#     route (pipe to a workspace script, then a crash) changes nothing on
#     the host; /proc/sysrq-trigger is not writable;
#   - keyrings: root's user keyring can be neither read nor written;
#   - root-only (0600) files in bound trees (/etc/ssl/private, /opt,
#     /usr/local) cannot be read;
#   - no namespace can be created (unshare(1), python os.unshare/ctypes);
#   - nothing can be mounted;
#   - the state directory, paddock.db and another (running) task's run
#     directory cannot be read, by host path or through /proc;
#   - identity: uid != 0 inside, no capabilities (effective, bounding),
#     no_new_privs, a seccomp filter; from the host the run's processes
#     have a non-zero uid, different for two concurrent tasks;
#   - a host process can be neither seen, nor signalled, nor traced;
#   - /etc/ssl/private, /opt, /etc/shadow (and /etc/gshadow, /root, /sys, /run)
#     are absent or unreadable.
# The state directory is deliberately placed below /usr/local (which the
# sandbox binds read-only as part of /usr), so that hiding it cannot rely
# on it living in the host's /tmp.  Everything this script creates on the
# host (files, keys, processes, core_pattern) is undone by the EXIT trap.
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: $(basename "$0") attacks the sandbox of a root-run Paddock: run it as root"
	exit 77
fi
# Host-wide state is at stake (core_pattern, root's keyring, a host
# process): one escape.sh at a time on this machine (`make check` of
# several build trees runs side by side).  The lock is taken on
# core_pattern itself (no lock file to leave behind); fd 8 is closed for
# every child (pd below), so a leftover process cannot keep it.
lock=/proc/sys/kernel/core_pattern
exec 8<"$lock"
if ! flock -w 420 8; then
	echo "SKIP: $(basename "$0"): another run has held $lock for 7 minutes"
	exit 77
fi
. "$(dirname "$0")/lib.sh"
command -v keyctl >/dev/null || fail "keyctl (keyutils) is needed on the host"
pd() { "$PADDOCK_BIN" "$@" 8>&-; }

tag=paddock-test-$$
rnd=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
opt_dir=/opt/$tag
usr_dir=/usr/local/share/$tag
ssl_file=/etc/ssl/private/$tag
core_marker=$work/core-handler-ran  # h.sh would create it, on the host
saved_core=$(cat /proc/sys/kernel/core_pattern)
key_desc=$tag
key_value=keyval-$rnd              # never in any prompt
file_secret=filesecret-$rnd        # never in any prompt
run_secret=runsecret-$rnd          # in the holder task's prompt (so in paddock.db)
m_hold=$((300000 + $$))            # sleep lengths no other process uses
m_a=$((310000 + $$))
m_b=$((320000 + $$))
host_sleep=98765
key_id=
host_sleep_pid=
tasks_to_stop=()

escape_cleanup() {
	local rc=$?
	set +e
	if [ "$(cat /proc/sys/kernel/core_pattern)" != "$saved_core" ]; then
		echo "restoring core_pattern (was changed to: $(cat /proc/sys/kernel/core_pattern))" >&2
		printf '%s\n' "$saved_core" >/proc/sys/kernel/core_pattern
	fi
	[ -z "$key_id" ] || keyctl unlink "$key_id" @u >/dev/null 2>&1
	for kr in @u @s; do
		while id=$(keyctl search "$kr" user "planted-$tag" 2>/dev/null); do
			keyctl unlink "$id" "$kr" >/dev/null 2>&1 || break
		done
	done
	[ -z "$host_sleep_pid" ] || kill -9 "$host_sleep_pid" 2>/dev/null
	for t in "${tasks_to_stop[@]}"; do timeout -k 2 10 "$PADDOCK_BIN" stop "$t" >/dev/null 2>&1 8>&-; done
	for m in $m_hold $m_a $m_b; do
		for p in $(pgrep -xf "sleep $m"); do kill -9 "$p" 2>/dev/null; done
	done
	cleanup # lib.sh: the controller, leftover paddock processes, $work
	rm -rf "$opt_dir" "$usr_dir" "$ssl_file"
	exit $rc
}
trap escape_cleanup EXIT
trap 'exit 130' INT TERM HUP

# The state directory below a tree the sandbox binds (see the header).
mkdir -p "$usr_dir"
export PADDOCK_STATE_DIR=$usr_dir/state

cat >"$work/agents.yaml" <<'EOT'
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: probe}
spec:
  type: exec
  command: 'bash -c "$1"'
EOT
pd apply -f "$work/agents.yaml" >/dev/null

# Host fixtures, made here (not in the cases' subshells) so that the EXIT
# trap knows them.
key_id=$(keyctl add user "$key_desc" "$key_value" @u)
mkdir -p "$opt_dir"
files=("$opt_dir/secret" "$usr_dir/secret")
[ -d /etc/ssl/private ] && files+=("$ssl_file")
for f in "${files[@]}"; do
	(umask 077 && printf '%s\n' "$file_secret" >"$f")
	chown root:root "$f"
	chmod 0600 "$f"
done
sleep $host_sleep 8>&- &
host_sleep_pid=$!
disown "$host_sleep_pid" # killed by the trap, without a job notice
tasks_to_stop=(holder ida idb)

# The first line of every attack: prints "ESC-START-<name>", a string
# the prompt itself does not contain.
start_line() { printf "printf 'ESC-%%s-%%s\\\\n' START %s\n" "$1"; }

# attack NAME SCRIPT [pd run options...]: run SCRIPT (bash) in the
# sandbox to completion; its output in $work/NAME.log; fails unless the
# payload started.
attack() {
	local name=$1 script=$2
	shift 2
	local rc
	set +e
	timeout -k 5 60 "$PADDOCK_BIN" run --agent probe --name "$name" --timeout 30s -p "$(start_line "$name")
$script" "$@" >"$work/$name.out" 2>&1 8>&-
	rc=$?
	set -e
	[ $rc -ne 124 ] && [ $rc -ne 137 ] ||
		fail "$name: \`paddock run\` did not return within 60 s (task timeout 30 s): $(tail -n 5 "$work/$name.out")"
	payload_ran "$name"
}
payload_ran() {
	pd logs --raw "$1" >"$work/$1.log" 2>&1 || true
	grep -qx "ESC-START-$1" "$work/$1.log" ||
		fail "$1: the attack did not run (no start marker): $(tail -n 20 "$work/$1.out" "$work/$1.log" 2>/dev/null)"
}
run_dir() { pd describe task "$1" | sed -n 's/^Run dir: *//p'; }
ws() { echo "$(run_dir "$1")/workspace"; }
# no_leak NAME STRING WHAT: STRING is neither in the log nor anywhere in
# the workspace of NAME (binary files included).
no_leak() {
	! grep -qaF -- "$2" "$work/$1.log" || fail "$1: $3 leaked into the log: $(grep -aF -- "$2" "$work/$1.log" | head -n 5)"
	local w
	w=$(ws "$1")
	[ -d "$w" ] || fail "$1: no workspace at '$w'"
	! grep -rqaF -- "$2" "$w" || fail "$1: $3 leaked into the workspace: $(grep -rlaF -- "$2" "$w" | head -n 5)"
}
# log_lacks NAME REGEX WHAT
log_lacks() {
	! grep -qE -- "$2" "$work/$1.log" || fail "$1: $3: $(grep -E -- "$2" "$work/$1.log" | head -n 10)"
}
wait_log() { # NAME REGEX: until the task's log has a matching line (15 s; not after it ended)
	for _ in $(seq 75); do
		pd logs --raw "$1" 2>/dev/null | grep -qE -- "$2" && return 0
		pd get task "$1" -o json 2>/dev/null | grep -qE '"phase": "(Succeeded|Failed|Stopped)"' && break
		sleep 0.2
	done
	fail "$1: no '$2' in its log after 15 s: $(pd logs "$1" 2>&1 | tail -n 20; pd get task "$1" -o json 2>&1 | grep -E '"(phase|reason|message)"')"
}
wait_done() { # NAME: until the task is Succeeded/Failed/Stopped (60 s)
	for _ in $(seq 300); do
		pd get task "$1" -o json 2>/dev/null | grep -qE '"phase": "(Succeeded|Failed|Stopped)"' && return 0
		sleep 0.2
	done
	fail "$1 did not finish: $(pd get task "$1" -o json | grep -E '"(phase|reason|message)"')"
}

# Every case runs through run_case (lib.sh) and reports; the script fails
# at the end if any did.

# ---------------------------------------------------------------- sysctls
sysctl_script=$(cat <<'EOS'
: > accepted.txt
n=0
while IFS= read -r f; do
	n=$((n + 1))
	[ $n -le 3000 ] || break
	# write the current value back: harmless even where it is accepted
	v=$(cat "$f" 2>/dev/null) || continue
	if (printf '%s\n' "$v" >"$f") 2>/dev/null; then echo "$f" >>accepted.txt; fi
done < <(find /proc/sys -type f -perm /222 2>/dev/null)
echo "sysctl files tried: $n"
hws=$(awk '$5 == "/workspace" { print $4; exit }' /proc/self/mountinfo)
echo "workspace on the host: $hws"
printf '#!/bin/sh\ntouch %s\n' "$MARK" >h.sh
chmod 755 h.sh
# the host path last: it is the one left in place for the crash
for p in "|/workspace/h.sh" "|$hws/h.sh"; do
	if (printf '%s\n' "$p" >/proc/sys/kernel/core_pattern) 2>/dev/null; then
		echo "CORE-PATTERN-ACCEPTED $p"
	fi
done
echo "core_pattern now: $(cat /proc/sys/kernel/core_pattern)"
ulimit -c unlimited 2>/dev/null
sh -c 'kill -SEGV $$'
echo "crashed: status $?"
sleep 1
if [ -w /proc/sysrq-trigger ]; then echo "SYSRQ-WRITABLE-BY-MODE"; fi
if (printf h >/proc/sysrq-trigger) 2>/dev/null; then echo "SYSRQ-ACCEPTED"; fi
echo "sysrq tried"
echo "sysctl attack done"
EOS
)
case_sysctl() {
	attack sysctl "MARK=$core_marker
$sysctl_script"
	grep -qE '^sysctl files tried: ([5-9][0-9]|[1-9][0-9]{2,})$' "$work/sysctl.log" ||
		fail "sysctl: the /proc/sys walk found almost nothing: $(grep 'tried' "$work/sysctl.log")"
	grep -q '^crashed: status' "$work/sysctl.log" ||
		fail "sysctl: the attack did not get to the crash: $(cat "$work/sysctl.log")"
	local w problems=()
	w=$(ws sysctl)
	[ -f "$w/h.sh" ] && [ -f "$w/accepted.txt" ] || fail "sysctl: no h.sh or accepted.txt in the workspace"
	[ ! -s "$w/accepted.txt" ] ||
		problems+=("$(wc -l <"$w/accepted.txt") files under /proc/sys accepted a write, e.g. $(head -n 8 "$w/accepted.txt" | tr '\n' ' ')")
	! grep -q '^CORE-PATTERN-ACCEPTED' "$work/sysctl.log" ||
		problems+=("core_pattern accepted: $(sed -n 's/^CORE-PATTERN-ACCEPTED //p' "$work/sysctl.log" | tr '\n' ' ')")
	sleep 1 # a core pipe handler runs asynchronously
	[ "$(cat /proc/sys/kernel/core_pattern)" = "$saved_core" ] ||
		problems+=("the host's core_pattern is now '$(cat /proc/sys/kernel/core_pattern)' (the trap restores it)")
	[ ! -e "$core_marker" ] || problems+=("the agent's core_pattern handler ran on the host as root ($core_marker was created)")
	[ ${#problems[@]} = 0 ] || fail "sysctl: $(printf '%s; ' "${problems[@]}")"
	pass "no /proc/sys file accepts a write; core_pattern unchanged on the host and the crash ran no handler"
}
case_sysrq() { # from the sysctl run's log
	grep -q '^sysrq tried' "$work/sysctl.log" 2>/dev/null || fail "sysrq: the attempt did not run"
	log_lacks sysctl '^SYSRQ-(WRITABLE-BY-MODE|ACCEPTED)' "/proc/sysrq-trigger is writable"
	pass "/proc/sysrq-trigger is not writable"
}

# ---------------------------------------------------------------- keyrings
keys_script=$(cat <<'EOS'
echo "--- show @u"; keyctl show @u; echo "show @u: $?"
echo "--- show @s"; keyctl show @s; echo "show @s: $?"
echo "--- print"; keyctl print "$KID"; echo "print: $?"
echo "--- pipe"; keyctl pipe "$KID" >stolen-pipe.bin; echo "pipe: $?"
echo "--- search"; k=$(keyctl search @u user "$DESC") && keyctl print "$k"; echo "search: $?"
echo "--- request"; k=$(keyctl request user "$DESC") && keyctl print "$k"; echo "request: $?"
grep -aF "$DESC" /proc/keys >proc-keys.txt
echo "--- add @u"; keyctl add user "planted-$DESC" x @u; echo "add @u: $?"
echo "--- add @s"; keyctl add user "planted-$DESC" x @s; echo "add @s: $?"
echo "keyring attack done"
EOS
)
case_keys() {
	attack keys "KID=$key_id
DESC=$key_desc
$keys_script"
	grep -q '^keyring attack done' "$work/keys.log" || fail "keys: the attack stopped early: $(cat "$work/keys.log")"
	local leak=0 planted=0
	(no_leak keys "$key_value" "the value of root's key (id $key_id)") || leak=1
	for kr in @u @s; do
		if keyctl search "$kr" user "planted-$tag" >/dev/null 2>&1; then
			echo "FAIL: keys: a key was planted in root's $kr: $(keyctl show "$kr" | grep "planted-$tag")" >&2
			planted=1
		fi
	done
	[ $leak = 0 ] && [ $planted = 0 ] || exit 1
	[ "$(keyctl pipe "$key_id")" = "$key_value" ] || fail "keys: root's key was changed"
	pass "root's keyring can be neither read (keyctl print/pipe/search/request) nor written (@u, @s)"
}

# ------------------------------------------- root-only files in bound trees
case_rootfiles() {
	attack rootfiles "$(printf '%q ' "${files[@]}" | sed 's/^/set -- /')
for f; do
	echo \"--- \$f\"
	cat \"\$f\"
	cp \"\$f\" \"copy-\$(basename \"\$(dirname \"\$f\")\")\" 2>/dev/null
	echo \"tried \$f\"
done"
	for f in "${files[@]}"; do
		grep -qxF "tried $f" "$work/rootfiles.log" || fail "rootfiles: $f was not tried"
	done
	local leaked=()
	for f in "${files[@]}"; do
		if grep -A1 -xF -- "--- $f" "$work/rootfiles.log" | grep -qF "$file_secret"; then leaked+=("$f"); fi
	done
	[ ${#leaked[@]} = 0 ] || fail "rootfiles: the agent read ${leaked[*]}"
	no_leak rootfiles "$file_secret" "a root-only (0600) file's content"
	pass "0600 root files are unreadable: ${files[*]}"
}

# --------------------------------------------------------------- namespaces
ns_script=$(cat <<'EOS'
for a in -U -Ur -n -m "-p -f" -i -u -C; do
	unshare $a sh -c 'echo "NS-ENTERED $0"' "unshare $a"
	echo "ns tried: unshare $a: $?"
done
if command -v python3 >/dev/null; then
	for f in 0x10000000:user 0x40000000:net 0x00020000:mnt 0x20000000:pid; do
		python3 - "${f%%:*}" "${f#*:}" <<'PY'
import ctypes, os, sys
flag, name = int(sys.argv[1], 16), sys.argv[2]
if hasattr(os, "unshare"):
    try:
        os.unshare(flag)
        print("NS-ENTERED os.unshare " + name)
    except OSError as e:
        print("os.unshare %s: %s" % (name, e))
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(flag) == 0:
    print("NS-ENTERED ctypes unshare " + name)
else:
    print("ctypes unshare %s: errno %d" % (name, ctypes.get_errno()))
print("ns tried: python " + name)
PY
	done
else
	echo "no python3 in the sandbox"
fi
echo "ns attack done"
EOS
)
case_ns() {
	attack ns "$ns_script"
	[ "$(grep -c '^ns tried: unshare' "$work/ns.log")" = 8 ] || fail "ns: not every unshare ran: $(cat "$work/ns.log")"
	grep -q '^ns attack done' "$work/ns.log" || fail "ns: the attack stopped early: $(cat "$work/ns.log")"
	grep -q '^no python3' "$work/ns.log" || [ "$(grep -c '^ns tried: python' "$work/ns.log")" = 4 ] ||
		fail "ns: the python attempts did not all run: $(cat "$work/ns.log")"
	log_lacks ns '^NS-ENTERED' "a namespace was created"
	pass "no namespace can be created (unshare -U/-Ur/-n/-m/-p/-i/-u/-C; python os.unshare and ctypes)"
}

# ----------------------------------------------------------------- mounting
mount_script=$(cat <<'EOS'
before=$(wc -l </proc/self/mountinfo)
mount -t tmpfs x /tmp && echo "MOUNTED tmpfs on /tmp"
echo "mount tried: tmpfs"
mkdir -p m
mount --bind /usr m && echo "MOUNTED bind /usr"
echo "mount tried: bind"
mount -o remount,rw / && echo "MOUNTED remount rw /"
echo "mount tried: remount"
after=$(wc -l </proc/self/mountinfo)
[ "$before" = "$after" ] || echo "MOUNTED: the mount table grew from $before to $after"
[ -z "$(ls m)" ] || echo "MOUNTED: m is not empty"
echo "mount attack done"
EOS
)
case_mount() {
	attack mount "$mount_script"
	[ "$(grep -c '^mount tried' "$work/mount.log")" = 3 ] && grep -q '^mount attack done' "$work/mount.log" ||
		fail "mount: the attempts did not all run: $(cat "$work/mount.log")"
	log_lacks mount '^MOUNTED' "a mount succeeded"
	pass "nothing can be mounted (tmpfs, --bind, remount)"
}

# -------------------------------------------- host processes (kill, ptrace)
hostproc_script=$(cat <<'EOS'
n=0
for d in /proc/[0-9]*; do
	n=$((n + 1))
	p=${d#/proc/}
	c=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
	case $c in
	"sleep $SLEEP"*)
		echo "SEEN host sleep as pid $p"
		kill -9 "$p" 2>/dev/null && echo "KILLED pid $p"
		;;
	esac
done
echo "scanned $n entries of /proc"
kill -0 "$HP" 2>/dev/null && echo "SIGNALLED host pid $HP (kill -0)"
kill -9 "$HP" 2>/dev/null && echo "KILLED host pid $HP"
echo "kill tried"
if command -v python3 >/dev/null; then
	python3 - "$HP" <<'PY'
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
pid = int(sys.argv[1])
if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
    print("PTRACED host pid %d" % pid)
else:
    print("ptrace(ATTACH, %d): errno %d" % (pid, ctypes.get_errno()))
PY
fi
echo "ptrace tried"
EOS
)
case_hostproc() {
	attack hostproc "HP=$host_sleep_pid
SLEEP=$host_sleep
$hostproc_script"
	grep -q '^scanned [1-9]' "$work/hostproc.log" && grep -q '^kill tried' "$work/hostproc.log" &&
		grep -q '^ptrace tried' "$work/hostproc.log" ||
		fail "hostproc: the attack did not all run: $(cat "$work/hostproc.log")"
	kill -0 "$host_sleep_pid" 2>/dev/null ||
		fail "hostproc: the host's sleep $host_sleep (pid $host_sleep_pid) was killed"
	grep -qE '^State:[[:space:]]+[SR]' "/proc/$host_sleep_pid/status" &&
		grep -qE '^TracerPid:[[:space:]]+0$' "/proc/$host_sleep_pid/status" ||
		fail "hostproc: the host's sleep is stopped or traced: $(grep -E '^(State|TracerPid)' "/proc/$host_sleep_pid/status")"
	log_lacks hostproc '^(SEEN|KILLED|SIGNALLED|PTRACED)' "a host process was reached"
	pass "a host process can be neither seen, nor signalled, nor traced"
}

# -------------------------------------------------------------- not visible
hidden_script=$(cat <<'EOS'
# (not /var: it holds the sandbox's own /var/tmp symlink, nothing of the host)
for p in /etc/ssl/private /opt /etc/shadow /etc/gshadow /root /sys /run; do
	if [ ! -e "$p" ] && [ ! -L "$p" ]; then
		echo "ABSENT $p"
	elif [ -d "$p" ] && ls -A "$p" >/dev/null 2>&1; then
		echo "READABLE $p: $(ls -A "$p" | head -n 5 | tr '\n' ' ')"
	elif [ ! -d "$p" ] && head -c 1 "$p" >/dev/null 2>&1; then
		echo "READABLE $p"
	else
		echo "UNREADABLE $p"
	fi
done
EOS
)
case_hidden() {
	attack hidden "$hidden_script"
	[ "$(grep -cE '^(ABSENT|READABLE|UNREADABLE) ' "$work/hidden.log")" = 7 ] ||
		fail "hidden: not every path was checked: $(cat "$work/hidden.log")"
	log_lacks hidden '^READABLE' "visible and readable in the sandbox"
	pass "/etc/ssl/private, /opt, /etc/shadow, /etc/gshadow, /root, /sys, /run: absent or unreadable"
}

# ---------------------------------------------- state dir and another run
statedir_script=$(cat <<'EOS'
echo "--- ls"
ls -la "$S" "$S/runs" "$H" "$H/workspace" "$H/home"
echo "--- files"
cat "$H/workspace/secret.txt" "$H/home/secret.txt" "$H/workspace/task.md" "$H/log"
grep -aoE 'runsecret-[0-9a-f]+' "$S/paddock.db"
echo "--- /proc"
for d in /proc/[0-9]*; do
	cat "$d/cwd/secret.txt" "$d/root$H/workspace/secret.txt" "$d/root$S/paddock.db" 2>/dev/null |
		grep -aoE 'runsecret-[0-9a-f]+'
	[ -n "$(ls -A "$d/root$S" 2>/dev/null)" ] && echo "LISTED $d/root$S: $(ls -A "$d/root$S" | tr '\n' ' ')"
done
cat "/proc/1/root$H/workspace/secret.txt"
echo "--- copies"
cp "$S/paddock.db" loot.db
cp -r "$H" loot-run
# (an empty directory in its place, e.g. a tmpfs over it, hides it too)
[ -n "$(ls -A "$S" 2>/dev/null)" ] && echo "STATE-LISTED $S: $(ls -A "$S" | tr '\n' ' ')"
echo "statedir attack done"
EOS
)
case_statedir() {
	pd run --agent probe --name holder --timeout 30s --detach -p "$(start_line holder)
echo $run_secret >secret.txt
echo $run_secret >\"\$HOME/secret.txt\"
echo HOLDING
sleep $m_hold" >>"$work/submit.out" 2>&1
	wait_log holder '^HOLDING$'
	payload_ran holder
	local holder_dir
	holder_dir=$(run_dir holder)
	[ -n "$holder_dir" ] && [ -f "$holder_dir/workspace/secret.txt" ] ||
		fail "holder: no secret.txt in '$holder_dir/workspace'"
	pd run --agent probe --name statedir --timeout 30s --detach -p "$(start_line statedir)
S=$PADDOCK_STATE_DIR
H=$holder_dir
$statedir_script" >>"$work/submit.out" 2>&1
	wait_done statedir
	payload_ran statedir
	grep -q '^statedir attack done' "$work/statedir.log" ||
		fail "statedir: the attack stopped early: $(cat "$work/statedir.log")"
	pd get task holder -o json | grep -q '"phase": "Running"' ||
		fail "holder is no longer running: the /proc attempts had no target"
	no_leak statedir "$run_secret" "another task's secret (from its workspace, its home or paddock.db)"
	log_lacks statedir '^(STATE-LISTED|LISTED) ' "the state directory is listable"
	pass "the state dir, paddock.db and a running task's run dir are unreadable (host path, /proc/*/cwd, /proc/*/root)"
}

# ------------------------------------------------------------------ identity
ident_script=$(cat <<'EOS'
echo "UID=$(id -u) GID=$(id -g)"
grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs|Seccomp):' /proc/self/status
echo READY
EOS
)
host_uid() { # SLEEP-LENGTH: "real effective saved fs" uid of that sleep on the host
	local p=
	for _ in $(seq 75); do
		p=$(pgrep -xf "sleep $1" | head -n 1)
		[ -n "$p" ] && break
		sleep 0.2
	done
	[ -n "$p" ] || fail "identity: no process 'sleep $1' on the host"
	sed -n 's/^Uid:[[:space:]]*//p' "/proc/$p/status" | tr -s '[:space:]' ' ' | sed 's/ $//'
}
case_ident_inside() {
	for t in ida idb; do
		wait_log "$t" '^READY$'
		payload_ran "$t"
	done
	for t in ida idb; do
		l=$work/$t.log
		grep -qE '^UID=[0-9]+ ' "$l" || fail "$t: no UID line: $(cat "$l")"
		! grep -qE '^UID=0 ' "$l" ||
			fail "$t: the agent is root inside the sandbox: $(grep -E '^(UID|Cap|NoNew|Seccomp)' "$l" | tr '\n' ' ')"
		grep -qE '^CapEff:[[:space:]]+0{16}$' "$l" || fail "$t: effective capabilities: $(grep '^CapEff' "$l")"
		grep -qE '^CapBnd:[[:space:]]+0{16}$' "$l" || fail "$t: bounding set not empty: $(grep '^CapBnd' "$l")"
		grep -qE '^NoNewPrivs:[[:space:]]+1$' "$l" || fail "$t: no_new_privs not set: $(grep '^NoNewPrivs' "$l")"
		grep -qE '^Seccomp:[[:space:]]+2$' "$l" || fail "$t: no seccomp filter: $(grep '^Seccomp:' "$l")"
	done
	pass "inside: uid != 0, CapEff and CapBnd empty, NoNewPrivs 1, Seccomp 2 (filter)"
}
case_ident_host() {
	local uid_a uid_b
	uid_a=$(host_uid "$m_a")
	uid_b=$(host_uid "$m_b")
	for u in $uid_a $uid_b; do
		[ "$u" != 0 ] || fail "identity: a run's process has host uid 0 (Uid: A '$uid_a', B '$uid_b')"
	done
	[ "${uid_a%% *}" != "${uid_b%% *}" ] ||
		fail "identity: two concurrent tasks share host uid ${uid_a%% *}"
	pass "from the host: the runs' processes have non-zero uids, different for two concurrent tasks (${uid_a%% *}, ${uid_b%% *})"
}

run_case case_sysctl
run_case case_sysrq
run_case case_keys
run_case case_rootfiles
run_case case_ns
run_case case_mount
run_case case_hostproc
run_case case_hidden

# The cases below need tasks running side by side: a controller runs them.
"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 8>&- &
cleanup_pids+=("$!")
disown "$!" # killed by lib.sh's cleanup, without a job notice
run_case case_statedir
for t in ida:$m_a idb:$m_b; do
	pd run --agent probe --name "${t%%:*}" --timeout 30s --detach -p "$(start_line "${t%%:*}")
$ident_script
sleep ${t#*:}" >>"$work/submit.out" 2>&1
done
run_case case_ident_inside
run_case case_ident_host
pd stop holder ida idb >/dev/null 2>&1 || true
for t in holder ida idb; do
	pd get task "$t" >/dev/null 2>&1 || continue
	wait_done "$t"
done
sleep 1
for m in $m_hold $m_a $m_b; do
	! pgrep -xf "sleep $m" >/dev/null || fail "processes left after stop: $(pgrep -af "sleep $m")"
done

[ ${#failed[@]} = 0 ] || fail "${#failed[@]} escape case(s) failed: ${failed[*]}"
