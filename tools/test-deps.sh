#!/usr/bin/env bash
# test-deps.sh: Debian packages only the test suite needs (Prometheus, DPDK's telemetry client, tmux).
set -euo pipefail

# prometheus: server and promtool for test_metrics; dpdk-dev: dpdk-telemetry.py for
# test_telemetry; tmux: the terminal test_stat drives flowpic-stat in.
pkgs=(prometheus dpdk-dev tmux)

exec "$(dirname "$0")/apt-ensure.sh" "${pkgs[@]}"
