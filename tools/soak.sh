#!/usr/bin/env bash
# soak.sh: the long soak test: flowpicd on a looping flow-churning capture, 10 minutes by default.
# Usage: tools/soak.sh [SECONDS]   (the integration suite runs the same test for 60 s)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FLOWPIC_BUILD:-$top/build}
seconds=${1:-600}

"$top/tools/bootstrap.sh"
cd "$top"
# the suite's timeout is 600 s: stretch it to the run plus 10 minutes for start-up and the end
export FLOWPIC_SOAK_SECONDS=$seconds
exec meson test -C "$build" --print-errorlogs --verbose \
	--timeout-multiplier $(( (seconds + 600 + 599) / 600 )) soak
