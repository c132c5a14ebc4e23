#!/usr/bin/env bash
# apt-ensure.sh PKG...: install the Debian packages not yet installed (idempotent; root needed only then).
set -euo pipefail

missing=()
for p in "$@"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$st" == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
	echo "apt-ensure: missing Debian packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "apt-ensure: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# flowpic starts the servers it needs itself (tests, lab): keep packages' init scripts from
# starting system services (prometheus, nginx, sshd, ...) on the host.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e "$policy" ]]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	made_policy=1
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
