#!/usr/bin/env bash
# test-deps.sh: Debian packages only the test suite needs (Prometheus, DPDK's telemetry client, tmux, clang).
set -euo pipefail

# prometheus: server and promtool for test_metrics; dpdk-dev: dpdk-telemetry.py for
# test_telemetry; tmux: the terminal test_stat drives flowpic-stat in; clang and its
# sanitizer/libFuzzer runtimes: the sanitizer and fuzzing parts of tools/test.sh.
pkgs=(prometheus dpdk-dev tmux clang libclang-rt-14-dev)

exec "$(dirname "$0")/apt-ensure.sh" "${pkgs[@]}"
