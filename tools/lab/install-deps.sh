#!/bin/sh
# Installs (idempotently) the Debian 12 packages the traffic lab needs.
set -eu

PKGS="iproute2 ethtool tcpdump openssl procps psmisc kmod
nginx-light ffmpeg chromium
prosody python3-slixmpp ngircd
openssh-server openssh-client rsync curl
openvpn baresip-core
gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
firefox-esr
python3-numpy python3-matplotlib python3-websocket"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	# Services are run by the lab inside its own namespaces; keep the
	# packages' init scripts from starting them in the host namespace.
	policy=/usr/sbin/policy-rc.d
	made_policy=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' > "$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	apt-get update -q || true
	apt-get install -y -q --no-install-recommends $missing
	if [ "$made_policy" = 1 ]; then
		rm -f "$policy"
	fi
fi
echo "lab dependencies installed"
