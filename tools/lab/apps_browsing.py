# browsing applications: Chromium, Firefox and WebKitGTK visiting a web corpus served by nginx over HTTPS.
import os

import content
import servers

HERE = os.path.dirname(os.path.abspath(__file__))


class _Browser:
    category = "browsing"
    browser = ""

    def draw(self, rng, duration):
        return {"seed": rng.randrange(1 << 30), "think_median": round(rng.uniform(6.0, 25.0), 1),
                "link_kbit": rng.choice([2000, 5000, 10000, 20000, 50000])}

    def ports(self, sess):
        return [("tcp", 443)]

    def start(self, sess):
        servers.start_nginx(sess, os.path.join(sess.run.content, "web"))
        sess.spawn("c", ["/usr/bin/python3", os.path.join(HERE, "clients", "browse.py"),
                         "--browser", self.browser, "--host", sess.server_ip,
                         "--profile", sess.path("profile"), "--pages", str(content.WEB_PAGES),
                         "--seed", str(sess.params["seed"]),
                         "--think-median", str(sess.params["think_median"])],
                   "browser", client=True)


class Chromium(_Browser):
    name = "chromium"
    browser = "chromium"


class Firefox(_Browser):
    name = "firefox"
    browser = "firefox"


class WebKitGtk(_Browser):
    """WebKitGTK, the engine of GNOME Web (Epiphany), in a window on an Xvfb display."""
    name = "webkitgtk"
    browser = "webkit"


APPS = [Chromium(), Firefox(), WebKitGtk()]
