#!/usr/bin/env bash
# test-sanitize.sh: build everything with ASan + UBSan in its own build dir, run unit + integration.
#
#   tools/test-sanitize.sh                  both suites
#   tools/test-sanitize.sh unit             one suite
#   FLOWPIC_ASAN_BUILD=/tmp/x tools/test-sanitize.sh
#
# The compiler is the default one (gcc; CC=clang works too). Any sanitizer report fails the
# test that hit it: UBSan halts on the first error, ASan and LeakSanitizer exit non-zero.
# flowpicd runs under ASan with DPDK's --no-huge memory; see docs/RELIABILITY.md for what
# that covers. Each suite's wall time is printed at the end.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FLOWPIC_ASAN_BUILD:-/tmp/flowpic-asan}
suites=("$@")
if [[ ${#suites[@]} -eq 0 ]]; then
	suites=(unit integration)
fi

t0=$(date +%s)
if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" "$top" -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C "$build"
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
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=86}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$supp:print_suppressions=0}

# Tests that cannot run under ASan: test_infer counts allocations by defining malloc() and
# free() over glibc's, which ASan's allocator cannot share (glibc aborts on ASan's pointers).
# lib/infer still runs sanitized through fuzz_replay_model, fuzz_replay_pipeline and flowpicd.
skip=" ${SANITIZE_SKIP:-infer} "

rc=0
times=()
for s in "${suites[@]}"; do
	names=()
	while read -r line; do
		n=${line##* / }
		if [[ $skip == *" $n "* ]]; then
			echo "skipped under sanitizers: $s / $n"
		else
			names+=("$n")
		fi
	done < <(meson test -C "$build" --list --suite "$s" 2>/dev/null | grep ' / ')
	t=$(date +%s)
	if [[ ${#names[@]} -gt 0 ]] && ! meson test -C "$build" --suite "$s" --print-errorlogs \
			--num-processes 2 --timeout-multiplier 3 "${names[@]}"; then
		rc=1
	fi
	times+=("$s $(( $(date +%s) - t )) s")
done
echo "sanitizer build ${t_build} s; ${times[*]}"
exit $rc
