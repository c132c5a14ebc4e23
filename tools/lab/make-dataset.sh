#!/bin/sh
# Regenerates a lab dataset from its seed: record, label, extract windows, report (one command).
#
#   tools/lab/make-dataset.sh [SEED] [RUN_DIR] [DATASET_DIR]
#
# Defaults: seed 2026, /work/lab-runs/run-s<SEED>, models/datasets/lab-s<SEED>. Needs root,
# tools/lab/install-deps.sh done, and fp-extract (FP_EXTRACT=path, else built here with meson
# into $FLOWPIC_BUILD or ./build). Recording takes DURATION seconds (default 5700) plus content
# making, labelling and extraction: about 1:55 on a 2-core machine (tools/lab/README.md).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
seed=${1:-2026}
run=${2:-/work/lab-runs/run-s$seed}
ds=${3:-$top/models/datasets/lab-s$seed}
duration=${DURATION:-5700}
# the slots of the shipped dataset: 24 default slots, 18 more, 8 plain-only chat/browsing, 7 more
slots=${SLOTS:-voip=5,video=4,chat=4,browsing=5,file_transfer=6,voip=3,video=4,chat=2,browsing=4,file_transfer=5,chat=6@0,browsing=2@0,video=3@1,chat=3@0,browsing=1@0}

# the applications of the shipped dataset: a slot rotates over its category's applications, so
# adding one to the lab would change every later seed-2026 session; APPS=... for other sets
apps=${APPS:-ffmpeg-srtp,gstreamer-srtp,ffmpeg-hls,abr-player,xmpp-prosody,irc-ngircd,chromium,firefox,scp,rsync-ssh,curl-https}

fpx=${FP_EXTRACT:-}
if [ -z "$fpx" ]; then
	build=${FLOWPIC_BUILD:-$top/build}
	if [ ! -d "$build" ]; then
		meson setup "$build" "$top"
	fi
	ninja -C "$build" tools/extract/fp-extract
	fpx="$build/tools/extract/fp-extract"
fi

"$top/tools/lab/run.sh" --seed "$seed" --out "$run" --duration "$duration" --slots "$slots" \
	--apps "$apps" --quiet
/usr/bin/python3 "$top/tools/lab/dataset.py" --run "$run" --out "$ds" --fp-extract "$fpx"
/usr/bin/python3 "$top/tools/lab/report.py" "$ds"
