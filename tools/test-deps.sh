#!/usr/bin/env bash
# test-deps.sh: Debian packages only the test suite needs (Prometheus, DPDK's telemetry client, tmux).
set -euo pipefail

# prometheus: server and promtool for test_metrics; dpdk-dev: dpdk-telemetry.py for
# test_telemetry; tmux: the terminal test_stat drives flowpic-stat in.
pkgs=(prometheus dpdk-dev tmux)

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$st" == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
	echo "test-deps: missing Debian packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
