#!/usr/bin/env bash
# test-fuzz.sh: build the libFuzzer targets (clang, ASan + UBSan) and fuzz each for a bounded time.
#
#   tools/test-fuzz.sh                 every target, 60 s each
#   FUZZ_SECONDS=600 tools/test-fuzz.sh pipeline model
#
# Seeds come from tests/fuzz/corpus/<target>/ and are only read; inputs the fuzzer finds go to
# $build/fuzz-corpus/<target>/, crashes to $build/fuzz-artifacts/<target>/. A crash fails the
# script and is printed with the command that replays it; copy it to
# tests/fuzz/corpus/<target>/regress-<what> so fuzz_replay_<target> keeps it fixed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FLOWPIC_FUZZ_BUILD:-/tmp/flowpic-fuzz}
secs=${FUZZ_SECONDS:-60}
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
	targets=(pkt conf model pipeline)
fi

# clang and its libFuzzer/sanitizer runtimes, from Debian.
if ! dpkg -s clang libclang-rt-14-dev >/dev/null 2>&1; then
	sudo=""
	[[ $(id -u) -ne 0 ]] && sudo=sudo
	$sudo apt-get install -y --no-install-recommends clang libclang-rt-14-dev
fi

# Every library is compiled with coverage (fuzzer-no-link) so the fuzzer sees inside them;
# only the fuzz_<target> binaries link libFuzzer's main.
if [[ ! -f $build/build.ninja ]]; then
	CC=clang meson setup "$build" "$top" -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link
fi
ninja -C "$build" "${targets[@]/#/tests/fuzz/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=()
for t in "${targets[@]}"; do
	work=$build/fuzz-corpus/$t
	art=$build/fuzz-artifacts/$t
	mkdir -p "$work" "$art"
	echo "== fuzz_$t: ${secs} s"
	if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 \
			-max_len=65536 -print_final_stats=1 -artifact_prefix="$art/" \
			"$work" "$top/tests/fuzz/corpus/$t" 2>"$build/fuzz-$t.log"; then
		tail -n 60 "$build/fuzz-$t.log"
		echo "fuzz_$t: FAILED; replay with: $build/tests/fuzz/fuzz_$t $art/<crash file>"
		failed+=("$t")
	else
		grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)' \
			"$build/fuzz-$t.log" || true
	fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "fuzzing found problems in: ${failed[*]}"
	exit 1
fi
echo "fuzzing: ${targets[*]}: no crash in ${secs} s each"
