# SPDX-License-Identifier: MIT
# paddock_lib.sh - functions shared by every driver's paddock_entrypoint.sh.
# POSIX sh; sourced, never executed.  Installed as $(pkgdatadir)/paddock_lib.sh
# and copied to /paddock_lib.sh in the driver images.
#
#   paddock_log MSG...      one line on stderr, prefixed "paddock: "
#   paddock_run CMD ARGS... run the agent with stdin </dev/null, forward
#                           TERM/INT/HUP to it, return its exit status
#                           (the script must not exec the agent: it still
#                           has to print the outputs block)
#   paddock_finish RC       print the outputs block on stdout, return RC
#
# The outputs block (DESIGN §6):
#   ---PADDOCK_OUTPUTS_START---
#   branch: <git branch of the workspace, if a repository and not detached>
#   commit: <HEAD sha, if a repository with a commit>
#   <name>: <value>         for each PADDOCK_OUTPUTS entry ("name<TAB>path"
#                           per line) whose file exists inside the workspace
#   ---PADDOCK_OUTPUTS_END---
# A value is the first 4096 bytes of its file, one trailing newline
# dropped, NUL bytes removed, backslashes written as \\ and newlines as \n.
# Paths that are absolute, contain "..", or resolve (through symlinks)
# outside the workspace are refused with a note on stderr.

PADDOCK_OUTPUT_CAP=4096

paddock_log() {
	printf 'paddock: %s\n' "$*" >&2
}

_paddock_child=
_paddock_forward() {
	if [ -n "$_paddock_child" ]; then
		kill "-$1" "$_paddock_child" 2>/dev/null
	fi
}

# task.md is the run's input, not the agent's work: kept out of the
# workspace repository's status, so that `git add -A` never commits it.
_paddock_exclude_task_md() {
	[ -f task.md ] && [ -d .git ] || return 0
	grep -qx '/task.md' .git/info/exclude 2>/dev/null && return 0
	mkdir -p .git/info 2>/dev/null && echo '/task.md' >>.git/info/exclude 2>/dev/null
	return 0
}

paddock_run() {
	_paddock_exclude_task_md
	"$@" </dev/null &
	_paddock_child=$!
	trap '_paddock_forward TERM' TERM
	trap '_paddock_forward INT' INT
	trap '_paddock_forward HUP' HUP
	while :; do
		wait "$_paddock_child"
		_paddock_rc=$?
		# wait returns >128 when a trapped signal interrupted it; the
		# child may still be running (it got the signal forwarded).
		if [ "$_paddock_rc" -gt 128 ] && kill -0 "$_paddock_child" 2>/dev/null; then
			continue
		fi
		break
	done
	trap - TERM INT HUP
	_paddock_child=
	return "$_paddock_rc"
}

# Print the escaped value of file $1 (already checked).
_paddock_value() {
	head -c "$PADDOCK_OUTPUT_CAP" -- "$1" 2>/dev/null | tr -d '\000' |
		sed -e 's/\\/\\\\/g' |
		awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'
}

# Succeeds if relative path $2 names a regular file inside directory $1.
_paddock_inside() {
	case "$2" in
	"" | /* | .. | ../* | */.. | */../*)
		return 1
		;;
	esac
	[ -f "$1/$2" ] || return 1
	_paddock_real=$(realpath -- "$1/$2" 2>/dev/null || readlink -f -- "$1/$2" 2>/dev/null) || return 1
	case "$_paddock_real" in
	"$1"/*) return 0 ;;
	esac
	return 1
}

# Can DIR be in a git work tree (a .git in it or above, or GIT_DIR)?  Asked
# before git itself, which costs a fork and an exec per run.
_paddock_maybe_repo() {
	[ -n "${GIT_DIR:-}" ] && return 0
	_paddock_d=$1
	while :; do
		[ -e "$_paddock_d/.git" ] && return 0
		{ [ -z "$_paddock_d" ] || [ "$_paddock_d" = / ]; } && return 1
		_paddock_d=${_paddock_d%/*}
	done
}

paddock_finish() {
	_paddock_ws=$(pwd -P)
	# The agent's last line may lack a newline: start the block on its own.
	printf '\n%s\n' '---PADDOCK_OUTPUTS_START---'
	if _paddock_maybe_repo "$_paddock_ws" &&
		git -c safe.directory='*' -C "$_paddock_ws" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		_paddock_b=$(git -c safe.directory='*' -C "$_paddock_ws" symbolic-ref --short -q HEAD 2>/dev/null)
		[ -n "$_paddock_b" ] && printf 'branch: %s\n' "$_paddock_b"
		_paddock_c=$(git -c safe.directory='*' -C "$_paddock_ws" rev-parse -q --verify HEAD 2>/dev/null)
		[ -n "$_paddock_c" ] && printf 'commit: %s\n' "$_paddock_c"
	fi
	if [ -n "${PADDOCK_OUTPUTS:-}" ]; then
		_paddock_tab=$(printf '\t')
		printf '%s\n' "$PADDOCK_OUTPUTS" | while IFS="$_paddock_tab" read -r _paddock_n _paddock_p; do
			case "$_paddock_n" in
			"" | *[!A-Za-z0-9_.-]*)
				[ -n "$_paddock_n" ] && paddock_log "output \"$_paddock_n\": invalid name, skipped"
				continue
				;;
			esac
			if _paddock_inside "$_paddock_ws" "$_paddock_p"; then
				printf '%s: %s\n' "$_paddock_n" "$(_paddock_value "$_paddock_ws/$_paddock_p")"
			elif [ -e "$_paddock_ws/$_paddock_p" ] || [ -L "$_paddock_ws/$_paddock_p" ]; then
				paddock_log "output \"$_paddock_n\": \"$_paddock_p\" is not a regular file inside the workspace, skipped"
			fi
		done
	fi
	printf '%s\n' '---PADDOCK_OUTPUTS_END---'
	return "${1:-0}"
}
