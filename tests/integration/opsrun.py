"""Operator-interface test helpers: captures, a lingering flowpicd, HTTP and telemetry reads."""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import fptest
import pcapgen as pg

T0 = 1_700_000_000.0
STAT = os.path.join(fptest.TOP, "tools", "flowpic-stat")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_capture(path, n_flows=12, seed=0):
    """Flows of different shapes (sizes, gaps, protocols) so a model spreads them over classes;
    plus 5 ARP frames (category other). Returns the records written."""
    recs = []
    for f in range(n_flows):
        kind = (f + seed) % 4
        n, gap, size = [(40, 0.5, 120), (60, 0.2, 1400), (25, 2.0, 600), (80, 0.1, 200)][kind]
        proto = 17 if kind in (0, 3) else 6
        src, dst = "10.%d.0.%d" % (seed, f + 1), "10.%d.1.1" % seed
        for i in range(n):
            back = i % 3 == 2
            a, b, pa, pb = (dst, src, 443, 30000 + f) if back else (src, dst, 30000 + f, 443)
            sz = size if not back else max(60, size // 3 + (i * 37) % 500)
            recs.append((T0 + 0.3 * f + gap * i, pg.packet(a, b, proto, pa, pb, sz)))
    recs += [(T0 + 1 + i, pg.eth(pg.ETH_ARP, bytes(28))) for i in range(5)]
    recs.sort(key=lambda r: r[0])
    pg.write_pcap(path, recs)
    return recs


def http_get(url, method="GET", timeout=5):
    """(status, headers dict with lower-case names, body text); never raises on HTTP errors."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


def telemetry(path, cmd, timeout=5):
    """One DPDK telemetry command on socket path; returns the value of its reply."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    try:
        s.connect(path)
        json.loads(s.recv(16384).decode())
        s.send(cmd.encode())
        return json.loads(s.recv(1 << 20).decode())[cmd.split(",")[0]]
    finally:
        s.close()


def remove_runtime_dir(prefix):
    """EAL leaves /var/run/dpdk/PREFIX behind; remove it once its process has exited."""
    shutil.rmtree("/var/run/dpdk/%s" % prefix, ignore_errors=True)


def wait_for(what, fn, timeout=60, step=0.2):
    """Call fn until it returns something true; Failure after timeout seconds (scaled by
    fptest.TIMEOUT_SCALE)."""
    timeout *= fptest.TIMEOUT_SCALE
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
        except (OSError, ValueError, KeyError) as e:
            last = e
        time.sleep(step)
    raise fptest.Failure("timed out after %d s waiting for %s (last error: %s)" % (
        timeout, what, last))


class Linger:
    """flowpicd --pcap CAPTURE --linger with metrics on a free loopback port and its own EAL
    file prefix (so its telemetry socket is its own). Use as a context manager; leaving it
    sends SIGTERM and checks the exit status 0."""

    n = 0

    def __init__(self, ctx, pcap, args=(), port=None):
        Linger.n += 1
        self.ctx = ctx
        self.port = port or free_port()
        self.prefix = "fpops%d_%d" % (os.getpid(), Linger.n)
        self.stats_path = ctx.path("%s.json" % self.prefix)
        self.log_path = ctx.path("%s.log" % self.prefix)
        self.url = "http://127.0.0.1:%d/metrics" % self.port
        self.sock = "/var/run/dpdk/%s/dpdk_telemetry.v2" % self.prefix
        self.cmd = [fptest.FLOWPICD, "--pcap", pcap, "--model", ctx.model, "--linger",
                    "--stats-json", self.stats_path,
                    "--set", "export.metrics=127.0.0.1:%d" % self.port,
                    "--set", "eal.args=[--no-huge, --no-shconf, -m, '512', --file-prefix, "
                    "%s, --log-level, 'lib.eal:error']" % self.prefix] + list(args)
        self.proc = None
        self.stats = None

    def __enter__(self):
        self.log = open(self.log_path, "w")
        self.proc = fptest.spawn(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_for("flowpicd to finish the capture and linger", self.finished)
        except Exception:
            self.stop(check=False)
            raise
        self.stats = json.load(open(self.stats_path))
        return self

    def finished(self):
        if self.proc.poll() is not None:
            raise fptest.Failure("flowpicd exited with %d before lingering:\n%s" % (
                self.proc.returncode, self.output()))
        status, _, body = http_get(self.url, timeout=2)
        return status == 200 and "\nflowpic_finished 1\n" in body and \
            os.path.exists(self.stats_path) and "lingering" in self.output()

    def output(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, check=True):
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        t0 = time.monotonic()
        try:
            rc = fptest.stop(proc, "flowpicd lingering on %s" % self.url)
        finally:
            self.log.close()
            t1 = time.monotonic()
            remove_runtime_dir(self.prefix)
            self.stop_seconds = (t1 - t0, time.monotonic() - t1)
        if check and rc != 0:
            raise fptest.Failure("flowpicd exited %d after SIGTERM, expected 0:\n%s" % (
                rc, open(self.log_path).read()[-3000:]))
        return rc

    def __exit__(self, et, ev, tb):
        self.stop(check=et is None)
        return False


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} of a text exposition."""
    import re
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = sample.match(line)
        if m is None:
            raise fptest.Failure("not an exposition sample line: %r" % line)
        out[(m.group(1), frozenset(label.findall(m.group(2) or "")))] = float(m.group(3))
    return out


def value(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    if key not in samples:
        raise fptest.Failure("metric %s%r missing" % (name, labels))
    return samples[key]
