"""Integration tests: signals on a live flowpicd (net_pcap infinite_rx): SIGTERM flush, SIGHUP reload."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcapgen as pg  # noqa: E402
import fptest  # noqa: E402


def live_config(ctx, name, pcap, model):
    path = ctx.path(name)
    with open(path, "w") as f:
        f.write("eal:\n  args: [--no-huge, --no-shconf, -m, '1024', --file-prefix, %s]\n" % name
                .replace(".", "_"))
        f.write("ports: ['net_pcap0,rx_pcap=%s,infinite_rx=1']\n" % pcap)
        f.write("flow:\n  clock: tsc\n")
        f.write("model:\n  path: %s\n" % model)
        f.write("export:\n  metrics: ''\n  stats_json: %s\n" % ctx.path(name + ".json"))
        f.write("log:\n  summary_interval: 0\n")
    return path


def small_capture(ctx):
    recs = []
    for i in range(200):
        recs.append((1000.0 + i * 0.01, pg.packet("10.5.0.%d" % (i % 50), "10.5.1.1", 17,
                                                  1000 + i % 50, 53, 200)))
    pcap = ctx.path("live.pcap")
    pg.write_pcap(pcap, recs)
    return pcap


class Daemon:
    """flowpicd running in the background; stderr and stdout go to files."""

    def __init__(self, ctx, conf):
        self.out = open(ctx.path("live.out"), "w+")
        self.err = open(ctx.path("live.err"), "w+")
        self.p = fptest.spawn([fptest.FLOWPICD, "-c", conf], stdout=self.out,
                                  stderr=self.err)

    def log(self):
        self.err.flush()
        with open(self.err.name) as f:
            return f.read()

    def wait_log(self, text, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            if text in self.log():
                return True
            if self.p.poll() is not None:
                break
            time.sleep(0.2)
        self.p.kill()   # a failed test leaves no daemon polling behind it
        self.p.wait()
        raise fptest.Failure("flowpicd log never said %r; log:\n%s" % (text, self.log()[-3000:]))

    def stop(self, timeout=30):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            raise fptest.Failure("flowpicd did not exit within %d s of SIGTERM" % timeout)
        with open(self.out.name) as f:
            return rc, f.read()


def test_sigterm_under_load(ctx):
    conf = live_config(ctx, "term.yaml", small_capture(ctx), ctx.model)
    d = Daemon(ctx, conf)
    d.wait_log("RX lcore(s)")
    time.sleep(2)
    t0 = time.time()
    rc, out = d.stop()
    fptest.eq(rc, 0, "exit status after SIGTERM")
    fptest.contains(out, "accounting: ok", "final counters after SIGTERM")
    import json
    st = json.load(open(ctx.path("term.yaml.json")))
    if st["rx"]["packets"] < 10000:
        raise fptest.Failure("expected a loaded run, got %d packets" % st["rx"]["packets"])
    if time.time() - t0 > 20:
        raise fptest.Failure("SIGTERM took %.1f s" % (time.time() - t0))


def test_sighup_reload(ctx):
    model = ctx.path("reload.fpm")
    shutil.copy(ctx.model, model)
    conf = live_config(ctx, "hup.yaml", small_capture(ctx), model)
    d = Daemon(ctx, conf)
    try:
        d.wait_log("RX lcore(s)")
        # A good new model with the same classes: installed.
        fptest.make_model(model, seed=7)
        d.p.send_signal(signal.SIGHUP)
        d.wait_log("model reloaded from %s" % model)
        # A corrupt file: rejected with the loader's reason, old model kept, still running.
        with open(model, "r+b") as f:
            f.seek(-8, 2)
            f.write(b"\x00" * 8)
        d.p.send_signal(signal.SIGHUP)
        d.wait_log("model reload rejected")
        fptest.contains(d.log(), "checksum", "reason of the rejection")
        # Other classes: rejected too.
        fptest.make_model(model, classes=["a", "b", "c", "d", "e"], seed=3)
        d.p.send_signal(signal.SIGHUP)
        end = time.time() + 30
        while d.log().count("model reload rejected") < 2 and time.time() < end:
            time.sleep(0.2)
        if d.log().count("model reload rejected") < 2:
            raise fptest.Failure("a model with other classes was not rejected:\n" + d.log())
        fptest.contains(d.log(), "class 1 is 'a'", "why other classes are rejected")
        if d.p.poll() is not None:
            raise fptest.Failure("flowpicd died after the reloads")
    finally:
        rc, out = d.stop()
    fptest.eq(rc, 0, "exit status")
    fptest.contains(out, "accounting: ok", "no packet lost across reloads")


if __name__ == "__main__":
    sys.exit(fptest.main([test_sigterm_under_load, test_sighup_reload]))
