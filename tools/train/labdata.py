"""The one adapter from the traffic lab's output to training input (labelled .windows files).

Everything else in tools/train reads lab data only through load(). It accepts:

  * a lab run directory (tools/lab/run.sh --out DIR): DIR/sessions.jsonl lists the finished
    sessions and their captures; flows are labelled by DIR/manifest.jsonl when it lists the
    session, else by the lab's rule (tools/lab/label.py) on the session record. Each capture
    goes through fp-extract (cached in the work directory); a window takes the label of the
    manifest flow with its 5-tuple (either orientation) in the same session;
  * a lab dataset (models/datasets/<name>/, tools/lab/dataset.py): <class>.windows.gz files
    and labels.csv (file, row, category, app, vpn, session, 5-tuple, ...), one row per
    window; the files are unpacked into the work directory;
  * a directory of labelled windows: *.windows files each with a sibling
    <name>.labels.jsonl, one JSON line per window of the file in order:
    {"category": ..., "app": ..., "vpn": false, "flow": "..."} or null for an unlabelled
    (noise) window.

A Part is one .windows file with one label per window (None for noise, never trained on).
Flow ids are unique across parts (session name + 5-tuple), so splits by flow are safe.
"""
import csv
import glob
import gzip
import hashlib
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tools", "extract"))
import fpwindows  # noqa: E402

PROTO_NAMES = {6: "tcp", 17: "udp"}


class Part:
    """One .windows file and the label of each of its windows (dict or None)."""

    def __init__(self, windows, labels, name):
        self.windows = windows
        self.labels = labels
        self.name = name


class DataError(Exception):
    pass


def _extract(pcap, out, fp_extract):
    """fp-extract pcap -> out, skipped when out is newer than the capture. A session's capture
    holds few flows, so a small flow table (much cheaper to sweep) gives the same windows;
    should a flow be evicted all the same, the capture is extracted with the default table."""
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(pcap):
        return out
    for table in (["--table-size", "4096"], []):
        p = subprocess.run([fp_extract, "--pcap", pcap, "--out", out] + table,
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise DataError("fp-extract %s failed: %s" % (pcap, p.stderr.strip()))
        m = re.search(r"evicted (\d+)", p.stderr)
        if m is None or int(m.group(1)) == 0:
            break
    return out


def _flow_rows(wf, rec, manifest):
    """The session's manifest rows. A session the run's manifest does not list yet (the run
    is still recording) is labelled by the lab's rule applied to the windows' 5-tuples: a
    flow between the session's two link addresses to one of its server ports is the
    application (auxiliary server ports, e.g. RTCP, excepted: tools/lab/label.py)."""
    if manifest is not None and rec["session"] in manifest:
        return manifest[rec["session"]]
    sys.path.insert(0, os.path.join(TOP, "tools", "lab"))
    import label  # noqa: E402  (the lab's own aux-port rule)
    aux = label.aux_ports(rec)
    ports = {(proto, port) for proto, port in rec["server_ports"]} - aux
    ends = {rec["client_ip"], rec["server_ip"]}
    server = rec["server_ip"]
    rows = []
    for i in range(len(wf)):
        w = wf.windows[i]
        proto = PROTO_NAMES.get(int(w["proto"]))
        src, dst = wf.src(i), wf.dst(i)
        sp, dp = int(w["src_port"]), int(w["dst_port"])
        if {src, dst} != ends or proto is None:
            continue
        if ((proto, dp) in ports and dst == server) or ((proto, sp) in ports and src == server):
            rows.append({"proto": proto, "src": src, "sport": sp, "dst": dst, "dport": dp,
                         "label": "app", "category": rec["category"], "app": rec["app"],
                         "vpn": rec["vpn"]})
    return rows


def _label_windows(wf, rows, session):
    """Label of each window of wf from the session's manifest rows (5-tuple match)."""
    by_key = {}
    for r in rows:
        if r.get("label") != "app" or r.get("proto") not in ("tcp", "udp"):
            continue
        key = (r["proto"], r["src"], r["sport"], r["dst"], r["dport"])
        by_key[key] = r
    labels = []
    for i in range(len(wf)):
        w = wf.windows[i]
        proto = PROTO_NAMES.get(int(w["proto"]))
        src, dst = wf.src(i), wf.dst(i)
        sp, dp = int(w["src_port"]), int(w["dst_port"])
        r = by_key.get((proto, src, sp, dst, dp)) or by_key.get((proto, dst, dp, src, sp))
        if r is None:
            labels.append(None)
            continue
        flow = "%s/%s:%s:%d:%s:%d" % (session, r["proto"], r["src"], r["sport"], r["dst"],
                                      r["dport"])
        labels.append({"category": r["category"], "app": r["app"], "vpn": bool(r["vpn"]),
                       "session": session, "flow": flow})
    return labels


def _load_run(run_dir, work, fp_extract):
    recs = []
    with open(os.path.join(run_dir, "sessions.jsonl")) as f:
        for line in f:
            if line.strip():
                recs.append(json.loads(line))
    manifest = None
    mpath = os.path.join(run_dir, "manifest.jsonl")
    if os.path.exists(mpath):
        manifest = {}
        with open(mpath) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    manifest.setdefault(r["session"], []).append(r)
    os.makedirs(work, exist_ok=True)
    parts = []
    for rec in sorted(recs, key=lambda r: r["session"]):
        if rec.get("error"):
            continue
        pcap = os.path.join(run_dir, rec["pcap"])
        if not os.path.exists(pcap):
            continue
        out = _extract(pcap, os.path.join(work, rec["session"] + ".windows"), fp_extract)
        listed = manifest is not None and rec["session"] in manifest
        cache = os.path.join(work, rec["session"] + (".labels-m.json" if listed
                                                     else ".labels.json"))
        if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(out) and (
                not listed or os.path.getmtime(cache) >= os.path.getmtime(mpath)):
            with open(cache) as f:
                labels = json.load(f)
        else:
            wf = fpwindows.read(out)
            labels = _label_windows(wf, _flow_rows(wf, rec, manifest), rec["session"])
            with open(cache + ".tmp%d" % os.getpid(), "w") as f:
                json.dump(labels, f)
            os.replace(cache + ".tmp%d" % os.getpid(), cache)
        parts.append(Part(out, labels, rec["session"]))
    return parts


def _load_dataset(d, work):
    rows = {}
    with open(os.path.join(d, "labels.csv"), newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["file"], {})[int(r["row"])] = r
    os.makedirs(work, exist_ok=True)
    parts = []
    for gz in sorted(glob.glob(os.path.join(d, "*.windows.gz"))):
        base = os.path.basename(gz)[:-len(".windows.gz")]
        out = os.path.join(work, base + ".windows")
        if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(gz):
            with gzip.open(gz, "rb") as g, open(out + ".tmp%d" % os.getpid(), "wb") as f:
                for block in iter(lambda: g.read(1 << 20), b""):
                    f.write(block)
            os.replace(out + ".tmp%d" % os.getpid(), out)
        n = len(fpwindows.read(out))
        mine = rows.get(os.path.basename(gz), {})
        labels = []
        for i in range(n):
            r = mine.get(i)
            if r is None:
                raise DataError("%s: window %d has no row in labels.csv" % (gz, i))
            vpn = r["vpn"].strip().lower() in ("1", "true", "yes")
            labels.append({"category": r["category"], "app": r["app"], "vpn": vpn,
                           "session": r["session"],
                           "flow": "%s/%s:%s:%s:%s:%s" % (r["session"], r["proto"], r["src"],
                                                          r["src_port"], r["dst"],
                                                          r["dst_port"])})
        parts.append(Part(out, labels, base))
    return parts


def _load_labelled(d):
    parts = []
    for w in sorted(glob.glob(os.path.join(d, "*.windows"))):
        lp = w[:-len(".windows")] + ".labels.jsonl"
        if not os.path.exists(lp):
            raise DataError("%s: no labels file %s" % (w, lp))
        with open(lp) as f:
            labels = [json.loads(line) for line in f if line.strip()]
        n = len(fpwindows.read(w))
        if len(labels) != n:
            raise DataError("%s: %d labels for %d windows" % (lp, len(labels), n))
        parts.append(Part(w, labels, os.path.basename(w)[:-len(".windows")]))
    return parts


def source_tag(src):
    """Name of a source in the work directory: its base name and a hash of its absolute path,
    so two sources never share cached windows or pictures (two datasets both have a
    video-plain part) and a source keeps its cache whatever its place on the command line."""
    path = os.path.abspath(src)
    return "%s-%s" % (os.path.basename(os.path.normpath(path)),
                      hashlib.sha256(path.encode()).hexdigest()[:8])


def load(sources, work, fp_extract):
    """Parts of every source (run directories or labelled-window directories); a part's
    name starts with its source's tag, so names are unique across sources."""
    parts = []
    for src in sources:
        tag = source_tag(src)
        if os.path.exists(os.path.join(src, "sessions.jsonl")):
            got = _load_run(src, os.path.join(work, "run-" + tag), fp_extract)
        elif os.path.exists(os.path.join(src, "labels.csv")):
            got = _load_dataset(src, os.path.join(work, "dataset-" + tag))
        elif glob.glob(os.path.join(src, "*.windows")):
            got = _load_labelled(src)
        else:
            raise DataError("%s: neither a lab run (sessions.jsonl) nor a directory of "
                            "labelled .windows files" % src)
        for part in got:
            part.name = "%s.%s" % (tag, part.name)
        parts += got
    if not parts:
        raise DataError("no data in %s" % ", ".join(sources))
    return parts


def digest(parts):
    """sha256 over every part's windows bytes and labels: 'sha256:' + 16 hex digits."""
    h = hashlib.sha256()
    for p in parts:
        with open(p.windows, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(json.dumps(p.labels, sort_keys=True).encode())
    return "sha256:" + h.hexdigest()[:16]
