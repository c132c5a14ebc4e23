"""Session merge: a plain session's flows redrawn as the one tunnel flow a VPN would carry.

A VPN client sends every connection of a session through one tunnel, so flowpicd sees a
single flow whose windows hold the packets of all of them, cut into 60-s windows from the
tunnel's first packet. merge_session() builds those windows from the session's plain windows
(records only; sizes are not touched: the tunnel's headers are fp-pics' size shift, applied
when the merged windows are drawn). What flowpicd would do with such a flow is followed
exactly where the records allow it:

  * windows are cut on one grid from an origin (the session's first plain window start);
  * a member window sampled at 2^s keeps every 2^(S - s)-th record, S the largest shift of
    the members in that tunnel window, so every record stands for 2^S packets as in one
    sampled flow;
  * a tunnel window with more than max_records records is thinned to every other record,
    S + 1, until it fits (lib/flow's sampling past the record cap).

Only the lab's complete windows exist, so a flow's last, partial window is missing from the
tunnel too. Pictures are still drawn by fp-pics (lib/flowpic) from the written .windows file.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "extract"))
import fpwindows  # noqa: E402

# The tunnel is one UDP flow (OpenVPN, WireGuard; IPsec ESP has no ports, drawn the same).
TUNNEL_PROTO = 17


def merge_session(wf, members, origin, max_records):
    """Tunnel windows of one session: wf a fpwindows.WindowsFile, members the numbers of the
    session's windows in it, origin the tunnel's start (us since the epoch, at most the
    members' starts). Returns (headers, records): WINDOW_DTYPE rows in window order and
    their records, window after window, in arrival order."""
    win_us = wf.window_us
    parts = []
    for i in members:
        r = wf.window_records(i)
        w = wf.windows[i]
        if int(w["start_us"]) < origin:
            raise ValueError("window %d starts before the tunnel's origin" % i)
        parts.append((int(w["start_us"]) + r["t_us"].astype(np.uint64), r,
                      np.full(len(r), int(w["shift"]), np.int64), np.arange(len(r))))
    empty = (np.zeros(0, fpwindows.WINDOW_DTYPE), np.zeros(0, fpwindows.RECORD_DTYPE))
    if not parts:
        return empty
    t = np.concatenate([p[0] for p in parts])
    rec = np.concatenate([p[1] for p in parts])
    shift = np.concatenate([p[2] for p in parts])
    pos = np.concatenate([p[3] for p in parts])
    k = (t - np.uint64(origin)) // np.uint64(win_us)
    heads, recs = [], []
    for kk in np.unique(k):
        sel = np.flatnonzero(k == kk)
        s_max = int(shift[sel].max())
        packets = int(np.sum(np.left_shift(1, shift[sel])))
        nbytes = int(np.sum(rec["size"][sel].astype(np.int64) << shift[sel]))
        keep = sel[pos[sel] % np.left_shift(1, s_max - shift[sel]) == 0]
        keep = keep[np.argsort(t[keep], kind="stable")]
        while len(keep) > max_records:
            keep = keep[::2]
            s_max += 1
        start = origin + int(kk) * win_us
        out = rec[keep].copy()
        out["t_us"] = (t[keep] - np.uint64(start)).astype(np.uint32)
        h = np.zeros(1, fpwindows.WINDOW_DTYPE)
        h["family"] = 4
        h["proto"] = TUNNEL_PROTO
        h["start_us"] = start
        h["index"] = int(kk)
        h["packets"] = max(packets, len(keep))
        h["bytes"] = nbytes
        h["n_records"] = len(keep)
        h["sampled_out"] = int(h["packets"][0]) - len(keep)
        h["flags"] = 1 if s_max > 0 else 0
        h["shift"] = s_max
        heads.append(h)
        recs.append(out)
    return np.concatenate(heads), np.concatenate(recs)


def merge_file(wf, sessions, path, max_records=fpwindows.DEFAULT_MAX_RECORDS):
    """Write the tunnel windows of several sessions to path: sessions is a list of
    (key, origin, member window numbers). Returns the key of each written window, in order."""
    heads, recs, keys = [], [], []
    for key, origin, members in sessions:
        h, r = merge_session(wf, members, origin, max_records)
        heads.append(h)
        recs.append(r)
        keys += [key] * len(h)
    if heads:
        h, r = np.concatenate(heads), np.concatenate(recs)
    else:
        h, r = np.zeros(0, fpwindows.WINDOW_DTYPE), np.zeros(0, fpwindows.RECORD_DTYPE)
    fpwindows.write(path, wf.window_us, h, r)
    return keys
