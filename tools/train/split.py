"""Splits by flow: every window of a flow lands in the same one of train, validation, test."""
import numpy as np


def by_flow(labels, flows, fractions, seed):
    """Indices (train, val, test) of windows whose class is labels[i] and flow flows[i].

    Per class, the class's flows are shuffled (seeded) and taken in turn into test until it
    holds fractions[1] of the class's windows, then into validation until fractions[0], the
    rest into train. A class with a single flow goes to train only.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    flows = np.asarray(flows)
    out = {"train": [], "val": [], "test": []}
    for c in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == c)
        names = sorted(set(flows[idx].tolist()))
        rng.shuffle(names)
        total = len(idx)
        members = {f: idx[flows[idx] == f] for f in names}
        n_test = n_val = 0
        for k, f in enumerate(names):
            w = members[f]
            last = k == len(names) - 1
            if not last and n_test < fractions[1] * total and len(names) > 1:
                out["test"].append(w)
                n_test += len(w)
            elif not last and n_val < fractions[0] * total and len(names) > 2:
                out["val"].append(w)
                n_val += len(w)
            else:
                out["train"].append(w)
    return tuple(np.sort(np.concatenate(out[k])) if out[k] else np.zeros(0, np.int64)
                 for k in ("train", "val", "test"))


def fraction_split(labels, flows, fraction, seed):
    """(train, val) by flow with about fraction of each class's windows in val."""
    tr, va, te = by_flow(labels, flows, (0.0, fraction), seed)
    return np.sort(np.concatenate([tr, va])), te
