"""Integration tests: flowpicd's command line: --check, and one clear line for each bad config."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fptest  # noqa: E402

REF = os.path.join(fptest.TOP, "config", "flowpicd.yaml")


def run(args, cwd=None):
    return subprocess.run([fptest.FLOWPICD] + args, capture_output=True, text=True, timeout=60,
                          cwd=cwd or fptest.TOP)


def one_error(ctx, name, text, want, extra=()):
    """Write text as a config, run --check, expect exit 1 and exactly the line want."""
    path = ctx.path(name)
    with open(path, "w") as f:
        f.write(text)
    r = run(["-c", path, "--check"] + list(extra))
    fptest.eq(r.returncode, 1, "%s: exit status" % name)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    fptest.eq(len(lines), 1, "%s: one line of error, got %r" % (name, r.stderr))
    fptest.eq(lines[0], want.replace("FILE", path), "%s: message" % name)
    if "EAL" in r.stdout + r.stderr:
        raise fptest.Failure("%s: EAL started before the config was checked" % name)


def test_check_reference(ctx):
    r = run(["-c", REF, "--check"])
    if r.returncode != 0:
        raise fptest.Failure("--check of the reference config: exit %d: %s" %
                             (r.returncode, r.stderr))
    fptest.contains(r.stdout, "ok", "--check says ok")
    r = run(["--help-config"])
    fptest.eq(r.returncode, 0, "--help-config")
    fptest.contains(r.stdout, "flow.window", "--help-config lists the keys")


def test_bad_configs(ctx):
    base = "model:\n  path: %s\n" % ctx.model
    cases = [
        ("unknown.yaml", base + "flow:\n  windwo: 30\n",
         "FILE:4:3: unknown key 'flow.windwo' (did you mean 'flow.window'?)"),
        ("type.yaml", base + "flow:\n  window: soon\n",
         "FILE:4:11: flow.window: expected a number, got 'soon'"),
        ("range.yaml", base + "flow:\n  window: 0\n",
         "FILE:4:11: flow.window: 0 is out of range [1, 3600]"),
        ("dup.yaml", base + "flow:\n  window: 30\n  window: 40\n",
         "FILE:5:3: duplicate key 'flow.window' (first at 4:3)"),
        ("malformed.yaml", base + "flow: [1, 2\n",
         "FILE:4:1: invalid YAML: did not find expected ',' or ']' "
         "(while parsing a flow sequence at 3:7)"),
        ("model.yaml", "model:\n  path: /nonexistent/m.fpm\n", None),
        ("roles.yaml", base + "lcores:\n  rx: [1]\n  workers: [1]\n",
         "FILE:5:12: lcores.workers: lcore 1 is both an RX and a worker lcore "
         "(an lcore has one role)"),
        ("toomany.yaml", base + "eal:\n  args: [-l, '0-1']\nlcores:\n  rx: [1]\n"
         "  workers: [2, 3]\n",
         "FILE:7:12: lcores.workers: 1 RX + 2 worker + 1 stats lcores need 4 lcores, but "
         "eal.args '-l 0-1' gives 2"),
        ("norx.yaml", base + "lcores:\n  rx: []\n",
         "FILE:4:7: lcores.rx: no RX lcore (at least one is needed)"),
    ]
    for name, text, want in cases:
        if want is None:
            path = ctx.path(name)
            with open(path, "w") as f:
                f.write(text)
            r = run(["-c", path, "--check"])
            fptest.eq(r.returncode, 1, "unreadable model.path: exit status")
            lines = [x for x in r.stderr.splitlines() if x.strip()]
            fptest.eq(len(lines), 1, "unreadable model.path: one line, got %r" % r.stderr)
            if not lines[0].startswith(path + ":2:9: model.path:") or \
                    "/nonexistent/m.fpm" not in lines[0]:
                raise fptest.Failure("unreadable model.path: %r" % lines[0])
            continue
        one_error(ctx, name, text, want)
    # --set errors point into the override.
    r = run(["-c", REF, "--check", "--set", "flow.window=abc"])
    fptest.eq(r.returncode, 1, "--set error: exit status")
    fptest.contains(r.stderr, "--set:1:13: flow.window", "--set error position")
    # A missing config file.
    missing = ctx.path("missing-config.yaml")
    r = run(["-c", missing, "--check"])
    fptest.eq(r.returncode, 1, "missing config: exit status")
    fptest.contains(r.stderr, missing, "missing config: names the file")
    # A pinned resolution the model does not take.
    r = run(["-c", REF, "--check", "--set", "model.path=" + ctx.model,
             "--set", "flowpic.resolution=64"])
    fptest.eq(r.returncode, 1, "resolution mismatch: exit status")
    fptest.contains(r.stderr, "flowpic.resolution is 64 but model", "resolution mismatch")
    # A broken model file: the loader's own line.
    bad = ctx.path("bad.fpm")
    with open(ctx.model, "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[:-100])
    r = run(["-c", REF, "--check", "--set", "model.path=" + bad])
    fptest.eq(r.returncode, 1, "truncated model: exit status")
    fptest.contains(r.stderr, bad + ": weights truncated", "truncated model message")


def test_speed_option(ctx):
    """--speed: a number in (0, 1e6], and only for an offline replay; refused before EAL."""
    pcap = os.path.join(fptest.TOP, "models", "samples", "sample.pcap")
    for bad in ("0", "-1", "fast", "1e7", ""):
        r = run(["--pcap", pcap, "--model", ctx.model, "--speed", bad])
        fptest.eq(r.returncode, 2, "--speed %r: exit status" % bad)
        fptest.contains(r.stderr, "--speed %s: need a number above 0 and at most 1000000" % bad,
                        "--speed %r: message" % bad)
    # a live port (net_null) is not a replay: there is no capture pace to keep
    r = run(["--pcap", pcap, "--model", ctx.model, "--speed", "1",
             "--set", "ports=['net_null0']", "--set", "flow.clock=tsc"])
    fptest.eq(r.returncode, 2, "--speed on a live port: exit status")
    fptest.contains(r.stderr, "--speed paces an offline replay only", "--speed live: message")
    if "EAL" in r.stdout + r.stderr:
        raise fptest.Failure("--speed live: EAL started before the refusal")


def test_unprivileged(ctx):
    """An offline replay needs no root: user nobody replays the sample (no hugepages, no
    NIC), the counters add up, and DPDK's runtime files go under nobody's own directory."""
    pcap = os.path.join(fptest.TOP, "models", "samples", "sample.pcap")
    home = ctx.path("nobody-home")
    os.mkdir(home)
    os.chown(home, 65534, 65534)
    os.chmod(ctx.tmp, 0o755)
    os.chmod(ctx.model, 0o644)
    sj = os.path.join(home, "stats.json")
    p = subprocess.run(["runuser", "-u", "nobody", "--", "env", "HOME=" + home,
                        "XDG_RUNTIME_DIR=" + home, fptest.FLOWPICD, "--pcap", pcap,
                        "--model", ctx.model, "--stats-json", sj],
                       capture_output=True, text=True, timeout=120 * fptest.TIMEOUT_SCALE)
    fptest.eq(p.returncode, 0, "exit status as nobody (stderr: %s)" % p.stderr[-2000:])
    with open(sj) as f:
        stats = json.load(f)
    fptest.check_accounting(fptest.Result(p.returncode, p.stdout, p.stderr, stats, []))
    if stats["rx"]["packets"] == 0:
        raise fptest.Failure("nobody's replay received nothing")
    fptest.eq(os.stat(sj).st_uid, 65534, "stats file owned by nobody")
    if not os.path.isdir(os.path.join(home, "dpdk")):
        raise fptest.Failure("EAL runtime directory not under XDG_RUNTIME_DIR: %r" %
                             os.listdir(home))


if __name__ == "__main__":
    sys.exit(fptest.main([test_check_reference, test_bad_configs, test_speed_option,
                              test_unprivileged]))
