# Drives a real browser (headless Chromium over CDP, Firefox over WebDriver BiDi, WebKitGTK under Xvfb) through a web corpus with think times.
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import websocket

FIREFOX_PREFS = """user_pref("app.update.enabled", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.startup.homepage", "about:blank");
user_pref("network.http.speculative-parallel-limit", 0);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
"""


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return json.loads(r.read().decode())
        except Exception:
            time.sleep(0.5)
    raise RuntimeError("browser control endpoint did not answer: %s" % url)


class Cdp:
    """Chromium driven over the DevTools protocol."""

    def __init__(self, profile, port):
        self.proc = subprocess.Popen([
            "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
            "--ignore-certificate-errors", "--user-data-dir=" + profile,
            "--remote-debugging-port=%d" % port, "--no-first-run", "--no-default-browser-check",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
            "--disable-features=OptimizationHints,MediaRouter,Translate,DialMediaRouteProvider",
            "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        targets = None
        deadline = time.time() + 60
        while time.time() < deadline:
            targets = [t for t in wait_http("http://127.0.0.1:%d/json/list" % port)
                       if t.get("type") == "page"]
            if targets:
                break
            time.sleep(0.5)
        self.ws = websocket.create_connection(targets[0]["webSocketDebuggerUrl"], timeout=120)
        self.n = 0

    def call(self, method, params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.n:
                return msg

    def visit(self, url):
        self.call("Page.navigate", {"url": url})

    def close(self):
        self.proc.terminate()


class Bidi:
    """Firefox driven over WebDriver BiDi."""

    def __init__(self, profile, port):
        os.makedirs(profile, exist_ok=True)
        with open(os.path.join(profile, "user.js"), "w") as f:
            f.write(FIREFOX_PREFS)
        self.proc = subprocess.Popen([
            "firefox-esr", "--headless", "--profile", profile, "--no-remote",
            "--remote-debugging-port", str(port), "--remote-allow-hosts", "127.0.0.1,localhost",
            "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        self.ws = None
        while self.ws is None and time.time() < deadline:
            try:
                self.ws = websocket.create_connection("ws://127.0.0.1:%d/session" % port, suppress_origin=True,
                                                      timeout=120)
            except Exception:
                time.sleep(0.5)
        if self.ws is None:
            raise RuntimeError("firefox BiDi endpoint did not answer")
        self.n = 0
        r = self.call("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True}}})
        if "error" in r:
            raise RuntimeError("session.new: %s" % r)
        tree = self.call("browsingContext.getTree", {})
        self.context = tree["result"]["contexts"][0]["context"]

    def call(self, method, params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.n:
                return msg

    def visit(self, url):
        self.call("browsingContext.navigate", {"context": self.context, "url": url,
                                               "wait": "complete"})

    def close(self):
        self.proc.terminate()


class WebKit:
    """WebKitGTK (Epiphany's engine) in an Xvfb display, told each URL on its stdin."""

    def __init__(self, profile, port):
        env = dict(os.environ, WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS="1",
                   WEBKIT_DISABLE_COMPOSITING_MODE="1", LIBGL_ALWAYS_SOFTWARE="1",
                   NO_AT_BRIDGE="1", GDK_BACKEND="x11")
        self.proc = subprocess.Popen([
            "xvfb-run", "-a", "-s", "-screen 0 1280x900x24", "/usr/bin/python3",
            os.path.join(os.path.dirname(os.path.abspath(__file__)), "webkit_view.py"),
            "--profile", profile], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=env, start_new_session=True)

    def visit(self, url):
        if self.proc.poll() is not None:
            raise RuntimeError("webkit view exited with status %s" % self.proc.returncode)
        self.proc.stdin.write((url + "\n").encode())
        self.proc.stdin.flush()

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


BROWSERS = {"chromium": Cdp, "firefox": Bidi, "webkit": WebKit}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--browser", choices=sorted(BROWSERS), required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--think-median", type=float, default=12.0)
    ap.add_argument("--port", type=int, default=9222)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    shutil.rmtree(a.profile, ignore_errors=True)
    b = BROWSERS[a.browser](a.profile, a.port)

    def stop(signum, frame):
        b.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    page = rng.randrange(a.pages)
    try:
        while True:
            url = "https://%s/pages/p%d.html" % (a.host, page)
            b.visit(url)
            think = min(110.0, rng.lognormvariate(0, 0.9) * a.think_median)
            time.sleep(think)
            # follow a link most of the time, else jump somewhere new
            page = rng.randrange(a.pages)
    finally:
        b.close()


if __name__ == "__main__":
    main()
