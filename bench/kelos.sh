#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/kelos.sh [BUILD_DIR] - Paddock's Kubernetes controller against
# Kelos's (the peer task runner on Kubernetes, Go, controller-runtime) under
# the same burst of N Tasks, one controller at a time, each on a fresh
# private control plane (tests/k8s/env.sh: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok fake nodes), so that neither
# controller's caches hold the other's Jobs and pods and both start on an
# empty etcd.  With BENCH_KELOS_ROUNDS above 1 the order alternates.
#
# Needs a Kelos controller binary that you build yourself from Kelos's
# source (its cmd/kelos-controller; Kelos is not part of this repository and
# nothing here builds it):
#   KELOS_BIN    the kelos-controller binary
#   KELOS_CRDS   the directory of Kelos's CRD manifests (the *-crd.yaml
#                templates of its kelos-crds Helm chart; default: crds/ beside
#                KELOS_BIN).  The two Helm constructs they use are rendered
#                here ({{- if .Values.keep }} blocks dropped, {{ "x" }} -> x)
#                and their conversion webhook is set to None: every object
#                here is written and read in the storage version (v1alpha2).
# Without KELOS_BIN it prints a skip line and exits 0.
#
# The same work for both: N Tasks POSTed by BENCH_KELOS_THREADS (4) clients
# into one namespace; each controller makes a Job per Task whose pod kwok
# keeps Running (label kwok.paddock.dev/run-time: 1h) and which requests
# 10m CPU, 16Mi memory and 16Mi ephemeral storage, so that the fake nodes
# (K8S_NODES, default enough for 110 pods each) schedule every pod.
#   Paddock: an exec Agent (as bench/k8s.sh sets it up: its config, its
#            small resource requests), one Task per agentRef.
#   Kelos:   a Task of type claude-code with api-key credentials from a
#            dummy Secret, and podOverrides carrying the same label and
#            requests.  Kelos runs without leader election (its default;
#            Paddock renews a Lease) and with its metrics and health
#            endpoints off; its conversion webhook server, which it always
#            starts, listens on :9443 with a throw-away self-signed
#            certificate (no webhook configuration points at it).
#
# Figures, per controller, from the first POST:
#   - time until every Job exists (the last Job's ADDED event on a watch);
#   - controller CPU (utime + stime of /proc/PID/stat, sampled every 0.1 s)
#     from the first POST until the cluster is quiet, defined as: every
#     Task's Job exists, every Job's pod is Running or has finished, and
#     then in the following 2 s the controller used at most its own idle
#     CPU (its rate over 3 s before the first POST) plus 20 ms (1% of one
#     CPU); the quiet moment is the start of that 2-s window, and the CPU
#     until then is what counts (idle work included, for both alike;
#     bounded: BENCH_KELOS_TIMEOUT, default 900 s);
#   - VmRSS idle (caches synced, before the first POST), after (once
#     quiet) and VmHWM;
#   - kube-apiserver's CPU over the same span, for context;
#   - with perf (BENCH_KELOS_PERF=0 skips it): `perf record -F 499 -p`
#     from 3 s before the first POST to the quiet moment, top 15 symbols.
# Then the ratios Paddock / Kelos for CPU and memory (goal of issue 18:
# CPU at most 0.5x), medians of the rounds.  Nothing is asserted about
# time.  Not run by tests/run-all.sh (CI has no Kelos).
#
# Environment: BENCH_KELOS_TASKS (N, default 1000), BENCH_KELOS_ROUNDS (1),
# BENCH_KELOS_THREADS (4), BENCH_KELOS_TIMEOUT (900), BENCH_KELOS_PERF,
# K8S_NODES, KEEP=1 (keep the work directory: controller logs, cluster
# logs, perf data, each run's CPU timeline RUN.cpu.tsv).  Needs tests/k8s/build.sh's binaries (built once).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PADDOCK_BENCH_DIR=$here/bench # bench/k8sclient.py, for measure.py
# shellcheck source=bench/k8s-paddock.sh
. "$here/bench/k8s-paddock.sh"
if [ -z "${KELOS_BIN:-}" ]; then
	echo "bench/kelos: skipped: KELOS_BIN is not set (a kelos-controller binary built from Kelos's source, with KELOS_CRDS its CRD manifests; see the header of bench/kelos.sh)"
	exit 0
fi
build=$(cd "${1:-$here/_build}" && pwd) || exit 1
bin=$build/core/paddock
N=${BENCH_KELOS_TASKS:-1000}
ROUNDS=${BENCH_KELOS_ROUNDS:-1}
THREADS=${BENCH_KELOS_THREADS:-4}
TIMEOUT=${BENCH_KELOS_TIMEOUT:-900}
KELOS_CRDS=${KELOS_CRDS:-$(dirname "$KELOS_BIN")/crds}
die() { echo "bench/kelos: $*" >&2; exit 1; }
[ -x "$bin" ] || die "$bin not built"
[ -x "$KELOS_BIN" ] || die "KELOS_BIN=$KELOS_BIN is not an executable file"
[ -f "$KELOS_CRDS/task-crd.yaml" ] || die "KELOS_CRDS=$KELOS_CRDS has no task-crd.yaml (set KELOS_CRDS to Kelos's CRD manifests)"
for v in "$N" "$ROUNDS" "$THREADS" "$TIMEOUT"; do
	case $v in '' | *[!0-9]*) die "BENCH_KELOS_TASKS, _ROUNDS, _THREADS and _TIMEOUT must be numbers" ;; esac
done

K8S_BIN=$("$here/tests/k8s/build.sh" | tail -n1) || die "building the control plane failed"
export K8S_BIN
export K8S_NODES=${K8S_NODES:-$(((N + 109) / 110 + 1))}
work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-bench-kelos.XXXXXX")
cluster='' cpid='' ppid='' perf_pid=''
stop_pid() { # stop_pid PID SIGNAL TENTHS: SIGNAL, SIGKILL after TENTHS x 0.1 s
	[ -n "$1" ] || return 0
	kill -"$2" "$1" 2>/dev/null
	for _ in $(seq 1 "$3"); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
stop_controller() { stop_pid "$cpid" TERM 50; cpid=''; }
stop_perf() { stop_pid "$perf_pid" INT 100; perf_pid=''; }
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	[ -z "$ppid" ] || { kill -TERM "$ppid" 2>/dev/null; wait "$ppid" 2>/dev/null; }
	stop_perf
	stop_controller
	[ -z "$cluster" ] || "$here/tests/k8s/env.sh" stop "$cluster" >/dev/null 2>&1
	if [ -n "${KEEP:-}" ]; then echo "bench/kelos: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

kc() { "$K8S_BIN/kubectl" --request-timeout=30s "$@"; }

# Kelos's CRD templates as plain JSON manifests (see the header).
python3 - "$KELOS_CRDS" "$work/kelos-crds.json" <<'PY' || die "rendering Kelos's CRDs from $KELOS_CRDS failed"
import glob, json, os, re, sys, yaml
src, out = sys.argv[1:3]
items = []
for f in sorted(glob.glob(os.path.join(src, "*-crd.yaml"))):
    text = open(f).read()
    text = re.sub(r"(?ms)^[ \t]*\{\{-? if [^}]*\}\}\n.*?^[ \t]*\{\{-? end \}\}\n", "", text)
    lit = r'\{\{ "((?:[^"\\]|\\.)*)" \}\}'
    if "{{" in re.sub(lit, "", text):
        sys.exit("%s: a Helm construct this script does not render" % f)
    text = re.sub(lit, lambda m: m.group(1), text)
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        doc["spec"]["conversion"] = {"strategy": "None"}
        doc["metadata"].pop("annotations", None)
        items.append(doc)
if not any(d["metadata"]["name"] == "tasks.kelos.dev" for d in items):
    sys.exit("no tasks.kelos.dev CRD in " + src)
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(out, "w"))
PY

# The measuring client: idle figures, the burst, the quiet moment.  One
# JSON line of results appended to OUT.
cat >"$work/measure.py" <<'PY'
import http.client, json, os, sys, threading, time

(cluster, KIND, N, TIMEOUT, THREADS, CPID, APID, TASKS, LABEL, BODY, OUT, TRACE) = sys.argv[1:13]
N, TIMEOUT, THREADS = int(N), float(TIMEOUT), max(1, int(THREADS))
NS = "bench"
QUIET_S, QUIET_CPU = 2.0, 0.020
sys.path.insert(0, os.environ["PADDOCK_BENCH_DIR"])
import k8sclient
from k8sclient import conn, cpu_s, init, proc_status, watch
init(cluster)

lock = threading.Condition()
job_seen = {}    # task name -> monotonic time of its Job's ADDED event
job_task = {}    # job name -> task name
pod_done = {}    # job name -> monotonic time its pod was first Running or finished

def on_job(typ, obj, now):
    if typ != "ADDED":
        return
    md = obj.get("metadata", {})
    t = md.get("labels", {}).get(LABEL)
    if t:
        with lock:
            job_seen.setdefault(t, now)
            job_task[md.get("name")] = t
            lock.notify_all()

def on_pod(typ, obj, now):
    j = obj.get("metadata", {}).get("labels", {}).get("batch.kubernetes.io/job-name")
    if j and (obj.get("status") or {}).get("phase") in ("Running", "Succeeded", "Failed"):
        with lock:
            if j not in pod_done:
                pod_done[j] = now
                lock.notify_all()

for path, fn in (("/apis/batch/v1/namespaces/%s/jobs" % NS, on_job),
                 ("/api/v1/namespaces/%s/pods" % NS, on_pod)):
    ev = threading.Event()
    threading.Thread(target=watch, args=(path, fn, ev), daemon=True).start()
    if not ev.wait(30):
        sys.exit("bench/kelos: could not open the watch on " + path)

# The controller's CPU, sampled every 0.1 s from here on.
samples = []     # (monotonic, controller CPU s, kube-apiserver CPU s)
def sampler():
    while True:
        s = (time.monotonic(), cpu_s(CPID), cpu_s(APID))
        with lock:
            samples.append(s)
        time.sleep(0.1)
threading.Thread(target=sampler, daemon=True).start()

# Idle: caches synced, nothing to do (3 s, for the idle CPU rate).
rss_idle = proc_status(CPID, "VmRSS")
c0 = cpu_s(CPID)
time.sleep(3)
idle_rate = (cpu_s(CPID) - c0) / 3

def post(c, name):
    c, t = k8sclient.post(c, TASKS, BODY.replace("@NAME@", name), name)
    return c, t is not None

names = ["t-%05d" % i for i in range(N)]
posted = []
plock = threading.Lock()
def poster(part):
    c = conn()
    for name in part:
        c, ok = post(c, name)
        if ok:
            with plock:
                posted.append(name)
    c.close()
cpu0, api0 = cpu_s(CPID), cpu_s(APID)
t0 = time.monotonic()
deadline = t0 + TIMEOUT
ths = [threading.Thread(target=poster, args=(names[i::THREADS],), daemon=True) for i in range(THREADS)]
for th in ths:
    th.start()
for th in ths:
    th.join(timeout=max(1.0, deadline - time.monotonic()))
t_posted = time.monotonic() - t0
with lock:
    lock.wait_for(lambda: len(job_seen) >= len(posted), timeout=max(0.0, deadline - time.monotonic()))
    jobs = len(job_seen)
    t_jobs = max(job_seen.values(), default=time.monotonic()) - t0
    lock.wait_for(lambda: len(pod_done) >= jobs, timeout=max(0.0, deadline - time.monotonic()))
    pods = len(pod_done)
    t_pods = max(pod_done.values(), default=time.monotonic()) - t0
# Quiet: the first sample at or after every pod ran from which the
# controller used at most its idle rate plus QUIET_CPU in the next QUIET_S.
t_busy_end = t0 + max(t_jobs, t_pods)
quiet = None
while quiet is None and time.monotonic() < deadline:
    time.sleep(0.5)
    with lock:
        s = [x for x in samples if x[0] >= t_busy_end]
    j = 0
    for i, (t, c, a) in enumerate(s):
        j = max(j, i)
        while j < len(s) and s[j][0] < t + QUIET_S:
            j += 1
        if j == len(s):
            break
        if s[j][1] - c <= QUIET_CPU + idle_rate * (s[j][0] - t):
            quiet = (t, c, a)
            break
if quiet is None:
    with lock:
        quiet = samples[-1]
    print("bench/kelos: %s: the controller was not quiet within %.0f s of the first POST" % (KIND, TIMEOUT), flush=True)
def cpu_at(t):
    """The controller's CPU at the last sample at or before monotonic time t."""
    with lock:
        return max([x for x in samples if x[0] <= t], key=lambda x: x[0], default=samples[0])[1]
with lock:
    with open(TRACE, "w") as f:  # the CPU timeline, for KEEP=1
        f.write("# s_since_first_POST\tcontroller_cpu_s\tapiserver_cpu_s\n")
        for t, c, a in samples:
            f.write("%.2f\t%.2f\t%.2f\n" % (t - t0, c - cpu0, a - api0))
res = {"cpu_jobs": cpu_at(t0 + t_jobs) - cpu0, "cpu_pods": cpu_at(t0 + t_pods) - cpu0,
       "kind": KIND, "n": N, "posted": len(posted), "jobs": jobs, "pods": pods,
       "t_posted": t_posted, "t_jobs": t_jobs, "t_pods": t_pods, "t_quiet": quiet[0] - t0,
       "cpu": quiet[1] - cpu0, "api_cpu": quiet[2] - api0, "idle_rate": idle_rate,
       "rss_idle": rss_idle, "rss_after": proc_status(CPID, "VmRSS"), "hwm": proc_status(CPID, "VmHWM")}
print("%s: %d Tasks POSTed in %.1f s; every Job in %.2f s, every pod Running in %.2f s, quiet at %.1f s; "
      "controller CPU %.2f s (%.2f ms/task; %.2f s until every Job, %.2f s until every pod; idle %.1f ms/s), kube-apiserver CPU %.1f s; "
      "VmRSS idle %.1f MiB, after %.1f MiB (VmHWM %.1f MiB)"
      % (KIND, len(posted), t_posted, t_jobs, t_pods, res["t_quiet"], res["cpu"], res["cpu"] * 1000 / max(1, N),
         res["cpu_jobs"], res["cpu_pods"], idle_rate * 1000, res["api_cpu"], rss_idle / 1024, res["rss_after"] / 1024, res["hwm"] / 1024), flush=True)
json.dump(res, open(OUT, "a"))
open(OUT, "a").write("\n")
ok = len(posted) == N and jobs >= N and pods >= jobs
if not ok:
    print("bench/kelos: %s: INCOMPLETE: %d of %d POSTed, %d Jobs, %d pods Running or done within %.0f s"
          % (KIND, len(posted), N, jobs, pods, TIMEOUT), flush=True)
sys.exit(0 if ok else 1)
PY

# start_cluster NAME: a fresh control plane in $work/NAME, namespace bench.
start_cluster() {
	cluster=$work/$1
	"$here/tests/k8s/env.sh" start "$cluster" >/dev/null 2>"$work/$1-env.log" ||
		{ cat "$work/$1-env.log" >&2; die "the control plane did not start"; }
	export KUBECONFIG=$cluster/kubeconfig
	kc create namespace bench >/dev/null || die "creating namespace bench failed"
}
stop_cluster() {
	"$here/tests/k8s/env.sh" stop "$cluster" >/dev/null 2>&1
	cluster=''
}

start_paddock() {
	kc apply -f "$here/etc/kubernetes/crds.yaml" >/dev/null &&
		kc wait --for condition=established --timeout=60s crd/tasks.paddock.dev crd/agents.paddock.dev >/dev/null ||
		die "Paddock's CRDs not established"
	kc create namespace paddock-system >/dev/null || die "creating namespace paddock-system failed"
	paddock_bench_setup "$work" "$build" "$here" $((N + 100)) info || die "setting Paddock up failed"
	log=$work/$run.log
	POD_NAME=bench "$bin" controller >"$log" 2>&1 &
	cpid=$!
	# Ready: holds the Lease and /readyz?leader says a pass ran with synced caches.
	paddock_bench_ready "$cpid" "$log" >/dev/null || die "Paddock's controller was not ready"
}
PADDOCK_BODY='{"apiVersion": "paddock.dev/v1alpha1", "kind": "Task", "metadata": {"name": "@NAME@", "namespace": "bench"}, "spec": {"agentRef": {"name": "bench"}, "prompt": "p"}}'

start_kelos() {
	kc create -f "$work/kelos-crds.json" >/dev/null &&
		kc wait --for condition=established --timeout=60s -f "$work/kelos-crds.json" >/dev/null ||
		die "Kelos's CRDs not established"
	kc -n bench create secret generic bench-cred --from-literal=ANTHROPIC_API_KEY=dummy >/dev/null ||
		die "creating the dummy credential Secret failed"
	# Its webhook server will not start without a certificate.
	local tmp=$work/kelos-tmp
	mkdir -p "$tmp/k8s-webhook-server/serving-certs"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
		-keyout "$tmp/k8s-webhook-server/serving-certs/tls.key" \
		-out "$tmp/k8s-webhook-server/serving-certs/tls.crt" >/dev/null 2>&1 || die "openssl failed"
	log=$work/$run.log
	TMPDIR=$tmp "$KELOS_BIN" --kubeconfig "$KUBECONFIG" --metrics-bind-address=0 \
		--health-probe-bind-address=0 >"$log" 2>&1 &
	cpid=$!
	# Ready: its Task controller's workers started (caches synced).
	local end=$((SECONDS + 60))
	while [ $SECONDS -lt $end ]; do
		kill -0 "$cpid" 2>/dev/null || { tail -n 20 "$log" >&2; die "Kelos's controller exited"; }
		if grep -Eq 'Starting workers.*"controller": ?"task"' "$log"; then
			return 0
		fi
		sleep 0.1
	done
	tail -n 20 "$log" >&2
	die "Kelos's controller did not start its Task workers within 60 s"
}
KELOS_BODY='{"apiVersion": "kelos.dev/v1alpha2", "kind": "Task", "metadata": {"name": "@NAME@", "namespace": "bench"}, "spec": {"prompt": "p", "worker": {"type": "claude-code", "credentials": {"type": "api-key", "secretRef": {"name": "bench-cred"}}, "podOverrides": {"labels": {"kwok.paddock.dev/run-time": "1h"}, "resources": {"requests": {"cpu": "10m", "memory": "16Mi", "ephemeral-storage": "16Mi"}}}}}}'

# run_one KIND ROUND: a fresh cluster, the controller, perf, the burst.
rc=0
run_one() {
	local kind=$1 r=$2 tasks label body
	run=$kind-$r
	start_cluster "cluster-$run"
	if [ "$kind" = paddock ]; then
		start_paddock
		tasks=/apis/paddock.dev/v1alpha1/namespaces/bench/tasks label=paddock.dev/task body=$PADDOCK_BODY
	else
		start_kelos
		tasks=/apis/kelos.dev/v1alpha2/namespaces/bench/tasks label=kelos.dev/task body=$KELOS_BODY
	fi
	sleep 1 # settle
	if [ "${BENCH_KELOS_PERF:-1}" != 0 ] && command -v perf >/dev/null 2>&1; then
		perf record -q -F 499 -p "$cpid" -o "$work/$run.perf" >/dev/null 2>"$work/$run.perf.log" &
		perf_pid=$!
	fi
	python3 "$work/measure.py" "$cluster" "$kind" "$N" "$TIMEOUT" "$THREADS" "$cpid" \
		"$(cat "$cluster/pids/kube-apiserver.pid")" "$tasks" "$label" "$body" "$work/results.jsonl" "$work/$run.cpu.tsv" &
	ppid=$!
	wait "$ppid" || rc=1
	ppid=''
	stop_perf
	kill -0 "$cpid" 2>/dev/null || { echo "bench/kelos: $kind's controller died during the run:" >&2; tail -n 20 "$work/$run.log" >&2; rc=1; }
	stop_controller
	stop_cluster
	if [ -s "$work/$run.perf" ]; then
		echo "  $kind's CPU by symbol (perf, 3 s idle then the burst to the quiet moment; self time, top 15):"
		perf report -q -i "$work/$run.perf" --no-children -F overhead,dso,sym --stdio 2>/dev/null |
			grep -v '^$' | head -n 15 | sed 's/^/    /'
	fi
}

echo "bench/kelos: $N Tasks per controller, $ROUNDS round(s), $K8S_NODES fake nodes, Kelos $KELOS_BIN"
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order="paddock kelos"; else order="kelos paddock"; fi
	for kind in $order; do run_one "$kind" "$r"; done
done

python3 - "$work/results.jsonl" <<'PY' || rc=1
import json, statistics, sys
res = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {k: [r for r in res if r["kind"] == k] for k in ("paddock", "kelos")}
if not by["paddock"] or not by["kelos"]:
    sys.exit("bench/kelos: no result for one of the controllers")
med = lambda k, f: statistics.median([r[f] for r in by[k]])
print("medians of %d round(s), first POST to the quiet moment:" % len(by["paddock"]))
for k in ("paddock", "kelos"):
    print("  %-7s every Job %.2f s, quiet at %.1f s, controller CPU %.2f s (%.2f s until every Job), VmRSS idle %.1f MiB, after %.1f MiB, VmHWM %.1f MiB"
          % (k, med(k, "t_jobs"), med(k, "t_quiet"), med(k, "cpu"), med(k, "cpu_jobs"), med(k, "rss_idle") / 1024,
             med(k, "rss_after") / 1024, med(k, "hwm") / 1024))
q = lambda f: med("paddock", f) / med("kelos", f) if med("kelos", f) else float("nan")
print("Paddock / Kelos: controller CPU %.2fx (goal <= 0.5x; %.2fx until every Job), time to every Job %.2fx, VmRSS idle %.2fx, after %.2fx, VmHWM %.2fx"
      % (q("cpu"), q("cpu_jobs"), q("t_jobs"), q("rss_idle"), q("rss_after"), q("hwm")))
PY
exit $rc
