"""Integration test: flowpicd replays the shipped sample capture with the shipped model, and
at least 90% of the windows it classifies are the category the sample's labels give.

The windows judged are those of the sample's application flows (manifest label "app", what the
models are trained on); verdicts of auxiliary flows (label "aux", e.g. RTCP beside RTP) and of
unlabelled flows are counted and printed but not judged.

Skips (exit 77) only while models/samples/sample.pcap or models/flowpic-32.fpm is absent.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fptest  # noqa: E402

SAMPLES = os.path.join(fptest.TOP, "models", "samples")
SAMPLE = os.path.join(SAMPLES, "sample.pcap")
MODEL = os.path.join(fptest.TOP, "models", "flowpic-32.fpm")
MANIFESTS = ("sample.manifest.jsonl", "sample.jsonl", "manifest.jsonl")
GOAL = 0.90
PROTOS = {"tcp": 6, "udp": 17, 6: 6, 17: 17}


def load_labels():
    """{(proto, addr, port, addr, port): category} of the sample's labelled flows, both ways."""
    path = next((os.path.join(SAMPLES, m) for m in MANIFESTS
                 if os.path.exists(os.path.join(SAMPLES, m))), None)
    if path is None:
        raise fptest.Failure("no labels for the sample: none of %s in %s"
                             % (", ".join(MANIFESTS), SAMPLES))
    labels = {}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if r.get("label", "app") not in ("app", "aux") or not r.get("category"):
                continue
            proto = PROTOS.get(r.get("proto"))
            if proto is None:
                continue
            a = (r["src"], int(r["sport"]))
            b = (r["dst"], int(r["dport"]))
            labels[(proto,) + a + b] = (r["category"], r.get("label", "app"))
            labels[(proto,) + b + a] = (r["category"], r.get("label", "app"))
    if not labels:
        raise fptest.Failure("%s: no labelled flows" % path)
    return path, labels


def main():
    if not os.path.exists(SAMPLE) or not os.path.exists(MODEL):
        print("skip: %s or %s absent" % (SAMPLE, MODEL))
        return 77
    path, labels = load_labels()
    with tempfile.TemporaryDirectory(prefix="fpacc-") as tmp:
        vl = os.path.join(tmp, "verdicts.jsonl")
        sj = os.path.join(tmp, "stats.json")
        cmd = [fptest.FLOWPICD, "--pcap", SAMPLE, "--model", MODEL, "--verdicts", vl,
               "--stats-json", sj]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            print("FAIL %s: exit %d\n%s" % (" ".join(cmd), p.returncode, p.stderr[-3000:]))
            return 1
        with open(vl) as f:
            verdicts = [json.loads(line) for line in f if line.strip()]
    right = wrong = unknown = unlabelled = aux = aux_right = 0
    per = {}
    for v in verdicts:
        lab = labels.get((v["proto"], v["src"], v["sport"], v["dst"], v["dport"]))
        if lab is None:
            unlabelled += 1
            continue
        truth, kind = lab
        if kind == "aux":
            aux += 1
            aux_right += v["category"] == truth
            continue
        if v["category"] == "unknown":
            unknown += 1
            continue
        ok = v["category"] == truth
        right += ok
        wrong += not ok
        c = per.setdefault(truth, [0, 0])
        c[0] += ok
        c[1] += 1
    n = right + wrong
    share = right / n if n else 0.0
    print("sample %s, labels %s, model %s" % (SAMPLE, path, MODEL))
    print("windows: %d verdicts: %d of application flows classified, %d unknown (below the "
          "confidence threshold); %d of auxiliary flows (%d their category), %d of unlabelled "
          "flows" % (len(verdicts), n, unknown, aux, aux_right, unlabelled))
    for cat, (ok, tot) in sorted(per.items()):
        print("  %-14s %d / %d correct" % (cat, ok, tot))
    print("correct: %d / %d = %.1f%% (need >= %.0f%%)" % (right, n, 100 * share, 100 * GOAL))
    if n == 0:
        print("FAIL: no labelled window was classified")
        return 1
    if share < GOAL:
        print("FAIL: accuracy on the sample below %.0f%%" % (100 * GOAL))
        return 1
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
