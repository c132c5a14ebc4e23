#!/bin/bash
# Traffic lab tests: labeller on a hand-built pcap, namespace set-up/tear-down, short labelled runs.
# Needs root and the packages of tools/lab/install-deps.sh. FP_EXTRACT=path/to/fp-extract adds the
# dataset builder test. Prints "N passed, N failed" last.
set -u

HERE="$(cd "$(dirname "$0")" && pwd)"
LAB="$HERE/../../tools/lab"
PY=/usr/bin/python3
TAG=tlab
WORK="$(mktemp -d /tmp/fp-lab-test.XXXXXX)"
PASS=0
FAIL=0

ok() { PASS=$((PASS + 1)); echo "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
check() { # check "what" command...
	local what="$1"
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
finish() {
	$PY -c "import sys; sys.path.insert(0, '$LAB'); import labnet; labnet.cleanup('$TAG')" 2>/dev/null
	rm -rf "$WORK"
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
	exit $?
}
trap finish EXIT

if [ "$(id -u)" != 0 ]; then
	bad "must run as root (network namespaces)"
	exit 1
fi
for t in ip tcpdump ethtool tc openvpn nginx ffmpeg mpv ngircd curl; do
	command -v "$t" >/dev/null || bad "tool $t missing (run tools/lab/install-deps.sh)"
done

# run_py NAME ARGS...: run a python test, add its "N passed, N failed" to the totals
run_py() {
	local out last p f
	out="$($PY "$@")"
	echo "$out" | sed 's/^/  /'
	last="$(echo "$out" | tail -n 1)"
	p="$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')"
	f="$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')"
	if [ -n "$p" ] && [ -n "$f" ]; then
		PASS=$((PASS + p))
		FAIL=$((FAIL + f))
	else
		bad "$1 did not report"
	fi
}

# 1. labeller on a hand-built capture; the application table; dataset builder with fp-extract
run_py "$HERE/test_label.py"
run_py "$HERE/test_apps.py"
FPX="${FP_EXTRACT:-}"
if [ -z "$FPX" ]; then
	FPX="$(command -v fp-extract || true)"
fi
if [ -n "$FPX" ] && [ -x "$FPX" ]; then
	run_py "$HERE/test_dataset.py" "$FPX"
else
	echo "skip dataset builder test: set FP_EXTRACT to the fp-extract binary"
fi

# 2. set-up and tear-down of one namespace pair
netns_count() { ip netns list | grep -c "^fpl-$TAG-" || true; }
$PY - "$LAB" "$TAG" > "$WORK/pair.txt" 2>&1 <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import labnet
p = labnet.Pair(sys.argv[2], 3, rate_kbit=5000)
p.up()
print("client_ns", p.client_ns)
print("server_ns", p.server_ns)
print("client_ip", p.client_ip)
print("server_ip", p.server_ip)
EOF
cns="$(sed -n 's/^client_ns //p' "$WORK/pair.txt")"
sns="$(sed -n 's/^server_ns //p' "$WORK/pair.txt")"
cip="$(sed -n 's/^client_ip //p' "$WORK/pair.txt")"
sip="$(sed -n 's/^server_ip //p' "$WORK/pair.txt")"
check "pair: two namespaces made" [ "$(netns_count)" = 2 ]
check "pair: addresses 10.99.0.13/.14 for index 3" [ "$cip $sip" = "10.99.0.13 10.99.0.14" ]
check "pair: client address on veth-c" \
	sh -c "ip netns exec '$cns' ip -4 addr show dev veth-c | grep -q 'inet $cip/30'"
check "pair: server reachable over the link" \
	sh -c "ip netns exec '$cns' bash -c 'exec 3<>/dev/tcp/$sip/9' 2>&1 | grep -q -i refused"
check "pair: gso/tso/gro off on both ends" sh -c \
	"ip netns exec '$cns' ethtool -k veth-c | grep -E '^(generic-segmentation-offload|tcp-segmentation-offload|generic-receive-offload): off' | wc -l | grep -q 3 &&
	 ip netns exec '$sns' ethtool -k veth-s | grep -E '^(generic-segmentation-offload|tcp-segmentation-offload|generic-receive-offload): off' | wc -l | grep -q 3"
check "pair: tbf rate limit on the link" \
	sh -c "ip netns exec '$sns' tc qdisc show dev veth-s | grep -q 'tbf.*rate 5Mbit'"
check "pair: IPv6 off (no ICMPv6 noise)" \
	sh -c "[ \"\$(ip netns exec '$cns' sysctl -n net.ipv6.conf.all.disable_ipv6)\" = 1 ]"
check "pair: nothing of the pair in the host namespace" \
	sh -c "! ip -o link show | grep -q '${TAG}3[cs]'"
$PY -c "import sys; sys.path.insert(0, '$LAB'); import labnet; labnet.Pair('$TAG', 3).down()"
check "pair: tear-down leaves no namespace" [ "$(netns_count)" = 0 ]

# 3. short labelled runs: three plain applications, then one inside OpenVPN
# verify_run DIR SESSIONS: every frame of every capture is in the manifest, no unexpected flow
verify_run() {
	local dir="$1" want="$2"
	check "run $dir: $want session records" \
		[ "$(grep -c . "$dir/sessions.jsonl" 2>/dev/null)" = "$want" ]
	check "run $dir: no session error" sh -c "! grep -q '\"error\": \"' '$dir/sessions.jsonl'"
	check "run $dir: manifest written" test -s "$dir/manifest.jsonl"
	check "run $dir: no namespace left" [ "$(netns_count)" = 0 ]
	for pcap in "$dir"/sessions/*/capture.pcap; do
		local s rel frames listed
		s="$(basename "$(dirname "$pcap")")"
		rel="sessions/$s/capture.pcap"
		frames="$(tcpdump -nr "$pcap" 2>/dev/null | wc -l)"
		listed="$($PY -c "
import json
n = 0
for line in open('$dir/manifest.jsonl'):
    r = json.loads(line)
    if r['pcap'] == '$rel':
        n += r['packets']
print(n)")"
		check "$s: capture has packets ($frames)" [ "$frames" -gt 50 ]
		check "$s: every frame is in a labelled flow or noise ($listed of $frames)" \
			[ "$frames" = "$listed" ]
	done
	check "run $dir: no unexpected flow" sh -c "! grep -q unexpected_flow '$dir/manifest.jsonl'"
}

app_flows() { # app_flows DIR CATEGORY APP VPN -> number of app flows with >= 20 packets
	$PY -c "
import json
n = 0
for line in open('$1/manifest.jsonl'):
    r = json.loads(line)
    if r['label'] == 'app' and r['category'] == '$2' and r['app'] == '$3' \
       and r['vpn'] == $4 and r['packets'] >= 20:
        n += 1
print(n)"
}

R1="$WORK/plain"
"$LAB/run.sh" --seed 5 --out "$R1" --content "$WORK/content" --tag "$TAG" --quiet \
	--duration 40 --min-session 30 --max-session 30 --stagger 1 --vpn-share 0 \
	--slots voip=1,chat=2,browsing=1,file_transfer=1 \
	--apps ffmpeg-srtp,irc-ngircd,mqtt-mosquitto,webkitgtk,curl-https \
	> "$WORK/run1.log" 2>&1
check "plain run exits 0" [ $? = 0 ]
verify_run "$R1" 5
check "plain voip flow (ffmpeg-srtp, udp)" [ "$(app_flows "$R1" voip ffmpeg-srtp False)" -ge 1 ]
# seed 5 gives chat slot 1 its second application and slot 2 its first: one session of each
check "plain chat flows (irc-ngircd, 2 clients)" [ "$(app_flows "$R1" chat irc-ngircd False)" = 2 ]
check "plain chat flows (mqtt-mosquitto, 2 clients)" \
	[ "$(app_flows "$R1" chat mqtt-mosquitto False)" = 2 ]
check "plain browsing flow (webkitgtk, https)" \
	[ "$(app_flows "$R1" browsing webkitgtk False)" -ge 1 ]
check "plain file_transfer flow (curl-https)" \
	[ "$(app_flows "$R1" file_transfer curl-https False)" -ge 1 ]

R2="$WORK/vpn"
"$LAB/run.sh" --seed 6 --out "$R2" --content "$WORK/content" --tag "$TAG" --quiet \
	--duration 35 --min-session 25 --max-session 25 --vpn-share 1 \
	--slots voip=1 --apps gstreamer-srtp > "$WORK/run2.log" 2>&1
check "vpn run exits 0" [ $? = 0 ]
verify_run "$R2" 1
check "vpn: the session is one OpenVPN UDP flow to port 1194" [ "$($PY -c "
import json
rows = [json.loads(l) for l in open('$R2/manifest.jsonl')]
app = [r for r in rows if r['label'] == 'app']
print(len(app) == 1 and app[0]['proto'] == 'udp' and app[0]['dport'] == 1194
      and app[0]['vpn'] is True and app[0]['packets'] > 500)")" = True ]
