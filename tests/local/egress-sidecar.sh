#!/usr/bin/env bash
# `paddock __egress`, the proxy a Kubernetes Job runs as its sidecar
# (core/proxy/sidecar.c), as a real process: in a network namespace of
# its own (so its fixed ports 3128/3129 are its loopback's), with a
# scripted model server beside it, the credential in PADDOCK_ROUTE_VALUE:
#   - a request carrying the placeholder reaches the server with the real
#     key (the server logs its sha256), and the answer comes back;
#   - a request carrying another key is refused 403 and never reaches it;
#   - the forward proxy refuses a host not in its allowlist;
#   - the sidecar's own environment no longer holds the key, and it is
#     not dumpable (the agent, in the same PID namespace, reads neither);
#   - each request is one JSON line in its log; SIGTERM ends it with 0,
#     after a summary line of the traffic per allowed host.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (a network namespace)"; exit 77; }
command -v unshare >/dev/null && command -v curl >/dev/null || { echo "SKIP: needs unshare and curl"; exit 77; }

key="sk-sidecar-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
key_sha=$(printf %s "$key" | sha256sum | cut -d' ' -f1)
ph="paddock-placeholder-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$work/inside.sh" <<'EOS'
set -u
ip link set lo up 2>/dev/null || python3 -c 'import fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ifr = struct.pack("16sH", b"lo", 0)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, ifr))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1 | 0x40))'
python3 "$SRC/tests/e2e/model_server.py" --port 0 --port-file "$W/port" --log "$W/server.log" --lifetime 120 \
	>/dev/null 2>"$W/server.err" &
srv=$!
for _ in $(seq 50); do [ -s "$W/port" ] && break; sleep 0.1; done
port=$(cat "$W/port")
PADDOCK_ROUTE_VALUE=$KEY env -u KEY "$BIN" __egress --allow-loopback --allow api.example.com \
	--route-upstream "http://127.0.0.1:$port" --route-header x-api-key --route-placeholder "$PH" \
	>"$W/sidecar.out" 2>"$W/sidecar.err" &
sc=$!
echo "$sc" >"$W/sidecar.pid"
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:3128/ 2>/dev/null && break; sleep 0.1; done
body='{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"Say hello, then reply SCRIPTED_OK."}]}'
curl -s -m 10 -o "$W/ok.out" -w '%{http_code}' http://127.0.0.1:3129/v1/messages -H "x-api-key: $PH" \
	-H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -d "$body" >"$W/ok.code"
curl -s -m 10 -o "$W/bad.out" -w '%{http_code}' http://127.0.0.1:3129/v1/messages -H "x-api-key: sk-other" \
	-H 'content-type: application/json' -d "$body" >"$W/bad.code"
curl -s -m 10 -o /dev/null -w '%{http_code}' -x http://127.0.0.1:3128 http://not-allowed.example/ >"$W/fwd.code"
tr '\0' '\n' <"/proc/$sc/environ" >"$W/sidecar.environ" 2>/dev/null
python3 -c 'import sys; print(open("/proc/%s/status" % sys.argv[1]).read())' "$sc" >"$W/sidecar.status" 2>/dev/null
stat -c %u "/proc/$sc" >"$W/sidecar.procowner" 2>/dev/null
kill -TERM "$sc"
wait "$sc"
echo $? >"$W/sidecar.rc"
kill "$srv" 2>/dev/null
wait "$srv" 2>/dev/null
exit 0
EOS
W=$work SRC=$TOP_SRCDIR BIN=$PADDOCK_BIN KEY=$key PH=$ph timeout 60 unshare -n bash "$work/inside.sh" ||
	fail "the namespace's script failed: $(cat "$work/sidecar.err" "$work/server.err" 2>/dev/null | tail -5)"

[ "$(cat "$work/ok.code")" = 200 ] || fail "the placeholder's request: HTTP $(cat "$work/ok.code"): $(cat "$work/ok.out")"
grep -q SCRIPTED_OK "$work/ok.out" || fail "the server's answer did not come back: $(head -c 300 "$work/ok.out")"
grep -qF "\"$key_sha\"" "$work/server.log" || fail "the server did not receive the real key: $(cat "$work/server.log")"
pass "a request with the placeholder reached the server with the real key, and its answer came back"
[ "$(cat "$work/bad.code")" = 403 ] || fail "another key: HTTP $(cat "$work/bad.code"), not 403"
[ "$(grep -c '"path"' "$work/server.log")" = 1 ] || fail "the refused request reached the server: $(cat "$work/server.log")"
pass "a request with another key was refused 403 and never reached the server"
[ "$(cat "$work/fwd.code")" = 403 ] || fail "the forward proxy let not-allowed.example through: HTTP $(cat "$work/fwd.code")"
pass "the forward proxy refused a host outside its allowlist"
[ -s "$work/sidecar.environ" ] || fail "could not read the sidecar's environment (nothing to check)"
! grep -qF "$key" "$work/sidecar.environ" || fail "the sidecar's environment still holds the key"
grep -q '^PATH=' "$work/sidecar.environ" || fail "the environment read is not the sidecar's: $(head -3 "$work/sidecar.environ")"
# Not dumpable: /proc/PID is owned by root:root then, whatever the uid.
[ "$(cat "$work/sidecar.procowner")" = 0 ] || fail "the sidecar is dumpable (/proc/PID owner $(cat "$work/sidecar.procowner"))"
pass "the sidecar's environment no longer holds the key, and it is not dumpable"
[ "$(grep -c '"rule":"credential route"' "$work/sidecar.out")" = 2 ] ||
	fail "the sidecar's log does not have one line per route request: $(cat "$work/sidecar.out")"
grep -q '"host":"not-allowed.example".*"allowed":false' "$work/sidecar.out" ||
	fail "the sidecar's log has no refusal line: $(cat "$work/sidecar.out")"
! grep -qF "$key" "$work/sidecar.out" "$work/sidecar.err" || fail "the key is in the sidecar's log"
[ "$(cat "$work/sidecar.rc")" = 0 ] || fail "SIGTERM: exit $(cat "$work/sidecar.rc")"
pass "one JSON line per request in its log (no key), exit 0 on SIGTERM"
# The last line: the traffic per allowed host (the one request the route
# carried; the refused ones not counted) and the readiness probes'
# origin-form GETs counted as malformed, each kind on one rate-limited line.
tail -1 "$work/sidecar.out" | python3 -c '
import json, sys
s = json.load(sys.stdin)["summary"]
h = {x["host"]: x for x in s["hosts"]}
assert list(h) == ["127.0.0.1"], s
assert h["127.0.0.1"]["requests"] == 1 and h["127.0.0.1"]["bytesUp"] > 100 and h["127.0.0.1"]["bytesDown"] > 100, s
assert s["rejected"]["badRequest"] >= 1, s
' || fail "the sidecar's summary line: $(tail -1 "$work/sidecar.out")"
[ "$(grep -c '"rejected":[0-9]' "$work/sidecar.out")" -le 2 ] || fail "more than two rejection lines: $(cat "$work/sidecar.out")"
pass "its last log line sums the traffic per allowed host and the rejected clients"
