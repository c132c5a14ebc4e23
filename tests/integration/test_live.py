"""Integration test: flowpicd live (TSC clock) on net_af_packet, watching real traffic in netns."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fptest  # noqa: E402

NS_A, NS_B = "fpliveA", "fpliveB"
IP_A, IP_B = "10.77.0.1", "10.77.0.2"


def sh(cmd, check=True):
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True)


def netns_up():
    netns_down()
    sh("ip netns add %s && ip netns add %s" % (NS_A, NS_B))
    sh("ip link add fpvA netns %s type veth peer name fpvB netns %s" % (NS_A, NS_B))
    for ns, dev, ip in ((NS_A, "fpvA", IP_A), (NS_B, "fpvB", IP_B)):
        sh("ip -n %s addr add %s/24 dev %s" % (ns, ip, dev))
        sh("ip -n %s link set %s up && ip -n %s link set lo up" % (ns, dev, ns))
        sh("ip netns exec %s ethtool -K %s gro off gso off tso off" % (ns, dev), check=False)


def netns_down():
    for ns in (NS_A, NS_B):
        sh("ip netns del %s" % ns, check=False)


def test_live_af_packet(ctx):
    if sh("command -v ethtool", check=False).returncode != 0:
        raise fptest.Failure("ethtool missing (tools/test.sh installs it)")
    netns_up()
    server = daemon = None
    try:
        conf = ctx.path("live.yaml")
        sj = ctx.path("live.json")
        vl = ctx.path("live.jsonl")
        with open(conf, "w") as f:
            f.write("eal:\n  args: [--no-huge, --no-shconf, -m, '512', --file-prefix, fplive]\n")
            # a larger kernel ring than the PMD's default: the PMD does not report the
            # kernel's ring drops, so the test sizes it for the traffic it sends
            f.write("ports: ['net_af_packet0,iface=fpvB,blocksz=65536,framesz=2048,"
                    "framecnt=16384']\n")
            f.write("model:\n  path: %s\n" % ctx.model)
            f.write("export:\n  metrics: ''\n  stats_json: %s\n  verdicts: %s\n" % (sj, vl))
            f.write("log:\n  summary_interval: 0\n")
        err = open(ctx.path("live.err"), "w")
        daemon = fptest.spawn(["ip", "netns", "exec", NS_B, fptest.FLOWPICD, "-c", conf],
                                  stdout=subprocess.PIPE, stderr=err, text=True)
        end = time.time() + 120     # bounds a hang; EAL start-up is slow on a loaded machine
        while "RX lcore(s)" not in open(err.name).read():
            if time.time() > end or daemon.poll() is not None:
                daemon.kill()
                daemon.wait()
                raise fptest.Failure("flowpicd did not start:\n" + open(err.name).read())
            time.sleep(0.2)
        # Real programs: ping, and an HTTP download over TCP from python's http.server.
        server = fptest.spawn(["ip", "netns", "exec", NS_B, "/usr/bin/python3", "-m",
                                   "http.server", "--bind", IP_B, "8088", "--directory",
                                   os.path.dirname(fptest.FLOWPICD)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        ping = sh("ip netns exec %s ping -c 40 -i 0.05 -s 400 %s" % (NS_A, IP_B), check=False)
        fptest.contains(ping.stdout, "40 received", "ping across the veth pair")
        # paced like a real transfer on a mirrored link (2 MB/s)
        got = sh("ip netns exec %s curl -s --limit-rate 2M -o /dev/null "
                 "-w '%%{size_download}' http://%s:8088/flowpicd" % (NS_A, IP_B), check=False)
        size = int(got.stdout or 0)
        if size < 100000:
            raise fptest.Failure("HTTP download failed: %r %r" % (got.stdout, got.stderr))
        time.sleep(1)
        daemon.send_signal(signal.SIGTERM)
        out, _ = daemon.communicate(timeout=30)
        fptest.eq(daemon.returncode, 0, "exit status after SIGTERM")
        fptest.contains(out, "accounting: ok", "accounting identity on live traffic")
        st = json.load(open(sj))
        verdicts = [json.loads(x) for x in open(vl) if x.strip()]
        icmp = [v for v in verdicts if v["proto"] == 1 and v["src"] == IP_A]
        fptest.eq(len(icmp), 1, "one ICMP window, initiator = the pinging host")
        fptest.eq(icmp[0]["packets"], 80, "ICMP window: 40 requests + 40 replies")
        tcp = [v for v in verdicts if v["proto"] == 6 and v["dport"] == 8088]
        fptest.eq(len(tcp), 1, "one TCP window for the download")
        if tcp[0]["bytes"] < size:
            raise fptest.Failure("TCP window has %d bytes, the download alone %d" %
                                 (tcp[0]["bytes"], size))
        if st["rx"]["packets"] < 80 + tcp[0]["packets"]:
            raise fptest.Failure("received fewer packets than the flows hold")
    finally:
        if server is not None:
            server.kill()
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
        netns_down()
    if sh("ip netns list", check=False).stdout.count("fplive"):
        raise fptest.Failure("namespaces left behind")


if __name__ == "__main__":
    sys.exit(fptest.main([test_live_af_packet]))
