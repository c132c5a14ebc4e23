#!/usr/bin/env bash
# test.sh: the whole test suite from a fresh Debian 12 machine: install, build, meson test, sanitizers, fuzzing.
#
#   tools/test.sh                      everything (what CI runs, via .ci/run)
#   tools/test.sh --suite unit         extra arguments go to the first `meson test` only
#   FLOWPIC_TEST_QUICK=1 tools/test.sh only the first part: the sanitizer suites and the
#                                      fuzzing are left out (and the script says so)
#
# 1. ./build (gcc): meson test over all suites.
# 2. ./build-sanitize (clang, ASan + UBSan, libFuzzer coverage; FLOWPIC_SAN_BUILD moves it):
#    suites unit and integration under the sanitizers (tools/test-sanitize.sh).
# 3. The same build: each libFuzzer target for FUZZ_SECONDS (60), two at a time
#    (tools/test-fuzz.sh).
# Every part runs even if an earlier one failed; the exit status is non-zero if any failed.
# The wall time of each part is printed at the end.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FLOWPIC_BUILD:-$top/build}
san_build=${FLOWPIC_SAN_BUILD:-$top/build-sanitize}
quick=${FLOWPIC_TEST_QUICK:-0}

t=$(date +%s)
"$top/tools/bootstrap.sh"
"$top/tools/test-deps.sh"
"$top/tools/lab/install-deps.sh"
"$top/tools/train/install-deps.sh"
cd "$top"
times=("install + build $(( $(date +%s) - t )) s")

failed=()
t=$(date +%s)
meson test -C "$build" --print-errorlogs --num-processes 2 "$@" || failed+=("meson test")
times+=("meson test $(( $(date +%s) - t )) s")

if [[ $quick == 1 ]]; then
	echo "test.sh: FLOWPIC_TEST_QUICK=1: sanitizer suites and fuzzing NOT run (CI runs them)"
else
	t=$(date +%s)
	CC=clang FLOWPIC_ASAN_BUILD=$san_build "$top/tools/test-sanitize.sh" ||
		failed+=("sanitizer suites")
	times+=("sanitizer build + suites $(( $(date +%s) - t )) s")

	t=$(date +%s)
	CC=clang FLOWPIC_FUZZ_BUILD=$san_build FUZZ_SECONDS=${FUZZ_SECONDS:-60} \
		"$top/tools/test-fuzz.sh" || failed+=("fuzzing")
	times+=("fuzzing $(( $(date +%s) - t )) s")
fi

printf 'test.sh time: %s\n' "${times[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "test.sh: FAILED: ${failed[*]}"
	exit 1
fi
echo "test.sh: all passed"
