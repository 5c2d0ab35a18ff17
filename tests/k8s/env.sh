#!/bin/bash
# SPDX-License-Identifier: MIT
# A real Kubernetes control plane on 127.0.0.1, for the Kubernetes backend's
# tests: etcd, kube-apiserver, kube-controller-manager (Job controller,
# garbage collector, ...), kube-scheduler and kwok (fake nodes whose pods
# become Running and then Succeeded, and which serve pod logs), all built
# from source by tests/k8s/build.sh.  No container runtime, no images.
#
#   tests/k8s/env.sh start DIR              start; writes DIR/kubeconfig
#   tests/k8s/env.sh stop DIR               stop every process of DIR
#   tests/k8s/env.sh restart-apiserver DIR  restart kube-apiserver only
#                                           (same port, same certificates)
#   tests/k8s/env.sh status DIR             which components run
#   tests/k8s/env.sh log DIR [FILE]         set the agent log that kwok serves
#                                           for every container (plain text
#                                           from FILE or stdin)
#   tests/k8s/env.sh egress-log DIR [FILE]  the same for the runs' egress
#                                           sidecars (container
#                                           paddock-egress; empty at start)
#
# Everything lives in DIR: certificates, etcd data, logs/<component>.log,
# pids/<component>.pid, ports.env.  Every listener is on 127.0.0.1, on a
# free port chosen at start.  See tests/k8s/README.md.
#
# Environment:
#   K8S_BIN                directory with the binaries (default: the one
#                          tests/k8s/build.sh prints; it is run if needed)
#   K8S_APISERVER_ARGS     extra kube-apiserver flags (e.g. --watch-cache=false)
#   K8S_NODES              number of fake nodes (default 2)
#   K8S_START_TIMEOUT      seconds to wait for each component (default 60)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
START_TIMEOUT=${K8S_START_TIMEOUT:-60}
NODES=${K8S_NODES:-2}
COMPONENTS="etcd kube-apiserver kube-controller-manager kube-scheduler kwok"
T0=$(date +%s%N)

say() { printf 'k8s-env: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
elapsed() { echo "$(( ($(date +%s%N) - T0) / 1000000 ))ms"; }

usage() {
	sed -n '3,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

find_bin() {
	if [ -z "${K8S_BIN:-}" ]; then
		K8S_BIN=$("$HERE/build.sh" | tail -n1)
	fi
	local b
	for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
		[ -x "$K8S_BIN/$b" ] || die "$K8S_BIN/$b missing: run tests/k8s/build.sh"
	done
}

# A free TCP port on 127.0.0.1 (bound and released; the components bind
# it a moment later).
free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A process that runs: exists and is not a zombie (the processes outlive
# this script, and whatever reaps orphans here may be slow to do it).
proc_alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
pid_alive() { [ -f "$1" ] && proc_alive "$(cat "$1")"; }

# Print the last lines of a component's log, then fail.
fail_with_log() {
	local name=$1; shift
	say "error: $name: $*"
	if [ -f "$DIR/logs/$name.log" ]; then
		say "last lines of $DIR/logs/$name.log:"
		tail -n 25 "$DIR/logs/$name.log" >&2
	fi
	exit 1
}

# start_proc NAME CMD...: run in the background, detached from the caller's
# session, output into logs/NAME.log, pid into pids/NAME.pid.
start_proc() {
	local name=$1; shift
	mkdir -p "$DIR/logs" "$DIR/pids"
	setsid "$@" </dev/null >>"$DIR/logs/$name.log" 2>&1 &
	echo $! > "$DIR/pids/$name.pid"
}

# wait_http NAME URL [curl options]: until URL answers 200 "ok".
wait_http() {
	local name=$1 url=$2; shift 2
	local deadline=$(( $(date +%s) + START_TIMEOUT ))
	while :; do
		pid_alive "$DIR/pids/$name.pid" || fail_with_log "$name" "exited during start-up"
		if curl -fsS --max-time 2 "$@" "$url" >/dev/null 2>&1; then
			return 0
		fi
		[ "$(date +%s)" -lt "$deadline" ] || fail_with_log "$name" "$url not ready after ${START_TIMEOUT}s"
		sleep 0.2
	done
}

stop_proc() {
	local name=$1 f="$DIR/pids/$1.pid" pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if proc_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 30); do
			proc_alive "$pid" || break
			sleep 0.1
		done
		if proc_alive "$pid"; then
			say "$name (pid $pid) did not stop within 3s of SIGTERM: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			for i in $(seq 1 50); do
				proc_alive "$pid" || break
				sleep 0.1
			done
		fi
	fi
	rm -f "$f"
}

kctl() { "$K8S_BIN/kubectl" --kubeconfig "$DIR/kubeconfig" "$@"; }

# ---- certificates -----------------------------------------------------

# cert NAME SUBJECT [SAN]: an EC P-256 key and a certificate signed by the CA.
cert() {
	local name=$1 subj=$2 san=${3:-} ext
	ext=$(mktemp)
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		if [ -n "$san" ]; then
			echo "extendedKeyUsage=serverAuth,clientAuth"
			echo "subjectAltName=$san"
		else
			echo "extendedKeyUsage=clientAuth"
		fi
	} > "$ext"
	openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
		-CAcreateserial -days 365 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
	rm -f "$ext" "$PKI/$name.csr"
}

make_pki() {
	PKI=$DIR/pki
	[ -f "$PKI/ca.crt" ] && return 0
	mkdir -p "$PKI"
	chmod 0700 "$PKI"
	openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
	openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=paddock-test-ca" -days 365 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
		-out "$PKI/ca.crt" 2>/dev/null
	cert apiserver "/CN=kube-apiserver" \
		"IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	cert admin "/O=system:masters/CN=kubernetes-admin"
	cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
	cert kwok "/CN=kwok-kubelet" "IP:127.0.0.1,DNS:localhost"
	# Service account token signing (RSA, the usual choice).
	openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
	openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	# A static bearer token for clients that do not do client certificates.
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$PKI/admin.token"
	echo "$(cat "$PKI/admin.token"),kubernetes-admin-token,admin-token,system:masters" \
		> "$PKI/tokens.csv"
	chmod 0600 "$PKI"/*.key "$PKI/admin.token" "$PKI/tokens.csv"
}

b64() { base64 -w0 < "$1"; }

write_kubeconfig() {
	cat > "$DIR/kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: paddock-test
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$PKI/admin.crt")
    client-key-data: $(b64 "$PKI/admin.key")
contexts:
- name: paddock-test
  context:
    cluster: paddock-test
    user: admin
    namespace: default
current-context: paddock-test
EOF
	chmod 0600 "$DIR/kubeconfig.tmp"
	mv "$DIR/kubeconfig.tmp" "$DIR/kubeconfig"
}

# ---- kwok configuration -------------------------------------------------

# CRI log format (what kubelets serve): TIMESTAMP STREAM F LINE.
to_cri_log() {
	local ts line
	ts=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s stdout F %s\n' "$ts" "$line"
	done
}

set_agent_log() { # set_agent_log [FILE]: agent.log (default) or FILE under kwok/
	local f=${1:-agent.log}
	mkdir -p "$DIR/kwok"
	to_cri_log > "$DIR/kwok/$f.tmp"
	mv "$DIR/kwok/$f.tmp" "$DIR/kwok/$f"
}

write_kwok_config() {
	mkdir -p "$DIR/kwok"
	if [ ! -f "$DIR/kwok/agent.log" ]; then
		printf '%s\n' "hello from kwok" "" "---PADDOCK_OUTPUTS_START---" "branch: main" \
			"---PADDOCK_OUTPUTS_END---" | set_agent_log
	fi
	[ -f "$DIR/kwok/egress.log" ] || : >"$DIR/kwok/egress.log"
	{
		cat "$HERE/kwok/stages.yaml"
		cat <<EOF
---
# Every container of every pod: the log in $DIR/kwok/agent.log
# (tests/k8s/env.sh log DIR < FILE replaces it); the egress sidecars':
# $DIR/kwok/egress.log (env.sh egress-log).  kwok prefers the entry that
# names the container.
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: paddock-agent-log
spec:
  logs:
  - containers: [paddock-egress]
    logsFile: $DIR/kwok/egress.log
  - logsFile: $DIR/kwok/agent.log
EOF
	} > "$DIR/kwok/kwok.yaml"
}

fake_nodes() {
	local i
	for i in $(seq 0 $((NODES - 1))); do
		cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: kwok-node-$i
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, ephemeral-storage: 1Ti, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, ephemeral-storage: 1Ti, pods: "110"}
EOF
	done
}

# ---- components -----------------------------------------------------------

start_etcd() {
	local t; t=$(date +%s%N)
	start_proc etcd "$K8S_BIN/etcd" --name default --data-dir "$DIR/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" \
		--unsafe-no-fsync --log-level warn
	wait_http etcd "http://127.0.0.1:$ETCD_PORT/health"
	say "etcd ready on 127.0.0.1:$ETCD_PORT ($(( ($(date +%s%N) - t) / 1000000 ))ms)"
}

start_apiserver() {
	local t; t=$(date +%s%N)
	# shellcheck disable=SC2086
	start_proc kube-apiserver "$K8S_BIN/kube-apiserver" \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
		--secure-port="$APISERVER_PORT" \
		--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
		--etcd-compaction-interval=10s \
		--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
		--client-ca-file="$PKI/ca.crt" \
		--token-auth-file="$PKI/tokens.csv" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$PKI/sa.pub" \
		--service-account-signing-key-file="$PKI/sa.key" \
		--service-cluster-ip-range=10.96.0.0/16 \
		--authorization-mode=Node,RBAC \
		--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
		--kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority="$PKI/ca.crt" \
		--kubelet-preferred-address-types=InternalIP,Hostname \
		--endpoint-reconciler-type=none \
		--profiling=false \
		${K8S_APISERVER_ARGS:-}
	wait_http kube-apiserver "https://127.0.0.1:$APISERVER_PORT/readyz" \
		--cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key"
	say "kube-apiserver ready on https://127.0.0.1:$APISERVER_PORT ($(( ($(date +%s%N) - t) / 1000000 ))ms)"
}

start_controller_manager() {
	local t; t=$(date +%s%N)
	start_proc kube-controller-manager "$K8S_BIN/kube-controller-manager" \
		--kubeconfig="$DIR/kubeconfig" \
		--authentication-kubeconfig="$DIR/kubeconfig" \
		--authorization-kubeconfig="$DIR/kubeconfig" \
		--bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
		--controllers='*' --leader-elect=false \
		--use-service-account-credentials=false \
		--service-account-private-key-file="$PKI/sa.key" \
		--root-ca-file="$PKI/ca.crt" \
		--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
		--service-cluster-ip-range=10.96.0.0/16 \
		--concurrent-gc-syncs=5 \
		--profiling=false
	wait_http kube-controller-manager "https://127.0.0.1:$KCM_PORT/healthz" -k
	say "kube-controller-manager ready ($(( ($(date +%s%N) - t) / 1000000 ))ms)"
}

start_scheduler() {
	local t; t=$(date +%s%N)
	start_proc kube-scheduler "$K8S_BIN/kube-scheduler" \
		--kubeconfig="$DIR/kubeconfig" \
		--authentication-kubeconfig="$DIR/kubeconfig" \
		--authorization-kubeconfig="$DIR/kubeconfig" \
		--bind-address=127.0.0.1 --secure-port="$SCHED_PORT" \
		--leader-elect=false --profiling=false
	wait_http kube-scheduler "https://127.0.0.1:$SCHED_PORT/healthz" -k
	say "kube-scheduler ready ($(( ($(date +%s%N) - t) / 1000000 ))ms)"
}

start_kwok() {
	local t; t=$(date +%s%N)
	write_kwok_config
	start_proc kwok "$K8S_BIN/kwok" \
		--kubeconfig="$DIR/kubeconfig" \
		--config="$DIR/kwok/kwok.yaml" \
		--manage-all-nodes=false \
		--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
		--node-ip=127.0.0.1 --node-port="$KWOK_PORT" \
		--server-address="127.0.0.1:$KWOK_PORT" \
		--tls-cert-file="$PKI/kwok.crt" --tls-private-key-file="$PKI/kwok.key" \
		--node-lease-duration-seconds=40 \
		--cidr=10.244.0.0/16
	wait_http kwok "https://127.0.0.1:$KWOK_PORT/healthz" --cacert "$PKI/ca.crt"
	fake_nodes | kctl apply -f - >/dev/null
	local deadline=$(( $(date +%s) + START_TIMEOUT )) i ready
	while :; do
		ready=0
		for i in $(seq 0 $((NODES - 1))); do
			[ "$(kctl get node "kwok-node-$i" \
				-o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] &&
				ready=$((ready + 1))
		done
		[ "$ready" -eq "$NODES" ] && break
		pid_alive "$DIR/pids/kwok.pid" || fail_with_log kwok "exited during start-up"
		[ "$(date +%s)" -lt "$deadline" ] || fail_with_log kwok "$ready of $NODES nodes Ready after ${START_TIMEOUT}s"
		sleep 0.2
	done
	say "kwok ready on 127.0.0.1:$KWOK_PORT, $NODES fake nodes Ready ($(( ($(date +%s%N) - t) / 1000000 ))ms)"
}

# The default ServiceAccount must exist before pods can be created.
wait_default_sa() {
	local deadline=$(( $(date +%s) + START_TIMEOUT ))
	until kctl -n default get serviceaccount default >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail_with_log kube-controller-manager "no default ServiceAccount after ${START_TIMEOUT}s"
		sleep 0.2
	done
}

load_ports() {
	[ -f "$DIR/ports.env" ] || die "$DIR/ports.env missing: was the environment started with '$0 start $DIR'?"
	# shellcheck disable=SC1091
	. "$DIR/ports.env"
	PKI=$DIR/pki
}

cmd_start() {
	local c
	for c in $COMPONENTS; do
		pid_alive "$DIR/pids/$c.pid" && die "$c already runs for $DIR (pid $(cat "$DIR/pids/$c.pid")): '$0 stop $DIR' first"
	done
	find_bin
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
	say "starting in $DIR with $K8S_BIN"
	# On failure, leave nothing running.
	trap 'rc=$?; if [ $rc -ne 0 ]; then say "start failed: stopping what was started"; cmd_stop_quiet; fi' EXIT
	local t; t=$(date +%s%N)
	make_pki
	say "certificates in $DIR/pki ($(( ($(date +%s%N) - t) / 1000000 ))ms)"
	ETCD_PORT=$(free_port); ETCD_PEER_PORT=$(free_port); APISERVER_PORT=$(free_port)
	KCM_PORT=$(free_port); SCHED_PORT=$(free_port); KWOK_PORT=$(free_port)
	cat > "$DIR/ports.env" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
APISERVER_PORT=$APISERVER_PORT
KCM_PORT=$KCM_PORT
SCHED_PORT=$SCHED_PORT
KWOK_PORT=$KWOK_PORT
K8S_BIN=$K8S_BIN
EOF
	write_kubeconfig
	start_etcd
	start_apiserver
	start_controller_manager
	start_scheduler
	start_kwok
	wait_default_sa
	trap - EXIT
	say "ready in $(elapsed): export KUBECONFIG=$DIR/kubeconfig"
	echo "$DIR/kubeconfig"
}

# SIGTERM to every component at once, SIGKILL to what still runs after 3 s
# (kube-apiserver waits 60 s for open watches otherwise).
cmd_stop_quiet() {
	local c pid i alive
	for c in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
		pid_alive "$DIR/pids/$c.pid" && { kill -TERM "$(cat "$DIR/pids/$c.pid")" 2>/dev/null || true; }
	done
	for i in $(seq 1 30); do
		alive=0
		for c in $COMPONENTS; do
			pid_alive "$DIR/pids/$c.pid" && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for c in $COMPONENTS; do
		if pid_alive "$DIR/pids/$c.pid"; then
			pid=$(cat "$DIR/pids/$c.pid")
			say "$c (pid $pid) did not stop within 3s of SIGTERM: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			for i in $(seq 1 50); do
				proc_alive "$pid" || break
				sleep 0.1
			done
		fi
		rm -f "$DIR/pids/$c.pid"
	done
}

cmd_stop() {
	[ -d "$DIR" ] || die "$DIR: no such directory"
	cmd_stop_quiet
	say "stopped ($(elapsed))"
}

cmd_restart_apiserver() {
	load_ports
	K8S_BIN=${K8S_BIN_OVERRIDE:-$K8S_BIN}
	stop_proc kube-apiserver
	say "kube-apiserver stopped ($(elapsed))"
	start_apiserver
	say "kube-apiserver restarted on the same port in $(elapsed)"
}

cmd_status() {
	local c rc=0
	for c in $COMPONENTS; do
		if pid_alive "$DIR/pids/$c.pid"; then
			echo "$c running (pid $(cat "$DIR/pids/$c.pid"))"
		else
			echo "$c stopped"
			rc=1
		fi
	done
	return $rc
}

[ $# -ge 2 ] || usage
CMD=$1
DIR=$2
case $CMD in
start) cmd_start ;;
stop) cmd_stop ;;
restart-apiserver) K8S_BIN_OVERRIDE=${K8S_BIN:-}; cmd_restart_apiserver ;;
status) cmd_status ;;
log)
	[ -d "$DIR" ] || die "$DIR: no such directory"
	if [ $# -ge 3 ]; then set_agent_log < "$3"; else set_agent_log; fi
	say "kwok serves $DIR/kwok/agent.log for every container"
	;;
egress-log)
	[ -d "$DIR" ] || die "$DIR: no such directory"
	if [ $# -ge 3 ]; then set_agent_log egress.log < "$3"; else set_agent_log egress.log; fi
	say "kwok serves $DIR/kwok/egress.log for the paddock-egress containers"
	;;
*) usage ;;
esac
