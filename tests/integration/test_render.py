"""Integration tests: flowpic-render pictures and grid, verdict log rotation, summary lines."""
import glob
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fptest  # noqa: E402
import opsrun  # noqa: E402
import pcapgen as pg  # noqa: E402

RENDER = os.path.join(fptest.BUILD, "tools", "render", "flowpic-render")
T0 = opsrun.T0
A = ("10.0.0.1", 40000, "10.0.0.2", 443)       # the flow whose cells the tests check


def read_png(path):
    """(width, height, rows of (r, g, b) tuples, text chunks) of an 8-bit RGB PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise fptest.Failure("%s: not a PNG" % path)
    pos, idat, text = 8, b"", {}
    while pos < len(data):
        n, typ = struct.unpack("!I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if zlib.crc32(typ + body) != struct.unpack("!I", data[pos + 8 + n:pos + 12 + n])[0]:
            raise fptest.Failure("%s: bad CRC in %s" % (path, typ))
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack("!IIBB", body[:10])
            fptest.eq((depth, ctype), (8, 2), "8-bit RGB")
        elif typ == b"IDAT":
            idat += body
        elif typ == b"tEXt":
            k, v = body.split(b"\0", 1)
            text[k.decode()] = v.decode("latin-1")
        pos += 12 + n
    raw, stride, rows, prev = zlib.decompress(idat), w * 3, [], bytearray(w * 3)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b, c = prev[i], prev[i - 3] if i >= 3 else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[3 * x:3 * x + 3]) for x in range(w)])
        prev = line
    return w, h, rows, text


def flow_a_records():
    """Flow A: 70 packets one second apart (two windows), sizes 100 + 20 i, every third back."""
    recs = []
    for i in range(70):
        back = i % 3 == 2
        s, sp, d, dp = (A[2], A[3], A[0], A[1]) if back else A
        recs.append((T0 + i, pg.packet(s, d, 6, sp, dp, 60 + 20 * i % 1400)))
    return recs


def capture(ctx):
    path = ctx.path("render.pcap")
    if not os.path.exists(path):
        others = opsrun.make_capture(ctx.path("render-others.pcap"), n_flows=8, seed=7)
        pg.write_pcap(path, sorted(flow_a_records() + others, key=lambda r: r[0]))
    return path


def render(ctx, *args, expect=0):
    p = subprocess.run([RENDER, "--pcap", capture(ctx), "--model", ctx.model] + list(args),
                       capture_output=True, text=True, timeout=120)
    if p.returncode != expect:
        raise fptest.Failure("flowpic-render %s: exit %d, expected %d\n%s%s" % (
            " ".join(args), p.returncode, expect, p.stdout[-2000:], p.stderr[-2000:]))
    return p


def test_picture_cells(ctx):
    out = ctx.path("pics")
    p = render(ctx, "--out", out, "--flow", "%s:%d-%s:%d/tcp" % (A[2], A[3], A[0], A[1]))
    files = sorted(glob.glob(os.path.join(out, "*.png")))
    fptest.eq([os.path.basename(f) for f in files],
              ["0000-tcp-10.0.0.1-40000-10.0.0.2-443-w0.png",
               "0001-tcp-10.0.0.1-40000-10.0.0.2-443-w1.png"], "one picture per window of A")
    w, h, rows, text = read_png(files[0])
    fptest.eq(text["flowpic:flow"], "tcp 10.0.0.1:40000 > 10.0.0.2:443", "flow label")
    fptest.eq(text["flowpic:window"], "0", "window label")
    x0, y0, s, r = (int(v) for v in text["flowpic:geometry"].split())
    fptest.eq((r, s), (32, 12), "resolution of the model, 12 pixels per cell")
    if not (w >= x0 + r * s and h >= y0 + r * s and os.path.getsize(files[0]) > 1000):
        raise fptest.Failure("picture %dx%d too small for its FlowPic" % (w, h))
    # hand-computed cells of window 0 (packets 0..59): row = size * 32 // 1500, col = t * 32 // 60
    want = set()
    for i, (t, fr) in enumerate(flow_a_records()[:60]):
        want.add((min(pg.ip_total_len(fr), 1500) * 32 // 1500, int((t - T0) * 32 // 60)))
    for row in range(r):
        for col in range(r):
            px = rows[y0 + (r - 1 - row) * s + s // 2][x0 + col * s + s // 2]
            if ((row, col) in want) != (px != (255, 255, 255)):
                raise fptest.Failure("cell row %d col %d: pixel %r, expected %s" % (
                    row, col, px, "ink" if (row, col) in want else "white"))
    # the verdict label agrees with flowpicd's verdict for the same window
    res = ctx.run(capture(ctx))
    v = [x for x in res.verdicts if (x["src"], x["sport"], x["window"]) == (A[0], A[1], 0)]
    fptest.eq(len(v), 1, "flowpicd verdict for A window 0")
    fptest.eq(text["flowpic:verdict"].split()[0], v[0]["category"], "verdict label")
    fptest.contains(p.stdout, files[0], "render lists what it wrote")


def test_window_and_grid(ctx):
    out = ctx.path("win")
    render(ctx, "--out", out, "--flow", "%s:%d-%s:%d/6" % A, "--window", "1")
    fptest.eq([os.path.basename(f) for f in glob.glob(os.path.join(out, "*.png"))],
              ["0000-tcp-10.0.0.1-40000-10.0.0.2-443-w1.png"], "--window 1 only")
    out = ctx.path("grid")
    p = render(ctx, "--out", out, "--grid", "--per-category", "3")
    w, h, rows, text = read_png(os.path.join(out, "grid.png"))
    side, cell_w, title_h, cell_h = (int(v) for v in text["flowpic:grid"].split())
    rows_out = [line.split("\t") for line in p.stdout.splitlines()]
    fptest.eq([r[1] for r in rows_out], fptest.CLASSES + ["unknown"], "a row per category")
    counts = [int(r[2].split()[0]) for r in rows_out]
    # flowpicd classifies the same windows the same way: examples per row = min(3, windows)
    per = {}
    for v in ctx.run(capture(ctx)).verdicts:
        per[v["category"]] = per.get(v["category"], 0) + 1
    fptest.eq(counts, [min(3, per.get(c, 0)) for c in fptest.CLASSES + ["unknown"]],
              "examples per category")
    lh = 7 + 3
    fptest.eq(w, 2 * 16 + max(3 * cell_w, 400), "grid width")
    fptest.eq(h, 2 * 16 + sum(title_h + (cell_h if c else 2 * lh) for c in counts),
              "grid height")


def test_bad_inputs(ctx):
    def run(args, rc, msg):
        p = subprocess.run([RENDER] + args, capture_output=True, text=True, timeout=60)
        fptest.eq(p.returncode, rc, "exit status of flowpic-render %s" % " ".join(args))
        fptest.contains(p.stderr, msg, "message of flowpic-render %s" % " ".join(args))
    out = ctx.path("bad")
    run(["--pcap", ctx.path("missing.pcap"), "--out", out], 1, "missing.pcap")
    run(["--pcap", capture(ctx), "--out", out, "--flow", "10.0.0.1-10.0.0.2/tcp"], 2,
        "is not SRC:SPORT-DST:DPORT/PROTO")
    run(["--pcap", capture(ctx), "--out", out, "--flow", "10.0.0.1:1-10.0.0.2:2/xyz"], 2,
        "is not SRC:SPORT-DST:DPORT/PROTO")
    run(["--pcap", capture(ctx)], 2, "--pcap and --out are required")
    run(["--pcap", capture(ctx), "--out", out, "--model", capture(ctx)], 1,
        "render.pcap: no '...' line ending the metadata")
    run(["--pcap", capture(ctx), "--out", ctx.path("no/such/dir")], 1, "no/such/dir")
    run(["--pcap", capture(ctx), "--out", out, "--window", "-1"], 2, "--window")
    with open(ctx.path("junk.pcap"), "wb") as f:
        f.write(b"\xd4\xc3\xb2\xa1" + bytes(10))
    run(["--pcap", ctx.path("junk.pcap"), "--out", out], 1, "junk.pcap")


def test_verdict_rotation(ctx):
    """export.verdicts_max_bytes at its minimum (1 MiB): one rotation, nothing lost."""
    recs = []
    for f in range(7000):
        recs.append((T0 + f * 0.001, pg.packet("10.%d.%d.%d" % (f >> 16, (f >> 8) & 255, f & 255),
                                                "10.200.0.1", 17, 1024 + f % 50000, 53, 40)))
    pcap = ctx.path("many.pcap")
    pg.write_pcap(pcap, recs)
    vl = ctx.path("rot.jsonl")
    p = subprocess.run([fptest.FLOWPICD, "--pcap", pcap, "--model", ctx.model, "--verdicts", vl,
                        "--set", "export.verdicts_max_bytes=1048576",
                        "--set", "flow.min_packets=1", "--stats-json", ctx.path("rot.json")],
                       capture_output=True, text=True, timeout=300)
    fptest.eq(p.returncode, 0, "flowpicd exit status\n" + p.stderr[-2000:])
    st = json.load(open(ctx.path("rot.json")))
    windows = sum(st["categories"][c]["windows"] for c in fptest.CLASSES + ["unknown"])
    fptest.eq(windows, 7000, "windows classified")
    old, new = os.path.getsize(vl + ".1"), os.path.getsize(vl)
    if not (1048576 <= old < 1048576 + 400 and 0 < new < 1048576):
        raise fptest.Failure("sizes after rotation: %s.1 %d, %s %d" % (vl, old, vl, new))
    lines = open(vl + ".1").read().splitlines() + open(vl).read().splitlines()
    srcs = [json.loads(x)["src"] for x in lines]
    fptest.eq(len(srcs), 7000, "verdict lines in both files")
    fptest.eq(len(set(srcs)), 7000, "every flow once")


def test_summary_lines(ctx):
    """A live run logs a summary every log.summary_interval and a final one at exit."""
    pcap = ctx.path("summary.pcap")
    opsrun.make_capture(pcap, n_flows=4)
    proc = fptest.spawn(
        [fptest.FLOWPICD, "--pcap", pcap, "--model", ctx.model,
         "--set", "ports=['net_pcap0,rx_pcap=%s,infinite_rx=1']" % pcap,
         "--set", "flow.clock=tsc", "--set", "log.summary_interval=0.5",
         "--set", "eal.args=[--no-huge, --no-shconf, -m, '512', --file-prefix, fpopssum%d, "
         "--log-level, 'lib.eal:error']" % os.getpid()],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline and len(seen) < 3:
            line = proc.stdout.readline()
            if not line:
                break
            if "summary: rx" in line:
                seen.append(line)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        opsrun.remove_runtime_dir("fpopssum%d" % os.getpid())
    if len(seen) < 3:
        raise fptest.Failure("fewer than 3 summary lines: %r" % seen)
    for line in seen:
        fptest.contains(line, "Mbit/s", "rate in the summary line")
        fptest.contains(line, "drops ", "drops in the summary line")
    fptest.eq(proc.returncode, 0, "exit status after SIGINT")
    fptest.contains(rest, "final: rx ", "final summary line")
    fptest.contains(rest, "accounting: ok", "final report")


if __name__ == "__main__":
    sys.exit(fptest.main([test_picture_cells, test_window_and_grid, test_bad_inputs,
                          test_verdict_rotation, test_summary_lines]))
