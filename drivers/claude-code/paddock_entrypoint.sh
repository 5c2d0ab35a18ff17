#!/bin/sh
# SPDX-License-Identifier: MIT
# Entrypoint of the claude-code driver.  $1: the prompt; cwd: the workspace.
# Runs `claude -p` headless with every permission granted (the run is
# sandboxed by Paddock) and stream-json output, then prints the outputs
# block and exits with claude's status.  See README.md for the variables.
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
# Everything claude writes goes under the private HOME.
export CLAUDE_CONFIG_DIR="${CLAUDE_CONFIG_DIR:-$HOME/.claude}"
export CLAUDE_CODE_TMPDIR="${CLAUDE_CODE_TMPDIR:-$HOME/.cache/claude-tmp}"
export IS_SANDBOX=1
export DISABLE_AUTOUPDATER=1
export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
mkdir -p "$CLAUDE_CONFIG_DIR" "$CLAUDE_CODE_TMPDIR"

# "--" keeps a prompt starting with "-" from being read as an option.
_prompt=${1:-}
set -- "${PADDOCK_AGENT_BIN:-claude}" -p --dangerously-skip-permissions \
	--output-format stream-json --verbose
[ -n "${PADDOCK_MODEL:-}" ] && set -- "$@" --model "$PADDOCK_MODEL"
[ -n "${PADDOCK_EFFORT:-}" ] && set -- "$@" --effort "$PADDOCK_EFFORT"
set -- "$@" -- "$_prompt"

paddock_run "$@"
paddock_finish $?
exit $?
