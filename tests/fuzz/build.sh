#!/bin/sh
# tests/fuzz/build.sh BUILD_DIR - build the libFuzzer targets (ASan+UBSan).
#
# Standalone: compiles the parser sources directly with clang (no
# automake), taking only config.h from BUILD_DIR (a configured build tree,
# e.g. _build).  Binaries go to $FUZZ_OUT (default tests/fuzz/out).
# See docs/fuzzing.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR   (a configured build tree holding config.h)" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
if [ ! -f "$build/config.h" ]; then
	echo "$0: $build/config.h not found: run ../configure in $build first" >&2
	exit 2
fi

CC=${CC:-clang}
out=${FUZZ_OUT:-$here/out}
mkdir -p "$out/obj"

DEPS_CFLAGS=$(pkg-config --cflags yaml-0.1 json-c 2>/dev/null || echo -I/usr/include/json-c)
DEPS_LIBS=$(pkg-config --libs yaml-0.1 json-c 2>/dev/null || echo -lyaml -ljson-c)

SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -fno-omit-frame-pointer -Wall -Wextra \
 -Wno-unused-parameter $SAN $DEPS_CFLAGS ${EXTRA_CFLAGS:-}"
# Object files of the project get -fsanitize=fuzzer-no-link (coverage
# instrumentation without libFuzzer's main); the targets get the full set.
OBJFLAGS=$(echo "$CFLAGS" | sed 's/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,/')
CORE_CPPFLAGS="-I$top/core/include -I$top/core -I$build \
 -DPADDOCK_SYSCONFDIR=\"/etc\" -DPADDOCK_PLUGINDIR=\"/usr/lib/paddock/plugins\" \
 -DPADDOCK_DATADIR=\"/usr/share/paddock\" -DPADDOCK_LOCALSTATEDIR=\"/var\""
DRV_CPPFLAGS="-I$top/core/include -I$build"

obj() { # obj NAME SRC CPPFLAGS [extra flags...]
	name=$1 src=$2 cpp=$3
	shift 3
	# shellcheck disable=SC2086
	$CC $OBJFLAGS $cpp "$@" -c "$src" -o "$out/obj/$name.o"
	echo "$out/obj/$name.o"
}

target() { # target NAME OBJS... ; links tests/fuzz/NAME.c
	name=$1
	shift
	# shellcheck disable=SC2086
	$CC $CFLAGS $CORE_CPPFLAGS -I"$top/drivers/common" "$here/$name.c" "$@" \
		$DEPS_LIBS -lm -o "$out/$name"
	echo "built $out/$name"
}

# Core modules (the parsers and what they need).
UTIL=$(obj util "$top/core/base/util.c" "$CORE_CPPFLAGS")
MANIFEST=$(obj manifest "$top/core/model/manifest.c" "$CORE_CPPFLAGS")
MODEL=$(obj model "$top/core/model/model.c" "$CORE_CPPFLAGS")
CONF=$(obj conf "$top/core/base/conf.c" "$CORE_CPPFLAGS")
QUANTITY=$(obj quantity "$top/core/base/quantity.c" "$CORE_CPPFLAGS")
OUTPUTS=$(obj outputs "$top/core/control/outputs.c" "$CORE_CPPFLAGS")
TEMPLATE=$(obj template "$top/core/control/template.c" "$CORE_CPPFLAGS")
CRON=$(obj cron "$top/core/base/cron.c" "$CORE_CPPFLAGS")
SHA=$(obj sha256 "$top/core/base/sha256.c" "$CORE_CPPFLAGS")
HEADTAIL=$(obj headtail "$top/core/base/headtail.c" "$CORE_CPPFLAGS")
SPAWNER=$(obj spawner "$top/core/control/spawner.c" "$CORE_CPPFLAGS")
# The Kubernetes client: kubeconfig and watch framing are pure, but the
# module links libcurl for the rest.
CURL_CFLAGS=$(pkg-config --cflags libcurl 2>/dev/null || true)
CURL_LIBS=$(pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
# shellcheck disable=SC2086
KUBE=$(obj kube "$top/core/kube/client.c" "$CORE_CPPFLAGS" $CURL_CFLAGS)

# Drivers: compiled in (instrumented), not dlopen'ed.  Each driver's
# exported entry point is renamed so that all five link into one binary;
# everything else of a driver is static or drv_-prefixed and hidden.
DRV="$(obj drv "$top/drivers/common/drv.c" "$DRV_CPPFLAGS" -fvisibility=hidden) \
	$(obj drv_render "$top/drivers/common/render.c" "$DRV_CPPFLAGS" -fvisibility=hidden)"
DRIVERS=""
for d in exec claude-code codex gemini opencode; do
	id=$(echo "$d" | tr - _)
	DRIVERS="$DRIVERS $(obj "drv_$id" "$top/drivers/$d/$d.c" "$DRV_CPPFLAGS" \
		-fvisibility=hidden -Dpaddock_plugin_entry=fuzz_entry_"$id") \
		$(obj "drv_${id}_render" "$top/drivers/$d/render.c" "$DRV_CPPFLAGS" -fvisibility=hidden)"
done

target fuzz_manifest $MANIFEST $MODEL $QUANTITY $CRON $UTIL
target fuzz_config $CONF $QUANTITY $UTIL
target fuzz_outputs $OUTPUTS $UTIL
target fuzz_template $TEMPLATE $UTIL
target fuzz_driver $DRV $DRIVERS
target fuzz_kubeconfig $KUBE $HEADTAIL $MANIFEST $MODEL $QUANTITY $CRON $UTIL $CURL_LIBS
target fuzz_watch $KUBE $HEADTAIL $MANIFEST $MODEL $QUANTITY $CRON $UTIL $CURL_LIBS
target fuzz_webhook $SPAWNER $TEMPLATE $SHA $MODEL $MANIFEST $QUANTITY $CRON $UTIL
