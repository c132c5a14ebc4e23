"""Integration tests: overload. Workers slower than traffic, a full flow table, an empty mbuf pool."""
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcapgen as pg  # noqa: E402
import fptest  # noqa: E402

T0 = 1_700_300_000.0


class LiveRun:
    """flowpicd on a live port (net_pcap infinite_rx, TSC clock): no offline backpressure.

    RX then drops what the next stage cannot take, as on a real SPAN port. The run is ended by
    SIGTERM; rc, stdout, stderr, the --stats-json counters and the seconds from SIGTERM to exit
    are kept.
    """

    def __init__(self, ctx, name, pcap, model, keys=(), sets=()):
        self.ctx, self.name = ctx, name
        self.json = ctx.path(name + ".json")
        conf = ctx.path(name + ".yaml")
        with open(conf, "w") as f:
            f.write("eal:\n  args: [--no-huge, --no-shconf, -m, '1024', --file-prefix, "
                    "fp_%s_%d]\n" % (name, os.getpid()))
            f.write("ports: ['net_pcap0,rx_pcap=%s,infinite_rx=1']\n" % pcap)
            f.write("flow:\n  clock: tsc\n")
            f.write("model:\n  path: %s\n" % model)
            f.write("export:\n  metrics: ''\n  stats_json: %s\n" % self.json)
            f.write("log:\n  summary_interval: 1\n")
        self.cmd = [fptest.FLOWPICD, "-c", conf] + [a for k in sets for a in ("--set", k)]
        self.out = open(ctx.path(name + ".out"), "w+")
        self.err = open(ctx.path(name + ".err"), "w+")
        self.p = fptest.spawn(self.cmd, stdout=self.out, stderr=self.err)
        self.rc = self.stdout = self.stats = None
        self.stop_seconds = None

    def log(self):
        self.err.flush()
        with open(self.err.name) as f:
            return f.read()

    def wait_log(self, text, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            if text in self.log():
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.1)
        self.p.kill()
        raise fptest.Failure("%s: log never said %r (exit %r); log:\n%s" % (
            " ".join(self.cmd), text, self.p.poll(), self.log()[-3000:]))

    def running(self):
        return self.p.poll() is None

    def stop(self, timeout=30):
        t = time.time()
        self.p.send_signal(signal.SIGTERM)
        try:
            self.rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise fptest.Failure("%s: no exit within %d s of SIGTERM" % (self.name, timeout))
        self.stop_seconds = time.time() - t
        with open(self.out.name) as f:
            self.stdout = f.read()
        self.stats = json.load(open(self.json)) if os.path.exists(self.json) else None
        return self


def summary_rx(log):
    """Received packet totals of the periodic summary lines, in order."""
    return [int(x) for x in re.findall(r"summary: rx (\d+) pkts", log)]


def many_flows_capture(ctx, name, n_flows, per_flow, gap=0.5):
    recs = []
    for i in range(n_flows):
        a = "10.%d.%d.1" % (40 + i // 250, i % 250)
        for k in range(per_flow):
            recs.append((T0 + k * gap + i * 1e-5, pg.packet(a, "10.250.0.1", 17, 1000 + i % 60000,
                                                             53, 100)))
    recs.sort(key=lambda r: r[0])
    path = ctx.path(name)
    pg.write_pcap(path, recs)
    return path, recs


def test_workers_slower_than_traffic(ctx):
    """Tiny rings and a bigger model: RX keeps receiving, drops whole windows, counts them."""
    pcap, _ = many_flows_capture(ctx, "overload.pcap", 4000, 3)
    model = fptest.make_model(ctx.path("big-64.fpm"), resolution=64, seed=5)
    run = LiveRun(ctx, "overload", pcap, model,
                  sets=["rings.windows=64", "rings.verdicts=64", "flow.window=1",
                        "flow.min_packets=2", "model.batch=8"])
    run.wait_log("RX lcore(s)")
    time.sleep(5)
    if not run.running():
        raise fptest.Failure("flowpicd ended on its own:\n" + run.log()[-3000:])
    run.stop()
    fptest.eq(run.rc, 0, "exit status after SIGTERM")
    fptest.check_accounting(run)
    st = run.stats
    if st["drops"]["ring_full"] == 0:
        raise fptest.Failure("workers kept up; no ring_full drop to count: %r" % st["drops"])
    unc = st["categories"]["unclassified"]["packets"]
    if unc < st["drops"]["ring_full"]:
        raise fptest.Failure("ring_full packets (%d) not all unclassified (%d)" % (
            st["drops"]["ring_full"], unc))
    classified = sum(c["windows"] for n, c in st["categories"].items()
                     if n not in ("unclassified", "other"))
    if classified == 0:
        raise fptest.Failure("workers classified nothing while overloaded")
    # RX never stalls: every summary line shows more packets received than the one before.
    rx = summary_rx(run.log())
    if len(rx) < 3 or any(b <= a for a, b in zip(rx, rx[1:])):
        raise fptest.Failure("RX stalled or too few summaries: %r" % rx)
    if run.stop_seconds > 20:
        raise fptest.Failure("SIGTERM took %.1f s under overload" % run.stop_seconds)


def test_table_full_churn(ctx):
    """64 flow slots, 32 busy TCP flows and 800 one-packet UDP flows: the LRU evicts the churn."""
    busy, churn_per_round, rounds = 32, 8, 100
    recs, t = [], T0
    n_churn = 0
    for r in range(rounds):
        for b in range(busy):
            a, z = ("10.60.0.%d" % (b + 1), "10.61.0.1")
            src, dst, sp, dp = (a, z, 40000 + b, 443) if r % 2 == 0 else (z, a, 443, 40000 + b)
            recs.append((t, pg.packet(src, dst, 6, sp, dp, 200 + b)))
            t += 0.001
            if (b + 1) % (busy // churn_per_round) == 0:
                c = n_churn
                recs.append((t, pg.packet("10.70.%d.%d" % (c // 250, c % 250 + 1), "10.71.0.1",
                                          17, 5000, 53, 60)))
                n_churn += 1
                t += 0.001
    pcap = ctx.path("churn.pcap")
    pg.write_pcap(pcap, recs)
    fptest.eq(n_churn, rounds * churn_per_round, "churn flows built")

    res = ctx.run(pcap, ["--set", "flow.table_size=64"])
    fptest.check_accounting(res)
    st = res.stats
    fptest.eq(st["rx"]["packets"], len(recs), "every frame received")
    # 64 slots: 32 busy + 32 churn flows; from then on each new churn flow evicts the oldest one.
    fptest.eq(st["drops"]["table_evict"], n_churn - (64 - busy), "evictions counted")
    unc = st["categories"]["unclassified"]
    fptest.eq((unc["packets"], unc["windows"], unc["flows"]), (n_churn, n_churn, n_churn),
              "each churn flow is one short window")
    fptest.eq(st["drops"]["short_window"], n_churn, "short_window packets")
    # The busy flows never lose a packet to the churn: one window of all their packets each.
    got = sorted((v["sport"], v["packets"], v["window"]) for v in res.verdicts)
    fptest.eq(got, [(40000 + b, rounds, 0) for b in range(busy)], "busy flows: whole windows")
    fptest.eq(sum(c["flows"] for c in st["categories"].values()), busy + n_churn,
              "flows counted once each")


def test_mbuf_pool_exhaustion(ctx):
    """A burst needing more mbufs than the pool has: the frame is counted lost, RX recovers."""
    recs, t = [], T0

    def add(fr):
        nonlocal t
        recs.append((t, fr))
        t += 0.001
    # With rx.burst 512 and no per-lcore cache, the first burst takes the whole pool of 1024:
    # 340 frames of 5000 bytes use 3 mbufs each, 2 of 3000 bytes use 2 each; the next frame
    # finds the pool empty and net_pcap counts it in rx_nombuf.
    for i in range(340):
        add(pg.packet("10.80.0.1", "10.80.0.2", 17, 7, 9, 5000 - 42))
    for i in range(2):
        add(pg.packet("10.80.0.3", "10.80.0.2", 17, 7, 9, 3000 - 42))
    for i in range(400):
        add(pg.packet("10.81.0.1", "10.81.0.2", 17, 8, 9, 100))
    pcap = ctx.path("nombuf.pcap")
    pg.write_pcap(pcap, recs)
    small = ["--set", "mempool.mbufs=1024", "--set", "mempool.cache=0",
             "--set", "rx.burst=512", "--set", "rx.ring_size=512"]
    res = ctx.run(pcap, small)
    fptest.check_accounting(res)
    st = res.stats
    fptest.eq(st["drops"]["nic_rx_nombuf"], 1, "frame lost to the empty pool, counted")
    fptest.eq(st["drops"]["nic_ierrors"], 0, "no other NIC error")
    fptest.eq(st["rx"]["packets"], len(recs) - 1, "every other frame received")
    # Recovery: the pool refills once the burst is processed; the rest of the flow is all there.
    after = [v for v in res.verdicts if v["sport"] == 8]
    fptest.eq([v["packets"] for v in after], [399], "flow after the exhaustion: 399 of 400")

    # Jumbo frames chained over 5 mbufs: a failed segment allocation is a NIC error (ierrors).
    recs = [(T0 + i * 0.001, pg.packet("10.82.0.1", "10.82.0.2", 17, 1, 2, 9000 - 42))
            for i in range(600)]
    recs += [(T0 + 1 + i * 0.001, pg.packet("10.83.0.1", "10.83.0.2", 17, 3, 4, 100))
             for i in range(100)]
    pcap = ctx.path("jumbo-burst.pcap")
    pg.write_pcap(pcap, recs)
    res = ctx.run(pcap, small)
    fptest.check_accounting(res)
    st = res.stats
    lost = st["drops"]["nic_rx_nombuf"] + st["drops"]["nic_ierrors"]
    if lost == 0:
        raise fptest.Failure("600 jumbo frames in 512-frame bursts never ran the pool dry")
    fptest.eq(st["rx"]["packets"] + lost, len(recs), "received + counted lost = frames")
    after = [v["packets"] for v in res.verdicts if v["sport"] == 3]
    if len(after) != 1 or after[0] < 100 - lost:
        raise fptest.Failure("small flow after the jumbo bursts: %r of 100 (%d lost)" % (
            after, lost))


if __name__ == "__main__":
    sys.exit(fptest.main([test_workers_slower_than_traffic, test_table_full_churn,
                          test_mbuf_pool_exhaustion]))
