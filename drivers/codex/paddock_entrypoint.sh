#!/bin/sh
# SPDX-License-Identifier: MIT
# Entrypoint of the codex driver.  $1: the prompt; cwd: the workspace.
# Runs `codex exec --json` with approvals and codex's own sandbox off (the
# run is sandboxed by Paddock), then prints the outputs block and exits
# with codex's status.  See README.md for the variables.
set -u

if [ -n "${PADDOCK_LIB:-}" ]; then
	_lib=$PADDOCK_LIB
else
	_dir=$(dirname -- "$0")
	for _lib in /paddock_lib.sh "$_dir/../paddock_lib.sh"; do
		[ -f "$_lib" ] && break
	done
fi
if [ ! -f "$_lib" ]; then
	echo "paddock: shared library $_lib not found: set PADDOCK_LIB" >&2
	exit 127
fi
. "$_lib"

: "${HOME:?HOME must be set to the run's private home}"
export CODEX_HOME="${CODEX_HOME:-$HOME/.codex}"
# codex refuses to create its helper binaries when CODEX_HOME is under
# TMPDIR (/tmp by default): keep TMPDIR beside it, not above it.
export TMPDIR="$HOME/.tmp"
mkdir -p "$CODEX_HOME" "$TMPDIR"

_prompt=${1:-}
set -- "${PADDOCK_AGENT_BIN:-codex}" exec --json \
	--dangerously-bypass-approvals-and-sandbox --skip-git-repo-check
[ -n "${PADDOCK_MODEL:-}" ] && set -- "$@" -m "$PADDOCK_MODEL"
[ -n "${PADDOCK_EFFORT:-}" ] && set -- "$@" -c "model_reasoning_effort=\"$PADDOCK_EFFORT\""
set -- "$@" -- "$_prompt"

paddock_run "$@"
paddock_finish $?
exit $?
