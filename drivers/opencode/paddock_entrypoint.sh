#!/bin/sh
# SPDX-License-Identifier: MIT
# Entrypoint of the opencode driver.  $1: the prompt; cwd: the workspace.
# Runs `opencode run --format json` (opencode allows edits and shell by
# default; the run is sandboxed by Paddock), then prints the outputs block
# and exits with opencode's status.  See README.md for the variables.
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
# opencode follows the XDG variables; keep all of it in the private HOME.
export XDG_CONFIG_HOME="$HOME/.config"
export XDG_DATA_HOME="$HOME/.local/share"
export XDG_CACHE_HOME="$HOME/.cache"
export XDG_STATE_HOME="$HOME/.local/state"
export TMPDIR="$HOME/.tmp"
export OPENCODE_DISABLE_AUTOUPDATE=1
export OPENCODE_DISABLE_MODELS_FETCH=1
mkdir -p "$XDG_CONFIG_HOME/opencode" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME" "$TMPDIR"
if [ ! -f "$XDG_CONFIG_HOME/opencode/opencode.json" ]; then
	printf '%s\n' '{"autoupdate":false,"share":"disabled"}' >"$XDG_CONFIG_HOME/opencode/opencode.json"
fi

_prompt=${1:-}
set -- "${PADDOCK_AGENT_BIN:-opencode}" run --format json
[ -n "${PADDOCK_MODEL:-}" ] && set -- "$@" -m "$PADDOCK_MODEL"
[ -n "${PADDOCK_EFFORT:-}" ] && set -- "$@" --variant "$PADDOCK_EFFORT"
set -- "$@" -- "$_prompt"

paddock_run "$@"
paddock_finish $?
exit $?
