"""RX benchmark: flowpicd's RX lcore vs a bare rx-and-free loop on the same net_pcap source."""
import argparse
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tools", "model"))
import pcapgen as pg  # noqa: E402

IMIX = [(60, 7), (590, 4), (1514, 1)]     # frame bytes without FCS, weight (simple IMIX)


def build_capture(path, n_flows, n_packets, mix, seed=1):
    """n_packets UDP frames cycling over n_flows distinct 5-tuples; sizes from mix."""
    rng = random.Random(seed)
    sizes = [s for s, w in mix for _ in range(w)]
    frames = {}
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n_packets):
            fl = i % n_flows
            size = sizes[rng.randrange(len(sizes))]
            key = (fl, size)
            fr = frames.get(key)
            if fr is None:
                src = "10.%d.%d.%d" % (fl >> 16 & 255, fl >> 8 & 255, fl & 255)
                fr = pg.packet(src, "192.0.2.1", 17, 1024 + (fl % 50000), 443, size - 42)
                if len(frames) < 200000:
                    frames[key] = fr
            f.write(struct.pack("<IIII", 1000 + i // 1000000, i % 1000000, len(fr), len(fr)))
            f.write(fr)


def run_bare(build, pcap, seconds, mbufs):
    exe = os.path.join(build, "tools", "bench", "bench-rx-bare")
    cmd = [exe, "--no-huge", "--no-shconf", "-m", "4096", "--no-pci", "-l", "1",
           "--log-level", "lib.eal:error", "--file-prefix", "fpbare",
           "--vdev", "net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap, "--", str(seconds), str(mbufs)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 300)
    if out.returncode != 0:
        raise SystemExit("bench-rx-bare failed: %s" % out.stderr[-2000:])
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return r["packets"], r["cpu_ns"], r["tsc_hz"], r["max_rss_kb"], r["driver_cycles"]


def run_flowpicd(build, pcap, seconds, mbufs, flows, tmp, model):
    conf = os.path.join(tmp, "bench.yaml")
    table = 1 << max(6, (flows * 2 - 1).bit_length())
    with open(conf, "w") as f:
        f.write("eal:\n  args: [--no-huge, --no-shconf, -m, '6144', --lcores, '0@0,1@1,2@0',"
                " --file-prefix, fpbench, --log-level, 'lib.eal:error']\n")
        f.write("ports: ['net_pcap0,rx_pcap=%s,infinite_rx=1']\n" % pcap)
        f.write("lcores:\n  rx: [1]\n  workers: [2]\n  stats: 0\n")
        f.write("flow:\n  clock: tsc\n  table_size: %d\n" % table)
        f.write("mempool:\n  mbufs: %d\n  record_chunks: %d\n" % (mbufs, flows + flows // 2 + 4096))
        f.write("model:\n  path: %s\n" % model)
        f.write("export:\n  metrics: ''\n  stats_json: %s\n" % os.path.join(tmp, "bench.json"))
        f.write("log:\n  summary_interval: 0\n")
    exe = os.path.join(build, "app", "flowpicd", "flowpicd")
    p = subprocess.Popen([exe, "-c", conf], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    # wait for the data path to start (the capture is preloaded before)
    t_end = time.time() + 300
    err = ""
    while time.time() < t_end:
        line = p.stderr.readline()
        err += line
        if "RX lcore(s)" in line or not line:
            break
    time.sleep(seconds)
    rss_kb = vm_hwm_kb(p.pid)
    p.send_signal(signal.SIGTERM)
    out, err2 = p.communicate(timeout=300)
    if p.returncode != 0:
        raise SystemExit("flowpicd failed (%d): %s%s" % (p.returncode, err[-2000:], err2[-2000:]))
    st = json.load(open(os.path.join(tmp, "bench.json")))
    rx = st["rx_lcores"][0]
    return rx["packets"], rx["cpu_ns"], st["tsc_hz"], rx["flows_at_stop"], st, rss_kb


def vm_hwm_kb(pid):
    """Peak resident memory of a process (VmHWM, kB); with --no-huge DPDK's memory is in it."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def cases(args, tmp):
    """For each mix and flow count asked for: (mix, flows, capture, mbufs, model), the capture
    built in tmp and removed once the caller has measured it; one random LeNet-5 model."""
    import fpmodel
    import numpy as np
    model = os.path.join(tmp, "m.fpm")
    m = fpmodel.lenet5(32, ["voip", "video", "chat", "browsing", "file_transfer"])
    m.init_random(np.random.default_rng(1))
    m.save(model)
    for mixname in args.mixes.split(","):
        mix = [(60, 1)] if mixname == "64" else IMIX
        for flows in [int(x) for x in args.flows.split(",")]:
            n_packets = max(flows, 200000)
            pcap = os.path.join(tmp, "rx-%s-%d.pcap" % (mixname, flows))
            build_capture(pcap, flows, n_packets, mix)
            yield mixname, flows, pcap, n_packets + 16384, model
            os.unlink(pcap)


def compare(args):
    """Alternate two builds' flowpicd on one capture: on a noisy host only figures taken side
    by side compare. Prints cycles/packet of each run, the bare loop's between rounds, medians."""
    import statistics
    builds = [("A", args.compare), ("B", args.build)]
    print("machine: %s" % cpu_model())
    for name, b in builds:
        print("%s = %s" % (name, os.path.abspath(b)))
    with tempfile.TemporaryDirectory(prefix="fpbench-") as tmp:
        for mixname, flows, pcap, mbufs, model in cases(args, tmp):
            cyc = {name: [] for name, _ in builds}
            bare = []
            for r in range(args.rounds):
                bp, bns, hz, _, _ = run_bare(args.build, pcap, args.seconds, mbufs)
                bare.append(bns / 1e9 * hz / bp)
                for name, b in builds:
                    fp_, fns, hz2, _, _, _ = run_flowpicd(b, pcap, args.seconds, mbufs,
                                                          flows, tmp, model)
                    cyc[name].append(fns / 1e9 * hz2 / fp_)
                print("%-4s %8d round %d: bare %.0f  A %.0f  B %.0f cycles/packet" % (
                    mixname, flows, r + 1, bare[-1], cyc["A"][-1], cyc["B"][-1]))
                sys.stdout.flush()
            mb = statistics.median(bare)
            print("%-4s %8d median: bare %.0f  A %.0f (ratio %.2f)  B %.0f (ratio %.2f)" % (
                mixname, flows, mb, statistics.median(cyc["A"]),
                mb / statistics.median(cyc["A"]), statistics.median(cyc["B"]),
                mb / statistics.median(cyc["B"])))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--flows", default="10000,1000000")
    ap.add_argument("--mixes", default="64,imix")
    ap.add_argument("--compare", metavar="BUILD",
                    help="A/B mode: alternate flowpicd of --build and of this other build "
                    "directory (e.g. a worktree of an older commit) on the same capture for "
                    "--rounds rounds and print each run and the medians")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.compare:
        return compare(args)
    print("machine: %s" % cpu_model())
    print("rates are packets per second of the polling thread's own CPU time (thread clock),")
    print("so time the thread spent descheduled on a shared machine does not count against it;")
    print("cycles/packet = thread CPU seconds x TSC Hz / packets.")
    print("peak RSS of each process (with --no-huge DPDK's memory is process memory); both")
    print("hold the same preloaded capture and mbuf pool, so the difference is flowpicd's own")
    print("state: flow table, record chunks, rings, model and inference buffers.")
    print("drv c/p: TSC cycles a packet inside rte_eth_rx_burst() (the driver's share, the")
    print("net_pcap copy), flowpicd's and the bare loop's; flowpicd's own work is cyc/pkt - drv.")
    print("%-6s %9s %12s %12s %7s %10s %10s %9s %9s %12s %9s %9s" % (
        "mix", "flows", "bare Mpps", "flowpic Mpps", "ratio", "cyc/pkt", "bare c/p",
        "drv c/p", "bare drv", "flows@stop", "RSS MB", "bare RSS"))
    with tempfile.TemporaryDirectory(prefix="fpbench-") as tmp:
        for mixname, flows, pcap, mbufs, model in cases(args, tmp):
            bp, bns, hz, brss, bdrv = run_bare(args.build, pcap, args.seconds, mbufs)
            fp_, fns, hz2, active, st, rss = run_flowpicd(args.build, pcap, args.seconds, mbufs,
                                                   flows, tmp, model)
            bare_mpps = bp / (bns / 1e9) / 1e6
            fp_mpps = fp_ / (fns / 1e9) / 1e6
            print("%-6s %9d %12.2f %12.2f %7.2f %10.1f %10.1f %9.1f %9.1f %12d %9.0f %9.0f" % (
                mixname, flows, bare_mpps, fp_mpps, fp_mpps / bare_mpps,
                fns / 1e9 * hz2 / fp_, bns / 1e9 * hz / bp,
                st["rx_lcores"][0]["driver_cycles"] / fp_, bdrv / bp, active, rss / 1024,
                brss / 1024))
            sys.stdout.flush()
        print("TSC %.3f GHz (DPDK's measurement)" % (hz / 1e9))


if __name__ == "__main__":
    sys.exit(main())
