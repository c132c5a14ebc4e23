# file_transfer applications: scp/sftp and rsync over OpenSSH, curl up/downloads and aria2 segmented downloads over HTTPS.
import os
import shlex

import content
import servers


class _Transfer:
    category = "file_transfer"
    name = ""

    def draw(self, rng, duration):
        link = rng.choice([2000, 4000, 8000, 12000, 20000])
        limit = rng.choice([None, None, int(link * rng.uniform(0.3, 0.9))])
        rate = min(link, limit or link) * 0.9
        steps = []
        t = 0.0
        while t < duration:
            # the smallest file that keeps the transfer going for at least 80 s
            size = content.FILE_SIZES_MB[-1]
            for mb in content.FILE_SIZES_MB:
                if mb * 8192.0 / rate >= rng.uniform(80.0, 200.0):
                    size = mb
                    break
            steps.append({"dir": rng.choice(["down", "down", "up"]),
                          "file": "blob-%dM.bin" % size,
                          "pause": round(rng.uniform(1.0, 20.0), 1)})
            t += size * 8192.0 / rate + steps[-1]["pause"]
        return {"link_kbit": link, "limit_kbit": limit, "steps": steps}

    def ports(self, sess):
        return [("tcp", 22)]

    def start(self, sess):
        files = os.path.join(sess.run.content, "files")
        self.prepare(sess)
        lines = ["#!/bin/sh", "# transfers of session %s" % sess.name, "mkdir -p dl"]
        for i, st in enumerate(sess.params["steps"]):
            lines.append(self.command(sess, st, files, i))
            lines.append("rm -f dl/*")
            lines.append("sleep %s" % st["pause"])
        script = sess.path("client.sh")
        with open(script, "w") as f:
            f.write("\n".join(lines) + "\n")
        sess.spawn("c", ["sh", script], "client", client=True)


class Scp(_Transfer):
    """OpenSSH scp (SFTP protocol) of whole files, optional -l rate limit."""
    name = "scp"

    def prepare(self, sess):
        self.key = servers.start_sshd(sess)

    def command(self, sess, st, files, i):
        opts = servers.ssh_opts(self.key)
        lim = ["-l", str(sess.params["limit_kbit"])] if sess.params["limit_kbit"] else []
        remote = "root@%s:%s" % (sess.server_ip, os.path.join(files, st["file"]))
        if st["dir"] == "down":
            args = ["scp", "-q"] + opts + lim + [remote, "dl/x%d" % i]
        else:
            args = ["scp", "-q"] + opts + lim + [os.path.join(files, st["file"]),
                                                 "root@%s:/dev/null" % sess.server_ip]
        return shlex.join(args)


class Rsync(_Transfer):
    """rsync over an ssh transport, optional --bwlimit."""
    name = "rsync-ssh"

    def prepare(self, sess):
        self.key = servers.start_sshd(sess)
        os.makedirs(sess.path("rsync-up"), exist_ok=True)

    def command(self, sess, st, files, i):
        ssh = shlex.join(["ssh"] + servers.ssh_opts(self.key))
        lim = ["--bwlimit=%d" % (sess.params["limit_kbit"] // 8)] if sess.params["limit_kbit"] else []
        if st["dir"] == "down":
            args = ["rsync", "-q", "-e", ssh] + lim + [
                "root@%s:%s" % (sess.server_ip, os.path.join(files, st["file"])), "dl/x%d" % i]
        else:
            args = ["rsync", "-q", "-e", ssh] + lim + [
                os.path.join(files, st["file"]),
                "root@%s:%s/x%d" % (sess.server_ip, sess.path("rsync-up"), i)]
        return shlex.join(args) + "; rm -f %s/*" % shlex.quote(sess.path("rsync-up"))


class Curl(_Transfer):
    """curl HTTPS downloads (GET) and uploads (PUT) against nginx, optional --limit-rate."""
    name = "curl-https"

    def ports(self, sess):
        return [("tcp", 443)]

    def prepare(self, sess):
        servers.start_nginx(sess, sess.run.content)

    def command(self, sess, st, files, i):
        lim = (["--limit-rate", "%dk" % (sess.params["limit_kbit"] // 8)]
               if sess.params["limit_kbit"] else [])
        base = ["curl", "-sS", "-k", "--http1.1"] + lim
        if st["dir"] == "down":
            args = base + ["-o", "/dev/null", "https://%s/files/%s" % (sess.server_ip, st["file"])]
        else:
            args = base + ["-o", "/dev/null", "-T", os.path.join(files, st["file"]),
                           "https://%s/upload/x%d" % (sess.server_ip, i)]
        return shlex.join(args) + "; rm -f %s/*" % shlex.quote(sess.path("nginx", "uploads"))


class Aria2(Curl):
    """aria2c segmented HTTPS downloads from nginx: each file over 2-8 parallel connections
    (download managers and package tools work this way), optional overall rate limit. aria2
    does not upload over HTTP, so every step is a download."""
    name = "aria2-https"

    def draw(self, rng, duration):
        p = super().draw(rng, duration)
        p["connections"] = rng.choice([2, 4, 8])
        return p

    def command(self, sess, st, files, i):
        n = sess.params["connections"]
        lim = (["--max-overall-download-limit=%dK" % (sess.params["limit_kbit"] // 8)]
               if sess.params["limit_kbit"] else [])
        args = ["aria2c", "-q", "--check-certificate=false", "--file-allocation=none",
                "--allow-overwrite=true", "--auto-file-renaming=false", "-x", str(n),
                "-s", str(n), "-k", "1M", "-d", "dl", "-o", "f%d" % i] + lim + [
                "https://%s/files/%s" % (sess.server_ip, st["file"])]
        return shlex.join(args)


APPS = [Scp(), Rsync(), Curl(), Aria2()]
