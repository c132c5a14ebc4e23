#!/bin/sh
# Runs the traffic lab: ./run.sh --seed S --out DIR [--duration SECONDS] [options, see --help].
exec /usr/bin/python3 "$(dirname "$0")/lab.py" "$@"
