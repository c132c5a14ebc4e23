#!/bin/sh
# install-deps.sh: Debian packages the training pipeline needs (idempotent apt-get install).
set -eu
exec "$(dirname "$0")/../apt-ensure.sh" python3-torch python3-numpy python3-matplotlib
