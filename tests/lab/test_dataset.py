# Checks the dataset builder end to end on a hand-built run: fp-extract windows joined with the labels.
import csv
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "lab"))
sys.path.insert(0, HERE)

import dataset  # noqa: E402
from test_label import check, eth, ipv4, udp, write_pcap  # noqa: E402
import test_label  # noqa: E402


def main(fp_extract):
    d = tempfile.mkdtemp(prefix="fp-lab-ds-")
    run = os.path.join(d, "run")
    os.makedirs(os.path.join(run, "v"))
    c, s = "10.99.0.1", "10.99.0.2"
    frames = []
    for k in range(130):  # one RTP packet a second for 130 s, then RTCP and a stray flow
        frames.append((1000.0 + k, eth(0x0800, ipv4(17, c, s, udp(7000, 7000, 72)))))
        frames.append((1000.5 + k, eth(0x0800, ipv4(17, c, s, udp(9999, 9999, 10)))))
        if k % 5 == 0:
            frames.append((1000.25 + k, eth(0x0800, ipv4(17, s, c, udp(7001, 7001, 40)))))
    frames.append((1000.1, eth(0x0806, b"\0" * 28)))
    write_pcap(os.path.join(run, "v", "capture.pcap"), sorted(frames))
    rec = {"session": "v", "pcap": "v/capture.pcap", "category": "voip", "app": "ffmpeg-srtp",
           "vpn": False, "client_ip": c, "server_ip": s, "server_ports": [["udp", 7000]],
           "aux_ports": [["udp", 7001]], "t_start": 1000.0, "t_end": 1130.0, "error": None}
    with open(os.path.join(run, "sessions.jsonl"), "w") as f:
        f.write(json.dumps(rec) + "\n")
    out = os.path.join(d, "ds")
    summary = dataset.build([run], out, fp_extract, 60)
    check("dataset: two complete voip windows, nothing else",
          (summary["windows"]["plain"], summary["windows"]["vpn"]["voip"]),
          ({"voip": 2, "video": 0, "chat": 0, "browsing": 0, "file_transfer": 0}, 0))
    check("dataset: apps", summary["apps"]["voip"], ["ffmpeg-srtp"])
    rows = list(csv.DictReader(open(os.path.join(out, "labels.csv"))))
    check("dataset: label rows", [(r["file"], r["row"], r["app"], r["dst_port"], r["index"],
                                   r["packets"]) for r in rows],
          [("voip-plain.windows.gz", "0", "ffmpeg-srtp", "7000", "0", "60"),
           ("voip-plain.windows.gz", "1", "ffmpeg-srtp", "7000", "1", "60")])
    wf = dataset.load(os.path.join(out, "voip-plain.windows.gz"))
    check("dataset: windows file readable, 2 windows of 60 records",
          (len(wf), [int(x) for x in wf.windows["n_records"]]), (2, [60, 60]))
    r1 = wf.window_records(1)
    check("dataset: records keep time, IP size and direction",
          (int(r1["t_us"][0]), int(r1["t_us"][59]), int(r1["size"][0]), int(r1["dir"].max())),
          (0, 59000000, 20 + 8 + 72, 0))
    check("dataset: window start from the flow's first packet",
          int(wf.windows["start_us"][1]), 1060000000)
    # a session that did not run as drawn gives no windows, whether its record says so or
    # (older runs) only the run log does
    for how in ("record", "log"):
        bad = dict(rec, error="client caller exited with 1" if how == "record" else None)
        with open(os.path.join(run, "sessions.jsonl"), "w") as f:
            f.write(json.dumps(bad) + "\n")
        with open(os.path.join(run, "lab.log"), "w") as f:
            if how == "log":
                f.write("10:00:00 [v] client caller exited with 1\n")
        summary = dataset.build([run], os.path.join(d, "ds-failed-" + how), fp_extract, 60)
        check("dataset: failed session (%s) left out" % how,
              (summary["windows"]["plain"]["voip"], summary["failed_sessions"],
               summary["windows_of_failed_sessions"]), (0, ["v"], 2))
    os.unlink(os.path.join(run, "lab.log"))
    with open(os.path.join(run, "sessions.jsonl"), "w") as f:
        f.write(json.dumps(rec) + "\n")
    capped = os.path.join(d, "ds-cap")
    dataset.build([run], capped, fp_extract, 60, max_records=25)
    wf = dataset.load(os.path.join(capped, "voip-plain.windows.gz"))
    # past the cap a window is sampled (docs/FLOWS.md): every 2^k-th packet, k the smallest
    # with ceil(packets / 2^k) <= cap
    want = []
    for n in [int(x) for x in wf.windows["packets"]]:
        k = 0
        while -(-n // (1 << k)) > 25:
            k += 1
        kept = -(-n // (1 << k))        # ceil(n / 2^k)
        want.append((kept, n - kept, k))
    check("dataset: max_records caps the records, the windows are sampled",
          [(int(w["n_records"]), int(w["sampled_out"]), int(w["shift"])) for w in wf.windows],
          want)
    check("dataset: the capped windows passed the cap", min(x[2] for x in want) > 0, True)
    # a cached extract is used while it is newer than the capture and fp-extract, and made
    # again when fp-extract is newer (a rebuilt extractor may cut windows differently)
    fpx = os.path.join(d, "fp-extract")
    shutil.copy2(fp_extract, fpx)
    cache = os.path.join(run, "v", dataset.cache_name(60, dataset.MAX_RECORDS))
    dataset.build([run], os.path.join(d, "ds-c1"), fpx, 60)
    os.utime(cache, (1e9, 1e9))
    os.utime(fpx, (0.9e9, 0.9e9))
    os.utime(os.path.join(run, "v", "capture.pcap"), (0.9e9, 0.9e9))
    dataset.build([run], os.path.join(d, "ds-c2"), fpx, 60)
    check("dataset: a cache newer than capture and fp-extract is reused",
          os.path.getmtime(cache), 1e9)
    os.utime(fpx, (1.1e9, 1.1e9))
    dataset.build([run], os.path.join(d, "ds-c3"), fpx, 60)
    check("dataset: a cache older than fp-extract is extracted again",
          os.path.getmtime(cache) > 1.1e9, True)
    small = os.path.join(d, "ds-min")
    summary = dataset.build([run], small, fp_extract, 60, min_packets=61)
    check("dataset: min_packets drops short windows", summary["windows"]["plain"]["voip"], 0)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: test_dataset.py FP_EXTRACT")
    main(sys.argv[1])
    print("%d passed, %d failed" % (test_label.passed, test_label.failed))
    sys.exit(1 if test_label.failed else 0)
