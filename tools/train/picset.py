"""Training pictures: fp-pics (lib/flowpic) output of labelled windows, as sparse CSR arrays.

Pictures are never binned or normalised here: fp-pics writes each window's non-zero cells
with their normalised values, and this module only gathers them and scatters a batch into a
dense tensor.
"""
import os
import subprocess

import numpy as np
import torch

# Outer MTU of the augmentation's tunnel: an encapsulated packet is never drawn larger.
TUNNEL_MTU = 1500

# Augmentation spec: items KEY=VALUE joined by "+", e.g. "size=48", "scale=1.25",
# "drop=0.1+seed=2", "tshift=-5+scale=0.8". Each key is one fp-pics option (drawn by
# lib/flowpic; this module never alters a picture itself).
AUG_KEYS = {
    "size": ("--size-shift", int),     # bytes added to every packet (tunnel headers)
    "cap": ("--size-cap", int),        # packets drawn at most this large (default TUNNEL_MTU)
    "scale": ("--time-scale", float),  # arrival times multiplied by this (RTT / rate change)
    "tshift": ("--time-shift", float),  # seconds added to arrival times (may be negative)
    "drop": ("--drop-frac", float),    # share of records left out (packet loss)
    "seed": ("--aug-seed", int),       # seed of the drop choice
}


def parse_aug(spec):
    """Augmentation spec -> (canonical spec, fp-pics options). "" is no augmentation."""
    items = {}
    for item in filter(None, (spec or "").split("+")):
        key, eq, val = item.partition("=")
        if key not in AUG_KEYS or not eq:
            raise ValueError("augmentation '%s': '%s' is not KEY=VALUE with KEY one of %s"
                             % (spec, item, ", ".join(AUG_KEYS)))
        if key in items:
            raise ValueError("augmentation '%s': %s given twice" % (spec, key))
        try:
            items[key] = AUG_KEYS[key][1](val)
        except ValueError:
            raise ValueError("augmentation '%s': %s=%s is not a number" % (spec, key, val))
    if "size" in items and "cap" not in items:
        items["cap"] = TUNNEL_MTU
    canon = "+".join("%s=%s" % (k, items[k]) for k in AUG_KEYS if k in items)
    opts = []
    for k in AUG_KEYS:
        if k in items:
            v = items[k]
            if k == "tshift":
                v = int(round(v * 1e6))
            opts += [AUG_KEYS[k][0], str(v)]
    return canon, opts


class PicSet:
    """Sparse pictures: picture i's cells are cell[ptr[i]:ptr[i+1]] with values value[...]."""

    def __init__(self, res, ptr, cell, value, meta):
        self.res = res
        self.ptr = ptr
        self.cell = cell
        self.value = value
        self.meta = meta        # per picture: dict(category, app, vpn, flow, part, window)

    def __len__(self):
        return len(self.meta)

    def subset(self, idx):
        """PicSet of the pictures idx (in that order)."""
        idx = np.asarray(idx, dtype=np.int64)
        lens = self.ptr[idx + 1] - self.ptr[idx]
        ptr = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(lens, out=ptr[1:])
        take = np.concatenate([np.arange(self.ptr[i], self.ptr[i + 1]) for i in idx]) \
            if len(idx) else np.zeros(0, np.int64)
        return PicSet(self.res, ptr, self.cell[take], self.value[take],
                      [self.meta[i] for i in idx])

    def concat(self, other):
        """PicSet of self's pictures followed by other's (same resolution)."""
        if other.res != self.res:
            raise ValueError("cannot join %dx%d and %dx%d pictures" % (
                self.res, self.res, other.res, other.res))
        ptr = np.concatenate([self.ptr, self.ptr[-1] + other.ptr[1:]])
        return PicSet(self.res, ptr, np.concatenate([self.cell, other.cell]),
                      np.concatenate([self.value, other.value]), self.meta + other.meta)

    def sparse_batch(self, idx):
        """(n, picture number, row, col, value) tensors of the pictures idx."""
        idx = np.asarray(idx, dtype=np.int64)
        lens = self.ptr[idx + 1] - self.ptr[idx]
        take = np.concatenate([np.arange(self.ptr[i], self.ptr[i + 1]) for i in idx]) \
            if len(idx) else np.zeros(0, np.int64)
        pic = np.repeat(np.arange(len(idx)), lens)
        cell = self.cell[take]
        return (len(idx), torch.from_numpy(pic), torch.from_numpy(cell // self.res),
                torch.from_numpy(cell % self.res), torch.from_numpy(self.value[take]))

    def dense_batch(self, idx):
        """N x 1 x R x R float tensor of the pictures idx."""
        n, pic, row, col, val = self.sparse_batch(idx)
        x = torch.zeros(n, 1, self.res, self.res)
        x.view(n, -1).index_put_((pic, row * self.res + col), val)
        return x


def _run_pics(fp_pics, windows, prefix, res, direction, norm, min_packets, aug_opts=()):
    cells, index = prefix + ".cells.npy", prefix + ".index.npy"
    if (os.path.exists(index) and os.path.exists(cells)
            and os.path.getmtime(index) >= os.path.getmtime(windows)):
        return cells, index
    cmd = [fp_pics, "--windows", windows, "--res", str(res), "--out", prefix,
           "--dir", direction, "--norm", norm, "--min-packets", str(min_packets)]
    cmd += list(aug_opts)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("fp-pics %s failed: %s" % (windows, p.stderr.strip()))
    return cells, index


def build(parts, res, work, fp_pics, direction="both", norm="log1p", min_packets=10, aug=""):
    """PicSet of every labelled window with at least min_packets packets. aug (an
    augmentation spec, parse_aug) draws the windows altered by fp-pics: e.g. "size=48" every
    packet 48 bytes larger, capped at TUNNEL_MTU, as seen through a tunnel adding that many
    bytes of headers; "scale=1.25" every arrival time 1.25 times later; "drop=0.1" with a
    tenth of the packets lost. meta gets "aug" (the canonical spec, "" for none)."""
    aug, aug_opts = parse_aug(aug)
    os.makedirs(work, exist_ok=True)
    ptrs, cells, values, meta = [np.zeros(1, np.int64)], [], [], []
    base = 0
    for part in parts:
        prefix = os.path.join(work, "%s-%d-%s-%s-%d" % (part.name, res, direction, norm,
                                                         min_packets))
        if aug:
            prefix += "-aug-" + aug
        cp, ip = _run_pics(fp_pics, part.windows, prefix, res, direction, norm, min_packets,
                           aug_opts)
        c = np.load(cp)
        ix = np.load(ip)
        start = np.zeros(len(ix) + 1, np.int64)
        np.cumsum(ix["nnz"].astype(np.int64), out=start[1:])
        for row, w in enumerate(ix):
            lab = part.labels[int(w["window"])]
            if lab is None:
                continue
            a, b = start[row], start[row + 1]
            cells.append(c["cell"][a:b].astype(np.int64))
            values.append(c["value"][a:b])
            base += b - a
            ptrs.append(np.array([base], np.int64))
            meta.append(dict(lab, part=part.name, window=int(w["window"]),
                             packets=int(w["packets"]), aug=aug))
    ptr = np.concatenate(ptrs)
    cell = np.concatenate(cells) if cells else np.zeros(0, np.int64)
    value = np.concatenate(values) if values else np.zeros(0, np.float32)
    return PicSet(res, ptr, cell, value, meta)
