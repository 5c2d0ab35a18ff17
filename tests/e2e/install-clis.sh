#!/bin/sh
# SPDX-License-Identifier: MIT
# install-clis.sh - install the four agent CLIs from the npm registry at
# pinned versions into a cache OUTSIDE the repository, skipping those
# already present, and print where each binary is:
#
#   claude-code /root/.cache/paddock/clis/@anthropic-ai/claude-code@2.1.197/node_modules/.bin/claude
#
# Usage: tests/e2e/install-clis.sh [--print] [name...]
#   name: claude-code codex gemini opencode (default: all four)
#   --print: only print the paths (exit 1 if one is missing)
# Env: PADDOCK_CACHE_DIR (default $HOME/.cache/paddock), NPM (default npm).
# Installs run with HOME pointed at a temporary directory: opencode's
# postinstall otherwise writes into the real $HOME.
set -eu

CACHE=${PADDOCK_CACHE_DIR:-$HOME/.cache/paddock}/clis
NPM=${NPM:-npm}

# name  package  version  binary (relative to the install prefix)
PINS='claude-code @anthropic-ai/claude-code 2.1.197 node_modules/.bin/claude
codex @openai/codex 0.169.0 node_modules/.bin/codex
gemini @google/gemini-cli 0.61.0 node_modules/.bin/gemini
opencode opencode-ai 1.18.33 node_modules/.bin/opencode'

print_only=0
if [ "${1:-}" = "--print" ]; then
	print_only=1
	shift
fi
want=${*:-claude-code codex gemini opencode}

rc=0
for name in $want; do
	line=$(printf '%s\n' "$PINS" | awk -v n="$name" '$1 == n')
	if [ -z "$line" ]; then
		echo "install-clis.sh: unknown CLI \"$name\": use claude-code, codex, gemini or opencode" >&2
		exit 2
	fi
	set -- $line
	pkg=$2 ver=$3 rel=$4
	prefix="$CACHE/$pkg@$ver"
	bin="$prefix/$rel"
	if [ ! -x "$bin" ] || [ ! -f "$prefix/.paddock-installed" ]; then
		if [ "$print_only" = 1 ]; then
			echo "install-clis.sh: $name not installed (run tests/e2e/install-clis.sh $name)" >&2
			rc=1
			continue
		fi
		echo "install-clis.sh: installing $pkg@$ver into $prefix" >&2
		tmp_home=$(mktemp -d)
		mkdir -p "$prefix"
		if ! HOME="$tmp_home" npm_config_cache="$tmp_home/.npm" \
			npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
			"$NPM" install --no-save --prefix "$prefix" "$pkg@$ver" >"$tmp_home/npm.log" 2>&1; then
			cat "$tmp_home/npm.log" >&2
			rm -rf "$tmp_home"
			echo "install-clis.sh: npm install $pkg@$ver failed" >&2
			exit 1
		fi
		# opencode writes its config dirs on every start: keep that out
		# of the real HOME too.
		if ! HOME="$tmp_home" XDG_CONFIG_HOME="$tmp_home/.config" XDG_DATA_HOME="$tmp_home/.local/share" \
			XDG_CACHE_HOME="$tmp_home/.cache" XDG_STATE_HOME="$tmp_home/.local/state" \
			"$bin" --version >/dev/null 2>&1 </dev/null; then
			rm -rf "$tmp_home"
			echo "install-clis.sh: $bin --version failed after install" >&2
			exit 1
		fi
		rm -rf "$tmp_home"
		touch "$prefix/.paddock-installed"
	fi
	echo "$name $bin"
done
exit $rc
