#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/dashboard.sh [BUILD_DIR] - the web dashboard with 1,000 tasks in
# the store against an empty store, as ratios measured in the same run:
# the server's time per SSE update (core/dashboard_bench) and the task
# list's first meaningful paint in headless Chromium (bench/dashboard.mjs,
# puppeteer-core from tests/web/install.sh; skipped without chromium).
# Not a test: it prints figures and asserts none.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/_build}
make -s -C "$build/core" dashboard_bench >/dev/null
chromium=${CHROMIUM:-$(command -v chromium || true)}
if [ -z "$chromium" ] || ! command -v node >/dev/null; then
	echo "dashboard.sh: no chromium or node: the SSE figures only"
	exec "$build/core/dashboard_bench"
fi
modules=$("$here/tests/web/install.sh")
NODE_PATH=$modules CHROMIUM=$chromium exec "$build/core/dashboard_bench" -- node "$here/bench/dashboard.mjs"
