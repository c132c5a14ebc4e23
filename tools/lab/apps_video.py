# video applications: HLS over HTTPS from nginx, played in real time by ffmpeg, an adaptive player and mpv.
import os

import content
import servers

HERE = os.path.dirname(os.path.abspath(__file__))


class _Video:
    category = "video"

    def draw(self, rng, duration):
        link = rng.choice([3000, 5000, 8000, 15000, 30000])
        fitting = [r for r in content.VIDEO_RENDITIONS if r[1] * 1.25 + 96 < link]
        rend = rng.choice(fitting)
        n_segs = content.VIDEO_SECONDS // content.SEGMENT_SECONDS
        return {"link_kbit": link, "rendition": rend[0], "rendition_kbit": rend[1],
                "start_segment": rng.randrange(0, max(1, n_segs - int(duration) // 4)),
                "buffer_s": round(rng.uniform(12.0, 60.0), 1),
                "seek_prob": rng.choice([0.0, 0.0, 0.01]), "seed": rng.randrange(1 << 30)}

    def ports(self, sess):
        return [("tcp", 443)]

    def start(self, sess):
        servers.start_nginx(sess, sess.run.content)
        sess.spawn("c", self.argv(sess), "player", client=True)


class FfmpegHls(_Video):
    """ffmpeg reading one HLS rendition at its native rate (-re) over a persistent HTTPS connection."""
    name = "ffmpeg-hls"

    def argv(self, sess):
        p = sess.params
        return ["ffmpeg", "-nostdin", "-loglevel", "error", "-re",
                "-live_start_index", "0", "-http_persistent", "1",
                "-ss", str(p["start_segment"] * content.SEGMENT_SECONDS),
                "-i", "https://%s/video/%s/index.m3u8" % (sess.server_ip, p["rendition"]),
                "-c", "copy", "-f", "null", "-"]


class AbrPlayer(_Video):
    """Buffer-based adaptive HLS player (tools/lab/clients/hls_player.py): on-off segment fetches."""
    name = "abr-player"

    def argv(self, sess):
        p = sess.params
        return ["/usr/bin/python3", os.path.join(HERE, "clients", "hls_player.py"),
                "--host", sess.server_ip, "--buffer", str(p["buffer_s"]),
                "--start", str(p["start_segment"]), "--max-kbit", str(p["link_kbit"]),
                "--seed", str(p["seed"]), "--seek-prob", str(p["seek_prob"])]


class Mpv(_Video):
    """mpv playing the master playlist in real time (audio clock, no output) through its own
    read-ahead cache: a start-up fill up to cache_s seconds ahead, then reads as it plays."""
    name = "mpv"

    def draw(self, rng, duration):
        p = super().draw(rng, duration)
        p["cache_s"] = rng.choice([10, 20, 40, 60, 120])
        return p

    def argv(self, sess):
        p = sess.params
        cache = p["cache_s"]
        return ["mpv", "--no-config", "--no-terminal", "--idle=no",
                "--vid=no", "--ao=null", "--tls-verify=no", "--cache=yes",
                "--cache-secs=%d" % cache, "--demuxer-readahead-secs=%d" % cache,
                "--demuxer-max-bytes=512MiB",
                "--hls-bitrate=%d" % ((p["rendition_kbit"] + 96 + 1) * 1000),  # master: kbit + 96 audio
                "--start=%d" % (p["start_segment"] * content.SEGMENT_SECONDS),
                "https://%s/video/master.m3u8" % sess.server_ip]


APPS = [FfmpegHls(), AbrPlayer(), Mpv()]
