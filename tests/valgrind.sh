#!/bin/sh
# tests/valgrind.sh - run the core suites (config, loader, reconciler, model,
# resources and plan, terminal escaping, cgroups, the tree walker,
# templates, outputs, Kubernetes client and Job renderer, the egress
# proxy) under valgrind.
# Exits non-zero on any memory error or leak.  Not part of `make check`
# (slow); CI runs it after `make check`:
#
#     tests/valgrind.sh [BUILDDIR]      (default: the current directory)
#
# The suites run in-process (CK_FORK=no) so valgrind sees the code under
# test, not just Check's forking parent.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-${TOP_BUILDDIR:-$(pwd)}}
build=$(cd "$build" && pwd)
command -v valgrind >/dev/null 2>&1 ||
	{ echo "valgrind.sh: valgrind not found: apt-get install valgrind" >&2; exit 2; }
[ -f "$build/tests/Makefile" ] ||
	{ echo "valgrind.sh: $build is not a configured build directory" >&2; exit 2; }

MAKE=${MAKE:-make}
unset MAKEFLAGS MFLAGS 2>/dev/null || true
# The fixtures are check_LTLIBRARIES: build them and the two suites.
$MAKE -s -C "$build/tests/fixtures" check >/dev/null
$MAKE -s -C "$build/tests" unit/test_conf unit/test_loader unit/test_reconcile unit/test_template unit/test_outputs unit/test_kube unit/test_kube_render unit/test_model unit/test_pipeline unit/test_term unit/test_cgroup unit/test_util_tree unit/test_controller unit/test_egress >/dev/null

status=0
for t in test_conf test_loader test_reconcile test_template test_outputs test_kube test_kube_render \
	test_model test_pipeline test_term test_cgroup test_util_tree test_controller test_egress; do
	prog=$build/tests/unit/$t
	log=$build/tests/unit/$t.valgrind.log
	echo "valgrind: $t"
	# libtool may wrap the program in a script; run the real binary.
	if [ -x "$build/tests/unit/.libs/$t" ] && head -c 2 "$prog" | grep -q '#!'; then
		prog=$build/tests/unit/.libs/$t
	fi
	if ! CK_FORK=no TOP_SRCDIR="$here/.." TOP_BUILDDIR="$build" \
		valgrind --quiet --error-exitcode=1 --leak-check=full --child-silent-after-fork=yes \
		--show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible \
		--suppressions="$here/valgrind.supp" --log-file="$log" \
		"$prog"; then
		echo "valgrind: $t FAILED (or findings); see $log" >&2
		status=1
	fi
	if [ -s "$log" ]; then
		cat "$log" >&2
		status=1
	fi
done
[ $status -eq 0 ] && echo "valgrind: clean"
exit $status
