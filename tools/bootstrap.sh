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

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$st" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "bootstrap: missing Debian packages: ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "bootstrap: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -f "$build/build.ninja" ]]; then
	meson setup "$build" "$top" ${FLOWPIC_MESON_ARGS:-}
fi
ninja -C "$build"
