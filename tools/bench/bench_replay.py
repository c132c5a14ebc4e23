"""End-to-end benchmark: a capture replayed through flowpicd at full speed and at its own pace."""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import fptest  # noqa: E402
from bench_rx import cpu_model, run_bare  # noqa: E402


def capture_span(path):
    """Frames, first and last timestamp (s) of a classic pcap (us or ns, either byte order)."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            end = "<"
        else:
            end = ">"
            magic = struct.unpack(">I", hdr[:4])[0]
        scale = 1e-9 if magic == 0xA1B23C4D else 1e-6
        n, first, last = 0, None, None
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                break
            sec, frac, incl, _ = struct.unpack(end + "IIII", rh)
            f.seek(incl, 1)
            t = sec + frac * scale
            first = t if first is None else first
            last = t
            n += 1
    return n, first, last


def run_flowpicd(build, pcap, model, tmp, tag, extra=()):
    sj = os.path.join(tmp, tag + ".json")
    vl = os.path.join(tmp, tag + ".jsonl")
    exe = os.path.join(build, "app", "flowpicd", "flowpicd")
    cmd = [exe, "--pcap", pcap, "--model", model, "--stats-json", sj, "--verdicts", vl,
           "--set", "eal.args=[--no-huge, --no-shconf, -m, '2048', --log-level, 'lib.eal:error']",
           "--set", "mempool.mbufs=65536"] + list(extra)
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit("flowpicd failed (%d): %s" % (p.returncode, p.stderr[-3000:]))
    st = json.load(open(sj))
    with open(vl) as f:
        verdicts = [json.loads(line) for line in f if line.strip()]
    return st, verdicts, wall


def describe(st, wall):
    """Rates of one run: packets and windows per second of the RX lcore's run time."""
    rx = st["rx_lcores"][0]
    run_s = rx["run_cycles"] / st["tsc_hz"]
    cpu_s = rx["cpu_ns"] / 1e9
    packets = st["rx"]["packets"]
    windows = sum(c["windows"] for n, c in st["categories"].items()
                  if n not in ("unclassified", "other"))
    return {"run_s": run_s, "wall_s": wall, "packets": packets, "windows": windows,
            "pps": packets / run_s, "pps_cpu": packets / cpu_s, "wps": windows / run_s}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--pcap", default=os.path.join(TOP, "models", "samples", "sample.pcap"))
    ap.add_argument("--model", default=os.path.join(TOP, "models", "flowpic-32.fpm"))
    ap.add_argument("--speed", type=float, default=1.0,
                    help="pace of the comparison run (1 = real time; 0 = skip it)")
    ap.add_argument("--bare-seconds", type=float, default=5.0)
    args = ap.parse_args()
    n, first, last = capture_span(args.pcap)
    print("machine: %s; %d CPUs, load average %s" % (cpu_model(), os.cpu_count(),
                                                      " ".join(open("/proc/loadavg").read()
                                                               .split()[:3])))
    print("capture: %s, %d frames over %.1f s; model %s; 1 RX lcore + 1 worker + stats" % (
        os.path.relpath(args.pcap, TOP), n, last - first, os.path.relpath(args.model, TOP)))
    with tempfile.TemporaryDirectory(prefix="fpreplay-") as tmp:
        bare_packets, bare_cpu_ns, _, _, _ = run_bare(args.build, args.pcap, args.bare_seconds,
                                                   n + 16384)
        bare = bare_packets / (bare_cpu_ns / 1e9)
        st, verdicts, wall = run_flowpicd(args.build, args.pcap, args.model, tmp, "full")
        fptest.check_accounting(fptest.Result(0, "accounting: ok", "", st, verdicts))
        full = describe(st, wall)
        print("%-34s %10s %10s %12s %10s %9s" % ("run", "RX time s", "packets/s", "pkt/s (CPU)",
                                                "windows/s", "x realtime"))
        print("%-34s %10s %10s %12.0f %10s %9s" % ("baseline: bare rx loop, same capture", "-",
                                                   "-", bare, "-", "-"))
        print("%-34s %10.2f %10.0f %12.0f %10.0f %9.0f" % (
            "flowpicd, full speed", full["run_s"], full["pps"], full["pps_cpu"], full["wps"],
            (last - first) / full["run_s"]))
        print("  %d packets, %d windows classified, %d verdicts; process wall time %.1f s "
              "(EAL start, capture preload and exit included)" % (
                  full["packets"], full["windows"], len(verdicts), wall))
        if args.speed > 0:
            st2, verdicts2, wall2 = run_flowpicd(args.build, args.pcap, args.model, tmp, "paced",
                                                 ["--speed", "%g" % args.speed])
            paced = describe(st2, wall2)
            print("%-34s %10.2f %10.0f %12s %10.1f %9.2f" % (
                "flowpicd, --speed %g" % args.speed, paced["run_s"], paced["pps"], "-",
                paced["wps"], (last - first) / paced["run_s"]))
            same_c = fptest.counters(st2) == fptest.counters(st)
            same_v = fptest.canon(verdicts2) == fptest.canon(verdicts)
            print("paced run vs full speed: counters %s, verdicts %s (%d vs %d)" % (
                "identical" if same_c else "DIFFER", "identical" if same_v else "DIFFER",
                len(verdicts2), len(verdicts)))
            if not (same_c and same_v):
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
