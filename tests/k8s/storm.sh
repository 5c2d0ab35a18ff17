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
# pdt (the CLI, bounded), spy (storm.py below), proc_alive, rel, storm_drain
. "$HERE/../storm_common.sh"

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
# This backend's part; what both storms share (the CLI storm, the names
# file, the checks alike and the figures) is tests/storm_common.py.
cat >"$out/storm.py" <<'PY'
import base64, http.client, json, os, re, ssl, sys, time
from storm_common import TERMINAL, Storm, atomic_write, cli_storm, clip, completion_events, names, pending, ts


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
    # A third at a task whose Job is active, a third at the next ones in
    # line, the rest at any task.
    cli_storm(pbin, out, t0, seconds, nworkers, max_ops, at_running=0.33, at_next=0.33, pause=(0.3, 1.2), ns=ns)


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

    s = Storm(out)
    names, final, smp, phases, del_t1, del_ack, gone = s.names, s.final, s.smp, s.phases, s.del_t1, s.del_ack, s.gone
    left = json.load(open(os.path.join(out, "leftovers.json")))
    by_task_uid = {}
    for juid, j in smp["jobs"].items():
        by_task_uid.setdefault(j["task_uid"], []).append(j)

    # Diagnostic: the samples over 2 that are still over 2 without the Jobs
    # of Tasks whose delete had been sent before the sample.
    strict = s.over_two(smp["violations"])
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

    bad = sorted(sum(s.unfinished(), []))
    case("every remaining Task is finished (Succeeded, Failed or Stopped) with a completionTime and a fitting reason",
         bool(bad), bad)
    case("no Task Failed (kwok ends every pod Succeeded)", bool(phases.get("Failed")), s.failed())
    bad = []
    for name, t in sorted(final.items()):
        st = t.get("status", {})
        if st.get("phase") not in TERMINAL:
            continue
        ev = s.events.get(name, [])
        term = completion_events(ev)
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
    bad = s.stopped_unasked()
    case("Stopped only when a stop was sent", bool(bad), bad)
    bad = s.lost_stops(2.0)
    case("a stop acknowledged more than 2 s before the Task completed leaves it Stopped", bool(bad), bad)

    bad = s.vanished()
    case("a Task is gone only if a delete was sent", bool(bad), bad)
    bad = s.still_listed()
    case("a Task whose delete returned 0 is gone", bool(bad), bad)
    bad = []
    for name, t_ack in sorted(del_ack.items()):
        for j in by_task_uid.get(names.get(name), []):
            c = ts(j["created"])
            if c is not None and c - s.t0 >= t_ack:
                bad.append("%s: delete returned at t=%.2fs, Job %s created at t>=%.0fs (active t=%s-%s)" %
                           (name, t_ack, j["name"], c - s.t0, j["active_first"], j["active_last"]))
    case("no Job is created for a Task after its delete returned", bool(bad), bad)
    case("no Job left for a deleted Task", bool(left["jobs"]),
         ["%s (task %s%s)" % (j["name"], j["task"], ", being deleted" if j["deleting"] else "") for j in left["jobs"]])
    case("no ConfigMap left for a deleted Task", bool(left["configmaps"]),
         ["%s (task %s)" % (j["name"], j["task"]) for j in left["configmaps"]])
    case("no active Job once every Task has finished", bool(left["active"]), left["active"])

    bad = s.cli_errors()
    case("stop/delete fail only with \"not found\" (%d sent)" % len(s.ops), bool(bad), bad)
    case("every submission accepted", bool(s.sub_err), s.sub_err)
    case("the controller never exited by itself (%d SIGKILL restarts)" % restarts, bool(s.ctl_exits), s.ctl_exits)

    s.figures(n_submit, "# ", "active")
    print("#   max active Jobs           %d at t=%ss" % (m[0], m[1]))
    print("#   Jobs seen                 %d; samples %d over %.0f s (largest gap %.0f ms); by count active: %s" %
          (len(smp["jobs"]), smp["samples"], smp["seconds"], smp["max_gap"] * 1000,
           s.histogram()))
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
        for e in clip(ev):
            print("#     " + e)
        nbad += bool(bad)
    sys.exit(1 if nbad else 0)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    {"sample": sample, "workers": workers, "names": names, "pending": pending,
     "leftovers": leftovers, "check": check}[mode](*args)
PY
: >"$out/names"
: >"$out/ops.jsonl"
: >"$out/submit-errors"
: >"$out/controller-exits"
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
storm_drain -n "$NS"
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
