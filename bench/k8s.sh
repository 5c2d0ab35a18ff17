#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/k8s.sh [BUILD_DIR] - the Kubernetes controller under a burst of
# Tasks, against a private control plane (tests/k8s/env.sh: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kwok), as ratios
# against a baseline measured in this same run:
#
#   - Task-to-Job latency: from the moment the API server answered 201 to
#     a Task's POST to the moment the Job's ADDED event reached a watch on
#     Jobs (both local monotonic times of this client).  Baseline: 20
#     Tasks one at a time, each waiting for its Job.  Burst: N Tasks
#     POSTed as fast as a few client threads can.
#   - the controller's memory: VmRSS with its caches synced and no Tasks,
#     VmRSS and VmHWM after the first burst, then VmHWM and VmRSS after
#     the bursts.
#   - the API server's floor for the same writes: the ConfigMap and the
#     Job the controller made for a baseline Task, created N times by
#     BENCH_K8S_FLOOR_CLIENTS (16) raw clients in parallel (in namespace
#     floor, unlabelled, suspended: no pods), and the burst's time until
#     every Job exists as a ratio to it (goal: at most 1.5x).
#   - from a Task's pod Running (its watch event) to the Task's Running:
#     median and p99 (goal: within 1 s).
#   - the controller's CPU by symbol (perf record, when perf is there).
# The floor and the burst run BENCH_K8S_ROUNDS (3) times, interleaved;
# the figures are medians of the rounds.  Above 1,000 Tasks (10,000: not
# for CI, 30 minutes or more on 2 CPUs) one round runs, after a reference
# burst of BENCH_K8S_REF (1,000) Tasks: per-task CPU and memory compared.
#
# Environment: BENCH_K8S_TASKS (N, default 1000), BENCH_K8S_TIMEOUT
# (seconds to wait for the burst's Jobs, default 900), BENCH_K8S_THREADS
# (POSTing threads, default 4), BENCH_K8S_LOG_LEVEL (the controller's
# log.level, default info), K8S_NODES (fake nodes; default enough for
# every pod to be scheduled), BENCH_K8S_PERF (0: no perf; graph: DWARF
# call graphs), KEEP=1 (keep the work directory: controller log, cluster
# logs, perf.data).  Needs tests/k8s/build.sh's binaries (built once).
# Nothing is asserted about time: it prints figures and ratios.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PADDOCK_BENCH_DIR=$here/bench # bench/k8sclient.py, for the Python below
# shellcheck source=bench/k8s-paddock.sh
. "$here/bench/k8s-paddock.sh"
build=$(cd "${1:-$here/_build}" && pwd) || exit 1
bin=$build/core/paddock
N=${BENCH_K8S_TASKS:-1000}
# Above 1,000 Tasks: one round (bounded time), after a reference burst of
# BENCH_K8S_REF (1,000) Tasks whose per-task CPU and memory it is compared
# with; BENCH_K8S_REF=0 leaves the reference out.
case ${BENCH_K8S_TASKS:-} in '' | *[!0-9]*) big=0 ;; *) big=$((N > 1000)) ;; esac
if [ "$big" = 1 ]; then REF=${BENCH_K8S_REF:-1000}; ROUNDS=${BENCH_K8S_ROUNDS:-1}; else REF=${BENCH_K8S_REF:-0}; ROUNDS=${BENCH_K8S_ROUNDS:-3}; fi
FLOOR_CLIENTS=${BENCH_K8S_FLOOR_CLIENTS:-16}
BASE=20
TIMEOUT=${BENCH_K8S_TIMEOUT:-900}
THREADS=${BENCH_K8S_THREADS:-4}
[ -x "$bin" ] || { echo "bench/k8s: $bin not built" >&2; exit 1; }
case $N$REF in '' | *[!0-9]*) echo "bench/k8s: BENCH_K8S_TASKS and BENCH_K8S_REF must be numbers" >&2; exit 2 ;; esac

K8S_BIN=$("$here/tests/k8s/build.sh" | tail -n1) || { echo "bench/k8s: building the control plane failed" >&2; exit 1; }
export K8S_BIN
# 110 pods per fake node: enough nodes that every run's pod is scheduled.
export K8S_NODES=${K8S_NODES:-$(((N * ROUNDS + REF + BASE + 109) / 110 + 1))}
work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-bench-k8s.XXXXXX")
cluster=$work/cluster
cpid='' ppid='' perf_pid=''
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	[ -z "$perf_pid" ] || { kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null; }
	[ -z "$ppid" ] || { kill -TERM "$ppid" 2>/dev/null; wait "$ppid" 2>/dev/null; }
	if [ -n "$cpid" ]; then
		kill -TERM "$cpid" 2>/dev/null
		for _ in $(seq 1 30); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$cpid" 2>/dev/null
		wait "$cpid" 2>/dev/null
	fi
	"$here/tests/k8s/env.sh" stop "$cluster" >/dev/null 2>&1
	if [ -n "${KEEP:-}" ]; then echo "bench/k8s: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/tests/k8s/env.sh" start "$cluster" >/dev/null 2>"$work/env.log" ||
	{ cat "$work/env.log" >&2; echo "bench/k8s: the control plane did not start" >&2; exit 1; }
export KUBECONFIG=$cluster/kubeconfig
kc() { "$K8S_BIN/kubectl" --request-timeout=20s "$@"; }
kc apply -f "$here/etc/kubernetes/crds.yaml" >/dev/null &&
	kc wait --for condition=established --timeout=60s crd/tasks.paddock.dev crd/agents.paddock.dev >/dev/null ||
	{ echo "bench/k8s: CRDs not established" >&2; exit 1; }
for ns in paddock-system bench floor; do kc create namespace "$ns" >/dev/null || exit 1; done
paddock_bench_setup "$work" "$build" "$here" $((N * ROUNDS + REF + BASE + 100)) "${BENCH_K8S_LOG_LEVEL:-info}" || exit 1
POD_NAME=bench "$bin" controller >"$work/controller.log" 2>&1 &
cpid=$!

# Ready: holds the Lease, and its metrics endpoint says a pass ran with
# synced caches (/readyz?leader).
port=$(paddock_bench_ready "$cpid" "$work/controller.log") || exit 1
sleep 1 # settle: a few idle passes, Lease renewals

# The controller's CPU by symbol: perf samples it from here to the end
# (BENCH_K8S_PERF=0 to skip; 499 Hz, no call graphs, so it costs little).
if [ "${BENCH_K8S_PERF:-1}" != 0 ] && command -v perf >/dev/null 2>&1; then
	pg=()
	[ "${BENCH_K8S_PERF:-1}" != graph ] || pg=(--call-graph dwarf,16384)
	perf record -q -F 499 "${pg[@]}" -p "$cpid" -o "$work/perf.data" >/dev/null 2>"$work/perf.log" &
	perf_pid=$!
fi

python3 - "$cluster" "$N" "$BASE" "$TIMEOUT" "$THREADS" "$cpid" \
	"$(cat "$cluster/pids/kube-apiserver.pid")" "$port" "$ROUNDS" "$FLOOR_CLIENTS" "$REF" <<'PY' &
import http.client, json, os, statistics, sys, threading, time

cluster, N, BASE, TIMEOUT, THREADS, CPID, APID, MPORT, ROUNDS, FLOOR_CLIENTS, REF = sys.argv[1:12]
REF = int(REF)
N, BASE, TIMEOUT, THREADS = int(N), int(BASE), float(TIMEOUT), max(1, int(THREADS))
ROUNDS, FLOOR_CLIENTS = max(1, int(ROUNDS)), max(1, int(FLOOR_CLIENTS))
sys.path.insert(0, os.environ["PADDOCK_BENCH_DIR"])
import k8sclient
from k8sclient import conn, cpu_s, init, proc_status, watch
init(cluster)
NS = "bench"
TASKS = "/apis/paddock.dev/v1alpha1/namespaces/%s/tasks" % NS

def metrics():
    """The controller's pass-duration histogram: (count, sum seconds)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", int(MPORT), timeout=5)
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
        c.close()
    except (OSError, http.client.HTTPException):
        return 0, 0.0
    cnt = tot = 0
    for l in body.splitlines():
        if l.startswith("paddock_reconcile_duration_seconds_count"):
            cnt = int(float(l.split()[-1]))
        elif l.startswith("paddock_reconcile_duration_seconds_sum"):
            tot = float(l.split()[-1])
    return cnt, tot

API_REQS = (("PUT", "tasks", "status"), ("POST", "events", ""), ("POST", "jobs", ""),
            ("POST", "configmaps", ""))
def api_metrics():
    """kube-apiserver's own time per (verb, resource, subresource): {key: [count, seconds]}."""
    out = {}
    try:
        c = conn()
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
        c.close()
    except (OSError, http.client.HTTPException):
        return out
    for l in body.splitlines():
        if not l.startswith("apiserver_request_duration_seconds_"):
            continue
        name, _, rest = l.partition("{")
        kind = name.rsplit("_", 1)[1]
        if kind not in ("count", "sum"):
            continue
        lab = dict(kv.split("=", 1) for kv in rest.rsplit("}", 1)[0].replace('"', "").split(",") if "=" in kv)
        key = (lab.get("verb"), lab.get("resource"), lab.get("subresource", ""))
        if key in API_REQS:
            out.setdefault(key, [0, 0.0])[0 if kind == "count" else 1] += float(l.rsplit(" ", 1)[1])
    return out

# ---- watches: Jobs (ADDED, by label paddock.dev/task) and Tasks (phase) ---
lock = threading.Condition()
job_seen = {}       # task name -> monotonic time of the Job's ADDED event
phase_seen = {}     # (task name, phase) -> monotonic time first seen
n_running = [0]     # tasks seen Running

def on_job(typ, obj, now):
    if typ != "ADDED":
        return
    t = obj.get("metadata", {}).get("labels", {}).get("paddock.dev/task")
    if t:
        with lock:
            job_seen.setdefault(t, now)
            lock.notify_all()

def on_task(typ, obj, now):
    ph = (obj.get("status") or {}).get("phase")
    if ph:
        with lock:
            key = (obj["metadata"]["name"], ph)
            if key not in phase_seen:
                phase_seen[key] = now
                if ph == "Running":
                    n_running[0] += 1
                    lock.notify_all()

pod_running = {}    # task name -> monotonic time its pod was first seen Running
def on_pod(typ, obj, now):
    t = obj.get("metadata", {}).get("labels", {}).get("paddock.dev/task")
    if t and (obj.get("status") or {}).get("phase") == "Running":
        with lock:
            pod_running.setdefault(t, now)

lease_seen = []     # monotonic times the controller's Lease was written
def on_lease(typ, obj, now):
    if obj.get("metadata", {}).get("name") == "paddock-controller":
        with lock:
            lease_seen.append(now)

for path, fn in (("/apis/batch/v1/namespaces/%s/jobs" % NS, on_job), (TASKS, on_task),
                 ("/api/v1/namespaces/%s/pods" % NS, on_pod),
                 ("/apis/coordination.k8s.io/v1/namespaces/paddock-system/leases", on_lease)):
    ev = threading.Event()
    threading.Thread(target=watch, args=(path, fn, ev), daemon=True).start()
    if not ev.wait(30):
        sys.exit("bench/k8s: could not open the watch on " + path)

def task_body(name):
    return json.dumps({"apiVersion": "paddock.dev/v1alpha1", "kind": "Task",
                       "metadata": {"name": name, "namespace": NS},
                       "spec": {"agentRef": {"name": "bench"}, "prompt": "p"}})

def post(c, name):
    """POST one Task; returns (the connection to reuse, monotonic time of the 201)."""
    return k8sclient.post(c, TASKS, task_body(name), name)

def pct(v, p):
    """Nearest-rank percentile."""
    s = sorted(v)
    return s[max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))]

def ms(x):
    return x * 1000.0

# ---- idle figures -------------------------------------------------------
rss_idle = proc_status(CPID, "VmRSS")
rss_idle_anon = proc_status(CPID, "RssAnon")  # the controller's own memory; the
rss_idle_file = proc_status(CPID, "RssFile")  # rest is shared libraries' pages
api_rss_idle = proc_status(APID, "VmRSS")

# ---- baseline: one at a time --------------------------------------------
posted = {}
c = conn()
for i in range(BASE):
    name = "base-%02d" % i
    c, t = post(c, name)
    if t is None:
        sys.exit("bench/k8s: could not create " + name)
    posted[name] = t
    with lock:
        if not lock.wait_for(lambda: name in job_seen, timeout=60):
            sys.exit("bench/k8s: no Job for %s within 60 s" % name)
    time.sleep(0.2)  # let the controller go idle again
c.close()
base = [job_seen[n] - posted[n] for n in posted]
b_med, b_p99 = statistics.median(base), pct(base, 99)
def split(names, t_posted):
    """Medians and p99s of POST -> Job and Job -> status Running (the pod runs)."""
    j = [job_seen[n] - t_posted[n] for n in names if n in job_seen]
    r = [phase_seen[(n, "Running")] - job_seen[n] for n in names
         if (n, "Running") in phase_seen and n in job_seen]
    if not r:
        return "no Running status seen"
    return ("POST -> Job: median %.0f ms, p99 %.0f ms; Job -> Running (its pod runs): median %.0f ms, p99 %.0f ms"
            % (ms(statistics.median(j)), ms(pct(j, 99)), ms(statistics.median(r)), ms(pct(r, 99))))
print("task->job latency, %d tasks one at a time: median %.0f ms, p99 %.0f ms (baseline, ratio 1.0; min %.0f ms)"
      % (BASE, ms(b_med), ms(b_p99), ms(min(base))), flush=True)
print("  " + split(list(posted), posted))
time.sleep(2)

# ---- the floor: the same objects, written by raw clients in parallel -----
def clean(obj, name):
    md = obj["metadata"]
    o = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
         "metadata": {"name": name, "namespace": "floor", "labels": {"bench": "floor"}}}
    for k in ("spec", "data", "binaryData"):
        if k in obj:
            o[k] = obj[k]
    if o["kind"] == "Job":
        o["spec"]["suspend"] = True  # no pods: the writes only
        tpl = o["spec"].get("template", {})
        tpl.setdefault("metadata", {})["labels"] = {"bench": "floor"}
        o["spec"].pop("selector", None)
    return o

def get_json(path):
    c = conn()
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        sys.exit("bench/k8s: GET %s: HTTP %d" % (path, r.status))
    return json.loads(body)

base_task = get_json(TASKS + "/base-00")
jn = base_task["status"]["jobName"]
job_tpl = get_json("/apis/batch/v1/namespaces/%s/jobs/%s" % (NS, jn))
cm_tpl = get_json("/api/v1/namespaces/%s/configmaps/%s" % (NS, jn))

def floor_round(r):
    """Seconds for FLOOR_CLIENTS clients to create N ConfigMaps and N Jobs (ConfigMap first)."""
    names = ["floor-%d-%04d" % (r, i) for i in range(N)]
    bodies = [(json.dumps(clean(cm_tpl, n)), json.dumps(clean(job_tpl, n))) for n in names]
    fails = [0]
    def client(part):
        c = conn()
        for cm, job in part:
            for path, body in (("/api/v1/namespaces/floor/configmaps", cm),
                               ("/apis/batch/v1/namespaces/floor/jobs", job)):
                for attempt in range(5):
                    try:
                        c.request("POST", path, body, {"Content-Type": "application/json"})
                        resp = c.getresponse()
                        resp.read()
                        if resp.status == 201:
                            break
                        if resp.status != 429 and resp.status < 500:
                            fails[0] += 1
                            print("# floor POST %s: HTTP %d" % (path, resp.status), file=sys.stderr)
                            break
                    except (OSError, http.client.HTTPException):
                        c.close()
                        c = conn()
                    time.sleep(0.05 * (attempt + 1))
        c.close()
    t0 = time.monotonic()
    ths = [threading.Thread(target=client, args=(bodies[i::FLOOR_CLIENTS],), daemon=True)
           for i in range(FLOOR_CLIENTS)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    if fails[0]:
        print("bench/k8s: the floor round %d had %d failed writes" % (r, fails[0]), flush=True)
    return time.monotonic() - t0

# ---- burst: N Tasks as fast as THREADS clients can ------------------------
def burst_round(r, n=N, prefix="burst"):
    names = ["%s%d-%05d" % (prefix, r, i) for i in range(n)]
    rss0 = proc_status(CPID, "VmRSS")
    burst_posted = {}
    plock = threading.Lock()
    cpu0 = {p: cpu_s(p) for p in (CPID, APID)}
    m0 = metrics()
    a0 = api_metrics()
    with lock:
        jobs_before, running_before = len(job_seen), n_running[0]
    def poster(part):
        c = conn()
        for name in part:
            c, t = post(c, name)
            if t is not None:
                with plock:
                    burst_posted[name] = t
        c.close()
    t0 = time.monotonic()
    ths = [threading.Thread(target=poster, args=(names[i::THREADS],), daemon=True) for i in range(THREADS)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(timeout=max(1.0, TIMEOUT - (time.monotonic() - t0)))
    t_posted = time.monotonic()
    deadline = t0 + TIMEOUT
    with lock:
        lock.wait_for(lambda: len(job_seen) >= jobs_before + len(burst_posted), timeout=max(0.0, deadline - time.monotonic()))
        seen = [n for n in burst_posted if n in job_seen]
    t_end = max([job_seen[n] for n in seen], default=time.monotonic())
    # The controller's figures are taken once every task with a Job is Running.
    with lock:
        lock.wait_for(lambda: n_running[0] >= running_before + len(seen), timeout=max(120, n * 0.1))
        t_run = max([phase_seen.get((n, "Running"), 0) for n in seen], default=t_end)
    time.sleep(0.3)
    cpu1 = {p: cpu_s(p) for p in (CPID, APID)}
    rss1 = proc_status(CPID, "VmRSS")
    m1 = metrics()
    a1 = api_metrics()
    lat = [job_seen[n] - burst_posted[n] for n in seen]
    if not lat:
        sys.exit("bench/k8s: no Job seen for any of the %d burst tasks (%d POSTed)" % (n, len(burst_posted)))
    out = {"span": t_end - t0, "med": statistics.median(lat), "p99": pct(lat, 99), "seen": len(seen),
           "posted": len(burst_posted), "post_s": t_posted - t0, "wspan": max(t_run, t_end) - t0,
           "passes": m1[0] - m0[0], "psum": m1[1] - m0[1], "ccpu": cpu1[CPID] - cpu0[CPID],
           "acpu": cpu1[APID] - cpu0[APID], "names": seen, "split": split(seen, burst_posted),
           "t0": t0, "a0": a0, "a1": a1, "rss_kib": rss1 - rss0,
           "lag": t_end - max(burst_posted.values(), default=t_end)}
    print("%s %d: burst of %d: %d jobs in %.2f s (%.0f tasks/s), task->job median %.0f ms, p99 %.0f ms; controller CPU %.1f s"
          % ("reference" if prefix == "ref" else "round", r + 1, n, len(seen), out["span"], len(seen) / out["span"] if out["span"] > 0 else 0,
             ms(out["med"]), ms(out["p99"]), out["ccpu"]), flush=True)
    if len(seen) < n:
        print("bench/k8s: INCOMPLETE: %d of %d tasks POSTed, %d Jobs seen within %.0f s"
              % (len(burst_posted), n, len(seen), TIMEOUT), flush=True)
    return out

# Per task, from the first POST until every Task is Running: the
# controller's CPU and its VmRSS growth (caches; freed heap handed back).
def per_task(b):
    return b["ccpu"] / max(1, b["seen"]), b["rss_kib"] / max(1, b["seen"])

ref = None
if REF:
    ref = burst_round(0, REF, "ref")
    print("reference: %d tasks: controller CPU %.2f ms/task, memory %.1f KiB/task (VmRSS growth)"
          % ((REF,) + (per_task(ref)[0] * 1000, per_task(ref)[1])), flush=True)
    time.sleep(2)

floors, bursts = [], []
for r in range(ROUNDS):
    floors.append(floor_round(r))
    print("round %d: floor: %d ConfigMaps and %d Jobs by %d raw clients in %.2f s (%.0f objects/s)"
          % (r + 1, N, N, FLOOR_CLIENTS, floors[-1], 2 * N / floors[-1]), flush=True)
    time.sleep(1)
    bursts.append(burst_round(r))
    if r == 0:
        # The goal is the memory after one burst (of 1,000): the later
        # rounds' caches add to it.
        print("controller RSS after the first burst of %d tasks: %.1f MiB now (VmRSS), %.1f MiB peak (VmHWM; goal: at most 40 MiB after 1,000), %.1f MiB its own (RssAnon)"
              % (N, proc_status(CPID, "VmRSS") / 1024.0, proc_status(CPID, "VmHWM") / 1024.0,
                 proc_status(CPID, "RssAnon") / 1024.0), flush=True)
    time.sleep(2)

mid = lambda key: statistics.median([b[key] for b in bursts])
floor = statistics.median(floors)
span, med, p99 = mid("span"), mid("med"), mid("p99")
print("medians of %d rounds:" % ROUNDS)
print("  API server floor (%d raw clients, ConfigMap + Job each): %.2f s for %d tasks" % (FLOOR_CLIENTS, floor, N))
print("  paddock burst until every Job existed: %.2f s: %.2fx the floor (goal <= 1.5x)" % (span, span / floor))
print("task->job latency, burst of %d: median %.0f ms (ratio %.1f), p99 %.0f ms (ratio %.1f; goal p99 < 3 s)"
      % (N, ms(med), med / b_med, ms(p99), p99 / b_p99), flush=True)
# The pod watch (every pod's every change, parsed here) may lag: its
# last events are waited for before the pods are compared with the tasks.
time.sleep(5)
with lock:
    lags = [[phase_seen[(n, "Running")] - pod_running[n] for n in b["names"]
             if (n, "Running") in phase_seen and n in pod_running] for b in bursts]
lags = [l for l in lags if l]
if lags:
    print("  pod Running (its watch event here) -> Task Running: median %.0f ms, p99 %.0f ms over %d tasks (goal: within 1 s)"
          % (ms(statistics.median([statistics.median(l) for l in lags])),
             ms(statistics.median([pct(l, 99) for l in lags])), sum(len(l) for l in lags)))
last = bursts[-1]
print("  last round: " + last["split"])
print("  POSTing %d tasks took %.1f s (%.0f tasks/s, %d threads; median of the rounds %.2fx the floor); the last Job existed %.2f s after the last POST (median)"
      % (last["posted"], last["post_s"], last["posted"] / max(1e-9, last["post_s"]), THREADS,
         mid("post_s") / floor, mid("lag")))
print("  first POST to all Running, %.1f s (median): %d reconcile passes, %.1f s in passes; controller CPU %.1f s, kube-apiserver CPU %.1f s"
      % (mid("wspan"), mid("passes"), mid("psum"), mid("ccpu"), mid("acpu")))
t0, wspan, a0, a1 = last["t0"], last["wspan"], last["a0"], last["a1"]
with lock:
    ls = [t for t in lease_seen if t0 <= t <= t0 + wspan] + [t0 + wspan]
    prev = max([t for t in lease_seen if t < t0], default=t0)
gaps = [b - a for a, b in zip([prev] + ls, ls)]
print("  Lease renewals: at most %.1f s apart from the first POST to all Running (leaseDurationSeconds 15)"
      % max(gaps))
parts, tot = [], 0.0
for key in API_REQS:
    c1, s1 = a1.get(key, [0, 0.0])
    c0, s0 = a0.get(key, [0, 0.0])
    if c1 > c0:
        parts.append("%s %s%s %d x %.1f ms" % (key[0], key[1], "/" + key[2] if key[2] else "", c1 - c0,
                                               ms((s1 - s0) / (c1 - c0))))
        tot += s1 - s0
if parts:
    print("  kube-apiserver's own time on the controller's kinds of write, last round (events: every component's): "
          + ", ".join(parts) + "; %.1f s in all" % tot)
time.sleep(1)
hwm = proc_status(CPID, "VmHWM")
rss_after = proc_status(CPID, "VmRSS")
api_rss_after = proc_status(APID, "VmRSS")
seen_all = sum(b["seen"] for b in bursts)
kib = lambda kb: kb / 1024.0
total = N * ROUNDS + REF + BASE
print("controller RSS: idle %.1f MiB, after %d tasks %.1f MiB peak (VmHWM; ratio %.2f, %.1f KiB/task), %.1f MiB now"
      % (kib(rss_idle), total, kib(hwm), hwm / rss_idle if rss_idle else 0,
         (hwm - rss_idle) / total, kib(rss_after)))
if ref:
    rc, rm = per_task(ref)
    bc = statistics.median([per_task(b)[0] for b in bursts])
    bm = statistics.median([per_task(b)[1] for b in bursts])
    print("per task, %d against the %d-task reference: controller CPU %.2f against %.2f ms (ratio %.2f), memory %.1f against %.1f KiB (ratio %.2f; goal: both within 1.2x)"
          % (N, REF, bc * 1000, rc * 1000, bc / rc if rc else 0, bm, rm, bm / rm if rm else 0))
print("  idle: %.1f MiB its own (RssAnon), %.1f MiB mapped libraries and binary (RssFile, shared)"
      % (kib(rss_idle_anon), kib(rss_idle_file)))
print("kube-apiserver RSS (for context): idle %.0f MiB, after the burst %.0f MiB (ratio %.2f)"
      % (kib(api_rss_idle), kib(api_rss_after), api_rss_after / api_rss_idle if api_rss_idle else 0))
sys.exit(0 if seen_all == N * ROUNDS and (not ref or ref["seen"] == REF) else 1)
PY
ppid=$!
wait "$ppid"
rc=$?
ppid=
if [ -n "$perf_pid" ]; then
	kill -INT "$perf_pid" 2>/dev/null
	wait "$perf_pid" 2>/dev/null
	perf_pid=''
	echo "controller CPU by symbol (perf, whole run from the baseline on; self time, top 25):"
	perf report -q -i "$work/perf.data" --no-children -F overhead,dso,sym --stdio 2>/dev/null |
		grep -v '^$' | head -n 25 | sed 's/^/  /'
fi
kill -0 "$cpid" 2>/dev/null || { echo "bench/k8s: the controller died during the run:" >&2; tail -n 20 "$work/controller.log" >&2; rc=1; }
n_err=$(grep -c 'level=error' "$work/controller.log")
[ "$n_err" -eq 0 ] || { echo "bench/k8s: $n_err errors in the controller log, e.g.:" >&2; grep -m3 'level=error' "$work/controller.log" >&2; }
exit $rc
