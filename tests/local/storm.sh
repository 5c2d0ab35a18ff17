#!/usr/bin/env bash
# Storm: what a user sees of stop, delete and controller crashes under load
# (local backend, real bubblewrap sandbox, real `paddock` CLI).
#
#   - 200 tasks (STORM_TASKS) on one exec Agent with maxConcurrentTasks: 2,
#     each sleeping 0.10-1.00 s, submitted in batches over ~16 s, half of
#     the batches with `paddock apply`, half with `paddock run --detach`;
#   - one `paddock controller`, SIGKILLed and restarted every 3-6 s for
#     40 s (STORM_SECONDS);
#   - four CLI processes at a time sending `paddock stop NAME` and
#     `paddock delete task NAME` at random (45% of them aimed at a task
#     that is running right now, 25% at one of the next three in line)
#     for those 40 s, at most 50 each;
#   - a host-side sampler (every 50 ms, /proc) counting the runs that are
#     really running: the agent's `sh -c` (its cmdline holds a marker unique
#     to this test, its last argument is the prompt "NAME SECONDS"), and as
#     a second view the live supervisors (`paddock __supervise RUN_DIR`,
#     or a paddock process whose cwd is RUN_DIR, with no result.json yet).
# Then the controller gets up to 120 s (STORM_DRAIN) to finish everything,
# and the script checks:
#   1. never more than 2 runs at once (both views); the maximum is printed;
#   2. every remaining task is in a terminal phase (Succeeded, Failed,
#      Stopped) with a completionTime, and its reason fits the phase;
#      none is Failed (a sleep that exits 0 can only Succeed or be Stopped);
#   3. each remaining task has exactly one completion event in
#      `paddock describe` (an event whose reason is not one of the
#      non-terminal reasons of docs/lifecycle.md), and it matches
#      status.reason; at most one run of its agent was seen;
#   4. Stopped only if a stop was sent; a stop acknowledged (exit 0) more
#      than 1 s before the task completed leaves it Stopped;
#   5. a task is gone only if a delete was sent, and a delete acknowledged
#      leaves it gone; no run of it is seen after its delete returned (none
#      starts, none goes on); no run directory (STATE/runs/UID) is left;
#   6. stop/delete/apply/run never fail but with "not found";
#   7. once all is finished: no run process (supervisor, sandbox, agent);
#      after the controller's SIGTERM no process of the test at all; no
#      run's cgroup is left; the controller never exited by itself.
# Figures at the end: submitted, stops and deletes sent/acknowledged and
# their latency, final phases, maximum concurrency, controller restarts,
# sampling rate.  About 50 s.  STORM_AGENT_MAX=3 (the Agent allows 3, the
# check stays at 2) is the test's own test: it must fail check 1.
# Needs root, bubblewrap and writable cgroups (every run gets a cgroup for
# the default limits); skips (exit 77) otherwise.  KEEP=1 keeps the work
# directory (logs, ops.jsonl, sampler.json).
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: $(basename "$0") needs root (sandboxed runs with their own uids and cgroups)"
	exit 77
fi
if ! command -v bwrap >/dev/null || ! bwrap --ro-bind / / --proc /proc --dev /dev true 2>/dev/null; then
	echo "SKIP: $(basename "$0") needs a working bubblewrap (bwrap)"
	exit 77
fi
# Each run gets a cgroup below our own.
. "$(dirname "$0")/need-cgroups.sh"
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 is needed on the host"

N=${STORM_TASKS:-200}
STORM=${STORM_SECONDS:-40}
DRAIN=${STORM_DRAIN:-120}
# The Agent's limit; the invariant checked stays 2.  STORM_AGENT_MAX=3 is
# the test's own test: it must fail with "more than 2 agent runs at once".
AGENT_MAX=${STORM_AGENT_MAX:-2}
WORKERS=4
MAX_OPS=50 # per worker
BATCH=25
# In the agent's command only (never in a prompt, never on a CLI's command
# line): the sampler finds the runs by it, the final scan their leftovers.
mark=storm-mark-$$-$RANDOM$RANDOM
out=$work/storm
mkdir -p "$out"
: >"$out/names" # "NAME UID" of every task submitted, as soon as it is known
: >"$out/ops.jsonl"
: >"$out/submit-errors"
: >"$out/controller-exits"
echo "$mark" >"$out/mark" # helpers read it from here: a marker on their own command line would count
# pdt (the CLI, bounded), spy (storm.py below), proc_alive, rel, storm_drain
. "$(dirname "$0")/../storm_common.sh"

# ---------------------------------------------------------------- helpers
# This backend's part; what both storms share (the CLI storm, the names
# file, the checks alike and the figures) is tests/storm_common.py.
cat >"$out/storm.py" <<'PY'
import json, os, sys, time
from storm_common import TERMINAL, Storm, atomic_write, cli_storm, clip, completion_events, names, pending


def procs():
    for d in os.listdir("/proc"):
        if d.isdigit():
            yield int(d)


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return None


# ---- sample: every 50 ms, which runs are really running ------------------
def sample(state, pbin, markfile, out, t0, deadline):
    mark = open(markfile).read().strip()
    runs = os.path.join(os.path.realpath(state), "runs") + "/"
    mark = mark.encode()
    pname = os.path.basename(pbin).encode()
    t0, deadline = float(t0), float(deadline)
    stopf = os.path.join(out, "sampler.stop")
    seen = {}       # task -> {pid: [first, last]} (agent sh processes)
    sup_seen = {}   # uid -> [first, last] (live supervisors)
    hist = {}
    viol_a, viol_s = [], []
    best_a = best_s = (0, None, [])
    n = 0
    gap = 0.0
    prev = None
    while time.time() < deadline and not os.path.exists(stopf):
        now = time.time()
        if prev is not None:
            gap = max(gap, now - prev)
        prev = now
        agents, sups = {}, {}
        for pid in procs():
            raw = cmdline(pid)
            if not raw:
                continue
            if mark in raw:
                words = raw.rstrip(b"\0").split(b"\0")[-1].decode("utf-8", "replace").split()
                agents.setdefault(words[0] if words else "?", set()).add(pid)
            elif os.path.basename(raw.split(b"\0", 1)[0]) == pname:
                # a supervisor: `paddock __supervise RUN_DIR`, or (older
                # builds) a fork of the controller living in RUN_DIR
                args = raw.rstrip(b"\0").split(b"\0")
                where = ""
                if len(args) >= 3 and args[1] == b"__supervise":
                    where = os.path.realpath(args[2].decode("utf-8", "replace")) + "/"
                else:
                    try:
                        where = os.readlink("/proc/%d/cwd" % pid) + "/"
                    except OSError:
                        continue
                if where.startswith(runs):
                    uid = where[len(runs):].split("/")[0]
                    if uid and not os.path.exists(runs + uid + "/result.json"):
                        sups[uid] = pid
        t = now - t0
        for task, pids in agents.items():
            for pid in pids:
                seen.setdefault(task, {}).setdefault(pid, [t, t])[1] = t
        for uid in sups:
            sup_seen.setdefault(uid, [t, t])[1] = t
        na, ns = len(agents), len(sups)
        hist[na] = hist.get(na, 0) + 1
        if na > best_a[0]:
            best_a = (na, round(t, 2), sorted(agents))
        if ns > best_s[0]:
            best_s = (ns, round(t, 2), sorted(sups))
        if na > 2 and len(viol_a) < 200:
            viol_a.append([round(t, 2), sorted(agents)])
        if ns > 2 and len(viol_s) < 200:
            viol_s.append([round(t, 2), sorted(sups)])
        atomic_write(os.path.join(out, "running"), "\n".join(sorted(agents)) + "\n")
        n += 1
        rest = 0.05 - (time.time() - now)
        if rest > 0:
            time.sleep(rest)
    json.dump({"samples": n, "seconds": round((prev or t0) - t0, 1), "max_gap": round(gap, 3),
               "max_agents": best_a, "max_supervisors": best_s, "hist": hist,
               "violations_agents": viol_a, "violations_supervisors": viol_s,
               "seen": {k: {str(p): v for p, v in d.items()} for k, d in seen.items()},
               "supervisors_seen": sup_seen},
              open(os.path.join(out, "sampler.json"), "w"))


# ---- workers: random stop / delete from N CLI processes at a time ---------
def workers(pbin, out, t0, seconds, nworkers, max_ops):
    # Nearly half at a running task (often just as it ends: the end/delete
    # race), a quarter at the next ones in line (about to start: the
    # start/stop and start/delete races), the rest at any task.
    cli_storm(pbin, out, t0, seconds, nworkers, max_ops, at_running=0.45, at_next=0.25, pause=(0.2, 0.9))


# ---- leftovers: processes of this test still alive ------------------------
def leftovers(state, pbin, markfile, work, phase):
    mark = open(markfile).read().strip()
    runs = os.path.join(os.path.realpath(state), "runs") + "/"
    work = os.path.realpath(work) + "/"
    envkey = ("PADDOCK_STATE_DIR=" + state).encode()
    pname = os.path.basename(pbin).encode()
    me = os.getpid()
    res = []
    for pid in procs():
        if pid == me:
            continue
        raw = cmdline(pid)
        if raw is None:
            continue
        try:
            env = open("/proc/%d/environ" % pid, "rb").read().split(b"\0")
        except OSError:
            env = []
        try:
            cwd = os.readlink("/proc/%d/cwd" % pid)
        except OSError:
            cwd = ""
        try:
            st = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            st = "?"
        if st == "Z":
            continue
        why = None
        if any(mark.encode() in e for e in env) or mark.encode() in raw:
            why = "agent process (its environment holds the test's marker)"
        elif cwd.startswith(runs):
            why = "run process (cwd %s)" % cwd
        elif runs.encode() in raw or (state + "/runs/").encode() in raw:
            why = "run process (its command line names a run directory)"
        elif os.path.basename(raw.split(b"\0", 1)[0]) == pname and envkey in env:
            why = "paddock process of this test's state dir"
        elif cwd.startswith(work):
            why = "process in the test's directory (cwd %s)" % cwd
        if why:
            res.append({"pid": pid, "why": why, "phase": phase,
                        "cmdline": raw.replace(b"\0", b" ").decode("utf-8", "replace")[:200]})
    print(json.dumps(res))


# ---- check: every invariant, with the figures ------------------------------
def check(out, n_submit, restarts, storm_s, drain_s):
    n_submit, restarts, storm_s, drain_s = int(n_submit), int(restarts), int(storm_s), int(drain_s)
    fails = []
    notes = []

    def fail(msg, evidence=()):
        fails.append(msg + "".join("\n      " + e for e in clip(list(evidence))))

    s = Storm(out, keep=lambda name: name.startswith("storm-") and name != "storm-sanity")
    names, final, smp, phases, del_t1, del_ack = s.names, s.final, s.smp, s.phases, s.del_t1, s.del_ack
    runs_left = set(open(os.path.join(out, "runs-left")).read().split())
    cgroups = [l.strip() for l in open(os.path.join(out, "cgroups")) if l.strip()]
    procs_drain = json.load(open(os.path.join(out, "procs-drained.json")))
    procs_final = json.load(open(os.path.join(out, "procs-final.json")))

    by_uid = {u: n for n, u in names.items()}
    # 1. concurrency
    ma, ms = smp["max_agents"], smp["max_supervisors"]
    if smp["violations_agents"]:
        # the samples still over 2 without the runs of tasks being deleted
        strict = s.over_two(smp["violations_agents"])
        fail("more than 2 agent runs at once in %d samples (max %d at t=%.2fs: %s)" %
             (len(smp["violations_agents"]), ma[0], ma[1], " ".join(ma[2])),
             ["%d of these samples are over 2 even without the runs of tasks being deleted" % len(strict)] +
             ["t=%.2fs: %s" % (v[0], " ".join(n + (" (delete sent t=%.2fs)" % del_t1[n] if n in del_t1 else "")
                                             for n in v[1])) for v in (strict or smp["violations_agents"])])
    if smp["violations_supervisors"]:
        fail("more than 2 live supervisors (runs without a result) at once in %d samples "
             "(max %d at t=%.2fs)" % (len(smp["violations_supervisors"]), ms[0], ms[1]),
             ["t=%.2fs: %s" % (v[0], " ".join(by_uid.get(u, u) for u in v[1]))
              for v in smp["violations_supervisors"]])
    # the sampler must have seen the runs, else its maximum means nothing
    succeeded = phases.get("Succeeded", [])
    seen_ok = [n for n in succeeded if n in smp["seen"]]
    if "storm-sanity" not in smp["seen"]:
        fail("the sampler did not see the sanity task's run: it cannot see runs at all")
    if ma[0] < 2 or (succeeded and len(seen_ok) < len(succeeded) / 2):
        fail("the sampler saw too little to be trusted: max %d at once, %d of %d Succeeded tasks seen" %
             (ma[0], len(seen_ok), len(succeeded)))
    def runs_of(v):  # separate runs: process lifetimes that do not overlap
        groups = []
        for a, b in sorted(v.values()):
            if groups and a <= groups[-1][1] + 0.06:
                groups[-1][1] = max(groups[-1][1], b)
            else:
                groups.append([a, b])
        return groups
    twice = {k: v for k, v in smp["seen"].items() if len(runs_of(v)) > 1}
    if twice:
        fail("%d task(s) whose agent ran more than once (distinct processes seen)" % len(twice),
             ["%s: %s" % (k, ", ".join("pid %s at %.2f-%.2fs" % (p, a, b) for p, (a, b) in v.items()))
              for k, v in sorted(twice.items())])

    # 2. terminal phase, completionTime, reason
    stuck, nocompl, badreason = s.unfinished()
    if stuck:
        fail("%d task(s) not finished %d s after the storm" % (len(stuck), drain_s), stuck)
    if nocompl:
        fail("%d finished task(s) without completionTime" % len(nocompl), nocompl)
    if badreason:
        fail("%d task(s) whose reason does not fit the phase" % len(badreason), badreason)
    failed = s.failed()
    if failed:
        fail("%d task(s) Failed (a sleep that exits 0 can only Succeed or be Stopped)" % len(failed), failed)

    # 3. exactly one completion event, matching status.reason
    multi, none, mismatch, unknown, started2 = [], [], [], set(), []
    for name, t in sorted(final.items()):
        ev = s.events.get(name)
        if ev is None:
            none.append("%s: describe failed" % name)
            continue
        st = t.get("status", {})
        if st.get("phase") not in TERMINAL:
            continue
        term = completion_events(ev)
        if len(term) == 0:
            none.append("%s: %s/%s, events: %s" % (name, st.get("phase"), st.get("reason"),
                                                  " ".join(r for _, r in ev)))
        elif len(term) > 1:
            multi.append("%s: %s/%s, events: %s" % (name, st.get("phase"), st.get("reason"),
                                                   ", ".join("%s %s" % (r, tm[11:23]) for tm, r in ev)))
        elif term[0][1] != st.get("reason"):
            mismatch.append("%s: status %s/%s, completion event %s" % (name, st.get("phase"), st.get("reason"),
                                                                      term[0][1]))
        if sum(1 for _, r in ev if r == "Started") > 1:
            started2.append(name)
    if multi:
        fail("%d task(s) with more than one completion event" % len(multi), multi)
    if none:
        fail("%d finished task(s) without a completion event" % len(none), none)
    if mismatch:
        fail("%d task(s) whose completion event is not their status.reason" % len(mismatch), mismatch)
    if started2:
        notes.append("%d task(s) with more than one Started event (adoption after a restart?): %s" %
                     (len(started2), " ".join(started2[:10])))

    # 4. Stopped only when stopped; an acknowledged stop wins over a later end
    ghost_stop = s.stopped_unasked()
    if ghost_stop:
        fail("%d task(s) Stopped without any stop sent" % len(ghost_stop), ghost_stop)
    lost_stop = s.lost_stops(1.0)
    if lost_stop:
        fail("%d stop(s) acknowledged but the task ended otherwise more than 1 s later" % len(lost_stop), lost_stop)

    # 5. deletes
    gone = s.gone
    vanished = s.vanished()
    if vanished:
        fail("%d task(s) vanished without a delete" % len(vanished), vanished)
    back = s.still_listed()
    if back:
        fail("%d task(s) still listed although their delete returned 0" % len(back), back)
    # `paddock delete` kills the run before it returns: no agent process of
    # the task may be seen in a sample taken after that (0.2 s of slack for
    # a process seen at the very end of a scan), and none may start.
    late = []
    for name, t_ack in sorted(del_ack.items()):
        for pid, (a, b) in sorted(smp["seen"].get(name, {}).items(), key=lambda kv: kv[1]):
            if a > t_ack:
                late.append("%s: delete returned at t=%.2fs, then a run of it started: agent pid %s seen at t=%.2f-%.2fs" %
                            (name, t_ack, pid, a, b))
            elif b > t_ack + 0.2:
                late.append("%s: delete returned at t=%.2fs, its agent (pid %s) still seen until t=%.2fs" %
                            (name, t_ack, pid, b))
    if late:
        fail("%d run(s) of deleted tasks alive after the delete returned" % len(late), late)
    dir_left = ["%s (uid %s)" % (n, names[n]) for n in gone if names.get(n) in runs_left]
    if dir_left:
        fail("%d deleted task(s) whose run directory is left" % len(dir_left), dir_left)
    live_uids = {t["metadata"].get("uid") for t in final.values()}
    stray = sorted(d for d in runs_left if d not in live_uids and d not in names.values())
    if stray:
        notes.append("run directories of no known task: %s" % " ".join(stray[:10]))
    dup = sorted({n for n in s.listed if s.listed.count(n) > 1})
    if dup:
        fail("task(s) listed more than once by get tasks", dup)
    unknown_names = sorted(set(final) - set(names))
    if unknown_names:
        notes.append("tasks listed whose uid was never recorded: %s" % " ".join(unknown_names[:10]))

    # 6. CLI errors other than "not found"
    cli_err = s.cli_errors()
    if cli_err:
        fail("%d stop/delete command(s) failed other than with \"not found\"" % len(cli_err), cli_err)
    if s.sub_err:
        fail("%d submission(s) failed" % len(s.sub_err), s.sub_err)

    # 7. processes, cgroups, the controller
    if procs_drain:
        fail("%d run process(es) alive after every task finished" % len(procs_drain),
             ["pid %d: %s: %s" % (p["pid"], p["why"], p["cmdline"]) for p in procs_drain])
    if procs_final:
        fail("%d process(es) of the test left after the controller's SIGTERM" % len(procs_final),
             ["pid %d: %s: %s" % (p["pid"], p["why"], p["cmdline"]) for p in procs_final])
    if cgroups:
        fail("%d run cgroup(s) left" % len(cgroups), cgroups)
    if s.ctl_exits:
        fail("the controller exited without being killed", s.ctl_exits)

    # figures
    s.figures(n_submit, "", "running")
    print("  max concurrent (agents)   %d at t=%ss %s" % (ma[0], ma[1], " ".join(ma[2])))
    print("  max concurrent (supervisors without result) %d at t=%ss" % (ms[0], ms[1]))
    print("  samples                   %d over %.0f s (largest gap %.0f ms); runs seen %d; "
          "samples by count running: %s" % (smp["samples"], smp["seconds"], smp["max_gap"] * 1000,
                                            len(smp["seen"]), s.histogram()))
    print("  controller restarts       %d (SIGKILL during %d s)" % (int(restarts), int(storm_s)))
    for n in notes:
        print("  note: " + n)
    if fails:
        print("storm: %d invariant(s) violated:" % len(fails))
        for f in fails:
            print("  - " + f)
        sys.exit(1)
    print("storm: every invariant held")


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    {"sample": sample, "workers": workers, "names": names, "pending": pending,
     "leftovers": leftovers, "check": check}[mode](*args)
PY

bg_pids=() # sampler, workers, submitter: killed by the trap if still there
storm_cleanup() {
	local rc=$?
	set +e
	touch "$out/sampler.stop" 2>/dev/null
	for p in "${bg_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${cleanup_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	# Supervisors (forks of a controller or CLI of this state dir) first:
	# their sandboxes die with them (PR_SET_PDEATHSIG, --die-with-parent).
	local left p
	left=$(spy leftovers "$PADDOCK_STATE_DIR" "$PADDOCK_BIN" "$out/mark" "$work" cleanup 2>/dev/null)
	for p in $(printf '%s' "$left" | python3 -c 'import json,sys; print(" ".join(str(p["pid"]) for p in json.load(sys.stdin)))' 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
	sleep 0.5
	# Cgroups of runs killed here (a supervisor killed by SIGKILL cannot
	# remove its own).
	local uids
	uids=$({ awk '{print $2}' "$out/names" 2>/dev/null; ls "$PADDOCK_STATE_DIR/runs" 2>/dev/null; } | sort -u)
	if [ -n "$uids" ]; then
		find /sys/fs/cgroup -maxdepth 8 -depth -type d -name '*-*-*-*-*' 2>/dev/null |
			grep -F -f <(printf '%s\n' $uids) | while read -r d; do rmdir "$d" 2>/dev/null; done
	fi
	[ -z "${KEEP:-}" ] || echo "storm: kept $work" >&2
	cleanup # lib.sh: leftover paddock processes, $work, the shared cgroup parent
	exit $rc
}
trap storm_cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------- set-up
cat >"$work/agent.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: storm}
spec:
  type: exec
  maxConcurrentTasks: $AGENT_MAX
  command: 'set -- \$1; sleep "\$2"; : $mark'
EOT
pdt apply -f "$work/agent.yaml" >/dev/null || fail "the Agent was refused"

t0=$(date +%s.%N)
echo "$t0" >"$out/t0"
sample_end=$(python3 -c "print($t0 + $STORM + $DRAIN + 120)")
spy sample "$PADDOCK_STATE_DIR" "$PADDOCK_BIN" "$out/mark" "$out" "$t0" "$sample_end" &
sampler=$!
bg_pids+=("$sampler")

# One task through the CLI alone (no controller yet): the sandbox works
# here, and the sampler sees a run.
pdt run --agent storm --name storm-sanity -p "storm-sanity 0.5" >"$work/sanity.out" 2>&1 ||
	fail "a single task does not run here: $(cat "$work/sanity.out"; pdt logs storm-sanity 2>&1 | tail -n 5)"
pdt get task storm-sanity -o json | spy names "$out/sanity-uid" storm-sanity
pdt delete task storm-sanity >/dev/null || fail "could not delete the sanity task"
start_controller() {
	"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 &
	cpid=$!
	cleanup_pids+=("$cpid")
}

dur() { # a random sleep length, 0.10 to 1.00 s
	local c=$((RANDOM % 91 + 10))
	printf '%d.%02d' $((c / 100)) $((c % 100))
}
submit_all() {
	local b i name nb=$(((N + BATCH - 1) / BATCH))
	for ((b = 0; b < nb; b++)); do
		local batch=()
		for ((i = b * BATCH + 1; i <= (b + 1) * BATCH && i <= N; i++)); do
			batch+=("$(printf 'storm-%03d' "$i")")
		done
		if ((b % 2 == 0)); then
			local f=$out/batch-$b.yaml
			: >"$f"
			for name in "${batch[@]}"; do
				printf -- '---\napiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: %s}\nspec: {agentRef: {name: storm}, prompt: "%s %s"}\n' \
					"$name" "$name" "$(dur)" >>"$f"
			done
			pdt apply -f "$f" >>"$out/submit.log" 2>&1 ||
				echo "apply of batch $b (${batch[0]}..) failed at t=$(rel)s: $(tail -n 2 "$out/submit.log" | tr '\n' ' ')" >>"$out/submit-errors"
		else
			for name in "${batch[@]}"; do
				pdt run --agent storm --detach --name "$name" -p "$name $(dur)" >>"$out/submit.log" 2>&1 ||
					echo "run --detach $name failed at t=$(rel)s: $(tail -n 2 "$out/submit.log" | tr '\n' ' ')" >>"$out/submit-errors"
			done
		fi
		# Record the uids before any worker may pick these names.
		pdt get tasks -o json 2>>"$out/submit.log" | spy names "$out/names" storm- ||
			echo "get tasks failed after batch $b" >>"$out/submit-errors"
		sleep 2
	done
}

start_controller
submit_all &
submitter=$!
bg_pids+=("$submitter")
spy workers "$PADDOCK_BIN" "$out" "$t0" "$STORM" "$WORKERS" "$MAX_OPS" &
workers=$!
bg_pids+=("$workers")

# ---------------------------------------------------------------- storm
restarts=0
storm_end=$((SECONDS + STORM))
while [ $SECONDS -lt $storm_end ]; do
	sleep "$((3 + RANDOM % 3)).$((RANDOM % 10))"
	[ $SECONDS -lt $storm_end ] || break
	kill -9 "$cpid" 2>/dev/null || true
	rc=0
	wait "$cpid" 2>/dev/null || rc=$?
	[ "$rc" = 137 ] || echo "controller $cpid had exited with status $rc before the SIGKILL at t=$(rel)s (log: $(grep -v 'level=info' "$work/controller.log" | tail -n 2 | tr '\n' ' '))" >>"$out/controller-exits"
	! proc_alive "$cpid" || fail "controller $cpid survived SIGKILL"
	restarts=$((restarts + 1))
	start_controller
done
echo "storm: $STORM s of storm over at t=$(rel)s, $restarts controller restarts; waiting for the CLIs"
# Both are bounded (their own clock, 30 s per CLI call).
wait "$workers" || true
wait "$submitter" || true

# ---------------------------------------------------------------- drain
storm_drain
echo "storm: drained at t=$(rel)s, $left task(s) not finished"
drained_at=$(rel)
# Run directories of deleted tasks: give the controller a moment.
for i in $(seq 1 20); do
	leftdirs=0
	while read -r name uid; do
		[ ! -e "$PADDOCK_STATE_DIR/runs/$uid" ] || leftdirs=$((leftdirs + 1))
	done < <(pdt get tasks -o json | python3 -c '
import json, sys
live = {t["metadata"]["name"] for t in json.load(sys.stdin)["items"]}
for l in open(sys.argv[1]):
    n, u = l.split()
    if n not in live: print(n, u)' "$out/names")
	[ "$leftdirs" != 0 ] || break
	sleep 0.5
done
touch "$out/sampler.stop"
wait "$sampler" || true

# Every task is finished: no run may be alive (a supervisor lingering to
# remove its cgroup gets up to 5 s).
for i in $(seq 1 10); do
	spy leftovers "$PADDOCK_STATE_DIR" "$PADDOCK_BIN" "$out/mark" "$work" drained >"$out/procs-drained.all.json"
	python3 -c '
import json, sys
ps = [p for p in json.load(open(sys.argv[1])) if int(p["pid"]) != int(sys.argv[2])]
json.dump(ps, open(sys.argv[3], "w"))
sys.exit(1 if ps else 0)' "$out/procs-drained.all.json" "$cpid" "$out/procs-drained.json" && break
	sleep 0.5
done
pdt get tasks -o json >"$out/final.json"
for name in $(awk '{print $1}' "$out/names"); do
	echo "=== $name"
	pdt describe task "$name" 2>/dev/null || true
done >"$out/describe.txt"
ls "$PADDOCK_STATE_DIR/runs" >"$out/runs-left" 2>/dev/null || : >"$out/runs-left"

# The controller stops on SIGTERM; then nothing of the test is left.
kill -TERM "$cpid" 2>/dev/null || true
for i in $(seq 1 150); do proc_alive "$cpid" || break; sleep 0.1; done
if proc_alive "$cpid"; then
	echo "controller $cpid still running 15 s after SIGTERM" >>"$out/controller-exits"
	kill -9 "$cpid" 2>/dev/null || true
fi
wait "$cpid" 2>/dev/null || true
for i in $(seq 1 10); do
	spy leftovers "$PADDOCK_STATE_DIR" "$PADDOCK_BIN" "$out/mark" "$work" final >"$out/procs-final.json"
	[ "$(cat "$out/procs-final.json")" != "[]" ] || break
	sleep 0.5
done
uids=$({ awk '{print $2}' "$out/names" "$out/sanity-uid"; cat "$out/runs-left"; } | sort -u)
find /sys/fs/cgroup -maxdepth 8 -type d -name '*-*-*-*-*' 2>/dev/null | grep -F -f <(printf '%s\n' $uids) >"$out/cgroups" || true

spy check "$out" "$N" "$restarts" "$STORM" "$DRAIN" || {
	echo "--- controller log (warnings and errors, last 30)"
	grep -v 'level=info' "$work/controller.log" | tail -n 30 || true # none: grep fails (set -e, pipefail)
	fail "storm: see above (work dir $work; KEEP=1 keeps it)"
}
pass "storm: $N tasks, $restarts controller restarts, stop/delete storm: every invariant held"
