"""Integration tests: faults. Malformed, oversized and garbage frames, broken captures, signals."""
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcapgen as pg  # noqa: E402
import fptest  # noqa: E402
from test_overload import LiveRun, many_flows_capture  # noqa: E402

T0 = 1_700_400_000.0


def malformed_frames():
    """(reason, frame) pairs, one per parse reason, each built to fail in exactly that way."""
    tcp = pg.packet("10.20.0.1", "10.20.0.2", 6, 1000, 80, 0)
    bad_hlen = bytearray(tcp)
    bad_hlen[14] = 0x44                       # IHL 4: 16-byte header
    bad_len = bytearray(tcp)
    bad_len[16:18] = struct.pack("!H", 12)    # total length below the 20-byte header
    bad_ver = bytearray(tcp)
    bad_ver[14] = 0x65                        # version 6 behind EtherType IPv4
    v6 = bytearray(pg.eth(pg.ETH_IPV6, pg.ipv6("2001:db8::1", "2001:db8::2", 17,
                                               pg.l4(17, 1, 2, 8), ext=[(0, bytes(6))])))
    v6[14 + 40 + 1] = 20                      # hop-by-hop length past the datagram
    vlan3 = (pg.mac(2) + pg.mac(1) + struct.pack("!HHHHHHH", 0x8100, 1, 0x8100, 2, 0x8100, 3,
                                                  0x0800) + bytes(40))
    return [
        ("trunc_eth", b""),                   # zero-length frame
        ("trunc_eth", bytes(5)),
        ("trunc_eth", pg.mac(2) + pg.mac(1) + b"\x81\x00\x00"),   # VLAN tag cut
        ("trunc_ip", pg.mac(2) + pg.mac(1) + b"\x08\x00" + bytes(10)),
        ("bad_ip_hlen", bytes(bad_hlen)),
        ("bad_ip_len", bytes(bad_len)),
        ("bad_ip_version", bytes(bad_ver)),
        ("trunc_l4", tcp[:14 + 20 + 10]),
        ("bad_ipv6_ext", bytes(v6)),
        ("vlan_depth", vlan3),
        ("non_ip", pg.eth(pg.ETH_ARP, bytes(28))),
    ]


def test_malformed_and_oversized_frames(ctx):
    recs, t = [], T0
    bad = malformed_frames()
    for k in range(3):
        for reason, fr in bad:
            recs.append((t, fr))
            t += 0.01
    jumbo = [(T0 + 0.5 + i * 0.1, pg.packet("10.21.0.1", "10.21.0.2", 17, 9000, 9001, 9000 - 42))
             for i in range(12)]
    giant = [(T0 + 0.55 + i * 0.1, pg.packet("10.22.0.1", "10.22.0.2", 17, 65000, 65001,
                                             65535 - 42)) for i in range(12)]
    allrecs = sorted(recs + jumbo + giant, key=lambda r: r[0])
    pcap = ctx.path("malformed.pcap")
    pg.write_pcap(pcap, allrecs)
    res = ctx.run(pcap)
    fptest.check_accounting(res)
    st = res.stats
    fptest.eq(st["rx"]["packets"], len(allrecs), "every frame received")
    fptest.eq(st["rx"]["bytes"], sum(len(r[1]) for r in allrecs), "wire bytes")
    want = {}
    for reason, fr in bad:
        want[reason] = want.get(reason, 0) + 3
    for reason in want:
        fptest.eq(st["drops"][reason], want[reason], "drop reason %s" % reason)
    fptest.eq(st["categories"]["other"]["packets"], len(recs), "malformed frames are 'other'")
    fptest.eq(st["categories"]["other"]["bytes"], sum(len(r[1]) for r in recs), "other bytes")
    got = sorted((v["sport"], v["packets"], v["bytes"]) for v in res.verdicts)
    fptest.eq(got, [(9000, 12, 12 * 9000), (65000, 12, 12 * 65535)],
              "9000- and 65535-byte frames are classified with their full size")


def test_garbage_frames(ctx):
    rng = random.Random(1234)
    recs = []
    for i in range(400):
        n = rng.randrange(0, 300)
        fr = bytes(rng.randrange(256) for _ in range(n))
        if i % 2 == 0 and n >= 14:            # half claim IPv4 or IPv6 to go past Ethernet
            fr = fr[:12] + (b"\x08\x00" if i % 4 == 0 else b"\x86\xdd") + fr[14:]
        recs.append((T0 + i * 0.001, fr))
    pcap = ctx.path("garbage.pcap")
    pg.write_pcap(pcap, recs)
    res = ctx.run(pcap)
    fptest.check_accounting(res)
    fptest.eq(res.stats["rx"]["packets"], len(recs), "every garbage frame received")
    if res.stats["rx"]["bytes"] < sum(len(r[1]) for r in recs):
        raise fptest.Failure("fewer bytes than the frames hold")
    parse_drops = sum(v for k, v in res.stats["drops"].items()
                      if k in {r for r, _ in malformed_frames()})
    fptest.eq(parse_drops, res.stats["categories"]["other"]["packets"],
              "each 'other' frame has one parse reason")


def test_cut_and_corrupt_captures(ctx):
    recs = [(T0 + i * 0.1, pg.packet("10.23.0.1", "10.23.0.2", 17, 1, 2, 100 + i))
            for i in range(30)]
    good = ctx.path("whole.pcap")
    pg.write_pcap(good, recs)
    data = open(good, "rb").read()
    rec_end = 24 + sum(16 + len(fr) for _, fr in recs[:20])

    # Cut inside the 21st record's header: 20 frames.
    cut = ctx.path("cut-header.pcap")
    open(cut, "wb").write(data[:rec_end + 7])
    res = ctx.run(cut)
    fptest.check_accounting(res)
    fptest.eq(res.stats["rx"]["packets"], 20, "cut in a record header: 20 frames")
    fptest.contains(res.stderr, "capture ends early", "cut capture is reported")

    # A record claiming a 300000-byte frame (more than libpcap accepts): the frames before it.
    bad = bytearray(data)
    bad[rec_end + 8:rec_end + 12] = struct.pack("<I", 300000)
    corrupt = ctx.path("huge-record.pcap")
    open(corrupt, "wb").write(bytes(bad))
    res = ctx.run(corrupt)
    fptest.check_accounting(res)
    fptest.eq(res.stats["rx"]["packets"], 20, "bad record length: the 20 frames before it")
    fptest.contains(res.stderr, "capture ends early", "bad record is reported")

    # Cut inside the file header: not a capture; refused before start, naming the file.
    head = ctx.path("cut-file-header.pcap")
    open(head, "wb").write(data[:10])
    res = ctx.run(head, expect_rc=1)
    fptest.contains(res.stderr, head, "cut file header: error names the file")

    # A capture of another link type (raw IP): refused with the reason.
    raw = ctx.path("raw-ip.pcap")
    hdr = bytearray(data[:24])
    hdr[20:24] = struct.pack("<I", 101)
    open(raw, "wb").write(bytes(hdr) + data[24:rec_end])
    res = ctx.run(raw, expect_rc=1)
    fptest.contains(res.stderr, "not Ethernet", "other link type: reason given")


def big_capture(path, n=1_500_000):
    """n small UDP frames of 1000 flows, 10 us apart, written without building each frame."""
    frames = [pg.packet("10.24.%d.%d" % (i // 250, i % 250 + 1), "10.25.0.1", 17, 2000 + i, 53,
                        18) for i in range(1000)]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        buf = []
        for k in range(n):
            fr = frames[k % 1000]
            us = k * 10
            buf.append(struct.pack("<IIII", 1000 + us // 1000000, us % 1000000, len(fr), len(fr)))
            buf.append(fr)
            if len(buf) >= 20000:
                f.write(b"".join(buf))
                buf = []
        f.write(b"".join(buf))
    return n


def test_sigterm_during_replay(ctx):
    """SIGTERM in the middle of an offline replay: flush, report, exit 0, accounting ok."""
    pcap = ctx.path("big.pcap")
    n = big_capture(pcap)
    sj = ctx.path("term-replay.json")
    err = open(ctx.path("term-replay.err"), "w+")
    p = fptest.spawn([fptest.FLOWPICD, "--pcap", pcap, "--model", ctx.model,
                          "--stats-json", sj], stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        end = time.time() + 120
        while time.time() < end and p.poll() is None:
            err.flush()
            if "RX lcore(s)" in open(err.name).read():
                break
            time.sleep(0.02)
        p.send_signal(signal.SIGTERM)
        t = time.time()
        out, _ = p.communicate(timeout=60)
        took = time.time() - t
    finally:
        if p.poll() is None:
            p.kill()
        os.remove(pcap)
    fptest.eq(p.returncode, 0, "exit status after SIGTERM")
    fptest.contains(out, "accounting: ok", "final counters after SIGTERM")
    st = json.load(open(sj))
    pk = sum(c["packets"] for c in st["categories"].values())
    fptest.eq(pk, st["rx"]["packets"], "accounting identity (packets)")
    if st["rx"]["packets"] >= n:
        raise fptest.Failure("the replay ended before SIGTERM; nothing was interrupted")
    if took > 20:
        raise fptest.Failure("SIGTERM took %.1f s" % took)


def sighup_supported():
    p = subprocess.run([fptest.FLOWPICD, "--help"], capture_output=True, text=True)
    return "SIGHUP" in p.stdout


def test_sighup_bad_model_keeps_classifying(ctx):
    """A model of another resolution and an empty file are rejected; windows keep coming."""
    if not sighup_supported():
        print("skip: flowpicd --help does not mention SIGHUP")
        return
    model = ctx.path("hup-faults.fpm")
    shutil.copy(ctx.model, model)
    pcap, _ = many_flows_capture(ctx, "hup-faults.pcap", 200, 3)
    run = LiveRun(ctx, "hupfaults", pcap, model, sets=["flow.window=1", "flow.min_packets=2"])
    try:
        run.wait_log("RX lcore(s)")
        fptest.make_model(model, resolution=64, seed=11)
        run.p.send_signal(signal.SIGHUP)
        run.wait_log("model reload rejected")
        open(model, "wb").close()
        run.p.send_signal(signal.SIGHUP)
        end = time.time() + 30
        while run.log().count("model reload rejected") < 2 and time.time() < end:
            time.sleep(0.2)
        if run.log().count("model reload rejected") < 2:
            raise fptest.Failure("an empty model file was not rejected:\n" + run.log()[-2000:])
        before = run.log().count("summary:")
        end = time.time() + 30
        while run.log().count("summary:") < before + 2 and time.time() < end:
            time.sleep(0.2)
        if not run.running():
            raise fptest.Failure("flowpicd died after the rejected reloads")
    finally:
        run.stop()
    fptest.eq(run.rc, 0, "exit status")
    fptest.check_accounting(run)
    classified = sum(c["windows"] for k, c in run.stats["categories"].items()
                     if k not in ("unclassified", "other"))
    if classified == 0:
        raise fptest.Failure("no window classified with the kept model")


if __name__ == "__main__":
    sys.exit(fptest.main([test_malformed_and_oversized_frames, test_garbage_frames,
                          test_cut_and_corrupt_captures, test_sigterm_during_replay,
                          test_sighup_bad_model_keeps_classifying]))
