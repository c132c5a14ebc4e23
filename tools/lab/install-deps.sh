#!/bin/sh
# Installs (idempotently) the Debian 12 packages the traffic lab needs.
set -eu

PKGS="iproute2 ethtool tcpdump openssl procps psmisc kmod
nginx-light ffmpeg chromium
prosody python3-slixmpp ngircd mosquitto python3-paho-mqtt
openssh-server openssh-client rsync curl aria2
openvpn baresip-core
mpv gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
firefox-esr xvfb xauth gir1.2-webkit2-4.1 gir1.2-gtk-3.0 python3-gi
python3-numpy python3-matplotlib python3-websocket"

# shellcheck disable=SC2086  # word splitting of the package list is intended
"$(dirname "$0")/../apt-ensure.sh" $PKGS
echo "lab dependencies installed"
