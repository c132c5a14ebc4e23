#!/usr/bin/python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from scratch.

Run with Debian's /usr/bin/python3 (needs numpy for the models). Frames come from the
integration tests' frame builder, models from tools/model/fpmodel.py, the configuration seeds
from config/flowpicd.yaml. Output is deterministic; files named regress-* are inputs that once
broke a target and are kept by hand, never rewritten here.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tools", "model"))
import pcapgen as pg  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def clean(target):
    d = os.path.join(CORPUS, target)
    if os.path.isdir(d):
        for n in os.listdir(d):
            if not n.startswith("regress-"):
                os.remove(os.path.join(d, n))


# ---------------------------------------------------------------- frames

def frames():
    f = {}
    f["tcp4"] = pg.packet("10.0.0.1", "10.0.0.2", 6, 40000, 443, 100)
    f["tcp4-rev"] = pg.packet("10.0.0.2", "10.0.0.1", 6, 443, 40000, 1200)
    f["udp4"] = pg.packet("192.168.1.10", "8.8.8.8", 17, 5353, 53, 40)
    f["icmp4"] = pg.packet("10.0.0.1", "10.0.0.9", 1, 0, 0, 56)
    f["udp4-vlan"] = pg.packet("10.1.1.1", "10.1.1.2", 17, 7000, 7001, 200, vlans=(100,))
    f["tcp4-qinq"] = pg.packet("10.1.1.1", "10.1.1.2", 6, 7000, 443, 300, vlans=(300, 200))
    f["tcp6"] = pg.packet("2001:db8::1", "2001:db8::2", 6, 50000, 443, 500, v6=True)
    f["udp6-vlan"] = pg.packet("2001:db8::2", "2001:db8::1", 17, 53, 5353, 80, vlans=(7,),
                               v6=True)
    f["ip4-options"] = pg.eth(pg.ETH_IPV4, pg.ipv4("10.0.0.1", "10.0.0.2", 17,
                              pg.l4(17, 1, 2, 10), options=bytes([1, 1, 1, 0])))
    udp = pg.l4(17, 9000, 9001, 1400)
    f["ip4-frag-first"] = pg.eth(pg.ETH_IPV4, pg.ipv4("10.1.2.1", "10.1.2.2", 17, udp[:1200],
                                 mf=True))
    f["ip4-frag-later"] = pg.eth(pg.ETH_IPV4, pg.ipv4("10.1.2.1", "10.1.2.2", 17, udp[1200:],
                                 frag_off=1200))
    body = pg.l4(6, 50000, 443, 30)
    f["ip6-ext"] = pg.eth(pg.ETH_IPV6, pg.ipv6("2001:db8::1", "2001:db8::2", 6, body,
                          ext=[(0, bytes(6)), (43, bytes(6)), (60, bytes(14))]))
    f["ip6-frag-later"] = pg.eth(pg.ETH_IPV6, pg.ipv6("2001:db8::1", "2001:db8::2", 17,
                                 bytes(64), ext=[(44, struct.pack("!HI", 1200 << 3, 7))]))
    f["ip6-ah"] = pg.eth(pg.ETH_IPV6, pg.ipv6("2001:db8::1", "2001:db8::2", 6, body,
                         ext=[(51, bytes(14))]))
    jumbo = bytearray(pg.packet("2001:db8::1", "2001:db8::2", 17, 1, 2, 64, v6=True))
    jumbo[18:20] = b"\0\0"           # payload length 0: the frame bounds the datagram
    f["ip6-jumbo"] = bytes(jumbo)
    f["arp"] = pg.eth(pg.ETH_ARP, bytes(28))
    f["llc"] = pg.mac(2) + pg.mac(1) + struct.pack("!H", 46) + bytes(46)
    f["vlan3"] = (pg.mac(2) + pg.mac(1) + struct.pack("!HHHHHHH", 0x8100, 1, 0x8100, 2,
                  0x8100, 3, 0x0800) + bytes(40))
    f["trunc-tcp"] = pg.packet("10.9.9.9", "10.9.9.8", 6, 1, 2, 0)[:14 + 20 + 10]
    f["trunc-ip"] = pg.packet("10.9.9.9", "10.9.9.8", 6, 1, 2, 0)[:14 + 12]
    f["snapped"] = pg.packet("10.0.0.1", "10.0.0.2", 6, 40000, 443, 1400)[:96]
    f["jumbo-9000"] = pg.packet("10.0.0.1", "10.0.0.2", 17, 1, 2, 9000 - 42)
    return f


def pkt_corpus():
    clean("pkt")
    for name, fr in frames().items():
        put("pkt", name, fr)
    # raw IP (the target also tries fp_pkt_parse_ip on the whole input)
    put("pkt", "raw-ip4", pg.ipv4("10.0.0.1", "10.0.0.2", 6, pg.l4(6, 1, 443, 20)))
    put("pkt", "raw-ip6", pg.ipv6("2001:db8::1", "2001:db8::2", 17, pg.l4(17, 1, 53, 20)))
    put("pkt", "empty", b"")
    put("pkt", "garbage", bytes([0xAB]) * 10)


# ---------------------------------------------------------------- configuration

def conf_corpus():
    clean("conf")
    with open(os.path.join(TOP, "config", "flowpicd.yaml"), "rb") as f:
        put("conf", "reference.yaml", f.read())
    put("conf", "small.yaml",
        "ports: ['net_pcap0,rx_pcap=a.pcap']\nflow:\n  window: 30\n  clock: packet\n"
        "lcores: {rx: [1, 3], workers: [2], stats: 0}\n")
    put("conf", "with-sets",
        "flow:\n  min_packets: 5\n\0flow.clock=tsc\0lcores.workers=[2, 4]\0"
        "rings.windows=64\0eal.args=[--no-huge, -m, '512']\0export.metrics=''\0")
    put("conf", "lists.yaml",
        "eal:\n  args: [--lcores, '0@0,1@1,2@0', --main-lcore, '0']\n"
        "lcores:\n  rx: [1]\n  workers: [2]\n  stats: 0\n"
        "ports:\n  - '0000:03:00.0'\n  - net_pcap1,rx_pcap=x.pcap,infinite_rx=1\n")
    put("conf", "anchors.yaml", "a: &x {b: 1}\nflow: *x\n")
    put("conf", "quoted.yaml",
        "model:\n  path: \"models/it's \\\"q\\\".fpm\"\nexport:\n  verdicts: '/tmp/v #1'\n"
        "  stats_json: ''\nlog: {level: debug, summary_interval: 0}\n")
    put("conf", "deep.yaml", "flow: " + "[" * 12 + "]" * 12 + "\n")
    put("conf", "only-sets", "\0flow.window=120\0mempool.mbufs=1024\0rx.burst=512\0"
        "rx.ring_size=64\0flowpic.direction=up\0model.confidence=0.9\0")


# ---------------------------------------------------------------- models

def model_corpus():
    import numpy as np
    import fpmodel
    clean("model")
    rng = np.random.default_rng(9)
    tiny = fpmodel.Model("tiny-8", 8, ["voip", "video", "chat"], [
        {"type": "conv2d", "out_channels": 2, "kernel": 3, "stride": 1, "padding": 1},
        {"type": "relu"}, {"type": "maxpool", "kernel": 2, "stride": 2},
        {"type": "dense", "units": 3}, {"type": "softmax"}], window_seconds=1)
    tiny.init_random(rng)
    dense = fpmodel.Model("dense-4", 4, ["a", "b"], [
        {"type": "dense", "units": 6}, {"type": "relu"}, {"type": "dropout", "rate": 0.25},
        {"type": "dense", "units": 2}], direction="up", normalization="clip255",
        description="dense only", training={"data_digest": "sha256:00", "accuracy": 0.5})
    dense.init_random(rng)
    strided = fpmodel.Model("strided-16", 16, ["x", "y", "z", "w"], [
        {"type": "conv2d", "out_channels": 3, "kernel": 5, "stride": 2, "padding": 2},
        {"type": "relu"}, {"type": "conv2d", "out_channels": 2, "kernel": 3, "stride": 2},
        {"type": "maxpool", "kernel": 3, "stride": 1, "padding": 1},
        {"type": "dense", "units": 4}], direction="down", normalization="none")
    strided.init_random(rng)
    tmp = os.path.join(CORPUS, "model", ".tmp.fpm")
    for name, m in (("tiny-8.fpm", tiny), ("dense-4.fpm", dense),
                    ("strided-16.fpm", strided)):
        m.save(tmp)
        with open(tmp, "rb") as f:
            put("model", name, f.read())
        os.remove(tmp)
    with open(os.path.join(CORPUS, "model", "tiny-8.fpm"), "rb") as f:
        data = f.read()
    put("model", "tiny-8-cut", data[:-7])
    put("model", "header-only", data[:data.index(b"\n...\n") + 5])


# ---------------------------------------------------------------- captures

def pcap_bytes(records, snaplen=65535, magic=0xA1B2C3D4, endian="<", nano=False):
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, 1)]
    for t, fr, *orig in records:
        sec = int(t)
        frac = int(round((t - sec) * (1e9 if nano else 1e6)))
        out.append(struct.pack(endian + "IIII", sec, frac, len(fr), orig[0] if orig else len(fr)))
        out.append(fr)
    return b"".join(out)


def flow(t0, n, gap, src, dst, proto, sp, dp, sizes=(60, 300), **kw):
    recs = []
    for i in range(n):
        back = i % 2 == 1
        a, b, pa, pb = (dst, src, dp, sp) if back else (src, dst, sp, dp)
        recs.append((t0 + gap * i, pg.packet(a, b, proto, pa, pb, sizes[back], **kw)))
    return recs


def snap(records, n=80):
    """Frames cut to n bytes as a capture with a snap length stores them."""
    return [(t, f[:n], len(f)) for t, f in records]


def pipeline_corpus():
    clean("pipeline")
    t0 = 1_700_000_000.0
    fr = frames()
    mixed = (flow(t0, 40, 0.05, "10.0.0.1", "10.0.0.2", 6, 40000, 443) +
             flow(t0 + 0.3, 12, 0.2, "10.0.0.3", "10.0.0.4", 17, 5000, 53, vlans=(9,)) +
             flow(t0 + 0.5, 10, 0.3, "2001:db8::1", "2001:db8::2", 6, 1, 2, v6=True) +
             [(t0 + 0.1 * i, fr[k]) for i, k in enumerate(
                 ("arp", "trunc-ip", "vlan3", "ip4-frag-first", "ip4-frag-later", "llc"))])
    mixed.sort(key=lambda r: r[0])
    put("pipeline", "mixed.pcap", pcap_bytes(mixed))
    many = []
    for i in range(40):             # more flows than the target's 16-entry table
        many += flow(t0 + 0.01 * i, 3, 0.4, "10.2.%d.1" % i, "10.2.0.2", 17, 1000 + i, 53)
    many.sort(key=lambda r: r[0])
    put("pipeline", "churn.pcap", pcap_bytes(snap(many), snaplen=80))
    put("pipeline", "long-flow.pcap", pcap_bytes(snap(flow(t0, 150, 0.02, "10.3.0.1",
        "10.3.0.2", 6, 1, 2, sizes=(100, 1400))), snaplen=80))
    put("pipeline", "big-endian.pcap", pcap_bytes(mixed[:20], magic=0xA1B2C3D4, endian=">"))
    put("pipeline", "nanosecond.pcap", pcap_bytes(mixed[:20], magic=0xA1B23C4D, nano=True))
    put("pipeline", "snapped.pcap",
        pcap_bytes([(t, f[:96], len(f)) for t, f in mixed[:20]], snaplen=96))
    put("pipeline", "cut.pcap", pcap_bytes(mixed[:10])[:-25])
    put("pipeline", "odd-frames.pcap", pcap_bytes([
        (t0, b""), (t0 + 0.1, fr["jumbo-9000"][:200], 9000), (t0 + 0.2, bytes([0x55]) * 7),
        (t0 + 0.3, fr["ip6-jumbo"]), (t0 - 5, fr["tcp4"]), (t0 + 0.4, fr["tcp4-rev"])]))
    put("pipeline", "header-only.pcap", pcap_bytes([]))


def main():
    pkt_corpus()
    conf_corpus()
    model_corpus()
    pipeline_corpus()
    total = 0
    for t in sorted(os.listdir(CORPUS)):
        d = os.path.join(CORPUS, t)
        files = [n for n in os.listdir(d) if not n.startswith(".")]
        size = sum(os.path.getsize(os.path.join(d, n)) for n in files)
        total += size
        print("%-10s %3d files %8d bytes" % (t, len(files), size))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
