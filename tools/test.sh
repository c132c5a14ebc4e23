#!/usr/bin/env bash
# test.sh: the whole test suite from a fresh Debian 12 machine: install, build, meson test (all suites).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FLOWPIC_BUILD:-$top/build}

"$top/tools/bootstrap.sh"
"$top/tools/test-deps.sh"
"$top/tools/lab/install-deps.sh"
"$top/tools/train/install-deps.sh"
cd "$top"
exec meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
