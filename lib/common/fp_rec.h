/* Compact per-packet record: the unit a flow window stores and a FlowPic is built from. */
#ifndef FP_REC_H
#define FP_REC_H

#include <stdint.h>

/**
 * One packet of a flow window, 8 bytes.
 *
 * t_us is the arrival time in microseconds relative to the start of the window (the window's
 * first packet for window 0, start + k * window length for window k), so it is always
 * < window length in microseconds (at most 3600 s fits in 32 bits).
 * size is the IP total length (IPv6: 40 + payload length), saturated at 65535.
 * dir is 0 when the packet goes the same way as the flow's first packet ("up"), 1 otherwise.
 */
struct fp_pkt_rec {
	uint32_t t_us;
	uint16_t size;
	uint8_t dir;
	uint8_t flags;
};

_Static_assert(sizeof(struct fp_pkt_rec) == 8, "packet record must stay 8 bytes");

/** Direction modes of a FlowPic: which packets of a window are drawn. */
enum fp_dir_mode {
	FP_DIR_BOTH = 0,	/**< every packet */
	FP_DIR_UP = 1,		/**< only dir == 0 (same way as the flow's first packet) */
	FP_DIR_DOWN = 2,	/**< only dir == 1 */
};

#endif /* FP_REC_H */
