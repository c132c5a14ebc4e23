#!/bin/sh
# experiments.sh: one experiment of train.py (1..5, 3t, 4r, 2a, 3ta, 3tm: its EXPERIMENTS table), or
# the shipped models ("ship"), on the lab data, then the tables of models/README.md.
# Usage: tools/train/experiments.sh N|ship [DATA_DIR...]
# Environment: FLOWPIC_BUILD (build dir), FLOWPIC_TRAIN_RES (resolutions, default 32,64,1500),
# FLOWPIC_TRAIN_ARGS (more train.py options, e.g. "--max-seconds 600").
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${FLOWPIC_BUILD:-$top/build}
py=/usr/bin/python3
res=${FLOWPIC_TRAIN_RES:-32,64,1500}

[ $# -ge 1 ] || { echo "usage: $0 EXPERIMENT|ship [DATA_DIR...]" >&2; exit 2; }
what=$1
shift
"$top/tools/train/install-deps.sh"
ninja -C "$build" tools/extract/fp-extract tools/train/fp-pics tools/train/fp-predict >/dev/null

if [ $# -eq 0 ]; then
	# Default data: the committed lab datasets (complete windows); pass the lab's recordings
	# (run directories) to train on every window flowpicd classifies, as the shipped models.
	set -- $(ls -d "$top"/models/datasets/*/ 2>/dev/null)
	[ $# -gt 0 ] || { echo "$0: no lab data found; pass DATA_DIR..." >&2; exit 1; }
fi
data="--work $build/train-work"
for d in "$@"; do
	data="$data --data $d"
done

# shellcheck disable=SC2086
case $what in
ship)
	# The sample capture's sessions are left out, so the accuracy test sees unseen traffic.
	for r in $(echo "$res" | tr , ' '); do
		$py "$top/tools/train/train.py" ship --res $r --out "$top/models/flowpic-$r.fpm" \
			--exclude "$top/models/samples/sample.manifest.jsonl" --build "$build" $data \
			${FLOWPIC_TRAIN_ARGS:-}
	done
	;;
*)
	# train.py knows the experiments and refuses an unknown one (exit 2)
	$py "$top/tools/train/train.py" experiment "$what" --res "$res" --build "$build" $data \
		${FLOWPIC_TRAIN_ARGS:-}
	;;
esac
$py "$top/tools/train/train.py" report
