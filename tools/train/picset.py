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


def _run_pics(fp_pics, windows, prefix, res, direction, norm, min_packets, shift=0):
    cells, index = prefix + ".cells.npy", prefix + ".index.npy"
    if (os.path.exists(index) and os.path.exists(cells)
            and os.path.getmtime(index) >= os.path.getmtime(windows)):
        return cells, index
    cmd = [fp_pics, "--windows", windows, "--res", str(res), "--out", prefix,
           "--dir", direction, "--norm", norm, "--min-packets", str(min_packets)]
    if shift:
        cmd += ["--size-shift", str(shift), "--size-cap", str(TUNNEL_MTU)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("fp-pics %s failed: %s" % (windows, p.stderr.strip()))
    return cells, index


def build(parts, res, work, fp_pics, direction="both", norm="log1p", min_packets=10, shift=0):
    """PicSet of every labelled window with at least min_packets packets. shift > 0 draws
    every packet shift bytes larger, capped at TUNNEL_MTU (fp-pics --size-shift): the same
    windows as seen through a tunnel adding that many bytes of headers; meta gets "shift"."""
    os.makedirs(work, exist_ok=True)
    ptrs, cells, values, meta = [np.zeros(1, np.int64)], [], [], []
    base = 0
    for part in parts:
        prefix = os.path.join(work, "%s-%d-%s-%s-%d" % (part.name, res, direction, norm,
                                                         min_packets))
        if shift:
            prefix += "-shift%d" % shift
        cp, ip = _run_pics(fp_pics, part.windows, prefix, res, direction, norm, min_packets,
                           shift)
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
                             packets=int(w["packets"]), shift=shift))
    ptr = np.concatenate(ptrs)
    cell = np.concatenate(cells) if cells else np.zeros(0, np.int64)
    value = np.concatenate(values) if values else np.zeros(0, np.float32)
    return PicSet(res, ptr, cell, value, meta)
