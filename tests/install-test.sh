#!/bin/sh
# tests/install-test.sh - the out-of-tree promise, end to end:
#   1. `make install DESTDIR=$tmp` of this build tree;
#   2. build examples/out-of-tree-driver with nothing but the *installed*
#      paddock.pc and headers (a private copy of the .pc whose paths point
#      into $tmp; no -I into the source tree);
#   3. install the .so into the plugin directory the .pc names and check
#      that the installed `paddock plugins` lists it, enabled, with its ABI,
#      and that `paddock config check` creates it.
# Run by `make check` (TOP_SRCDIR and TOP_BUILDDIR come from the harness).
set -eu

fail() { echo "install-test: FAIL: $*" >&2; exit 1; }
: "${TOP_SRCDIR:?run me through make check}" "${TOP_BUILDDIR:?run me through make check}"
command -v pkg-config >/dev/null 2>&1 || { echo "install-test: SKIP: no pkg-config"; exit 77; }

# A nested make must not join the outer make's jobserver or see its flags;
# the environment must not point Paddock at other plugins or configs.
unset MAKEFLAGS MFLAGS MAKELEVEL PADDOCK_PLUGIN_PATH PADDOCK_CONFIG CPATH C_INCLUDE_PATH \
	PKG_CONFIG_SYSROOT_DIR 2>/dev/null || true
umask 022   # plugin directories must not be group-writable
MAKE=${MAKE:-make}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/paddock-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
root=$tmp/root

$MAKE -C "$TOP_BUILDDIR" install DESTDIR="$root" >"$tmp/install.log" 2>&1 ||
	{ tail -n 40 "$tmp/install.log" >&2; fail "make install DESTDIR=$root failed"; }

pc=$(find "$root" -path '*/pkgconfig/paddock.pc' | head -n 1)
[ -n "$pc" ] || fail "make install did not install pkgconfig/paddock.pc"
bin=$(find "$root" -path '*/bin/paddock' -type f | head -n 1)
[ -n "$bin" ] || fail "make install did not install bin/paddock"

# Re-root every absolute path of the .pc into DESTDIR (prefix=, and libdir=
# or includedir= when configured as absolute paths).
mkdir "$tmp/pc"
sed -e "s|^\([A-Za-z_][A-Za-z0-9_]*\)=/|\1=$root/|" "$pc" >"$tmp/pc/paddock.pc"
PKG_CONFIG_PATH=$tmp/pc
PKG_CONFIG_LIBDIR=$tmp/pc
export PKG_CONFIG_PATH PKG_CONFIG_LIBDIR

cflags=$(pkg-config --cflags paddock) || fail "pkg-config --cflags paddock failed"
plugindir=$(pkg-config --variable=plugindir paddock)
case $plugindir in
"$root"/*) ;;
*) fail "plugindir \"$plugindir\" is not under DESTDIR $root" ;;
esac
incdir=$(pkg-config --variable=includedir paddock)
[ -f "$incdir/paddock/plugin.h" ] || fail "installed header $incdir/paddock/plugin.h missing"

# Build from a copy: the source tree may be read-only (distcheck).
cp -R "$TOP_SRCDIR/examples/out-of-tree-driver" "$tmp/ex"
chmod -R u+w "$tmp/ex"
rm -f "$tmp/ex/hello.so"
$MAKE -C "$tmp/ex" >"$tmp/build.log" 2>&1 ||
	{ cat "$tmp/build.log" >&2; fail "the example driver did not build from the installed headers"; }
# The only headers allowed are the installed ones (under $tmp): no -I into
# the source tree's core/include.  (The install prefix itself may lie
# below the source tree, as with ./setup.sh's _build/inst.)
if grep -F -e "-I$TOP_SRCDIR/core" -e "$TOP_SRCDIR/core/include" "$tmp/build.log" | grep -vF "$tmp" >/dev/null; then
	cat "$tmp/build.log" >&2
	fail "the example build referred to the source tree"
fi
$MAKE -C "$tmp/ex" install >>"$tmp/build.log" 2>&1 || fail "make install of the example failed"
[ -f "$plugindir/hello.so" ] || fail "example not installed into $plugindir"

cat >"$tmp/paddock.yaml" <<YAML
pluginDirs: ["$plugindir"]
drivers:
  hello:
    settings: {greeting: "hi there"}
YAML

"$bin" --config "$tmp/paddock.yaml" plugins >"$tmp/plugins.out" 2>"$tmp/plugins.err" ||
	{ cat "$tmp/plugins.out" "$tmp/plugins.err" >&2; fail "paddock plugins exited $?"; }
awk -v so="$plugindir/hello.so" '
	$1 == "driver" && $2 == "hello" && $3 == "0.1.0" && $4 == "1.1" && $5 == "enabled" &&
	$6 == so { found = 1 }
	END { exit !found }' "$tmp/plugins.out" ||
	{ cat "$tmp/plugins.out" >&2; fail "paddock plugins does not list hello 0.1.0 ABI 1.1 enabled"; }

"$bin" --config "$tmp/paddock.yaml" config check >"$tmp/check.out" 2>&1 ||
	{ cat "$tmp/check.out" >&2; fail "paddock config check failed"; }
grep -F "config OK: $tmp/paddock.yaml (1 driver, 0 contexts enabled)" "$tmp/check.out" >/dev/null ||
	{ cat "$tmp/check.out" >&2; fail "unexpected config check output"; }

echo "install-test: OK: example driver built from installed headers and loaded"
