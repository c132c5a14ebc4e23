"""Integration test: soak. A flow-churning capture looped live; scrapes checked, memory flat.

flowpicd replays one capture with net_pcap infinite_rx=1 and the TSC clock for
FLOWPIC_SOAK_SECONDS (60 in the suite; tools/soak.sh runs 600), /metrics is scraped every
FLOWPIC_SOAK_SCRAPE seconds (2) and every scrape is checked; after a warm-up (20 % of the run, at
least a window plus an idle timeout) resident memory, the process's private memory, the DPDK
heap and both mempools must stay flat; SIGTERM must end it with exit 0 and the accounting
identity. docs/RELIABILITY.md ("Long run") says what each check means and what a run showed.

Churn with infinite_rx: the capture loops as fast as RX can take it, so every 5-tuple comes
back once per loop (tens of milliseconds to a few seconds, depending on the machine) -- sooner
than any idle timeout (1 s at least). Flows therefore end by eviction: the capture has about
1.5 times more distinct 5-tuples per loop than the table has slots, so every short flow is
evicted before its 5-tuple returns and is created again as a new flow (window 0) on the next
loop. The long flows are TCP and the short churn UDP: an eviction takes the class head with
the oldest last packet, so the long flows, which get a packet every few dozen frames, are never
the victims; they stay and their windows complete on time (window length 4 s), while tens of
thousands of short flows come and go.
"""
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fptest  # noqa: E402
import opsrun  # noqa: E402
import pcapgen as pg  # noqa: E402

SECONDS = float(os.environ.get("FLOWPIC_SOAK_SECONDS", "60"))
SCRAPE = float(os.environ.get("FLOWPIC_SOAK_SCRAPE", "2"))
WINDOW = 4                      # flow.window, s
IDLE = 8                        # flow.idle_timeout.*, s: longer than a loop, even loaded
TABLE = 16384                   # flow.table_size (a power of two: the capacity)
MBUFS = 131071                  # mempool.mbufs: net_pcap keeps the whole capture in mbufs
MAX_RECS = 256                  # flow.max_packets_per_window: windows of 1..5 record chunks
WARMUP = max(0.2 * SECONDS, WINDOW + IDLE)
FLAT = 0.05                     # +-5 % of the mean after warm-up
STALL = WINDOW + 10             # a packet is in a category at most this long after it arrived
N_LONG, LONG_PKTS = 16, 1000    # long TCP flows, packets per loop each
N_MID, MID_PKTS = 20, 900       # TCP flows of one burst per loop (classified, sampled past the cap)
N_SHORT, SHORT_PKTS = 40, 12    # short UDP flows that reach the workers
N_TINY = 24000                  # one- and two-packet UDP flows (short windows, unclassified)
N_ARP = 20                      # frames that are not IP (category other)
# reasons a packet may legitimately have for not reaching a classified window here
EXPECTED_DROPS = {"non_ip", "short_window", "window_sampled", "table_evict"}
CLASSES = fptest.CLASSES


def make_churn_capture(path, seed=9):
    """One loop of the soak traffic; returns {what: count}. Frame times only order the frames
    (the TSC clock ignores them); positions are fractions of the loop."""
    rng = random.Random(seed)
    ev = []
    for f in range(N_LONG):
        a = "10.1.0.%d" % (f + 1)
        for k in range(LONG_PKTS):
            p = (k + f / N_LONG) / LONG_PKTS
            if k % 3 != 2:
                fr = pg.packet(a, "10.2.0.1", 6, 40000 + f, 443, 60 + (k * 37) % 1300)
            else:
                fr = pg.packet("10.2.0.1", a, 6, 443, 40000 + f, 1300)
            ev.append((p, fr))
    for m in range(N_MID):
        a = "10.30.0.%d" % (m + 1)
        for i in range(MID_PKTS):
            p = (m / N_MID + 0.15 * i / MID_PKTS) % 1.0
            size = rng.randrange(40, 1400)
            fr = pg.packet(a, "10.40.0.1", 6, 41000 + m, 443, size) if i % 2 else \
                pg.packet("10.40.0.1", a, 6, 443, 41000 + m, size)
            ev.append((p, fr))
    for s in range(N_SHORT):
        a = "10.70.0.%d" % (s + 1)
        for i in range(SHORT_PKTS):
            ev.append(((s / N_SHORT + i * 0.001) % 1.0,
                       pg.packet(a, "10.71.0.1", 17, 30000 + s, 5060, 160)))
    for t in range(N_TINY):
        p = rng.random()
        a = "10.50.%d.%d" % (t // 250, t % 250 + 1)
        for i in range(1 + t % 2):
            ev.append((p + i * 1e-7, pg.packet(a, "10.60.0.1", 17, 20000 + t % 1000, 53,
                                               40 + 50 * i)))
    for i in range(N_ARP):
        ev.append((i / N_ARP + 0.0123, pg.eth(pg.ETH_ARP, bytes(28))))
    ev.sort(key=lambda e: e[0])
    t0 = 1_700_900_000.0
    pg.write_pcap(path, [(t0 + 10.0 * p, fr) for p, fr in ev])
    tuples = N_LONG + N_MID + N_SHORT + N_TINY
    return {"frames": len(ev), "tuples": tuples}


def read_proc(pid):
    """Resident memory of pid from /proc (kB): VmRSS and its anonymous / file / shmem parts.

    With --no-huge the EAL's memory is one shared memfd mapping ("/memfd:nohuge"), so it is
    RssShmem; the mempools in it are written when they are created, hence resident from the
    start. RssAnon is the process's own private memory: malloc heap and arenas, thread stacks,
    what oneDNN and libmicrohttpd allocate. A malloc leak shows there."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[k] = int(v.split()[0])
    return out


def parse_types(body):
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M))


def family(name, types):
    """The metric family a sample name belongs to (histograms: _bucket, _sum, _count)."""
    if name in types:
        return name
    return re.sub(r"_(bucket|sum|count)$", "", name)


def total(samples, name):
    return sum(v for (n, _), v in samples.items() if n == name)


def by_label(samples, name, label):
    return {dict(lab)[label]: v for (n, lab), v in samples.items() if n == name}


class Scrape:
    """One look at the running daemon: /metrics, /proc/PID/status, the DPDK heap."""

    def __init__(self, run):
        self.wall = time.monotonic()
        status, _, body = opsrun.http_get(run.url, timeout=10)
        if status != 200:
            raise fptest.Failure("GET /metrics: status %d: %s" % (status, body[:200]))
        self.types = parse_types(body)
        self.s = opsrun.parse_metrics(body)
        self.proc = read_proc(run.proc.pid)
        heap = opsrun.telemetry(run.sock, "/eal/heap_info,0", timeout=10)
        self.heap_alloc = heap["Alloc_size"]
        self.heap_count = heap["Alloc_count"]
        self.uptime = opsrun.value(self.s, "flowpic_uptime_seconds")
        cats = lambda f: by_label(self.s, "flowpic_category_%s_total" % f, "category")  # noqa
        self.cat_packets, self.cat_bytes = cats("packets"), cats("bytes")
        self.cat_flows, self.cat_windows = cats("flows"), cats("windows")
        self.rx_packets = total(self.s, "flowpic_rx_packets_total")
        self.rx_bytes = total(self.s, "flowpic_rx_bytes_total")
        self.drops = by_label(self.s, "flowpic_drops_total", "reason")
        self.in_use = by_label(self.s, "flowpic_mempool_in_use", "pool")
        self.size = by_label(self.s, "flowpic_mempool_size", "pool")
        self.flows_active = opsrun.value(self.s, "flowpic_flows_active")
        self.ring_used = total(self.s, "flowpic_worker_ring_used")

    def classified(self, field):
        """Sum of a category counter over the model's classes and unknown (verdicts)."""
        d = getattr(self, "cat_" + field)
        return sum(v for c, v in d.items() if c not in ("unclassified", "other"))


def check_scrape(k, cur, prev, history):
    """Every promise /metrics makes at any instant (docs/OPERATIONS.md, snapshot.h)."""
    where = "scrape %d (uptime %.1f s)" % (k, cur.uptime)
    fptest.eq(opsrun.value(cur.s, "flowpic_finished"), 0.0, where + ": finished")
    # counters never decrease
    if prev is not None:
        if cur.uptime < prev.uptime:
            raise fptest.Failure("%s: uptime went back from %.3f" % (where, prev.uptime))
        for key, v in cur.s.items():
            t = cur.types.get(family(key[0], cur.types))
            if t in ("counter", "histogram") and key in prev.s and v < prev.s[key]:
                raise fptest.Failure("%s: %s%s decreased from %r to %r" % (
                    where, key[0], dict(key[1]), prev.s[key], v))
    # the categories never hold more than was received, packets and bytes, exactly
    cp, cb = sum(cur.cat_packets.values()), sum(cur.cat_bytes.values())
    if cp > cur.rx_packets or cb > cur.rx_bytes:
        raise fptest.Failure("%s: categories hold %d packets / %d bytes, more than the %d / %d "
                             "received" % (where, cp, cb, cur.rx_packets, cur.rx_bytes))
    # ... and what is missing is in flight: whatever arrived STALL seconds before is counted
    old = [h for h in history if h.uptime <= cur.uptime - STALL]
    if old and cp < old[-1].rx_packets:
        raise fptest.Failure("%s: categories hold %d packets, fewer than the %d received by "
                             "uptime %.1f s: packets stuck for more than %d s" % (
                                 where, cp, old[-1].rx_packets, old[-1].uptime, STALL))
    # no loss that this traffic does not explain
    for reason, v in cur.drops.items():
        if reason not in EXPECTED_DROPS and v != 0:
            raise fptest.Failure("%s: unexpected drops %s = %d" % (where, reason, v))
    for name in ("flowpic_nic_missed_total", "flowpic_nic_errors_total",
                 "flowpic_nic_nombuf_total"):
        fptest.eq(opsrun.value(cur.s, name), 0.0, where + ": " + name)
    # gauges within their bounds
    for pool in ("mbufs", "record_chunks"):
        if not 0 <= cur.in_use[pool] <= cur.size[pool]:
            raise fptest.Failure("%s: mempool %s: %d in use of %d" % (
                where, pool, cur.in_use[pool], cur.size[pool]))
    if not 0 <= cur.flows_active <= TABLE:
        raise fptest.Failure("%s: %d flows active in a table of %d" % (
            where, cur.flows_active, TABLE))
    for name in ("flowpic_worker_ring_fill_ratio", "flowpic_worker_busy_ratio"):
        for w, v in by_label(cur.s, name, "worker").items():
            if not 0 <= v <= 1:
                raise fptest.Failure("%s: %s{worker=%s} = %r" % (where, name, w, v))


def spread(values):
    """(mean, min, max, largest relative distance of min or max from the mean)."""
    mean = sum(values) / len(values)
    dev = max(mean - min(values), max(values) - mean) / mean if mean else 0.0
    return mean, min(values), max(values), dev


def check_flat(steady):
    """After warm-up, memory and mempool use stay within FLAT of their mean; the DPDK heap
    does not change at all."""
    series = {
        "VmRSS kB": [h.proc["VmRSS"] for h in steady],
        "RssAnon kB (private: malloc, stacks)": [h.proc["RssAnon"] for h in steady],
        "record chunks in use": [h.in_use["record_chunks"] for h in steady],
        "mbufs in use": [h.in_use["mbufs"] for h in steady],
    }
    report, bad = [], []
    for what, vals in series.items():
        mean, lo, hi, dev = spread(vals)
        report.append("%s: mean %.0f min %d max %d (%+.2f%% / %+.2f%%)" % (
            what, mean, lo, hi, 100 * (lo - mean) / mean, 100 * (hi - mean) / mean))
        if dev > FLAT:
            bad.append(what)
    heap = sorted({(h.heap_alloc, h.heap_count) for h in steady})
    report.append("DPDK heap: %s bytes in %s allocations" % (
        "/".join(str(a) for a, _ in heap), "/".join(str(c) for _, c in heap)))
    print("soak: after warm-up (%d scrapes, uptime %.0f..%.0f s):\n  %s" % (
        len(steady), steady[0].uptime, steady[-1].uptime, "\n  ".join(report)))
    if bad:
        rows = ["%7.1f %8d %6d %6d %5d %6d" % (
            h.uptime, h.proc["VmRSS"], h.proc["RssAnon"], h.in_use["record_chunks"],
            h.ring_used, h.flows_active) for h in steady]
        raise fptest.Failure("not flat within %d%% after warm-up: %s\n%s\n"
                             " uptime VmRSS_kB Anon_kB chunks queued flows\n%s" % (
                                 FLAT * 100, ", ".join(bad), "\n".join(report),
                                 "\n".join(rows)))
    if len(heap) != 1:
        raise fptest.Failure("DPDK heap changed after warm-up: %r" % heap)


class SoakRun:
    """flowpicd on the looping capture, metrics on a free loopback port, own EAL prefix."""

    def __init__(self, ctx, pcap, model):
        self.port = opsrun.free_port()
        self.prefix = "fpsoak%d" % os.getpid()
        self.url = "http://127.0.0.1:%d/metrics" % self.port
        self.sock = "/var/run/dpdk/%s/dpdk_telemetry.v2" % self.prefix
        self.json = ctx.path("soak.json")
        conf = ctx.path("soak.yaml")
        with open(conf, "w") as f:
            f.write("eal:\n  args: [--no-huge, --no-shconf, -m, '1024', --file-prefix, %s, "
                    "--log-level, 'lib.eal:error']\n" % self.prefix)
            f.write("ports: ['net_pcap0,rx_pcap=%s,infinite_rx=1']\n" % pcap)
            f.write("flow:\n  clock: tsc\n  window: %d\n  table_size: %d\n"
                    "  max_packets_per_window: %d\n"
                    "  idle_timeout: {tcp: %d, udp: %d, other: %d}\n" % (
                        WINDOW, TABLE, MAX_RECS, IDLE, IDLE, IDLE))
            f.write("mempool:\n  mbufs: %d\n" % MBUFS)
            # confidence 0: every classified window gets a class (a random model is unsure)
            f.write("model:\n  path: %s\n  confidence: 0\n" % model)
            f.write("export:\n  metrics: '127.0.0.1:%d'\n  stats_json: %s\n" % (
                self.port, self.json))
            f.write("log:\n  summary_interval: 10\n")
        self.cmd = [fptest.FLOWPICD, "-c", conf]
        self.out = open(ctx.path("soak.out"), "w+")
        self.err = open(ctx.path("soak.err"), "w+")
        # Under AddressSanitizer (tools/test-sanitize.sh) freed memory waits in a quarantine
        # of up to 256 MB before reuse, so private memory grows for minutes: no quarantine
        # here, so that "memory flat" means the same as without the sanitizer. (Other binaries
        # ignore ASAN_OPTIONS.)
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(o for o in (
            os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=0",
            "thread_local_quarantine_size_kb=0") if o)
        self.proc = fptest.spawn(self.cmd, stdout=self.out, stderr=self.err, env=env)

    def log(self):
        self.err.flush()
        with open(self.err.name) as f:
            return f.read()

    def ready(self):
        if self.proc.poll() is not None:
            raise fptest.Failure("flowpicd exited %d at start:\n%s" % (
                self.proc.returncode, self.log()[-3000:]))
        return opsrun.http_get(self.url, timeout=2)[0] == 200 and os.path.exists(self.sock)

    def stop(self, timeout=120):
        """SIGTERM; (exit status, seconds to exit, stdout, --stats-json counters)."""
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise fptest.Failure("no exit within %d s of SIGTERM" % timeout)
        took = time.monotonic() - t
        self.out.flush()
        with open(self.out.name) as f:
            stdout = f.read()
        stats = json.load(open(self.json)) if os.path.exists(self.json) else None
        opsrun.remove_runtime_dir(self.prefix)
        return rc, took, stdout, stats

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        opsrun.remove_runtime_dir(self.prefix)


def test_soak(ctx):
    pcap = ctx.path("churn.pcap")
    cap = make_churn_capture(pcap)
    fptest.eq(cap["tuples"] > 1.4 * TABLE, True, "more 5-tuples per loop than table slots")
    run = SoakRun(ctx, pcap, ctx.model)
    history = []
    try:
        opsrun.wait_for("flowpicd's /metrics and telemetry", run.ready, timeout=300)
        t_end = time.monotonic() + SECONDS
        nxt = time.monotonic()
        while True:
            cur = Scrape(run)
            check_scrape(len(history), cur, history[-1] if history else None, history)
            history.append(cur)
            if run.proc.poll() is not None:
                raise fptest.Failure("flowpicd exited %d during the soak:\n%s" % (
                    run.proc.returncode, run.log()[-3000:]))
            if cur.wall >= t_end:
                break
            nxt += SCRAPE
            time.sleep(max(0.0, min(nxt, t_end) - time.monotonic()))
        last = history[-1]
        rc, took, stdout, st = run.stop()
    except BaseException:
        run.kill()
        raise

    # what the traffic did: many loops, flows created and removed many times over, windows
    # completing on time, verdicts from the workers
    loops = last.rx_packets / cap["frames"]
    flows = sum(last.cat_flows.values())
    print("soak: %d scrapes over %.0f s of uptime; %d packets received (%.1f loops of the "
          "capture, %.0f packets/s); %d flows (%.0f x the table), %d evictions, %d windows "
          "classified, %d of them later windows of long flows; SIGTERM to exit %.1f s" % (
              len(history), last.uptime, last.rx_packets, loops,
              last.rx_packets / max(last.uptime, 1e-9), flows, flows / TABLE,
              last.drops["table_evict"], last.classified("windows"),
              last.classified("windows") - last.classified("flows"), took))
    if loops < 3:
        raise fptest.Failure("the capture looped only %.1f times: no churn to speak of" % loops)
    if flows < 10 * TABLE or last.drops["table_evict"] < 5 * TABLE:
        raise fptest.Failure("flows created (%d) or evicted (%d) not >> the table's %d" % (
            flows, last.drops["table_evict"], TABLE))
    if last.flows_active < TABLE * 0.9:
        raise fptest.Failure("table not kept full by the churn: %d flows" % last.flows_active)
    steady = [h for h in history if h.uptime >= WARMUP]
    if len(steady) < 5:
        raise fptest.Failure("only %d scrapes after the %.0f-s warm-up" % (len(steady), WARMUP))
    grew = sum(steady[-1].cat_flows.values()) - sum(steady[0].cat_flows.values())
    if grew < 2 * TABLE:
        raise fptest.Failure("churn stopped after warm-up: %d new flows" % grew)
    # every long flow's windows complete on time, WINDOW s each, while the run lasts
    later = last.classified("windows") - last.classified("flows")
    if later < N_LONG * (last.uptime // WINDOW) // 2:
        raise fptest.Failure("%d later windows: the long flows' windows do not complete" % later)
    if sum(last.cat_windows[c] for c in CLASSES) == 0:
        raise fptest.Failure("no verdict from the workers")
    worker_windows = total(last.s, "flowpic_worker_windows_total")
    if total(steady[0].s, "flowpic_worker_windows_total") >= worker_windows:
        raise fptest.Failure("workers classified nothing after warm-up")
    check_flat(steady)

    # SIGTERM: exit 0, every packet in exactly one category, counters kept growing to the end
    fptest.eq(rc, 0, "exit status after SIGTERM")
    if st is None:
        raise fptest.Failure("no --stats-json written")
    fptest.check_accounting(fptest.Result(rc, stdout, "", st, []))
    for reason, v in st["drops"].items():
        if reason not in EXPECTED_DROPS and v != 0:
            raise fptest.Failure("final: unexpected drops %s = %d" % (reason, v))
    fptest.eq(st["categories"]["other"]["packets"], st["drops"]["non_ip"],
              "final: category other = non-IP frames")
    # nothing leaked from the pools: after the flush every record chunk is back, and the only
    # mbufs taken are the capture's frames, which net_pcap keeps for infinite_rx
    fptest.eq(st["mempools"]["record_chunks"]["in_use"], 0, "final: record chunks in use")
    fptest.eq(st["mempools"]["mbufs"]["in_use"], cap["frames"], "final: mbufs in use")
    if st["rx"]["packets"] < last.rx_packets:
        raise fptest.Failure("final rx %d below the last scrape's %d" % (
            st["rx"]["packets"], last.rx_packets))
    for c, v in last.cat_packets.items():
        if st["categories"][c]["packets"] < v:
            raise fptest.Failure("final %s packets %d below the last scrape's %d" % (
                c, st["categories"][c]["packets"], v))


if __name__ == "__main__":
    sys.exit(fptest.main([test_soak]))
