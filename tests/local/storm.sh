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
# Each run gets a cgroup below our own (as resources.sh checks).
cg_unusable() {
	local c own d
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		own=$(sed -n 's/^0:://p' /proc/self/cgroup)
		d=/sys/fs/cgroup$own
		for c in memory pids cpu; do
			grep -qw "$c" /sys/fs/cgroup/cgroup.controllers ||
				{ echo "cgroup v2 without the $c controller"; return 0; }
		done
		mkdir "$d/paddock-probe-$$" 2>/dev/null && rmdir "$d/paddock-probe-$$" ||
			{ echo "cannot create a cgroup below $d"; return 0; }
		return 1
	fi
	for c in memory pids cpu cpuacct; do
		own=$(awk -F: -v c="$c" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup)
		d=/sys/fs/cgroup/$c${own%/}
		[ -n "$own" ] && [ -f "$d/cgroup.procs" ] || { echo "no cgroup v1 $c hierarchy at /sys/fs/cgroup/$c"; return 0; }
		mkdir "$d/paddock-probe-$$" 2>/dev/null && rmdir "$d/paddock-probe-$$" ||
			{ echo "cannot create a cgroup below $d"; return 0; }
	done
	return 1
}
if why=$(cg_unusable); then
	echo "SKIP: $(basename "$0"): cgroups are not writable here: $why"
	exit 77
fi
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
pdt() { timeout -k 5 75 "$PADDOCK_BIN" "$@"; } # no CLI call may hang the test

# ---------------------------------------------------------------- helpers
cat >"$out/storm.py" <<'PY'
import json, os, random, subprocess, sys, threading, time
from datetime import datetime, timezone

NON_TERMINAL = {"Created", "WaitingForDependencies", "DependencyNotFound", "AgentCapacity",
                "GlobalCapacity", "QueuedBehindOlder", "Started"}
TERMINAL_PHASES = {"Succeeded", "Failed", "Stopped"}


def ts(s):
    if not s:
        return None
    s = s.rstrip("Z")
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f" if "." in s else "%Y-%m-%dT%H:%M:%S") \
        .replace(tzinfo=timezone.utc).timestamp()


def read_names(path):
    names = {}
    try:
        for line in open(path):
            w = line.split()
            if len(w) == 2:
                names[w[0]] = w[1]
    except OSError:
        pass
    return names


def atomic_write(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


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
    t0, end = float(t0), time.time() + float(seconds)  # the storm starts now
    lock = threading.Lock()
    log = open(os.path.join(out, "ops.jsonl"), "a")

    def one(i):
        rnd = random.Random(os.getpid() * 31 + i)
        time.sleep(rnd.uniform(0.5, 2.0))
        ops = 0
        while ops < int(max_ops) and time.time() < end:
            names = read_names(os.path.join(out, "names"))
            if not names:
                time.sleep(0.5)
                continue
            try:
                running = [n for n in open(os.path.join(out, "running")).read().split() if n in names]
            except OSError:
                running = []
            # Nearly half at a running task (often just as it ends: the
            # end/delete race), a quarter at the next ones in line (about to
            # start: the start/stop and start/delete races), the rest at any
            # task.
            r = rnd.random()
            order = sorted(names)
            if running and r < 0.45:
                target = rnd.choice(running)
            elif running and r < 0.70:
                k = max(order.index(n) for n in running)
                target = order[min(len(order) - 1, k + rnd.randint(1, 3))]
            else:
                target = rnd.choice(order)
            op = "stop" if rnd.random() < 0.5 else "delete"
            cmd = [pbin, "stop", target] if op == "stop" else [pbin, "delete", "task", target]
            t1 = time.time()
            try:
                # stop and delete wait for the task to finish or go, at
                # most 60 s (docs/lifecycle.md); 75 s is a hang
                p = subprocess.run(["timeout", "-k", "5", "75"] + cmd, capture_output=True, text=True)
                rc, err = p.returncode, p.stderr.strip()
            except OSError as e:
                rc, err = -1, str(e)
            t2 = time.time()
            with lock:
                log.write(json.dumps({"worker": i, "op": op, "task": target, "rc": rc, "err": err[-300:],
                                      "t1": round(t1 - t0, 3), "t2": round(t2 - t0, 3),
                                      "was_running": target in running}) + "\n")
                log.flush()
            ops += 1
            time.sleep(rnd.uniform(0.2, 0.9))

    th = [threading.Thread(target=one, args=(i,)) for i in range(int(nworkers))]
    for t in th:
        t.start()
    for t in th:
        t.join()


# ---- names: merge NAME UID of the listed tasks into the names file --------
def names(path, prefix):
    known = read_names(path)
    for t in json.load(sys.stdin).get("items", []):
        md = t.get("metadata", {})
        if md.get("name", "").startswith(prefix) and md.get("name") not in known:
            known[md["name"]] = md.get("uid", "?")
    atomic_write(path, "".join("%s %s\n" % kv for kv in sorted(known.items())))


# ---- pending: how many listed tasks are not finished ----------------------
def pending(prefix):
    items = json.load(sys.stdin).get("items", [])
    print(sum(1 for t in items if t["metadata"]["name"].startswith(prefix)
              and t.get("status", {}).get("phase") not in TERMINAL_PHASES))


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
        ev = list(evidence)
        fails.append(msg + ("" if not ev else "\n      " + "\n      ".join(ev[:8]) +
                            ("\n      ... and %d more" % (len(ev) - 8) if len(ev) > 8 else "")))

    names = read_names(os.path.join(out, "names"))
    final = {t["metadata"]["name"]: t for t in json.load(open(os.path.join(out, "final.json")))["items"]
             if t["metadata"]["name"].startswith("storm-") and t["metadata"]["name"] != "storm-sanity"}
    listed = [t["metadata"]["name"] for t in json.load(open(os.path.join(out, "final.json")))["items"]]
    smp = json.load(open(os.path.join(out, "sampler.json")))
    ops = [json.loads(l) for l in open(os.path.join(out, "ops.jsonl")) if l.strip()]
    t0 = float(open(os.path.join(out, "t0")).read())
    events = {}
    cur = None
    in_ev = False
    for line in open(os.path.join(out, "describe.txt")):
        if line.startswith("=== "):
            cur = line[4:].strip()
            events[cur] = []
            in_ev = False
        elif line.startswith("Events:"):
            in_ev = True
        elif in_ev and line.startswith("  ") and cur:
            w = line.split()
            if len(w) >= 3:
                events[cur].append((w[0], w[2]))
        elif not line.startswith(" "):
            in_ev = False
    runs_left = set(open(os.path.join(out, "runs-left")).read().split())
    cgroups = [l.strip() for l in open(os.path.join(out, "cgroups")) if l.strip()]
    procs_drain = json.load(open(os.path.join(out, "procs-drained.json")))
    procs_final = json.load(open(os.path.join(out, "procs-final.json")))
    sub_err = [l.strip() for l in open(os.path.join(out, "submit-errors")) if l.strip()]
    ctl_exits = [l.strip() for l in open(os.path.join(out, "controller-exits")) if l.strip()]

    stops = [o for o in ops if o["op"] == "stop"]
    dels = [o for o in ops if o["op"] == "delete"]
    stop_sent = {o["task"] for o in stops}
    del_sent = {o["task"] for o in dels}
    del_ack = {}
    for o in dels:  # done: exit 0, or "deleted, but its run directory remains"
        if o["rc"] == 0 or "deleted" in o["err"]:
            del_ack[o["task"]] = min(del_ack.get(o["task"], 1e18), o["t2"])
    stop_ack = {}
    for o in stops:
        if o["rc"] == 0:
            stop_ack[o["task"]] = min(stop_ack.get(o["task"], 1e18), o["t2"])
    phases = {}
    for name, t in final.items():
        phases.setdefault(t.get("status", {}).get("phase", "?"), []).append(name)

    by_uid = {u: n for n, u in names.items()}
    del_t1 = {}
    for o in dels:
        if o["rc"] == 0 or "deleted" in o["err"]:
            del_t1[o["task"]] = min(del_t1.get(o["task"], 1e18), o["t1"])
    # 1. concurrency
    ma, ms = smp["max_agents"], smp["max_supervisors"]
    if smp["violations_agents"]:
        # the samples still over 2 without the runs of tasks being deleted
        strict = [v for v in smp["violations_agents"]
                  if sum(1 for n in v[1] if not (n in del_t1 and del_t1[n] < v[0])) > 2]
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
    stuck, nocompl, badreason = [], [], []
    for name, t in sorted(final.items()):
        st = t.get("status", {})
        ph, rs = st.get("phase"), st.get("reason")
        if ph not in TERMINAL_PHASES:
            stuck.append("%s: %s/%s %r%s" % (name, ph, rs, st.get("message", ""),
                                             " (stop sent)" if name in stop_sent else ""))
            continue
        if not st.get("completionTime"):
            nocompl.append("%s: %s/%s without completionTime" % (name, ph, rs))
        if (ph == "Stopped" and rs != "Stopped") or (ph == "Succeeded" and rs != "Completed"):
            badreason.append("%s: phase %s with reason %s" % (name, ph, rs))
    if stuck:
        fail("%d task(s) not finished %d s after the storm" % (len(stuck), drain_s), stuck)
    if nocompl:
        fail("%d finished task(s) without completionTime" % len(nocompl), nocompl)
    if badreason:
        fail("%d task(s) whose reason does not fit the phase" % len(badreason), badreason)
    failed = phases.get("Failed", [])
    if failed:
        fail("%d task(s) Failed (a sleep that exits 0 can only Succeed or be Stopped)" % len(failed),
             ["%s: %s %r" % (n, final[n]["status"].get("reason"), final[n]["status"].get("message", ""))
              for n in failed])

    # 3. exactly one completion event, matching status.reason
    multi, none, mismatch, unknown, started2 = [], [], [], set(), []
    for name, t in sorted(final.items()):
        ev = events.get(name)
        if ev is None:
            none.append("%s: describe failed" % name)
            continue
        st = t.get("status", {})
        if st.get("phase") not in TERMINAL_PHASES:
            continue
        term = [(tm, r) for tm, r in ev if r not in NON_TERMINAL]
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
    ghost_stop = [n for n in phases.get("Stopped", []) if n not in stop_sent]
    if ghost_stop:
        fail("%d task(s) Stopped without any stop sent" % len(ghost_stop), ghost_stop)
    lost_stop = []
    for name, t_ack in sorted(stop_ack.items()):
        t = final.get(name)
        if not t:
            continue
        st = t.get("status", {})
        ct = ts(st.get("completionTime"))
        if st.get("phase") in TERMINAL_PHASES and st.get("phase") != "Stopped" and ct and ct - t0 > t_ack + 1.0:
            lost_stop.append("%s: stop returned 0 at t=%.2fs, then %s/%s at t=%.2fs" %
                             (name, t_ack, st.get("phase"), st.get("reason"), ct - t0))
    if lost_stop:
        fail("%d stop(s) acknowledged but the task ended otherwise more than 1 s later" % len(lost_stop), lost_stop)

    # 5. deletes
    gone = sorted(set(names) - set(final))
    vanished = [n for n in gone if n not in del_sent]
    if vanished:
        fail("%d task(s) vanished without a delete" % len(vanished), vanished)
    back = [n for n in del_ack if n in final]
    if back:
        fail("%d task(s) still listed although their delete returned 0" % len(back),
             ["%s: deleted at t=%.2fs, now %s" % (n, del_ack[n], final[n]["status"].get("phase")) for n in back])
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
    dup = sorted({n for n in listed if listed.count(n) > 1})
    if dup:
        fail("task(s) listed more than once by get tasks", dup)
    unknown_names = sorted(set(final) - set(names))
    if unknown_names:
        notes.append("tasks listed whose uid was never recorded: %s" % " ".join(unknown_names[:10]))

    # 6. CLI errors other than "not found"
    cli_err = ["%s %s (t=%.2fs): exit %d: %s" % (o["op"], o["task"], o["t1"], o["rc"], o["err"])
               for o in ops if o["rc"] != 0 and "not found" not in o["err"]]
    if cli_err:
        fail("%d stop/delete command(s) failed other than with \"not found\"" % len(cli_err), cli_err)
    if sub_err:
        fail("%d submission(s) failed" % len(sub_err), sub_err)

    # 7. processes, cgroups, the controller
    if procs_drain:
        fail("%d run process(es) alive after every task finished" % len(procs_drain),
             ["pid %d: %s: %s" % (p["pid"], p["why"], p["cmdline"]) for p in procs_drain])
    if procs_final:
        fail("%d process(es) of the test left after the controller's SIGTERM" % len(procs_final),
             ["pid %d: %s: %s" % (p["pid"], p["why"], p["cmdline"]) for p in procs_final])
    if cgroups:
        fail("%d run cgroup(s) left" % len(cgroups), cgroups)
    if ctl_exits:
        fail("the controller exited without being killed", ctl_exits)

    # figures
    n_names = len(names)
    print("storm figures:")
    print("  tasks submitted           %d (%d asked)" % (n_names, n_submit))
    print("  stop requests             %d sent, %d acknowledged, %d while running" %
          (len(stops), sum(1 for o in stops if o["rc"] == 0), sum(1 for o in stops if o["was_running"])))
    print("  delete requests           %d sent, %d acknowledged, %d while running" %
          (len(dels), len(del_ack), sum(1 for o in dels if o["was_running"])))
    print("  deleted (gone at the end) %d" % len(gone))
    for op, lst in (("stop", stops), ("delete", dels)):
        if lst:
            d = sorted(o["t2"] - o["t1"] for o in lst)
            print("  %-25s median %.2f s, max %.2f s" % (op + " latency", d[len(d) // 2], d[-1]))
    for ph in ("Succeeded", "Stopped", "Failed"):
        print("  %-25s %d" % (ph.lower(), len(phases.get(ph, []))))
    other = sum(len(v) for k, v in phases.items() if k not in TERMINAL_PHASES)
    print("  not finished              %d" % other)
    print("  max concurrent (agents)   %d at t=%ss %s" % (ma[0], ma[1], " ".join(ma[2])))
    print("  max concurrent (supervisors without result) %d at t=%ss" % (ms[0], ms[1]))
    print("  samples                   %d over %.0f s (largest gap %.0f ms); runs seen %d; "
          "samples by count running: %s" % (smp["samples"], smp["seconds"], smp["max_gap"] * 1000,
                                            len(smp["seen"]),
                                            " ".join("%s:%d" % kv for kv in sorted(smp["hist"].items(), key=lambda kv: int(kv[0])))))
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
spy() { python3 "$out/storm.py" "$@"; }

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
proc_alive() { # PID: exists and is not a zombie
	local s
	s=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$s" ] && [ "$s" != Z ]
}
rel() { python3 -c "import time; print('%.2f' % (time.time() - $t0))"; }

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
drain_end=$((SECONDS + DRAIN))
left=?
while [ $SECONDS -lt $drain_end ]; do
	if ! proc_alive "$cpid"; then
		rc=0
		wait "$cpid" 2>/dev/null || rc=$?
		echo "controller $cpid exited with status $rc during the drain at t=$(rel)s" >>"$out/controller-exits"
		start_controller
	fi
	left=$(pdt get tasks -o json 2>/dev/null | spy pending storm-) || left=?
	[ "$left" != 0 ] || break
	sleep 1
done
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
	grep -v 'level=info' "$work/controller.log" | tail -n 30
	fail "storm: see above (work dir $work; KEEP=1 keeps it)"
}
pass "storm: $N tasks, $restarts controller restarts, stop/delete storm: every invariant held"
