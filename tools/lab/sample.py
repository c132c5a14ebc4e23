# Cuts a small sample capture from a lab run: the first seconds of chosen sessions, time-aligned and merged.
import argparse
import heapq
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import label  # noqa: E402

CATEGORIES = ["voip", "video", "chat", "browsing", "file_transfer"]


def session_rate(rec):
    """Capture bytes per second of a session (what it would cost in the sample)."""
    span = (rec["t_end"] or 0) - (rec["t_start"] or 0)
    return os.path.getsize(os.path.join(rec["run_dir"], rec["pcap"])) / max(1.0, span)


def choose(recs, seconds, per_class):
    """Per (category, vpn) the per_class cheapest error-free sessions long enough for the cut."""
    picked = []
    for cat in CATEGORIES:
        for vpn in (False, True):
            c = [r for r in recs if r["category"] == cat and r["vpn"] == vpn and not r["error"]
                 and r["t_end"] and r["t_end"] - r["t_start"] >= seconds
                 and os.path.exists(os.path.join(r["run_dir"], r["pcap"]))]
            apps = sorted({r["app"] for r in c})
            for k in range(per_class):
                # alternate applications, cheapest session of each
                pool = [r for r in c if r["app"] == apps[k % len(apps)]] if apps else []
                pool = [r for r in pool if r not in picked]
                if pool:
                    picked.append(min(pool, key=session_rate))
    return picked


def cut(rec, seconds):
    """(ts, frame, orig_len) of a session's first seconds of capture."""
    pkts = []
    t0 = None
    for ts, frame, orig in label.read_pcap(os.path.join(rec["run_dir"], rec["pcap"])):
        if t0 is None:
            t0 = ts
        if ts - t0 > seconds:
            break
        pkts.append((ts - t0, frame, orig))
    return pkts


def write_pcap(path, pkts, base):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 128, 1))
        for rel, frame, orig in pkts:
            ts = base + rel
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            f.write(struct.pack("<IIII", sec, usec, len(frame), orig))
            f.write(frame)


def main():
    ap = argparse.ArgumentParser(description="cut a sample capture from a lab run")
    ap.add_argument("--run", required=True, action="append", help="run directory (repeatable)")
    ap.add_argument("--out", required=True, help="output .pcap; NAME.manifest.jsonl goes beside it")
    ap.add_argument("--seconds", type=float, default=70.0)
    ap.add_argument("--per-class", type=int, default=1, help="sessions per category and plain/VPN")
    ap.add_argument("--max-mb", type=float, default=20.0)
    a = ap.parse_args()
    recs = []
    for run in a.run:
        path = os.path.join(run, "sessions.jsonl")
        if os.path.exists(path):
            recs += [dict(json.loads(x), run_dir=run) for x in open(path) if x.strip()]
    picked = choose(recs, a.seconds, a.per_class)
    if not picked:
        print("no finished session long enough", file=sys.stderr)
        return 1
    base = float(int(min(r["t_start"] for r in picked)))
    streams = []
    rows = []
    tmp = a.out + ".part.pcap"
    for rec in picked:
        pkts = cut(rec, a.seconds)
        streams.append(pkts)
        # label the cut exactly as the run was labelled, with times moved to the sample's clock
        write_pcap(tmp, pkts, base)
        r = dict(rec, pcap=os.path.basename(tmp))
        del r["run_dir"]
        for row in label.label_session(r, os.path.dirname(os.path.abspath(tmp))):
            row["pcap"] = os.path.basename(a.out)
            rows.append(row)
    os.remove(tmp)
    merged = list(heapq.merge(*streams, key=lambda p: p[0]))
    write_pcap(a.out, merged, base)
    size_mb = os.path.getsize(a.out) / 1e6
    manifest = os.path.splitext(a.out)[0] + ".manifest.jsonl"
    with open(manifest, "w") as f:
        for row in sorted(rows, key=lambda r: (r["session"], r["t_first"])):
            f.write(json.dumps(row, sort_keys=True) + "\n")
    print("%s: %d packets, %.1f MB, %d sessions; manifest %s"
          % (a.out, len(merged), size_mb, len(picked), manifest))
    for rec in picked:
        print("  %s" % rec["session"])
    if size_mb > a.max_mb:
        print("sample is larger than %.0f MB" % a.max_mb, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
