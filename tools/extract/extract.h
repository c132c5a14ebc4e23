/* fp-extract internals: link-layer decoding of captured frames and the .windows file writer. */
#ifndef FPX_EXTRACT_H
#define FPX_EXTRACT_H

#include <stdint.h>
#include <stdio.h>

#include "flow.h"
#include "pkt.h"

/** Size of the .windows file header and of each window header (see README.md). */
#define FPX_FILE_HDR_SIZE 24
#define FPX_WIN_HDR_SIZE 80
#define FPX_MAGIC "FPWIN1\0\0"

/** 1 when fp-extract can decode captures of this libpcap link type (DLT_*), else 0. */
int
fpx_link_supported(int dlt);

/**
 * Parse one captured frame of link type dlt (caplen bytes in data, wire_len on the wire)
 * with the flow parser. On FP_PARSE_OK, m->frame_len is set to the frame's wire length as an
 * Ethernet frame would have it: wire_len for Ethernet captures, else wire_len minus the
 * capture's link header plus 14. Returns the parse reason (unknown protocols of cooked or
 * loopback captures give FP_PARSE_NON_IP, a frame shorter than its link header
 * FP_PARSE_TRUNC_ETH).
 */
enum fp_parse_reason
fpx_link_parse(int dlt, const uint8_t *data, uint32_t caplen, uint32_t wire_len,
		struct fp_pkt_meta *m);

/** Output file being written: windows are appended, the count is patched in on close. */
struct fpx_writer {
	FILE *f;
	char *path;		/* final path */
	char *tmp;		/* path written to, renamed on success */
	uint64_t count;		/* windows written */
	uint64_t records;	/* records written */
	int err;		/* first errno seen, 0 if none */
};

/**
 * Create path's temporary sibling and write the file header. Returns 0 or a negative errno;
 * on error nothing is left behind.
 */
int
fpx_writer_open(struct fpx_writer *w, const char *path, uint64_t window_us);

/** Append one window (header and records), oriented as its flow's initiator saw it. */
void
fpx_writer_window(struct fpx_writer *w, struct fp_window *win);

/**
 * Finish: patch the count, flush, close and rename into place. With abort_write set, or on
 * any earlier write error, remove the temporary file instead. Returns 0 or a negative errno.
 */
int
fpx_writer_close(struct fpx_writer *w, int abort_write);

#endif /* FPX_EXTRACT_H */
