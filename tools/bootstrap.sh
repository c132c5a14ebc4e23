#!/usr/bin/env bash
# bootstrap.sh: install flowpic's Debian build/run dependencies (idempotent) and build into ./build.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FLOWPIC_BUILD:-$top/build}

# Everything flowpic builds and runs with, by Debian package name.
pkgs=(
	build-essential pkg-config meson ninja-build
	libdpdk-dev dpdk
	libdnnl-dev
	libyaml-dev zlib1g-dev libpcap-dev
	libmicrohttpd-dev libpng-dev
	python3-numpy python3-yaml
	tcpdump iproute2 ethtool iputils-ping curl
)

"$top/tools/apt-ensure.sh" "${pkgs[@]}"

if [[ ! -f "$build/build.ninja" ]]; then
	meson setup "$build" "$top" ${FLOWPIC_MESON_ARGS:-}
fi
ninja -C "$build"
