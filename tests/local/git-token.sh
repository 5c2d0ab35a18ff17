#!/usr/bin/env bash
# A workspace cloned with a token (tests/git-http-server.py: a private
# repository over smart HTTP behind Basic auth), then a hostile exec agent
# under the default egress (allowlist as root) that first proves it ran
# (the checkout's README in its output), then hunts for the token where
# it can look: its environment and every process's it can read
# (/proc/*/environ), every file under /workspace (.git/config included),
# its home and /tmp, and `git config --list`; and tries `git fetch` and
# `git push` to the repository itself.  The clone succeeds; the token is
# nowhere; the fetch and push without it are refused by the server (401:
# the agent holds no credential), and nothing reaches the repository.
. "$(dirname "$0")/lib.sh"
command -v git >/dev/null && [ -x /usr/lib/git-core/git-http-backend ] || { echo "SKIP: needs git http-backend"; exit 77; }

token="tok-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$work/git"
git init -q --bare -b main "$work/git/repo.git"
git clone -q "$work/git/repo.git" "$work/seed" 2>/dev/null
echo "private-readme-$RANDOM" >"$work/seed/README"
git -C "$work/seed" add README
git -C "$work/seed" -c user.email=t@p -c user.name=t commit -q -m init
git -C "$work/seed" push -q origin HEAD:main
git -C "$work/git/repo.git" config http.receivepack true
readme=$(cat "$work/seed/README")
head_before=$(git -C "$work/git/repo.git" rev-parse main)
GIT_TEST_TOKEN=$token python3 "$TOP_SRCDIR/tests/git-http-server.py" --root "$work/git" --port 0 \
	--port-file "$work/git.port" --log "$work/git.log" --lifetime 300 >/dev/null 2>"$work/git.err" &
cleanup_pids+=($!)
for _ in $(seq 50); do [ -s "$work/git.port" ] && break; sleep 0.1; done
port=$(cat "$work/git.port") || fail "git server did not start: $(cat "$work/git.err")"
# The repository is on 127.0.0.1: the egress allowlist needs loopback.
echo "network: {allowLoopback: true}" >>"$PADDOCK_CONFIG"

# (git leaves 127.0.0.1 to NO_PROXY: the agent sends its fetch and push
# through the proxy itself, as it would for a forge.)
# The agent cannot know the token, so it gathers what it can read into
# its workspace (every readable process environment, git's whole config)
# and the test greps that, its workspace, home and tmp on the host.
cat >"$work/hunt.sh" <<'EOS'
set -u
cat README
echo "--- ran"
mkdir -p .hunt
for f in /proc/[0-9]*/environ; do
	p=${f#/proc/}; p=${p%/environ}
	tr '\0' '\n' <"$f" >".hunt/env-$p" 2>/dev/null || rm -f ".hunt/env-$p"
done
echo "environments read: $(ls .hunt | grep -c '^env-')"
git config --list --show-origin >.hunt/git-config 2>&1
cp .git/config .hunt/dot-git-config 2>/dev/null
git -c user.email=a@b -c user.name=a commit -q --allow-empty -m agent 2>/dev/null
timeout 20 env -u NO_PROXY -u no_proxy git -c "http.proxy=$HTTP_PROXY" fetch -q origin 2>&1 | tail -1 | sed 's/^/fetch: /'
timeout 20 env -u NO_PROXY -u no_proxy git -c "http.proxy=$HTTP_PROXY" push -q origin HEAD:main 2>&1 | tail -1 | sed 's/^/push: /'
echo "--- done"
EOS
cat >"$work/gt.yaml" <<EOT
apiVersion: v1
kind: Secret
metadata: {name: gitcreds}
stringData: {token: "$token"}
---
apiVersion: paddock.dev/v1alpha1
kind: Agent
metadata: {name: hunter}
spec:
  type: exec
  command: 'sh $work/hunt.sh'
  sandbox: {readOnlyPaths: ["$work/hunt.sh"]}
EOT
pd apply -f "$work/gt.yaml" >/dev/null || fail "apply: $(pd apply -f "$work/gt.yaml" 2>&1)"
pd run --name hunt --agent hunter -p "look around" --workspace-repo "http://127.0.0.1:$port/repo.git" \
	--workspace-secret gitcreds --timeout 2m >"$work/run.out" 2>&1 ||
	fail "the run failed: $(cat "$work/run.out"; pd logs hunt 2>&1 | tail -5)"
pd logs hunt >"$work/logs" 2>&1
grep -qx "$readme" "$work/logs" || fail "the agent did not print the private README (did it run? was it cloned?): $(head -5 "$work/logs")"
grep -qx -- "--- done" "$work/logs" || fail "the agent did not finish its hunt: $(tail -5 "$work/logs")"
pass "the workspace was cloned with the token, and the agent ran in it ($(grep '^environments read' "$work/logs"))"
rd=$(pd describe task hunt | sed -n 's/^Run dir: *//p')
[ -n "$rd" ] && [ -d "$rd/workspace/.hunt" ] || fail "no run dir or hunt output: $rd"
[ -s "$rd/workspace/.hunt/git-config" ] || fail "the agent's git config dump is empty"
hits=$(grep -rlF "$token" "$rd/workspace" "$rd/home" "$rd/tmp" 2>/dev/null || true)
[ -z "$hits" ] || fail "the token is readable inside the sandbox: $hits"
! grep -qF "$token" "$work/logs" "$work/run.out" || fail "the token is in the run's output"
pass "the token is in no environment the agent could read, no file of its workspace, home or tmp, and not in git's config"
grep -q '^fetch: .*\(401\|Authentication failed\|could not read Username\|terminal prompts disabled\)' "$work/logs" ||
	fail "the agent's fetch without a credential was not refused: $(grep '^fetch' "$work/logs")"
[ "$(git -C "$work/git/repo.git" rev-parse main)" = "$head_before" ] || fail "the agent's push reached the repository"
grep -q '^push: ' "$work/logs" || fail "no push attempt recorded: $(tail -5 "$work/logs")"
grep -q 'git-receive-pack 401 auth=no' "$work/git.log" ||
	fail "the push did not reach the server through the proxy (so the refusal proves nothing): $(cat "$work/git.log")"
pass "fetch and push from inside need a credential the agent does not have: refused, the repository unchanged"
