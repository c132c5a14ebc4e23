"""Harness for flowpicd integration tests: run flowpicd, read its outputs, assert, report."""
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

TOP = os.environ.get("FP_SRCDIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("FP_BUILDDIR") or os.path.join(TOP, "build")
FLOWPICD = os.environ.get("FLOWPICD") or os.path.join(BUILD, "app", "flowpicd", "flowpicd")
sys.path.insert(0, os.path.join(TOP, "tools", "model"))

CLASSES = ["voip", "video", "chat", "browsing", "file_transfer"]

# Slow builds stretch the harness's time limits: tools/test-sanitize.sh sets 3, as it gives
# meson test --timeout-multiplier 3 (ASan + UBSan on a shared 2-core machine).
TIMEOUT_SCALE = float(os.environ.get("FP_TIMEOUT_SCALE") or 1)


class Failure(AssertionError):
    pass


def eq(actual, expected, what):
    if actual != expected:
        raise Failure("%s: expected %r, actual %r" % (what, expected, actual))


def contains(text, needle, what):
    if needle not in (text or ""):
        raise Failure("%s: %r not found in %r" % (what, needle, (text or "")[-2000:]))


def check_accounting(res):
    """The accounting identity: categories sum to what was received, packets and bytes."""
    st = res.stats
    pk = sum(c["packets"] for c in st["categories"].values())
    by = sum(c["bytes"] for c in st["categories"].values())
    eq(pk, st["rx"]["packets"], "accounting identity (packets)")
    eq(by, st["rx"]["bytes"], "accounting identity (bytes)")
    contains(res.stdout, "accounting: ok", "flowpicd's own accounting check")
    # every received packet was received by one RX lcore; each lcore's driver cycles are part
    # of its busy cycles, which are part of its run
    lc = st["rx_lcores"]
    eq(sum(r["packets"] for r in lc), st["rx"]["packets"], "RX lcores' packets sum to rx")
    for r in lc:
        if not r["driver_cycles"] <= r["busy_cycles"] <= r["run_cycles"]:
            raise Failure("RX lcore %d: driver %d <= busy %d <= run %d cycles fails" % (
                r["lcore"], r["driver_cycles"], r["busy_cycles"], r["run_cycles"]))
    if st["rx"]["packets"] > 0 and not any(r["driver_cycles"] > 0 for r in lc):
        raise Failure("packets received but no RX lcore counted driver cycles")


def counters(stats):
    """The counters of a --stats-json, without the timing figures that differ run to run."""
    return {k: stats[k] for k in ("rx", "categories", "drops")}


def canon(verdicts):
    keys = ("time", "src", "dst", "sport", "dport", "proto", "window", "category",
            "packets", "bytes")
    return sorted(tuple(v[k] for k in keys) + (round(v["confidence"], 3),) for v in verdicts)


def _die_with_parent():
    """In the child before exec: the kernel sends it SIGKILL when the test process dies, so a
    test killed by meson's timeout leaves no flowpicd polling (and loading the CPUs) behind."""
    import ctypes
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def spawn(cmd, **kw):
    """subprocess.Popen(cmd, **kw) for a long-lived process: it dies with the test."""
    return subprocess.Popen(cmd, preexec_fn=_die_with_parent, **kw)


def threads(pid):
    """One line per thread of pid: its id, name, state and kernel wait channel."""
    out = []
    for task in sorted(glob.glob("/proc/%d/task/*" % pid)):
        try:
            stat = open(task + "/stat").read()
            wchan = open(task + "/wchan").read() if os.path.exists(task + "/wchan") else "?"
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        state = stat[stat.rindex(")") + 2]
        out.append("  tid %s %-16s state %s wchan %s" % (os.path.basename(task), name, state,
                                                         wchan or "-"))
    return "\n".join(out)


def stacks(pid, timeout=60):
    """Every thread's backtrace of a live process (gdb in batch mode), or why there is none."""
    try:
        p = subprocess.run(["gdb", "-batch", "-nx", "-p", str(pid), "-ex",
                            "thread apply all bt 25"], capture_output=True, text=True,
                           timeout=timeout)
        return "\n".join(line for line in p.stdout.splitlines()
                         if line.startswith(("Thread ", "#")))
    except (OSError, subprocess.TimeoutExpired) as e:
        return "(no backtrace: %s)" % e


def stop(proc, what, timeout=120, sig=signal.SIGTERM):
    """Send sig to proc and return its exit status. If it has not exited after timeout seconds
    (scaled by TIMEOUT_SCALE), raise Failure naming it, with the state and backtrace of every
    thread, after killing it; the waits after SIGKILL are bounded too, so a test never hangs.
    The default is generous: on this VM stops of a lingering flowpicd in test_metrics took
    10..241 s now and then, and one bounded at 20 s returned normally after 241 s, so the test
    process itself had not run for minutes; a short bound fails on the machine, not on
    flowpicd (a flowpicd that ignores the signal still fails the test)."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(sig)
    t0 = time.monotonic()
    try:
        # a slow stop is reported (thread states after 20 s) even when it ends in time
        return proc.wait(timeout=min(20, timeout * TIMEOUT_SCALE))
    except subprocess.TimeoutExpired:
        # the line first: reading /proc of an exiting process can itself wait
        print("     slow stop: %s (pid %d) still running %.0f s after %s:" % (
            what, proc.pid, time.monotonic() - t0, signal.Signals(sig).name), flush=True)
        print(threads(proc.pid), flush=True)
    try:
        return proc.wait(timeout=max(0, timeout * TIMEOUT_SCALE - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        pass
    info = "threads:\n%s\nbacktraces:\n%s" % (threads(proc.pid), stacks(proc.pid))
    proc.kill()
    try:
        proc.wait(timeout=60)
        after = "it exited on SIGKILL"
    except subprocess.TimeoutExpired:
        after = "it did not exit 60 s after SIGKILL either:\n%s" % threads(proc.pid)
    raise Failure("%s (pid %d) ignored %s for %d s; %s\n%s" % (
        what, proc.pid, signal.Signals(sig).name, timeout * TIMEOUT_SCALE, after, info))


class Phases:
    """Wall time of a test's steps, printed with the test's output so a slow or failed run in
    CI shows where its time went: mark(name) ends the step called name."""

    def __init__(self):
        self.t = time.monotonic()
        self.steps = []

    def mark(self, name):
        now = time.monotonic()
        self.steps.append("%s %.1f s" % (name, now - self.t))
        self.t = now

    def __str__(self):
        return ", ".join(self.steps)


def make_model(path, resolution=32, classes=CLASSES, seed=1):
    """A LeNet-5 FlowPic model with random weights (pipeline tests need any valid model)."""
    import numpy as np
    import fpmodel
    rng = np.random.default_rng(seed)
    m = fpmodel.lenet5(resolution, classes)
    m.init_random(rng)
    m.save(path)
    return path


class Result:
    def __init__(self, rc, stdout, stderr, stats, verdicts):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr
        self.stats, self.verdicts = stats, verdicts


class Ctx:
    def __init__(self, tmp):
        self.tmp = tmp
        self.model = make_model(self.path("test-32.fpm"))
        self.runs = 0

    def path(self, name):
        return os.path.join(self.tmp, name)

    def run(self, pcap, args=(), expect_rc=0, timeout=120):
        self.runs += 1
        sj = self.path("stats%d.json" % self.runs)
        vl = self.path("verdicts%d.jsonl" % self.runs)
        cmd = [FLOWPICD, "--pcap", pcap, "--model", self.model, "--stats-json", sj,
               "--verdicts", vl] + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout * TIMEOUT_SCALE)
        if p.returncode != expect_rc:
            raise Failure("%s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
                " ".join(cmd), p.returncode, expect_rc, p.stdout[-3000:], p.stderr[-3000:]))
        stats = json.load(open(sj)) if os.path.exists(sj) else None
        verdicts = []
        if os.path.exists(vl):
            with open(vl) as f:
                verdicts = [json.loads(line) for line in f if line.strip()]
        return Result(p.returncode, p.stdout, p.stderr, stats, verdicts)


def main(tests):
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="fptest-") as tmp:
        ctx = Ctx(tmp)
        for t in tests:
            t0 = time.monotonic()
            try:
                t(ctx)
                print("ok   %s (%.1f s)" % (t.__name__, time.monotonic() - t0))
                passed += 1
            except Exception as e:  # noqa: BLE001 - every failure is reported
                print("FAIL %s (%.1f s): %s" % (t.__name__, time.monotonic() - t0, e))
                if not isinstance(e, Failure):
                    traceback.print_exc()
                failed += 1
            sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1
