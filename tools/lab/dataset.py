# Builds the compact dataset of a lab run: fp-extract windows of labelled flows, grouped by class, gzipped.
import argparse
import collections
import concurrent.futures
import csv
import gzip
import io
import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "extract"))
sys.path.insert(0, HERE)

import fpwindows  # noqa: E402
import label  # noqa: E402

CATEGORIES = ["voip", "video", "chat", "browsing", "file_transfer"]
END_TIME = 0
END_EVICT = 2
MAX_RECORDS = fpwindows.DEFAULT_MAX_RECORDS
LABEL_FIELDS = ["file", "row", "category", "app", "vpn", "session", "proto", "src", "src_port",
                "dst", "dst_port", "start_us", "index", "packets", "bytes", "n_records", "sampled_out", "shift"]


def extract(fp_extract, pcap, out, window, table_size=4096, max_records=MAX_RECORDS):
    """Run fp-extract on one capture; return the parsed WindowsFile.

    A session's capture holds a few dozen flows, so a small flow table gives the same windows
    as the default one, about a hundred times faster (the per-second sweep walks the whole
    table); if a flow was evicted all the same, the capture is extracted again with the
    default table.
    """
    r = subprocess.run([fp_extract, "--pcap", pcap, "--out", out, "--window", str(window),
                        "--table-size", str(table_size), "--max-records", str(max_records),
                        "--quiet"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("fp-extract %s: %s" % (pcap, r.stderr.strip()))
    wf = fpwindows.read(out)
    if table_size < (1 << 20) and (wf.windows["end_reason"] == END_EVICT).any():
        return extract(fp_extract, pcap, out, window, 1 << 20, max_records)
    return wf


def app_flows(manifest):
    """Manifest app flows by session: {session: [row, ...]}."""
    by = collections.defaultdict(list)
    with open(manifest) as f:
        for line in f:
            r = json.loads(line)
            if r["label"] == "app":
                by[r["session"]].append(r)
    return by


def match(flows, proto, src, sport, dst, dport, start_s):
    """The app flow of a session holding this window's 5-tuple (either way) and start time."""
    pname = {6: "tcp", 17: "udp"}.get(proto)
    for fl in flows:
        if fl["proto"] != pname:
            continue
        same = (fl["src"], fl["sport"], fl["dst"], fl["dport"]) == (src, sport, dst, dport)
        rev = (fl["src"], fl["sport"], fl["dst"], fl["dport"]) == (dst, dport, src, sport)
        if (same or rev) and fl["t_first"] - 1e-3 <= start_s <= fl["t_last"] + 1e-3:
            return fl
    return None


def window_bytes(wf, i):
    """Raw bytes of window i (header + records) in the .windows layout."""
    return wf.windows[i:i + 1].tobytes() + wf.window_records(i).tobytes()


def failed_sessions(run_dir, sessions):
    """Sessions that did not run as drawn: an error in their record, or (runs recorded before
    session.py marked client failures as errors) a "client ... exited with" line in the run
    log. Their windows are left out: a VPN session whose application never started still
    shows its tunnel's keepalives, which would carry the application's label."""
    failed = {r["session"] for r in sessions if r.get("error")}
    log = os.path.join(run_dir, "lab.log")
    if os.path.exists(log):
        for line in open(log, errors="replace"):
            m = re.search(r"\[([^\]]+)\] client \S+ exited with", line)
            if m:
                failed.add(m.group(1))
    return failed


def cache_name(window, max_records):
    """A session's fp-extract output: one per window length and record cap."""
    if max_records == MAX_RECORDS:
        return "capture-%ds.windows" % window
    return "capture-%ds-r%d.windows" % (window, max_records)


def fresh(cache, sources):
    """A cached fp-extract output is used only when newer than the capture and than the
    fp-extract binary (a rebuilt extractor may cut or sample windows differently)."""
    return os.path.exists(cache) and all(os.path.getmtime(cache) >= os.path.getmtime(s)
                                         for s in sources)


def collect(run_dir, fp_extract, window, min_packets, groups, failed, max_records=MAX_RECORDS):
    """Add the complete windows of run_dir's app flows to groups; return unmatched count.
    failed ({"sessions": [], "windows": 0}) gets the failed sessions and the windows left out."""
    path = os.path.join(run_dir, "sessions.jsonl")
    if not os.path.exists(path):
        return 0
    sessions = [json.loads(x) for x in open(path) if x.strip()]
    bad = failed_sessions(run_dir, sessions)
    failed["sessions"].extend(sorted(bad))
    # fp-extract runs (cached per session) in the background while the labeller reads captures
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    jobs = {}
    for rec in sessions:
        pcap = os.path.join(run_dir, rec["pcap"])
        if not os.path.exists(pcap):
            continue
        cache = os.path.join(os.path.dirname(pcap), cache_name(window, max_records))
        if not fresh(cache, [pcap, fp_extract]):
            jobs[rec["session"]] = pool.submit(extract, fp_extract, pcap, cache, window,
                                               max_records=max_records)
    label.label_run(run_dir)  # per-session results are cached, so this only reads new sessions
    manifest = os.path.join(run_dir, "manifest.jsonl")
    flows = app_flows(manifest)
    unmatched = 0
    for rec in sessions:
        pcap = os.path.join(run_dir, rec["pcap"])
        if not os.path.exists(pcap):
            continue
        cache = os.path.join(os.path.dirname(pcap), cache_name(window, max_records))
        try:
            wf = jobs[rec["session"]].result() if rec["session"] in jobs else fpwindows.read(cache)
        except (RuntimeError, OSError, fpwindows.FormatError) as e:
            print("skipping %s: %s" % (rec["session"], e), file=sys.stderr)
            continue
        if not flows.get(rec["session"]):
            continue
        w = wf.windows
        for i in range(len(wf)):
            if w[i]["end_reason"] != END_TIME or w[i]["packets"] < min_packets:
                continue
            src, dst = wf.src(i), wf.dst(i)
            fl = match(flows[rec["session"]], int(w[i]["proto"]), src, int(w[i]["src_port"]),
                       dst, int(w[i]["dst_port"]), w[i]["start_us"] / 1e6)
            if fl is None:
                unmatched += 1
                continue
            if rec["session"] in bad:
                failed["windows"] += 1
                continue
            row = {"category": fl["category"], "app": fl["app"], "vpn": int(fl["vpn"]),
                   "session": rec["session"], "proto": int(w[i]["proto"]), "src": src,
                   "src_port": int(w[i]["src_port"]), "dst": dst, "dst_port": int(w[i]["dst_port"]),
                   "start_us": int(w[i]["start_us"]), "index": int(w[i]["index"]),
                   "packets": int(w[i]["packets"]), "bytes": int(w[i]["bytes"]),
                   "n_records": int(w[i]["n_records"]),
                   "sampled_out": int(w[i]["sampled_out"]), "shift": int(w[i]["shift"])}
            groups[(fl["category"], bool(fl["vpn"]))].append((row, window_bytes(wf, i)))
    pool.shutdown()
    return unmatched


def build(run_dirs, out_dir, fp_extract, window=60, cap_plain=None, cap_vpn=None, seed=0,
          min_packets=10, max_records=MAX_RECORDS):
    """Extract, label and write the dataset of one or more runs; return the summary dict."""
    groups = collections.defaultdict(list)  # (category, vpn) -> [(label row, window bytes)]
    unmatched = 0
    failed = {"sessions": [], "windows": 0}
    for run_dir in run_dirs:
        unmatched += collect(run_dir, fp_extract, window, min_packets, groups, failed,
                             max_records)
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(seed)
    summary = {"windows": {"plain": {}, "vpn": {}}, "apps": {}, "windows_by_app": {},
               "window_s": window, "files": {}}
    label_rows = []
    for cat in CATEGORIES:
        for vpn in (False, True):
            items = sorted(groups.get((cat, vpn), []),
                           key=lambda x: (x[0]["session"], x[0]["start_us"]))
            cap = cap_vpn if vpn else cap_plain
            if cap is not None and len(items) > cap:
                # keep the apps balanced: round-robin over apps of a shuffled list
                by_app = collections.defaultdict(list)
                for it in items:
                    by_app[it[0]["app"]].append(it)
                for v in by_app.values():
                    rng.shuffle(v)
                kept = []
                while len(kept) < cap:
                    for app in sorted(by_app):
                        if by_app[app] and len(kept) < cap:
                            kept.append(by_app[app].pop())
                items = sorted(kept, key=lambda x: (x[0]["session"], x[0]["start_us"]))
            name = "%s-%s.windows.gz" % (cat, "vpn" if vpn else "plain")
            buf = io.BytesIO()
            buf.write(fpwindows.MAGIC + struct.pack("<QQ", window * 1000000, len(items)))
            for k, (row, raw) in enumerate(items):
                buf.write(raw)
                row = dict(row, file=name, row=k)
                label_rows.append(row)
            with gzip.GzipFile(os.path.join(out_dir, name), "wb", 9, mtime=0) as g:
                g.write(buf.getvalue())
            summary["windows"]["vpn" if vpn else "plain"][cat] = len(items)
            summary["files"][name] = len(items)
    apps = collections.defaultdict(set)
    by_app = collections.Counter()
    for r in label_rows:
        apps[r["category"]].add(r["app"])
        by_app["%s/%s/%s" % (r["category"], r["app"], "vpn" if r["vpn"] else "plain")] += 1
    summary["apps"] = {c: sorted(apps[c]) for c in CATEGORIES}
    summary["windows_by_app"] = dict(sorted(by_app.items()))
    summary["unmatched_windows"] = unmatched
    summary["failed_sessions"] = failed["sessions"]
    summary["windows_of_failed_sessions"] = failed["windows"]
    with open(os.path.join(out_dir, "labels.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=LABEL_FIELDS)
        wr.writeheader()
        for r in label_rows:
            wr.writerow(r)
    return summary


def load(path):
    """Read one .windows.gz of a dataset into an fpwindows.WindowsFile."""
    with gzip.open(path, "rb") as g:
        data = g.read()
    with tempfile.NamedTemporaryFile(suffix=".windows") as t:
        t.write(data)
        t.flush()
        return fpwindows.read(t.name)


def main():
    ap = argparse.ArgumentParser(description="lab run -> models/datasets/NAME")
    ap.add_argument("--run", required=True, action="append",
                    help="run directory (sessions.jsonl, manifest.jsonl); repeat for parts of "
                         "one run recorded by several processes (--first-slot)")
    ap.add_argument("--out", required=True, help="dataset directory")
    ap.add_argument("--fp-extract", required=True, help="path of the fp-extract binary")
    ap.add_argument("--window", type=float, default=60)
    ap.add_argument("--min-packets", type=int, default=10,
                    help="drop windows with fewer packets (flowpicd's flow.min_packets)")
    ap.add_argument("--max-records", type=int, default=MAX_RECORDS,
                    help="packet records kept per window (flowpicd's "
                         "flow.max_packets_per_window)")
    ap.add_argument("--cap-plain", type=int, default=None, help="most windows per category, plain")
    ap.add_argument("--cap-vpn", type=int, default=None, help="most windows per category, VPN")
    a = ap.parse_args()
    metas = [json.load(open(os.path.join(r, "run.json"))) for r in a.run]
    run_meta = metas[0]
    s = build(a.run, a.out, a.fp_extract, int(a.window), a.cap_plain, a.cap_vpn, run_meta["seed"],
              a.min_packets, a.max_records)
    out = {"windows": s["windows"], "apps": s["apps"], "seed": run_meta["seed"],
           "content_seed": run_meta.get("content_seed"), "window_s": s["window_s"],
           "windows_by_app": s["windows_by_app"], "files": s["files"],
           "unmatched_windows": s["unmatched_windows"],
           "failed_sessions": s["failed_sessions"],
           "windows_of_failed_sessions": s["windows_of_failed_sessions"],
           "max_records": a.max_records,
           "only": "complete windows (end reason time, >= %d packets) of labelled application "
                   "flows" % a.min_packets,
           "runs": [{k: m.get(k) for k in ("seed", "duration_s", "slots", "first_slot", "vpn_share",
                                            "min_session", "max_session", "t_start", "t_end")}
                    for m in metas]}
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print(json.dumps(out["windows"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
