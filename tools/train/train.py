#!/usr/bin/python3
"""flowpic trainer: lab windows -> FlowPics (fp-pics, lib/flowpic) -> PyTorch CNN -> .fpm.

    train.py experiment N --data DIR [--res 32,64,1500]   experiment 1..5 of docs/TRAINING.md
    train.py ship --data DIR --res R --out models/flowpic-R.fpm    a shipped category model
    train.py report                                       models/README.md tables from results
    train.py parity --model M.fpm --data DIR              PyTorch vs lib/infer on the same windows

Run by /usr/bin/python3 (Debian's python3-torch and python3-numpy). See docs/TRAINING.md.
"""
import argparse
import datetime
import hashlib
import json
import os
import shlex
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import fit  # noqa: E402
import labdata  # noqa: E402
import fpwindows  # noqa: E402  (tools/extract, on the path labdata sets)
import merge  # noqa: E402
import metrics  # noqa: E402
import nets  # noqa: E402
import picset  # noqa: E402
import split  # noqa: E402
from nets import fpmodel  # noqa: E402

CATEGORIES = ["voip", "video", "chat", "browsing", "file_transfer"]
EXPERIMENTS = {
    "1": {"title": "category, plain traffic", "task": "category", "pool": "plain",
          "test": "split"},
    "2": {"title": "category, VPN traffic", "task": "category", "pool": "vpn",
          "test": "split"},
    "3": {"title": "category, train plain, test VPN", "task": "category", "pool": "plain",
          "test": "vpn"},
    # 3 with every training window also drawn as if inside tunnels adding 24, 48 and 72
    # bytes of headers per packet (GRE-, IPsec-, WireGuard- and OpenVPN-like overheads) on a
    # 1500-byte path: no VPN window is used for training or to choose the shifts.
    "3t": {"title": "category, train plain + tunnel-size augmentation, test VPN",
           "task": "category", "pool": "plain", "test": "vpn",
           "augment": ["size=24", "size=48", "size=72"]},
    "4": {"title": "category, unseen application (one per category held out)",
          "task": "category", "pool": "plain", "test": "holdout"},
    # Variants of 2 and 3t with the training settings picked on validation accuracy
    # only (mean best-epoch validation accuracy over split seeds 1, 2 and 3, at 32 x 32;
    # docs/TRAINING.md): packet-level augmentations drawn by fp-pics, a longer patience.
    "2a": {"title": "category, VPN traffic; time, loss augmentation, patience 12",
           "task": "category", "pool": "vpn", "test": "split", "patience": 12,
           "augment": ["scale=0.8", "scale=1.25", "tshift=-5", "tshift=5",
                       "drop=0.1+seed=1"]},
    "3ta": {"title": "category, train plain + tunnel-size, time, loss augmentation, test VPN",
            "task": "category", "pool": "plain", "test": "vpn", "patience": 12,
            "augment": ["size=24", "size=48", "size=72", "scale=0.8", "scale=1.25",
                        "tshift=-5", "tshift=5", "drop=0.1+seed=1"],
            "val_augment": ["size=24", "size=48", "size=72"]},
    # 3ta with each plain session's flows also merged into the one tunnel flow a VPN would
    # carry (merge.py), drawn at 3t's tunnel sizes, for training (train flows) and
    # validation (validation flows): still no VPN window used. Picked from how a tunnel
    # works, before any run of it (docs/TRAINING.md).
    "3tm": {"title": "category, train plain + tunnel-size, time, loss augmentation + session "
                     "merge, test VPN",
            "task": "category", "pool": "plain", "test": "vpn", "patience": 12,
            "augment": ["size=24", "size=48", "size=72", "scale=0.8", "scale=1.25",
                        "tshift=-5", "tshift=5", "drop=0.1+seed=1"],
            "val_augment": ["size=24", "size=48", "size=72"],
            "merge": ["size=24", "size=48", "size=72"]},
    # 4 over rounds: round r holds out each category's application number r (mod the
    # category's count, names sorted), so every application is the unseen one at least once;
    # the figures pool the rounds' test windows
    "4r": {"title": "category, unseen application, every application held out in turn",
           "task": "category", "pool": "plain", "test": "rounds"},
    "5": {"title": "application identification, plain traffic", "task": "app",
          "pool": "plain", "test": "split"},
    # flowpicd also classifies a flow's last window when the flow ends (idle, flush) before
    # the window does: traffic in its first part only. The lab keeps complete windows, so the
    # shipped models also train on each window shifted back by 15, 30 and 45 s (records
    # leaving the window left out): partial windows of 45, 30 and 15 s (docs/TRAINING.md)
    "ship": {"title": "category, plain and VPN traffic, partial-window augmentation (shipped model)",
             "task": "category", "pool": "all", "test": "split",
             "augment": ["tshift=-15", "tshift=-30", "tshift=-45"]},
}
VAL_FRACTION = 0.15
TEST_FRACTION = 0.2


def log(msg):
    print("%s %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def tool(args, name, sub):
    if getattr(args, name):
        return getattr(args, name)
    path = os.path.join(args.build, "tools", sub, name.replace("_", "-"))
    if not os.path.exists(path):
        sys.exit("train.py: %s not found (build it: ninja -C %s %s)"
                 % (path, args.build, os.path.relpath(path, args.build)))
    return path


def excluded_sessions(manifests):
    """Session names of the flows listed in manifests (e.g. the sample capture's)."""
    out = set()
    for path in manifests or []:
        with open(path) as f:
            for line in f:
                if line.strip():
                    s = json.loads(line).get("session")
                    if s:
                        out.add(s)
    return out


def load_pics(args, res, direction="both", norm="log1p"):
    fp_extract = tool(args, "fp_extract", "extract")
    fp_pics = tool(args, "fp_pics", "train")
    parts = labdata.load(args.data, os.path.join(args.work, "windows"), fp_extract)
    pics = picset.build(parts, res, os.path.join(args.work, "pics"), fp_pics, direction, norm,
                        args.min_packets)
    skip = excluded_sessions(getattr(args, "exclude", None))
    if skip:
        keep = [i for i, m in enumerate(pics.meta) if m.get("session") not in skip]
        log("excluding %d windows of %d sessions listed in %s" % (
            len(pics) - len(keep), len(skip), ", ".join(args.exclude)))
        pics = pics.subset(keep)
    return parts, pics


def architecture(res, classes):
    if res == 1500:
        return fpmodel.paper_net(classes)
    return nets.with_dropout(fpmodel.lenet5(res, classes))


def holdout_apps(meta, sel):
    """Per category with two or more applications, the one with the fewest windows."""
    counts = {}
    for i in sel:
        m = meta[i]
        counts.setdefault(m["category"], {}).setdefault(m["app"], 0)
        counts[m["category"]][m["app"]] += 1
    out = {}
    for cat, apps in sorted(counts.items()):
        if len(apps) >= 2:
            out[cat] = min(sorted(apps), key=lambda a: apps[a])
    return out


def apps_by_category(meta, sel):
    """Sorted application names per category among pictures sel."""
    out = {}
    for i in sel:
        out.setdefault(meta[i]["category"], set()).add(meta[i]["app"])
    return {c: sorted(a) for c, a in sorted(out.items())}


def pool_of(exp, meta):
    """(VPN mask, indices of the experiment's pool: plain, VPN or all pictures)."""
    vpn = np.array([m["vpn"] for m in meta], bool)
    pool = {"plain": ~vpn, "vpn": vpn, "all": np.ones(len(meta), bool)}[exp["pool"]]
    return vpn, np.flatnonzero(pool)


def rounds_of(pics, exp):
    """Number of training rounds of an experiment: 1, or for "rounds" the most applications
    any category has."""
    if exp["test"] != "rounds":
        return 1
    _, sel = pool_of(exp, pics.meta)
    return max(len(a) for a in apps_by_category(pics.meta, sel).values())


def plan(exp, pics, seed, rnd=0):
    """Classes, label per picture, and the train / val / test picture indices (of round rnd
    for an experiment run in rounds)."""
    meta = pics.meta
    vpn, sel = pool_of(exp, meta)
    if exp["task"] == "category":
        classes = list(CATEGORIES)
    else:
        classes = sorted({meta[i]["app"] for i in sel})
    key = "category" if exp["task"] == "category" else "app"
    y = np.array([classes.index(m[key]) if m[key] in classes else -1 for m in meta])
    flows = np.array([m["flow"] for m in meta])
    info = {}
    if exp["test"] == "split":
        tr, va, te = split.by_flow(y[sel], flows[sel], (VAL_FRACTION, TEST_FRACTION), seed)
        tr, va, te = sel[tr], sel[va], sel[te]
    elif exp["test"] == "vpn":
        tr, va = split.fraction_split(y[sel], flows[sel], VAL_FRACTION, seed)
        tr, va = sel[tr], sel[va]
        te = np.flatnonzero(vpn)
    else:
        if exp["test"] == "rounds":
            held = {c: a[rnd % len(a)] for c, a in apps_by_category(meta, sel).items()
                    if len(a) >= 2}
        else:
            held = holdout_apps(meta, sel)
        info["held_out"] = held
        out = np.array([meta[i]["app"] in held.values() for i in sel], bool)
        te = sel[out]
        rest = sel[~out]
        tr, va = split.fraction_split(y[rest], flows[rest], VAL_FRACTION, seed)
        tr, va = rest[tr], rest[va]
    return classes, y, tr, va, te, info


def augment(args, parts, res, pics, y, tr, specs, what="training"):
    """Add each picture tr again as drawn by fp-pics (lib/flowpic) with each augmentation
    spec (picset.parse_aug, e.g. "size=48", "scale=1.25", "drop=0.1+seed=2"): returns the
    joined pictures, labels and indices (tr and the added pictures). Used on the training
    pictures and, with --val-augment, on the validation ones; never on the test pictures."""
    fp_pics = tool(args, "fp_pics", "train")
    where = {(m["part"], m["window"]): i for i, m in enumerate(pics.meta)}
    want = {(pics.meta[i]["part"], pics.meta[i]["window"]) for i in tr}
    out, ys, trs = pics, [y], [tr]
    for spec in specs:
        aug = picset.build(parts, res, os.path.join(args.work, "pics"), fp_pics,
                           min_packets=args.min_packets, aug=spec)
        aug = aug.subset([j for j, m in enumerate(aug.meta)
                          if (m["part"], m["window"]) in want])
        base = len(out)
        out = out.concat(aug)
        ys.append(np.array([y[where[(m["part"], m["window"])]] for m in aug.meta], y.dtype))
        trs.append(base + np.arange(len(aug)))
        log("augmentation %s: %d %s windows drawn again" % (spec, len(aug), what))
    return out, np.concatenate(ys), np.concatenate(trs)


def merge_augment(args, parts, res, pics, y, idx, specs, classes, key, what="training"):
    """Add, for every plain session with a flow among pictures idx, the session's windows
    merged into tunnel windows (merge.py), drawn by fp-pics with each spec. A session's
    members are its labelled windows whose flow is among idx's or has no picture at all (too
    short to draw alone, but carried by the tunnel all the same), never a flow of another
    side of the split. Returns the joined pictures, labels and indices (idx and the added)."""
    fp_pics = tool(args, "fp_pics", "train")
    pictured = {m["flow"] for m in pics.meta}
    mine = {pics.meta[i]["flow"] for i in idx}
    out, ys, idxs = pics, [y], [idx]
    merged = []
    for part in parts:
        sessions, origin, used = {}, {}, set()
        wf = None
        for w, lab in enumerate(part.labels):
            if lab is None or lab["vpn"] or lab["category"] not in CATEGORIES:
                continue
            if wf is None:
                wf = fpwindows.read(part.windows)
            s = lab["session"]
            start = int(wf.windows[w]["start_us"])
            origin[s] = min(origin.get(s, start), start)
            if lab["flow"] in mine:
                used.add(s)
            if lab["flow"] in mine or lab["flow"] not in pictured:
                sessions.setdefault(s, []).append(w)
        groups = [(s, origin[s], sessions[s]) for s in sorted(used)]
        if not groups:
            continue
        tag = hashlib.sha256(json.dumps([(s, m) for s, _, m in groups]).encode()).hexdigest()
        name = "%s.merge-%s" % (part.name, tag[:12])
        path = os.path.join(args.work, "merged", name + ".windows")
        keys_path = path[:-len(".windows")] + ".keys.json"
        if os.path.exists(path) and os.path.exists(keys_path) and \
                os.path.getmtime(path) >= os.path.getmtime(part.windows):
            with open(keys_path) as f:
                keys = json.load(f)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            keys = merge.merge_file(wf, groups, path)
            with open(keys_path, "w") as f:
                json.dump(keys, f)
        first = {}
        for w, lab in enumerate(part.labels):
            if lab is not None and lab.get("session") in used:
                first.setdefault(lab["session"], lab)
        labels = [dict(category=first[s]["category"], app=first[s]["app"], vpn=False,
                       session=s, flow="merge:%s:%s" % (what, s)) for s in keys]
        merged.append(labdata.Part(path, labels, name))
    for spec in specs:
        aug = picset.build(merged, res, os.path.join(args.work, "pics"), fp_pics,
                           min_packets=args.min_packets, aug=spec)
        base = len(out)
        out = out.concat(aug)
        ys.append(np.array([classes.index(m[key]) for m in aug.meta], y.dtype))
        idxs.append(base + np.arange(len(aug)))
        log("session merge %s: %d %s tunnel windows from %d parts" % (spec, len(aug), what,
                                                                       len(merged)))
    return out, np.concatenate(ys), np.concatenate(idxs)


def augment_specs(text):
    """--augment: comma-separated augmentation specs, or "none"."""
    if text.strip() == "none":
        return []
    specs = [t.strip() for t in text.split(",") if t.strip()]
    for spec in specs:
        try:
            picset.parse_aug(spec)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e))
    return specs


def describe_split(pics, y, classes, tr, va, te):
    out = {}
    for name, idx in (("train", tr), ("val", va), ("test", te)):
        out[name] = {"windows": int(len(idx)),
                     "flows": len({pics.meta[i]["flow"] for i in idx}),
                     "per_class": [int(np.sum(y[idx] == c)) for c in range(len(classes))]}
    return out


def shown_path(p):
    """p relative to the repository when inside it, else absolute."""
    p = os.path.abspath(p)
    return os.path.relpath(p, TOP) if p.startswith(TOP + os.sep) else p


def command_line():
    return "tools/train/train.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def train_round(args, exp_id, res, parts, pics, rnd):
    """Plan, train and test one round of an experiment: a dict of what the result needs."""
    exp = EXPERIMENTS[exp_id]
    classes, y, tr, va, te, info = plan(exp, pics, args.seed, rnd)
    specs = exp.get("augment", [])
    if getattr(args, "augment", None) is not None:
        specs = args.augment
    val_specs = exp.get("val_augment", [])
    if getattr(args, "val_augment", None) is not None:
        val_specs = args.val_augment
    if specs:
        pics, y, tr = augment(args, parts, res, pics, y, tr, specs)
        info["augment"] = specs
    if val_specs:
        pics, y, va = augment(args, parts, res, pics, y, va, val_specs, "validation")
        info["val_augment"] = val_specs
    if exp.get("merge"):
        key = "category" if exp["task"] == "category" else "app"
        pics, y, tr = merge_augment(args, parts, res, pics, y, tr, exp["merge"], classes, key)
        pics, y, va = merge_augment(args, parts, res, pics, y, va, exp["merge"], classes, key,
                                    "validation")
        info["merge"] = exp["merge"]
    sp = describe_split(pics, y, classes, tr, va, te)
    log("%sdata: %d labelled windows; train %d (%d flows), val %d, test %d (%d flows)%s"
        % ("round %d: " % rnd if exp["test"] == "rounds" else "", len(pics), len(tr),
           sp["train"]["flows"], len(va), len(te), sp["test"]["flows"],
           "; held out %s" % info["held_out"] if "held_out" in info else ""))
    if len(tr) == 0 or len(te) == 0:
        sys.exit("train.py: experiment %s has no training or no test windows" % exp_id)
    torch.set_num_threads(args.threads)
    fit.seed_all(args.seed)
    m = architecture(res, classes)
    net = nets.build(m)
    epochs = args.epochs if res != 1500 else min(args.epochs, args.epochs_1500)
    patience = args.patience if args.patience is not None else exp.get("patience", 6)
    hist = fit.train(net, pics, y, tr, va, res, epochs=epochs, patience=patience,
                     batch=args.batch, lr=args.lr, seed=args.seed,
                     max_seconds=args.max_seconds, weight_decay=args.weight_decay,
                     label_smoothing=args.label_smoothing)
    runner = nets.Runner(net, res)
    t = time.time()
    p = fit.predict(runner, pics, te)
    infer_s = time.time() - t
    ev = metrics.evaluate(y[te], p.argmax(1), len(classes))
    log("best validation accuracy %.4f (epoch %d); test accuracy %.4f on %d windows "
        "(%d epochs, %.0f s)" % (hist["best_val_accuracy"], hist["best_epoch"], ev["accuracy"],
                                 len(te), hist["epochs"], hist["seconds"]))
    nets.export(net, m)
    return {"classes": classes, "y_true": y[te], "y_pred": p.argmax(1), "ev": ev,
            "hist": hist, "sp": sp, "info": info, "net": net, "m": m, "infer_s": infer_s,
            "patience": patience}


def run_one(args, exp_id, res, out_model=None):
    exp = EXPERIMENTS[exp_id]
    log("experiment %s (%s) at %d x %d" % (exp_id, exp["title"], res, res))
    parts, pics = load_pics(args, res)
    digest = labdata.digest(parts)
    log("data %s" % digest)
    rounds = [train_round(args, exp_id, res, parts, pics, r)
              for r in range(rounds_of(pics, exp))]
    last = rounds[-1]
    classes, m, sp, info = last["classes"], last["m"], last["sp"], dict(last["info"])
    if len(rounds) > 1:
        # pooled over the rounds: every round's test windows once, with that round's model
        ev = metrics.evaluate(np.concatenate([r["y_true"] for r in rounds]),
                              np.concatenate([r["y_pred"] for r in rounds]), len(classes))
        sp = {k: {"windows": sum(r["sp"][k]["windows"] for r in rounds),
                  "flows": sum(r["sp"][k]["flows"] for r in rounds),
                  "per_class": [sum(v) for v in zip(*(r["sp"][k]["per_class"]
                                                      for r in rounds))]}
              for k in ("train", "val", "test")}
        info.pop("held_out", None)
        info["rounds"] = [{"round": i, "held_out": r["info"]["held_out"],
                           "accuracy": r["ev"]["accuracy"], "split": r["sp"],
                           "epochs": r["hist"]["epochs"],
                           "train_seconds": round(r["hist"]["seconds"], 1)}
                          for i, r in enumerate(rounds)]
        log("pooled over %d rounds: test accuracy %.4f on %d windows" % (
            len(rounds), ev["accuracy"], sp["test"]["windows"]))
    else:
        ev = last["ev"]
    seconds = sum(r["hist"]["seconds"] for r in rounds)
    m.name = "flowpic-%d" % res if exp_id == "ship" else "exp%s-%d" % (exp_id, res)
    m.description = ("%s; %s; split by flow (seed %d): train %d windows / %d flows, val %d, "
                     "test %d windows / %d flows%s" % (
                         "paper network" if res == 1500 else "mini LeNet-5", exp["title"],
                         args.seed, last["sp"]["train"]["windows"],
                         last["sp"]["train"]["flows"], last["sp"]["val"]["windows"],
                         last["sp"]["test"]["windows"], last["sp"]["test"]["flows"],
                         "; the last of %d rounds" % len(rounds) if len(rounds) > 1 else ""))
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    m.training = {"data_digest": digest, "accuracy": round(ev["accuracy"], 4),
                  "date": date, "command": command_line()}
    path = out_model or os.path.join(args.work, "models", "%s.fpm" % m.name)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    m.save(path)
    result = {"experiment": exp_id, "title": exp["title"], "resolution": res,
              "network": "paper" if res == 1500 else "lenet5", "classes": classes,
              "data": [shown_path(d) for d in args.data],
              "data_digest": digest, "split": sp, "seed": args.seed,
              "accuracy": ev["accuracy"], "per_class": ev["per_class"],
              "confusion": ev["confusion"], "train_seconds": round(seconds, 1),
              "epochs": sum(r["hist"]["epochs"] for r in rounds),
              "best_epoch": last["hist"]["best_epoch"],
              "best_val_accuracy": last["hist"]["best_val_accuracy"],
              "optimiser": {"lr": args.lr, "batch": args.batch, "patience": last["patience"],
                            "weight_decay": args.weight_decay,
                            "label_smoothing": args.label_smoothing},
              "test_infer_ms_per_window": round(1000 * sum(r["infer_s"] for r in rounds)
                                                / max(sp["test"]["windows"], 1), 3),
              "model_bytes": os.path.getsize(path), "params": m.param_count(),
              "model": shown_path(path), "date": date,
              "command": command_line(), "history": last["hist"]["history"]}
    result.update(info)
    os.makedirs(args.results, exist_ok=True)
    stem = os.path.join(args.results, "%s-%d" % (
        "ship" if exp_id == "ship" else "exp" + exp_id, res))
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=1)
    metrics.confusion_png(ev["confusion"], classes, "exp %s, %dx%d: accuracy %.3f" % (
        exp_id, res, res, ev["accuracy"]), stem + ".png")
    log("wrote %s, %s.json, %s.png" % (path, stem, stem))
    return result


def cmd_experiment(args):
    for res in args.res:
        run_one(args, args.exp, res)
    return 0


def cmd_ship(args):
    import report
    r = run_one(args, "ship", args.res[0], args.out)
    report.write_card(r, os.path.splitext(args.out)[0] + ".md",
                      os.path.join(args.results, "ship-%d.png" % args.res[0]))
    return 0


def cmd_report(args):
    import report
    report.update_readme(args.results, os.path.join(TOP, "models", "README.md"))
    return 0


def cmd_parity(args):
    import parity
    return parity.run(args, tool(args, "fp_predict", "train"), load_pics)


def main(argv):
    ap = argparse.ArgumentParser(prog="train.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--data", action="append", required=True,
                       help="lab run directory or directory of labelled .windows (repeatable)")
        p.add_argument("--build", default=os.path.join(TOP, "build"),
                       help="meson build directory holding fp-extract, fp-pics, fp-predict")
        p.add_argument("--work", default=os.path.join(TOP, "build", "train-work"),
                       help="cache of windows, pictures and experiment models")
        p.add_argument("--results", default=os.path.join(TOP, "models", "experiments"))
        p.add_argument("--fp-extract", dest="fp_extract")
        p.add_argument("--fp-pics", dest="fp_pics")
        p.add_argument("--fp-predict", dest="fp_predict")
        p.add_argument("--min-packets", type=int, default=10,
                       help="windows with fewer packets are not classified (flow.min_packets)")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
        p.add_argument("--epochs", type=int, default=40)
        p.add_argument("--epochs-1500", dest="epochs_1500", type=int, default=12)
        p.add_argument("--patience", type=int, default=None,
                       help="early stopping patience in epochs (default: the experiment's, "
                            "else 6)")
        p.add_argument("--batch", type=int, default=64)
        p.add_argument("--lr", type=float, default=1e-3)
        p.add_argument("--weight-decay", dest="weight_decay", type=float, default=0.0,
                       help="Adam's L2 weight decay")
        p.add_argument("--label-smoothing", dest="label_smoothing", type=float, default=0.0,
                       help="label smoothing of the cross-entropy loss")
        p.add_argument("--augment", type=augment_specs, default=None,
                       help="training augmentations replacing the experiment's own: "
                            "comma-separated fp-pics specs (e.g. scale=0.8,drop=0.1+seed=2, "
                            "docs/TRAINING.md), or none")
        p.add_argument("--val-augment", dest="val_augment", type=augment_specs, default=None,
                       help="validation windows also drawn with these specs (e.g. tunnel "
                            "sizes for experiment 3t, whose validation is plain), or none")
        p.add_argument("--max-seconds", dest="max_seconds", type=float, default=None,
                       help="stop training after this many seconds (best epoch kept)")
        p.add_argument("--exclude", action="append",
                       help="manifest (.jsonl) whose sessions are left out, e.g. the sample's")

    def resolutions(text):
        return [int(x) for x in text.split(",")]

    p = sub.add_parser("experiment", help="run experiment 1..5")
    p.add_argument("exp", choices=[e for e in EXPERIMENTS if e != "ship"])
    p.add_argument("--res", type=resolutions, default=[32, 64, 1500])
    common(p)
    p.set_defaults(func=cmd_experiment)
    p = sub.add_parser("ship", help="train a shipped category model and its card")
    p.add_argument("--res", type=resolutions, required=True)
    p.add_argument("--out", required=True)
    common(p)
    p.set_defaults(func=cmd_ship)
    p = sub.add_parser("report", help="rewrite the experiment tables of models/README.md")
    p.add_argument("--results", default=os.path.join(TOP, "models", "experiments"))
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("parity", help="PyTorch and lib/infer on the same windows")
    p.add_argument("--model", required=True)
    p.add_argument("--limit", type=int, default=2000, help="at most this many windows")
    p.add_argument("--min-agree", dest="min_agree", type=float, default=0.999)
    p.add_argument("--tolerance", type=float, default=1e-4)
    common(p)
    p.set_defaults(func=cmd_parity)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
