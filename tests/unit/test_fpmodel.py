"""Interoperability of tools/model/fpmodel.py and lib/model: each reads what the other writes.

Run by meson as: /usr/bin/python3 test_fpmodel.py FPMODEL_IO TOOLS_MODEL_DIR
FPMODEL_IO is tests/unit/fpmodel_io.c built against lib/model. Exit 77 (skipped) without numpy.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
import zlib

try:
    import numpy as np
except ImportError:
    print("numpy is not installed for %s: skipping" % sys.executable)
    sys.exit(77)

IO = os.path.abspath(sys.argv[1])
sys.path.insert(0, sys.argv[2])
import fpmodel  # noqa: E402

CLASSES = ["voip", "video", "chat", "browsing", "file_transfer"]
TMP = tempfile.mkdtemp(prefix="fp_test_fpmodel.")


class Failure(AssertionError):
    pass


def eq(actual, expected, what):
    if actual != expected:
        raise Failure("%s: expected %r, actual %r" % (what, expected, actual))


def path(name):
    return os.path.join(TMP, name)


def c_run(*args):
    p = subprocess.run([IO] + list(args), capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8").strip()


def c_dump(p):
    rc, out, err = c_run("dump", p)
    if rc != 0:
        raise Failure("lib/model rejected %s: %s" % (p, err))
    d = {"class": [], "layer": [], "w": []}
    for line in out.split("\n"):
        if not line:
            continue
        key, _, rest = line.partition(" ")
        if key in d:
            d[key].append(rest)
        else:
            d[key] = rest
    return d


def read(p):
    with open(p, "rb") as f:
        return f.read()


def write(p, data):
    with open(p, "wb") as f:
        f.write(data)
    return p


def python_model():
    m = fpmodel.lenet5(32, CLASSES, direction="down", normalization="clip255",
                       window_seconds=15,
                       description='tab\there, "quotes", back\\slash, caf\u00e9, # not a comment',
                       training={"data_digest": "sha256:0123abcd", "accuracy": 0.9731,
                                 "date": "2024-05-01T10:00:00Z",
                                 "command": "train.py --res 32 --epochs 40"})
    return m.init_random(np.random.default_rng(7))


def check_dump_matches(d, m):
    eq(d["name"], m.name, "name")
    eq(d["input"], "%d %s %s %d" % (m.resolution, m.direction, m.normalization,
                                    m.window_seconds), "input")
    eq(d["class"], m.classes, "classes")
    eq(len(d["layer"]), len(m.layers), "layer count")
    for no, (text, l, s) in enumerate(zip(d["layer"], m.layers, m.shapes), 1):
        f = text.split()
        eq(f[1], l["type"], "layer %d type" % no)
        eq(f[9], "x".join(map(str, s["in"])), "layer %d input shape" % no)
        eq(f[11], "x".join(map(str, s["out"])), "layer %d output shape" % no)
        eq((int(f[13]), int(f[14])), (s["n_weights"], s["n_bias"]), "layer %d weights" % no)
    eq(int(d["count"]), m.param_count(), "count")
    eq(d["crc32"], "0x%08x" % m.crc32(), "crc32")
    eq(d["crc32"], "0x%08x" % (zlib.crc32(m.blob.astype("<f4").tobytes()) & 0xffffffff),
       "crc32 by zlib")
    eq(float(d["accuracy"]), m.training.get("accuracy", -1.0), "accuracy")
    eq(d["data_digest"], m.training.get("data_digest", ""), "data_digest")
    eq(d["date"], m.training.get("date", ""), "date")
    eq(d["command"], m.training.get("command", ""), "command")
    bits = np.array([int(x, 16) for x in d["w"]], dtype=np.uint32)
    eq(bits.size, m.blob.size, "weights read by lib/model")
    eq(bool((bits == m.blob.view(np.uint32)).all()), True, "every weight's bits")


def test_python_writes_c_reads():
    m = python_model()
    eq(m.param_count(), 61281, "LeNet-5 32x32 weight count (hand-computed)")
    m.save(path("py.fpm"))
    check_dump_matches(c_dump(path("py.fpm")), m)


def test_c_resave_is_byte_identical():
    python_model().save(path("py.fpm"))
    rc, _, err = c_run("resave", path("py.fpm"), path("c.fpm"))
    eq((rc, err), (0, ""), "lib/model resave")
    eq(read(path("c.fpm")) == read(path("py.fpm")), True, "files written by both are identical")


def test_c_writes_python_reads():
    rc, _, err = c_run("write", path("cw.fpm"))
    eq((rc, err), (0, ""), "lib/model write")
    m = fpmodel.load(path("cw.fpm"))
    eq((m.name, m.resolution, m.direction, m.normalization, m.window_seconds),
       ("c-written", 16, "up", "clip255", 30), "input")
    eq(m.classes, ["voip", "video", "chat"], "classes")
    eq([l["type"] for l in m.layers],
       ["conv2d", "relu", "maxpool", "dense", "dropout", "dense", "softmax"], "layer types")
    eq((m.layers[0]["stride"], m.layers[0]["padding"], m.layers[4]["rate"]), (2, 1, 0.25),
       "conv stride/padding, dropout rate")
    # 16 -> conv 3/2 pad 1: 8 -> pool 4; 4*(9+1) + 64*10+10 + 10*3+3 = 723
    eq([s["out"] for s in m.shapes][:3], [(4, 8, 8), (4, 8, 8), (4, 4, 4)], "shapes")
    eq(m.param_count(), 723, "weight count (hand-computed)")
    i = np.arange(723)
    eq(bool((m.blob == ((i % 251) - 125).astype(np.float32) / 64).all()), True, "weights")
    eq(m.description, 'written by lib/model: "quoted", tab\there, caf\u00e9', "description")
    eq(m.training, {"accuracy": 0.875, "data_digest": "sha256:abc"}, "training")
    (no, w, b), = [p for p in m.params() if p[0] == 1]
    eq((w.shape, b.shape), ((4, 1, 3, 3), (4,)), "conv2d weight layout [out][in][k][k]")
    eq(float(w[1, 0, 0, 0]), (9 - 125) / 64, "conv weight [1][0][0][0] is blob[1 * 1 * 3 * 3]")
    m.save(path("cw-py.fpm"))
    eq(read(path("cw-py.fpm")) == read(path("cw.fpm")), True, "Python re-save is identical")


def test_paper_net_round_trip():
    m = fpmodel.paper_net(CLASSES).init_random(np.random.default_rng(3))
    eq(m.param_count(), 272299, "paper network weight count (hand-computed)")
    m.save(path("paper.fpm"))
    rc, _, err = c_run("resave", path("paper.fpm"), path("paper-c.fpm"))
    eq((rc, err), (0, ""), "lib/model resave")
    eq(read(path("paper-c.fpm")) == read(path("paper.fpm")), True, "identical bytes")


BLOCK_STYLE = """%s---
# a hand-written header in block style
format: flowpic-model
version: 1
name: 'hand ''made'''
input:
  resolution: 8
  direction: both
  normalization: none
  window_seconds: 60
classes:
  - up
  - "down"
layers:
  - type: conv2d   # 2@3x3
    out_channels: 2
    kernel: 3
  - type: maxpool
    kernel: 2
  -
    type: dense
    units: 2
weights:
  count: %d
  crc32: %s
training:
  accuracy: 0.5
...
"""


def test_block_style_yaml():
    # 8 -> conv 3: 6 -> pool 2: 3; 2*9+2 = 20, 2*3*3*2+2 = 38 -> 58 weights
    blob = (np.arange(58, dtype=np.float32) - 29) / 8
    raw = blob.astype("<f4").tobytes()
    text = BLOCK_STYLE % ("", 58, "0x%08X" % (zlib.crc32(raw) & 0xffffffff))
    write(path("block.fpm"), text.encode() + raw)
    m = fpmodel.load(path("block.fpm"))
    eq((m.name, m.classes, m.param_count()), ("hand 'made'", ["up", "down"], 58), "Python")
    eq(m.layers[1]["stride"], 2, "maxpool stride defaults to the kernel")
    d = c_dump(path("block.fpm"))
    eq((d["name"], d["class"], d["count"]), ("hand 'made'", ["up", "down"], "58"), "lib/model")
    check_dump_matches(d, m)
    rc, _, err = c_run("resave", path("block.fpm"), path("block-c.fpm"))
    eq((rc, err), (0, ""), "resave")
    eq(fpmodel.load(path("block-c.fpm")).to_bytes(), read(path("block-c.fpm")), "canonical")


def corrupt(data, edit=None, weight=None, value=None, cut=0, add=b"", fix=False):
    end = data.index(b"\n...\n") + 5
    meta, raw = data[:end].decode(), bytearray(data[end:])
    if edit:
        meta = meta.replace(*edit, 1)
    if weight is not None:
        raw[weight * 4:weight * 4 + 4] = np.array([value], dtype="<f4").tobytes()
    if fix:
        at = meta.index("crc32: 0x") + 9
        meta = meta[:at] + "%08x" % (zlib.crc32(bytes(raw)) & 0xffffffff) + meta[at + 8:]
    if cut:
        raw = raw[:-cut]
    return meta.encode() + bytes(raw) + add


def test_broken_files_same_message():
    m = python_model()
    good = m.to_bytes()
    flipped = bytearray(good)
    flipped[-10] ^= 0x40
    cases = [
        ("checksum", bytes(flipped), "weights checksum mismatch (file says 0x"),
        ("nan", corrupt(good, weight=17, value=np.nan, fix=True),
         "weight 17 of layer 1 (conv2d) is NaN"),
        ("inf", corrupt(good, weight=156 + 2416 + 48000 + 3, value=np.inf, fix=True),
         "bias 3 of layer 7 (dense) is Inf"),
        ("truncated", corrupt(good, cut=4 * 60281 + 2), "weights truncated: 999 floats present"),
        ("oversized", corrupt(good, add=b"\0\0\0\0\0"), "weights oversized: 5 trailing bytes"),
        ("version", corrupt(good, edit=("version: 1", "version: 2")),
         "unsupported format version 2 (this build reads 1)"),
        ("lstm", corrupt(good, edit=("{type: conv2d, out_channels: 16", "{type: lstm, x: 16")),
         "unknown layer type 'lstm' in layer 4 (line 12)"),
        ("kernel", corrupt(good, edit=("out_channels: 16, kernel: 5", "out_channels: 16, kernel: 15")),
         "layer 4 (conv2d): kernel 15 larger than input 14x14"),
        ("classes", corrupt(good, edit=('"file_transfer"]', '"file_transfer", "x"]')),
         "last dense layer has 5 units but 6 classes are listed"),
        ("dupclass", corrupt(good, edit=('"file_transfer"]', '"file_transfer", chat]')),
         "duplicate class name 'chat' (classes 3 and 6)"),
        ("missing", corrupt(good, edit=("resolution: 32, ", "")),
         "missing required key 'resolution' in input"),
        ("window", corrupt(good, edit=("window_seconds: 15", "window_seconds: 3601")),
         "input window_seconds 3601 out of range 1..3600 (line 6)"),
        ("unknown", corrupt(good, edit=("\n...\n", "\nextra: 1\n...\n")),
         "unknown key 'extra' in the metadata (line 23)"),
        ("quoted-int", corrupt(good, edit=("units: 120", "units: \"120\"")),
         "key 'units' in layer 7 (dense): '120' is not an unsigned integer (line 15)"),
        ("dupkey", corrupt(good, edit=("version: 1\n", "version: 1\nversion: 1\n")),
         "duplicate key 'version' (lines 3 and 4)"),
        ("empty", b"", "empty file"),
        ("nomarker", b"format: flowpic-model\n", "no '...' line ending the metadata"),
    ]
    for name, data, msg in cases:
        p = write(path(name + ".fpm"), data)
        rc, out, c_err = c_run("dump", p)
        try:
            fpmodel.load(p)
            py_err = None
        except fpmodel.FpmError as e:
            py_err = str(e)
        eq(rc, 1, name + ": lib/model exit code")
        if msg not in c_err:
            raise Failure("%s: lib/model said %r, expected %r" % (name, c_err, msg))
        eq(py_err, c_err, name + ": fpmodel.py and lib/model give the same message")


def test_python_rejects_bad_models():
    cases = [
        (lambda: fpmodel.lenet5(3, CLASSES), "layer 1 (conv2d): kernel 5 larger than input 3x3"),
        (lambda: fpmodel.Model("x", 8, ["a"], [{"type": "dense", "units": 2}]),
         "last dense layer has 2 units but 1 classes are listed"),
        (lambda: fpmodel.lenet5(32, ["a", "a"]).init_random(np.random.default_rng(1)).to_bytes(),
         "duplicate class name 'a' (classes 1 and 2)"),
        (lambda: fpmodel.lenet5(32, ["a", ""]).init_random(np.random.default_rng(1)).to_bytes(),
         "class 2 has an empty name"),
        (lambda: fpmodel.lenet5(32, CLASSES).to_bytes(), "weights hold 0 floats"),
        (lambda: fpmodel.lenet5(32, CLASSES).set_blob(np.zeros(10)),
         "weights hold 10 floats, the layers need 61281"),
        (lambda: fpmodel.load(path("no-such-file.fpm")), "cannot open: No such file"),
        (lambda: fpmodel.lenet5(32, CLASSES, window_seconds=1.5).init_random(
            np.random.default_rng(1)).to_bytes(), "window_seconds 1.5 is not a whole number"),
        (lambda: fpmodel.lenet5(32, CLASSES).init_random(np.random.default_rng(1)).set_blob(
            np.full(61281, np.inf)).save(path("inf.fpm")),
         "inf.fpm: cannot save: weight 0 of layer 1 (conv2d) is Inf"),
    ]
    for i, (fn, msg) in enumerate(cases):
        try:
            fn()
        except fpmodel.FpmError as e:
            if msg not in str(e):
                raise Failure("case %d: message %r lacks %r" % (i, str(e), msg))
            continue
        raise Failure("case %d: no error, expected %r" % (i, msg))


def main():
    tests = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
    passed = failed = 0
    for t in tests:
        try:
            t()
            passed += 1
            print("ok   %s" % t.__name__)
        except Exception:  # report every failure, keep going
            failed += 1
            print("FAIL %s" % t.__name__)
            traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
    shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
