# Checks the lab's labeller on a hand-built pcap: flows, directions, counts, noise, bad files.
import json
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "lab"))

import label  # noqa: E402

passed = 0
failed = 0


def check(what, got, want):
    global passed, failed
    if got == want:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s: got %r, want %r" % (what, got, want))


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def eth(etype, payload):
    return b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + struct.pack("!H", etype) + payload


def ipv4(proto, src, dst, l4, total=None):
    total = total or 20 + len(l4)
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, proto, 0, ip4(src), ip4(dst)) + l4


def tcp(sport, dport):
    return struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 0x50, 0x10, 1000, 0, 0)


def udp(sport, dport, n):
    return struct.pack("!HHHH", sport, dport, 8 + n, 0) + b"\0" * n


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 128, 1))
        for ts, fr in frames:
            cap = fr[:128]
            f.write(struct.pack("<IIII", int(ts), int(round((ts % 1) * 1e6)), len(cap), len(fr)))
            f.write(cap)


def main():
    d = tempfile.mkdtemp(prefix="fp-lab-label-")
    os.makedirs(os.path.join(d, "s"))
    c, s = "10.99.0.1", "10.99.0.2"
    frames = [
        (100.0, eth(0x0806, b"\0" * 28)),                                  # ARP: noise
        (100.5, eth(0x0800, ipv4(6, c, s, tcp(40000, 443)))),               # TCP up
        (101.0, eth(0x0800, ipv4(6, s, c, tcp(443, 40000), total=1500))),   # TCP down, snapped
        (101.5, eth(0x0800, ipv4(6, s, c, tcp(443, 40000), total=1500))),
        (102.0, eth(0x0800, ipv4(17, c, s, udp(5000, 5000, 100)))),          # UDP on an unknown port
        (103.0, eth(0x0800, ipv4(1, c, s, b"\x08\0\0\0\0\0\0\0"))),        # ICMP: noise
        (170.25, eth(0x0800, ipv4(6, c, s, tcp(40000, 443)))),
    ]
    write_pcap(os.path.join(d, "s", "capture.pcap"), frames)
    rec = {"session": "s", "pcap": "s/capture.pcap", "category": "browsing", "app": "chromium",
           "vpn": False, "client_ip": c, "server_ip": s, "server_ports": [["tcp", 443]]}
    with open(os.path.join(d, "sessions.jsonl"), "w") as f:
        f.write(json.dumps(rec) + "\n")
    n = label.label_run(d)
    rows = [json.loads(x) for x in open(os.path.join(d, "manifest.jsonl"))]
    check("manifest row count", n, 4)
    app = [r for r in rows if r["label"] == "app"]
    check("one app flow", len(app), 1)
    a = app[0]
    check("app flow 5-tuple", (a["proto"], a["src"], a["sport"], a["dst"], a["dport"]),
          ("tcp", c, 40000, s, 443))
    check("app flow packets", a["packets"], 4)
    check("app flow up packets", a["up_packets"], 2)
    check("app flow bytes (IP total length, not snapped length)", a["bytes"], 40 + 1500 + 1500 + 40)
    check("app flow span", (a["t_first"], a["t_last"]), (100.5, 170.25))
    check("app flow labels", (a["category"], a["app"], a["vpn"]), ("browsing", "chromium", False))
    noise = {r["noise"]: r["packets"] for r in rows if r["label"] == "noise"}
    check("noise kinds and packets", noise, {"arp": 1, "icmp": 1, "unexpected_flow": 1})

    # a plain voip session: RTP on the server port, RTCP on the next one (aux), each way
    d2 = os.path.join(d, "voip")
    os.makedirs(os.path.join(d2, "v"))
    frames = [(200.0 + k * 0.02, eth(0x0800, ipv4(17, *((c, s) if k % 2 else (s, c)),
                                                   udp(7000, 7000, 90)))) for k in range(10)]
    frames += [(201.0, eth(0x0800, ipv4(17, c, s, udp(7001, 7001, 40)))),
               (206.0, eth(0x0800, ipv4(17, s, c, udp(7001, 7001, 40))))]
    write_pcap(os.path.join(d2, "v", "capture.pcap"), sorted(frames))
    rec = {"session": "v", "pcap": "v/capture.pcap", "category": "voip", "app": "ffmpeg-srtp",
           "vpn": False, "client_ip": c, "server_ip": s, "server_ports": [["udp", 7000]],
           "aux_ports": [["udp", 7001]]}
    rows = label.label_session(rec, d2)
    got = sorted((r["label"], r.get("sport"), r["packets"]) for r in rows)
    check("voip: RTP flow is app, RTCP flow is aux", got, [("app", 7000, 10), ("aux", 7001, 2)])
    check("voip: RTP flow starts server side (first packet)", [r["src"] for r in rows
                                                               if r["label"] == "app"], [s])

    bad = os.path.join(d, "bad.pcap")
    with open(bad, "wb") as f:
        f.write(b"this is not a capture file")
    try:
        list(label.read_pcap(bad))
        check("non-pcap file rejected", "no error", "ValueError")
    except ValueError:
        check("non-pcap file rejected", "ValueError", "ValueError")
    cut = os.path.join(d, "cut.pcap")
    with open(os.path.join(d, "s", "capture.pcap"), "rb") as f:
        data = f.read()
    with open(cut, "wb") as f:
        f.write(data[:-10])
    check("truncated last packet dropped, others read", len(list(label.read_pcap(cut))), 6)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
