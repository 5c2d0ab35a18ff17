#!/usr/bin/env bash
# The docs test: every `paddock ...` command in README.md and docs/*.md
# runs against a scratch state without a usage error (tests/docs-test.py
# says which ran, which were skipped and why), and docs/cli.md's help
# blocks are each command's --help (tests/docs-sync.py --write rewrites
# them after a change of a --help text).
. "$(dirname "$0")/lib.sh"
python3 "$TOP_SRCDIR/tests/docs-test.py" "$PADDOCK_BIN" "$TOP_SRCDIR" "$TOP_BUILDDIR" ||
	fail "a documented command fails with a usage error, or docs/cli.md is not the --help (above)"
pass "every documented paddock command runs; docs/cli.md is each command's --help"
