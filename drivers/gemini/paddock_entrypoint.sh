#!/bin/sh
# SPDX-License-Identifier: MIT
# Entrypoint of the gemini driver.  $1: the prompt; cwd: the workspace.
# Runs `gemini -p` in yolo mode (every tool allowed; the run is sandboxed
# by Paddock) with stream-json output, then prints the outputs block and
# exits with gemini's status.  See README.md for the variables.
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
# gemini keeps settings, history and tmp in $GEMINI_CLI_HOME/.gemini.
export GEMINI_CLI_HOME="$HOME"
export GEMINI_CLI_TRUST_WORKSPACE=true
export TMPDIR="$HOME/.tmp"
mkdir -p "$HOME/.gemini" "$TMPDIR"
if [ ! -f "$HOME/.gemini/settings.json" ]; then
	# Image use without a plan: the same defaults the driver writes.
	printf '%s\n' '{"security":{"auth":{"selectedType":"gemini-api-key"}},"privacy":{"usageStatisticsEnabled":false},"telemetry":{"enabled":false},"general":{"enableAutoUpdate":false,"enableAutoUpdateNotification":false}}' \
		>"$HOME/.gemini/settings.json"
fi

# --prompt=... keeps a prompt starting with "-" from being read as options.
_prompt=${1:-}
set -- "${PADDOCK_AGENT_BIN:-gemini}" --yolo -o stream-json
[ -n "${PADDOCK_MODEL:-}" ] && set -- "$@" -m "$PADDOCK_MODEL"
set -- "$@" "--prompt=$_prompt"

paddock_run "$@"
paddock_finish $?
exit $?
