# Buffer-based adaptive HLS player: fetches segments over one keep-alive HTTPS connection, plays in real time.
import argparse
import http.client
import random
import ssl
import sys
import time
import urllib.parse


def get(conn, path):
    conn.request("GET", path, headers={"User-Agent": "flowpic-lab-player/1.0"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError("GET %s: HTTP %d" % (path, r.status))
    return body


def parse_master(text, base):
    variants = []
    bw = None
    for line in text.splitlines():
        if line.startswith("#EXT-X-STREAM-INF:"):
            for kv in line.split(":", 1)[1].split(","):
                if kv.startswith("BANDWIDTH="):
                    bw = int(kv.split("=")[1])
        elif line and not line.startswith("#") and bw is not None:
            variants.append((bw, urllib.parse.urljoin(base, line)))
            bw = None
    return sorted(variants)


def parse_media(text, base):
    segs = []
    dur = None
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            dur = float(line.split(":", 1)[1].split(",")[0])
        elif line and not line.startswith("#") and dur is not None:
            segs.append((dur, urllib.parse.urljoin(base, line)))
            dur = None
    return segs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--master", default="/video/master.m3u8")
    ap.add_argument("--buffer", type=float, default=30.0, help="target buffer, seconds")
    ap.add_argument("--start", type=int, default=0, help="first segment index")
    ap.add_argument("--max-kbit", type=float, default=1e9, help="cap on the chosen rendition")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seek-prob", type=float, default=0.0, help="chance per segment of a seek")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(a.host, 443, context=ctx, timeout=60)
    base = "https://%s%s" % (a.host, a.master)
    variants = parse_master(get(conn, a.master).decode(), base)
    media = {}
    for bw, url in variants:
        media[bw] = parse_media(get(conn, urllib.parse.urlparse(url).path).decode(), url)
    n_segs = min(len(s) for s in media.values())
    est_kbit = None
    buffered = 0.0
    last = time.monotonic()
    i = a.start % n_segs
    playing = False
    while True:
        now = time.monotonic()
        if playing:
            buffered = max(0.0, buffered - (now - last))
        last = now
        if buffered >= a.buffer:
            time.sleep(buffered - a.buffer + rng.uniform(0.0, 0.5))
            continue
        # choose the highest rendition under 80% of the measured throughput
        choice = variants[0][0]
        for bw, _ in variants:
            if est_kbit is not None and bw / 1000.0 <= 0.8 * est_kbit and bw / 1000.0 <= a.max_kbit:
                choice = bw
        dur, url = media[choice][i]
        t0 = time.monotonic()
        body = get(conn, urllib.parse.urlparse(url).path)
        dt = max(1e-3, time.monotonic() - t0)
        kbit = len(body) * 8 / dt / 1000.0
        est_kbit = kbit if est_kbit is None else 0.7 * est_kbit + 0.3 * kbit
        buffered += dur
        playing = playing or buffered >= min(8.0, a.buffer)
        i = (i + 1) % n_segs
        if rng.random() < a.seek_prob:
            i = rng.randrange(n_segs)
            buffered = 0.0
            playing = False
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
