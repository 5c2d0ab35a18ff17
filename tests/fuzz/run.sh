#!/bin/sh
# tests/fuzz/run.sh BUILD_DIR [SECONDS] - build the fuzz targets, replay
# every saved crash in tests/fuzz/regress/<target>/, then fuzz each target
# for SECONDS (default 20) on a scratch copy of tests/fuzz/corpus/<target>/
# with the dictionary tests/fuzz/dict/<target>.dict.
#
# One target at a time.  Prints "TARGET: N execs, M crashes" per target
# and "N passed, N failed" at the end; exits non-zero if anything failed.
# FUZZ_TARGETS="fuzz_outputs fuzz_template" limits the run; FUZZ_OUT
# (default tests/fuzz/out) holds binaries, scratch corpora, logs and
# crash artifacts.  See docs/fuzzing.md.
set -u

here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [SECONDS]" >&2
	exit 2
fi
build=$1
secs=${2:-20}
out=${FUZZ_OUT:-$here/out}
export FUZZ_OUT="$out"
targets=${FUZZ_TARGETS:-"fuzz_manifest fuzz_config fuzz_outputs fuzz_template fuzz_driver fuzz_kubeconfig fuzz_watch fuzz_webhook"}

mkdir -p "$out"
"$here/build.sh" "$build" >"$out/build.log" 2>&1 || {
	cat "$out/build.log" >&2
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
}

# Leaks are failures; don't let a slow input hang CI.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

passed=0
failed=0

# stat value from a libFuzzer log, or "?"
stat() {
	v=$(sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$2" | tail -n 1)
	echo "${v:-?}"
}

for t in $targets; do
	bin="$out/$t"
	log="$out/$t.log"

	# 1. Regression inputs: each must run clean (one process per file,
	#    so that every crashing file is named).
	if [ -d "$here/regress/$t" ] && [ -n "$(ls -A "$here/regress/$t" 2>/dev/null)" ]; then
		n=0
		bad=0
		: >"$out/$t.regress.log"
		for f in "$here/regress/$t"/*; do
			n=$((n + 1))
			one="$out/$t.regress.one"
			if ! "$bin" -rss_limit_mb=2048 -timeout=30 "$f" >"$one" 2>&1; then
				bad=$((bad + 1))
				why=$(grep -m 1 -E "ERROR: |runtime error|fuzz invariant" "$one")
				echo "    regress/$t/$(basename "$f"): ${why:-crash}"
			fi
			cat "$one" >>"$out/$t.regress.log"
			rm -f "$one"
		done
		if [ $bad -eq 0 ]; then
			echo "$t: $n regression inputs replayed, 0 crashes"
			passed=$((passed + 1))
		else
			echo "$t: $n regression inputs replayed, $bad crashes (log $out/$t.regress.log)"
			failed=$((failed + 1))
		fi
	fi

	# 2. Fuzz for a bounded time on a scratch copy of the seeds.
	work="$out/work/$t"
	art="$out/artifacts/$t"
	rm -rf "$work" "$art"
	mkdir -p "$work" "$art"
	cp "$here/corpus/$t"/* "$work"/
	dict=""
	[ -f "$here/dict/$t.dict" ] && dict="-dict=$here/dict/$t.dict"
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		$dict -artifact_prefix="$art/" "$work" >"$log" 2>&1
	rc=$?
	execs=$(stat number_of_executed_units "$log")
	crashes=$(ls -A "$art" | wc -l)
	if [ $rc -eq 0 ] && [ "$crashes" -eq 0 ]; then
		echo "$t: $execs execs, 0 crashes"
		passed=$((passed + 1))
	else
		[ "$crashes" -eq 0 ] && crashes=1
		echo "$t: $execs execs, $crashes crashes (exit $rc, log $log)"
		grep -m 3 -E "ERROR: |runtime error|fuzz invariant" "$log" | sed 's/^/    /'
		grep -m 3 -E "^ +#[0-9]+ .* in " "$log" | sed 's/^/    /'
		for a in "$art"/*; do
			[ -e "$a" ] && echo "    artifact: $a"
		done
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
