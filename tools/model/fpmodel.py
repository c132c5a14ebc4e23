"""Read and write flowpic .fpm model files (YAML metadata, '...' line, little-endian float32).

The format is described in models/README.md; lib/model reads and writes the same files, and
this module applies the same checks (format version, keys, shapes, weight count, CRC-32,
NaN/Inf) with the same messages. It needs only numpy; the metadata is read by a small YAML
reader that accepts what the writers produce and the usual hand-written block style (see
models/README.md for the subset).

    import fpmodel
    m = fpmodel.lenet5(32, ["voip", "video", "chat", "browsing", "file_transfer"])
    m.init_random(numpy.random.default_rng(1))
    m.save("lenet5-32.fpm")
    m2 = fpmodel.load("lenet5-32.fpm")
    for layer_no, w, b in m2.params(): ...

Command line (run by /usr/bin/python3): fpmodel.py info FILE... | fpmodel.py check FILE...
"""
import math
import numbers
import os
import sys
import zlib

import numpy as np

FORMAT = "flowpic-model"
VERSION = 1
NAME_MAX = 64                   # names are at most 63 bytes
MAX_LAYERS = 64
MAX_CLASSES = 256
RES_MAX = 4096
FILE_MAX = 512 << 20
HEADER_MAX = 1 << 20
MAX_PARAMS = FILE_MAX // 4
MAX_ACTIVATION = 1 << 28
MAX_DEPTH = 8

DIRECTIONS = ("both", "up", "down")
NORMALIZATIONS = ("none", "log1p", "clip255")
LAYER_KEYS = {
    "conv2d": ("type", "out_channels", "kernel", "stride", "padding"),
    "relu": ("type",),
    "maxpool": ("type", "kernel", "stride", "padding"),
    "dense": ("type", "units"),
    "dropout": ("type", "rate"),
    "softmax": ("type",),
}
TOP_KEYS = ("format", "version", "name", "description", "input", "classes", "layers",
            "weights", "training")
INPUT_KEYS = ("resolution", "direction", "normalization", "window_seconds")
WEIGHTS_KEYS = ("count", "crc32")
TRAINING_KEYS = ("data_digest", "accuracy", "date", "command")
HEADER_COMMENT = ("# flowpic CNN model: YAML metadata up to the '...' line, "
                  "then little-endian float32 weights\n")


class FpmError(ValueError):
    """A model file or model that cannot be used; str() is one line naming the problem."""


# ---------------------------------------------------------------- YAML subset reader

class Plain(str):
    """A scalar written without quotes (numbers must be plain, as in lib/model)."""


class _Node:
    __slots__ = ("value", "line")

    def __init__(self, value, line):
        self.value, self.line = value, line


class _Map(dict):
    """Mapping of str -> _Node, remembering the line of each key."""

    def __init__(self, line):
        super().__init__()
        self.line = line
        self.key_line = {}


def _strip_comment(text):
    quote = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote == '"':
            if c == "\\":
                i += 1
            elif c == '"':
                quote = None
        elif quote == "'":
            if c == "'":
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
        i += 1
    return text.rstrip()


_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v",
            "f": "\f", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
            "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}


class _Line:
    """Scanner over one logical line of the metadata."""

    def __init__(self, text, no):
        self.s, self.no, self.p = text, no, 0

    def fail(self, what):
        raise FpmError("malformed YAML (line %d, column %d): %s" % (self.no, self.p + 1, what))

    def ws(self):
        while self.p < len(self.s) and self.s[self.p] in " \t":
            self.p += 1

    def at_end(self):
        self.ws()
        return self.p >= len(self.s)

    def quoted(self):
        q = self.s[self.p]
        self.p += 1
        out = []
        while True:
            if self.p >= len(self.s):
                self.fail("quoted string does not end on its line")
            c = self.s[self.p]
            if q == "'" and c == "'":
                if self.s[self.p + 1:self.p + 2] == "'":
                    out.append("'")
                    self.p += 2
                    continue
                self.p += 1
                return "".join(out)
            if q == '"' and c == '"':
                self.p += 1
                return "".join(out)
            if q == '"' and c == "\\":
                e = self.s[self.p + 1:self.p + 2]
                width = {"x": 2, "u": 4, "U": 8}.get(e)
                if width:
                    digits = self.s[self.p + 2:self.p + 2 + width]
                    try:
                        out.append(chr(int(digits, 16)))
                    except ValueError:
                        self.fail("bad escape \\%s%s" % (e, digits))
                    self.p += 2 + width
                    continue
                if e not in _ESCAPES:
                    self.fail("unknown escape \\%s" % e)
                out.append(_ESCAPES[e])
                self.p += 2
                continue
            out.append(c)
            self.p += 1

    def plain(self, flow):
        start = self.p
        while self.p < len(self.s):
            c = self.s[self.p]
            nxt = self.s[self.p + 1:self.p + 2]
            if c == ":" and (nxt == "" or nxt in " \t" or (flow and nxt in ",[]{}")):
                break
            if flow and c in ",[]{}":
                break
            self.p += 1
        return Plain(self.s[start:self.p].rstrip())

    def scalar(self, flow):
        self.ws()
        if self.p < len(self.s) and self.s[self.p] in "\"'":
            return self.quoted()
        if self.p < len(self.s) and self.s[self.p] in "&*!|>%@`":
            self.fail("anchors, aliases, tags and block scalars are not supported")
        if self.p < len(self.s) and self.s[self.p] in "#,":
            self.fail("a plain value cannot start with '%s'" % self.s[self.p])
        return self.plain(flow)

    def value(self, flow, depth):
        self.ws()
        if depth > MAX_DEPTH:
            raise FpmError("YAML nested deeper than %d levels (line %d)" % (MAX_DEPTH, self.no))
        c = self.s[self.p:self.p + 1]
        if c == "{":
            return self.flow_map(depth)
        if c == "[":
            return self.flow_seq(depth)
        return _Node(self.scalar(flow), self.no)

    def flow_map(self, depth):
        m = _Map(self.no)
        self.p += 1
        while True:
            self.ws()
            if self.p >= len(self.s):
                self.fail("'{' not closed on its line")
            if self.s[self.p] == "}":
                self.p += 1
                return _Node(m, self.no)
            key = self.scalar(True)
            self.ws()
            if self.s[self.p:self.p + 1] != ":":
                self.fail("expected ':' after key '%s'" % key)
            self.p += 1
            _put(m, key, self.value(True, depth + 1), self.no)
            self.ws()
            if self.s[self.p:self.p + 1] == ",":
                self.p += 1
            elif self.s[self.p:self.p + 1] != "}":
                self.fail("expected ',' or '}'")

    def flow_seq(self, depth):
        items = []
        self.p += 1
        while True:
            self.ws()
            if self.p >= len(self.s):
                self.fail("'[' not closed on its line")
            if self.s[self.p] == "]":
                self.p += 1
                return _Node(items, self.no)
            items.append(self.value(True, depth + 1))
            self.ws()
            if self.s[self.p:self.p + 1] == ",":
                self.p += 1
            elif self.s[self.p:self.p + 1] != "]":
                self.fail("expected ',' or ']'")


def _put(m, key, node, line):
    if key in m:
        raise FpmError("duplicate key '%s' (lines %d and %d)" % (key, m.key_line[key], line))
    m[key] = node
    m.key_line[key] = line


def _key_split(text, no):
    """'key: rest' -> (key, rest) or None when text is not a mapping entry."""
    sc = _Line(text, no)
    if text[:1] in "{[":
        return None
    key = sc.scalar(False)
    if sc.s[sc.p:sc.p + 1] != ":":
        return None
    return key, text[sc.p + 1:].strip()


def _parse_block(lines, i, indent, depth):
    if depth > MAX_DEPTH:
        raise FpmError("YAML nested deeper than %d levels (line %d)" % (MAX_DEPTH, lines[i][0]))
    no, ind, text = lines[i]
    if text == "-" or text.startswith("- "):
        return _parse_seq(lines, i, ind, depth)
    return _parse_map(lines, i, ind, depth)


def _inline(text, no, depth):
    sc = _Line(text, no)
    node = sc.value(False, depth)
    if not sc.at_end():
        sc.fail("unexpected text after the value")
    return node


def _nested(lines, i, ind, no, depth):
    """Value of 'key:' or '-' with nothing after it: the block below, or an empty scalar."""
    if i < len(lines) and (lines[i][1] > ind or (lines[i][1] == ind and (
            lines[i][2] == "-" or lines[i][2].startswith("- ")))):
        return _parse_block(lines, i, lines[i][1], depth + 1)
    return _Node(Plain(""), no), i


def _parse_map(lines, i, ind, depth):
    m = _Map(lines[i][0])
    while i < len(lines) and lines[i][1] == ind:
        no, _, text = lines[i]
        if text == "-" or text.startswith("- "):
            break
        kv = _key_split(text, no)
        if kv is None:
            raise FpmError("malformed YAML (line %d): expected 'key: value'" % no)
        key, rest = kv
        if rest:
            node, i = _inline(rest, no, depth + 1), i + 1
        else:
            node, i = _nested(lines, i + 1, ind, no, depth)
        _put(m, key, node, no)
    if i < len(lines) and lines[i][1] > ind:
        raise FpmError("malformed YAML (line %d): unexpected indentation" % lines[i][0])
    return _Node(m, m.line), i


def _parse_seq(lines, i, ind, depth):
    items = []
    first = lines[i][0]
    while i < len(lines) and lines[i][1] == ind and (
            lines[i][2] == "-" or lines[i][2].startswith("- ")):
        no, _, text = lines[i]
        rest = text[1:].lstrip()
        if not rest:
            node, i = _nested(lines, i + 1, ind, no, depth)
        elif _key_split(rest, no) is not None:
            # "- key: value" starts a block mapping indented at the key's column
            col = ind + len(text) - len(rest)
            lines[i] = (no, col, rest)
            node, i = _parse_map(lines, i, col, depth + 1)
        else:
            node, i = _inline(rest, no, depth + 1), i + 1
        items.append(node)
    if i < len(lines) and lines[i][1] > ind:
        raise FpmError("malformed YAML (line %d): unexpected indentation" % lines[i][0])
    return _Node(items, first), i


def parse_yaml(text):
    """Parse the metadata text (without the '...' line) into nested dict/list/str values."""
    lines = []
    started = False
    for no, raw in enumerate(text.split("\n"), 1):
        body = _strip_comment(raw)
        if not body.strip():
            continue
        if body.startswith("%"):
            raise FpmError("malformed YAML (line %d): directives are not supported" % no)
        if body.rstrip() == "---":
            if started:
                raise FpmError("more than one YAML document in the metadata (line %d)" % no)
            started = True
            continue
        stripped = body.lstrip(" ")
        if stripped.startswith("\t"):
            raise FpmError("malformed YAML (line %d): tab in indentation" % no)
        started = True
        lines.append((no, len(body) - len(stripped), stripped))
    if not lines:
        raise FpmError("metadata is empty")
    node, i = _parse_block(lines, 0, lines[0][1], 1)
    if i < len(lines):
        raise FpmError("malformed YAML (line %d): unexpected text" % lines[i][0])
    return node


# ---------------------------------------------------------------- model

class Model:
    """A FlowPic CNN: input geometry, classes, layers (dicts as in the file) and the weights.

    blob is the 1-D float32 array of all weights in file order; params() gives per-layer
    views shaped as in PyTorch (conv2d [out][in][k][k], dense [units][in_features]).
    """

    def __init__(self, name, resolution, classes, layers, direction="both",
                 normalization="log1p", window_seconds=60, blob=None, description="",
                 training=None):
        self.name = name
        self.resolution = resolution
        self.direction = direction
        self.normalization = normalization
        self.window_seconds = window_seconds
        self.classes = list(classes)
        self.layers = [_with_defaults(dict(l)) for l in layers]
        self.description = description or ""
        self.training = dict(training or {})
        self.shapes = None
        self.blob = None
        self.derive_shapes()
        if blob is not None:
            self.set_blob(blob)

    # -- architecture

    def derive_shapes(self):
        """Check the architecture and compute each layer's (in, out, n_weights, n_bias)."""
        self.shapes = derive_shapes(self.resolution, self.layers, len(self.classes))
        return self.shapes

    def param_count(self):
        return sum(s["n_weights"] + s["n_bias"] for s in self.shapes)

    # -- weights

    def set_blob(self, blob):
        blob = np.ascontiguousarray(blob, dtype=np.float32).reshape(-1)
        if blob.size != self.param_count():
            raise FpmError("weights hold %d floats, the layers need %d"
                           % (blob.size, self.param_count()))
        self.blob = blob
        return self

    def set_params(self, params):
        """Weights from a list of (weight, bias) arrays, one pair per layer with weights."""
        parts = []
        for (w, b), (no, s) in zip(params, self._param_layers()):
            w = np.asarray(w, dtype=np.float32).reshape(-1)
            b = np.asarray(b, dtype=np.float32).reshape(-1)
            if w.size != s["n_weights"] or b.size != s["n_bias"]:
                raise FpmError("layer %d (%s): got %d weights and %d biases, needs %d and %d"
                               % (no, self.layers[no - 1]["type"], w.size, b.size,
                                  s["n_weights"], s["n_bias"]))
            parts += [w, b]
        if len(params) != len(self._param_layers()):
            raise FpmError("got weights for %d layers, the model has %d layers with weights"
                           % (len(params), len(self._param_layers())))
        return self.set_blob(np.concatenate(parts) if parts else np.zeros(0, np.float32))

    def init_random(self, rng):
        """Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights and biases, as PyTorch starts."""
        params = []
        for no, s in self._param_layers():
            fan_in = s["n_weights"] // s["n_bias"]
            bound = 1.0 / math.sqrt(fan_in)
            params.append((rng.uniform(-bound, bound, s["n_weights"]),
                           rng.uniform(-bound, bound, s["n_bias"])))
        return self.set_params(params)

    def _param_layers(self):
        return [(i + 1, s) for i, s in enumerate(self.shapes) if s["n_weights"] + s["n_bias"]]

    def params(self):
        """[(layer number, weight view, bias view)] for each layer with weights."""
        out, off = [], 0
        for no, s in self._param_layers():
            l = self.layers[no - 1]
            w = self.blob[off:off + s["n_weights"]]
            off += s["n_weights"]
            b = self.blob[off:off + s["n_bias"]]
            off += s["n_bias"]
            if l["type"] == "conv2d":
                w = w.reshape(s["out"][0], s["in"][0], l["kernel"], l["kernel"])
            else:
                w = w.reshape(s["out"][0], s["n_weights"] // s["out"][0])
            out.append((no, w, b))
        return out

    def crc32(self):
        return zlib.crc32(self.blob.astype("<f4").tobytes()) & 0xffffffff

    # -- files

    def to_bytes(self):
        """The canonical file bytes (identical to what lib/model's fp_model_save writes)."""
        _check_names(self.name, self.classes)
        self.derive_shapes()
        if self.direction not in DIRECTIONS:
            raise FpmError("direction '%s' is not both, up or down" % self.direction)
        if self.normalization not in NORMALIZATIONS:
            raise FpmError("normalization '%s' is not none, log1p or clip255"
                           % self.normalization)
        if (not isinstance(self.window_seconds, numbers.Integral)
                or not 1 <= self.window_seconds <= 3600):
            raise FpmError("window_seconds %r is not a whole number of seconds in 1..3600"
                           % (self.window_seconds,))
        if self.blob is None or self.blob.size != self.param_count():
            raise FpmError("weights hold %d floats, the layers need %d"
                           % (0 if self.blob is None else self.blob.size, self.param_count()))
        _check_finite(self.blob, self.shapes, self.layers)
        acc = self.training.get("accuracy")
        if acc is not None and not 0.0 <= float(acc) <= 1.0:
            raise FpmError("accuracy %g out of range [0, 1]" % float(acc))
        return _meta_text(self).encode("utf-8") + self.blob.astype("<f4").tobytes()

    def save(self, path):
        """Write the model to path (through a temporary file and a rename)."""
        try:
            data = self.to_bytes()
        except FpmError as e:
            raise FpmError("%s: cannot save: %s" % (path, e)) from None
        tmp = "%s.tmp.%d" % (path, os.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return path

    def describe(self):
        return ("%s: input 1x%dx%d %s/%s %d s, %d layers, %d weights, crc32 0x%08x, "
                "%d classes [%s]" % (self.name, self.resolution, self.resolution,
                                     self.direction, self.normalization,
                                     self.window_seconds, len(self.layers),
                                     self.param_count(), self.crc32(), len(self.classes),
                                     ",".join(self.classes)))


def _with_defaults(l):
    t = l.get("type")
    if t == "conv2d":
        l.setdefault("stride", 1)
        l.setdefault("padding", 0)
    elif t == "maxpool":
        l.setdefault("stride", l.get("kernel"))
        l.setdefault("padding", 0)
    elif t == "dropout":
        l.setdefault("rate", 0.5)
    return l


def _window_out(n, k, s, p):
    padded = n + 2 * p
    return None if k > padded else (padded - k) // s + 1


def _check_layer_params(l, no):
    t = l["type"]
    if t not in LAYER_KEYS:
        raise FpmError("layer %d: unknown layer type '%s'" % (no, t))
    if t == "conv2d" and not 1 <= l["out_channels"] <= 65536:
        raise FpmError("layer %d (%s): out_channels %d out of range 1..65536"
                       % (no, t, l["out_channels"]))
    if t in ("conv2d", "maxpool"):
        for key, lo in (("kernel", 1), ("stride", 1), ("padding", 0)):
            if not lo <= l[key] <= RES_MAX:
                raise FpmError("layer %d (%s): %s %d out of range %d..%d"
                               % (no, t, key, l[key], lo, RES_MAX))
        if t == "maxpool" and l["padding"] > l["kernel"] // 2:
            raise FpmError("layer %d (%s): padding %d larger than half the kernel %d"
                           % (no, t, l["padding"], l["kernel"]))
    if t == "dense" and not 1 <= l["units"] <= 1 << 24:
        raise FpmError("layer %d (%s): units %d out of range 1..%d" % (no, t, l["units"], 1 << 24))
    if t == "dropout" and not 0.0 <= float(np.float32(l["rate"])) < 1.0:
        raise FpmError("layer %d (%s): rate %g out of range [0, 1)" % (no, t, l["rate"]))


def derive_shapes(resolution, layers, n_classes):
    """Per-layer shapes and weight counts, with the checks and messages of lib/model."""
    if not 1 <= resolution <= RES_MAX:
        raise FpmError("resolution %d out of range 1..%d" % (resolution, RES_MAX))
    if not 1 <= len(layers) <= MAX_LAYERS:
        raise FpmError("%d layers, 1..%d allowed" % (len(layers), MAX_LAYERS))
    if not 1 <= n_classes <= MAX_CLASSES:
        raise FpmError("%d classes listed, 1..%d allowed" % (n_classes, MAX_CLASSES))
    c, h, w = 1, resolution, resolution
    flat, last, total, shapes = False, 0, 0, []
    for no, l in enumerate(layers, 1):
        t = l["type"]
        _check_layer_params(l, no)
        if t == "softmax" and no != len(layers):
            raise FpmError("layer %d (softmax): softmax must be the last layer" % no)
        oc, oh, ow, nw, nb = c, h, w, 0, 0
        if t in ("conv2d", "maxpool"):
            if flat:
                raise FpmError("layer %d (%s): input is flat (it follows a dense layer)" % (no, t))
            k, s, p = l["kernel"], l["stride"], l["padding"]
            oh, ow = _window_out(h, k, s, p), _window_out(w, k, s, p)
            if oh is None or ow is None:
                extra = " with padding %d" % p if p else ""
                raise FpmError("layer %d (%s): kernel %d larger than input %dx%d%s"
                               % (no, t, k, h, w, extra))
            if t == "conv2d":
                oc = l["out_channels"]
                nw, nb = oc * c * k * k, oc
        elif t == "dense":
            oc, oh, ow = l["units"], 1, 1
            nw, nb = c * h * w * l["units"], l["units"]
            flat = True
        if oc * oh * ow > MAX_ACTIVATION:
            raise FpmError("layer %d (%s): output %dx%dx%d larger than %d values"
                           % (no, t, oc, oh, ow, MAX_ACTIVATION))
        if nw + nb:
            last = no
            total += nw + nb
            if nw > MAX_PARAMS or total > MAX_PARAMS:
                raise FpmError("layer %d (%s): model needs more than %d weights"
                               % (no, t, MAX_PARAMS))
        shapes.append({"in": (c, h, w), "out": (oc, oh, ow), "n_weights": nw, "n_bias": nb})
        c, h, w = oc, oh, ow
    if last == 0:
        raise FpmError("no layer with weights: the model must end with a dense layer of one "
                       "unit per class")
    if layers[last - 1]["type"] != "dense":
        raise FpmError("last layer with weights is layer %d (%s); it must be dense with one "
                       "unit per class" % (last, layers[last - 1]["type"]))
    if layers[last - 1]["units"] != n_classes:
        raise FpmError("last dense layer has %d units but %d classes are listed"
                       % (layers[last - 1]["units"], n_classes))
    return shapes


def _check_names(name, classes):
    if not name:
        raise FpmError("model name is empty")
    if len(name.encode()) >= NAME_MAX:
        raise FpmError("model name longer than %d bytes" % (NAME_MAX - 1))
    if not 1 <= len(classes) <= MAX_CLASSES:
        raise FpmError("%d classes listed, 1..%d allowed" % (len(classes), MAX_CLASSES))
    seen = {}
    for i, c in enumerate(classes, 1):
        if not c:
            raise FpmError("class %d has an empty name" % i)
        if len(c.encode()) >= NAME_MAX:
            raise FpmError("class %d name '%s...' longer than %d bytes" % (i, c[:20], NAME_MAX - 1))
        if c in seen:
            raise FpmError("duplicate class name '%s' (classes %d and %d)" % (c, seen[c], i))
        seen[c] = i


def _check_finite(blob, shapes, layers):
    off = 0
    for no, s in enumerate(shapes, 1):
        for what, n in (("weight", s["n_weights"]), ("bias", s["n_bias"])):
            part = blob[off:off + n]
            bad = np.flatnonzero(~np.isfinite(part))
            if bad.size:
                i = int(bad[0])
                v = part[i]
                kind = "NaN" if np.isnan(v) else ("-Inf" if v < 0 else "Inf")
                raise FpmError("%s %d of layer %d (%s) is %s"
                               % (what, i, no, layers[no - 1]["type"], kind))
            off += n


# ---------------------------------------------------------------- writer

def _quoted(s):
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _real(v, as_float):
    """Shortest '%.Ng' text that reads back as the same double (or float32)."""
    text = ""
    for prec in range(1, 18):
        text = "%.*g" % (prec, v)
        if (np.float32(float(text)) == np.float32(v)) if as_float else float(text) == v:
            break
    return text


def _layer_line(l, s):
    t = l["type"]
    text = "  - {type: %s" % t
    if t == "conv2d":
        text += ", out_channels: %d, kernel: %d, stride: %d, padding: %d" % (
            l["out_channels"], l["kernel"], l["stride"], l["padding"])
    elif t == "maxpool":
        text += ", kernel: %d, stride: %d" % (l["kernel"], l["stride"])
        if l["padding"]:
            text += ", padding: %d" % l["padding"]
    elif t == "dense":
        text += ", units: %d" % l["units"]
    elif t == "dropout":
        text += ", rate: " + _real(float(np.float32(l["rate"])), True)
    text += "}  # %dx%dx%d -> %dx%dx%d" % (s["in"] + s["out"])
    if s["n_weights"] + s["n_bias"]:
        text += ", %d weights" % (s["n_weights"] + s["n_bias"])
    return text + "\n"


def _meta_text(m):
    out = [HEADER_COMMENT, "format: %s\nversion: %d\nname: %s\n" % (FORMAT, VERSION,
                                                                     _quoted(m.name))]
    if m.description:
        out.append("description: %s\n" % _quoted(m.description))
    out.append("input: {resolution: %d, direction: %s, normalization: %s, window_seconds: %d}\n"
               % (m.resolution, m.direction, m.normalization, m.window_seconds))
    out.append("classes: [%s]\n" % ", ".join(_quoted(c) for c in m.classes))
    out.append("layers:\n")
    out += [_layer_line(l, s) for l, s in zip(m.layers, m.shapes)]
    out.append("weights: {count: %d, crc32: 0x%08x}\n" % (m.blob.size, m.crc32()))
    tr = []
    if m.training.get("data_digest"):
        tr.append("data_digest: " + _quoted(m.training["data_digest"]))
    if m.training.get("accuracy") is not None and float(m.training["accuracy"]) >= 0:
        tr.append("accuracy: " + _real(float(m.training["accuracy"]), False))
    if m.training.get("date"):
        tr.append("date: " + _quoted(m.training["date"]))
    if m.training.get("command"):
        tr.append("command: " + _quoted(m.training["command"]))
    if tr:
        out.append("training: {%s}\n" % ", ".join(tr))
    out.append("...\n")
    return "".join(out)


def save(model, path):
    """Write model to path in the canonical form."""
    return model.save(path)


# ---------------------------------------------------------------- reader

def _where_keys(m, allowed, where):
    for k in m:
        if k not in allowed:
            raise FpmError("unknown key '%s' in %s (line %d)" % (k, where, m.key_line[k]))


def _need(m, key, where):
    if key not in m:
        raise FpmError("missing required key '%s' in %s" % (key, where))
    return m[key]


def _kind(node, kind, key, where):
    names = {str: "a single value", list: "a list", dict: "a mapping"}
    if not isinstance(node.value, kind):
        raise FpmError("key '%s' in %s must be %s (line %d)" % (key, where, names[kind], node.line))
    return node.value


def _uint(node, key, where, hexok=False, limit=(1 << 32) - 1):
    v = _kind(node, str, key, where)
    s, base, digits = v, 10, "0123456789"
    if hexok and s[:2] in ("0x", "0X"):
        s, base, digits = s[2:], 16, "0123456789abcdefABCDEF"
    if not isinstance(v, Plain) or not s or any(ch not in digits for ch in s) or len(s) > 20:
        raise FpmError("key '%s' in %s: '%s' is not an unsigned integer (line %d)"
                       % (key, where, v, node.line))
    x = int(s, base)
    if x > limit:
        raise FpmError("key '%s' in %s: %s larger than %d (line %d)" % (key, where, v, limit,
                                                                         node.line))
    return x


def _real_value(node, key, where):
    v = _kind(node, str, key, where)
    try:
        x = float(v) if isinstance(v, Plain) and v.strip() == v and v else None
    except ValueError:
        x = None
    if x is None or not math.isfinite(x):
        raise FpmError("key '%s' in %s: '%s' is not a finite number (line %d)"
                       % (key, where, v, node.line))
    return x


def _parse_layer(node, no):
    if not isinstance(node.value, dict):
        raise FpmError("layer %d is not a mapping (line %d)" % (no, node.line))
    m = node.value
    if "type" not in m:
        raise FpmError("layer %d has no type (line %d)" % (no, node.line))
    t = _kind(m["type"], str, "type", "layer %d" % no)
    if t not in LAYER_KEYS:
        raise FpmError("unknown layer type '%s' in layer %d (line %d)" % (t, no, m["type"].line))
    where = "layer %d (%s)" % (no, t)
    _where_keys(m, LAYER_KEYS[t], where)
    l = {"type": t}
    if t == "conv2d":
        l["out_channels"] = _uint(_need(m, "out_channels", where), "out_channels", where)
    if t in ("conv2d", "maxpool"):
        l["kernel"] = _uint(_need(m, "kernel", where), "kernel", where)
        for key in ("stride", "padding"):
            if key in m:
                l[key] = _uint(m[key], key, where)
    if t == "dense":
        l["units"] = _uint(_need(m, "units", where), "units", where)
    if t == "dropout" and "rate" in m:
        l["rate"] = _real_value(m["rate"], "rate", where)
    return _with_defaults(l)


def _parse_meta(root):
    if not isinstance(root.value, dict):
        raise FpmError("metadata is not a YAML mapping (line %d)" % root.line)
    top = root.value
    fmt = _need(top, "format", "the metadata")
    if fmt.value != FORMAT:
        raise FpmError("not a flowpic model (format is '%s', expected '%s')"
                       % (fmt.value if isinstance(fmt.value, str) else "(not a value)", FORMAT))
    version = _uint(_need(top, "version", "the metadata"), "version", "the metadata")
    if version != VERSION:
        raise FpmError("unsupported format version %d (this build reads %d)" % (version, VERSION))
    _where_keys(top, TOP_KEYS, "the metadata")
    name = _kind(_need(top, "name", "the metadata"), str, "name", "the metadata")
    if len(name.encode()) >= NAME_MAX:
        raise FpmError("model name longer than %d bytes (line %d)" % (NAME_MAX - 1,
                                                                       top["name"].line))
    inp = _kind(_need(top, "input", "the metadata"), dict, "input", "the metadata")
    _where_keys(inp, INPUT_KEYS, "input")
    res = _uint(_need(inp, "resolution", "input"), "resolution", "input")
    if not 1 <= res <= RES_MAX:
        raise FpmError("input resolution %d out of range 1..%d (line %d)"
                       % (res, RES_MAX, inp["resolution"].line))
    win = _uint(_need(inp, "window_seconds", "input"), "window_seconds", "input")
    if not 1 <= win <= 3600:
        raise FpmError("input window_seconds %d out of range 1..3600 (line %d)"
                       % (win, inp["window_seconds"].line))
    d = _kind(_need(inp, "direction", "input"), str, "direction", "input")
    if d not in DIRECTIONS:
        raise FpmError("input direction '%s' is not both, up or down (line %d)"
                       % (d, inp["direction"].line))
    norm = _kind(_need(inp, "normalization", "input"), str, "normalization", "input")
    if norm not in NORMALIZATIONS:
        raise FpmError("input normalization '%s' is not none, log1p or clip255 (line %d)"
                       % (norm, inp["normalization"].line))
    cl_node = _need(top, "classes", "the metadata")
    cl = _kind(cl_node, list, "classes", "the metadata")
    if not 1 <= len(cl) <= MAX_CLASSES:
        raise FpmError("%d classes listed, 1..%d allowed (line %d)"
                       % (len(cl), MAX_CLASSES, cl_node.line))
    classes = []
    for i, c in enumerate(cl, 1):
        if not isinstance(c.value, str):
            raise FpmError("class %d is not a name (line %d)" % (i, c.line))
        classes.append(str(c.value))
    ly_node = _need(top, "layers", "the metadata")
    ly = _kind(ly_node, list, "layers", "the metadata")
    if not 1 <= len(ly) <= MAX_LAYERS:
        raise FpmError("%d layers listed, 1..%d allowed (line %d)"
                       % (len(ly), MAX_LAYERS, ly_node.line))
    layers = [_parse_layer(n, i) for i, n in enumerate(ly, 1)]
    wt = _kind(_need(top, "weights", "the metadata"), dict, "weights", "the metadata")
    _where_keys(wt, WEIGHTS_KEYS, "weights")
    count = _uint(_need(wt, "count", "weights"), "count", "weights", limit=(1 << 64) - 1)
    crc = _uint(_need(wt, "crc32", "weights"), "crc32", "weights", hexok=True)
    desc = ""
    if "description" in top:
        desc = str(_kind(top["description"], str, "description", "the metadata"))
    training = {}
    if "training" in top:
        tr = _kind(top["training"], dict, "training", "the metadata")
        _where_keys(tr, TRAINING_KEYS, "training")
        for key in ("data_digest", "date", "command"):
            if key in tr:
                training[key] = str(_kind(tr[key], str, key, "training"))
        if "accuracy" in tr:
            acc = _real_value(tr["accuracy"], "accuracy", "training")
            if not 0.0 <= acc <= 1.0:
                raise FpmError("training accuracy %g out of range [0, 1] (line %d)"
                               % (acc, tr["accuracy"].line))
            training["accuracy"] = acc
    _check_names(name, classes)
    meta = dict(name=str(name), resolution=res, direction=str(d), normalization=str(norm),
                window_seconds=win, classes=classes, layers=layers, description=desc,
                training=training)
    return meta, count, crc


def _meta_end(data):
    if data.startswith(b"...\n"):
        return 4
    at = data.find(b"\n...\n", 0, HEADER_MAX)
    return 0 if at < 0 else at + 5


def loads(data):
    """Model from the bytes of a .fpm file; raises FpmError (message without a file name)."""
    if not data:
        raise FpmError("empty file")
    if len(data) > FILE_MAX:
        raise FpmError("file too large (%d bytes, limit %d)" % (len(data), FILE_MAX))
    end = _meta_end(data[:HEADER_MAX])
    if end == 0:
        if len(data) >= HEADER_MAX:
            raise FpmError("no '...' line ending the metadata in the first %d bytes" % HEADER_MAX)
        raise FpmError("no '...' line ending the metadata (not a model file?)")
    if end == 4:
        raise FpmError("metadata is empty")
    try:
        text = data[:end - 4].decode("utf-8")
    except UnicodeDecodeError as e:
        raise FpmError("malformed YAML: metadata is not UTF-8 (byte %d)" % e.start) from None
    meta, count, crc = _parse_meta(parse_yaml(text))
    m = Model(meta.pop("name"), meta.pop("resolution"), meta.pop("classes"),
              meta.pop("layers"), **meta)
    need = m.param_count()
    if count != need:
        raise FpmError("weights count %d in the metadata but the layers need %d" % (count, need))
    have = len(data) - end
    if have < need * 4:
        raise FpmError("weights truncated: %d floats present, %d needed" % (have // 4, need))
    if have > need * 4:
        raise FpmError("weights oversized: %d trailing bytes after the %d floats needed"
                       % (have - need * 4, need))
    raw = data[end:]
    got = zlib.crc32(raw) & 0xffffffff
    if got != crc:
        raise FpmError("weights checksum mismatch (file says 0x%08x, computed 0x%08x)"
                       % (crc, got))
    blob = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    _check_finite(blob, m.shapes, m.layers)
    return m.set_blob(blob)


def load(path):
    """Load and check a .fpm file; raises FpmError('PATH: problem') or OSError."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise FpmError("%s: cannot open: %s" % (path, e.strerror)) from None
    if st.st_size > FILE_MAX:
        raise FpmError("%s: file too large (%d bytes, limit %d)" % (path, st.st_size, FILE_MAX))
    with open(path, "rb") as f:
        data = f.read()
    try:
        return loads(data)
    except FpmError as e:
        raise FpmError("%s: %s" % (path, e)) from None


# ---------------------------------------------------------------- ready-made architectures

def lenet5(resolution, classes, name=None, **kw):
    """Mini LeNet-5: conv 6@5 - relu - pool 2 - conv 16@5 - relu - pool 2 - dense 120 - relu
    - dense 84 - relu - dense C - softmax (weights unset: call init_random or set_params)."""
    layers = [
        {"type": "conv2d", "out_channels": 6, "kernel": 5}, {"type": "relu"},
        {"type": "maxpool", "kernel": 2, "stride": 2},
        {"type": "conv2d", "out_channels": 16, "kernel": 5}, {"type": "relu"},
        {"type": "maxpool", "kernel": 2, "stride": 2},
        {"type": "dense", "units": 120}, {"type": "relu"},
        {"type": "dense", "units": 84}, {"type": "relu"},
        {"type": "dense", "units": len(classes)}, {"type": "softmax"},
    ]
    return Model(name or "lenet5-%d" % resolution, resolution, classes, layers, **kw)


def paper_net(classes, resolution=1500, name=None, **kw):
    """The FlowPic paper's network: conv 10@10/5 - relu - pool 2 - conv 20@10/5 - relu -
    pool 2 - dense 64 - relu - dropout - dense C - softmax."""
    layers = [
        {"type": "conv2d", "out_channels": 10, "kernel": 10, "stride": 5}, {"type": "relu"},
        {"type": "maxpool", "kernel": 2, "stride": 2},
        {"type": "conv2d", "out_channels": 20, "kernel": 10, "stride": 5}, {"type": "relu"},
        {"type": "maxpool", "kernel": 2, "stride": 2},
        {"type": "dense", "units": 64}, {"type": "relu"}, {"type": "dropout", "rate": 0.5},
        {"type": "dense", "units": len(classes)}, {"type": "softmax"},
    ]
    return Model(name or "flowpic-paper-%d" % resolution, resolution, classes, layers, **kw)


# ---------------------------------------------------------------- command line

def main(argv):
    if len(argv) < 3 or argv[1] not in ("info", "check"):
        sys.stderr.write("usage: fpmodel.py info|check FILE...\n")
        return 2
    rc = 0
    for path in argv[2:]:
        try:
            m = load(path)
        except FpmError as e:
            print(e)
            rc = 1
            continue
        print("%s: ok: %s" % (path, m.describe()))
        if argv[1] == "info":
            for no, (l, s) in enumerate(zip(m.layers, m.shapes), 1):
                print("  %2d %-8s %-14s -> %-14s %d weights" % (
                    no, l["type"], "x".join(map(str, s["in"])), "x".join(map(str, s["out"])),
                    s["n_weights"] + s["n_bias"]))
            if m.description:
                print("  description: %s" % m.description)
            for k, v in m.training.items():
                print("  training %s: %s" % (k, v))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
