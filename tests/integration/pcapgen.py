"""Build Ethernet frames and pcap files with exactly known flows, for the integration tests."""
import struct

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_ARP = 0x0806


def mac(i):
    return bytes([0x02, 0, 0, 0, 0, i & 0xFF])


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def ip6(s):
    import ipaddress
    return ipaddress.IPv6Address(s).packed


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def l4(proto, sport, dport, payload_len):
    """A TCP (20-byte header), UDP or ICMP header followed by zero payload."""
    pay = bytes(payload_len)
    if proto == 6:
        return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x18, 65535, 0, 0) + pay
    if proto == 17:
        return struct.pack("!HHHH", sport, dport, 8 + payload_len, 0) + pay
    if proto == 1:
        return struct.pack("!BBHHH", 8, 0, 0, 1, 1) + pay
    return pay


def ipv4(src, dst, proto, body, frag_off=0, mf=False, options=b""):
    ihl = 5 + len(options) // 4
    total = ihl * 4 + len(body)
    flags = (0x2000 if mf else 0) | (frag_off // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", (4 << 4) | ihl, 0, total, 1, flags, 64, proto, 0,
                      ip4(src), ip4(dst)) + options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + body


def ipv6(src, dst, proto, body, ext=()):
    """ext: list of (type, bytes) extension headers, each 8-byte aligned incl. its 2-byte head."""
    chain = b""
    nh = proto
    for typ, data in reversed(list(ext)):
        hlen = (len(data) + 2 + 7) // 8 * 8
        chain = struct.pack("!BB", nh, hlen // 8 - 1) + data + bytes(hlen - 2 - len(data)) + chain
        nh = typ
    payload = chain + body
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, 64, ip6(src), ip6(dst)) + payload


def eth(ethertype, payload, vlans=(), src=1, dst=2):
    tags = b""
    for i, vid in enumerate(vlans):
        tpid = 0x88A8 if (len(vlans) == 2 and i == 0) else 0x8100
        tags += struct.pack("!HH", tpid, vid)
    frame = mac(dst) + mac(src) + tags + struct.pack("!H", ethertype) + payload
    if len(frame) < 60:
        frame += bytes(60 - len(frame))
    return frame


def packet(src, dst, proto, sport, dport, payload_len, vlans=(), v6=False):
    body = l4(proto, sport, dport, payload_len)
    if v6:
        return eth(ETH_IPV6, ipv6(src, dst, proto, body), vlans)
    return eth(ETH_IPV4, ipv4(src, dst, proto, body), vlans)


def ip_total_len(frame, vlans=0):
    off = 14 + 4 * vlans
    et = struct.unpack("!H", frame[off - 2:off])[0]
    if et == ETH_IPV4:
        return struct.unpack("!H", frame[off + 2:off + 4])[0]
    return 40 + struct.unpack("!H", frame[off + 4:off + 6])[0]


def write_pcap(path, records, snaplen=65535):
    """records: iterable of (time_seconds_float_or_(sec,usec), frame bytes, [orig_len])."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
        for rec in records:
            t, frame = rec[0], rec[1]
            orig = rec[2] if len(rec) > 2 else len(frame)
            if isinstance(t, tuple):
                sec, usec = t
            else:
                sec = int(t)
                usec = int(round((t - sec) * 1e6))
                if usec >= 1000000:
                    sec, usec = sec + 1, usec - 1000000
            f.write(struct.pack("<IIII", sec, usec, len(frame), orig))
            f.write(frame)
