# Starts the lab's shared server programs (nginx over HTTPS, OpenSSH) inside a session's server namespace.
import os

import pki

NGINX_CONF = """worker_processes 1;
user root;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
    access_log {d}/nginx-access.log;
    sendfile on;
    keepalive_timeout 900s;
    keepalive_requests 1000000;
    client_max_body_size 0;
    client_body_temp_path {d}/nginx-tmp/body;
    proxy_temp_path {d}/nginx-tmp/proxy;
    fastcgi_temp_path {d}/nginx-tmp/fastcgi;
    uwsgi_temp_path {d}/nginx-tmp/uwsgi;
    scgi_temp_path {d}/nginx-tmp/scgi;
    server {{
        listen 443 ssl http2;
        ssl_certificate {crt};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        root {root};
        location /upload/ {{
            alias {d}/uploads/;
            dav_methods PUT;
            create_full_put_path on;
        }}
    }}
}}
"""

SSHD_CONF = """Port 22
ListenAddress 0.0.0.0
HostKey {hostkey}
PidFile {d}/sshd.pid
AuthorizedKeysFile {authkeys}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
ClientAliveInterval 30
Subsystem sftp internal-sftp
"""


def start_nginx(sess, root):
    """Serve root over HTTPS (HTTP/2, TLS 1.2/1.3) on port 443 of the server namespace."""
    d = sess.path("nginx")
    os.makedirs(os.path.join(d, "nginx-tmp"), exist_ok=True)
    os.makedirs(os.path.join(d, "uploads"), exist_ok=True)
    key, crt = sess.cert()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(d=d, crt=crt, key=key, root=root))
    sess.spawn("s", ["nginx", "-p", d, "-c", conf, "-g", "daemon off;"], "nginx")
    if not sess.wait_listen(443):
        raise RuntimeError("nginx did not start")


def start_sshd(sess):
    """Run OpenSSH on port 22 of the server namespace; return the client's private key path."""
    d = sess.path("sshd")
    os.makedirs(d, exist_ok=True)
    os.makedirs("/run/sshd", exist_ok=True)
    hostkey = pki.make_ssh_key(os.path.join(d, "host_ed25519"))
    userkey = pki.make_ssh_key(os.path.join(d, "user_ed25519"))
    authkeys = os.path.join(d, "authorized_keys")
    with open(userkey + ".pub") as src, open(authkeys, "w") as dst:
        dst.write(src.read())
    conf = os.path.join(d, "sshd_config")
    with open(conf, "w") as f:
        f.write(SSHD_CONF.format(hostkey=hostkey, d=d, authkeys=authkeys))
    sess.spawn("s", ["/usr/sbin/sshd", "-D", "-e", "-f", conf], "sshd")
    if not sess.wait_listen(22):
        raise RuntimeError("sshd did not start")
    return userkey


def ssh_opts(userkey):
    """Client options: the session key, no host-key prompts, no multiplexing."""
    return ["-i", userkey, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ServerAliveInterval=30"]
