# Makes the content the lab's servers serve (files, web corpus, HLS videos), deterministically from a seed.
import os
import random
import subprocess

VIDEO_RENDITIONS = [  # name, bitrate kbit/s, width, height
    ("r400", 400, 426, 240),
    ("r900", 900, 640, 360),
    ("r1800", 1800, 854, 480),
    ("r3500", 3500, 1280, 720),
]
VIDEO_SECONDS = 600
SEGMENT_SECONDS = 4
FILE_SIZES_MB = [8, 16, 48, 128, 512]
WEB_PAGES = 60
WORDS = ("network flow packet window traffic video voice chat browse file transfer latency "
         "encrypted tunnel stream session client server request response header payload "
         "histogram category application lab river mountain city garden music story news "
         "weather market science health travel recipe sport review guide history").split()


def _run(args, log):
    with open(log, "ab") as f:
        r = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise RuntimeError("content step failed (%s), see %s" % (args[0], log))


def _random_file(path, size, rng):
    with open(path + ".tmp", "wb") as f:
        left = size
        while left > 0:
            n = min(left, 1 << 20)
            f.write(rng.randbytes(n))
            left -= n
    os.rename(path + ".tmp", path)


def make_files(root, seed, log):
    d = os.path.join(root, "files")
    os.makedirs(d, exist_ok=True)
    rng = random.Random("files-%d" % seed)
    for mb in FILE_SIZES_MB:
        p = os.path.join(d, "blob-%dM.bin" % mb)
        if not os.path.exists(p):
            _random_file(p, mb << 20, rng)


def make_videos(root, seed, log):
    for name, kbit, w, h in VIDEO_RENDITIONS:
        d = os.path.join(root, "video", name)
        if os.path.exists(os.path.join(d, "index.m3u8")):
            continue
        os.makedirs(d, exist_ok=True)
        src = ("testsrc2=size=%dx%d:rate=25,noise=alls=12:allf=t+u:all_seed=%d"
               % (w, h, seed % 100000))
        _run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-threads", "1",
              "-f", "lavfi", "-i", src, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
              "-t", str(VIDEO_SECONDS), "-c:v", "libx264", "-preset", "ultrafast",
              "-b:v", "%dk" % kbit, "-maxrate", "%dk" % int(kbit * 1.3), "-bufsize", "%dk" % (kbit * 2),
              "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
              "-c:a", "aac", "-b:a", "96k", "-f", "hls", "-hls_time", str(SEGMENT_SECONDS),
              "-hls_playlist_type", "vod", "-hls_segment_filename", os.path.join(d, "seg%04d.ts"),
              os.path.join(d, "index.m3u8")], log)
    master = os.path.join(root, "video", "master.m3u8")
    with open(master, "w") as f:
        f.write("#EXTM3U\n")
        for name, kbit, w, h in VIDEO_RENDITIONS:
            f.write("#EXT-X-STREAM-INF:BANDWIDTH=%d,RESOLUTION=%dx%d\n%s/index.m3u8\n"
                    % ((kbit + 96) * 1000, w, h, name))


def _words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_web(root, seed, log):
    d = os.path.join(root, "web")
    if os.path.exists(os.path.join(d, "index.html")):
        return
    for sub in ("img", "static", "pages"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    rng = random.Random("web-%d" % seed)
    # A pool of real JPEG images of several sizes, made by ffmpeg from noisy test patterns.
    sizes = [(160, 120), (320, 240), (640, 360), (1024, 576), (1600, 900)]
    for i, (w, h) in enumerate(sizes):
        _run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
              "testsrc2=size=%dx%d:rate=1,noise=alls=%d:allf=u:all_seed=%d"
              % (w, h, 10 + 8 * i, seed % 100000 + i),
              "-frames:v", "8", "-q:v", str(rng.choice([2, 4, 6])),
              os.path.join(d, "img", "p%d_%%d.jpg" % i)], log)
    images = sorted(os.listdir(os.path.join(d, "img")))
    for i in range(12):
        ext = "css" if i % 2 == 0 else "js"
        n = int(rng.lognormvariate(9.5, 1.0))
        with open(os.path.join(d, "static", "a%d.%s" % (i, ext)), "w") as f:
            f.write("/* %s */\n" % _words(rng, 3))
            while f.tell() < n:
                f.write("/* %s */\n" % _words(rng, 12))
    for p in range(WEB_PAGES):
        n_img = rng.randint(2, 30)
        n_static = rng.randint(1, 6)
        body_words = int(rng.lognormvariate(6.5, 1.0))
        with open(os.path.join(d, "pages", "p%d.html" % p), "w") as f:
            f.write("<!DOCTYPE html><html><head><meta charset='utf-8'><title>%s</title>\n"
                    % _words(rng, 4))
            for s in rng.sample(range(12), n_static):
                ext = "css" if s % 2 == 0 else "js"
                if ext == "css":
                    f.write("<link rel='stylesheet' href='/static/a%d.css?v=%d'>\n" % (s, p))
                else:
                    f.write("<script src='/static/a%d.js?v=%d'></script>\n" % (s, p))
            f.write("</head><body><h1>%s</h1>\n" % _words(rng, 5))
            for k in range(n_img):
                f.write("<p>%s</p>\n<img src='/img/%s?p=%d&k=%d'>\n"
                        % (_words(rng, max(5, body_words // n_img)), rng.choice(images), p, k))
            for q in rng.sample(range(WEB_PAGES), 8):
                f.write("<a href='/pages/p%d.html'>%s</a>\n" % (q, _words(rng, 3)))
            f.write("</body></html>\n")
    with open(os.path.join(d, "index.html"), "w") as f:
        f.write("<!DOCTYPE html><html><body>\n")
        for p in range(WEB_PAGES):
            f.write("<a href='/pages/p%d.html'>page %d</a>\n" % (p, p))
        f.write("</body></html>\n")


def make_all(root, seed, log, categories=None):
    """Create what the categories need (files/, web/, video/; all if None) under root.

    Each step is skipped when its output is already there.
    """
    os.makedirs(root, exist_ok=True)
    if categories is None or "file_transfer" in categories:
        make_files(root, seed, log)
    if categories is None or "browsing" in categories:
        make_web(root, seed, log)
    if categories is None or "video" in categories:
        make_videos(root, seed, log)
