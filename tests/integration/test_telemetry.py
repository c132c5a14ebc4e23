"""Integration tests: flowpicd's /flowpic/* commands on DPDK's telemetry socket."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fptest  # noqa: E402
import opsrun  # noqa: E402

DPDK_TELEMETRY = "/usr/bin/dpdk-telemetry.py"
INFO_ONLY = ("window_sampled", "table_evict")     # informational reasons, not drops


def test_commands(ctx):
    pcap = ctx.path("tel.pcap")
    recs = opsrun.make_capture(pcap, n_flows=10)
    with opsrun.Linger(ctx, pcap) as run:
        st = run.stats
        tel = lambda cmd: opsrun.telemetry(run.sock, cmd)  # noqa: E731

        listed = tel("/")
        for cmd in ("/flowpic/categories", "/flowpic/stats", "/flowpic/drops", "/flowpic/rx",
                    "/flowpic/workers", "/flowpic/model"):
            if cmd not in listed:
                raise fptest.Failure("%s not registered" % cmd)
        fptest.contains(tel("/help,/flowpic/categories").get("/flowpic/categories"),
                        "Per-category", "help text")

        cats = tel("/flowpic/categories")
        fptest.eq(cats["names"], fptest.CLASSES + ["unknown", "unclassified", "other"],
                  "category names")
        for i, name in enumerate(cats["names"]):
            for field in ("packets", "bytes", "flows", "windows"):
                fptest.eq(cats[field][i], st["categories"][name][field],
                          "%s %s" % (name, field))
            fptest.eq(round(float(cats["share"][i]), 5),
                      round(st["categories"][name]["bytes"] / st["rx"]["bytes"], 5),
                      "%s share" % name)
        fptest.eq(sum(cats["bytes"]), sum(len(r[1]) for r in recs), "bytes of the capture")

        stats = tel("/flowpic/stats")
        fptest.eq(stats["rx_packets"], len(recs), "rx_packets")
        fptest.eq(stats["rx_bytes"], st["rx"]["bytes"], "rx_bytes")
        fptest.eq(stats["finished"], 1, "finished")
        fptest.eq(stats["drops"], sum(v for k, v in st["drops"].items()
                                      if not k.startswith("nic_") and k not in INFO_ONLY),
                  "drops")
        classified = sum(st["categories"][c]["windows"] for c in fptest.CLASSES + ["unknown"])
        fptest.eq(stats["windows_sent"], classified, "windows sent = windows classified")
        if stats["inference_batches"] < 1 or stats["inference_mean_us"] <= 0:
            raise fptest.Failure("no inference latency: %r" % stats)
        if not stats["inference_p50_us"] <= stats["inference_p99_us"]:
            raise fptest.Failure("p50 above p99: %r" % stats)

        fptest.eq(tel("/flowpic/drops"), st["drops"], "drops by reason")
        rx = tel("/flowpic/rx")
        fptest.eq((sum(rx["packets"]), sum(rx["bytes"])),
                  (st["rx"]["packets"], st["rx"]["bytes"]), "per-queue sums")
        workers = tel("/flowpic/workers")
        fptest.eq(sum(workers["windows"]), classified, "worker windows")
        model = tel("/flowpic/model")
        fptest.eq((model["name"], model["classes"], model["resolution"], model["direction"],
                   model["window_us"]), ("lenet5-32", fptest.CLASSES, 32, "both", 60000000),
                  "model")

        # passive: the port was configured without a TX queue, promiscuous, and sent nothing
        info = tel("/ethdev/info,0")
        fptest.eq((info["nb_tx_queues"], info["txq_state"], info["promiscuous"]), (0, [], 1),
                  "port 0: no TX queue, promiscuous")
        eth = tel("/ethdev/stats,0")
        fptest.eq((eth["opackets"], eth["obytes"], eth["ipackets"]), (0, 0, len(recs)),
                  "port 0 counters: nothing transmitted, every frame received")

        # DPDK's own client reads the same answers
        if os.path.exists(DPDK_TELEMETRY):
            p = subprocess.run([DPDK_TELEMETRY, "-f", run.prefix],
                               input="/flowpic/categories\n/flowpic/model\n", text=True,
                               capture_output=True, timeout=30)
            fptest.eq(p.returncode, 0, "dpdk-telemetry.py exit status")
            replies = [json.loads(line) for line in p.stdout.splitlines()
                       if line.strip().startswith("{")]
            got = {}
            for r in replies:
                got.update(r)
            fptest.eq(got.get("/flowpic/categories"), cats, "dpdk-telemetry.py categories")
            fptest.eq(got.get("/flowpic/model"), model, "dpdk-telemetry.py model")
        else:
            print("     (no %s: install dpdk-dev to check with DPDK's client)" % DPDK_TELEMETRY)


def test_socket_gone_after_exit(ctx):
    """After SIGTERM the process leaves and nobody answers on its socket any more."""
    pcap = ctx.path("tel2.pcap")
    opsrun.make_capture(pcap, n_flows=3)
    run = opsrun.Linger(ctx, pcap)
    with run:
        fptest.eq(opsrun.telemetry(run.sock, "/flowpic/stats")["finished"], 1, "finished")
    try:
        opsrun.telemetry(run.sock, "/flowpic/stats", timeout=2)
    except OSError:
        return
    raise fptest.Failure("telemetry still answers after exit")


if __name__ == "__main__":
    sys.exit(fptest.main([test_commands, test_socket_gone_after_exit]))
