# Makes the lab's self-signed CA, per-session server certificates and SSH keys with openssl/ssh-keygen.
import hashlib
import os
import subprocess


def _run(args):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr.strip()))


def make_ca(dirpath):
    """Create ca.key/ca.crt in dirpath (kept if present); return (key, crt) paths."""
    key = os.path.join(dirpath, "ca.key")
    crt = os.path.join(dirpath, "ca.crt")
    if not os.path.exists(crt):
        os.makedirs(dirpath, exist_ok=True)
        _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes", "-keyout", key, "-out", crt, "-days", "3650", "-subj", "/CN=flowpic lab CA"])
    return key, crt


def make_cert(ca_dir, out_dir, name, ips, dns=()):
    """Issue name.key/name.crt in out_dir for the given IP (and DNS) SANs; return (key, crt)."""
    ca_key, ca_crt = make_ca(ca_dir)
    os.makedirs(out_dir, exist_ok=True)
    key = os.path.join(out_dir, name + ".key")
    csr = os.path.join(out_dir, name + ".csr")
    crt = os.path.join(out_dir, name + ".crt")
    ext = os.path.join(out_dir, name + ".ext")
    sans = ["IP:" + ip for ip in ips] + ["DNS:" + d for d in dns]
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth,clientAuth\n" % ",".join(sans))
    cn = dns[0] if dns else ips[0]
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", key, "-out", csr, "-subj", "/CN=" + cn])
    # a serial per certificate, not -CAcreateserial: concurrent sessions would race on one
    # shared ca.srl file (seen: "a2i_ASN1_INTEGER:short line" when two wrote it at once)
    serial = "0x" + hashlib.sha256(os.path.abspath(crt).encode()).hexdigest()[:16]
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
          "-set_serial", serial, "-out", crt, "-days", "3650", "-extfile", ext])
    os.chmod(key, 0o644)
    return key, crt


def make_ssh_key(path):
    """Create an ed25519 key pair at path (kept if present); return the private key path."""
    if not os.path.exists(path):
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path])
    return path
