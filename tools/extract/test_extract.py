#!/usr/bin/python3
"""End-to-end test of fp-extract: write small captures byte by byte, extract them, and check
every window and record against hand-computed values with fpwindows.py.

usage: /usr/bin/python3 test_extract.py PATH/TO/fp-extract
"""

import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import numpy as np  # noqa: F401  (fpwindows needs it)
    import fpwindows
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(77)

T0 = 1700000000  # seconds
S = 1000000


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def ip6(s):
    import ipaddress
    return ipaddress.IPv6Address(s).packed


def eth(ethertype, vlan=None):
    h = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"
    if vlan is not None:
        h += struct.pack(">HH", 0x8100, vlan)
    return h + struct.pack(">H", ethertype)


def ipv4(src, dst, proto, payload):
    tot = 20 + len(payload)
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, tot, 1, 0x4000, 64, proto, 0, ip4(src),
                       ip4(dst)) + payload


def ipv6(src, dst, nh, payload):
    return struct.pack(">IHBB16s16s", 0x60000000, len(payload), nh, 64, ip6(src),
                       ip6(dst)) + payload


def tcp(sport, dport, n):
    return struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x10, 65535, 0, 0) + b"x" * n


def udp(sport, dport, n):
    return struct.pack(">HHHH", sport, dport, 8 + n, 0) + b"u" * n


def icmp(n):
    return struct.pack(">BBHHH", 8, 0, 0, 1, 1) + b"i" * n


def pad60(frame):
    return frame + b"\0" * max(0, 60 - len(frame))


def pcap(linktype, packets):
    """packets: (seconds since T0 as (s, us), frame bytes, caplen or None)."""
    out = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, linktype)
    for (s, us), frame, caplen in packets:
        cap = len(frame) if caplen is None else caplen
        out += struct.pack("<IIII", T0 + s, us, cap, len(frame)) + frame[:cap]
    return out


def run(exe, args, expect_rc=0):
    p = subprocess.run([exe] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode != expect_rc:
        raise AssertionError("%s %s: exit %d, expected %d\n%s" % (
            exe, " ".join(args), p.returncode, expect_rc, p.stderr))
    return p


failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL: %s" % what)


def expect_window(f, i, want):
    w = f.windows[i]
    for k, v in want.items():
        if k in ("src", "dst", "recs"):
            continue
        check(int(w[k]) == v, "window %d %s: expected %r, actual %r" % (i, k, v, int(w[k])))
    check(f.src(i) == want["src"], "window %d src: %s != %s" % (i, f.src(i), want["src"]))
    check(f.dst(i) == want["dst"], "window %d dst: %s != %s" % (i, f.dst(i), want["dst"]))
    recs = [tuple(int(x) for x in r) for r in f.window_records(i)]
    check(recs == want["recs"], "window %d records: %r != %r" % (i, recs, want["recs"]))


def test_ethernet(exe, tmp):
    A, B = "10.0.0.1", "10.0.0.2"
    V6LO, V6HI = "2001:db8::1", "2001:db8::9"
    frames = [
        ((0, 0), pad60(eth(0x0800) + ipv4(A, B, 6, tcp(40000, 443, 0))), None),
        ((0, 100), pad60(eth(0x0800) + ipv4(B, A, 6, tcp(443, 40000, 0))), None),
        ((0, 500000), eth(0x0800) + ipv4(A, B, 6, tcp(40000, 443, 100)), None),
        ((1, 0), eth(0x86dd, vlan=42) + ipv6(V6HI, V6LO, 17, udp(5000, 53, 20)), None),
        ((1, 250000), eth(0x86dd, vlan=42) + ipv6(V6LO, V6HI, 17, udp(53, 5000, 100)), None),
        ((2, 0), eth(0x0800) + ipv4("10.0.0.3", "10.0.0.4", 1, icmp(56)), None),
        ((3, 0), pad60(eth(0x0806) + b"\x00\x01\x08\x00" + b"\0" * 24), None),   # ARP
        ((3, 500000), eth(0x0800) + b"\x65" + ipv4(A, B, 6, tcp(1, 2, 0))[1:], None),
        ((9, 0), eth(0x0800) + ipv4("10.0.0.4", "10.0.0.3", 1, icmp(56)), None),
        # 1500-byte datagram captured with a 54-byte snap length
        ((9, 999999), eth(0x0800) + ipv4(B, A, 6, tcp(443, 40000, 1460)), 54),
        ((10, 0), pad60(eth(0x0800) + ipv4(A, B, 6, tcp(40000, 443, 0))), None),
        ((35, 0), pad60(eth(0x0800) + ipv4(B, A, 6, tcp(443, 40000, 0))), None),
    ]
    cap = os.path.join(tmp, "eth.pcap")
    out = os.path.join(tmp, "eth.windows")
    with open(cap, "wb") as fh:
        fh.write(pcap(1, frames))
    p = run(exe, ["--pcap", cap, "--out", out, "--window", "10", "--idle-tcp", "30",
                  "--idle-udp", "20", "--idle-other", "5", "--table-size", "64"])
    check("12 frames, 10 in flows" in p.stderr, "summary: %s" % p.stderr)
    check(not os.path.exists(out + ".tmp"), "temporary file left behind")
    f = fpwindows.read(out)
    check(f.window_us == 10 * S, "window_us %d" % f.window_us)
    check(len(f) == 6, "6 windows, got %d" % len(f))
    if len(f) != 6:
        return
    t0 = T0 * S
    # 1: ICMP 10.0.0.3 -> .4, idle (5 s) before its window's end
    expect_window(f, 0, dict(family=4, proto=1, vlan=0, src_port=0, dst_port=0,
                             start_us=t0 + 2 * S, index=0, packets=1, bytes=98, n_records=1,
                             sampled_out=0, no_mem=0, end_reason=1, flags=0, shift=0,
                             src="10.0.0.3", dst="10.0.0.4", recs=[(0, 84, 0, 0)]))
    # 2: TCP window 0: four packets, the last one snapped (flag 0x10), 1514 wire bytes
    expect_window(f, 1, dict(family=4, proto=6, vlan=0, src_port=40000, dst_port=443,
                             start_us=t0, index=0, packets=4, bytes=60 + 60 + 154 + 1514,
                             n_records=4, end_reason=0, src=A, dst=B,
                             recs=[(0, 40, 0, 0), (100, 40, 1, 0), (500000, 140, 0, 0),
                                   (9999999, 1500, 1, 0x10)]))
    # 3: TCP window 1 starts exactly at 10 s
    expect_window(f, 2, dict(proto=6, start_us=t0 + 10 * S, index=1, packets=1, bytes=60,
                             end_reason=0, src=A, dst=B, recs=[(0, 40, 0, 0)]))
    # 4: UDP over IPv6 on VLAN 42, started by the higher address: window ended (11 s) before
    # the flow went idle (21.25 s)
    expect_window(f, 3, dict(family=6, proto=17, vlan=42, src_port=5000, dst_port=53,
                             start_us=t0 + 1 * S, index=0, packets=2, bytes=86 + 166,
                             n_records=2, end_reason=0, src=V6HI, dst=V6LO,
                             recs=[(0, 68, 0, 0), (250000, 148, 1, 0)]))
    # 5: the ICMP reply 7 s later is a new flow, started by 10.0.0.4
    expect_window(f, 4, dict(proto=1, start_us=t0 + 9 * S, index=0, packets=1, bytes=98,
                             end_reason=1, src="10.0.0.4", dst="10.0.0.3",
                             recs=[(0, 84, 0, 0)]))
    # 6: TCP window 3 (35 s) still open at the end of the capture: flushed
    expect_window(f, 5, dict(proto=6, start_us=t0 + 30 * S, index=3, packets=1, bytes=60,
                             end_reason=3, src=A, dst=B, recs=[(5 * S, 40, 1, 0)]))

    # the same capture with a record cap of 2: the TCP window's third packet thins its records
    # to packets 0 and 2 (stride 2), the fourth is sampled out
    out2 = os.path.join(tmp, "eth2.windows")
    run(exe, ["--pcap", cap, "--out", out2, "--window", "10", "--idle-tcp", "30",
              "--idle-udp", "20", "--idle-other", "5", "--max-records", "2", "--quiet"])
    g = fpwindows.read(out2)
    check(int(g.windows[1]["n_records"]) == 2 and int(g.windows[1]["sampled_out"]) == 2 and
          int(g.windows[1]["flags"]) == 1 and int(g.windows[1]["shift"]) == 1 and
          int(g.windows[1]["packets"]) == 4, "record cap: %r" % (g.windows[1],))
    recs = [tuple(int(x) for x in r) for r in g.window_records(1)]
    check(recs == [(0, 40, 0, 0), (500000, 140, 0, 0)], "record cap: records %r" % (recs,))
    check(len(g.records) == 1 + 2 + 1 + 2 + 1 + 1, "record cap: %d records" % len(g.records))

    # a cut file is refused by the reader
    cut = os.path.join(tmp, "cut.windows")
    with open(out, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read()[:-3])
    try:
        fpwindows.read(cut)
        check(False, "reader accepted a cut file")
    except fpwindows.FormatError:
        pass


def test_cooked_and_raw(exe, tmp):
    A, B = "192.168.1.10", "192.168.1.20"
    pkts = [ipv4(A, B, 17, udp(1234, 4321, 0)), ipv4(B, A, 17, udp(4321, 1234, 72)),
            ipv4(A, B, 17, udp(1234, 4321, 10))]
    times = [(0, 0), (0, 20), (4, 1)]
    # Linux cooked v1: packet type, ARPHRD, address length, 8 address bytes, protocol
    sll = [(t, struct.pack(">HHH8sH", 0, 1, 6, b"\x02" * 8, 0x0800) + p, None)
           for t, p in zip(times, pkts)]
    sll.append(((4, 2), struct.pack(">HHH8sH", 0, 1, 6, b"\x02" * 8, 0x0806) + b"\0" * 28,
                None))
    raw = [(t, p, None) for t, p in zip(times, pkts)]
    for name, linktype, frames in (("sll", 113, sll), ("raw", 101, raw)):
        cap = os.path.join(tmp, name + ".pcap")
        out = os.path.join(tmp, name + ".windows")
        with open(cap, "wb") as fh:
            fh.write(pcap(linktype, frames))
        run(exe, ["--pcap", cap, "--out", out, "--window", "2", "--quiet"])
        f = fpwindows.read(out)
        check(len(f) == 2, "%s: 2 windows, got %d" % (name, len(f)))
        if len(f) != 2:
            continue
        # bytes count each datagram as an untagged Ethernet frame: IP length + 14
        expect_window(f, 0, dict(family=4, proto=17, src_port=1234, dst_port=4321,
                                 start_us=T0 * S, index=0, packets=2, bytes=42 + 114,
                                 end_reason=0, src=A, dst=B,
                                 recs=[(0, 28, 0, 0), (20, 100, 1, 0)]))
        expect_window(f, 1, dict(start_us=T0 * S + 4 * S, index=2, packets=1, bytes=52,
                                 end_reason=3, src=A, dst=B, recs=[(1, 38, 0, 0)]))


def test_errors(exe, tmp):
    out = os.path.join(tmp, "never.windows")
    p = run(exe, ["--pcap", os.path.join(tmp, "missing.pcap"), "--out", out], 1)
    check("missing.pcap" in p.stderr, "missing capture named: %s" % p.stderr)
    check(not os.path.exists(out) and not os.path.exists(out + ".tmp"), "output left")
    bad = os.path.join(tmp, "bad.pcap")
    with open(bad, "wb") as fh:
        fh.write(b"this is not a capture file at all")
    run(exe, ["--pcap", bad, "--out", out], 1)
    check(not os.path.exists(out), "output left after a bad capture")
    p = run(exe, ["--pcap", bad, "--out", out, "--window", "0"], 2)
    check("--window" in p.stderr, "bad window named: %s" % p.stderr)
    run(exe, ["--pcap", bad, "--out", out, "--window", "abc"], 2)
    run(exe, ["--pcap", bad, "--out", out, "--max-records", "-3"], 2)
    run(exe, ["--pcap", bad], 2)
    # a capture cut inside a packet: libpcap reports it, nothing is written
    cut = os.path.join(tmp, "cut.pcap")
    with open(cut, "wb") as fh:
        fh.write(pcap(1, [((0, 0), pad60(eth(0x0800) + ipv4("1.1.1.1", "2.2.2.2", 6,
                                                            tcp(1, 2, 0))), None)])[:-10])
    run(exe, ["--pcap", cut, "--out", out], 1)
    check(not os.path.exists(out), "output left after a cut capture")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    exe = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_ethernet, test_cooked_and_raw, test_errors):
            before = failures
            try:
                t(exe, tmp)
            except AssertionError as e:
                check(False, "%s: %s" % (t.__name__, e))
            print("%s %s" % ("ok  " if failures == before else "FAIL", t.__name__))
    print("%s" % ("all passed" if failures == 0 else "%d failures" % failures))
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
