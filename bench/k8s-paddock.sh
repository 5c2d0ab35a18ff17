# SPDX-License-Identifier: MIT
# bench/k8s-paddock.sh - sourced by bench/k8s.sh and bench/kelos.sh: Paddock's
# Kubernetes controller set up and started the same way for both benches.
# Needs kc() (kubectl on the bench's cluster), KUBECONFIG and the CRDs applied.

# paddock_bench_setup WORK BUILD HERE MAX_TASKS LOG_LEVEL: the exec Agent
# "bench" in namespace bench (its pods kept Running by kwok), WORK/paddock.yaml
# for it, and PADDOCK_CONFIG, PADDOCK_PLUGIN_PATH, PADDOCK_DATA_DIR exported.
paddock_bench_setup() {
	kc apply -f - >/dev/null <<'EOT' || { echo "bench: applying the Agent failed" >&2; return 1; }
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: bench, namespace: bench}
spec:
  type: exec
  image: debian:bookworm-slim
  command: "true"
  pod: {labels: {kwok.paddock.dev/run-time: "1h"}}
EOT
	export PADDOCK_CONFIG=$1/paddock.yaml
	export PADDOCK_PLUGIN_PATH=$2/drivers/.libs:$2/contexts/.libs
	export PADDOCK_DATA_DIR=$3
	cat >"$PADDOCK_CONFIG" <<EOT
backend: kubernetes
log: {level: $5}
controller: {listen: "127.0.0.1:0"}
kubernetes: {kubeconfig: "$KUBECONFIG", leaseNamespace: paddock-system}
limits: {maxConcurrentTasks: $4, defaultTaskTimeout: 2h}
drivers: {exec: {enabled: true}}
contexts: {text: {enabled: true}}
# Small requests: with none the limits (2 CPUs, 4Gi) are the requests and a
# fake node (32 CPUs) takes 16 pods, so most runs would stay Unschedulable.
resources: {requests: {cpu: 10m, memory: 16Mi, ephemeral-storage: 16Mi}}
EOT
}

# paddock_bench_ready PID LOG: waits (60 s at most) until the controller PID
# holds the Lease and its /readyz?leader says a pass ran with synced caches;
# prints its metrics port.  Non-zero, with the log's tail, if it exited or
# was not ready in time.
paddock_bench_ready() {
	local port='' end=$((SECONDS + 60)) holder
	while [ $SECONDS -lt $end ]; do
		kill -0 "$1" 2>/dev/null || { echo "bench: the controller exited:" >&2; tail -n 20 "$2" >&2; return 1; }
		[ -n "$port" ] || port=$(sed -n 's/.*metrics endpoint listening.* port=\([0-9]*\).*/\1/p' "$2" | head -n1)
		holder=$(kc -n paddock-system get lease paddock-controller -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)
		if [ "$holder" = bench ] && [ -n "$port" ] &&
			curl -fsS --max-time 2 "http://127.0.0.1:$port/readyz?leader" >/dev/null 2>&1; then
			echo "$port"
			return 0
		fi
		sleep 0.1
	done
	echo "bench: the controller did not take the Lease within 60 s" >&2
	tail -n 20 "$2" >&2
	return 1
}
