# Checks the lab's application table: seeded draws repeat, video players' command lines run.
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "lab"))

import apps  # noqa: E402

passed = 0
failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s%s" % (what, ": " + detail if detail else ""))


class Sess:
    """What an application's argv() reads of a session: its drawn parameters and server."""

    def __init__(self, params):
        self.params = params
        self.server_ip = "10.99.0.2"


names = [a.name for a in apps.ALL]
check("application names are unique", len(names) == len(set(names)), str(names))
for cat in apps.CATEGORIES:
    check("%s has two or more applications" % cat, len(apps.for_category(cat)) >= 2)
for a in apps.ALL:
    one = a.draw(random.Random("t-%s" % a.name), 300.0)
    two = a.draw(random.Random("t-%s" % a.name), 300.0)
    check("%s: the same seed draws the same parameters" % a.name, one == two)
    if a.category != "video":
        continue
    argv = a.argv(Sess(one))
    check("%s: %s is installed" % (a.name, argv[0]),
          shutil.which(argv[0]) is not None or os.path.exists(argv[0]))

# mpv rejects an unknown option with exit status 1 before opening anything; with every option
# accepted, a missing input file exits 2 ("some files could not be played").
mpv = apps.by_name("mpv")
for seed in range(5):
    argv = mpv.argv(Sess(mpv.draw(random.Random(seed), 300.0)))
    argv[-1] = "/nonexistent/flowpic-lab-test.m3u8"
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    check("mpv accepts the lab's options (draw %d)" % seed, p.returncode == 2,
          "exit %d: %s" % (p.returncode, " ".join(argv)))

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
