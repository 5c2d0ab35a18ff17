# SPDX-License-Identifier: MIT
# Sourced by run.sh (its helpers and variables): the four real agent CLIs,
# each in its own driver image built here, in a real pod on the real node,
# against the scripted model server of tests/e2e running as a pod from an
# image built here (pods cannot reach the host's loopback), with the
# workspace cloned by the init containers from a git server pod that wants
# a token from a Secret.

# Pods of the test's own servers: restricted, pinned to the real node.
server_pod() { # server_pod NAME IMAGE CONFIGMAP|"" ENV-YAML COMMAND-JSON
	kc apply -f - >/dev/null <<YML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $NS, labels: {app: $1}}
spec:
  nodeSelector: {paddock.dev/real-node: "true"}
  tolerations: [{key: paddock.dev/real-node, operator: Exists, effect: NoSchedule}]
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: server
    image: $2
    command: $5
    env: $4
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
$( [ -n "$3" ] && printf '    volumeMounts: [{name: srv, mountPath: /srv}]\n  volumes: [{name: srv, configMap: {name: %s}}]\n' "$3")
YML
}
pod_ip() { kc -n "$NS" get pod "$1" -o jsonpath='{.status.podIP}' 2>/dev/null; }
pod_running() { [ "$(pod_field "$1" '{.status.phase}')" = Running ] && [ -n "$(pod_ip "$1")" ]; }

# The repository the workspace is cloned from, a bare one with one commit.
git init -q -b main "$work/src"
echo "cloned from the git server pod" >"$work/src/README"
git -C "$work/src" add README
git -C "$work/src" -c user.email=t@paddock -c user.name=t commit -q -m init
git clone -q --bare "$work/src" "$work/repo.git"
git -C "$work/repo.git" update-server-info
SRC_HEAD=$(git -C "$work/src" rev-parse HEAD)
tar -C "$work" -cf "$work/repo.tar" repo.git
GIT_TOKEN="gt-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
CANARY="sk-canary-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
CANARY_SHA=$(printf '%s' "$CANARY" | sha256sum | cut -d' ' -f1)
kc -n "$NS" create secret generic git-token --from-literal=token="$GIT_TOKEN" >/dev/null
kc -n "$NS" create secret generic model-key --from-literal=apiKey="$CANARY" >/dev/null
kc -n "$NS" create configmap git-server --from-file=git-server.py="$HERE/git-server.py" \
	--from-file=repo.tar="$work/repo.tar" >/dev/null
server_pod git-server "$IMG_MODEL_SERVER" git-server \
	'[{name: GIT_TOKEN, valueFrom: {secretKeyRef: {name: git-token, key: token}}}]' \
	'["python3", "/srv/git-server.py", "8080"]'
MS_ARGS='"python3", "/model_server.py", "--host", "0.0.0.0", "--port", "8080", "--lifetime", "3600", "--log", "/dev/stdout"'
server_pod model-server "$IMG_MODEL_SERVER" "" '[]' "[$MS_ARGS]"
server_pod model-server-401 "$IMG_MODEL_SERVER" "" '[]' "[$MS_ARGS, \"--fail-401\"]"
wait_for 120 pod_running model-server
wait_for 60 pod_running git-server
wait_for 60 pod_running model-server-401
MS_IP=$(pod_ip model-server) GIT_IP=$(pod_ip git-server) MS401_IP=$(pod_ip model-server-401)
echo "# model server pod $MS_IP:8080 image $(pod_field model-server '{.status.containerStatuses[0].imageID}'); git server pod $GIT_IP:8080"
check "the model server runs as a pod on the real node" pod_running model-server
check "the git server runs as a pod on the real node" pod_running git-server

# The drivers' settings: every CLI pointed at a model server pod.
drivers_at() { # drivers_at IP
	cat <<YML
  claude-code: {enabled: true, settings: {baseURL: "http://$1:8080", maxRetries: "0"}}
  codex: {enabled: true, settings: {baseURL: "http://$1:8080/v1", maxRetries: "0"}}
  gemini: {enabled: true, settings: {baseURL: "http://$1:8080", maxRetries: "0"}}
  opencode: {enabled: true, settings: {baseURL: "http://$1:8080/v1"}}
YML
}
host_controller real-host-agents "$(drivers_at "$MS_IP")"

cli_image() { case $1 in
	claude-code) echo "$IMG_CLAUDE_CODE" ;; codex) echo "$IMG_CODEX" ;;
	gemini) echo "$IMG_GEMINI" ;; opencode) echo "$IMG_OPENCODE" ;; esac; }
cli_model() { case $1 in
	claude-code) echo claude-sonnet-4-5 ;; codex) echo gpt-5.5 ;;
	gemini) echo gemini-2.5-pro ;; opencode) echo mock/mock-model ;; esac; }
CLIS=${REAL_CLIS:-claude-code codex gemini opencode}
for cli in $CLIS; do
	kc apply -f - >/dev/null <<YML
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: $cli, namespace: $NS}
spec:
  type: $cli
  image: $(cli_image "$cli")
  model: $(cli_model "$cli")
  credentials: {type: api-key, secretRef: {name: model-key}}
  pod:
    nodeSelector: {paddock.dev/real-node: "true"}
    tolerations: [{key: paddock.dev/real-node, operator: Exists, effect: NoSchedule}]
---
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: agent-$cli, namespace: $NS}
spec:
  agentRef: {name: $cli}
  prompt: "TOOLTEST: write the file PADDOCK_TOOL_PATH=/workspace/out.txt then reply SCRIPTED_OK."
  timeout: 8m
  workspace: {repo: "http://$GIT_IP:8080/repo.git", ref: main, secretRef: {name: git-token}}
  outputs: {parameters: [{name: out, path: out.txt}]}
YML
done
agents_done() { local c p; for c in $CLIS; do p=$(phase "agent-$c"); case $p in Succeeded|Failed|Stopped) ;; *) return 1 ;; esac; done; }
wait_for 600 agents_done
for cli in $CLIS; do
	t=agent-$cli
	report_pod "$t"
	pod=$(pod_of "$t")
	echo "# $t: phase $(phase "$t") reason $(kc -n "$NS" get task "$t" -o jsonpath='{.status.reason}') message $(kc -n "$NS" get task "$t" -o jsonpath='{.status.message}' | head -c 300)"
	check "$cli: Task -> Job -> real pod -> Succeeded" phase_is "$t" Succeeded
	check "$cli: the pod ran image agent-$cli from the local registry, exit 0" bash -c \
		"[[ '$(agent_status "$pod" '.imageID')' == 127.0.0.1:$REG_PORT/paddock/agent-$cli@sha256:* ]] &&
		 [ '$(agent_status "$pod" '.state.terminated.exitCode')' = 0 ]"
	check "$cli: the CLI's tool call wrote out.txt (status.outputs.out)" test \
		"$(kc -n "$NS" get task "$t" -o jsonpath='{.status.outputs.out}')" = PADDOCK_E2E_FILE_OK
	check "$cli: results.branch main and commit ${SRC_HEAD:0:12}: the workspace cloned from the git server pod" test \
		"$(kc -n "$NS" get task "$t" -o jsonpath='{.status.results.branch}')/$(kc -n "$NS" get task "$t" -o jsonpath='{.status.results.commit}')" = \
		"main/$SRC_HEAD"
	check "$cli: usage parsed from the real pod log (input tokens $(kc -n "$NS" get task "$t" -o jsonpath='{.status.usage.inputTokens}'))" bash -c \
		"[ '$(kc -n "$NS" get task "$t" -o jsonpath='{.status.usage.inputTokens}')' -gt 0 ] 2>/dev/null"
	check "$cli: the result text SCRIPTED_OK in the status" bash -c \
		"kubectl -n $NS get task $t -o jsonpath='{.status}' | grep -q SCRIPTED_OK"
done
kc -n "$NS" logs model-server >"$work/model-server.log" 2>&1
kc -n "$NS" logs git-server >"$work/git-server.log" 2>&1
check "the model server saw the Secret's key (by sha256) and never the key itself" bash -c \
	"grep -q '$CANARY_SHA' '$work/model-server.log' && ! grep -q '$CANARY' '$work/model-server.log'"
check "the git server served the clone to the init container with the token" \
	grep -q 'info/refs.* token=ok' "$work/git-server.log"
# The same request without the token, from a pod on the bridge: refused.
check "the git server refuses the repository without the token (HTTP 401)" bash -c \
	"kubectl -n $NS exec model-server -- python3 -c \"import urllib.request, urllib.error
try:
    urllib.request.urlopen('http://$GIT_IP:8080/repo.git/info/refs')
except urllib.error.HTTPError as e:
    raise SystemExit(0 if e.code == 401 else 1)
raise SystemExit(1)\""

# ---- 401: the model server refuses the key: Failed, with the authentication message
# hello_tasks PREFIX TIMEOUT: one "say hello" Task per CLI, PREFIX-CLI.
hello_tasks() {
	local cli
	for cli in $CLIS; do
		kc apply -f - >/dev/null <<YML
apiVersion: paddock.dev/v1alpha1
kind: Task
metadata: {name: $1-$cli, namespace: $NS}
spec: {agentRef: {name: $cli}, prompt: "Say hello, then reply SCRIPTED_OK.", timeout: $2}
YML
	done
}
# all_ended PREFIX: every PREFIX-CLI Task has ended.
all_ended() { local c; for c in $CLIS; do case $(phase "$1-$c") in Succeeded|Failed|Stopped) ;; *) return 1 ;; esac; done; }
host_controller real-host-401 "$(drivers_at "$MS401_IP")"
hello_tasks a401 4m
wait_for 300 all_ended a401
for cli in $CLIS; do
	t=a401-$cli
	report_pod "$t" | head -n 1
	msg=$(kc -n "$NS" get task "$t" -o jsonpath='{.status.message}')
	echo "# $t: phase $(phase "$t") message ${msg:0:200}"
	check "$cli 401: Failed in the real pod with the authentication message" bash -c \
		"[ '$(phase "$t")' = Failed ] && grep -qi 'authentication' <<<'${msg//\'/}'"
done
# ---- fenced: the same CLIs behind the egress sidecar (issue 12) ------------
# kubernetes.proxyImage (the controller's image, built here) and egress
# allowlist: each pod gets `paddock __egress` as a native sidecar holding
# the key; the CLI holds a placeholder and talks to 127.0.0.1:3129 in its
# pod, the sidecar to the model server pod (a private address: allowPrivate).
KUBE_EXTRA=", proxyImage: \"$IMG_CONTROLLER\"" host_controller real-host-fenced "$(drivers_at "$MS_IP")" \
	"network: {egress: allowlist, allowPrivate: true}"
kc -n "$NS" logs model-server >"$work/model-server-before.log" 2>&1
hello_tasks fenced 6m
wait_for 420 all_ended fenced
for cli in $CLIS; do
	t=fenced-$cli
	report_pod "$t" | head -n 1
	pod=$(pod_of "$t")
	echo "# $t: phase $(phase "$t") message $(kc -n "$NS" get task "$t" -o jsonpath='{.status.message}' | head -c 200)"
	check "$cli fenced: Succeeded in a real pod behind the egress sidecar" phase_is "$t" Succeeded
	kc -n "$NS" get pod "$pod" -o json >"$work/$t.pod.json" 2>/dev/null
	check "$cli fenced: the pod ran the sidecar paddock-egress, and the agent container holds no secret reference" \
		python3 - "$work/$t.pod.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["spec"]
sc = [c for c in p.get("initContainers", []) if c["name"] == "paddock-egress" and c.get("restartPolicy") == "Always"]
agent = [c for c in p["containers"] if c["name"] == "agent"][0]
env = {e["name"]: e for e in agent.get("env", [])}
ok = len(sc) == 1 and not any("valueFrom" in e for e in env.values()) and \
     any(e.get("value", "").startswith("paddock-placeholder-") for e in env.values())
sys.exit(0 if ok else 1)
PY
	check "$cli fenced: the sidecar's log has the credential route's request (status 200)" bash -c \
		"kubectl -n $NS logs $pod -c paddock-egress 2>/dev/null | grep -q '\"rule\":\"credential route\",\"allowed\":true,\"status\":200'"
done
kc -n "$NS" logs model-server >"$work/model-server-after.log" 2>&1
check "fenced: the model server still received the Secret's key (by sha256) through the sidecars" bash -c \
	"[ \$(grep -c '$CANARY_SHA' '$work/model-server-after.log') -gt \$(grep -c '$CANARY_SHA' '$work/model-server-before.log') ]"

check "no secret in any Task's status or Job spec" bash -c \
	"! kubectl -n $NS get tasks,jobs -o yaml | grep -qE '$CANARY|$GIT_TOKEN'"
