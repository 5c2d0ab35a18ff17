# SPDX-License-Identifier: MIT
# tests/github/servers.sh - sourced by the tests of Spawners' github source
# (tests/local/github.sh, tests/k8s/test-github.sh): the stateful scripted
# GitHub (fake-github.py) behind Stoplight Prism validating each request
# and answer against GitHub's OpenAPI description (@octokit/openapi), both
# on free ports of 127.0.0.1.
#
# gh_servers WORK TOKEN-A TOKEN-B - install Prism if needed, start both.
#   Sets GH (the fake itself: its /_test/ endpoints), API (Prism: the
#   Spawners' baseURL), PRISM, SPEC (for check-prism.py, with
#   WORK/prism.log) and GH_PIDS (kill them at exit).  Returns 77 with
#   GH_WHY when Prism cannot be installed, 1 with GH_WHY when a server
#   did not start.
# ghstate            the fake's state (issues, comments, labels, log) as JSON
# gh_issue JSON      make an issue; prints its number
# gh_flow            the spec.github lines both tests' Spawners share (label
#                    moves ready -> in-progress -> needs-review or failed,
#                    polls every 1 to 2 s), indented for spec.github
GH_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GH_PIDS=()

gh_servers() {
	local work=$1 prefix pport
	# npm is needed once, to fill the cache (PADDOCK_CACHE_DIR)
	prefix=$("$GH_HERE/install.sh" 2>"$work/install.err") || {
		GH_WHY="@stoplight/prism-cli and @octokit/openapi from npm are not installed and tests/github/install.sh failed: $(tail -1 "$work/install.err")"
		return 77
	}
	PRISM=$prefix/node_modules/.bin/prism
	SPEC=$prefix/node_modules/@octokit/openapi/generated/api.github.com.deref.json
	[ -x "$PRISM" ] && [ -f "$SPEC" ] ||
		{ GH_WHY="tests/github/install.sh left no prism or description in $prefix"; return 1; }
	python3 "$GH_HERE/fake-github.py" "$work/gh.port" "$2" "$3" 2>"$work/gh.err" &
	GH_PIDS+=($!)
	for _ in $(seq 100); do [ -s "$work/gh.port" ] && break; sleep 0.05; done
	[ -s "$work/gh.port" ] || { GH_WHY="the scripted GitHub did not start: $(tail -1 "$work/gh.err")"; return 1; }
	GH="http://127.0.0.1:$(cat "$work/gh.port")"
	pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$PRISM" proxy --errors -h 127.0.0.1 -p "$pport" "$SPEC" "$GH" >"$work/prism.log" 2>&1 &
	GH_PIDS+=($!)
	for _ in $(seq 600); do grep -q "Prism is listening" "$work/prism.log" && break; sleep 0.1; done
	grep -q "Prism is listening" "$work/prism.log" ||
		{ GH_WHY="prism did not start: $(tail -5 "$work/prism.log")"; return 1; }
	API="http://127.0.0.1:$pport"
}

ghstate() { curl -sf "$GH/_test/state"; }
gh_flow() {
	printf '    %s\n' "onStart: {add: [in-progress], remove: [ready]}" \
		"onSuccess: {add: [needs-review], remove: [in-progress]}" \
		"onFailure: {add: [failed], remove: [in-progress]}" "pollSeconds: 1" "maxPollSeconds: 2"
}
gh_issue() { curl -sf -X POST "$GH/_test/issue" -d "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["number"])'; }
