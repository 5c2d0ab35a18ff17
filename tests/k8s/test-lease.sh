#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/k8s/test-lease.sh [KUBECONFIG] - leader election (core/kube/lease.c)
# against a real kube-apiserver, through tests/k8s/lease-probe (one
# replica of the election and nothing else; `make check` builds it).
#
#   TOP_BUILDDIR=_build tests/k8s/test-lease.sh            # own control plane
#   TOP_BUILDDIR=_build tests/k8s/test-lease.sh KUBECONFIG # a running one
#                                                         # (tests/k8s/env.sh start DIR)
#
# Without KUBECONFIG it starts tests/k8s/env.sh in a temporary directory
# and stops it at the end.  Everything happens in a fresh namespace,
# deleted at the end.  The "other replica" whose clock is skewed is played
# by kubectl writing the Lease with renewTime an hour behind or ahead.
# About 3 minutes.  Prints "ok"/"not ok" per check and ends with
# "N passed, N failed"; exits non-zero on a failure.  KEEP=1 keeps the
# work directory (probe outputs and logs).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$HERE/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR/_build}
PROBE=${LEASE_PROBE:-$TOP_BUILDDIR/tests/k8s/lease-probe}
[ -x "$PROBE" ] || { echo "test-lease: $PROBE not built (make -C $TOP_BUILDDIR/tests k8s/lease-probe)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/paddock-lease.XXXXXX")
own_cluster=
if [ -n "${1:-${KUBECONFIG:-}}" ]; then
	KUBECONFIG=${1:-$KUBECONFIG}
	[ -r "$KUBECONFIG" ] || { echo "test-lease: $KUBECONFIG not readable" >&2; exit 2; }
	KUBECONFIG=$(cd "$(dirname "$KUBECONFIG")" && pwd)/$(basename "$KUBECONFIG")
	ENVDIR=$(dirname "$KUBECONFIG")
else
	K8S_BIN=$("$HERE/build.sh" | tail -n1) || { echo "test-lease: building the test components failed" >&2; exit 1; }
	export K8S_BIN
	ENVDIR=$work/cluster
	own_cluster=1
	"$HERE/env.sh" start "$ENVDIR" >/dev/null || { echo "test-lease: the control plane did not start" >&2; exit 1; }
	KUBECONFIG=$ENVDIR/kubeconfig
fi
export KUBECONFIG
if [ -z "${KUBECTL:-}" ]; then
	kb=$(sed -n 's/^K8S_BIN=//p' "$ENVDIR/ports.env" 2>/dev/null)
	KUBECTL=${kb:+$kb/}kubectl
fi
NS=lease-test-$$
kc() { "$KUBECTL" --request-timeout=20s "$@"; }

passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
nok() { echo "not ok - $*"; failed=$((failed + 1)); }
check() { # check DESCRIPTION CMD...
	local d=$1; shift
	if "$@"; then ok "$d"; else nok "$d"; fi
}

pids=()
declare -A pid_of
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	kc delete namespace "$NS" --wait=false >/dev/null 2>&1
	[ -n "$own_cluster" ] && "$HERE/env.sh" stop "$ENVDIR" >/dev/null 2>&1
	if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "test-lease: kept $work" >&2; fi
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
micro() { date -u -d "$1" +%Y-%m-%dT%H:%M:%S.%6NZ; } # micro "-1 hour"
wait_for() { # SECONDS CMD...: until CMD succeeds
	local end=$((SECONDS + $1)); shift
	while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.1; done
	return 1
}

# probe NAME LEASE: a replica NAME of the election on Lease LEASE.
probe() {
	"$PROBE" "$KUBECONFIG" "$NS" "$2" "$1" >"$work/$1.out" 2>"$work/$1.err" &
	pids+=($!)
	pid_of[$1]=$!
}
state() { tail -n1 "$work/$1.out" 2>/dev/null | awk '{print $2}'; }
is_state() { [ "$(state "$1")" = "$2" ]; }
became_at() { awk '$2 == "leader" {print $1; exit}' "$work/$1.out"; }
n_leader() { grep -c ' leader$' "$work/$1.out"; }
stop_probe() { kill -TERM "${pid_of[$1]}" 2>/dev/null; wait "${pid_of[$1]}" 2>/dev/null; }
holder() { kc -n "$NS" get lease "$1" -o jsonpath='{.spec.holderIdentity}'; }
field() { kc -n "$NS" get lease "$1" -o jsonpath="{.spec.$2}"; }
# ghost_lease NAME HOLDER RENEWTIME: a Lease as another replica wrote it.
ghost_lease() {
	kc -n "$NS" create -f - >/dev/null <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: $1}
spec:
  holderIdentity: "$2"
  leaseDurationSeconds: 15
  acquireTime: "$3"
  renewTime: "$3"
  leaseTransitions: 0
EOF
}
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

kc create namespace "$NS" >/dev/null || { echo "test-lease: cannot create namespace $NS" >&2; exit 1; }

# ---- a missing Lease is created ----------------------------------------------
probe p1 l1
check "a replica creates the missing Lease and leads" wait_for 10 is_state p1 leader
check "the Lease names it, 15 s, 0 transitions" \
	test "$(holder l1)/$(field l1 leaseDurationSeconds)/$(field l1 leaseTransitions)" = "p1/15/0"
stop_probe p1

# ---- a leader whose clock is an hour BEHIND, renewing every 2 s -------------------
# (The old code compared renewTime with its own clock: it took over at once.)
ghost_lease l2 ghost "$(micro '-1 hour')"
echo 0 >"$work/ghost.last"
(
	while [ ! -e "$work/ghost.stop" ]; do
		t=$(now_ms)
		kc -n "$NS" patch lease l2 --type merge \
			-p "{\"spec\":{\"renewTime\":\"$(micro '-1 hour')\"}}" >/dev/null && echo "$t" >"$work/ghost.last"
		sleep 2
	done
) &
ghost=$!
pids+=($ghost)
probe p2 l2
sleep 25
check "a standby does not take over from a renewing leader an hour behind (25 s)" \
	bash -c "[ \$(grep -c ' leader\$' '$work/p2.out') = 0 ] && [ '$(holder l2)' = ghost ]"
touch "$work/ghost.stop"
wait "$ghost" 2>/dev/null
last=$(cat "$work/ghost.last")
wait_for 25 is_state p2 leader
dt=$(( $(became_at p2) - last ))
check "... and takes over 15 s (of its own monotonic time) after the last renewal ($dt ms)" \
	between "$dt" 15000 20000
check "... as a transition (1), holder p2" \
	test "$(holder l2)/$(field l2 leaseTransitions)" = "p2/1"
stop_probe p2

# ---- a leader whose clock is an hour AHEAD, then gone ---------------------------
# (The old code waited until renewTime + 15 s by its own clock: an hour.)
ghost_lease l3 ghost "$(micro '+1 hour')"
t0=$(now_ms)
probe p3 l3
wait_for 25 is_state p3 leader
dt=$(( $(became_at p3) - t0 ))
check "a record seen for the first time counts as just renewed: taken after 15 s, not an hour ($dt ms)" \
	between "$dt" 15000 18000
stop_probe p3

# ---- release on SIGTERM --------------------------------------------------------
probe p4a l4
wait_for 10 is_state p4a leader
probe p4b l4
sleep 3
check "a second replica stays standby" is_state p4b standby
t0=$(now_ms)
stop_probe p4a
check "SIGTERM releases the Lease" grep -q ' released$' "$work/p4a.out"
wait_for 10 is_state p4b leader
dt=$(( $(became_at p4b) - t0 ))
check "a released (free) Lease is taken at once ($dt ms, one tick)" between "$dt" 0 3000
check "... holder p4b, 1 transition" test "$(holder l4)/$(field l4 leaseTransitions)" = "p4b/1"
stop_probe p4b

# ---- three replicas race for a free Lease (409 for the losers) ----------------------
ghost_lease l5 "" "$(micro now)"
probe p5a l5; probe p5b l5; probe p5c l5
sleep 16
leaders=$(for p in p5a p5b p5c; do is_state "$p" leader && echo "$p"; done)
flips=$(( $(n_leader p5a) + $(n_leader p5b) + $(n_leader p5c) ))
check "of three racing for a free Lease exactly one leads, and only once in 16 s (${leaders//$'\n'/ })" \
	bash -c "[ $(echo "$leaders" | grep -c .) = 1 ] && [ $flips = 1 ] && [ '$(holder l5)' = '$leaders' ]"
conf=$(cat "$work"/p5?.err | grep -c 'changed under us')
echo "# the losers met $conf conflicts (409) and read again"
stop_probe p5a; stop_probe p5b; stop_probe p5c

# ---- concurrent writes to the Lease (409 on renewals) ----------------------------
probe p6 l6
wait_for 10 is_state p6 leader
# shellcheck disable=SC1091
. "$ENVDIR/ports.env"
PKI=$ENVDIR/pki
(
	i=0
	end=$((SECONDS + 12))
	while [ $SECONDS -lt $end ]; do
		i=$((i + 1))
		curl -fsS -o /dev/null --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
			-X PATCH -H 'Content-Type: application/merge-patch+json' \
			-d "{\"metadata\":{\"labels\":{\"n\":\"$i\"}}}" \
			"https://127.0.0.1:$APISERVER_PORT/apis/coordination.k8s.io/v1/namespaces/$NS/leases/l6"
	done
) &
writer=$!
pids+=($writer)
wait "$writer" 2>/dev/null
conf=$(grep -c 'changed under us' "$work/p6.err")
check "the leader keeps the Lease through 12 s of concurrent writes ($conf conflicts met, read again)" \
	bash -c "[ $(n_leader p6) = 1 ] && [ '$(state p6)' = leader ] && [ '$(holder l6)' = p6 ] &&
		! grep -q 'no longer the leader' '$work/p6.err'"
stop_probe p6

# ---- a leader paused for 20 s (SIGSTOP): gives up, never acts again stale ---------
probe p7a l7
wait_for 10 is_state p7a leader
probe p7b l7
sleep 3
t_stop=$(now_ms)
kill -STOP "${pid_of[p7a]}"
wait_for 25 is_state p7b leader
dt=$(( $(became_at p7b) - t_stop ))
check "the standby takes over from a frozen leader after 13-20 s ($dt ms)" between "$dt" 13000 20000
left=$(( 20000 - ($(now_ms) - t_stop) ))
[ "$left" -gt 0 ] && sleep "$(( left / 1000 + 1 ))"
t_cont=$(now_ms)
kill -CONT "${pid_of[p7a]}"
wait_for 5 is_state p7a standby
back=$(awk '$2 == "standby" {t = $1} END {print t}' "$work/p7a.out")
check "the thawed leader knows at once it no longer leads ($(( back - t_cont )) ms)" \
	between "$(( back - t_cont ))" 0 1000
sleep 5
check "... and leaves the Lease to the new leader" \
	bash -c "[ '$(holder l7)' = p7b ] && [ '$(state p7a)' = standby ] && [ '$(state p7b)' = leader ]"
stop_probe p7a; stop_probe p7b

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
