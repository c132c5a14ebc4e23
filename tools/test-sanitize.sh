#!/usr/bin/env bash
# test-sanitize.sh: build everything with ASan + UBSan in its own build dir, run unit + integration.
#
#   tools/test-sanitize.sh                  both suites
#   tools/test-sanitize.sh unit             one suite
#   FLOWPIC_ASAN_BUILD=/tmp/x tools/test-sanitize.sh
#   CC=clang FLOWPIC_ASAN_BUILD=/tmp/x tools/test-sanitize.sh    (what tools/test.sh runs)
#
# The compiler is the default one (gcc) unless CC says otherwise; with clang the build is also
# the libFuzzer build that tools/test-fuzz.sh uses (tools/san-build.sh). Any sanitizer report
# fails the test that hit it: UBSan halts on the first error, ASan and LeakSanitizer exit
# non-zero. flowpicd runs under ASan with DPDK's --no-huge memory; see docs/RELIABILITY.md for
# what that covers. The exit status is non-zero if any test failed; the build's and each
# suite's wall time are printed at the end.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FLOWPIC_ASAN_BUILD:-/tmp/flowpic-asan}
suites=("$@")
if [[ ${#suites[@]} -eq 0 ]]; then
	suites=(unit integration)
fi

t0=$(date +%s)
"$top/tools/san-build.sh" "$build"
t_build=$(( $(date +%s) - t0 ))

# Leaks that are not flowpic's: libraries that keep process-lifetime allocations on purpose.
supp=$build/lsan.supp
cat > "$supp" <<'SUPP'
# DPDK EAL and drivers keep their start-up allocations until exit
leak:librte_
# oneDNN / OpenMP thread pools and primitive caches
leak:libdnnl
leak:libgomp
# libmicrohttpd daemon thread state
leak:libmicrohttpd
SUPP
# exitcode=86: a sanitizer report (ASan, LeakSanitizer or UBSan) never looks like an expected
# exit status (flowpicd exits 1 on a bad configuration, and the tests check that).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=86}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:exitcode=86}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$supp:print_suppressions=0}

# The integration harness stretches its own time limits (subprocess runs, waits) by the same
# factor as meson's --timeout-multiplier below (tests/integration/fptest.py).
export FP_TIMEOUT_SCALE=${FP_TIMEOUT_SCALE:-3}

# Every test runs; SANITIZE_SKIP="name ..." leaves tests out by name (each one is reported).
skip=" ${SANITIZE_SKIP:-} "

rc=0
times=()
for s in "${suites[@]}"; do
	list=$(meson test -C "$build" --list --suite "$s")
	names=()
	while read -r line; do
		n=${line##* / }
		if [[ $skip == *" $n "* ]]; then
			echo "skipped under sanitizers: $s / $n"
		else
			names+=("$n")
		fi
	done < <(grep ' / ' <<<"$list")
	if [[ ${#names[@]} -eq 0 ]]; then
		echo "test-sanitize: no test to run in suite $s" >&2
		rc=1
		continue
	fi
	t=$(date +%s)
	if ! meson test -C "$build" --suite "$s" --print-errorlogs --num-processes 2 \
			--timeout-multiplier 3 "${names[@]}"; then
		rc=1
	fi
	times+=("$s $(( $(date +%s) - t )) s")
done
echo "sanitizer build ${t_build} s; ${times[*]}"
exit $rc
