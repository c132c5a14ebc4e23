#!/usr/bin/env bash
# quickstart.sh: install, build, and replay the shipped sample capture through flowpicd.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FLOWPIC_BUILD:-$top/build}

"$top/tools/bootstrap.sh"
cd "$top"
sample=${1:-models/samples/sample.pcap}
model=${2:-models/flowpic-32.fpm}
exec "$build/app/flowpicd/flowpicd" --pcap "$sample" --model "$model"
