#!/usr/bin/env bash
# paddock init writes a commented ~/.config/paddock/config.yaml, mode 0600
# in a 0700 directory, says what it wrote and keeps an existing file;
# its settings work when uncommented (namespace, model, apiKey), and an
# apiKey in a file others may read gets a warning naming the fix.
. "$(dirname "$0")/lib.sh"
export HOME=$work/home XDG_CONFIG_HOME=
mkdir -p "$HOME"
f=$HOME/.config/paddock/config.yaml
pd init >"$work/init.out" || fail "init: $(cat "$work/init.out")"
grep -q "^Wrote $f (mode 0600)" "$work/init.out" || fail "init says: $(cat "$work/init.out")"
[ "$(stat -c %a "$f")" = 600 ] || fail "mode $(stat -c %a "$f")"
[ "$(stat -c %a "$(dirname "$f")")" = 700 ] || fail "dir mode $(stat -c %a "$(dirname "$f")")"
for k in apiKey oauthToken model namespace; do
	grep -q "^#$k: " "$f" || fail "no commented $k in $(cat "$f")"
done
! grep -v '^#' "$f" | grep -q '[a-z]' || fail "a setting is not commented out: $(cat "$f")"
echo "# mine" >>"$f"
pd init >"$work/again.out" 2>&1 && fail "init replaced an existing file"
grep -q "exists: edit it, or paddock init --force" "$work/again.out" || fail "init on an existing file: $(cat "$work/again.out")"
grep -q '^# mine$' "$f" || fail "the existing file was changed"
pd init --force >/dev/null || fail "init --force"
! grep -q '^# mine$' "$f" || fail "--force did not replace the file"
pass "init: a commented config.yaml, 0600 in a 0700 directory; an existing file kept unless --force"

sed -i 's/^#namespace: default$/namespace: team-a/; s/^#model: .*/model: my-model/' "$f"
sed -i '/^drivers:/d' "$PADDOCK_CONFIG"
echo 'drivers: {exec: {enabled: true, settings: {command: "echo hi"}}}' >>"$PADDOCK_CONFIG"
pd run --type exec --name n1 -p hi --detach >/dev/null 2>&1 || true
pd get tasks -n team-a -o name | grep -qx 'Task/n1' || fail "namespace from config.yaml: $(pd get tasks -A)"
[ "$(pd get task n1 -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["spec"].get("model"))')" = my-model ] ||
	fail "model from config.yaml not used"
pass "init's namespace and model settings are used by paddock run"

cli=$work/agents/bin/fake-claude
mkdir -p "$(dirname "$cli")"
printf '#!/bin/sh\necho ok\n' >"$cli"
chmod 0755 "$cli"
sed -i '/^drivers:/d' "$PADDOCK_CONFIG"
echo "drivers: {exec: {enabled: true}, claude-code: {enabled: true, settings: {bin: \"$cli\"}}}" >>"$PADDOCK_CONFIG"
sed -i 's/^#apiKey: .*/apiKey: sk-test-canary-0644/' "$f"
chmod 0644 "$f"
env -u ANTHROPIC_API_KEY -u PADDOCK_API_KEY "$PADDOCK_BIN" run --type claude-code --name k1 -p hi --detach >/dev/null 2>"$work/k1.err" || true
grep -qx "paddock: warning: $f holds apiKey and other users may read it (mode 0644): chmod 600 $f" "$work/k1.err" ||
	fail "no 0644 warning: $(cat "$work/k1.err")"
! grep -q sk-test-canary "$work/k1.err" || fail "the key in a message"
chmod 0600 "$f"
env -u ANTHROPIC_API_KEY -u PADDOCK_API_KEY "$PADDOCK_BIN" run --type claude-code --name k2 -p hi --detach >/dev/null 2>"$work/k2.err" || true
! grep -q 'other users may read it' "$work/k2.err" || fail "a warning at 0600: $(cat "$work/k2.err")"
pass "an apiKey in a 0644 config.yaml is warned about (chmod 600), not at 0600"
