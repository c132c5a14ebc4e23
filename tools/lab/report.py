# Draws the dataset report: counts per class and application, size and inter-arrival histograms, example FlowPics.
import argparse
import collections
import csv
import json
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataset  # noqa: E402

CATEGORIES = dataset.CATEGORIES
MODES = ["plain", "vpn"]


def load_all(ds):
    """{(category, mode): (WindowsFile, [label rows])} of every non-empty class file."""
    rows = collections.defaultdict(list)
    with open(os.path.join(ds, "labels.csv")) as f:
        for r in csv.DictReader(f):
            rows[r["file"]].append(r)
    data = {}
    for cat in CATEGORIES:
        for mode in MODES:
            name = "%s-%s.windows.gz" % (cat, mode)
            path = os.path.join(ds, name)
            if os.path.exists(path) and rows.get(name):
                data[(cat, mode)] = (dataset.load(path), rows[name])
    return data


def window_arrays(wf, i):
    rec = wf.window_records(i)
    return rec["t_us"].astype(np.float64) / 1e6, rec["size"].astype(np.float64)


def class_stats(wf):
    sizes = wf.records["size"].astype(np.float64)
    iat = []
    for i in range(len(wf)):
        t, _ = window_arrays(wf, i)
        if len(t) > 1:
            iat.append(np.diff(t))
    iat = np.concatenate(iat) if iat else np.zeros(0)
    return sizes, iat


def plot_hists(data, out):
    fig_s, ax_s = plt.subplots(1, 5, figsize=(22, 4), sharey=False)
    fig_i, ax_i = plt.subplots(1, 5, figsize=(22, 4), sharey=False)
    stats = {}
    for k, cat in enumerate(CATEGORIES):
        for mode, color in (("plain", "tab:blue"), ("vpn", "tab:orange")):
            if (cat, mode) not in data:
                continue
            wf, _ = data[(cat, mode)]
            sizes, iat = class_stats(wf)
            ax_s[k].hist(sizes, bins=np.arange(0, 1560, 20), density=True, alpha=0.6, color=color,
                         label=mode)
            pos = iat[iat > 0]
            if len(pos):
                ax_i[k].hist(np.log10(pos), bins=np.linspace(-6, 2, 81), density=True, alpha=0.6,
                             color=color, label=mode)
            stats["%s/%s" % (cat, mode)] = {
                "windows": len(wf),
                "packets_per_window_median": float(np.median(wf.windows["packets"])),
                "kbit_per_s_median": float(np.median(wf.windows["bytes"]) * 8 / 60 / 1000),
                "size_median": float(np.median(sizes)) if len(sizes) else 0.0,
                "share_over_1200B": float(np.mean(sizes > 1200)) if len(sizes) else 0.0,
                "iat_median_ms": float(np.median(iat) * 1000) if len(iat) else 0.0,
            }
        ax_s[k].set_title(cat)
        ax_s[k].set_xlabel("IP packet size (bytes)")
        if ax_s[k].get_legend_handles_labels()[0]:
            ax_s[k].legend()
        ax_i[k].set_title(cat)
        ax_i[k].set_xlabel("log10 inter-arrival (s), within a window")
        if ax_i[k].get_legend_handles_labels()[0]:
            ax_i[k].legend()
    ax_s[0].set_ylabel("density")
    ax_i[0].set_ylabel("density")
    fig_s.tight_layout()
    fig_s.savefig(os.path.join(out, "packet_sizes.png"), dpi=80)
    fig_i.tight_layout()
    fig_i.savefig(os.path.join(out, "inter_arrival.png"), dpi=80)
    plt.close("all")
    return stats


def plot_apps(data, out):
    apps = collections.defaultdict(list)
    for (cat, mode), (wf, rows) in data.items():
        for i, r in enumerate(rows):
            apps[(cat, r["app"])].append((mode, wf, i))
    keys = sorted(apps, key=lambda k: (CATEGORIES.index(k[0]), k[1]))
    if not keys:
        return
    cols = 4
    nrows = (len(keys) + cols - 1) // cols
    fig, axs = plt.subplots(nrows, cols, figsize=(5 * cols, 3.2 * nrows), squeeze=False)
    for ax in axs.flat:
        ax.axis("off")
    for n, key in enumerate(keys):
        ax = axs.flat[n]
        ax.axis("on")
        for mode, color in (("plain", "tab:blue"), ("vpn", "tab:orange")):
            sel = [(wf, i) for m, wf, i in apps[key] if m == mode]
            if not sel:
                continue
            sizes = np.concatenate([wf.window_records(i)["size"] for wf, i in sel]).astype(float)
            ax.hist(sizes, bins=np.arange(0, 1560, 30), density=True, alpha=0.6, color=color,
                    label="%s (%d windows)" % (mode, len(sel)))
        ax.set_title("%s / %s" % key)
        ax.set_xlabel("packet size (bytes)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "packet_sizes_by_app.png"), dpi=70)
    plt.close(fig)


def flowpic(t, s, bins=64):
    h, _, _ = np.histogram2d(t, np.minimum(s, 1499), bins=bins, range=[[0, 60], [0, 1500]])
    return h.T


def plot_flowpics(data, out, per_class=3, seed=1):
    rng = np.random.default_rng(seed)
    fig, axs = plt.subplots(len(CATEGORIES), 2 * per_class, figsize=(3 * 2 * per_class, 3.2 * 5),
                            squeeze=False)
    for k, cat in enumerate(CATEGORIES):
        for m, mode in enumerate(MODES):
            for j in range(per_class):
                ax = axs[k][m * per_class + j]
                ax.set_xticks([])
                ax.set_yticks([])
                if (cat, mode) not in data:
                    ax.set_title("%s %s: none" % (cat, mode), fontsize=8)
                    continue
                wf, rows = data[(cat, mode)]
                i = int(rng.integers(len(wf)))
                t, s = window_arrays(wf, i)
                ax.imshow(np.log1p(flowpic(t, s)), origin="lower", aspect="auto", cmap="magma",
                          extent=[0, 60, 0, 1500])
                ax.set_title("%s %s\n%s, %d pkts" % (cat, mode, rows[i]["app"], len(t)), fontsize=8)
    fig.suptitle("Example FlowPics (x: time in window 0-60 s, y: packet size 0-1500 B, log count)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "flowpics.png"), dpi=70)
    plt.close(fig)


def write_markdown(ds, out, stats):
    summary = json.load(open(os.path.join(ds, "summary.json")))
    lines = ["# Dataset report: %s" % os.path.basename(os.path.abspath(ds)), "",
             "Seed %s. Complete 60-s windows of labelled application flows." % summary.get("seed"),
             "", "| category | plain | vpn | applications |", "|---|---:|---:|---|"]
    for cat in CATEGORIES:
        lines.append("| %s | %d | %d | %s |" % (cat, summary["windows"]["plain"].get(cat, 0),
                                                summary["windows"]["vpn"].get(cat, 0),
                                                ", ".join(summary["apps"].get(cat, []))))
    lines += ["", "## Windows by application", "", "| category/app/mode | windows |", "|---|---:|"]
    for k, v in sorted(summary.get("windows_by_app", {}).items()):
        lines.append("| %s | %d |" % (k, v))
    lines += ["", "## Per class", "",
              "| class | windows | median pkts/window | median kbit/s | median size | >1200 B | "
              "median IAT ms |", "|---|---:|---:|---:|---:|---:|---:|"]
    for k, v in stats.items():
        lines.append("| %s | %d | %.0f | %.1f | %.0f | %.2f | %.2f |" % (
            k, v["windows"], v["packets_per_window_median"], v["kbit_per_s_median"],
            v["size_median"], v["share_over_1200B"], v["iat_median_ms"]))
    lines += ["", "![packet sizes](packet_sizes.png)", "", "![inter-arrival](inter_arrival.png)", "",
              "![packet sizes by application](packet_sizes_by_app.png)", "",
              "![example FlowPics](flowpics.png)", ""]
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(out, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description="report of a lab dataset")
    ap.add_argument("dataset", help="models/datasets/NAME")
    ap.add_argument("--out", default=None, help="default DATASET/report")
    a = ap.parse_args()
    out = a.out or os.path.join(a.dataset, "report")
    os.makedirs(out, exist_ok=True)
    data = load_all(a.dataset)
    if not data:
        print("no windows in %s" % a.dataset, file=sys.stderr)
        return 1
    stats = plot_hists(data, out)
    plot_apps(data, out)
    plot_flowpics(data, out)
    write_markdown(a.dataset, out, stats)
    print("report in %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
