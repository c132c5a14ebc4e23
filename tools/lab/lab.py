# Traffic lab driver: runs seeded application sessions in parallel slots, captures and labels them.
import argparse
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import apps  # noqa: E402
import content  # noqa: E402
import label  # noqa: E402
import labnet  # noqa: E402
import session  # noqa: E402

DEFAULT_SLOTS = "voip=5,video=4,chat=4,browsing=5,file_transfer=6"


class Run:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.out = os.path.abspath(args.out)
        self.tag = args.tag or ("r%d" % (args.seed % 10000))
        self.content = os.path.abspath(args.content or os.path.join(self.out, "content"))
        self.ca_dir = os.path.join(self.out, "pki")
        self.stopping = False
        self.lock = threading.Lock()
        self.records = os.path.join(self.out, "sessions.jsonl")
        self.logf = open(os.path.join(self.out, "lab.log"), "a")

    def log(self, msg):
        line = "%s %s" % (time.strftime("%H:%M:%S"), msg)
        with self.lock:
            self.logf.write(line + "\n")
            self.logf.flush()
            if not self.args.quiet:
                print(line, flush=True)


def parse_slots(text):
    """'voip=5,chat=4@0' -> [('voip', None), ... ('chat', 0.0), ...]; @share sets the VPN share."""
    slots = []
    for part in text.split(","):
        if not part.strip():
            continue
        cat, n = part.split("=")
        share = None
        if "@" in n:
            n, share = n.split("@")
            share = float(share)
            if not 0.0 <= share <= 1.0:
                raise SystemExit("VPN share out of [0, 1] in --slots: %s" % part)
        if cat not in apps.CATEGORIES:
            raise SystemExit("unknown category in --slots: %s" % cat)
        slots += [(cat, share)] * int(n)
    return slots


def slot_worker(run, slot_no, category, vpn_share, t_stop):
    """Run sessions of one category back to back until t_stop; each drawn from the slot's RNG."""
    rng = random.Random("%d-%s-%d" % (run.seed, category, slot_no))
    choices = apps.for_category(category, run.args.apps)
    if not choices:
        return
    k = rng.randrange(len(choices))
    n = 0
    while not run.stopping:
        left = t_stop - time.time()
        if left < min(120.0, run.args.min_session):
            break
        app = choices[k % len(choices)]
        k += 1
        vpn = rng.random() < (run.args.vpn_share if vpn_share is None else vpn_share)
        want = rng.uniform(run.args.min_session, run.args.max_session)
        dur = min(left - 5, want)
        params = app.draw(rng, dur)
        index = slot_no * 256 + n
        n += 1
        s = session.Session(run, index, app, vpn, params, dur, params.get("link_kbit"))
        run.log("start %s for %.0f s" % (s.name, dur))
        rec = s.execute()
        with run.lock:
            session.write_record(run.records, rec)
        run.log("end %s%s" % (s.name, " ERROR " + s.error if s.error else ""))
        if s.error:
            time.sleep(5)


def cmd_run(args):
    os.makedirs(args.out, exist_ok=True)
    run = Run(args)
    slots = parse_slots(args.slots)

    def on_signal(signum, frame):
        run.stopping = True
        run.log("signal %d: stopping sessions" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # inherited by every program started
    labnet.cleanup(run.tag)
    run.log("content in %s" % run.content)
    content.make_all(run.content, args.content_seed, os.path.join(run.out, "content.log"),
                     {cat for cat, _ in slots})
    t0 = time.time()
    t_stop = t0 + args.duration
    meta = {"seed": args.seed, "content_seed": args.content_seed, "tag": run.tag,
            "duration_s": args.duration, "slots": args.slots,
            "vpn_share": args.vpn_share,
            "first_slot": args.first_slot, "apps": args.apps, "min_session": args.min_session,
            "max_session": args.max_session, "t_start": t0, "argv": sys.argv}
    with open(os.path.join(run.out, "run.json"), "w") as f:
        json.dump(meta, f, indent=1)
    threads = []
    for i, (cat, share) in enumerate(slots):
        if i < args.first_slot:
            continue
        th = threading.Thread(target=slot_worker, args=(run, i, cat, share, t_stop), daemon=True)
        th.start()
        threads.append(th)
        time.sleep(args.stagger)
    for th in threads:
        while th.is_alive():
            th.join(1.0)
    labnet.cleanup(run.tag)
    meta["t_end"] = time.time()
    with open(os.path.join(run.out, "run.json"), "w") as f:
        json.dump(meta, f, indent=1)
    run.log("labelling")
    n = label.label_run(run.out)
    run.log("manifest written: %d flows" % n)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="run.sh", description="flowpic traffic lab")
    p.add_argument("--seed", type=int, required=True, help="seed every random choice derives from")
    p.add_argument("--out", required=True, help="output directory (captures, manifest, logs)")
    p.add_argument("--duration", type=float, default=6300, help="wall-clock seconds to record")
    p.add_argument("--slots", default=DEFAULT_SLOTS,
                   help="parallel sessions per category, e.g. %s; CAT=N@S gives those "
                        "slots their own VPN share S" % DEFAULT_SLOTS)
    p.add_argument("--apps", default=None, help="comma list of application names to use (default all)")
    p.add_argument("--vpn-share", type=float, default=0.4, help="share of sessions run inside OpenVPN")
    p.add_argument("--min-session", type=float, default=300, help="shortest session, seconds")
    p.add_argument("--max-session", type=float, default=900, help="longest session, seconds")
    p.add_argument("--stagger", type=float, default=3.0, help="seconds between slot starts")
    p.add_argument("--first-slot", type=int, default=0,
                   help="run only the slots from this one on (the others run elsewhere)")
    p.add_argument("--content", default=None, help="content directory to reuse (default OUT/content)")
    p.add_argument("--content-seed", type=int, default=1,
                   help="seed of the served content (videos, web corpus, files)")
    p.add_argument("--tag", default=None, help="namespace tag (default from the seed)")
    p.add_argument("--nice", type=int, default=-5,
                   help="niceness of the lab and its programs, so that load elsewhere on the "
                        "machine delays them less (0 leaves it)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("the lab needs root (network namespaces)")
    if args.tag is not None and (len(args.tag) > 5 or not args.tag.isalnum()):
        raise SystemExit("--tag must be 1-5 letters/digits")
    if len(parse_slots(args.slots)) > 64:
        raise SystemExit("at most 64 slots")
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
