#!/usr/bin/env bash
# test-fuzz.sh: build the libFuzzer targets (clang, ASan + UBSan) and fuzz each for a bounded time.
#
#   tools/test-fuzz.sh                 every target, 60 s each, two at a time
#   FUZZ_SECONDS=600 tools/test-fuzz.sh pipeline model
#   FUZZ_JOBS=1 tools/test-fuzz.sh     one target at a time
#
# The build is tools/san-build.sh's with clang (CC defaults to clang here): every library
# coverage-instrumented, only the fuzz_<target> binaries link libFuzzer's main. An existing
# clang build made by `CC=clang tools/test-sanitize.sh` serves as is (tools/test.sh does that).
# Seeds come from tests/fuzz/corpus/<target>/ and are only read; inputs the fuzzer finds go to
# $build/fuzz-corpus/<target>/, crashes to $build/fuzz-artifacts/<target>/. Any crash, timeout,
# leak or sanitizer report fails the script, which prints it with the command that replays it;
# copy the input to tests/fuzz/corpus/<target>/regress-<what> so fuzz_replay_<target> keeps it
# fixed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FLOWPIC_FUZZ_BUILD:-/tmp/flowpic-fuzz}
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
	targets=(pkt conf model pipeline)
fi

# clang and its libFuzzer/sanitizer runtimes, from Debian.
"$top/tools/apt-ensure.sh" clang libclang-rt-14-dev
export CC=${CC:-clang}

"$top/tools/san-build.sh" "$build" "${targets[@]/#/tests/fuzz/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# fuzz TARGET: one bounded libFuzzer run; its exit status goes to $build/fuzz-TARGET.rc.
fuzz()
{
	local t=$1 rc=0
	local work=$build/fuzz-corpus/$t art=$build/fuzz-artifacts/$t

	mkdir -p "$work" "$art"
	"$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 \
		-max_len=65536 -print_final_stats=1 -artifact_prefix="$art/" \
		"$work" "$top/tests/fuzz/corpus/$t" >"$build/fuzz-$t.log" 2>&1 || rc=$?
	echo "$rc" >"$build/fuzz-$t.rc"
}

t0=$(date +%s)
for t in "${targets[@]}"; do
	rm -f "$build/fuzz-$t.rc"
	while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do
		wait -n
	done
	echo "== fuzz_$t: ${secs} s"
	fuzz "$t" &
done
wait

failed=()
for t in "${targets[@]}"; do
	rc=$(cat "$build/fuzz-$t.rc")
	if [[ $rc -ne 0 ]]; then
		tail -n 60 "$build/fuzz-$t.log"
		echo "fuzz_$t: FAILED (exit $rc); replay with: $build/tests/fuzz/fuzz_$t $build/fuzz-artifacts/$t/<crash file>"
		failed+=("$t")
	else
		sed -n -E 's/^stat::(number_of_executed_units|new_units_added|peak_rss_mb): */  fuzz_'"$t"' \1 /p' \
			"$build/fuzz-$t.log"
	fi
done
echo "fuzzing wall time $(( $(date +%s) - t0 )) s"
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "fuzzing found problems in: ${failed[*]}"
	exit 1
fi
echo "fuzzing: ${targets[*]}: no crash in ${secs} s each"
