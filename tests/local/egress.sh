#!/usr/bin/env bash
# The run's network (paddock.yaml network.egress; docs/sandbox.md), tried
# from inside the sandbox by a hostile exec agent that first proves it ran
# (a marker in its output), then tries, each with a short timeout:
#   - the host's 127.0.0.1 and ::1 listeners (started by this test),
#   - a host abstract unix socket (also this test's),
#   - the cloud metadata address and a raw public IP, ignoring any proxy,
#   - listening on a port, which the host then tries to reach.
# With egress: open (today's default) the same agent reaches the host's
# loopback listener: the control case, which shows the probes can succeed.
# With egress: none every probe fails and nothing it listens on is seen
# from the host.  An Agent narrowing an operator's allowlist to none gets
# no network (no proxy either), and one widening it is refused.
. "$(dirname "$0")/lib.sh"
command -v bwrap >/dev/null || { echo "SKIP: bwrap not installed"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed"; exit 77; }

abstract="paddock-egress-test-$$"
listen_port=$((20000 + RANDOM % 20000))
# Host listeners: IPv4 and IPv6 loopback, an abstract socket; each
# answers "host" to whoever connects.
cat >"$work/host.py" <<'PY'
import socket, sys, threading, os
out, name = sys.argv[1], sys.argv[2]
socks = []
s4 = socket.socket(socket.AF_INET); s4.bind(("127.0.0.1", 0)); s4.listen(8); socks.append(s4)
try:
    s6 = socket.socket(socket.AF_INET6); s6.bind(("::1", 0)); s6.listen(8); socks.append(s6)
    p6 = s6.getsockname()[1]
except OSError:
    p6 = 0
su = socket.socket(socket.AF_UNIX); su.bind("\0" + name); su.listen(8); socks.append(su)
with open(out + ".tmp", "w") as f:
    f.write("%d %d\n" % (s4.getsockname()[1], p6))
os.rename(out + ".tmp", out)
def serve(s):
    while True:
        c, _ = s.accept()
        c.sendall(b"host\n"); c.close()
for s in socks:
    threading.Thread(target=serve, args=(s,), daemon=True).start()
threading.Event().wait(600)
PY
python3 "$work/host.py" "$work/ports" "$abstract" &
cleanup_pids+=($!)
for i in $(seq 100); do [ -s "$work/ports" ] && break; sleep 0.05; done
read -r port4 port6 <"$work/ports"

cat >"$work/probe.py" <<'PY'
import socket, sys, time, os
port4, port6, abstract, lport = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
out = open("probes.txt", "w")
out.write("payload ran\n"); out.flush()
def probe(name, family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(addr)
        data = s.recv(16)
        out.write("%s reached %r\n" % (name, data))
    except OSError as e:
        out.write("%s refused %s\n" % (name, e.__class__.__name__ + ":" + str(e.errno)))
    finally:
        s.close()
    out.flush()
probe("host-loopback-v4", socket.AF_INET, ("127.0.0.1", port4))
if port6:
    probe("host-loopback-v6", socket.AF_INET6, ("::1", port6))
probe("host-abstract", socket.AF_UNIX, "\0" + abstract)
probe("metadata", socket.AF_INET, ("169.254.169.254", 80))
probe("raw-public-ip", socket.AF_INET, ("1.1.1.1", 443))
l = socket.socket(socket.AF_INET)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", lport)); l.listen(1)
out.write("listening %d\n" % lport); out.flush()
time.sleep(3)
PY

cat >"$work/agent.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: prober}
spec:
  type: exec
  command: "python3 $work/probe.py $port4 $port6 $abstract $listen_port; cat probes.txt"
  sandbox: {readOnlyPaths: ["$work/probe.py"]}
EOT
pd apply -f "$work/agent.yaml" >/dev/null

with_egress() {
	sed -i '/^network:/d' "$PADDOCK_CONFIG"
	echo "network: {egress: $1}" >>"$PADDOCK_CONFIG"
}

# Run the prober as task $1; while it listens, try its port from the host.
probe_run() {
	pd run --agent prober --name "$1" -p go >"$work/$1.out" 2>&1 &
	local runner=$! i
	host_reached=no
	for i in $(seq 200); do
		if python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1', int(sys.argv[1])), 0.2)" "$listen_port" 2>/dev/null; then
			host_reached=yes
			break
		fi
		grep -q "listening" "$PADDOCK_STATE_DIR"/runs/*/workspace/probes.txt 2>/dev/null && [ $i -gt 30 ] && break
		sleep 0.1
	done
	wait "$runner" || fail "$1 failed: $(cat "$work/$1.out"; pd logs "$1")"
	pd logs "$1" >"$work/$1.log"
	[ -z "${VERBOSE:-}" ] || cat "$work/$1.log"
	grep -q "payload ran" "$work/$1.log" || fail "$1: the payload did not run: $(cat "$work/$1.log")"
}

control_open() {
	with_egress open
	probe_run open1
	grep -q "host-loopback-v4 reached" "$work/open1.log" ||
		fail "with egress open the agent should reach the host's loopback (the control case): $(cat "$work/open1.log")"
	pd describe task open1 | grep -qx "Egress: *open - unfenced: the host's network, as any process (paddock.yaml network.egress)" ||
		fail "describe does not flag open: $(pd describe task open1)"
	pass "egress open (the control case): the probe reaches the host's 127.0.0.1 listener"
}

egress_none() {
	with_egress none
	probe_run none1
	for p in host-loopback-v4 host-abstract metadata raw-public-ip $([ "$port6" != 0 ] && echo host-loopback-v6); do
		grep -q "^$p refused" "$work/none1.log" || fail "egress none: $p not refused: $(cat "$work/none1.log")"
	done
	grep -q "listening $listen_port" "$work/none1.log" || fail "the agent did not listen: $(cat "$work/none1.log")"
	[ "$host_reached" = no ] || fail "egress none: the host reached the port the agent listened on"
	pass "egress none: host 127.0.0.1/::1, a host abstract socket, 169.254.169.254 and a raw public IP all refused; a port the agent listens on is not the host's"
}

# With egress: allowlist the agent reaches the proxy on its own loopback
# (HTTP_PROXY says where); the proxy, outside, connects only to the
# allowlist, and checks the address it connects to.
cat >"$work/proxy-probe.py" <<'PY'
import os, socket, sys, time
port4, other = int(sys.argv[1]), int(sys.argv[2])
out = open("probes.txt", "w")
out.write("payload ran\n")
out.write("proxy env %s\n" % os.environ.get("HTTPS_PROXY", "-"))
def via_proxy(name, line):
    s = socket.create_connection(("127.0.0.1", 3128), 5)
    s.sendall(line.encode() + b"\r\n\r\n")
    s.settimeout(5)
    data = b""
    try:
        while len(data) < 4096:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            if line.startswith("CONNECT") and b"\r\n\r\n" in data:
                break
    except OSError:
        pass
    s.close()
    status = data.split(b"\r\n", 1)[0].decode(errors="replace")
    out.write("%s %s | %s\n" % (name, status, data.split(b"\r\n\r\n", 1)[-1][:20]))
via_proxy("allowed-get", "GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: 127.0.0.1:%d" % (port4, port4))
via_proxy("not-allowed-connect", "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x" % other)
via_proxy("metadata-connect", "CONNECT 169.254.169.254:80 HTTP/1.1\r\nHost: x")
via_proxy("mapped-metadata", "CONNECT [::ffff:169.254.169.254]:80 HTTP/1.1\r\nHost: x")
# a flood of malformed requests: answered 400 each, one Event for all of them
bad = 0
for i in range(30):
    s = socket.create_connection(("127.0.0.1", 3128), 5)
    s.sendall(b"GARBAGE\r\n\r\n"); s.settimeout(5)
    if s.recv(64).startswith(b"HTTP/1.1 400"):
        bad += 1
    s.close()
out.write("garbage answered 400: %d\n" % bad)
s = socket.socket(); s.settimeout(2)
try:
    s.connect(("127.0.0.1", port4)); out.write("direct reached\n")
except OSError as e:
    out.write("direct refused %s\n" % e.errno)
out.flush()
PY

egress_allowlist() {
	# a second host listener the allowlist does not name
	python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(4); open('$work/other','w').write(str(s.getsockname()[1])); time.sleep(600)" &
	cleanup_pids+=($!)
	for i in $(seq 100); do [ -s "$work/other" ] && break; sleep 0.05; done
	other=$(cat "$work/other")
	sed -i '/^network:/d' "$PADDOCK_CONFIG"
	echo "network: {egress: allowlist, allowLoopback: true, allow: [\"127.0.0.1:$port4\", \"169.254.169.254\"]}" >>"$PADDOCK_CONFIG"
	cat >"$work/proxy-agent.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: proxy-prober}
spec:
  type: exec
  command: "python3 $work/proxy-probe.py $port4 $other; cat probes.txt"
  sandbox: {readOnlyPaths: ["$work/proxy-probe.py"], env: {HTTPS_PROXY: "http://evil.example:1", no_proxy: "*"}}
EOT
	pd apply -f "$work/proxy-agent.yaml" >/dev/null
	pd run --agent proxy-prober --name allow1 -p go >"$work/allow1.out" 2>&1 ||
		fail "allow1 failed: $(cat "$work/allow1.out"; pd logs allow1)"
	pd logs allow1 >"$work/allow1.log"
	[ -z "${VERBOSE:-}" ] || cat "$work/allow1.log"
	grep -q "payload ran" "$work/allow1.log" || fail "the payload did not run: $(cat "$work/allow1.log")"
	grep -q "proxy env http://127.0.0.1:3128" "$work/allow1.log" || fail "no HTTPS_PROXY for the agent: $(cat "$work/allow1.log")"
	grep -q "^allowed-get .*host" "$work/allow1.log" || fail "the allowlisted host was not reached: $(cat "$work/allow1.log")"
	grep -q "^not-allowed-connect HTTP/1.[01] 403" "$work/allow1.log" || fail "a host not on the allowlist was not refused: $(cat "$work/allow1.log")"
	grep -q "^metadata-connect HTTP/1.[01] 403" "$work/allow1.log" || fail "169.254.169.254 was not refused although allowlisted: $(cat "$work/allow1.log")"
	grep -q "^mapped-metadata HTTP/1.[01] 403" "$work/allow1.log" || fail "::ffff:169.254.169.254 was not refused: $(cat "$work/allow1.log")"
	grep -q "^direct refused" "$work/allow1.log" || fail "a direct connection bypassed the proxy: $(cat "$work/allow1.log")"
	ev=$(pd describe task allow1 | sed -n '/^Events:/,$p')
	grep -q "EgressDenied.*127.0.0.1:$other.*not in the allowlist" <<<"$ev" || fail "no Event for the refused host: $ev"
	grep -q "EgressDenied.*169.254.169.254:80" <<<"$ev" || fail "no Event for the metadata address: $ev"
	pd describe task allow1 | grep -qx "Egress: *allowlist (paddock.yaml network.egress): 127.0.0.1:$port4, 169.254.169.254; defaults: -" ||
		fail "describe does not show the effective egress: $(pd describe task allow1)"
	# the flood: 30 answered, one Event with the count (not 30), counted in the traffic table
	grep -q "^garbage answered 400: 30" "$work/allow1.log" || fail "the flood was not answered 400: $(cat "$work/allow1.log")"
	[ "$(grep -c EgressRejected <<<"$ev")" = 1 ] && grep -q "EgressRejected.*answered 30 clients 400 before a target" <<<"$ev" ||
		fail "not one Event for the 30 malformed requests: $ev"
	# traffic per allowed host: the one GET, its bytes both ways
	d=$(pd describe task allow1)
	grep -A3 "^Egress traffic:" <<<"$d" | grep -Eq "^  127\.0\.0\.1 +1 req +[0-9]+ B up +[0-9]+ B down" ||
		fail "describe has no traffic line for the allowlisted host: $d"
	grep -q "rejected before a target: 30 malformed (400)" <<<"$d" || fail "describe does not count the flood: $d"
	rundir=$(sed -n 's/^Run dir: *//p' <<<"$d")
	python3 - "$rundir" <<'PYC' || fail "egress-traffic.json: $(cat "$rundir/egress-traffic.json")"
import json, sys
docs = [json.load(open(sys.argv[1] + "/egress-traffic.json"))]
h = [x for d in docs for x in d["hosts"] if x["host"] == "127.0.0.1"]
assert h and h[0]["requests"] == 1 and h[0]["bytesUp"] > 40 and h[0]["bytesDown"] >= 5, h
assert not [x for d in docs for x in d["hosts"] if x["host"] == "169.254.169.254"], "a refused host counted"
PYC
	pass "egress allowlist: the allowlisted host is reached through the proxy; another host, 169.254.169.254 (even allowlisted) and a direct connection are refused, each refusal an Event; 30 malformed requests make one EgressRejected Event; describe shows the traffic per host"
}

# The operator's allowlist is the ceiling: an Agent may narrow it to none
# (then there is no proxy: a probe of the proxy's port finds nothing) but
# not widen it to open (refused by apply, naming both settings).
agent_narrows() {
	sed -i '/^network:/d' "$PADDOCK_CONFIG"
	echo "network: {egress: allowlist, allow: [pkg.example]}" >>"$PADDOCK_CONFIG"
	cat >"$work/narrow-probe.py" <<'PY'
import socket
out = open("probes.txt", "w")
out.write("payload ran\n")
s = socket.socket(); s.settimeout(2)
try:
    s.connect(("127.0.0.1", 3128)); out.write("proxy reached\n")
except OSError as e:
    out.write("proxy refused %s\n" % e.errno)
out.close()
PY
	cat >"$work/narrow-agent.yaml" <<EOT
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: narrow}
spec:
  type: exec
  command: "python3 $work/narrow-probe.py; cat probes.txt"
  sandbox: {readOnlyPaths: ["$work/narrow-probe.py"]}
  network: {egress: none}
EOT
	pd apply -f "$work/narrow-agent.yaml" >/dev/null || fail "an Agent narrowing to none was refused"
	pd run --agent narrow --name narrow1 -p go >"$work/narrow1.out" 2>&1 ||
		fail "narrow1 failed: $(cat "$work/narrow1.out"; pd logs narrow1)"
	pd logs narrow1 >"$work/narrow1.log"
	grep -q "payload ran" "$work/narrow1.log" || fail "the payload did not run: $(cat "$work/narrow1.log")"
	grep -q "^proxy refused" "$work/narrow1.log" || fail "egress none under an allowlist: the proxy port answered: $(cat "$work/narrow1.log")"
	pd describe task narrow1 | grep -qx "Egress: *none - no network (Agent spec.network.egress)" ||
		fail "describe does not show the Agent's none: $(pd describe task narrow1)"
	sed 's/name: narrow}/name: wide}/; s/egress: none/egress: open/' "$work/narrow-agent.yaml" >"$work/wide-agent.yaml"
	if pd apply -f "$work/wide-agent.yaml" >"$work/wide.out" 2>&1; then
		fail "an Agent widening allowlist to open was applied"
	fi
	grep -q "spec.network.egress: open is wider than paddock.yaml network.egress (allowlist)" "$work/wide.out" ||
		fail "the refusal does not name both settings: $(cat "$work/wide.out")"
	pass "an Agent narrows the operator's allowlist to none (no proxy to reach; describe says so) and cannot widen it to open (apply refused)"
}

run_case control_open
run_case egress_none
run_case agent_narrows
[ "$(id -u)" = 0 ] && run_case egress_allowlist
[ ${#failed[@]} = 0 ] || { echo "FAILED: ${failed[*]}"; exit 1; }
