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
PKGS_BUILD="autoconf automake libtool pkg-config make gcc libcurl4-openssl-dev libssl-dev libyaml-dev libjson-c-dev libsqlite3-dev check libmicrohttpd-dev libseccomp-dev"
PKGS_RUN="bubblewrap git ca-certificates"
PKGS_TEST="keyutils openssl python3 valgrind sqlite3 procps psmisc nodejs npm prometheus bc clang libclang-rt-14-dev openssh-server chromium tmux mmdebstrap buildah skopeo runc containerd containernetworking-plugins docker-registry iptables uidmap python3-yaml"

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
	if [ ! -f Makefile ] || [ "$here/configure" -nt config.status ] ||
		! ./config.status --config | grep -q -- "--prefix=$build/inst"; then
		say "configure"
		"$here/configure" --enable-werror --prefix="$build/inst" >/dev/null
		make -s clean >/dev/null # paths are compiled in
	fi
	say "make -j$jobs"
	make -s -j"$jobs" >/dev/null
	cd "$here"
}

main_job() {
	# The installed layout, exactly as a user gets it from `make install`.
	say "make install (prefix $build/inst)"
	make -s -C "$build" install >/dev/null
	local bin="$build/inst/bin/paddock"
	export PADDOCK_STATE_DIR="${PADDOCK_STATE_DIR:-$build/state}"
	say "paddock plugins"
	"$bin" plugins
	say "paddock apply -f etc/examples/hello-agent.yaml"
	"$bin" apply -f "$here/etc/examples/hello-agent.yaml"
	"$bin" delete task hello-paddock --ignore-not-found >/dev/null
	say "paddock run --agent hello ... -w   (a real task: exec driver, bubblewrap sandbox, SQLite store)"
	"$bin" run --agent hello --name hello-paddock \
		-p "Write a greeting into greeting.txt." --context "Keep it short." \
		--output greeting=greeting.txt --output words=words.txt -w
	say "paddock get task hello-paddock -o yaml"
	"$bin" get task hello-paddock -o yaml
	cat >&2 <<EOT
==> done.  To look around:
      export PATH=$build/inst/bin:\$PATH PADDOCK_STATE_DIR=$PADDOCK_STATE_DIR
      paddock get tasks -o wide; paddock describe task hello-paddock; paddock logs hello-paddock
EOT
}

install_packages
build
case "$mode" in
main) main_job ;;
test)
	# npm tools the tests use, cached under PADDOCK_CACHE_DIR (each test
	# installs what is missing itself, and skips when it cannot)
	"$here/tests/github/install.sh" >/dev/null || say "tests/github/install.sh failed: tests/local/github.sh will skip"
	exec "$here/tests/run-all.sh" "$build" ;;
*) die "usage: ./setup.sh [test]" ;;
esac
