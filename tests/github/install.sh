#!/bin/sh
# SPDX-License-Identifier: MIT
# install.sh - install Stoplight Prism (@stoplight/prism-cli) and GitHub's
# official OpenAPI description (@octokit/openapi) from the npm registry at
# pinned versions into a cache OUTSIDE the repository (as tests/web/install.sh)
# and print the prefix: PREFIX/node_modules/.bin/prism and
# PREFIX/node_modules/@octokit/openapi/generated/api.github.com.deref.json.
#
# Usage: tests/github/install.sh [--print]
# Env: PADDOCK_CACHE_DIR (default $HOME/.cache/paddock), NPM (default npm).
set -eu
PRISM=5.16.0
OPENAPI=23.0.2
prefix=${PADDOCK_CACHE_DIR:-$HOME/.cache/paddock}/npm-github/prism-$PRISM-openapi-$OPENAPI
if [ ! -f "$prefix/.paddock-installed" ]; then
	if [ "${1:-}" = "--print" ]; then
		echo "install.sh: prism not installed (run tests/github/install.sh)" >&2
		exit 1
	fi
	command -v "${NPM:-npm}" >/dev/null || { echo "install.sh: npm missing" >&2; exit 1; }
	echo "install.sh: installing @stoplight/prism-cli@$PRISM and @octokit/openapi@$OPENAPI into $prefix" >&2
	tmp_home=$(mktemp -d)
	mkdir -p "$prefix"
	if ! HOME="$tmp_home" npm_config_cache="$tmp_home/.npm" \
		npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
		"${NPM:-npm}" install --no-save --prefix "$prefix" "@stoplight/prism-cli@$PRISM" \
		"@octokit/openapi@$OPENAPI" >"$tmp_home/npm.log" 2>&1; then
		cat "$tmp_home/npm.log" >&2
		rm -rf "$tmp_home"
		echo "install.sh: npm install failed" >&2
		exit 1
	fi
	rm -rf "$tmp_home"
	touch "$prefix/.paddock-installed"
fi
echo "$prefix"
