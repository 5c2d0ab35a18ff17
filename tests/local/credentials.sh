#!/usr/bin/env bash
# `paddock run --type DRIVER` stores a credential it finds (environment,
# ~/.config/paddock/config.yaml) as a content-addressed Secret
# paddock-DRIVER-credentials-HASH (HASH: the first 10 hex digits of
# SHA-256 of the key name, a NUL and the value):
#   - a task queued with key A keeps A when a later run finds key B: the
#     two reference different Secrets and A's Secret is never rewritten
#     (read from the SQLite store), and the queued task really runs with A;
#   - the same key again reuses its Secret (no new one per run); the key
#     name is part of the hash (apiKey and oauthToken of one value differ);
#   - the Secret is immutable;
#   - the key (plain or base64) and the full digest appear in no output:
#     run, get -o yaml/json, describe, logs, get secrets.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || { echo "SKIP: no sqlite3"; exit 77; }

# A fake claude CLI in a private directory (bound into the sandbox): its
# result names a short digest of the key it was given, never the key.
cli=$work/agents/bin/fake-claude
mkdir -p "$(dirname "$cli")"
cat >"$cli" <<'EOT'
#!/bin/sh
k=$(printf %s "${ANTHROPIC_API_KEY:-none}" | sha256sum | cut -c1-16)
echo "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"key $k\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}"
EOT
chmod 0755 "$cli"
chmod 0700 "$work"
sed -i '/^drivers:/d' "$PADDOCK_CONFIG"
echo "drivers: {exec: {enabled: true}, claude-code: {enabled: true, settings: {bin: \"$cli\"}}}" >>"$PADDOCK_CONFIG"
# The host's network: the fake CLI reads the key from its environment
# (injection by reference).  Behind the proxy (the default as root) it
# would hold a placeholder: tests/e2e/test-paddock.sh checks that path
# with the real CLIs.
echo "network: {egress: open}" >>"$PADDOCK_CONFIG"
# No credential from the developer's own environment or config.
unset ANTHROPIC_API_KEY CLAUDE_CODE_OAUTH_TOKEN PADDOCK_API_KEY PADDOCK_OAUTH_TOKEN
export XDG_CONFIG_HOME=$work/xdg HOME=$work/home
mkdir -p "$XDG_CONFIG_HOME" "$HOME"

KEY_A="sk-ant-test-A-$RANDOM$RANDOM-9f8e7d6c5b4a"
KEY_B="sk-ant-test-B-$RANDOM$RANDOM-1a2b3c4d5e6f"
db=$PADDOCK_STATE_DIR/paddock.db
out=$work/all # every output the CLI gives, checked for the keys at the end

# secret_of TASK: the Secret the task's credentials reference
secret_of() {
	pd get task "$1" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["spec"]["credentials"]["secretRef"]["name"])'
}
# stored NAME: the Secret's stored row (data, generation), from the store
stored() {
	sqlite3 "$db" "SELECT json_extract(spec_json, '$.data'), generation, updated_ms FROM objects WHERE kind = 'Secret' AND name = '$1'"
}
# hash KEYNAME VALUE: the 10 hex digits the name should end in
hash10() { printf '%s\0%s' "$1" "$2" | sha256sum | cut -c1-10; }
b64() { printf %s "$1" | base64 -w0; }
short() { printf %s "$1" | sha256sum | cut -c1-16; }

ANTHROPIC_API_KEY=$KEY_A pd run --type claude-code --detach --name qa -p "first" >>"$out" 2>&1 ||
	fail "run with key A: $(cat "$out")"
sa=$(secret_of qa)
[ "$sa" = "paddock-claude-code-credentials-$(hash10 apiKey "$KEY_A")" ] ||
	fail "task qa references \"$sa\", not paddock-claude-code-credentials-HASH of (apiKey, A)"
row_a=$(stored "$sa")
[ "$(echo "$row_a" | cut -d'|' -f1)" = "{\"apiKey\":\"$(b64 "$KEY_A")\"}" ] || fail "Secret $sa does not hold key A"
pass "key A: stored as $sa (queued task qa references it)"

ANTHROPIC_API_KEY=$KEY_B pd run --type claude-code --detach --name qb -p "second" >>"$out" 2>&1 ||
	fail "run with key B: $(cat "$out")"
sb=$(secret_of qb)
[ "$sb" = "paddock-claude-code-credentials-$(hash10 apiKey "$KEY_B")" ] && [ "$sb" != "$sa" ] ||
	fail "task qb references \"$sb\" (qa: \"$sa\")"
[ "$(secret_of qa)" = "$sa" ] || fail "queued task qa now references $(secret_of qa)"
[ "$(stored "$sa")" = "$row_a" ] || fail "Secret $sa changed under queued task qa: $row_a -> $(stored "$sa")"
[ "$(stored "$sb" | cut -d'|' -f1)" = "{\"apiKey\":\"$(b64 "$KEY_B")\"}" ] || fail "Secret $sb does not hold key B"
pass "key B: a Secret of its own ($sb); qa's Secret is unchanged (data, generation, update time)"

ANTHROPIC_API_KEY=$KEY_A pd run --type claude-code --detach --name qc -p "third" >>"$out" 2>&1 ||
	fail "run with key A again: $(cat "$out")"
[ "$(secret_of qc)" = "$sa" ] || fail "task qc (key A again) references $(secret_of qc), not $sa"
[ "$(stored "$sa")" = "$row_a" ] || fail "Secret $sa was rewritten by a run with the same key"
n=$(sqlite3 "$db" "SELECT count(*) FROM objects WHERE kind = 'Secret'")
[ "$n" = 2 ] || fail "$n Secrets after three runs with two keys"
pass "key A again: the same Secret, untouched; still 2 Secrets"

# The same value from the user config, as an oauthToken: the key name is
# part of the hash.
mkdir -p "$XDG_CONFIG_HOME/paddock"
printf 'oauthToken: "%s"\n' "$KEY_A" >"$XDG_CONFIG_HOME/paddock/config.yaml"
pd run --type claude-code --credentials oauth --detach --name qo -p "oauth" >>"$out" 2>&1 ||
	fail "run with an oauthToken from the user config: $(cat "$out")"
so=$(secret_of qo)
[ "$so" = "paddock-claude-code-credentials-$(hash10 oauthToken "$KEY_A")" ] && [ "$so" != "$sa" ] ||
	fail "oauth task qo references \"$so\" (apiKey of the same value: \"$sa\")"
pass "the same value as oauthToken: another Secret ($so)"

pd get secret "$sa" -o json >"$work/secret.json"
cat "$work/secret.json" >>"$out"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["immutable"] is True and d["metadata"]["labels"]["paddock.dev/credentials"] == "claude-code", d' \
	"$work/secret.json" || fail "Secret $sa is not immutable or not labelled: $(cat "$work/secret.json")"
cat >"$work/change.yaml" <<EOT
apiVersion: v1
kind: Secret
metadata: {name: $sa}
stringData: {apiKey: "$KEY_B"}
EOT
! pd apply -f "$work/change.yaml" >"$work/apply.out" 2>&1 || fail "a content-addressed Secret was changed by apply"
grep -q 'is immutable' "$work/apply.out" || fail "apply refused without saying why: $(cat "$work/apply.out")"
cat "$work/apply.out" >>"$out"
[ "$(stored "$sa")" = "$row_a" ] || fail "Secret $sa changed by a refused apply"
pass "the Secret is immutable: apply of other data is refused ($(head -1 "$work/apply.out"))"

# Run what is queued: qa (submitted with A, before B) runs with A.
"$PADDOCK_BIN" controller >>"$work/controller.log" 2>&1 &
cleanup_pids+=("$!")
phase() { pd get task "$1" -o json | python3 -c 'import json,sys; s=json.load(sys.stdin)["status"]; print(s.get("phase",""))'; }
for _ in $(seq 600); do
	done=0
	for t in qa qb qc; do case $(phase $t) in Succeeded|Failed|Stopped) done=$((done + 1)) ;; esac; done
	[ $done = 3 ] && break
	sleep 0.1
done
for t in qa qb qc; do
	[ "$(phase $t)" = Succeeded ] || fail "task $t: $(phase $t): $(pd describe $t 2>&1 | tail -20; tail -20 "$work/controller.log")"
done
result() { pd get task "$1" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get("result",""))'; }
[ "$(result qa)" = "key $(short "$KEY_A")" ] || fail "queued task qa ran with another key: $(result qa)"
[ "$(result qb)" = "key $(short "$KEY_B")" ] || fail "task qb ran with another key: $(result qb)"
[ "$(result qc)" = "key $(short "$KEY_A")" ] || fail "task qc ran with another key: $(result qc)"
pass "queued task qa ran with key A after key B was submitted; qb with B, qc with A"

# ---- nothing prints the key ----------------------------------------------
for t in qa qb qc qo; do
	for f in yaml json; do pd get task "$t" -o "$f" >>"$out" 2>&1; done
	pd describe "$t" >>"$out" 2>&1 || true
done
for t in qa qb qc; do pd logs --raw "$t" >>"$out" 2>&1; done
pd get tasks -o wide >>"$out" 2>&1
pd get secrets >>"$out" 2>&1
pd get secrets -o yaml >>"$out" 2>&1
cat "$work/controller.log" >>"$out"
grep -q "paddock-claude-code-credentials-" "$out" || fail "the outputs checked do not even name the Secrets"
grep -q 'key ' "$out" || fail "the outputs checked do not include the runs' results"
for k in "$KEY_A" "$KEY_B"; do
	for form in "$k" "$(b64 "$k")" "$(printf '%s\0%s' apiKey "$k" | sha256sum | cut -c1-64)" \
		"$(printf '%s\0%s' oauthToken "$k" | sha256sum | cut -c1-64)"; do
		! grep -qF -- "$form" "$out" || fail "a key (or its base64 or full digest) appears in the output, lines: $(grep -nF -- "$form" "$out" | cut -d: -f1 | tr '\n' ' ')"
	done
done
pass "no key, base64 of a key or full digest in run, get -o yaml/json, describe, logs, get secrets or the controller log ($(wc -l <"$out") lines)"
