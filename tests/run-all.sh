#!/usr/bin/env bash
# tests/run-all.sh BUILD_DIR - every test suite, in the order CI runs them.
# Called by `./setup.sh test` (which installs and builds first).
# Prints each stage's result and ends with one summary line
# "N passed, N failed" counting stages.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/_build}
jobs=${JOBS:-2}
passed=0 failed=0 failures=()
log_dir="$build/test-logs"
mkdir -p "$log_dir"

stage() { # stage NAME CMD...
	local name=$1; shift
	printf '==> %s\n' "$name"
	local t0=$SECONDS
	if "$@" >"$log_dir/$name.log" 2>&1; then
		passed=$((passed + 1))
		printf '    ok (%ds)\n' $((SECONDS - t0))
		grep -E '^not ok|^# watch|^[0-9]+%: Checks: |^# (PASS|FAIL|ERROR|SKIP|TOTAL):|^[0-9]+ passed, [0-9]+ failed|: [0-9]+ execs|ratio|ms/task|^(direct|bwrap|paddock|pipeline|sandbox|[0-9]+ +[0-9.]+ +[0-9.]+$)' "$log_dir/$name.log" | sed 's/^/    /' | tail -n 14
	else
		failed=$((failed + 1)) failures+=("$name")
		printf '    FAILED (%ds); last lines of %s:\n' $((SECONDS - t0)) "$log_dir/$name.log"
		tail -n 60 "$log_dir/$name.log" | sed 's/^/    | /'
	fi
}

unit() { make -C "$build" -j"$jobs" check; }

sanitizers() {
	local b="$here/_build-asan"
	mkdir -p "$b" && cd "$b" || return 1
	[ -f Makefile ] || "$here/configure" --enable-werror --enable-sanitizers --enable-test-hooks >/dev/null || return 1
	make -s -j"$jobs" >/dev/null && ASAN_OPTIONS=detect_leaks=1 make -j"$jobs" check
}

valgrind_pass() { "$here/tests/valgrind.sh" "$build"; }

fuzz() { "$here/tests/fuzz/run.sh" "$build" "${FUZZ_SECONDS:-20}"; }

bench() { make -C "$build/core" bench && N=${BENCH_TASKS:-200} "$here/bench/pipeline.sh" "$build" &&
	"$here/bench/agent-start.sh" "$build" &&
	"$here/bench/dashboard.sh" "$build" &&
	{ [ "${PADDOCK_SKIP_K8S:-0}" = 1 ] || [ ! -x "$here/tests/k8s/env.sh" ] || "$here/bench/k8s.sh" "$build"; }; }

distcheck() { make -C "$build" -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror; }

# The dashboard in headless Chromium, against the sanitizer build (it has
# the test hooks the Pending step needs).
# Then `paddock dashboard --kubeconfig` against kube-apiserver + kwok.
web() { TOP_BUILDDIR="$here/_build-asan" "$here/tests/web/run.sh" &&
	{ [ "${PADDOCK_SKIP_K8S:-0}" = 1 ] || TOP_BUILDDIR="$here/_build-asan" "$here/tests/web/kube.sh"; }; }

e2e() {
	[ "${PADDOCK_SKIP_E2E:-0}" = 1 ] && { echo "skipped (PADDOCK_SKIP_E2E=1)"; return 0; }
	"$here/tests/e2e/run.sh" "$build"
}

k8s() {
	[ "${PADDOCK_SKIP_K8S:-0}" = 1 ] && { echo "skipped (PADDOCK_SKIP_K8S=1)"; return 0; }
	# test-schedule-budget.sh needs the test clock: the sanitizer build has it.
	PADDOCK_HOOKS_BIN="$here/_build-asan/core/paddock" TOP_BUILDDIR="$build" "$here/tests/k8s/run.sh"
}

k8s_real() {
	[ "${PADDOCK_SKIP_K8S:-0}" = 1 ] && { echo "skipped (PADDOCK_SKIP_K8S=1)"; return 0; }
	[ "${PADDOCK_SKIP_K8S_REAL:-0}" = 1 ] && { echo "skipped (PADDOCK_SKIP_K8S_REAL=1)"; return 0; }
	TOP_BUILDDIR="$build" "$here/tests/k8s/real/run.sh"
}

stage unit unit
stage sanitizers sanitizers
[ -x "$here/tests/web/run.sh" ] && stage web web
[ -x "$here/tests/valgrind.sh" ] && stage valgrind valgrind_pass
[ -x "$here/tests/e2e/run.sh" ] && stage e2e e2e
[ -x "$here/tests/k8s/run.sh" ] && stage k8s k8s
[ -x "$here/tests/k8s/real/run.sh" ] && stage k8s-real k8s_real
stage fuzz fuzz
stage bench bench
stage distcheck distcheck

echo
# Check's own summary, summed over every suite of the unit stage.
find "$build/tests" -name '*.log' -path '*unit*' -exec grep -hE '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' {} + 2>/dev/null |
	awk -F'[:,] *' '{c += $3; f += $5; e += $7} END {if (c) printf "%d%%: Checks: %d, Failures: %d, Errors: %d (all Check suites)\n", c ? int(100 * (c - f - e) / c) : 0, c, f, e}'
[ $failed -gt 0 ] && echo "failed stages: ${failures[*]} (logs in $log_dir)"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
