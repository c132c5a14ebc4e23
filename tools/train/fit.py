"""Training loop: Adam, cross-entropy, dropout in the network, early stopping on validation."""
import copy
import sys
import time

import numpy as np
import torch
from torch import nn

import nets


def seed_all(seed):
    np.random.seed(seed)
    torch.manual_seed(seed)


def predict(runner, pics, idx, batch=64):
    """Probabilities (numpy, n x C) of pictures idx, in evaluation mode."""
    runner.net.eval()
    out = []
    with torch.no_grad():
        for a in range(0, len(idx), batch):
            out.append(torch.softmax(runner(pics, idx[a:a + batch]), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, runner.net[-1].out_features))


def train(net, pics, y, tr, va, res, epochs=40, patience=6, batch=64, lr=1e-3, seed=1,
          log=sys.stdout, max_seconds=None, weight_decay=0.0, label_smoothing=0.0):
    """Train net on pictures tr (labels y), stop early when validation accuracy has not
    improved for patience epochs (or after max_seconds), keep the best epoch's weights.
    Returns a dict: epochs run, best epoch, per-epoch history, seconds."""
    seed_all(seed)
    rng = np.random.default_rng(seed)
    runner = nets.Runner(net, res)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    yt = torch.from_numpy(np.asarray(y, np.int64))
    best, best_state, best_epoch, stale = -1.0, None, 0, 0
    hist = []
    t0 = time.time()
    for ep in range(1, epochs + 1):
        net.train()
        order = rng.permutation(tr)
        total, n = 0.0, 0
        for a in range(0, len(order), batch):
            idx = order[a:a + batch]
            opt.zero_grad()
            loss = loss_fn(runner(pics, idx), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
            n += len(idx)
        check = va if len(va) else tr
        pv = predict(runner, pics, check)
        acc = float(np.mean(pv.argmax(1) == np.asarray(y)[check])) if len(check) else 0.0
        hist.append({"epoch": ep, "loss": total / max(n, 1), "val_accuracy": acc,
                     "seconds": time.time() - t0})
        print("epoch %3d  loss %.4f  val acc %.4f  %.0f s" % (ep, total / max(n, 1), acc,
                                                           time.time() - t0), file=log,
              flush=True)
        if acc > best:
            best, best_state, best_epoch, stale = acc, copy.deepcopy(net.state_dict()), ep, 0
        else:
            stale += 1
        if stale >= patience:
            print("early stop: no better validation accuracy for %d epochs" % patience,
                  file=log, flush=True)
            break
        if max_seconds is not None and time.time() - t0 > max_seconds:
            print("stop: time budget of %.0f s spent" % max_seconds, file=log, flush=True)
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    return {"epochs": len(hist), "best_epoch": best_epoch, "best_val_accuracy": best,
            "history": hist, "seconds": time.time() - t0}
