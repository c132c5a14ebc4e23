#!/usr/bin/python3
"""Tests of the training pipeline: fp-pics cells against hand-computed pictures, its errors,
the flow split, the metrics, the sparse first convolution, a short training run, and parity
of PyTorch with lib/infer (fp-predict) on the same windows.

usage: test_train.py FP_PICS FP_PREDICT   (exit 0 all passed, 1 a failure, 77 no PyTorch)
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import numpy as np
    import torch
except ImportError as e:
    print("skip: %s (tools/train/install-deps.sh installs it)" % e)
    sys.exit(77)

import metrics  # noqa: E402
import nets  # noqa: E402
import picset  # noqa: E402
import split  # noqa: E402
from nets import fpmodel  # noqa: E402

WINDOW_US = 60000000
FP_PICS = FP_PREDICT = None


def win_file(path, windows, window_us=WINDOW_US, count=None, tail=b""):
    """Write a .windows file; windows = [(src_port, packets, [(t_us, size, dir), ...])]."""
    out = [b"FPWIN1\0\0", struct.pack("<QQ", window_us, len(windows) if count is None
                                      else count)]
    for k, (sport, packets, recs) in enumerate(windows):
        src = bytes([10, 0, 0, 1]) + bytes(12)
        dst = bytes([10, 0, 0, 2]) + bytes(12)
        hdr = struct.pack("<BBHHH", 4, 6, 0, sport, 443) + src + dst
        hdr += struct.pack("<QIIQIIIBBH", 1700000000000000 + k, 0, packets,
                           sum(r[1] for r in recs), len(recs), packets - len(recs), 0, 0,
                           1 if packets > len(recs) else 0, 0)
        assert len(hdr) == 80
        out.append(hdr)
        for t, size, d in recs:
            out.append(struct.pack("<IHBB", t, size, d, 0))
    with open(path, "wb") as f:
        f.write(b"".join(out) + tail)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def pics(tmp, windows_path, res, *extra):
    prefix = os.path.join(tmp, "p%d" % res)
    p = run([FP_PICS, "--windows", windows_path, "--res", str(res), "--out", prefix] +
            list(extra))
    if p.returncode != 0:
        raise AssertionError("fp-pics failed: %s" % p.stderr)
    return np.load(prefix + ".cells.npy"), np.load(prefix + ".index.npy")


def eq(actual, expected, what):
    if actual != expected:
        raise AssertionError("%s: expected %r, actual %r" % (what, expected, actual))


# A window of 12 packets: three of 100 bytes at t = 0 (row 100*32/1500 = 2, column 0), one of
# 1500 bytes at 30 s (row 31, column 30e6*32/60e6 = 16), one of 40 bytes at 59.999999 s
# (row 0, column 31), seven of 750 bytes at 1 s going down (row 16, column 0).
W12 = [(0, 100, 0)] * 3 + [(30000000, 1500, 1), (59999999, 40, 0)] + [(1000000, 750, 1)] * 7
W5 = [(0, 60, 0)] * 5


def test_pics_cells(tmp):
    path = os.path.join(tmp, "a.windows")
    # window 0: 5 packets (not classified), window 1: the 12 above, window 2: 10 recorded of
    # 14 packets (classified: flowpicd counts packets, not records).
    win_file(path, [(1000, 5, W5), (1001, 12, W12), (1002, 14, [(0, 1500, 0)] * 10)])
    cells, index = pics(tmp, path, 32)
    eq([tuple(int(v) for v in r) for r in index], [(1, 12, 4), (2, 14, 1)], "index rows")
    got = {(int(c["win"]), int(c["cell"])): float(c["value"]) for c in cells}
    want = {(0, 2 * 32 + 0): math.log1p(3), (0, 31 * 32 + 16): math.log1p(1),
            (0, 0 * 32 + 31): math.log1p(1), (0, 16 * 32 + 0): math.log1p(7),
            (1, 31 * 32 + 0): math.log1p(10)}
    eq(sorted(got), sorted(want), "cells")
    for k, v in want.items():
        if abs(got[k] - v) > 1e-6:
            raise AssertionError("cell %r: expected %g, actual %g" % (k, v, got[k]))
    # up only, no normalisation, min 5 packets: window 0 now counts, down packets vanish.
    cells, index = pics(tmp, path, 32, "--dir", "up", "--norm", "none", "--min-packets", "5")
    eq([tuple(int(v) for v in r) for r in index], [(0, 5, 1), (1, 12, 2), (2, 14, 1)],
       "index rows, up, min 5")
    got = {(int(c["win"]), int(c["cell"])): float(c["value"]) for c in cells}
    eq(got, {(0, 1 * 32 + 0): 5.0, (1, 2 * 32): 3.0, (1, 31): 1.0, (2, 31 * 32): 10.0},
       "cells, up, counts")
    # 1500 x 1500: size s is row s (1500 in the last row), t = 30 s is column 750.
    cells, _ = pics(tmp, path, 1500, "--norm", "clip255")
    got = {(int(c["win"]), int(c["cell"])): float(c["value"]) for c in cells}
    eq(got[(0, 100 * 1500)], np.float32(3 / 255.0), "1500: 3 packets of 100 B at t 0")
    eq(got[(0, 1499 * 1500 + 750)], np.float32(1 / 255.0), "1500: 1500 B at 30 s")
    eq(got[(0, 40 * 1500 + 1499)], np.float32(1 / 255.0), "1500: 40 B at the window end")


def test_pics_size_shift(tmp):
    """--size-shift draws every packet that many bytes larger, capped at --size-cap; times,
    directions and which windows are drawn do not change."""
    path = os.path.join(tmp, "s.windows")
    win_file(path, [(1000, 5, W5), (1001, 12, W12)])
    # 1500 x 1500: row = size. 100 + 48 -> 148, 750 -> 798, 40 -> 88, 1500 -> capped 1500.
    cells, index = pics(tmp, path, 1500, "--norm", "none", "--size-shift", "48")
    eq([tuple(int(v) for v in r) for r in index], [(1, 12, 4)], "index rows, shifted")
    got = {(int(c["win"]), int(c["cell"])): float(c["value"]) for c in cells}
    eq(got, {(0, 148 * 1500): 3.0, (0, 1499 * 1500 + 750): 1.0, (0, 88 * 1500 + 1499): 1.0,
             (0, 798 * 1500 + 25): 7.0}, "cells, shift 48")
    # a lower cap (a 1400-byte path): 1500 + 48 and 750 + 700 both end in row 1400
    cells, _ = pics(tmp, path, 1500, "--norm", "none", "--size-shift", "700",
                    "--size-cap", "1400")
    got = {(int(c["win"]), int(c["cell"])): float(c["value"]) for c in cells}
    eq(got, {(0, 800 * 1500): 3.0, (0, 1400 * 1500 + 750): 1.0, (0, 740 * 1500 + 1499): 1.0,
             (0, 1400 * 1500 + 25): 7.0}, "cells, shift 700 cap 1400")
    # shift 0 is the plain picture; the same shift on pre-shifted records is identical
    base, _ = pics(tmp, path, 32, "--size-shift", "0")
    plain, _ = pics(tmp, path, 32)
    eq(base.tobytes(), plain.tobytes(), "shift 0 = no shift")
    pre = os.path.join(tmp, "pre.windows")
    win_file(pre, [(1000, 5, W5), (1001, 12, [(t, min(sz + 48, 1500), d)
                                               for t, sz, d in W12])])
    a, _ = pics(tmp, path, 32, "--size-shift", "48")
    b, _ = pics(tmp, pre, 32)
    eq(a.tobytes(), b.tobytes(), "32x32: shifting in fp-pics = shifted records")
    for args, msg in ((["--size-shift", "-1"], "--size-shift '-1' is not in 0..65535"),
                      (["--size-shift", "70000"], "is not in 0..65535"),
                      (["--size-cap", "0"], "--size-cap '0' is not in 1..65535")):
        p = run([FP_PICS, "--windows", path, "--res", "32", "--out",
                 os.path.join(tmp, "e")] + args)
        eq(p.returncode, 2, "exit of fp-pics %s" % " ".join(args))
        if msg not in p.stderr:
            raise AssertionError("fp-pics %s: %r not in %r" % (" ".join(args), msg, p.stderr))


def test_pics_time_scale_shift(tmp):
    """--time-scale multiplies and --time-shift moves every arrival time; records leaving the
    window are left out, and the window is drawn only while its packets less those records
    reach min-packets (the index holds that count)."""
    path = os.path.join(tmp, "t.windows")
    win_file(path, [(1000, 5, W5), (1001, 12, W12)])

    def cells_of(*extra):
        cells, index = pics(tmp, path, 1500, "--norm", "none", *extra)
        return ([tuple(int(v) for v in r) for r in index],
                {(int(c["win"]), int(c["cell"])): float(c["value"]) for c in cells})

    # 1500 x 1500: row = size, column = t / 40000 us.
    # x2: 30 s and 59.999999 s leave the window (10 packets left), 1 s -> 2 s (column 50).
    eq(cells_of("--time-scale", "2"), ([(1, 10, 2)], {(0, 100 * 1500): 3.0,
                                                      (0, 750 * 1500 + 50): 7.0}), "x2")
    # x0.5: 30 s -> 15 s (375), 59.999999 s -> 29.9999995 s floored (749), 1 s -> 0.5 s (12)
    eq(cells_of("--time-scale", "0.5"),
       ([(1, 12, 4)], {(0, 100 * 1500): 3.0, (0, 1500 * 1500 - 1500 + 375): 1.0,
                       (0, 40 * 1500 + 749): 1.0, (0, 750 * 1500 + 12): 7.0}), "x0.5")
    # +30 s: 0 -> 30 s (750), 1 s -> 31 s (775); the two later packets leave the window
    eq(cells_of("--time-shift", "30000000"),
       ([(1, 10, 2)], {(0, 100 * 1500 + 750): 3.0, (0, 750 * 1500 + 775): 7.0}), "+30 s")
    # -1 s: the three packets at 0 leave (9 packets: drawn only with min-packets <= 9)
    eq(cells_of("--time-shift", "-1000000"), ([], {}), "-1 s, min 10")
    eq(cells_of("--time-shift", "-1000000", "--min-packets", "9"),
       ([(1, 9, 3)], {(0, 1499 * 1500 + 725): 1.0, (0, 40 * 1500 + 1474): 1.0,
                      (0, 750 * 1500): 7.0}), "-1 s, min 9")
    # order: times scaled, then shifted, then sizes shifted (capped at 1500)
    eq(cells_of("--time-scale", "0.5", "--time-shift", "30000000", "--size-shift", "48"),
       ([(1, 12, 4)], {(0, 148 * 1500 + 750): 3.0, (0, 1499 * 1500 + 1125): 1.0,
                       (0, 88 * 1500 + 1499): 1.0, (0, 798 * 1500 + 762): 7.0}),
       "x0.5, +30 s, +48 B")
    # scale 1 and shift 0 are the plain picture; scaling in fp-pics = scaled records at 32
    plain, _ = pics(tmp, path, 32)
    same, _ = pics(tmp, path, 32, "--time-scale", "1", "--time-shift", "0")
    eq(same.tobytes(), plain.tobytes(), "x1 +0 = plain")
    pre = os.path.join(tmp, "pre-t.windows")
    scaled = [(int(t * 1.5), sz, d) for t, sz, d in W12 if t * 1.5 < WINDOW_US]
    win_file(pre, [(1000, 5, W5), (1001, len(scaled), scaled)])
    a, ia = pics(tmp, path, 32, "--time-scale", "1.5")
    b, ib = pics(tmp, pre, 32)
    eq((a.tobytes(), ia.tobytes()), (b.tobytes(), ib.tobytes()),
       "32x32: scaling in fp-pics = scaled records")


def test_pics_drop(tmp):
    """--drop-frac leaves out that share of records, chosen by --aug-seed and the window and
    record numbers: reproducible, different per seed, counted out of the window's packets."""
    path = os.path.join(tmp, "d.windows")
    rng = np.random.default_rng(4)
    big = [(int(t), int(sz), int(d)) for t, sz, d in zip(
        rng.integers(0, WINDOW_US, 2000), rng.integers(40, 1501, 2000), rng.integers(0, 2, 2000))]
    # window 1: 2000 packets all recorded; window 2: 2100 packets of which 2000 recorded
    win_file(path, [(1000, 12, W12), (1001, 2000, big), (1002, 2100, big)])

    def run_drop(*extra):
        cells, index = pics(tmp, path, 1500, "--norm", "none", "--min-packets", "1", *extra)
        drawn = [0] * len(index)
        for c in cells:
            drawn[int(c["win"])] += int(c["value"])
        return cells, index, drawn

    plain, iplain, _ = run_drop()
    c0, i0, _ = run_drop("--drop-frac", "0", "--aug-seed", "9")
    eq((c0.tobytes(), i0.tobytes()), (plain.tobytes(), iplain.tobytes()), "drop 0 = plain")
    c1, i1, d1 = run_drop("--drop-frac", "0.25", "--aug-seed", "1")
    eq([int(r["window"]) for r in i1], [0, 1, 2], "windows drawn")
    kept = d1[1]
    if not 0.22 * 2000 < 2000 - kept < 0.28 * 2000:
        raise AssertionError("drop 0.25 left %d of 2000 records" % kept)
    eq([int(r["packets"]) for r in i1][1:], [kept, d1[2] + 100],
       "index packets = packets less dropped records")
    if c1[c1["win"] == 1]["cell"].tobytes() == c1[c1["win"] == 2]["cell"].tobytes():
        raise AssertionError("windows 1 and 2 (same records) lost the same records")
    again = run_drop("--drop-frac", "0.25", "--aug-seed", "1")
    eq((again[0].tobytes(), again[1].tobytes()), (c1.tobytes(), i1.tobytes()), "reproducible")
    other = run_drop("--drop-frac", "0.25", "--aug-seed", "2")
    if other[0].tobytes() == c1.tobytes():
        raise AssertionError("seeds 1 and 2 dropped the same records")
    # every drawn packet is one of the window's: no cell gains
    base = {(int(c["win"]), int(c["cell"])): float(c["value"]) for c in plain}
    for c in c1:
        k = (int(c["win"]), int(c["cell"]))
        if float(c["value"]) > base[k]:
            raise AssertionError("cell %r grew under packet loss" % (k,))
    # everything lost: nothing is drawn (window 2 keeps its 100 unrecorded packets but no
    # record to draw); min-packets applies to what is left
    _, i_all, _ = run_drop("--drop-frac", "1")
    eq(len(i_all), 0, "drop 1: no window")


def test_pics_errors(tmp):
    good = os.path.join(tmp, "g.windows")
    win_file(good, [(1, 12, W12)])
    cases = [
        (["--windows", os.path.join(tmp, "none.windows"), "--res", "32"], 1,
         "cannot open: No such file or directory"),
        (["--windows", good, "--res", "0"], 2, "--res '0' is not in 1..4096"),
        (["--windows", good, "--res", "32", "--dir", "sideways"], 2, "is not both, up or down"),
        (["--windows", good, "--res", "32", "--norm", "sqrt"], 2, "not none, log1p or clip255"),
        (["--windows", good, "--res", "32", "--min-packets", "-3"], 2, "not in 1..1000000"),
        (["--windows", good, "--res", "32", "--time-scale", "0"], 2,
         "--time-scale '0' is not in 0.01..100"),
        (["--windows", good, "--res", "32", "--time-scale", "fast"], 2, "not in 0.01..100"),
        (["--windows", good, "--res", "32", "--time-shift", "1.5"], 2,
         "--time-shift '1.5' is not a whole number"),
        (["--windows", good, "--res", "32", "--drop-frac", "1.5"], 2,
         "--drop-frac '1.5' is not in 0..1"),
        (["--windows", good, "--res", "32", "--aug-seed", "-1"], 2, "--aug-seed '-1' is not"),
    ]
    bad = os.path.join(tmp, "magic.windows")
    with open(bad, "wb") as f:
        f.write(b"NOTAWINDOWSFILE" + bytes(20))
    cases.append((["--windows", bad, "--res", "32"], 1, "not a .windows file (bad magic)"))
    cut = os.path.join(tmp, "cut.windows")
    win_file(cut, [(1, 12, W12)], count=2)
    cases.append((["--windows", cut, "--res", "32"], 1, "cut short in window 1 of 2"))
    extra = os.path.join(tmp, "extra.windows")
    win_file(extra, [(1, 12, W12)], tail=b"x")
    cases.append((["--windows", extra, "--res", "32"], 1, "data after the last of 1 windows"))
    zero = os.path.join(tmp, "zero.windows")
    win_file(zero, [], window_us=0)
    cases.append((["--windows", zero, "--res", "32"], 1, "window length 0 us out of range"))
    for args, rc, msg in cases:
        out = os.path.join(tmp, "err")
        p = run([FP_PICS] + args + ["--out", out])
        eq(p.returncode, rc, "exit of fp-pics %s" % " ".join(args))
        if msg not in p.stderr:
            raise AssertionError("fp-pics %s: %r not in %r" % (" ".join(args), msg, p.stderr))
        if rc != 0 and os.path.exists(out + ".cells.npy"):
            raise AssertionError("fp-pics left output behind after an error")


def test_parse_aug(tmp):
    eq(picset.parse_aug(""), ("", []), "no augmentation")
    eq(picset.parse_aug("size=48"), ("size=48+cap=1500",
                                     ["--size-shift", "48", "--size-cap", "1500"]), "size")
    eq(picset.parse_aug("seed=3+drop=0.1+tshift=-2.5+scale=1.25"),
       ("scale=1.25+tshift=-2.5+drop=0.1+seed=3",
        ["--time-scale", "1.25", "--time-shift", "-2500000", "--drop-frac", "0.1",
         "--aug-seed", "3"]), "canonical order, seconds to microseconds")
    for bad in ("speed=2", "scale", "scale=x", "drop=0.1+drop=0.2"):
        try:
            picset.parse_aug(bad)
        except ValueError:
            continue
        raise AssertionError("parse_aug(%r) did not fail" % bad)


def test_split_by_flow(tmp):
    rng = np.random.default_rng(3)
    flows = np.array(["f%d" % rng.integers(0, 40) for _ in range(600)])
    labels = np.array([int(f[1:]) % 3 for f in flows])
    tr, va, te = split.by_flow(labels, flows, (0.15, 0.2), 7)
    eq(len(tr) + len(va) + len(te), 600, "every window in one part")
    sets = [set(flows[x].tolist()) for x in (tr, va, te)]
    eq(sets[0] & sets[1] | sets[0] & sets[2] | sets[1] & sets[2], set(), "flows shared")
    for c in range(3):
        n = np.sum(labels == c)
        share = np.sum(labels[te] == c) / n
        if not 0.2 <= share < 0.6:
            raise AssertionError("class %d: test share %.2f" % (c, share))
    again = split.by_flow(labels, flows, (0.15, 0.2), 7)
    eq([list(x) for x in again], [list(x) for x in (tr, va, te)], "same seed, same split")


def test_holdout_rounds(tmp):
    """Experiment 4r: round r holds out application r (mod count) of each category with two
    or more; every application is held out at least once; none is trained and tested on."""
    import train

    class Meta:
        def __init__(self, meta):
            self.meta = meta
    apps = {"voip": ["v1", "v2"], "video": ["d1", "d2", "d3"], "chat": ["c1"]}
    meta = []
    for cat, names in apps.items():
        for a in names:
            for f in range(6):
                for w in range(3):
                    meta.append({"category": cat, "app": a, "vpn": f == 5,
                                 "flow": "%s-%d" % (a, f)})
    pics = Meta(meta)
    exp = train.EXPERIMENTS["4r"]
    eq(train.rounds_of(pics, exp), 3, "rounds = most applications in a category")
    eq(train.rounds_of(pics, train.EXPERIMENTS["4"]), 1, "experiment 4: one round")
    seen = set()
    for r in range(3):
        classes, y, tr, va, te, info = train.plan(exp, pics, 1, r)
        eq(info["held_out"], {"video": apps["video"][r], "voip": apps["voip"][r % 2]},
           "round %d held out" % r)
        seen |= set(info["held_out"].values())
        test_apps = {meta[i]["app"] for i in te}
        eq(test_apps, set(info["held_out"].values()), "round %d tests only held-out apps" % r)
        eq({meta[i]["app"] for i in list(tr) + list(va)} & test_apps, set(),
           "round %d trains on no held-out app" % r)
        eq(any(meta[i]["vpn"] for i in list(tr) + list(va) + list(te)), False,
           "round %d uses plain windows only" % r)
    eq(seen, {"v1", "v2", "d1", "d2", "d3"}, "every application of a multi-app category held out")


def test_session_merge(tmp):
    """Two flows of a session become one tunnel flow: windows on one grid from the origin,
    records at their absolute times, shifts evened to the largest, the cap kept by thinning;
    train.py's merge draws them and never takes a flow of another side of the split."""
    import fpwindows
    import merge
    path = os.path.join(tmp, "m.windows")
    # flow A: window 0 at T0 (shift 0, 6 records), flow B: window 0 at T0 + 30 s with shift 1
    # (4 records standing for 8 packets), flow A again: window 1 at T0 + 60 s (2 records)
    t0 = 1700000000000000
    w = np.zeros(3, fpwindows.WINDOW_DTYPE)
    w["start_us"] = [t0, t0 + 30000000, t0 + 60000000]
    w["index"] = [0, 0, 1]
    w["n_records"] = [6, 4, 2]
    w["shift"] = [0, 1, 0]
    w["packets"] = [6, 8, 2]
    w["sampled_out"] = [0, 4, 0]
    r = np.zeros(12, fpwindows.RECORD_DTYPE)
    r["t_us"] = [0, 1, 2, 3, 4, 40000000] + [0, 10, 20, 35000000] + [5, 6]
    r["size"] = [100, 101, 102, 103, 104, 105] + [200, 201, 202, 203] + [300, 301]
    fpwindows.write(path, WINDOW_US, w, r)
    wf = fpwindows.read(path)
    eq(wf.window_records(1)["size"].tolist(), [200, 201, 202, 203], "writer round trip")
    h, rec = merge.merge_session(wf, [0, 1, 2], t0, 16384)
    eq(h["start_us"].tolist(), [t0, t0 + 60000000], "tunnel windows on the origin's grid")
    # tunnel window 0: A's records thinned to every 2nd (shift 1 like B's: sizes 100, 102,
    # 104), B's first three (at 30 s + 0, 10, 20 us); window 1: A's window-1 records thinned
    # the same way (300 at 60 s + 5 us), B's last (30 s + 35 s = 65 s)
    eq(h["shift"].tolist(), [1, 1], "shift evened to the largest member's")
    eq(rec["size"][:int(h["n_records"][0])].tolist(), [100, 102, 104, 200, 201, 202],
       "window 0 records in time order")
    eq(rec["size"][int(h["n_records"][0]):].tolist(), [300, 203], "window 1 records")
    eq(rec["t_us"][int(h["n_records"][0]):].tolist(), [5, 5000000], "window 1 times")
    eq(h["packets"].tolist(), [6 + 6, 2 + 2], "packets each record stands for")
    eq((h["packets"] - h["n_records"] - h["sampled_out"]).tolist(), [0, 0],
       "packets = records + sampled out")
    h2, rec2 = merge.merge_session(wf, [0, 1, 2], t0, 2)
    eq((h2["n_records"].tolist(), h2["shift"].tolist()), ([2, 2], [3, 1]),
       "cap: thinned until it fits, shift raised")
    eq(rec2["size"][:2].tolist(), [100, 201], "cap keeps every other record, twice")
    try:
        merge.merge_session(wf, [0], t0 + 1, 16384)
        raise AssertionError("an origin after a member's start was accepted")
    except ValueError:
        pass
    # the pictures fp-pics draws of the merged file: one per tunnel window with >= 10 packets
    keys = merge.merge_file(wf, [("s", t0, [0, 1, 2])], os.path.join(tmp, "t.windows"))
    eq(keys, ["s", "s"], "keys of the written windows")
    c, ix = pics(tmp, os.path.join(tmp, "t.windows"), 32, "--min-packets", "4")
    eq(ix["window"].tolist(), [0, 1], "both tunnel windows drawn")
    eq(round(float(np.expm1(c["value"][c["win"] == 0].astype(np.float64)).sum()), 3), 12.0,
       "window 0 drawn with weight 2 per record")


def test_merge_sides(tmp):
    """train.py's session merge: a session's tunnel windows hold its flows of the side merged
    (and flows too short to be drawn alone), never a flow of another side of the split."""
    import argparse
    import labdata
    import train
    d = os.path.join(tmp, "sides")
    os.makedirs(d, exist_ok=True)
    # one session: flow a (12 packets of 100 B), flow b (15 of 900 B), flow c (4 of 1400 B,
    # too short for a picture); all in one 60-s window from the session's start
    wins = [(1, 12, [(1000 * i, 100, 0) for i in range(12)]),
            (2, 15, [(1000 * i, 900, 1) for i in range(15)]),
            (3, 4, [(1000 * i, 1400, 0) for i in range(4)])]
    win_file(os.path.join(d, "chat-plain.windows"), wins)
    with open(os.path.join(d, "chat-plain.labels.jsonl"), "w") as f:
        for flow in "abc":
            f.write(json.dumps({"category": "chat", "app": "x", "vpn": False, "session": "s1",
                                "flow": "s1/" + flow}) + "\n")
    args = argparse.Namespace(work=os.path.join(tmp, "work-sides"), fp_pics=FP_PICS,
                              min_packets=10)
    parts = labdata.load([d], args.work, "/bin/false")
    ps = picset.build(parts, 32, os.path.join(args.work, "pics"), FP_PICS)
    eq([m["flow"] for m in ps.meta], ["s1/a", "s1/b"], "pictures of the drawable flows")
    y = np.array([2, 2])
    for side, want in (([0], 12 + 4), ([1], 15 + 4)):
        out, ys, idx = train.merge_augment(args, parts, 32, ps, y, np.array(side), [""],
                                           train.CATEGORIES, "category")
        eq(len(out), 3, "one tunnel window added")
        eq((list(idx), int(ys[2]), out.meta[2]["vpn"]), (side + [2], 2, False),
           "its index, label and plain origin")
        eq(out.meta[2]["packets"], want, "packets of the side's flow plus the short flow")


def test_metrics(tmp):
    ev = metrics.evaluate([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], 3)
    eq(ev["confusion"], [[2, 1, 0], [0, 1, 1], [0, 0, 1]], "confusion")
    eq(round(ev["accuracy"], 6), round(4 / 6, 6), "accuracy")
    pc = ev["per_class"]
    eq([round(p["precision"], 4) for p in pc], [1.0, 0.5, 0.5], "precision")
    eq([round(p["recall"], 4) for p in pc], [round(2 / 3, 4), 0.5, 1.0], "recall")
    eq(round(pc[0]["f1"], 4), 0.8, "f1 of class 0")
    png = os.path.join(tmp, "cm.png")
    metrics.confusion_png(ev["confusion"], ["a", "b", "c"], "t", png)
    with open(png, "rb") as f:
        eq(f.read(8), b"\x89PNG\r\n\x1a\n", "PNG signature")


def test_sparse_conv(tmp):
    torch.manual_seed(0)
    rng = np.random.default_rng(5)
    for res, k, s, p in ((1500, 10, 5, 0), (32, 5, 1, 0), (17, 4, 3, 1)):
        conv = torch.nn.Conv2d(1, 4, k, stride=s, padding=p)
        cells = [rng.choice(res * res, 40, replace=False) for _ in range(3)]
        ps = picset.PicSet(res, np.array([0, 40, 80, 120]), np.concatenate(cells),
                           rng.random(120).astype(np.float32), [{}] * 3)
        with torch.no_grad():
            dense = conv(ps.dense_batch([0, 1, 2]))
            sp = nets.sparse_conv(conv, *ps.sparse_batch([0, 1, 2]), res)
        eq(tuple(sp.shape), tuple(dense.shape), "shape at %d" % res)
        d = float((dense - sp).abs().max())
        if d > 1e-5:
            raise AssertionError("sparse conv at %d differs by %g" % (res, d))
    # The whole paper network: sparse front (pooling before relu) against the dense module.
    m = fpmodel.paper_net(["a", "b", "c"])
    net = nets.build(m).eval()
    cells = [rng.choice(1500 * 1500, 300, replace=False) for _ in range(2)]
    ps = picset.PicSet(1500, np.array([0, 300, 600]), np.concatenate(cells),
                       rng.random(600).astype(np.float32) * 3, [{}] * 2)
    with torch.no_grad():
        a = nets.Runner(net, 1500, sparse=True)(ps, [0, 1])
        b = nets.Runner(net, 1500, sparse=False)(ps, [0, 1])
    d = float((a - b).abs().max())
    if d > 1e-4:
        raise AssertionError("paper network, sparse front differs by %g" % d)


def synthetic(tmp, n_per_class=30):
    """Labelled windows of five made-up classes (plumbing only, not traffic)."""
    rng = np.random.default_rng(11)
    d = os.path.join(tmp, "data")
    os.makedirs(d, exist_ok=True)
    cats = ["voip", "video", "chat", "browsing", "file_transfer"]
    wins, labels = [], []
    for ci, cat in enumerate(cats):
        for k in range(n_per_class):
            n = int(rng.integers(12, 200))
            t = np.sort(rng.integers(0, WINDOW_US, n))
            size = np.clip(rng.normal(150 + 300 * ci, 40, n), 40, 1500).astype(int)
            recs = [(int(a), int(b), int(rng.integers(0, 2))) for a, b in zip(t, size)]
            wins.append((2000 + len(wins), n, recs))
            labels.append({"category": cat, "app": "%s-app%d" % (cat, k % 2), "vpn": False,
                           "flow": "%s-flow%d" % (cat, k // 3)})
    wins.append((9, 4, [(0, 100, 0)] * 4))      # too short: never a picture
    labels.append({"category": "voip", "app": "voip-app0", "vpn": False, "flow": "short"})
    wins.append((8, 20, [(0, 100, 0)] * 20))    # noise: no label
    labels.append(None)
    win_file(os.path.join(d, "syn.windows"), wins)
    with open(os.path.join(d, "syn.labels.jsonl"), "w") as f:
        for lab in labels:
            f.write(json.dumps(lab) + "\n")
    return d


def test_two_sources(tmp):
    """Two data directories with a part of the same name: each keeps its own pictures in the
    shared work cache, whatever their order on the command line."""
    import labdata
    dirs = []
    for k, size in enumerate((200, 1200)):
        d = os.path.join(tmp, "src%d" % k, "same")
        os.makedirs(d, exist_ok=True)
        win_file(os.path.join(d, "video-plain.windows"), [(1, 12, [(1000 * i, size, 0)
                                                                   for i in range(12)])])
        with open(os.path.join(d, "video-plain.labels.jsonl"), "w") as f:
            f.write(json.dumps({"category": "video", "app": "a%d" % k, "vpn": False,
                                "flow": "f%d" % k}) + "\n")
        dirs.append(d)
    work = os.path.join(tmp, "work2")

    def rows_by_app(order):
        parts = labdata.load(order, work, "/bin/false")
        eq(len({p.name for p in parts}), 2, "part names unique across sources")
        ps = picset.build(parts, 32, work, FP_PICS)
        return {m["app"]: int(ps.cell[ps.ptr[i]]) // 32 for i, m in enumerate(ps.meta)}
    first = rows_by_app(dirs)
    eq(first["a0"] != first["a1"], True, "the two sources' pictures differ")
    eq(rows_by_app(dirs[::-1]), first, "same pictures with the sources swapped (cache reused)")


def train_py(tmp, *args):
    cmd = [sys.executable, os.path.join(HERE, "train.py")] + list(args) + [
        "--fp-pics", FP_PICS, "--fp-predict", FP_PREDICT, "--fp-extract", "/bin/false",
        "--work", os.path.join(tmp, "work"), "--results", os.path.join(tmp, "results")]
    p = run(cmd)
    return p


def test_train_and_parity(tmp):
    d = synthetic(tmp)
    p = train_py(tmp, "experiment", "1", "--res", "32", "--data", d, "--epochs", "4",
                 "--patience", "4")
    if p.returncode != 0:
        raise AssertionError("train.py experiment failed:\n%s\n%s" % (p.stdout, p.stderr))
    for e in range(1, 5):
        if "epoch   %d" % e not in p.stdout:
            raise AssertionError("no progress line for epoch %d in %r" % (e, p.stdout))
    r = json.load(open(os.path.join(tmp, "results", "exp1-32.json")))
    sp = r["split"]
    eq(sp["train"]["windows"] + sp["val"]["windows"] + sp["test"]["windows"], 150,
       "labelled windows with >= 10 packets")
    eq(r["classes"], ["voip", "video", "chat", "browsing", "file_transfer"], "classes")
    m = fpmodel.load(os.path.join(tmp, "work", "models", "exp1-32.fpm"))
    eq(m.training["data_digest"], r["data_digest"], "digest in the model")
    if "experiment 1" not in m.training["command"] or "split by flow" not in m.description:
        raise AssertionError("model metadata lacks the command or split: %r %r"
                             % (m.training, m.description))
    eq([l["type"] for l in m.layers].count("dropout"), 1, "dropout layers")
    # Parity on every window (the trained model) and at 1500 x 1500 (random weights).
    p = train_py(tmp, "parity", "--model", os.path.join(tmp, "work", "models", "exp1-32.fpm"),
                 "--data", d)
    if p.returncode != 0 or "150 windows" not in p.stdout or ": ok" not in p.stdout:
        raise AssertionError("parity at 32 failed:\n%s\n%s" % (p.stdout, p.stderr))
    big = fpmodel.paper_net(["voip", "video", "chat", "browsing", "file_transfer"])
    big.init_random(np.random.default_rng(2))
    big.save(os.path.join(tmp, "paper.fpm"))
    p = train_py(tmp, "parity", "--model", os.path.join(tmp, "paper.fpm"), "--data", d,
                 "--limit", "12")
    if p.returncode != 0 or "12 windows" not in p.stdout:
        raise AssertionError("parity at 1500 failed:\n%s\n%s" % (p.stdout, p.stderr))
    print("     " + p.stdout.strip())
    # Training augmentation: each training window drawn again per spec (fp-pics), the
    # validation and test windows untouched.
    p = train_py(tmp, "experiment", "1", "--res", "32", "--data", d, "--epochs", "1",
                 "--augment", "scale=0.8,drop=0.1+seed=2")
    if p.returncode != 0 or "augmentation scale=0.8:" not in p.stdout:
        raise AssertionError("train.py --augment failed:\n%s\n%s" % (p.stdout, p.stderr))
    a = json.load(open(os.path.join(tmp, "results", "exp1-32.json")))
    eq(a["augment"], ["scale=0.8", "drop=0.1+seed=2"], "augmentations in the result")
    eq((a["split"]["val"], a["split"]["test"]), (sp["val"], sp["test"]), "val / test kept")
    n = sp["train"]["windows"]
    if not 2 * n < a["split"]["train"]["windows"] <= 3 * n:
        raise AssertionError("augmented training windows %d (plain %d)"
                             % (a["split"]["train"]["windows"], n))
    p = train_py(tmp, "experiment", "1", "--res", "32", "--data", d, "--augment", "speed=2")
    if p.returncode != 2 or "'speed=2' is not KEY=VALUE" not in p.stderr:
        raise AssertionError("bad --augment accepted: %r" % p.stderr)


def main(argv):
    global FP_PICS, FP_PREDICT
    if len(argv) != 3:
        print(__doc__)
        return 2
    FP_PICS, FP_PREDICT = argv[1], argv[2]
    torch.set_num_threads(1)
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="fptrain-") as tmp:
        for t in (test_pics_cells, test_pics_size_shift, test_pics_time_scale_shift,
                  test_pics_drop, test_pics_errors, test_parse_aug, test_split_by_flow,
                  test_holdout_rounds, test_two_sources, test_session_merge, test_merge_sides,
                  test_metrics,
                  test_sparse_conv,
                  test_train_and_parity):
            try:
                t(tmp)
                print("ok   %s" % t.__name__)
                passed += 1
            except Exception as e:  # noqa: BLE001 - every failure is reported
                print("FAIL %s: %s" % (t.__name__, e))
                traceback.print_exc()
                failed += 1
            sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
