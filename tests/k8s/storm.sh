#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/k8s/storm.sh [KUBECONFIG] - stop/delete storm against the Kubernetes
# backend, what a user of the cluster sees:
#
#   - 40 Tasks (STORM_TASKS) on one exec Agent with maxConcurrentTasks: 2,
#     whose pods kwok ends Succeeded after 1 s (kwok.paddock.dev/run-time),
#     submitted in two batches 3 s apart (`paddock apply`, then
#     `paddock run --detach`);
#   - one `paddock controller` (backend: kubernetes), SIGKILLed and
#     restarted twice during the storm;
#   - two CLI processes at a time sending `paddock stop NAME` and
#     `paddock delete task NAME` at random for 20 s (STORM_SECONDS), at most
#     30 each (a third aimed at a task whose Job is active, a third at one
#     of the next three in line);
#   - a sampler listing the namespace's Jobs through the API every 100 ms:
#     a Job is active until it has a Complete or Failed condition (what the
#     controller itself waits for).
# Then up to 120 s (STORM_DRAIN) for every Task to finish, 30 s for the
# garbage collector, and the checks:
#   1. never more than 2 active Jobs at once (the maximum is printed);
#   2. every remaining Task is in a terminal phase with a completionTime and
#      a reason that fits; none Failed; exactly one completion Event each
#      (`paddock describe`), matching status.reason;
#   3. at most one Job per Task; Stopped only if a stop was sent; a stop
#      acknowledged more than 2 s before the Task completed leaves it
#      Stopped;
#   4. a Task is gone only if a delete was sent; a delete acknowledged
#      leaves it gone; no Job is created for a Task after its delete
#      returned; no Job and no ConfigMap is left for a deleted Task; no
#      active Job is left at all;
#   5. stop/delete/apply/run fail only with "not found"; the controller
#      never exited by itself.
#
# Without KUBECONFIG it starts its own control plane (tests/k8s/env.sh,
# about 7 s) and stops it at the end.  Prints "ok - ..."/"not ok - ..."
# and ends with "N passed, N failed".  KEEP=1 keeps the work directory.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$HERE/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR/_build}
PADDOCK_BIN=${PADDOCK_BIN:-$TOP_BUILDDIR/core/paddock}
[ -x "$PADDOCK_BIN" ] || { echo "k8s storm: $PADDOCK_BIN not built" >&2; exit 1; }
command -v python3 >/dev/null || { echo "k8s storm: python3 is needed" >&2; exit 1; }

N=${STORM_TASKS:-40}
STORM=${STORM_SECONDS:-20}
DRAIN=${STORM_DRAIN:-120}
WORKERS=2
MAX_OPS=30
AGENT_MAX=${STORM_AGENT_MAX:-2} # the test's own test: 3 must fail check 1
NS=storm-$$

work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-k8s-storm.XXXXXX")
out=$work/storm
mkdir -p "$out"
own_cluster=
if [ -n "${1:-}" ]; then
	KUBECONFIG=$1
else
	K8S_BIN=$("$HERE/build.sh" | tail -n1) || { echo "k8s storm: building the test components failed" >&2; exit 1; }
	export K8S_BIN
	own_cluster=$work/cluster
	"$HERE/env.sh" start "$own_cluster" >/dev/null || { echo "k8s storm: the control plane did not start" >&2; exit 1; }
	KUBECONFIG=$own_cluster/kubeconfig
fi
KUBECONFIG=$(cd "$(dirname "$KUBECONFIG")" && pwd)/$(basename "$KUBECONFIG")
export KUBECONFIG
envdir=$(dirname "$KUBECONFIG")
if [ -z "${K8S_BIN:-}" ] && [ -f "$envdir/ports.env" ]; then
	K8S_BIN=$(sed -n 's/^K8S_BIN=//p' "$envdir/ports.env")
fi
KUBECTL=kubectl
[ -n "${K8S_BIN:-}" ] && [ -x "$K8S_BIN/kubectl" ] && KUBECTL=$K8S_BIN/kubectl
kc() { timeout -k 5 60 "$KUBECTL" --kubeconfig "$KUBECONFIG" --request-timeout=20s "$@"; }

passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
nok() { echo "not ok - $*"; failed=$((failed + 1)); }

export HOME=$work/home PADDOCK_STATE_DIR=$work/state XDG_CONFIG_HOME=$work/home/.config
unset PADDOCK_NAMESPACE || true
mkdir -p "$HOME"
export PADDOCK_CONFIG=$work/paddock.yaml
export PADDOCK_PLUGIN_PATH=$TOP_BUILDDIR/drivers/.libs:$TOP_BUILDDIR/contexts/.libs
export PADDOCK_DATA_DIR=$TOP_SRCDIR
cat >"$PADDOCK_CONFIG" <<EOF
backend: kubernetes
log: {level: info}
controller: {listen: "127.0.0.1:0"}
kubernetes: {kubeconfig: "$KUBECONFIG", leaseNamespace: $NS-system, namespace: $NS}
limits: {maxConcurrentTasks: 50, defaultTaskTimeout: 10m}
drivers: {exec: {enabled: true}}
contexts: {text: {enabled: true}}
EOF
pdt() { timeout -k 5 75 "$PADDOCK_BIN" "$@"; }

bg_pids=()
cpids=()
cleanup() {
	local rc=$?
	touch "$out/sampler.stop" 2>/dev/null
	for p in "${bg_pids[@]}" "${cpids[@]}"; do kill -9 "$p" 2>/dev/null; done
	if [ -z "${KEEP:-}" ]; then
		kc delete namespace "$NS" "$NS-system" --wait=false >/dev/null 2>&1
		[ -z "$own_cluster" ] || "$HERE/env.sh" stop "$own_cluster" >/dev/null 2>&1
		rm -rf "$work"
	else
		echo "k8s storm: kept $work${own_cluster:+ (the cluster still runs: $HERE/env.sh stop $own_cluster)}" >&2
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

kc apply -f "$TOP_SRCDIR/etc/kubernetes/crds.yaml" >/dev/null &&
	kc wait --for condition=established --timeout=60s crd/tasks.paddock.dev crd/agents.paddock.dev >/dev/null ||
	{ echo "k8s storm: CRDs not established" >&2; exit 1; }
kc create namespace "$NS" >/dev/null && kc create namespace "$NS-system" >/dev/null ||
	{ echo "k8s storm: cannot create namespace $NS" >&2; exit 1; }
until kc -n "$NS" get serviceaccount default >/dev/null 2>&1; do sleep 0.2; done

cat >"$work/agent.yaml" <<EOF
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: storm, namespace: $NS}
spec:
  type: exec
  image: debian:bookworm-slim
  command: "sleep 1"
  maxConcurrentTasks: $AGENT_MAX
  pod: {labels: {kwok.paddock.dev/run-time: "1s"}}
EOF
pdt apply -f "$work/agent.yaml" >/dev/null || { echo "k8s storm: the Agent was refused" >&2; exit 1; }

# ---------------------------------------------------------------- helpers
cat >"$out/storm.py" <<'PY'
import base64, http.client, json, os, random, re, ssl, subprocess, sys, threading, time
from datetime import datetime, timezone

TERMINAL = {"Succeeded", "Failed", "Stopped"}
NON_TERMINAL = {"Created", "WaitingForDependencies", "DependencyNotFound", "AgentCapacity",
                "GlobalCapacity", "QueuedBehindOlder", "Started"}


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


class Api:
    """GETs on the API server of a kubeconfig as tests/k8s/env.sh writes it
    (embedded CA and client certificate), over one kept-alive connection."""

    def __init__(self, kubeconfig, tmpdir):
        txt = open(kubeconfig).read()
        get = lambda k: re.search(r"%s:\s*(\S+)" % k, txt).group(1)
        m = re.match(r"https://([^:/]+):(\d+)", get("server"))
        self.host, self.port = m.group(1), int(m.group(2))
        paths = {}
        for k in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            p = os.path.join(tmpdir, k)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, base64.b64decode(get(k)))
            os.close(fd)
            paths[k] = p
        self.ctx = ssl.create_default_context(cafile=paths["certificate-authority-data"])
        self.ctx.load_cert_chain(paths["client-certificate-data"], paths["client-key-data"])
        self.conn = None

    def get(self, path):
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=10)
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise OSError("GET %s: %d %s" % (path, r.status, body[:200]))
                return json.loads(body)
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt:
                    raise


def job_finished(j):
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in j.get("status", {}).get("conditions", []) or [])


# ---- sample: the namespace's Jobs every 100 ms -------------------------------
def sample(kubeconfig, ns, out, t0, deadline):
    api = Api(kubeconfig, out)
    t0, deadline = float(t0), float(deadline)
    stopf = os.path.join(out, "sampler.stop")
    jobs = {}  # job uid -> {task, task_uid, name, created, first, last, active_first, active_last}
    hist, viol = {}, []
    best = (0, None, [])
    n = errors = 0
    gap = 0.0
    prev = None
    last_err = ""
    while time.time() < deadline and not os.path.exists(stopf):
        now = time.time()
        try:
            items = api.get("/apis/batch/v1/namespaces/%s/jobs" % ns).get("items", [])
        except Exception as e:
            errors += 1
            last_err = str(e)[:200]
            time.sleep(0.2)
            continue
        if prev is not None:
            gap = max(gap, now - prev)
        prev = now
        t = now - t0
        active = []
        for j in items:
            md = j["metadata"]
            lb = md.get("labels", {})
            rec = jobs.setdefault(md["uid"], {"task": lb.get("paddock.dev/task", "?"),
                                              "task_uid": lb.get("paddock.dev/task-uid", "?"),
                                              "name": md["name"], "created": md.get("creationTimestamp"),
                                              "first": t, "last": t, "active_first": None, "active_last": None})
            rec["last"] = t
            if not job_finished(j):
                active.append(rec["task"])
                if rec["active_first"] is None:
                    rec["active_first"] = t
                rec["active_last"] = t
        na = len(active)
        hist[na] = hist.get(na, 0) + 1
        if na > best[0]:
            best = (na, round(t, 2), sorted(active))
        if na > 2 and len(viol) < 200:
            viol.append([round(t, 2), sorted(active)])
        atomic_write(os.path.join(out, "running"), "\n".join(sorted(active)) + "\n")
        if n == 0:
            atomic_write(os.path.join(out, "sampler.ready"), "%.3f\n" % t)
        n += 1
        rest = 0.1 - (time.time() - now)
        if rest > 0:
            time.sleep(rest)
    json.dump({"samples": n, "errors": errors, "last_error": last_err, "max_gap": round(gap, 3),
               "seconds": round((prev or t0) - t0, 1), "max": best, "hist": hist, "violations": viol,
               "jobs": jobs}, open(os.path.join(out, "sampler.json"), "w"))


# ---- workers: random stop / delete from N CLI processes at a time ------------
def workers(pbin, ns, out, t0, seconds, nworkers, max_ops):
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
            r = rnd.random()
            order = sorted(names)
            if running and r < 0.33:
                target = rnd.choice(running)
            elif running and r < 0.66:
                k = max(order.index(n) for n in running)
                target = order[min(len(order) - 1, k + rnd.randint(1, 3))]
            else:
                target = rnd.choice(order)
            op = "stop" if rnd.random() < 0.5 else "delete"
            cmd = [pbin, "stop", "-n", ns, target] if op == "stop" else [pbin, "delete", "task", "-n", ns, target]
            t1 = time.time()
            try:
                # stop and delete may wait for the task to finish or go, at
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
            time.sleep(rnd.uniform(0.3, 1.2))

    th = [threading.Thread(target=one, args=(i,)) for i in range(int(nworkers))]
    for t in th:
        t.start()
    for t in th:
        t.join()


def names(path, prefix):
    known = read_names(path)
    for t in json.load(sys.stdin).get("items", []):
        md = t.get("metadata", {})
        if md.get("name", "").startswith(prefix) and md.get("name") not in known:
            known[md["name"]] = md.get("uid", "?")
    atomic_write(path, "".join("%s %s\n" % kv for kv in sorted(known.items())))


def pending():
    items = json.load(sys.stdin).get("items", [])
    print(sum(1 for t in items if t.get("status", {}).get("phase") not in TERMINAL))


# Jobs and ConfigMaps of tasks that no longer exist, and active Jobs.
def leftovers(kubeconfig, ns, out):
    api = Api(kubeconfig, out)
    live = {t["metadata"]["uid"] for t in api.get("/apis/paddock.dev/v1alpha1/namespaces/%s/tasks" % ns)["items"]}
    res = {"jobs": [], "configmaps": [], "active": []}
    for kind, path in (("jobs", "/apis/batch/v1/namespaces/%s/jobs" % ns),
                       ("configmaps", "/api/v1/namespaces/%s/configmaps" % ns)):
        for o in api.get(path)["items"]:
            md = o["metadata"]
            uid = md.get("labels", {}).get("paddock.dev/task-uid")
            owners = [r.get("uid") for r in md.get("ownerReferences", []) if r.get("kind") == "Task"]
            if not uid and not owners:
                continue
            if (uid and uid not in live) or (owners and not any(u in live for u in owners)):
                res[kind].append({"name": md["name"], "task": md.get("labels", {}).get("paddock.dev/task", "?"),
                                  "task_uid": uid or owners[0], "deleting": bool(md.get("deletionTimestamp"))})
            if kind == "jobs" and not job_finished(o):
                res["active"].append(md["name"])
    print(json.dumps(res))


def check(out, n_submit, restarts, drain_s):
    n_submit, restarts, drain_s = int(n_submit), int(restarts), int(drain_s)
    results = []

    def case(desc, bad, evidence=()):
        ev = list(evidence)
        results.append((desc, bad, ev))

    names = read_names(os.path.join(out, "names"))
    final = {t["metadata"]["name"]: t for t in json.load(open(os.path.join(out, "final.json")))["items"]}
    smp = json.load(open(os.path.join(out, "sampler.json")))
    ops = [json.loads(l) for l in open(os.path.join(out, "ops.jsonl")) if l.strip()]
    t0 = float(open(os.path.join(out, "t0")).read())
    left = json.load(open(os.path.join(out, "leftovers.json")))
    sub_err = [l.strip() for l in open(os.path.join(out, "submit-errors")) if l.strip()]
    ctl_exits = [l.strip() for l in open(os.path.join(out, "controller-exits")) if l.strip()]
    events, cur, in_ev = {}, None, False
    for line in open(os.path.join(out, "describe.txt")):
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

    stops = [o for o in ops if o["op"] == "stop"]
    dels = [o for o in ops if o["op"] == "delete"]
    stop_sent = {o["task"] for o in stops}
    del_sent = {o["task"] for o in dels}
    stop_ack, del_ack = {}, {}
    for o in ops:  # a delete is done on exit 0, or "deleted, but ..."
        if o["rc"] == 0 or (o["op"] == "delete" and "deleted" in o["err"]):
            d = stop_ack if o["op"] == "stop" else del_ack
            d[o["task"]] = min(d.get(o["task"], 1e18), o["t2"])
    phases = {}
    for name, t in final.items():
        phases.setdefault(t.get("status", {}).get("phase", "?"), []).append(name)
    by_task_uid = {}
    for juid, j in smp["jobs"].items():
        by_task_uid.setdefault(j["task_uid"], []).append(j)
    gone = sorted(set(names) - set(final))

    del_t1 = {}
    for o in dels:
        if o["rc"] == 0 or "deleted" in o["err"]:
            del_t1[o["task"]] = min(del_t1.get(o["task"], 1e18), o["t1"])
    # Diagnostic: the samples over 2 that are still over 2 without the Jobs
    # of Tasks whose delete had been sent before the sample.
    strict = [v for v in smp["violations"] if sum(1 for n in v[1] if not (n in del_t1 and del_t1[n] < v[0])) > 2]
    m = smp["max"]
    case("never more than 2 active Jobs at once (max %d at t=%ss: %s; %d samples, %d API errors)" %
         (m[0], m[1], " ".join(m[2]), smp["samples"], smp["errors"]), bool(smp["violations"]),
         ["%d of these samples are over 2 even without the Jobs of Tasks being deleted" % len(strict)] +
         ["t=%.2fs: %s" % (v[0], " ".join(n + (" (delete sent t=%.2fs, returned t=%.2fs)" % (del_t1[n], del_ack[n])
                                                if n in del_ack else "") for n in v[1]))
          for v in (strict or smp["violations"])])
    succ = phases.get("Succeeded", [])
    seen = [n for n in succ if any(j["active_first"] is not None for j in by_task_uid.get(final[n]["metadata"]["uid"], []))]
    case("the sampler saw the runs (max %d at once, %d of %d Succeeded tasks' Jobs seen active)" %
         (m[0], len(seen), len(succ)), m[0] < 2 or (succ and len(seen) < len(succ) / 2))

    bad = []
    for name, t in sorted(final.items()):
        st = t.get("status", {})
        ph, rs = st.get("phase"), st.get("reason")
        if ph not in TERMINAL:
            bad.append("%s: %s/%s %r%s" % (name, ph, rs, st.get("message", ""), " (stop sent)" if name in stop_sent else ""))
        elif not st.get("completionTime"):
            bad.append("%s: %s/%s without completionTime" % (name, ph, rs))
        elif (ph == "Stopped" and rs != "Stopped") or (ph == "Succeeded" and rs != "Completed"):
            bad.append("%s: phase %s with reason %s" % (name, ph, rs))
    case("every remaining Task is finished (Succeeded, Failed or Stopped) with a completionTime and a fitting reason",
         bool(bad), bad)
    case("no Task Failed (kwok ends every pod Succeeded)", bool(phases.get("Failed")),
         ["%s: %s %r" % (n, final[n]["status"].get("reason"), final[n]["status"].get("message", ""))
          for n in phases.get("Failed", [])])
    bad = []
    for name, t in sorted(final.items()):
        st = t.get("status", {})
        if st.get("phase") not in TERMINAL:
            continue
        ev = events.get(name, [])
        term = [(tm, r) for tm, r in ev if r not in NON_TERMINAL]
        if len(term) != 1 or term[0][1] != st.get("reason"):
            bad.append("%s: %s/%s, events: %s" % (name, st.get("phase"), st.get("reason"),
                                                 ", ".join("%s %s" % (r, tm) for tm, r in ev) or "none"))
    case("exactly one completion Event per finished Task, matching status.reason", bool(bad), bad)

    bad = []
    for name, t in sorted(final.items()):
        js = by_task_uid.get(t["metadata"]["uid"], [])
        if len(js) > 1:
            bad.append("%s: Jobs %s" % (name, ", ".join("%s (seen t=%.2f-%.2fs)" % (j["name"], j["first"], j["last"]) for j in js)))
    for name in gone:
        js = by_task_uid.get(names[name], [])
        if len(js) > 1:
            bad.append("%s (deleted): Jobs %s" % (name, ", ".join(j["name"] for j in js)))
    case("at most one Job per Task", bool(bad), bad)
    case("Stopped only when a stop was sent", any(n not in stop_sent for n in phases.get("Stopped", [])),
         [n for n in phases.get("Stopped", []) if n not in stop_sent])
    bad = []
    for name, t_ack in sorted(stop_ack.items()):
        st = final.get(name, {}).get("status", {})
        ct = ts(st.get("completionTime"))
        if st.get("phase") in TERMINAL and st.get("phase") != "Stopped" and ct and ct - t0 > t_ack + 2.0:
            bad.append("%s: stop returned 0 at t=%.2fs, then %s/%s at t=%.2fs" % (name, t_ack, st["phase"], st.get("reason"), ct - t0))
    case("a stop acknowledged more than 2 s before the Task completed leaves it Stopped", bool(bad), bad)

    case("a Task is gone only if a delete was sent", any(n not in del_sent for n in gone),
         [n for n in gone if n not in del_sent])
    case("a Task whose delete returned 0 is gone", any(n in final for n in del_ack),
         ["%s: deleted at t=%.2fs, now %s" % (n, del_ack[n], final[n]["status"].get("phase")) for n in del_ack if n in final])
    bad = []
    for name, t_ack in sorted(del_ack.items()):
        for j in by_task_uid.get(names.get(name), []):
            c = ts(j["created"])
            if c is not None and c - t0 >= t_ack:
                bad.append("%s: delete returned at t=%.2fs, Job %s created at t>=%.0fs (active t=%s-%s)" %
                           (name, t_ack, j["name"], c - t0, j["active_first"], j["active_last"]))
    case("no Job is created for a Task after its delete returned", bool(bad), bad)
    case("no Job left for a deleted Task", bool(left["jobs"]),
         ["%s (task %s%s)" % (j["name"], j["task"], ", being deleted" if j["deleting"] else "") for j in left["jobs"]])
    case("no ConfigMap left for a deleted Task", bool(left["configmaps"]),
         ["%s (task %s)" % (j["name"], j["task"]) for j in left["configmaps"]])
    case("no active Job once every Task has finished", bool(left["active"]), left["active"])

    bad = ["%s %s (t=%.2fs): exit %d: %s" % (o["op"], o["task"], o["t1"], o["rc"], o["err"])
           for o in ops if o["rc"] != 0 and "not found" not in o["err"]]
    case("stop/delete fail only with \"not found\" (%d sent)" % len(ops), bool(bad), bad)
    case("every submission accepted", bool(sub_err), sub_err)
    case("the controller never exited by itself (%d SIGKILL restarts)" % restarts, bool(ctl_exits), ctl_exits)

    print("# storm figures:")
    print("#   tasks submitted           %d (%d asked)" % (len(names), n_submit))
    print("#   stop requests             %d sent, %d acknowledged, %d while active" %
          (len(stops), len(stop_ack), sum(1 for o in stops if o["was_running"])))
    print("#   delete requests           %d sent, %d acknowledged, %d while active" %
          (len(dels), len(del_ack), sum(1 for o in dels if o["was_running"])))
    print("#   deleted (gone at the end) %d" % len(gone))
    for op, lst in (("stop", stops), ("delete", dels)):
        if lst:
            d = sorted(o["t2"] - o["t1"] for o in lst)
            print("#   %-25s median %.2f s, max %.2f s" % (op + " latency", d[len(d) // 2], d[-1]))
    for ph in ("Succeeded", "Stopped", "Failed"):
        print("#   %-25s %d" % (ph.lower(), len(phases.get(ph, []))))
    print("#   not finished              %d" % sum(len(v) for k, v in phases.items() if k not in TERMINAL))
    print("#   max active Jobs           %d at t=%ss" % (m[0], m[1]))
    print("#   Jobs seen                 %d; samples %d over %.0f s (largest gap %.0f ms); by count active: %s" %
          (len(smp["jobs"]), smp["samples"], smp["seconds"], smp["max_gap"] * 1000,
           " ".join("%s:%d" % kv for kv in sorted(smp["hist"].items(), key=lambda kv: int(kv[0])))))
    print("#   controller restarts       %d" % restarts)
    act, gone_after = [], []
    for name, t_ack in del_ack.items():
        for j in by_task_uid.get(names.get(name), []):
            if j["active_last"] is not None and j["active_last"] > t_ack:
                act.append((j["active_last"] - t_ack, name))
            gone_after.append((j["last"] - t_ack, name))
    if act:
        print("#   Jobs of deleted Tasks     %d still active after the delete returned, up to %.1f s (%s)" %
              (len(act), max(act)[0], max(act)[1]))
    if gone_after:
        print("#   Jobs of deleted Tasks     listed up to %.1f s after the delete returned (%s)" % max(gone_after))
    nbad = 0
    for desc, bad, ev in results:
        print(("not ok - " if bad else "ok - ") + "storm: " + desc)
        for e in ev[:8]:
            print("#     " + e)
        if len(ev) > 8:
            print("#     ... and %d more" % (len(ev) - 8))
        nbad += bool(bad)
    sys.exit(1 if nbad else 0)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    {"sample": sample, "workers": workers, "names": names, "pending": pending,
     "leftovers": leftovers, "check": check}[mode](*args)
PY
spy() { python3 "$out/storm.py" "$@"; }
: >"$out/names"
: >"$out/ops.jsonl"
: >"$out/submit-errors"
: >"$out/controller-exits"
rel() { python3 -c "import time; print('%.2f' % (time.time() - $t0))"; }
proc_alive() {
	local s
	s=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$s" ] && [ "$s" != Z ]
}
start_controller() {
	POD_NAME=storm-controller "$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 &
	cpid=$!
	cpids+=("$cpid")
}

t0=$(date +%s.%N)
echo "$t0" >"$out/t0"
spy sample "$KUBECONFIG" "$NS" "$out" "$t0" "$(python3 -c "print($t0 + $STORM + $DRAIN + 120)")" &
sampler=$!
bg_pids+=("$sampler")
# Nothing starts before the sampler sees the namespace.
for i in $(seq 1 150); do [ -e "$out/sampler.ready" ] || sleep 0.2; done
[ -e "$out/sampler.ready" ] || { echo "k8s storm: the sampler cannot list Jobs" >&2; exit 1; }
start_controller

submit_all() {
	local half=$(((N + 1) / 2)) i name
	: >"$out/batch-1.yaml"
	for ((i = 1; i <= half; i++)); do
		printf -- '---\napiVersion: paddock.dev/v1alpha1\nkind: Task\nmetadata: {name: storm-%03d, namespace: %s}\nspec: {agentRef: {name: storm}, prompt: "task %d"}\n' \
			"$i" "$NS" "$i" >>"$out/batch-1.yaml"
	done
	pdt apply -f "$out/batch-1.yaml" >>"$out/submit.log" 2>&1 ||
		echo "apply of the first batch failed: $(tail -n 2 "$out/submit.log" | tr '\n' ' ')" >>"$out/submit-errors"
	pdt get tasks -n "$NS" -o json 2>>"$out/submit.log" | spy names "$out/names" storm- ||
		echo "get tasks failed after the first batch" >>"$out/submit-errors"
	sleep 3
	for ((i = half + 1; i <= N; i++)); do
		name=$(printf 'storm-%03d' "$i")
		pdt run -n "$NS" --agent storm --detach --name "$name" -p "task $i" >>"$out/submit.log" 2>&1 ||
			echo "run --detach $name failed: $(tail -n 2 "$out/submit.log" | tr '\n' ' ')" >>"$out/submit-errors"
	done
	pdt get tasks -n "$NS" -o json 2>>"$out/submit.log" | spy names "$out/names" storm- ||
		echo "get tasks failed after the second batch" >>"$out/submit-errors"
}
submit_all &
submitter=$!
bg_pids+=("$submitter")
spy workers "$PADDOCK_BIN" "$NS" "$out" "$t0" "$STORM" "$WORKERS" "$MAX_OPS" &
workers=$!
bg_pids+=("$workers")

# ---------------------------------------------------------------- storm
restarts=0
for at in $((STORM / 3)) $((2 * STORM / 3)); do
	while python3 -c "import sys, time; sys.exit(0 if time.time() - $t0 < $at else 1)"; do sleep 0.2; done
	rc=0
	kill -9 "$cpid" 2>/dev/null
	wait "$cpid" 2>/dev/null || rc=$?
	[ "$rc" = 137 ] || echo "controller $cpid had exited with status $rc before the SIGKILL at t=$(rel)s" >>"$out/controller-exits"
	restarts=$((restarts + 1))
	start_controller
done
wait "$workers"
wait "$submitter"
echo "# storm over at t=$(rel)s, $restarts controller restarts"

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
	left=$(pdt get tasks -n "$NS" -o json 2>/dev/null | spy pending) || left=?
	[ "$left" != 0 ] || break
	sleep 1
done
echo "# drained at t=$(rel)s, $left task(s) not finished"
# The garbage collector takes the Jobs and ConfigMaps of deleted Tasks.
for i in $(seq 1 60); do
	spy leftovers "$KUBECONFIG" "$NS" "$out" >"$out/leftovers.json" 2>>"$out/submit.log" &&
		python3 -c 'import json, sys; l = json.load(open(sys.argv[1])); sys.exit(1 if l["jobs"] or l["configmaps"] or l["active"] else 0)' "$out/leftovers.json" &&
		break
	sleep 0.5
done
[ -s "$out/leftovers.json" ] || echo '{"jobs": [], "configmaps": [], "active": []}' >"$out/leftovers.json"
touch "$out/sampler.stop"
wait "$sampler"
pdt get tasks -n "$NS" -o json >"$out/final.json" || echo '{"items": []}' >"$out/final.json"
for name in $(awk '{print $1}' "$out/names"); do
	echo "=== $name"
	pdt describe task -n "$NS" "$name" 2>/dev/null
done >"$out/describe.txt"
kill -TERM "$cpid" 2>/dev/null
for i in $(seq 1 100); do proc_alive "$cpid" || break; sleep 0.1; done
proc_alive "$cpid" && echo "controller $cpid still running 10 s after SIGTERM" >>"$out/controller-exits"
kill -9 "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null

spy check "$out" "$N" "$restarts" "$DRAIN" >"$out/check.out"
cat "$out/check.out"
passed=$((passed + $(grep -c '^ok' "$out/check.out")))
failed=$((failed + $(grep -c '^not ok' "$out/check.out")))
if [ $failed -gt 0 ]; then
	echo "# controller log (warnings and errors, last 20):"
	grep -v 'level=info' "$work/controller.log" | tail -n 20 | sed 's/^/#   /'
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
