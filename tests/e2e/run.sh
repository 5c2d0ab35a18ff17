#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh - the single entry point of the agent-CLI end-to-end tests (CI):
#
#   tests/e2e/run.sh BUILD_DIR
#
#   1. installs the four pinned CLIs with install-clis.sh into the cache
#      outside the repository (${PADDOCK_CACHE_DIR:-$HOME/.cache/paddock};
#      idempotent: seconds when cached);
#   2. builds BUILD_DIR/tests/e2e/plan-dump (for stage "direct");
#   3. stage "paddock": test-paddock.sh - each driver through `paddock run`
#      (local backend, SQLite store, bubblewrap sandbox) against
#      model_server.py: success, 401, unreachable;
#   4. stage "direct": test-entrypoints.sh - each driver's entrypoint run
#      directly with the plan's environment (no paddock, no sandbox), which
#      also keeps the recorded streams in tests/data/streams/ honest.
#
# Prints every check, then a final line "N passed, N failed" (over all
# stages; a stage that dies without its summary, a skip or a timeout counts
# as one failure), and exits non-zero on any failure.
# The stages run in a loopback-only network namespace when possible (root).
# Env: E2E_STAGES (default "paddock direct"), E2E_CLIS (default all four),
#      E2E_NETNS=0 (host network), PADDOCK_CACHE_DIR, KEEP=1 (keep work dirs).
set -u
set -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP_SRCDIR=$(cd "$HERE/../.." && pwd)
STAGES=${E2E_STAGES:-paddock direct}
CLIS=${E2E_CLIS:-claude-code codex gemini opencode}

PASS=0
FAIL=0
summary() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" = 0 ] && exit 0
	exit 1
}

if [ $# -ne 1 ]; then
	echo "usage: tests/e2e/run.sh BUILD_DIR" >&2
	exit 2
fi
if ! BUILD_DIR=$(cd "$1" 2>/dev/null && pwd) || [ ! -x "$BUILD_DIR/core/paddock" ] ||
	[ ! -f "$BUILD_DIR/drivers/.libs/claude-code.so" ]; then
	echo "run.sh: $1 is not a built Paddock tree (no core/paddock or drivers/.libs/*.so): run make there first" >&2
	FAIL=1
	summary
fi
export TOP_SRCDIR TOP_BUILDDIR=$BUILD_DIR
t_start=$(date +%s)

# ---- 1. the CLIs ----------------------------------------------------------
t0=$(date +%s)
if ! timeout -k 10 1200 "$HERE/install-clis.sh" $CLIS; then
	echo "FAIL install-clis.sh $CLIS"
	FAIL=$((FAIL + 1))
	summary
fi
echo "run.sh: CLIs ready in $(($(date +%s) - t0))s"

# ---- 2. plan-dump ---------------------------------------------------------
PLAN_DUMP=$BUILD_DIR/tests/e2e/plan-dump
mkdir -p "$(dirname "$PLAN_DUMP")"
if [ ! -x "$PLAN_DUMP" ] || [ -n "$(find "$HERE/plan-dump.c" "$TOP_SRCDIR/core/control/plan.c" \
	"$TOP_SRCDIR/core/control/plan.h" "$TOP_SRCDIR/core/base/util.c" "$TOP_SRCDIR/core/base/util.h" \
	"$TOP_SRCDIR/core/include/paddock/plugin.h" -newer "$PLAN_DUMP" 2>/dev/null)" ]; then
	if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
		-I"$BUILD_DIR" -I"$TOP_SRCDIR/core" -I"$TOP_SRCDIR/core/include" \
		"$HERE/plan-dump.c" "$TOP_SRCDIR/core/control/plan.c" "$TOP_SRCDIR/core/base/util.c" -ldl -o "$PLAN_DUMP"; then
		echo "FAIL build tests/e2e/plan-dump"
		FAIL=$((FAIL + 1))
		summary
	fi
fi
export PLAN_DUMP

# ---- 3./4. the stages -----------------------------------------------------
# In a loopback-only network namespace (as root): the model server is the
# only peer, so a CLI that phones home (opencode installs its plugin package
# from npm in the background when it can) cannot reach out, and a test that
# passes does not depend on the internet.  E2E_NETNS=0 turns it off.
NETNS=()
if [ "${E2E_NETNS:-1}" = 1 ] && command -v unshare >/dev/null && command -v ip >/dev/null &&
	unshare -n ip link set lo up 2>/dev/null; then
	NETNS=(unshare -n sh -c 'ip link set lo up && exec "$@"' sh)
	echo "run.sh: stages run in a loopback-only network namespace (unshare -n)"
else
	echo "run.sh: note: stages run with the host network (no unshare -n here: needs root and ip(8))"
fi

# run_stage NAME TIME_LIMIT COMMAND...: adds the stage's "N passed, N failed".
run_stage() {
	local name=$1 limit=$2 out rc line p f t0
	shift 2
	out=$(mktemp "${TMPDIR:-/tmp}/paddock-e2e-stage.XXXXXX")
	t0=$(date +%s)
	echo "==== stage $name: $*"
	timeout -k 15 "$limit" "${NETNS[@]}" "$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	rm -f "$out"
	if [ -n "$line" ]; then
		p=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$line")
		f=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$line")
		PASS=$((PASS + p))
		FAIL=$((FAIL + f))
	fi
	if [ -z "$line" ] || { [ "$rc" != 0 ] && [ "${f:-0}" = 0 ]; }; then
		case $rc in
		124 | 137) echo "FAIL stage $name: killed after ${limit}s" ;;
		77) echo "FAIL stage $name: skipped (CLIs missing after install?)" ;;
		*) echo "FAIL stage $name: exit status $rc without a failed check" ;;
		esac
		FAIL=$((FAIL + 1))
	fi
	echo "==== stage $name: $(($(date +%s) - t0))s, rc $rc"
}

for stage in $STAGES; do
	case $stage in
	paddock) run_stage paddock 720 "$HERE/test-paddock.sh" $CLIS ;;
	direct) run_stage direct 600 "$HERE/test-entrypoints.sh" $CLIS ;;
	*)
		echo "FAIL unknown stage \"$stage\": use paddock or direct"
		FAIL=$((FAIL + 1))
		;;
	esac
done

echo "run.sh: total $(($(date +%s) - t_start))s"
summary
