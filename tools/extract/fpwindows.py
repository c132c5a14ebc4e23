#!/usr/bin/python3
"""Reader of fp-extract's .windows files into numpy arrays (format: tools/extract/README.md).

    import fpwindows
    f = fpwindows.read("capture.windows")
    f.window_us                      # window length in microseconds
    f.windows                        # structured array, one row per window (WINDOW_DTYPE)
    f.records                        # structured array of every packet record (RECORD_DTYPE)
    f.window_records(i)              # records of window i (a view into f.records)
    f.src(i), f.dst(i)               # initiator / responder address text of window i
    fpwindows.write(path, window_us, windows, records)   # the same format back to a file

Run as a script it prints a summary: /usr/bin/python3 fpwindows.py FILE.windows
"""

import ipaddress
import os
import sys

import numpy as np

MAGIC = b"FPWIN1\0\0"
FILE_HDR_SIZE = 24
# fp-extract's default --max-records, flowpicd's default flow.max_packets_per_window
DEFAULT_MAX_RECORDS = 16384

WINDOW_DTYPE = np.dtype([
    ("family", "u1"),        # 4 or 6
    ("proto", "u1"),         # IP protocol number
    ("vlan", "<u2"),         # outer VLAN id, 0 if untagged
    ("src_port", "<u2"),     # initiator's port (0 for protocols without ports)
    ("dst_port", "<u2"),
    ("src_addr", "u1", (16,)),   # initiator's address; IPv4 in the first 4 bytes
    ("dst_addr", "u1", (16,)),
    ("start_us", "<u8"),     # absolute window start, microseconds since the epoch
    ("index", "<u4"),        # window number from the flow's first packet
    ("packets", "<u4"),
    ("bytes", "<u8"),        # wire bytes
    ("n_records", "<u4"),
    ("sampled_out", "<u4"),  # packets past the record cap not recorded (sampling)
    ("no_mem", "<u4"),       # packets not recorded for lack of memory
    ("end_reason", "u1"),    # END_REASONS
    ("flags", "u1"),         # 1: sampled, 2: no_mem
    ("shift", "u1"),         # each record stands for 2^shift packets
    ("reserved", "u1"),
])
assert WINDOW_DTYPE.itemsize == 80

RECORD_DTYPE = np.dtype([
    ("t_us", "<u4"),         # microseconds from the window start
    ("size", "<u2"),         # IP total length, saturated at 65535
    ("dir", "u1"),           # 0: initiator -> responder, 1: the other way
    ("flags", "u1"),         # parser flags (1 fragment, 2 later fragment, 4 IPv4 options, ...)
])
assert RECORD_DTYPE.itemsize == 8

END_REASONS = ("time", "idle", "evict", "flush")


class WindowsFile:
    """The content of one .windows file."""

    def __init__(self, window_us, windows, records, offsets):
        self.window_us = window_us
        self.windows = windows
        self.records = records
        self.offsets = offsets      # records of window i: records[offsets[i]:offsets[i + 1]]

    def __len__(self):
        return len(self.windows)

    def window_records(self, i):
        return self.records[self.offsets[i]:self.offsets[i + 1]]

    def _addr(self, i, field):
        w = self.windows[i]
        raw = bytes(w[field])
        if w["family"] == 4:
            return str(ipaddress.IPv4Address(raw[:4]))
        return str(ipaddress.IPv6Address(raw))

    def src(self, i):
        return self._addr(i, "src_addr")

    def dst(self, i):
        return self._addr(i, "dst_addr")


class FormatError(ValueError):
    pass


def read(path):
    """Read a .windows file; raises FormatError when it is not one or is cut short."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < FILE_HDR_SIZE or data[:8] != MAGIC:
        raise FormatError("%s: not a .windows file (bad magic)" % path)
    window_us, count = np.frombuffer(data, "<u8", 2, 8)
    windows = np.empty(int(count), WINDOW_DTYPE)
    offsets = np.zeros(int(count) + 1, np.int64)
    spans = []
    pos = FILE_HDR_SIZE
    for i in range(int(count)):
        if pos + WINDOW_DTYPE.itemsize > len(data):
            raise FormatError("%s: cut short in window %d of %d" % (path, i, count))
        windows[i] = np.frombuffer(data, WINDOW_DTYPE, 1, pos)[0]
        pos += WINDOW_DTYPE.itemsize
        n = int(windows[i]["n_records"])
        end = pos + n * RECORD_DTYPE.itemsize
        if end > len(data):
            raise FormatError("%s: records of window %d cut short" % (path, i))
        spans.append((pos, n))
        offsets[i + 1] = offsets[i] + n
        pos = end
    if pos != len(data):
        raise FormatError("%s: %d bytes after the last window" % (path, len(data) - pos))
    records = np.empty(int(offsets[-1]), RECORD_DTYPE)
    for i, (p, n) in enumerate(spans):
        records[offsets[i]:offsets[i] + n] = np.frombuffer(data, RECORD_DTYPE, n, p)
    return WindowsFile(int(window_us), windows, records, offsets)


def write(path, window_us, windows, records):
    """Write windows (WINDOW_DTYPE rows, each with its n_records) and their records
    (RECORD_DTYPE, window after window, in order) as a .windows file read() reads back."""
    windows = np.asarray(windows, WINDOW_DTYPE)
    records = np.asarray(records, RECORD_DTYPE)
    n = windows["n_records"].astype(np.int64)
    if int(n.sum()) != len(records):
        raise ValueError("%d records for windows announcing %d" % (len(records), n.sum()))
    offsets = np.concatenate([[0], np.cumsum(n)])
    with open(path + ".tmp", "wb") as f:
        f.write(MAGIC + np.array([window_us, len(windows)], "<u8").tobytes())
        for i in range(len(windows)):
            f.write(windows[i:i + 1].tobytes())
            f.write(records[offsets[i]:offsets[i + 1]].tobytes())
    os.replace(path + ".tmp", path)


def main(argv):
    if len(argv) != 2:
        print("usage: fpwindows.py FILE.windows", file=sys.stderr)
        return 2
    try:
        f = read(argv[1])
    except (OSError, FormatError) as e:
        print("fpwindows: %s" % e, file=sys.stderr)
        return 1
    w = f.windows
    print("%s: window %g s, %d windows, %d records" % (argv[1], f.window_us / 1e6, len(f),
                                                      len(f.records)))
    for r, name in enumerate(END_REASONS):
        print("  end %-5s %d" % (name, int(np.sum(w["end_reason"] == r))))
    for i in range(min(len(f), 10)):
        print("  %s %s:%d > %s:%d start %.6f index %d packets %d bytes %d records %d %s" % (
            w[i]["proto"], f.src(i), w[i]["src_port"], f.dst(i), w[i]["dst_port"],
            w[i]["start_us"] / 1e6, w[i]["index"], w[i]["packets"], w[i]["bytes"],
            w[i]["n_records"], END_REASONS[w[i]["end_reason"]]
            if w[i]["end_reason"] < len(END_REASONS) else "?"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
