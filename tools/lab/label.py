# Labels a lab run: reads each session's pcap, lists its flows, and writes manifest.jsonl.
#
# Row labels: "app" (a flow of the session's application to its server port), "aux" (the
# application's side flow, e.g. RTCP), "noise" (ARP, ICMP, any other flow).
import json
import os
import socket
import struct
import sys

LINKTYPE_ETHERNET = 1
LABEL_VERSION = 2  # bump when labels change: per-session caches are named after it


def read_pcap(path):
    """Yield (ts, frame bytes, original length) from a classic pcap file (us or ns stamps)."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xa1b2c3d4, 0xa1b23c4d):
            endian = "<"
        elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
            endian = ">"
            magic = struct.unpack(">I", hdr[:4])[0]
        else:
            raise ValueError("%s: not a pcap file" % path)
        scale = 1e-9 if magic == 0xa1b23c4d else 1e-6
        linktype = struct.unpack(endian + "I", hdr[20:24])[0]
        if linktype != LINKTYPE_ETHERNET:
            raise ValueError("%s: link type %d, want Ethernet" % (path, linktype))
        rec = struct.Struct(endian + "IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, frac, incl, orig = rec.unpack(h)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield sec + frac * scale, data, orig


def parse(frame):
    """Return (proto, src, sport, dst, dport, ip_len) for IPv4 TCP/UDP, or (kind, ...) for others."""
    if len(frame) < 14:
        return ("short",)
    etype = struct.unpack("!H", frame[12:14])[0]
    off = 14
    while etype in (0x8100, 0x88a8) and len(frame) >= off + 4:
        etype = struct.unpack("!H", frame[off + 2:off + 4])[0]
        off += 4
    if etype == 0x0806:
        return ("arp",)
    if etype != 0x0800:
        return ("non_ipv4",)
    if len(frame) < off + 20:
        return ("short",)
    ihl = (frame[off] & 0x0f) * 4
    ip_len = struct.unpack("!H", frame[off + 2:off + 4])[0]
    proto = frame[off + 9]
    src = socket.inet_ntoa(frame[off + 12:off + 16])
    dst = socket.inet_ntoa(frame[off + 16:off + 20])
    if proto not in (6, 17):
        return ("icmp" if proto == 1 else "ip_other", src, dst, ip_len)
    l4 = off + ihl
    if len(frame) < l4 + 4:
        return ("short",)
    sport, dport = struct.unpack("!HH", frame[l4:l4 + 4])
    return ("tcp" if proto == 6 else "udp", src, sport, dst, dport, ip_len)


def flows_of(pcap):
    """Bidirectional flows of a pcap keyed by 5-tuple (first packet's direction is 'up')."""
    flows = {}
    other = {}
    for ts, frame, orig in read_pcap(pcap):
        p = parse(frame)
        if p[0] not in ("tcp", "udp"):
            o = other.setdefault(p[0], {"packets": 0, "t_first": ts, "t_last": ts})
            o["packets"] += 1
            o["t_last"] = ts
            continue
        proto, src, sport, dst, dport, ip_len = p
        key = (proto, src, sport, dst, dport)
        rkey = (proto, dst, dport, src, sport)
        if key in flows:
            fl = flows[key]
            fl["up_packets"] += 1
        elif rkey in flows:
            fl = flows[rkey]
        else:
            fl = flows[key] = {"proto": proto, "src": src, "sport": sport, "dst": dst, "dport": dport,
                               "t_first": ts, "t_last": ts, "packets": 0, "bytes": 0,
                               "up_packets": 1}
        fl["packets"] += 1
        fl["bytes"] += ip_len
        fl["t_last"] = ts
    return list(flows.values()), other


def aux_ports(rec):
    """Server ports of the application's side flows (RTCP next to RTP), labelled 'aux'.

    Records written before sessions listed aux_ports take RTCP as the RTP port + 1 of a
    plain voip session.
    """
    if "aux_ports" in rec:
        return {(proto, port) for proto, port in rec["aux_ports"]}
    if rec["category"] == "voip" and not rec["vpn"]:
        udp = sorted(port for proto, port in rec["server_ports"] if proto == "udp")
        if len(udp) == 2 and udp[1] == udp[0] + 1:
            return {("udp", udp[1])}
    return set()


def label_session(rec, out):
    """Manifest rows (flows plus noise summaries) of one session record."""
    pcap = os.path.join(out, rec["pcap"])
    if not os.path.exists(pcap):
        return []
    ports = {(proto, port) for proto, port in rec["server_ports"]}
    aux = aux_ports(rec)
    ports -= aux
    ends = {rec["client_ip"], rec["server_ip"]}
    flows, other = flows_of(pcap)
    rows = []
    for fl in flows:
        fl["pcap"] = rec["pcap"]
        fl["session"] = rec["session"]
        fl["duration"] = round(fl["t_last"] - fl["t_first"], 6)
        on_link = {fl["src"], fl["dst"]} == ends
        server_port = ((fl["proto"], fl["dport"]) in ports and fl["dst"] == rec["server_ip"]) or \
                      ((fl["proto"], fl["sport"]) in ports and fl["src"] == rec["server_ip"])
        aux_port = ((fl["proto"], fl["dport"]) in aux and fl["dst"] == rec["server_ip"]) or \
                   ((fl["proto"], fl["sport"]) in aux and fl["src"] == rec["server_ip"])
        if on_link and server_port:
            fl.update({"label": "app", "category": rec["category"], "app": rec["app"],
                       "vpn": rec["vpn"]})
        elif on_link and aux_port:
            fl.update({"label": "aux", "category": rec["category"], "app": rec["app"],
                       "vpn": rec["vpn"]})
        else:
            fl.update({"label": "noise", "category": None, "app": None, "vpn": rec["vpn"],
                       "noise": "unexpected_flow"})
        rows.append(fl)
    for kind, o in sorted(other.items()):
        rows.append({"pcap": rec["pcap"], "session": rec["session"], "label": "noise",
                     "noise": kind, "proto": kind, "packets": o["packets"],
                     "t_first": o["t_first"], "t_last": o["t_last"], "vpn": rec["vpn"],
                     "category": None, "app": None})
    return rows


def cached_rows(rec, out):
    """label_session's rows, kept in the session's flows.jsonl once its capture is closed."""
    pcap = os.path.join(out, rec["pcap"])
    cache = os.path.join(os.path.dirname(pcap), "flows-v%d.jsonl" % LABEL_VERSION)
    if os.path.exists(cache) and os.path.exists(pcap) and \
            os.path.getmtime(cache) >= os.path.getmtime(pcap):
        with open(cache) as f:
            return [json.loads(line) for line in f if line.strip()]
    rows = label_session(rec, out)
    if os.path.exists(pcap):
        with open(cache + ".tmp", "w") as f:
            for row in rows:
                f.write(json.dumps(row, sort_keys=True) + "\n")
        os.replace(cache + ".tmp", cache)
    return rows


def label_run(out):
    """Write OUT/manifest.jsonl from OUT/sessions.jsonl; return the number of rows."""
    recs = []
    path = os.path.join(out, "sessions.jsonl")
    if os.path.exists(path):
        with open(path) as f:
            recs = [json.loads(line) for line in f if line.strip()]
    n = 0
    tmp = os.path.join(out, "manifest.jsonl.tmp")
    with open(tmp, "w") as f:
        for rec in recs:
            for row in cached_rows(rec, out):
                f.write(json.dumps(row, sort_keys=True) + "\n")
                n += 1
    os.replace(tmp, os.path.join(out, "manifest.jsonl"))
    return n


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: label.py RUN_DIR")
    print("%d manifest rows" % label_run(sys.argv[1]))
