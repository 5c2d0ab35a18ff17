#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/web/kube.sh - `paddock dashboard --kubeconfig` (cli/dashkube.c) in
# a real headless Chromium against a real kube-apiserver (tests/k8s/env.sh:
# etcd, kube-apiserver, kwok), as two users: the cluster's admin, and a
# service account that RBAC lets read Tasks but not change them.
#
#   TOP_BUILDDIR=_build tests/web/kube.sh [KUBECONFIG]
#
# With KUBECONFIG (a running tests/k8s/env.sh cluster) it works in a fresh
# namespace of it, deleted at the end; else it starts its own cluster and
# stops it.  The test plays the controller: it writes the Task's status
# with kubectl (the page must follow it live), so no controller runs.
# Skips (77) without chromium or node.  Screenshots go to
# $TOP_BUILDDIR/tests/web/screenshots/kube-*.png.
set -euo pipefail
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${TOP_BUILDDIR:=$TOP_SRCDIR/_build}"
PADDOCK_BIN=${PADDOCK_BIN:-$TOP_BUILDDIR/core/paddock}
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
[ -n "$CHROMIUM" ] || { echo "SKIP: no chromium (apt-get install chromium)"; exit 77; }
command -v node >/dev/null || { echo "SKIP: no node"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }
modules=$("$TOP_SRCDIR/tests/web/install.sh") || fail "cannot install puppeteer-core"
K8S_BIN=$("$TOP_SRCDIR/tests/k8s/build.sh" | tail -n1) || fail "building the test cluster's components failed"
export PATH=$K8S_BIN:$PATH

work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-webkube.XXXXXX")
own_cluster=
ns=web-$$-$RANDOM
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	if [ -n "$own_cluster" ]; then
		"$TOP_SRCDIR/tests/k8s/env.sh" stop "$work/cluster" >/dev/null 2>&1 || true
	else
		kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
	fi
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
if [ -n "${1:-}" ]; then
	export KUBECONFIG=$1
else
	own_cluster=1
	"$TOP_SRCDIR/tests/k8s/env.sh" start "$work/cluster" >"$work/env.log" 2>&1 ||
		{ cat "$work/env.log" >&2; fail "the control plane did not start"; }
	export KUBECONFIG=$work/cluster/kubeconfig
fi
kc() { kubectl --request-timeout=20s "$@"; }
kc apply -f "$TOP_SRCDIR/etc/kubernetes/crds.yaml" >/dev/null
kc wait --for condition=established --timeout=60s crd/tasks.paddock.dev crd/agents.paddock.dev >/dev/null
kc create namespace "$ns" >/dev/null

# A user RBAC lets read Tasks, Agents and Events of the namespace, and
# nothing else: a service account's token in a kubeconfig of its own.
kc -n "$ns" create serviceaccount viewer >/dev/null
kc -n "$ns" create role task-reader --verb=get,list,watch \
	--resource=tasks.paddock.dev,agents.paddock.dev,events >/dev/null
kc -n "$ns" create rolebinding viewer-reads --role=task-reader --serviceaccount="$ns:viewer" >/dev/null
vtoken=$(kc -n "$ns" create token viewer --duration=1h)
sed -e '/client-certificate-data:/d' -e "s|client-key-data:.*|token: $vtoken|" "$KUBECONFIG" >"$work/viewer.kubeconfig"
chmod 0600 "$work/viewer.kubeconfig"
kc --kubeconfig "$work/viewer.kubeconfig" -n "$ns" get tasks >/dev/null 2>&1 ||
	fail "the viewer cannot list tasks"
can=$(kc --kubeconfig "$work/viewer.kubeconfig" -n "$ns" auth can-i patch tasks.paddock.dev || true)
[ "$can" = no ] || fail "the viewer may patch tasks ($can): the 403 check would prove nothing"

# The dashboards: no paddock.yaml (no dashboard.token: a token of the
# process), a free port each.
export PADDOCK_CONFIG=$work/paddock.yaml
: >"$PADDOCK_CONFIG"
dash_pids=()
start_dash() { # NAME KUBECONFIG [NS]: sets $url to the URL it printed
	# (not in a $(...) subshell: its pid must reach dash_pids)
	"$PADDOCK_BIN" dashboard --kubeconfig "$2" -n "${3:-$ns}" --listen 127.0.0.1:0 >"$work/$1.out" 2>"$work/$1.err" &
	pids+=($!)
	dash_pids+=($!)
	for _ in $(seq 100); do
		url=$(grep -o 'http://[^ ]*' "$work/$1.out" || true)
		[ -n "$url" ] && return 0
		sleep 0.1
	done
	fail "paddock dashboard ($1) printed no URL: $(cat "$work/$1.out" "$work/$1.err")"
}
start_dash admin "$KUBECONFIG"
admin_url=$url
start_dash viewer "$work/viewer.kubeconfig"
viewer_url=$url
[[ $admin_url =~ ^http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]{32}$ ]] || fail "the URL: $admin_url"
[ "${admin_url#*token=}" != "${viewer_url#*token=}" ] || fail "two processes drew the same token"
pass "paddock dashboard prints its URL with a token of its own: ${admin_url%%token=*}token=…"

# Where the user may not even list Tasks, the page says so (the API
# server's 403), instead of an empty table.
start_dash elsewhere "$work/viewer.kubeconfig" default
elsewhere_url=$url
for _ in $(seq 50); do
	code=$(curl -s -o "$work/else.json" -w '%{http_code}' "${elsewhere_url%%/\?*}/api/tasks")
	[ "$code" = 403 ] && break
	sleep 0.2
done
[ "$code" = 403 ] && grep -q 'cannot list resource \\"tasks\\"' "$work/else.json" ||
	fail "a dashboard whose user may not list tasks: HTTP $code $(cat "$work/else.json")"
pass "a user who may not list tasks gets the API server's 403: $(cut -c1-160 "$work/else.json")"

# Beyond loopback without dashboard.token: refused, as the controller.
set +e
out=$("$PADDOCK_BIN" dashboard --kubeconfig "$KUBECONFIG" --listen 0.0.0.0:0 2>&1)
rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'dashboard.token' <<<"$out" || fail "--listen 0.0.0.0 without a token: exit $rc: $out"
pass "--listen 0.0.0.0:0 without dashboard.token is refused: $out"

# What kwok serves as every container's log (pods/log through the API
# server): markup, and a line per second would be the agent's.
envdir=$(dirname "$KUBECONFIG")
if [ -f "$envdir/ports.env" ]; then
	printf '%s\n' "kube line 1 <script>window.__pwned=3</script>" "kube line 2 <img src=x onerror=window.__pwned=4>" \
		"kube line 3 done" | "$TOP_SRCDIR/tests/k8s/env.sh" log "$envdir" >/dev/null
	LOGS=1
else
	LOGS=0 # a cluster not made by tests/k8s/env.sh: its logs are not ours to set
fi

shots=$TOP_BUILDDIR/tests/web/screenshots
mkdir -p "$shots"
set +e
LOGS=$LOGS NODE_PATH=$modules ADMIN_URL=$admin_url VIEWER_URL=$viewer_url NS=$ns SHOTS=$shots \
	KUBECTL=$K8S_BIN/kubectl CHROMIUM=$CHROMIUM node "$TOP_SRCDIR/tests/web/kube.mjs"
rc=$?
set -e
# They stop cleanly on SIGTERM with pages and streams open.
[ ${#dash_pids[@]} -eq 3 ] || fail "${#dash_pids[@]} dashboards recorded, 3 started"
for p in "${dash_pids[@]}"; do
	kill -TERM "$p"
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$p" 2>/dev/null && fail "paddock dashboard did not stop on SIGTERM"
done
for n in admin viewer elsewhere; do
	grep -q "$vtoken" "$work/$n.err" && fail "the viewer's token is in the $n dashboard's log"
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$work/$n.err"; then
		grep -E -A30 'AddressSanitizer|LeakSanitizer|runtime error:' "$work/$n.err" | head -60 >&2
		fail "the sanitizers found an error in the $n dashboard"
	fi
done
[ $rc -eq 0 ] || { tail -n 20 "$work/admin.err" "$work/viewer.err" >&2; fail "browser tests failed"; }
pass "paddock dashboard in chromium against kube-apiserver"

# The controller's dashboard (backend: kubernetes, as in the cluster): on
# dashboard.listen, a listener of its own, read-only without
# dashboard.token, with every namespace's Tasks from its watch.
kc create namespace paddock-system >/dev/null 2>&1 || true
export PADDOCK_PLUGIN_PATH=$TOP_BUILDDIR/drivers/.libs:$TOP_BUILDDIR/contexts/.libs
export PADDOCK_DATA_DIR=$TOP_SRCDIR
ctl_cfg() { # CONTROLLER_LISTEN [DASHBOARD_LISTEN]
	cat <<EOT
backend: kubernetes
log: {level: info}
controller: {listen: "$1"}
$([ -n "${2:-}" ] && echo "dashboard: {listen: \"$2\"}")
kubernetes: {kubeconfig: "$KUBECONFIG", leaseNamespace: paddock-system}
drivers: {exec: {enabled: true}}
contexts: {text: {enabled: true}}
EOT
}
ctl_cfg 0.0.0.0:0 >"$work/ctl-any.yaml"
set +e
out=$(PADDOCK_CONFIG=$work/ctl-any.yaml timeout 20 "$PADDOCK_BIN" controller 2>&1)
rc=$?
set -e
[ $rc -eq 4 ] && grep -q 'controller.listen: 0.0.0.0:0 reaches beyond' <<<"$out" ||
	fail "the Kubernetes controller on 0.0.0.0 without dashboard.token: exit $rc: $out"
pass "the Kubernetes controller on 0.0.0.0 without dashboard.token (nor dashboard.listen) refuses to start"
ctl_cfg 127.0.0.1:0 127.0.0.1:0 >"$work/ctl.yaml"
# A test build drops the dashboard's idle watch after 2 s instead of a
# minute (PADDOCK_TEST_DASH_IDLE_MS), for the check below.
hooks=
"$PADDOCK_BIN" version | grep -q "test hooks: compiled in" && hooks=1
PADDOCK_TEST_DASH_IDLE_MS=${hooks:+2000} PADDOCK_CONFIG=$work/ctl.yaml POD_NAME=web-ctl "$PADDOCK_BIN" controller >"$work/ctl.log" 2>&1 &
ctl=$!
pids+=($ctl)
dport= mport=
for _ in $(seq 100); do
	dport=$(sed -n 's/.*dashboard listening.* port=\([0-9]*\).*/\1/p' "$work/ctl.log")
	mport=$(sed -n 's/.*metrics endpoint listening.* port=\([0-9]*\).*/\1/p' "$work/ctl.log")
	[ -n "$dport" ] && [ -n "$mport" ] && break
	sleep 0.1
done
[ -n "$dport" ] && [ -n "$mport" ] || fail "the controller's listeners: $(cat "$work/ctl.log")"
tasks=
for _ in $(seq 50); do
	tasks=$(curl -sf "http://127.0.0.1:$dport/api/tasks") && grep -q "\"name\":\"live-1\"" <<<"$tasks" && break
	sleep 0.2
done
grep -q "\"ns\":\"$ns\",\"name\":\"live-1\"" <<<"$tasks" || fail "the controller's dashboard lists: $tasks"
grep -q '"readOnly":true' <<<"$tasks" || fail "the controller's dashboard is not read-only: $tasks"
curl -sf "http://127.0.0.1:$dport/" | grep -q '<title>' || fail "no page on dashboard.listen"
code=$(curl -s -o "$work/stop.json" -w '%{http_code}' -X POST -H 'X-Paddock-Token: 0123456789abcdef0123' \
	"http://127.0.0.1:$dport/api/task/stop?ns=$ns&name=not-yours")
[ "$code" = 403 ] && grep -q 'read-only' "$work/stop.json" || fail "stop on the read-only dashboard: $code $(cat "$work/stop.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/api/tasks")
[ "$code" = 404 ] || fail "the dashboard is also on controller.listen (HTTP $code): dashboard.listen should be its only listener"
curl -sf "http://127.0.0.1:$mport/healthz" >/dev/null || fail "healthz on controller.listen"
# stream_with_task FILE SECONDS AFTER NAME: the list's stream (from
# version $rv) held open SECONDS into FILE, Task NAME created AFTER
# seconds into it.
stream_with_task() {
	curl -sN --max-time "$2" "http://127.0.0.1:$dport/api/stream?since=$rv" >"$1" &
	local sse=$!
	sleep "$3"
	kc -n "$ns" create -f - >/dev/null <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: $4}
spec: {type: exec, prompt: hi}
EOT
	wait $sse || true
}
# Live: a Task written now comes on the stream of the list.
rv=$(sed -n 's/^{"rv":\([0-9]*\).*/\1/p' <<<"$tasks")
stream_with_task "$work/sse.txt" 6 1 from-ctl
grep -q '"name":"from-ctl"' "$work/sse.txt" || fail "the controller's dashboard stream: $(head -c 600 "$work/sse.txt")"
pass "the Kubernetes controller serves the dashboard on dashboard.listen only, read-only without a token, live from its watch"
# The dashboard's watch of Tasks lives while the dashboard is used: an
# open page keeps it past the idle time (and stays live), a closed one
# lets it drop its cache, and the next look lists again.
if [ -n "$hooks" ]; then
	rv=$(curl -sf "http://127.0.0.1:$dport/api/tasks" | sed -n 's/^{"rv":\([0-9]*\).*/\1/p')
	before=$(grep -c "nobody looks" "$work/ctl.log" || true)
	stream_with_task "$work/sse-kept.txt" 8 5 kept-live # past the 2 s idle time, the page open
	during=$(grep -c "nobody looks" "$work/ctl.log" || true)
	grep -q '"name":"kept-live"' "$work/sse-kept.txt" ||
		fail "an open page past the idle time missed a new Task: $(head -c 600 "$work/sse-kept.txt")"
	[ "$during" = "$before" ] || fail "the watch was dropped while a page was open ($before -> $during)"
	for _ in $(seq 50); do
		[ "$(grep -c "nobody looks" "$work/ctl.log" || true)" -gt "$during" ] && break
		sleep 0.2
	done
	[ "$(grep -c "nobody looks" "$work/ctl.log" || true)" -gt "$during" ] ||
		fail "the watch was not dropped once no page was open: $(tail -5 "$work/ctl.log")"
	tasks=$(curl -sf "http://127.0.0.1:$dport/api/tasks")
	grep -q '"name":"kept-live"' <<<"$tasks" && grep -q '"name":"from-ctl"' <<<"$tasks" ||
		fail "the first look after the drop does not list the Tasks: $(head -c 400 <<<"$tasks")"
	grep -q "looked at; listing the Tasks again" "$work/ctl.log" || fail "no relist logged"
	pass "the dashboard's watch stays while a page is open (live past the idle time), drops its cache once none is, and lists again at the next look"
fi
ls "$shots" | grep '^kube-' || true
kill -TERM "$ctl"
for _ in $(seq 100); do kill -0 "$ctl" 2>/dev/null || break; sleep 0.1; done
kill -0 "$ctl" 2>/dev/null && fail "the controller did not stop on SIGTERM"
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$work/ctl.log"; then
	grep -E -A30 'AddressSanitizer|LeakSanitizer|runtime error:' "$work/ctl.log" | head -60 >&2
	fail "the sanitizers found an error in the controller"
fi
