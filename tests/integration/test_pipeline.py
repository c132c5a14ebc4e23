"""Integration tests: flowpicd replays generated captures through DPDK's net_pcap; exact counts."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcapgen as pg  # noqa: E402
import fptest  # noqa: E402

CLIENT, SERVER = 0, 1


def flow_records(t0, n, gap, src, dst, proto, sport, dport, sizes=(100, 1200), alternate=True,
                 vlans=(), v6=False):
    """n packets every gap seconds from t0; even ones client->server, odd ones back."""
    recs = []
    for i in range(n):
        back = alternate and i % 2 == 1
        a, b, pa, pb = (dst, src, dport, sport) if back else (src, dst, sport, dport)
        fr = pg.packet(a, b, proto, pa, pb, sizes[1 if back else 0], vlans, v6)
        recs.append((t0 + gap * i, fr))
    return recs


def expected_windows(recs, window=60.0):
    """Per window index of one flow: (packets, bytes) from its records, times from the first."""
    t0 = recs[0][0]
    out = {}
    for t, fr in recs:
        k = int((t - t0) // window)
        p, b = out.get(k, (0, 0))
        out[k] = (p + 1, b + len(fr))
    return out


def test_known_flows(ctx):
    T0 = 1_700_000_000.0
    tcp = flow_records(T0, 301, 0.5, "10.1.0.1", "10.1.0.2", 6, 40000, 443)
    short = flow_records(T0 + 3, 5, 1.0, "10.1.0.3", "10.1.0.4", 17, 5000, 53, alternate=False)
    icmp = flow_records(T0 + 5, 20, 1.0, "10.1.0.5", "10.1.0.6", 1, 0, 0, sizes=(56, 56),
                        alternate=False)
    vlan = flow_records(T0 + 7, 30, 1.0, "10.1.1.1", "10.1.1.2", 17, 7000, 7001, vlans=(100,))
    qinq = flow_records(T0 + 7.5, 30, 1.0, "10.1.1.1", "10.1.1.2", 17, 7000, 7001,
                        vlans=(300, 200))
    v6 = []
    for i in range(40):
        body = pg.l4(6, 50000 if i % 2 == 0 else 443, 443 if i % 2 == 0 else 50000, 300)
        src, dst = ("2001:db8::1", "2001:db8::2") if i % 2 == 0 else ("2001:db8::2", "2001:db8::1")
        ip = pg.ipv6(src, dst, 6, body, ext=[(0, bytes(6)), (60, bytes(14))])
        v6.append((T0 + 9 + 0.25 * i, pg.eth(pg.ETH_IPV6, ip)))
    frag_first, frag_later = [], []
    for i in range(12):
        udp = pg.l4(17, 9000, 9001, 1400)
        frag_first.append((T0 + 11 + i, pg.eth(pg.ETH_IPV4, pg.ipv4(
            "10.1.2.1", "10.1.2.2", 17, udp[:1200], mf=True))))
        frag_later.append((T0 + 11.1 + i, pg.eth(pg.ETH_IPV4, pg.ipv4(
            "10.1.2.1", "10.1.2.2", 17, udp[1200:], frag_off=1200))))
    arp = [(T0 + 1 + i, pg.eth(pg.ETH_ARP, bytes(28))) for i in range(7)]
    trunc_ip = [(T0 + 2 + i, pg.packet("10.9.9.9", "10.9.9.8", 6, 1, 2, 0)[:14 + 12])
                for i in range(3)]
    garbage = [(T0 + 2.5 + i, bytes([0xAB]) * 10) for i in range(2)]

    flows = {"tcp": tcp, "short": short, "icmp": icmp, "vlan": vlan, "qinq": qinq, "v6": v6,
             "frag_first": frag_first, "frag_later": frag_later}
    others = arp + trunc_ip + garbage
    allrecs = sorted([r for f in flows.values() for r in f] + others, key=lambda r: r[0])
    pcap = ctx.path("known.pcap")
    pg.write_pcap(pcap, allrecs)

    res = ctx.run(pcap)
    fptest.check_accounting(res)
    st = res.stats
    fptest.eq(st["rx"]["packets"], len(allrecs), "rx packets")
    fptest.eq(st["rx"]["bytes"], sum(len(r[1]) for r in allrecs), "rx bytes")
    cats = st["categories"]
    fptest.eq(cats["other"]["packets"], len(others), "other packets")
    fptest.eq(cats["other"]["bytes"], sum(len(r[1]) for r in others), "other bytes")
    fptest.eq(st["drops"]["non_ip"], 7, "non_ip drops")
    fptest.eq(st["drops"]["trunc_ip"], 3, "trunc_ip drops")
    fptest.eq(st["drops"]["trunc_eth"], 2, "trunc_eth drops")
    fptest.eq(cats["unclassified"]["packets"], 5, "unclassified packets (short window)")
    fptest.eq(cats["unclassified"]["windows"], 1, "unclassified windows")
    fptest.eq(st["drops"]["short_window"], 5, "short_window drop count")

    # Every classified window, exactly: (proto, sport, dport, window) -> (packets, bytes).
    want = {}
    for name, recs in flows.items():
        if name == "short":
            continue
        fr = recs[0][1]
        for k, (p, b) in expected_windows(recs).items():
            want[(name, k)] = (p, b)
    got = res.verdicts
    fptest.eq(len(got), len(want), "classified windows")
    by = {}
    for v in got:
        by.setdefault((v["proto"], v["sport"], v["dport"], v["src"]), []).append(v)
    tcpv = sorted(by[(6, 40000, 443, "10.1.0.1")], key=lambda v: v["window"])
    fptest.eq([v["window"] for v in tcpv], [0, 1, 2], "tcp window indices")
    for v in tcpv:
        fptest.eq((v["packets"], v["bytes"]), want[("tcp", v["window"])],
                  "tcp window %d packets/bytes" % v["window"])
        fptest.eq(v["dst"], "10.1.0.2", "tcp dst is the responder")
    fptest.eq(tcpv[1]["time"], T0 + 60, "window 1 starts 60 s after the flow")
    icmpv = by[(1, 0, 0, "10.1.0.5")]
    fptest.eq((icmpv[0]["packets"], icmpv[0]["bytes"]), want[("icmp", 0)], "icmp window")
    vl = by[(17, 7000, 7001, "10.1.1.1")]
    fptest.eq(len(vl), 2, "VLAN 100 and QinQ 300/200 are separate flows")
    v6v = by[(6, 50000, 443, "2001:db8::1")]
    fptest.eq((v6v[0]["packets"], v6v[0]["bytes"]), want[("v6", 0)], "IPv6 ext-header flow")
    ff = by[(17, 9000, 9001, "10.1.2.1")]
    fptest.eq(ff[0]["packets"], 12, "first fragments keep the 5-tuple")
    fl = by[(17, 0, 0, "10.1.2.1")]
    fptest.eq(fl[0]["packets"], 12, "later fragments: address pair + protocol, ports 0")
    total_classified = sum(v["packets"] for v in got)
    known = sum(c["packets"] for n, c in cats.items() if n not in ("unclassified", "other"))
    fptest.eq(known, total_classified, "class packets == sum of verdict packets")
    flows_total = sum(c["flows"] for c in cats.values())
    fptest.eq(flows_total, len(flows), "each flow counted once (first window)")

    # The same capture again gives the same verdicts and counters.
    res2 = ctx.run(pcap)
    fptest.eq(fptest.counters(res2.stats), fptest.counters(res.stats),
              "second run: identical counters")
    fptest.eq(fptest.canon(res2.verdicts), fptest.canon(res.verdicts),
              "second run: identical verdicts")

    # Two RX lcores (software symmetric hash on the single-queue vdev) and two workers.
    res3 = ctx.run(pcap, ["--set", "lcores.rx=[1, 2]", "--set", "lcores.workers=[3, 4]"])
    fptest.check_accounting(res3)
    fptest.eq(fptest.counters(res3.stats), fptest.counters(res.stats),
              "2 RX + 2 workers: identical counters")
    fptest.eq(fptest.canon(res3.verdicts), fptest.canon(res.verdicts),
              "2 RX + 2 workers: identical verdicts")

    # Paced replay: at 40x the capture's own pace it takes at least span / 40 of wall time
    # (a lower bound only: a loaded machine may be slower) and gives the same results.
    span = allrecs[-1][0] - allrecs[0][0]
    t0 = time.monotonic()
    res5 = ctx.run(pcap, ["--speed", "40"])
    took = time.monotonic() - t0
    if took < span / 40:
        raise fptest.Failure("--speed 40: %.2f s for a %.1f-s capture, under %.2f s" % (
            took, span, span / 40))
    fptest.check_accounting(res5)
    fptest.eq(fptest.counters(res5.stats), fptest.counters(res.stats),
              "--speed 40: identical counters")
    fptest.eq(fptest.canon(res5.verdicts), fptest.canon(res.verdicts),
              "--speed 40: identical verdicts")

    # min_packets decides what is classified.
    res4 = ctx.run(pcap, ["--set", "flow.min_packets=25"])
    fptest.check_accounting(res4)
    small = [k for k, (p, b) in want.items() if p < 25]
    fptest.eq(len(res4.verdicts), len(want) - len(small), "windows >= 25 packets classified")
    fptest.eq(res4.stats["categories"]["unclassified"]["packets"],
              5 + sum(want[k][0] for k in small), "short windows become unclassified")


def test_idle_and_boundaries(ctx):
    T0 = 1_700_100_000.0
    # UDP: 20 packets, silence 70 s (> 60 s UDP idle), 15 more: two flows, both window 0.
    u1 = flow_records(T0, 20, 1.0, "10.2.0.1", "10.2.0.2", 17, 1000, 2000)
    u2 = flow_records(T0 + 19 + 70, 15, 1.0, "10.2.0.1", "10.2.0.2", 17, 1000, 2000)
    # TCP: same gap is below the 120 s TCP idle timeout: one flow, windows 0 and 1.
    t1 = flow_records(T0, 20, 1.0, "10.2.1.1", "10.2.1.2", 6, 1000, 2000)
    t2 = flow_records(T0 + 90, 15, 1.0, "10.2.1.1", "10.2.1.2", 6, 1000, 2000)
    # Boundary: packets at exactly 0, 59.999999 and 60.0 s from the first.
    b = []
    for i in range(12):
        b.append((T0 + i * 5.0, pg.packet("10.2.2.1", "10.2.2.2", 17, 5, 6, 100)))
    b.append(((int(T0) + 59, 999999), pg.packet("10.2.2.1", "10.2.2.2", 17, 5, 6, 100)))
    b.extend((T0 + 60.0 + i, pg.packet("10.2.2.1", "10.2.2.2", 17, 5, 6, 100)) for i in range(10))
    recs = sorted(u1 + u2 + t1 + t2 + b, key=lambda r: r[0] if not isinstance(r[0], tuple)
                  else r[0][0] + r[0][1] / 1e6)
    pcap = ctx.path("idle.pcap")
    pg.write_pcap(pcap, recs)
    res = ctx.run(pcap)
    fptest.check_accounting(res)
    v = res.verdicts
    udp = sorted([x for x in v if x["sport"] == 1000 and x["proto"] == 17],
                 key=lambda x: x["time"])
    fptest.eq([(x["window"], x["packets"]) for x in udp], [(0, 20), (0, 15)],
              "UDP idle past 60 s starts a new flow")
    tcp = sorted([x for x in v if x["sport"] == 1000 and x["proto"] == 6],
                 key=lambda x: x["window"])
    fptest.eq([(x["window"], x["packets"]) for x in tcp], [(0, 20), (1, 15)],
              "TCP gap below 120 s stays one flow, window index from time")
    bd = sorted([x for x in v if x["sport"] == 5], key=lambda x: x["window"])
    fptest.eq([(x["window"], x["packets"]) for x in bd], [(0, 13), (1, 10)],
              "packet at 59.999999 s in window 0, at 60.0 s in window 1")
    fptest.eq(res.stats["categories"]["unclassified"]["packets"], 0, "no short windows")


def test_bad_captures(ctx):
    T0 = 1_700_200_000.0
    recs = flow_records(T0, 50, 0.1, "10.3.0.1", "10.3.0.2", 17, 1, 2)
    good = ctx.path("good.pcap")
    pg.write_pcap(good, recs)
    data = open(good, "rb").read()
    cut = ctx.path("cut.pcap")
    with open(cut, "wb") as f:
        f.write(data[:-30])          # last record cut in the middle
    res = ctx.run(cut)
    fptest.check_accounting(res)
    fptest.eq(res.stats["rx"]["packets"], 49, "cut capture: the 49 whole frames replayed")
    fptest.contains(res.stderr, "capture ends early", "cut capture is reported")

    empty = ctx.path("empty.pcap")
    pg.write_pcap(empty, [])
    res = ctx.run(empty)
    fptest.check_accounting(res)
    fptest.eq(res.stats["rx"]["packets"], 0, "empty capture: nothing received")

    notpcap = ctx.path("not.pcap")
    with open(notpcap, "wb") as f:
        f.write(b"this is not a capture file at all\n" * 4)
    res = ctx.run(notpcap, expect_rc=1)
    fptest.contains(res.stderr, notpcap, "bad capture: error names the file")

    res = ctx.run(ctx.path("missing.pcap"), expect_rc=1)
    fptest.contains(res.stderr, "missing.pcap", "missing capture: error names the file")

    # Snap length 96: bytes come from the IP total length, not the cut frame.
    snapped = ctx.path("snap.pcap")
    pg.write_pcap(snapped, [(t, fr[:96], len(fr)) for t, fr in recs], snaplen=96)
    res = ctx.run(snapped)
    fptest.check_accounting(res)
    fptest.eq(res.stats["rx"]["bytes"], sum(len(fr) for _, fr in recs),
              "snapped capture: wire bytes from the IP header")

    # A whole (not snapped) frame that claims a longer IP datagram weighs its frame length.
    liar = []
    for i in range(20):
        fr = bytearray(pg.packet("10.3.1.1", "10.3.1.2", 17, 7, 8, 10))
        fr[16:18] = b"\xff\xff"              # IPv4 total length 65535 in a 60-byte frame
        liar.append((T0 + i, bytes(fr)))
    lp = ctx.path("liar.pcap")
    pg.write_pcap(lp, liar)
    res = ctx.run(lp)
    fptest.check_accounting(res)
    fptest.eq(res.stats["rx"]["bytes"], 20 * 60, "IP length past a whole frame is not trusted")


if __name__ == "__main__":
    sys.exit(fptest.main([test_known_flows, test_idle_and_boundaries, test_bad_captures]))
