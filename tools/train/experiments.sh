#!/bin/sh
# experiments.sh: one experiment (1..5), or the shipped models ("ship"), on the lab data, then
# the tables of models/README.md. Usage: tools/train/experiments.sh N|ship [DATA_DIR...]
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${FLOWPIC_BUILD:-$top/build}
py=/usr/bin/python3

[ $# -ge 1 ] || { echo "usage: $0 1|2|3|4|5|ship [DATA_DIR...]" >&2; exit 2; }
what=$1
shift
"$top/tools/train/install-deps.sh"
ninja -C "$build" tools/extract/fp-extract tools/train/fp-pics tools/train/fp-predict >/dev/null

if [ $# -eq 0 ]; then
	# Default data: the lab's dataset when committed, else the newest lab run.
	set -- $(ls -d "$top"/models/datasets/*/ 2>/dev/null | head -n 1)
	[ $# -gt 0 ] || set -- $(ls -dt /work/lab-runs/run-*/ 2>/dev/null | head -n 1)
	[ $# -gt 0 ] || { echo "$0: no lab data found; pass DATA_DIR" >&2; exit 1; }
fi
data=""
for d in "$@"; do
	data="$data --data $d"
done

# shellcheck disable=SC2086
case $what in
1|2|3|4|5)
	$py "$top/tools/train/train.py" experiment "$what" --res 32,64,1500 --build "$build" $data
	;;
ship)
	for r in 32 64 1500; do
		$py "$top/tools/train/train.py" ship --res $r --out "$top/models/flowpic-$r.fpm" \
			--build "$build" $data
	done
	;;
*)
	echo "$0: unknown experiment '$what' (1..5 or ship)" >&2
	exit 2
	;;
esac
$py "$top/tools/train/train.py" report
