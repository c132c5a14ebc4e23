"""Integration tests: /metrics exposition, start-up errors, and a real Prometheus scraping it."""
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fptest  # noqa: E402
import opsrun  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def check_against_stats(samples, st, what):
    """Every category, receive and drop counter of /metrics equals --stats-json's number."""
    for name, c in st["categories"].items():
        for field in ("packets", "bytes", "flows", "windows"):
            fptest.eq(opsrun.value(samples, "flowpic_category_%s_total" % field, category=name),
                      float(c[field]), "%s: %s %s" % (what, name, field))
    rx_pk = sum(v for (n, _), v in samples.items() if n == "flowpic_rx_packets_total")
    rx_by = sum(v for (n, _), v in samples.items() if n == "flowpic_rx_bytes_total")
    fptest.eq(rx_pk, float(st["rx"]["packets"]), "%s: rx packets over queues" % what)
    fptest.eq(rx_by, float(st["rx"]["bytes"]), "%s: rx bytes over queues" % what)
    for reason, n in st["drops"].items():
        if reason.startswith("nic_"):
            continue
        fptest.eq(opsrun.value(samples, "flowpic_drops_total", reason=reason), float(n),
                  "%s: drops %s" % (what, reason))
    fptest.eq(opsrun.value(samples, "flowpic_nic_missed_total"), float(st["drops"]["nic_imissed"]),
              "%s: nic missed" % what)


def test_exposition(ctx):
    pcap = ctx.path("expo.pcap")
    recs = opsrun.make_capture(pcap)
    with opsrun.Linger(ctx, pcap) as run:
        status, headers, body = opsrun.http_get(run.url)
        fptest.eq(status, 200, "GET /metrics status")
        fptest.eq(headers.get("content-type", "").split(";")[:2],
                  ["text/plain", " version=0.0.4"], "Content-Type")
        samples = opsrun.parse_metrics(body)
        check_against_stats(samples, run.stats, "/metrics")
        fptest.eq(run.stats["rx"]["packets"], len(recs), "stats rx packets")
        fptest.eq(run.stats["categories"]["other"]["packets"], 5, "ARP frames in other")
        # every family has HELP and TYPE before its samples
        helps = set(re.findall(r"^# HELP (\S+) ", body, re.M))
        types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M))
        for name, _ in samples:
            fam = re.sub(r"_(bucket|sum|count)$", "", name) \
                if name.startswith("flowpic_inference_seconds") else name
            if fam not in helps or fam not in types:
                raise fptest.Failure("%s has no HELP/TYPE line" % name)
        for fam in ("flowpic_category_packets_total", "flowpic_category_bytes_total",
                    "flowpic_category_flows_total", "flowpic_category_windows_total",
                    "flowpic_rx_packets_total", "flowpic_drops_total"):
            fptest.eq(types.get(fam), "counter", "TYPE of " + fam)
        fptest.eq(types.get("flowpic_inference_seconds"), "histogram", "latency TYPE")
        for fam in ("flowpic_worker_busy_ratio", "flowpic_worker_ring_fill_ratio",
                    "flowpic_flows_active", "flowpic_uptime_seconds"):
            fptest.eq(types.get(fam), "gauge", "TYPE of " + fam)
        # rates are Prometheus's job: no per-category rate gauges
        for fam in types:
            if "rate" in fam or "per_s" in fam or "bits" in fam:
                raise fptest.Failure("rate exported as a metric: " + fam)
        version = subprocess.run([fptest.FLOWPICD, "--version"], capture_output=True,
                                 text=True).stdout.split()[-1]
        fptest.eq(opsrun.value(samples, "flowpic_build_info", version=version,
                               model="lenet5-32"), 1.0, "build info")
        fptest.eq(opsrun.value(samples, "flowpic_finished"), 1.0, "finished flag")
        # the latency histogram is cumulative and its +Inf bucket is its count
        buckets = sorted((float(dict(lab)["le"]), v) for (n, lab), v in samples.items()
                         if n == "flowpic_inference_seconds_bucket")
        counts = [v for _, v in buckets]
        fptest.eq(counts, sorted(counts), "histogram buckets are cumulative")
        fptest.eq(buckets[-1][0], float("inf"), "last bucket is +Inf")
        fptest.eq(buckets[-1][1], opsrun.value(samples, "flowpic_inference_seconds_count"),
                  "+Inf bucket equals count")
        if buckets[-1][1] < 1:
            raise fptest.Failure("no inference batch counted")
        # other paths and methods
        fptest.eq(opsrun.http_get(run.url.replace("/metrics", "/nothing"))[0], 404, "404")
        fptest.eq(opsrun.http_get(run.url, method="POST")[0], 405, "POST gives 405")
        fptest.eq(opsrun.http_get(run.url, method="HEAD")[0], 200, "HEAD gives 200")
        if os.path.exists(PROMTOOL):
            p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, text=True,
                               capture_output=True, timeout=30)
            if p.returncode != 0:
                raise fptest.Failure("promtool check metrics: %s%s" % (p.stdout, p.stderr))
        out = run.output()
    fptest.contains(out, "final: rx %d pkts" % len(recs), "final summary line in the log")


def start_fail(ctx, endpoint):
    """flowpicd with export.metrics=endpoint: must exit 1 at once with a message."""
    pcap = ctx.path("expo.pcap")
    if not os.path.exists(pcap):
        opsrun.make_capture(pcap)
    p = subprocess.run([fptest.FLOWPICD, "--pcap", pcap, "--model", ctx.model, "--set",
                        "export.metrics=" + endpoint], capture_output=True, text=True,
                       timeout=60)
    fptest.eq(p.returncode, 1, "exit status with export.metrics=%s" % endpoint)
    return p.stderr


def test_bad_address(ctx):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    ep = "127.0.0.1:%d" % busy.getsockname()[1]
    try:
        err = start_fail(ctx, ep)
    finally:
        busy.close()
    fptest.contains(err, "export.metrics", "busy address message names the key")
    fptest.contains(err, ep, "busy address message names the address")
    fptest.contains(err, "Address already in use", "busy address reason")
    err = start_fail(ctx, "192.0.2.1:9750")
    fptest.contains(err, "export.metrics: cannot listen on 192.0.2.1:9750", "foreign address")
    fptest.contains(err, "Cannot assign requested address", "foreign address reason")
    err = start_fail(ctx, "localhost:9750")
    fptest.contains(err, "export.metrics", "malformed address names the key")


class Prometheus:
    """A Prometheus server on loopback scraping the given jobs every second."""

    def __init__(self, ctx, jobs):
        self.port = opsrun.free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.dir = ctx.path("prom%d" % self.port)
        os.makedirs(self.dir)
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n")
            for job, targets in jobs.items():
                f.write("  - job_name: %s\n    static_configs:\n      - targets: [%s]\n" % (
                    job, ", ".join("'%s'" % t for t in targets)))
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = fptest.spawn(
            [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + self.dir + "/data",
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        opsrun.wait_for("prometheus ready", lambda: opsrun.http_get(
            self.base + "/-/ready", timeout=2)[0] == 200, timeout=30)

    def query(self, q):
        """Instant vector: {frozenset(labels): value}."""
        import json
        status, _, body = opsrun.http_get(self.base + "/api/v1/query?query=" +
                                          urllib.parse.quote(q))
        if status != 200:
            raise fptest.Failure("query %s: HTTP %d %s" % (q, status, body[:300]))
        data = json.loads(body)["data"]
        return {frozenset(r["metric"].items()): float(r["value"][1]) for r in data["result"]}

    def stop(self):
        try:
            fptest.stop(self.proc, "prometheus")
        finally:
            self.log.close()


def by_category(vec):
    return {dict(k).get("category"): v for k, v in vec.items()}


def test_prometheus(ctx):
    if not os.path.exists(PROMETHEUS):
        raise Skip("prometheus is not installed (tools/test-deps.sh installs it)")
    pa, pb, pl = ctx.path("prom-a.pcap"), ctx.path("prom-b.pcap"), ctx.path("prom-live.pcap")
    opsrun.make_capture(pa, n_flows=12, seed=1)
    opsrun.make_capture(pb, n_flows=7, seed=2)
    opsrun.make_capture(pl, n_flows=6, seed=3)
    ph = fptest.Phases()
    live_port, live_prefix = opsrun.free_port(), "fpopslive%d" % os.getpid()
    live_log = open(ctx.path("live.log"), "w")
    # a live appliance: the capture replayed endlessly, so its counters keep growing
    live = fptest.spawn(
        [fptest.FLOWPICD, "--pcap", pl, "--model", ctx.model,
         "--set", "ports=['net_pcap0,rx_pcap=%s,infinite_rx=1']" % pl,
         "--set", "flow.clock=tsc", "--set", "flow.window=1",
         "--set", "flow.idle_timeout.tcp=1", "--set", "flow.idle_timeout.udp=1",
         "--set", "flow.min_packets=1",
         "--set", "export.metrics=127.0.0.1:%d" % live_port,
         # all three lcores on CPU 0: its busy pollers leave the other vCPU to the replays,
         # Prometheus and the test (with both vCPUs polled, stops stalled for minutes)
         "--set", "eal.args=[--no-huge, --no-shconf, -m, '512', --lcores, '0@0,1@0,2@0', "
         "--main-lcore, '0', --file-prefix, %s, --log-level, 'lib.eal:error']" % live_prefix],
        stdout=live_log, stderr=subprocess.STDOUT)
    prom = None
    try:
        with opsrun.Linger(ctx, pa) as a, opsrun.Linger(ctx, pb) as b:
            ph.mark("two replays lingering")
            prom = Prometheus(ctx, {
                "replay": ["127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port],
                "live": ["127.0.0.1:%d" % live_port]})
            # wait for a few scrapes of every target
            ph.mark("prometheus ready")
            opsrun.wait_for("3 up targets", lambda: sum(prom.query("up").values()) == 3,
                            timeout=30)
            ph.mark("3 targets up")
            opsrun.wait_for("4 samples per target", lambda: min(prom.query(
                "count_over_time(flowpic_finished[1m])").values() or [0]) >= 4, timeout=30)
            ph.mark("4 scrapes each")
            # many appliances, one Prometheus: the sum by category is the sum of the runs
            for field in ("bytes", "packets", "flows", "windows"):
                got = by_category(prom.query('sum by (category) (flowpic_category_%s_total'
                                             '{job="replay"})' % field))
                want = {c: float(a.stats["categories"][c][field] +
                                 b.stats["categories"][c][field]) for c in a.stats["categories"]}
                fptest.eq(got, want, "sum by (category) of %s over two appliances" % field)
            # finished captures: rates are exactly zero, one per category
            rates = by_category(prom.query('sum by (category) (rate(flowpic_category_bytes_total'
                                           '{job="replay"}[1m]))'))
            fptest.eq(rates, {c: 0.0 for c in a.stats["categories"]},
                      "rates of final counters")
            # the live appliance: Prometheus's rate agrees with two reads of /metrics
            url = "http://127.0.0.1:%d/metrics" % live_port

            def rx_bytes():
                s = opsrun.parse_metrics(opsrun.http_get(url)[2])
                return sum(v for (n, _), v in s.items() if n == "flowpic_rx_bytes_total")
            t0, b0 = time.monotonic(), rx_bytes()
            time.sleep(4)
            t1, b1 = time.monotonic(), rx_bytes()
            own = (b1 - b0) / (t1 - t0)
            prom_rate = sum(prom.query('rate(flowpic_rx_bytes_total{job="live"}[4s])').values())
            if own <= 0 or not (0.5 * own <= prom_rate <= 2.0 * own):
                raise fptest.Failure("live rx rate: prometheus %.0f B/s, /metrics reads %.0f "
                                     "B/s" % (prom_rate, own))
            cat_rate = sum(prom.query('sum by (category) (rate(flowpic_category_bytes_total'
                                      '{job="live"}[4s]))').values())
            if not (0.3 * prom_rate <= cat_rate <= 3.0 * prom_rate):
                raise fptest.Failure("live per-category rates sum to %.0f B/s, rx %.0f B/s" % (
                    cat_rate, prom_rate))
            print("     live: rx %.0f B/s (own reads %.0f), categories %.0f B/s" % (
                prom_rate, own, cat_rate))
            ph.mark("queries")
        ph.mark("replays stopped (exit, cleanup: %.1f s, %.1f s and %.1f s, %.1f s)" % (
            b.stop_seconds + a.stop_seconds))
    finally:
        if prom is not None:
            prom.stop()
        try:
            rc = fptest.stop(live, "live flowpicd")
        finally:
            live_log.close()
            opsrun.remove_runtime_dir(live_prefix)
            ph.mark("prometheus and live flowpicd stopped")
            print("     steps: %s" % ph)
    fptest.eq(rc, 0, "live flowpicd exit status after SIGTERM")


class Skip(Exception):
    pass


def main():
    skipped = []

    def guard(t):
        def run(ctx):
            try:
                t(ctx)
            except Skip as e:
                skipped.append("%s: %s" % (t.__name__, e))
        run.__name__ = t.__name__
        return run
    rc = fptest.main([test_exposition, test_bad_address, guard(test_prometheus)])
    if rc == 0 and skipped:
        print("SKIP " + "; ".join(skipped))
        return 77
    return rc


if __name__ == "__main__":
    sys.exit(main())
