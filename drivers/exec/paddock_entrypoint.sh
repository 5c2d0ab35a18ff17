#!/bin/sh
# SPDX-License-Identifier: MIT
# Entrypoint of the exec driver.  $1: the prompt (also in ./task.md);
# cwd: the workspace.  Runs PADDOCK_COMMAND with `sh -c`, the prompt as
# its $1, then prints the outputs block and exits with the command's status.
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

if [ -z "${PADDOCK_COMMAND:-}" ]; then
	paddock_log "PADDOCK_COMMAND is empty: set spec.command on the Agent or drivers.exec.settings.command"
	paddock_finish 2
	exit $?
fi

paddock_run sh -c "$PADDOCK_COMMAND" paddock-exec "${1:-}"
paddock_finish $?
exit $?
