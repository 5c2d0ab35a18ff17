#!/bin/bash
# One real Kubernetes node beside the kwok nodes of tests/k8s/env.sh: a
# docker-registry, containerd + runc and a kubelet registered against the
# control plane in DIR, with the bridge CNI plugin (no gateway, no
# masquerade: pods reach each other, not the host).  Everything is named
# after a short id kept in DIR/real (bridge, cgroup root, socket dir), so
# two runs never collide, and `stop` removes every process, mount, netns,
# bridge, iptables chain and cgroup the node created.
#
#   node.sh start DIR     after `env.sh start DIR`; pushes the images of
#                         images.env to the registry; writes DIR/real/node.env
#   node.sh stop DIR      idempotent; also cleans up after a failed start
#
# The node is named paddock-real-<id>, labelled paddock.dev/real-node=true
# and tainted paddock.dev/real-node=true:NoSchedule, so only pods that ask
# for it (nodeSelector + toleration) run there.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CMD=${1:-}; DIR=${2:-}
[ -n "$CMD" ] && [ -n "$DIR" ] || { echo "usage: node.sh start|stop DIR" >&2; exit 2; }
DIR=$(cd "$DIR" && pwd)
RD=$DIR/real
CACHE=${PADDOCK_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddock/k8s}
R=$CACHE/real
say() { printf 'k8s-node: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
ms() { echo "$(( ($(date +%s%N) - $1) / 1000000 ))ms"; }
free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
CONTROLLERS="cpu cpuacct cpuset memory pids blkio devices freezer hugetlb net_cls net_prio perf_event systemd"

load() {
	[ -f "$RD/id.env" ] || return 1
	# shellcheck disable=SC1091
	. "$RD/id.env"
}

start_bg() {  # start_bg NAME CMD...
	local name=$1; shift
	setsid "$@" </dev/null >>"$RD/logs/$name.log" 2>&1 &
	echo $! > "$RD/pids/$name.pid"
}
alive() { [ -f "$RD/pids/$1.pid" ] && kill -0 "$(cat "$RD/pids/$1.pid")" 2>/dev/null; }
fail_log() { say "error: $1: $2"; tail -n 30 "$RD/logs/$1.log" >&2 || true; exit 1; }
kill_bg() {  # kill_bg NAME GRACE_TENTHS
	local f=$RD/pids/$1.pid pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 "${2:-30}"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$f"
}

kctl() { "$K8S_BIN/kubectl" --kubeconfig "$DIR/kubeconfig" "$@"; }

sign() {  # sign NAME SUBJECT [SAN]
	local p=$RD/pki ext; ext=$(mktemp)
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		if [ -n "${3:-}" ]; then echo "extendedKeyUsage=serverAuth"; echo "subjectAltName=$3"
		else echo "extendedKeyUsage=clientAuth"; fi
	} > "$ext"
	openssl ecparam -name prime256v1 -genkey -noout -out "$p/$1.key" 2>/dev/null
	openssl req -new -key "$p/$1.key" -subj "$2" -out "$p/$1.csr" 2>/dev/null
	openssl x509 -req -in "$p/$1.csr" -CA "$DIR/pki/ca.crt" -CAkey "$DIR/pki/ca.key" \
		-CAcreateserial -days 30 -sha256 -extfile "$ext" -out "$p/$1.crt" 2>/dev/null
	rm -f "$ext" "$p/$1.csr"
}

cmd_start() {
	[ -f "$DIR/kubeconfig" ] || die "$DIR/kubeconfig missing: run tests/k8s/env.sh start $DIR first"
	[ "$(id -u)" = 0 ] || die "needs root (containerd, kubelet)"
	for t in containerd runc docker-registry skopeo /usr/lib/cni/bridge; do
		command -v "$t" >/dev/null || die "$t missing: apt-get install containerd runc docker-registry skopeo containernetworking-plugins"
	done
	[ -f "$R/images.env" ] || die "$R/images.env missing: run tests/k8s/real/images.sh"
	K8S_BIN=${K8S_BIN:-$("$HERE/../build.sh" | tail -n1)}
	REAL_BIN=${REAL_BIN:-$("$HERE/build-go.sh" | tail -n1)}
	trap 'rc=$?; if [ $rc -ne 0 ]; then say "start failed: tearing down"; cmd_stop || true; fi' EXIT
	local T0 t id net
	T0=$(date +%s%N)
	mkdir -p "$RD/logs" "$RD/pids" "$RD/pki"
	id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	# A /24 no route uses yet.
	for _ in $(seq 1 50); do
		net=10.$((200 + RANDOM % 50)).$((RANDOM % 250)).0
		ip route show | grep -q "^${net%.0}\." || break
	done
	cat > "$RD/id.env" <<ENV
NODE_ID=$id
NODE_NAME=paddock-real-$id
BRIDGE=pkbr$id
CGROOT=paddock-real-$id
SOCKDIR=/run/paddock-real-$id
POD_NET=$net/24
K8S_BIN=$K8S_BIN
REAL_BIN=$REAL_BIN
ENV
	load
	# The iptables chains the kubelet may add: noted now, so stop removes
	# only the ones that were not there before.
	iptables-save 2>/dev/null | sed -n 's/^:\(KUBE-[A-Z0-9-]*\) .*/\1/p' | sort -u > "$RD/iptables-before" || true
	mkdir -p "$SOCKDIR"
	for c in $CONTROLLERS; do [ -d "/sys/fs/cgroup/$c" ] && mkdir -p "/sys/fs/cgroup/$c/$CGROOT"; done

	# ---- registry ----
	t=$(date +%s%N)
	REG_PORT=$(free_port)
	mkdir -p "$R/registry"
	cat > "$RD/registry.yml" <<YML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $R/registry}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$REG_PORT
YML
	start_bg registry docker-registry serve "$RD/registry.yml"
	for _ in $(seq 1 100); do
		curl -fsS "http://127.0.0.1:$REG_PORT/v2/" >/dev/null 2>&1 && break
		alive registry || fail_log registry "exited"
		sleep 0.1
	done
	say "registry on 127.0.0.1:$REG_PORT ($(ms "$t"))"
	t=$(date +%s%N)
	local line name tag ref
	: > "$RD/images.env"
	while IFS= read -r line; do
		name=${line%%=*}; tag=${line#*=}
		ref=127.0.0.1:$REG_PORT/${tag#localhost/}
		# Tags are hashes of the inputs and the registry's storage is
		# cached: a tag already there is the same image.
		local repo=${tag#localhost/}
		if curl -fsS -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
			"http://127.0.0.1:$REG_PORT/v2/${repo%:*}/manifests/${repo##*:}" 2>/dev/null; then
			echo "$name=$ref" >> "$RD/images.env"
			continue
		fi
		skopeo copy -q --dest-tls-verify=false \
			"containers-storage:[overlay@$R/containers+$R/run]$tag" "docker://$ref" >&2
		echo "$name=$ref" >> "$RD/images.env"
	done < "$R/images.env"
	say "images pushed ($(ms "$t"))"
	# shellcheck disable=SC1091
	. "$RD/images.env"

	# ---- containerd ----
	t=$(date +%s%N)
	mkdir -p "$RD/containerd/root" "$RD/cni/conf" "$RD/cni/ipam" "$RD/certs.d/127.0.0.1:$REG_PORT"
	cat > "$RD/certs.d/127.0.0.1:$REG_PORT/hosts.toml" <<TOML
server = "http://127.0.0.1:$REG_PORT"
[host."http://127.0.0.1:$REG_PORT"]
  capabilities = ["pull", "resolve"]
TOML
	cat > "$RD/containerd.toml" <<TOML
version = 2
root = "$RD/containerd/root"
state = "$SOCKDIR/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$SOCKDIR/containerd.sock"
[ttrpc]
  address = "$SOCKDIR/containerd.sock.ttrpc"
[cgroup]
  path = "/$CGROOT/containerd"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$IMG_PAUSE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RD/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$RD/certs.d"
TOML
	cat > "$RD/cni/conf/10-paddock.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "paddock-real-$id", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": false, "ipMasq": false,
   "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$RD/cni/ipam", "subnet": "$POD_NET"}},
  {"type": "loopback"}]}
JSON
	start_bg containerd containerd --config "$RD/containerd.toml"
	for _ in $(seq 1 150); do
		[ -S "$SOCKDIR/containerd.sock" ] && ctr -a "$SOCKDIR/containerd.sock" version >/dev/null 2>&1 && break
		alive containerd || fail_log containerd "exited"
		sleep 0.1
	done
	[ -S "$SOCKDIR/containerd.sock" ] || fail_log containerd "no socket after 15 s"
	say "containerd ready ($(ms "$t"))"

	# ---- kubelet ----
	t=$(date +%s%N)
	sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME"
	sign kubelet-serving "/CN=$NODE_NAME" "IP:127.0.0.1,DNS:$NODE_NAME"
	local server; server=$(sed -n 's/^ *server: //p' "$DIR/kubeconfig" | head -n1)
	cat > "$RD/kubelet.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "$server", certificate-authority: "$DIR/pki/ca.crt"}
users:
- name: node
  user: {client-certificate: "$RD/pki/kubelet-client.crt", client-key: "$RD/pki/kubelet-client.key"}
contexts:
- name: node
  context: {cluster: test, user: node}
current-context: node
KC
	KUBELET_PORT=$(free_port); HEALTHZ_PORT=$(free_port)
	mkdir -p "$RD/kubelet" "$RD/pod-logs" "$RD/volume-plugins"
	cat > "$RD/kubelet.yaml" <<YML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $HEALTHZ_PORT
tlsCertFile: $RD/pki/kubelet-serving.crt
tlsPrivateKeyFile: $RD/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $DIR/pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$SOCKDIR/containerd.sock
imageServiceEndpoint: unix://$SOCKDIR/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /$CGROOT
failCgroupV1: false
failSwapOn: false
podPidsLimit: 1024
maxPods: 30
podLogsDir: $RD/pod-logs
volumePluginDir: $RD/volume-plugins
registerNode: true
registerWithTaints:
- {key: paddock.dev/real-node, value: "true", effect: NoSchedule}
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: /etc/resolv.conf
makeIPTablesUtilChains: false
YML
	start_bg kubelet "$REAL_BIN/kubelet" --config "$RD/kubelet.yaml" \
		--kubeconfig "$RD/kubelet.kubeconfig" --root-dir "$RD/kubelet" \
		--cert-dir "$RD/pki" --hostname-override "$NODE_NAME" \
		--node-labels "paddock.dev/real-node=true,type=real" --v=1 \
		--cloud-provider=external
	for _ in $(seq 1 300); do
		kctl get node "$NODE_NAME" >/dev/null 2>&1 && break
		alive kubelet || fail_log kubelet "exited"
		sleep 0.2
	done
	kctl get node "$NODE_NAME" >/dev/null 2>&1 || fail_log kubelet "node $NODE_NAME not registered after 60 s"
	# --node-ip=127.0.0.1 is refused as loopback, and on its own the kubelet
	# publishes the host's external address, where it does not listen.
	# With --cloud-provider=external the addresses are left to a cloud
	# controller, which is this patch: 127.0.0.1, then the taint the
	# kubelet set until then removed.
	kctl patch node "$NODE_NAME" --subresource=status --type=merge \
		-p '{"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"},{"type":"Hostname","address":"'"$NODE_NAME"'"}]}}' >/dev/null
	kctl taint node "$NODE_NAME" node.cloudprovider.kubernetes.io/uninitialized- >/dev/null 2>&1 || true
	kctl wait --for=condition=Ready "node/$NODE_NAME" --timeout=60s >/dev/null ||
		fail_log kubelet "node not Ready"
	say "kubelet: node $NODE_NAME Ready ($(ms "$t"))"
	cat > "$RD/node.env" <<ENV
REAL_NODE=$NODE_NAME
REG_PORT=$REG_PORT
POD_NET=$POD_NET
ENV
	cat "$RD/images.env" >> "$RD/node.env"
	trap - EXIT
	say "real node up in $(ms "$T0"): $RD/node.env"
	echo "$RD/node.env"
}

# Mount points under a directory, deepest first.
mounts_under() {
	awk -v p="$1" '$5 == p || index($5, p "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

cmd_stop() {
	load || { rm -rf "$RD"; return 0; }
	local sock=$SOCKDIR/containerd.sock m c ns i
	# Pods on the node first, while kubelet and containerd can still tear
	# their sandboxes down properly (CNI DEL, netns, mounts).
	if [ -f "$DIR/kubeconfig" ] && alive kubelet; then
		kctl delete pods -A --field-selector "spec.nodeName=$NODE_NAME" \
			--grace-period=1 --wait=false >/dev/null 2>&1 || true
		for _ in $(seq 1 100); do
			[ -z "$(kctl get pods -A --field-selector "spec.nodeName=$NODE_NAME" -o name 2>/dev/null)" ] && break
			sleep 0.2
		done
	fi
	kill_bg kubelet 50
	# Whatever containers remain: killed through containerd, their netns noted.
	: > "$RD/netns"
	if [ -S "$sock" ]; then
		for c in $(ctr -a "$sock" -n k8s.io containers ls -q 2>/dev/null); do
			ctr -a "$sock" -n k8s.io containers info "$c" 2>/dev/null |
				sed -n 's|.*"path": "\(/var/run/netns/[^"]*\)".*|\1|p' >> "$RD/netns" || true
			ctr -a "$sock" -n k8s.io tasks kill -s KILL "$c" >/dev/null 2>&1 || true
		done
		sleep 0.5
		for c in $(ctr -a "$sock" -n k8s.io containers ls -q 2>/dev/null); do
			ctr -a "$sock" -n k8s.io tasks delete -f "$c" >/dev/null 2>&1 || true
		done
	fi
	kill_bg containerd 50
	# Any process still in the node's cgroups (shims, containers).
	for i in 1 2 3; do
		for c in $CONTROLLERS; do
			[ -d "/sys/fs/cgroup/$c/$CGROOT" ] || continue
			find "/sys/fs/cgroup/$c/$CGROOT" -name cgroup.procs -exec cat {} + 2>/dev/null |
				while read -r p; do kill -KILL "$p" 2>/dev/null || true; done
		done
		sleep 0.3
	done
	kill_bg registry 20
	for m in $(mounts_under "$RD") $(mounts_under "$SOCKDIR"); do umount -l "$m" 2>/dev/null || true; done
	sort -u "$RD/netns" 2>/dev/null | while read -r ns; do
		[ -n "$ns" ] || continue
		umount -l "$ns" 2>/dev/null || true; rm -f "$ns"
	done
	ip link del "$BRIDGE" 2>/dev/null || true
	# Chains the kubelet added that were not there before.
	if [ -f "$RD/iptables-before" ]; then
		iptables-save 2>/dev/null | sed -n 's/^:\(KUBE-[A-Z0-9-]*\) .*/\1/p' | sort -u |
			comm -13 "$RD/iptables-before" - | while read -r ch; do
			for tb in filter nat mangle; do
				iptables -t $tb -S 2>/dev/null | grep -- "-j $ch\b" | sed 's/^-A/-D/' |
					while read -r rule; do eval "iptables -t $tb $rule" 2>/dev/null || true; done
				iptables -t $tb -F "$ch" 2>/dev/null && iptables -t $tb -X "$ch" 2>/dev/null || true
			done
		done
	fi
	for c in $CONTROLLERS; do
		[ -d "/sys/fs/cgroup/$c/$CGROOT" ] || continue
		find "/sys/fs/cgroup/$c/$CGROOT" -depth -type d -exec rmdir {} + 2>/dev/null || true
		[ -d "/sys/fs/cgroup/$c/$CGROOT" ] && say "warning: /sys/fs/cgroup/$c/$CGROOT still there"
	done
	rm -rf "$SOCKDIR" "$RD" 2>/dev/null || say "warning: could not remove $RD"
	say "real node stopped"
}

case $CMD in
start) cmd_start ;;
stop) cmd_stop ;;
*) echo "usage: node.sh start|stop DIR" >&2; exit 2 ;;
esac
