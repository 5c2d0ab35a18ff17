#!/bin/sh
# SPDX-License-Identifier: MIT
# install.sh - install puppeteer-core from the npm registry at a pinned
# version into a cache OUTSIDE the repository (like tests/e2e/install-clis.sh)
# and print the directory to put in NODE_PATH.  The browser is Debian's
# `chromium` (setup.sh PKGS_TEST): puppeteer-core downloads none.
#
# Usage: tests/web/install.sh [--print]
# Env: PADDOCK_CACHE_DIR (default $HOME/.cache/paddock), NPM (default npm).
set -eu
VER=25.16.0
prefix=${PADDOCK_CACHE_DIR:-$HOME/.cache/paddock}/web/puppeteer-core@$VER
if [ ! -f "$prefix/.paddock-installed" ]; then
	if [ "${1:-}" = "--print" ]; then
		echo "install.sh: puppeteer-core not installed (run tests/web/install.sh)" >&2
		exit 1
	fi
	echo "install.sh: installing puppeteer-core@$VER into $prefix" >&2
	tmp_home=$(mktemp -d)
	mkdir -p "$prefix"
	if ! HOME="$tmp_home" npm_config_cache="$tmp_home/.npm" \
		npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
		"${NPM:-npm}" install --no-save --prefix "$prefix" "puppeteer-core@$VER" >"$tmp_home/npm.log" 2>&1; then
		cat "$tmp_home/npm.log" >&2
		rm -rf "$tmp_home"
		echo "install.sh: npm install puppeteer-core@$VER failed" >&2
		exit 1
	fi
	rm -rf "$tmp_home"
	touch "$prefix/.paddock-installed"
fi
echo "$prefix/node_modules"
