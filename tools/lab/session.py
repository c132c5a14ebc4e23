# One lab session: a namespace pair, optional OpenVPN tunnel, a capture, and one application's processes.
import json
import os
import signal
import subprocess
import time

import labnet
import pki

VPN_PORT = 1194


class Session:
    """Runs one application session between a fresh client and server namespace."""

    def __init__(self, run, index, app, vpn, params, duration, rate_kbit):
        self.run = run
        self.index = index
        self.app = app
        self.vpn = vpn
        self.params = params
        self.duration = duration
        self.rate_kbit = rate_kbit
        self.name = "s%04d-%s-%s-%s" % (index, app.category, app.name, "vpn" if vpn else "plain")
        self.dir = os.path.join(run.out, "sessions", self.name)
        self.pcap = os.path.join(self.dir, "capture.pcap")
        self.pair = labnet.Pair(run.tag, index, rate_kbit)
        self.procs = []
        self.clients = []
        self.client_ip = self.pair.client_ip
        self.server_ip = self.pair.server_ip
        if vpn:
            self.client_ip = labnet.tun_addr_of(index, 1)
            self.server_ip = labnet.tun_addr_of(index, 2)
        self.t_start = None
        self.t_end = None
        self.error = None

    def log(self, msg):
        self.run.log("[%s] %s" % (self.name, msg))

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def spawn(self, side, argv, name, client=False, env=None, cwd=None):
        """Start argv in the client ('c') or server ('s') namespace, logging to name.log."""
        logf = open(self.path(name + ".log"), "ab")
        full_env = dict(os.environ)
        full_env.update({"HOME": self.path("home-" + side), "LC_ALL": "C.UTF-8"})
        if env:
            full_env.update(env)
        os.makedirs(full_env["HOME"], exist_ok=True)
        p = subprocess.Popen(self.pair.exec_argv(side, argv), stdout=logf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True,
                             env=full_env, cwd=cwd or self.dir)
        logf.close()
        self.procs.append((name, p))
        if client:
            self.clients.append((name, p))
        return p

    def wait_listen(self, port, proto="tcp", side="s", timeout=15.0):
        """Wait until something listens on port in the given namespace; True if it does."""
        flag = "-Hltn" if proto == "tcp" else "-Hlun"
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = labnet.sh(self.pair.exec_argv(side, ["ss", flag, "sport = :%d" % port]), check=False)
            if out.strip():
                return True
            time.sleep(0.2)
        return False

    def cert(self):
        """Server certificate (key, crt) valid for the server's veth and tunnel addresses."""
        return pki.make_cert(self.run.ca_dir, self.path("tls"), "server",
                             [self.pair.server_ip, labnet.tun_addr_of(self.index, 2)],
                             ["lab.flowpic.test"])

    def _start_vpn(self):
        key, crt = pki.make_cert(self.run.ca_dir, self.path("tls"), "vpn-server",
                                 [self.pair.server_ip])
        ckey, ccrt = pki.make_cert(self.run.ca_dir, self.path("tls"), "vpn-client",
                                   [self.pair.client_ip])
        ca = os.path.join(self.run.ca_dir, "ca.crt")
        common = ["openvpn", "--dev", "tun0", "--dev-type", "tun", "--proto", "udp",
                  "--ca", ca, "--dh", "none", "--data-ciphers", self.params.get(
                      "vpn_cipher", "AES-256-GCM"), "--keepalive", "10", "60",
                  "--verb", "3", "--persist-tun", "--tun-mtu", "1500"]
        srv = common + ["--tls-server", "--cert", crt, "--key", key, "--lport", str(VPN_PORT),
                        "--ifconfig", self.server_ip, self.client_ip]
        cli = common + ["--tls-client", "--cert", ccrt, "--key", ckey, "--remote",
                        self.pair.server_ip, str(VPN_PORT), "--nobind",
                        "--ifconfig", self.client_ip, self.server_ip,
                        "--remote-cert-tls", "server"]
        self.spawn("s", srv, "openvpn-server")
        self.wait_listen(VPN_PORT, "udp")
        self.spawn("c", cli, "openvpn-client")
        deadline = time.time() + 30
        while time.time() < deadline:
            done = 0
            for name in ("openvpn-client.log", "openvpn-server.log"):
                with open(self.path(name), errors="replace") as f:
                    if "Initialization Sequence Completed" in f.read():
                        done += 1
            if done == 2:
                time.sleep(0.5)
                return
            time.sleep(0.5)
        raise RuntimeError("VPN tunnel did not come up")

    def _stop(self, procs, grace=4.0):
        for name, p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + grace
        for name, p in procs:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()

    def execute(self):
        """Run the whole session; always tears the namespaces down. Returns the session record."""
        os.makedirs(self.dir, exist_ok=True)
        tcpdump = None
        try:
            self.pair.up()
            tcpdump = subprocess.Popen(self.pair.exec_argv("c", [
                "tcpdump", "-i", self.pair.client_if, "-s", "128", "-n", "-U", "--immediate-mode", "-w", self.pcap]),
                stdout=subprocess.DEVNULL, stderr=open(self.path("tcpdump.log"), "wb"),
                start_new_session=True)
            time.sleep(1.0)
            if self.vpn:
                self._start_vpn()
            self.t_start = time.time()
            self.app.start(self)
            deadline = self.t_start + self.duration
            while time.time() < deadline:
                if self.clients and all(p.poll() is not None for _, p in self.clients):
                    break
                if self.run.stopping:
                    break
                time.sleep(1.0)
            self.t_end = time.time()
            for name, p in self.clients:
                if p.poll() is not None and p.returncode not in (0, None, -15):
                    # the session did not run as drawn: say so in the run log and its record
                    msg = "client %s exited with %s" % (name, p.returncode)
                    self.log(msg)
                    self.error = self.error or msg
        except Exception as e:  # a failed session is recorded, the run goes on
            self.error = str(e)
            self.log("error: %s" % e)
        finally:
            self._stop(list(reversed(self.clients)))
            self._stop([x for x in reversed(self.procs) if x not in self.clients])
            if tcpdump is not None:
                time.sleep(1.5)
                os.killpg(tcpdump.pid, signal.SIGINT)
                try:
                    tcpdump.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(tcpdump.pid, signal.SIGKILL)
                    tcpdump.wait()
            self.pair.down()
        return self.record()

    def record(self):
        return {
            "session": self.name,
            "index": self.index,
            "category": self.app.category,
            "app": self.app.name,
            "vpn": self.vpn,
            "pcap": os.path.relpath(self.pcap, self.run.out),
            "client_ip": self.pair.client_ip,
            "server_ip": self.pair.server_ip,
            "inner_client_ip": self.client_ip,
            "inner_server_ip": self.server_ip,
            "server_ports": [[proto, port] for proto, port in
                             ([("udp", VPN_PORT)] if self.vpn else self.app.ports(self))],
            "aux_ports": [] if self.vpn else [[proto, port] for proto, port in
                                              getattr(self.app, "aux_ports", lambda s: [])(self)],
            "rate_kbit": self.rate_kbit,
            "params": self.params,
            "t_start": self.t_start,
            "t_end": self.t_end,
            "error": self.error,
        }


def write_record(path, rec):
    with open(path, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")
