# SPDX-License-Identifier: MIT
"""tests/storm_common.py - what the two stop/delete storms share,
tests/local/storm.sh (local backend) and tests/k8s/storm.sh (Kubernetes
backend).

Each script writes the part of its own backend (the sampler, the search
for leftovers, the checks only it makes) to $out/storm.py, which imports
this module: the scripts run it with tests/ on PYTHONPATH.  Here:

  - the storm itself: CLI processes sending `paddock stop NAME` and
    `paddock delete task NAME` at random, each logged to ops.jsonl
    (cli_storm);
  - the NAME UID bookkeeping of the names file (read_names, names) and
    the count of unfinished tasks (pending);
  - reading what a storm left in its directory, what the checks of both
    backends derive from it and the evidence they give (Storm);
  - the figures both print (Storm.figures).
"""
import json, os, random, subprocess, sys, threading, time
from datetime import datetime, timezone

TERMINAL = {"Succeeded", "Failed", "Stopped"}
# The reasons of docs/lifecycle.md that do not end a task: every other
# event of a task is its completion event.
NON_TERMINAL = {"Created", "WaitingForDependencies", "DependencyNotFound", "AgentCapacity",
                "GlobalCapacity", "QueuedBehindOlder", "Started"}


def ts(s):
    """An API timestamp (2006-01-02T15:04:05[.000]Z) in seconds since the epoch."""
    if not s:
        return None
    s = s.rstrip("Z")
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f" if "." in s else "%Y-%m-%dT%H:%M:%S") \
        .replace(tzinfo=timezone.utc).timestamp()


def read_names(path):
    """The names file: NAME -> UID of every task submitted."""
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
    """Replaces PATH at once: a reader sees the old text or the new one."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def read_lines(path):
    return [l.strip() for l in open(path) if l.strip()]


# ---- the storm: random stop / delete from N CLI processes at a time --------
def cli_storm(pbin, out, t0, seconds, nworkers, max_ops, at_running, at_next, pause, ns=None):
    """For SECONDS from now, NWORKERS threads each running at most MAX_OPS
    `paddock stop NAME` or `paddock delete task NAME` (with `-n NS` when
    NS is given), one at a time, PAUSE (low, high) seconds apart.  The
    share AT_RUNNING of them is aimed at a task of OUT/running (the
    sampler's view of the runs), AT_NEXT at one of the next three in line
    after them, the rest at any task of OUT/names.  Each call is a line of
    OUT/ops.jsonl: worker, op, task, rc, err (stderr's end), t1 and t2 (its
    start and end, seconds after T0), was_running."""
    t0, end = float(t0), time.time() + float(seconds)  # the storm starts now
    lock = threading.Lock()
    log = open(os.path.join(out, "ops.jsonl"), "a")
    nsargs = ["-n", ns] if ns else []

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
            r = rnd.random()
            order = sorted(names)
            if running and r < at_running:
                target = rnd.choice(running)
            elif running and r < at_running + at_next:
                k = max(order.index(n) for n in running)
                target = order[min(len(order) - 1, k + rnd.randint(1, 3))]
            else:
                target = rnd.choice(order)
            op = "stop" if rnd.random() < 0.5 else "delete"
            cmd = [pbin, "stop"] + nsargs + [target] if op == "stop" else [pbin, "delete", "task"] + nsargs + [target]
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
            time.sleep(rnd.uniform(*pause))

    th = [threading.Thread(target=one, args=(i,)) for i in range(int(nworkers))]
    for t in th:
        t.start()
    for t in th:
        t.join()


# ---- names: merge NAME UID of the listed tasks into the names file ----------
def names(path, prefix):
    """Reads `paddock get tasks -o json` on stdin."""
    known = read_names(path)
    for t in json.load(sys.stdin).get("items", []):
        md = t.get("metadata", {})
        if md.get("name", "").startswith(prefix) and md.get("name") not in known:
            known[md["name"]] = md.get("uid", "?")
    atomic_write(path, "".join("%s %s\n" % kv for kv in sorted(known.items())))


# ---- pending: how many listed tasks are not finished ------------------------
def pending(prefix):
    """Reads `paddock get tasks -o json` on stdin; counts the tasks whose
    name starts with PREFIX."""
    items = json.load(sys.stdin).get("items", [])
    print(sum(1 for t in items if t["metadata"]["name"].startswith(prefix)
              and t.get("status", {}).get("phase") not in TERMINAL))


def read_events(path):
    """describe.txt (`=== NAME`, then `paddock describe task NAME`): NAME ->
    [(time, reason)] of its Events."""
    events, cur, in_ev = {}, None, False
    for line in open(path):
        if line.startswith("=== "):
            cur, in_ev = line[4:].strip(), False
            events[cur] = []
        elif line.startswith("Events:"):
            in_ev = True
        elif in_ev and line.startswith("  ") and cur:
            w = line.split()
            if len(w) >= 3:
                events[cur].append((w[0], w[2]))
        elif not line.startswith(" "):
            in_ev = False
    return events


def completion_events(ev):
    """The completion events among EV: those whose reason does not leave a
    task unfinished."""
    return [(tm, r) for tm, r in ev if r not in NON_TERMINAL]


def clip(evidence, most=8):
    """The first MOST lines of EVIDENCE, and how many more there are."""
    return evidence[:most] + (["... and %d more" % (len(evidence) - most)] if len(evidence) > most else [])


class Storm:
    """What a storm left in OUT: names (NAME -> UID), final.json (the tasks
    listed at the end: final, those KEEP accepts by name; listed, every
    name), sampler.json (smp), ops.jsonl, t0, describe.txt (events),
    submit-errors (sub_err), controller-exits (ctl_exits); and what
    follows from them."""

    def __init__(self, out, keep=lambda name: True):
        at = lambda f: os.path.join(out, f)
        self.names = read_names(at("names"))
        items = json.load(open(at("final.json")))["items"]
        self.listed = [t["metadata"]["name"] for t in items]
        self.final = {t["metadata"]["name"]: t for t in items if keep(t["metadata"]["name"])}
        self.smp = json.load(open(at("sampler.json")))
        self.ops = [json.loads(l) for l in open(at("ops.jsonl")) if l.strip()]
        self.t0 = float(open(at("t0")).read())
        self.events = read_events(at("describe.txt"))
        self.sub_err = read_lines(at("submit-errors"))
        self.ctl_exits = read_lines(at("controller-exits"))

        self.stops = [o for o in self.ops if o["op"] == "stop"]
        self.dels = [o for o in self.ops if o["op"] == "delete"]
        self.stop_sent = {o["task"] for o in self.stops}
        self.del_sent = {o["task"] for o in self.dels}
        # acknowledged: the first return of a stop with exit 0, of a delete
        # with exit 0 or "deleted, but ..." (t2); del_t1, when that delete
        # was sent
        self.stop_ack, self.del_ack, self.del_t1 = {}, {}, {}
        for o in self.ops:
            if o["rc"] == 0 or (o["op"] == "delete" and "deleted" in o["err"]):
                d = self.stop_ack if o["op"] == "stop" else self.del_ack
                d[o["task"]] = min(d.get(o["task"], 1e18), o["t2"])
                if o["op"] == "delete":
                    self.del_t1[o["task"]] = min(self.del_t1.get(o["task"], 1e18), o["t1"])
        self.phases = {}  # phase -> names
        for name, t in self.final.items():
            self.phases.setdefault(t.get("status", {}).get("phase", "?"), []).append(name)
        self.gone = sorted(set(self.names) - set(self.final))

    # Each of these returns the evidence against an invariant, [] if it held.
    def over_two(self, violations):
        """The samples [t, names] of VIOLATIONS still over 2 without the runs
        of tasks whose delete had been sent before the sample."""
        return [v for v in violations
                if sum(1 for n in v[1] if not (n in self.del_t1 and self.del_t1[n] < v[0])) > 2]

    def unfinished(self):
        """Three lists: the tasks not in a terminal phase, those in one
        without a completionTime, those whose reason does not fit it."""
        stuck, nocompl, badreason = [], [], []
        for name, t in sorted(self.final.items()):
            st = t.get("status", {})
            ph, rs = st.get("phase"), st.get("reason")
            if ph not in TERMINAL:
                stuck.append("%s: %s/%s %r%s" % (name, ph, rs, st.get("message", ""),
                                                 " (stop sent)" if name in self.stop_sent else ""))
                continue
            if not st.get("completionTime"):
                nocompl.append("%s: %s/%s without completionTime" % (name, ph, rs))
            if (ph == "Stopped" and rs != "Stopped") or (ph == "Succeeded" and rs != "Completed"):
                badreason.append("%s: phase %s with reason %s" % (name, ph, rs))
        return stuck, nocompl, badreason

    def failed(self):
        return ["%s: %s %r" % (n, self.final[n]["status"].get("reason"), self.final[n]["status"].get("message", ""))
                for n in self.phases.get("Failed", [])]

    def stopped_unasked(self):
        return [n for n in self.phases.get("Stopped", []) if n not in self.stop_sent]

    def lost_stops(self, slack):
        """Stops acknowledged more than SLACK seconds before the task ended
        otherwise."""
        lost = []
        for name, t_ack in sorted(self.stop_ack.items()):
            st = self.final.get(name, {}).get("status", {})
            ct = ts(st.get("completionTime"))
            if st.get("phase") in TERMINAL and st.get("phase") != "Stopped" and ct and ct - self.t0 > t_ack + slack:
                lost.append("%s: stop returned 0 at t=%.2fs, then %s/%s at t=%.2fs" %
                            (name, t_ack, st.get("phase"), st.get("reason"), ct - self.t0))
        return lost

    def vanished(self):
        return [n for n in self.gone if n not in self.del_sent]

    def still_listed(self):
        return ["%s: deleted at t=%.2fs, now %s" % (n, self.del_ack[n], self.final[n]["status"].get("phase"))
                for n in self.del_ack if n in self.final]

    def cli_errors(self):
        return ["%s %s (t=%.2fs): exit %d: %s" % (o["op"], o["task"], o["t1"], o["rc"], o["err"])
                for o in self.ops if o["rc"] != 0 and "not found" not in o["err"]]

    def figures(self, n_submit, head, running):
        """The figures both print, each line after HEAD; RUNNING names what
        the sampler sees ("running", "active")."""
        print(head + "storm figures:")
        print(head + "  tasks submitted           %d (%d asked)" % (len(self.names), n_submit))
        print(head + "  stop requests             %d sent, %d acknowledged, %d while %s" %
              (len(self.stops), len(self.stop_ack), sum(1 for o in self.stops if o["was_running"]), running))
        print(head + "  delete requests           %d sent, %d acknowledged, %d while %s" %
              (len(self.dels), len(self.del_ack), sum(1 for o in self.dels if o["was_running"]), running))
        print(head + "  deleted (gone at the end) %d" % len(self.gone))
        for op, lst in (("stop", self.stops), ("delete", self.dels)):
            if lst:
                d = sorted(o["t2"] - o["t1"] for o in lst)
                print(head + "  %-25s median %.2f s, max %.2f s" % (op + " latency", d[len(d) // 2], d[-1]))
        for ph in ("Succeeded", "Stopped", "Failed"):
            print(head + "  %-25s %d" % (ph.lower(), len(self.phases.get(ph, []))))
        print(head + "  not finished              %d" % sum(len(v) for k, v in self.phases.items() if k not in TERMINAL))

    def histogram(self):
        """The sampler's count of samples by number running."""
        return " ".join("%s:%d" % kv for kv in sorted(self.smp["hist"].items(), key=lambda kv: int(kv[0])))
