/* Sequential reader of fp-extract's .windows files (format: tools/extract/README.md). */
#ifndef FPT_WINREAD_H
#define FPT_WINREAD_H

#include <stdint.h>
#include <stdio.h>

#include "fp_rec.h"

/** Fields of one window header the training tools use. */
struct fpt_window {
	uint64_t start_us;	/**< window start, microseconds since the epoch */
	uint32_t index;		/**< window number within its flow */
	uint32_t packets;	/**< packets in the window (recorded or not) */
	uint32_t n_records;	/**< records that follow */
	uint8_t proto;		/**< IP protocol */
	uint8_t shift;		/**< each record stands for 2^shift packets (draw weight) */
};

/** An open .windows file being read window by window. */
struct fpt_winread {
	FILE *f;
	const char *path;
	uint64_t window_us;	/**< window length of every window in the file */
	uint64_t count;		/**< windows the header announces */
	uint64_t done;		/**< windows read so far */
	struct fp_pkt_rec *recs; /**< records of the last window read, owned by the reader */
	uint32_t cap;		/**< room in recs */
};

/**
 * Open path and read its file header. Returns 0, or -errno of the failed open, or -EINVAL
 * (bad magic, zero window length, window longer than 3600 s) with a one-line message naming
 * the file in err. On error nothing stays open.
 */
int
fpt_winread_open(struct fpt_winread *r, const char *path, char *err, size_t errlen);

/**
 * Read the next window: its header into w and its records into r->recs (valid until the next
 * call). Returns 1 when a window was read, 0 after the last one, or -EINVAL (file cut short,
 * record count above 2^24, record shift above 31, data after the last window) / -ENOMEM with a message in err.
 */
int
fpt_winread_next(struct fpt_winread *r, struct fpt_window *w, char *err, size_t errlen);

/** Close the file and free the record buffer. */
void
fpt_winread_close(struct fpt_winread *r);

/**
 * Parse a decimal command-line number in [lo, hi] into *out (the tools' option values).
 * Returns 0 or -EINVAL.
 */
int
fpt_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);

/** Same for a decimal (floating-point) number in [lo, hi]. */
int
fpt_parse_f64(const char *s, double lo, double hi, double *out);

/**
 * An option's value: fpt_parse_u32() / fpt_parse_f64() of arg, and on failure the tools'
 * message on stderr, "TOOL: --OPT 'ARG' is not in LO..HI". Returns 0 or -EINVAL.
 */
int
fpt_opt_u32(const char *tool, const char *opt, const char *arg, uint32_t lo, uint32_t hi,
		uint32_t *out);
int
fpt_opt_f64(const char *tool, const char *opt, const char *arg, double lo, double hi,
		double *out);

#endif /* FPT_WINREAD_H */
