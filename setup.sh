#!/usr/bin/env bash
# setup.sh - one command to set up a fresh machine.
#
#   ./setup.sh          install what is missing, build, and run the main job:
#                       a real task through the local backend (exec driver,
#                       bubblewrap sandbox, SQLite store) to Succeeded.
#   ./setup.sh test     install what is missing, build, and run every test
#                       suite (unit, sanitizers, valgrind, install, e2e).
#
# Environment: PADDOCK_BUILD_DIR (default ./_build), PADDOCK_CACHE_DIR
# (default ~/.cache/paddock: agent CLIs from npm), JOBS (default 2),
# PADDOCK_SKIP_E2E=1 to skip the real agent CLIs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
mode=${1:-main}
jobs=${JOBS:-2}
build=${PADDOCK_BUILD_DIR:-$here/_build}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

# Debian packages: build, runtime and test dependencies.
PKGS_BUILD="autoconf automake libtool pkg-config make gcc libcurl4-openssl-dev libyaml-dev libjson-c-dev libsqlite3-dev check"
PKGS_RUN="bubblewrap git ca-certificates"
PKGS_TEST="python3 valgrind sqlite3 procps psmisc nodejs npm"

install_packages() {
	local want="$PKGS_BUILD $PKGS_RUN"
	[ "$mode" = test ] && want="$want $PKGS_TEST"
	local missing=()
	for p in $want; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	# node/npm may come from elsewhere than Debian (e.g. nodesource); accept them.
	if command -v node >/dev/null && command -v npm >/dev/null; then
		local keep=()
		for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || keep+=("$p"); done
		missing=("${keep[@]}")
	fi
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		die "missing Debian packages: ${missing[*]}
run as root, or: sudo apt-get install -y ${missing[*]}"
	fi
	say "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
	[ -x configure ] && [ configure -nt configure.ac ] || { say "autoreconf"; autoreconf -fi >/dev/null; }
	mkdir -p "$build"
	cd "$build"
	if [ ! -f Makefile ] || [ "$here/configure" -nt config.status ]; then
		say "configure"
		"$here/configure" --enable-werror --prefix="$build/inst" >/dev/null
	fi
	say "make -j$jobs"
	make -s -j"$jobs" >/dev/null
	cd "$here"
}

main_job() {
	local state
	state=$(mktemp -d "${TMPDIR:-/tmp}/paddock-main.XXXXXX")
	export PADDOCK_STATE_DIR="$state/state"
	export PADDOCK_PLUGIN_PATH="$build/drivers/.libs:$build/contexts/.libs"
	export PADDOCK_DATA_DIR="$here/drivers"
	local bin="$build/core/paddock"
	say "paddock plugins"
	"$bin" --config "$here/etc/examples/local.yaml" plugins
	say "paddock apply -f etc/examples/hello.yaml && paddock run (waits for the task)"
	"$bin" --config "$here/etc/examples/local.yaml" apply -f "$here/etc/examples/hello.yaml"
	"$bin" --config "$here/etc/examples/local.yaml" run --name hello-paddock --agent hello \
		-p "Write a greeting into greeting.txt" -w
	say "paddock get task hello-paddock -o yaml"
	"$bin" --config "$here/etc/examples/local.yaml" get task hello-paddock -o yaml
	say "state kept in $state (remove it when done)"
}

install_packages
build
case "$mode" in
main) main_job ;;
test) exec "$here/tests/run-all.sh" "$build" ;;
*) die "usage: ./setup.sh [test]" ;;
esac
