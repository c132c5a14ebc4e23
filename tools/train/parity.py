"""Parity: the same windows through PyTorch (nets.build of the model's layers, plain dense
convolutions) and through flowpicd's inference (fp-predict: lib/flowpic + lib/infer)."""
import subprocess
import sys

import numpy as np
import torch

import fit
import nets
from nets import fpmodel


def infer_probs(fp_predict, model_path, windows, min_packets):
    """{window number: probabilities} from fp-predict on one .windows file."""
    p = subprocess.run([fp_predict, "--model", model_path, "--windows", windows,
                        "--min-packets", str(min_packets)], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("fp-predict on %s failed: %s" % (windows, p.stderr.strip()))
    out = {}
    for line in p.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        f = line.split()
        out[int(f[0])] = np.array([float(x) for x in f[2:]], np.float64)
    return out


def compare(ref, got):
    """(share of identical verdicts, largest probability difference)."""
    same = np.mean(ref.argmax(1) == got.argmax(1)) if len(ref) else 0.0
    diff = float(np.abs(ref - got).max()) if len(ref) else 0.0
    return float(same), diff


def run(args, fp_predict, load_pics):
    m = fpmodel.load(args.model)
    parts, pics = load_pics(args, m.resolution, m.direction, m.normalization)
    n = len(pics)
    idx = np.unique(np.linspace(0, n - 1, min(n, args.limit)).astype(np.int64)) if n else []
    if len(idx) == 0:
        print("parity: no windows", file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    net = nets.load_into(nets.build(m), m)
    runner = nets.Runner(net, m.resolution, sparse=False)
    ref = fit.predict(runner, pics, idx, batch=4 if m.resolution > 256 else 64)
    by_part = {p.name: p for p in parts}
    cache = {}
    got = np.zeros_like(ref)
    for k, i in enumerate(idx):
        meta = pics.meta[i]
        if meta["part"] not in cache:
            cache[meta["part"]] = infer_probs(fp_predict, args.model,
                                              by_part[meta["part"]].windows, args.min_packets)
        got[k] = cache[meta["part"]][meta["window"]]
    same, diff = compare(ref.astype(np.float64), got)
    ok = same >= args.min_agree and diff <= args.tolerance
    print("parity %s: %d windows, identical verdicts %.4f%% (need >= %.2f%%), largest "
          "probability difference %.3g (need <= %.0e): %s" % (
              args.model, len(idx), 100 * same, 100 * args.min_agree, diff, args.tolerance,
              "ok" if ok else "FAILED"))
    return 0 if ok else 1
