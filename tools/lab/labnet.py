# Builds and tears down the lab's namespace pairs (client <-> server over one veth link).
import os
import signal
import subprocess
import time

PREFIX = "fpl-"


def sh(args, check=True, quiet=False):
    """Run a command; raise with its stderr on failure when check is set."""
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def list_namespaces():
    """Names of all network namespaces this lab owns (prefix fpl-)."""
    out = sh(["ip", "netns", "list"], check=False)
    names = []
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(PREFIX):
            names.append(name)
    return names


def kill_namespace_pids(ns, sig=signal.SIGTERM):
    """Send sig to every process living in namespace ns; return how many."""
    out = sh(["ip", "netns", "pids", ns], check=False)
    n = 0
    for tok in out.split():
        try:
            os.kill(int(tok), sig)
            n += 1
        except (ValueError, ProcessLookupError, PermissionError):
            pass
    return n


def delete_namespace(ns):
    """Stop every process in ns, then delete it (its veth ends go with it)."""
    if kill_namespace_pids(ns) > 0:
        for _ in range(20):
            time.sleep(0.1)
            if not sh(["ip", "netns", "pids", ns], check=False).split():
                break
        kill_namespace_pids(ns, signal.SIGKILL)
        time.sleep(0.1)
    sh(["ip", "netns", "del", ns], check=False)


def cleanup(tag=None):
    """Remove the lab namespaces of run tag (all lab namespaces if None); return their names."""
    names = [n for n in list_namespaces()
             if tag is None or n.startswith("%s%s-" % (PREFIX, tag))]
    for ns in names:
        delete_namespace(ns)
    return names


def addr_of(index, side):
    """IPv4 address of session `index`, side 1 = client, 2 = server, on 10.99.0.0/16 (/30 each)."""
    if index < 0 or index >= 16384:
        raise ValueError("session index out of range: %d" % index)
    return "10.99.%d.%d" % (index // 64, (index % 64) * 4 + side)


def tun_addr_of(index, side):
    """Address inside the session's VPN tunnel, on 10.98.0.0/16."""
    return "10.98.%d.%d" % (index // 64, (index % 64) * 4 + side)


class Pair:
    """A client and a server namespace joined by one veth link, optionally rate-limited."""

    def __init__(self, tag, index, rate_kbit=None):
        self.index = index
        self.tag = tag
        self.client_ns = "%s%s-%d-c" % (PREFIX, tag, index)
        self.server_ns = "%s%s-%d-s" % (PREFIX, tag, index)
        self.client_if = "veth-c"
        self.server_if = "veth-s"
        self.client_ip = addr_of(index, 1)
        self.server_ip = addr_of(index, 2)
        self.rate_kbit = rate_kbit

    def up(self):
        """Create both namespaces and the link; offloads off so captures are wire-sized."""
        for ns in (self.client_ns, self.server_ns):
            sh(["ip", "netns", "add", ns])
        tmp_c = "%s%dc" % (self.tag[:5], self.index)
        tmp_s = "%s%ds" % (self.tag[:5], self.index)
        sh(["ip", "link", "add", tmp_c, "type", "veth", "peer", "name", tmp_s])
        sh(["ip", "link", "set", tmp_c, "netns", self.client_ns])
        sh(["ip", "link", "set", tmp_s, "netns", self.server_ns])
        for ns, tmp, ifn, ip in ((self.client_ns, tmp_c, self.client_if, self.client_ip),
                                 (self.server_ns, tmp_s, self.server_if, self.server_ip)):
            ex = ["ip", "netns", "exec", ns]
            sh(ex + ["ip", "link", "set", tmp, "name", ifn])
            sh(ex + ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"])
            sh(ex + ["sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"])
            sh(ex + ["ip", "addr", "add", ip + "/30", "dev", ifn])
            sh(ex + ["ip", "link", "set", "lo", "up"])
            sh(ex + ["ip", "link", "set", ifn, "up"])
            sh(ex + ["ethtool", "-K", ifn, "gro", "off", "gso", "off", "tso", "off"],
               quiet=True)
            if self.rate_kbit:
                burst = max(4000, self.rate_kbit * 1000 // 8 // 50)
                sh(ex + ["tc", "qdisc", "add", "dev", ifn, "root", "tbf",
                         "rate", "%dkbit" % self.rate_kbit, "burst", str(burst),
                         "latency", "100ms"])

    def down(self):
        """Delete both namespaces and everything in them."""
        delete_namespace(self.client_ns)
        delete_namespace(self.server_ns)

    def exec_argv(self, side, argv):
        ns = self.client_ns if side == "c" else self.server_ns
        return ["ip", "netns", "exec", ns] + list(argv)
