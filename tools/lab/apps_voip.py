# voip applications: two-way Opus calls over SRTP sent by ffmpeg and by GStreamer.
import base64
import shlex

# Speech-like source: band-limited pink noise gated into talk spurts and pauses by two
# incommensurate sines; each side of a call gets its own periods and phase.
VOICE = ("anoisesrc=c=pink:a={amp}:r=48000:seed={seed},lowpass=f=3400,highpass=f=200,"
         "volume=volume='gt(sin(2*PI*t/{p1})+sin(2*PI*t/{p2}+{ph}),{thr})':eval=frame")


def _side(rng):
    return {"p1": round(rng.uniform(2.0, 9.0), 2), "p2": round(rng.uniform(1.1, 4.0), 2),
            "ph": round(rng.uniform(0, 6.28), 2), "thr": round(rng.uniform(-0.2, 0.6), 2),
            "amp": round(rng.uniform(0.1, 0.5), 2), "seed": rng.randrange(1 << 30)}


class _Call:
    category = "voip"

    def draw(self, rng, duration):
        port = 2 * rng.randrange(5000, 15000)
        return {"port": port, "bitrate": rng.choice([12, 16, 20, 24, 32, 40, 48, 64]),
                "frame_ms": rng.choice([20, 20, 20, 40, 10]),
                "key": base64.b64encode(rng.randbytes(30)).decode(),
                "caller": _side(rng), "callee": _side(rng),
                "link_kbit": rng.choice([None, 1000, 2000, 5000])}

    def ports(self, sess):
        return [("udp", sess.params["port"])]

    def aux_ports(self, sess):
        return [("udp", sess.params["port"] + 1)]

    def start(self, sess):
        p = sess.params
        sess.spawn("s", self.argv(sess, p["callee"], sess.client_ip), "callee")
        sess.spawn("c", self.argv(sess, p["caller"], sess.server_ip), "caller", client=True)


class FfmpegSrtp(_Call):
    """ffmpeg encoding Opus (VBR, voip mode) into RTP/SRTP, one sender on each end of the call."""
    name = "ffmpeg-srtp"

    def argv(self, sess, side, peer):
        p = sess.params
        port = p["port"]
        return ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi",
                "-i", VOICE.format(**side), "-t", str(int(sess.duration) + 30),
                "-c:a", "libopus", "-b:a", "%dk" % p["bitrate"], "-application", "voip",
                "-frame_duration", str(p["frame_ms"]), "-vbr", "on", "-f", "rtp",
                "-srtp_out_suite", "AES_CM_128_HMAC_SHA1_80", "-srtp_out_params", p["key"],
                "srtp://%s:%d?localport=%d" % (peer, port, port)]


class GstSrtp(_Call):
    """GStreamer opusenc (with DTX) -> rtpopuspay -> srtpenc -> udpsink, fed 'microphone' PCM."""
    name = "gstreamer-srtp"

    def argv(self, sess, side, peer):
        p = sess.params
        port = p["port"]
        key = base64.b64decode(p["key"]).hex()
        mic = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi",
               "-i", VOICE.format(**side), "-t", str(int(sess.duration) + 30),
               "-f", "s16le", "-ac", "1", "-ar", "48000", "-"]
        gst = ["gst-launch-1.0", "-q", "fdsrc", "fd=0", "!",
               "rawaudioparse", "format=pcm", "pcm-format=s16le", "sample-rate=48000",
               "num-channels=1", "!", "audioconvert", "!",
               "opusenc", "bitrate=%d" % (p["bitrate"] * 1000), "frame-size=%d" % p["frame_ms"],
               "audio-type=voice", "dtx=true", "bitrate-type=vbr", "!", "rtpopuspay", "!",
               "srtpenc", "key=" + key, "rtp-cipher=aes-128-icm", "rtp-auth=hmac-sha1-80",
               "rtcp-cipher=aes-128-icm", "rtcp-auth=hmac-sha1-80", "!",
               "udpsink", "host=" + peer, "port=%d" % port, "bind-port=%d" % port, "sync=false"]
        return ["sh", "-c", "%s | %s" % (shlex.join(mic), shlex.join(gst))]


APPS = [FfmpegSrtp(), GstSrtp()]
