/* FlowPic builder: one flow window's packet records -> a size x time 2-D histogram. */
#ifndef FP_FLOWPIC_H
#define FP_FLOWPIC_H

#include <stddef.h>
#include <stdint.h>

#include "fp_rec.h"

/**
 * @file
 * The one FlowPic builder, used by flowpicd's workers and by the training extractor, so a
 * model sees in service exactly the pictures it was trained on.
 *
 * Geometry (R = resolution, one of 32, 64, 1500; any 1..4096 is accepted):
 *  - rows are packet size: size is clipped to [0, 1500] and row = size * R / 1500 (integer
 *    division), with row R-1 also holding size 1500 itself (the last bin is closed, as in
 *    numpy.histogram2d over the range [0, 1500]);
 *  - columns are arrival time: col = t_us * R / window_us, clamped to R-1, so a packet at
 *    exactly the window end falls in the last column;
 *  - cell index = row * R + col (row-major, rows = size).
 * Cell counts saturate at FP_FLOWPIC_COUNT_MAX.
 *
 * Cost is O(packets): the builder remembers which cells it touched, and reset clears only
 * those.
 */

#define FP_FLOWPIC_COUNT_MAX 65535u
#define FP_FLOWPIC_SIZE_MAX 1500u
#define FP_FLOWPIC_RES_MAX 4096u

/** How counts become the CNN's input values; stored in the model's metadata. */
enum fp_norm {
	FP_NORM_NONE = 0,	/**< value = count */
	FP_NORM_LOG1P = 1,	/**< value = ln(1 + count) */
	FP_NORM_CLIP255 = 2,	/**< value = min(count, 255) / 255 */
};

/** One non-zero cell of the sparse form. */
struct fp_cell {
	uint32_t idx;		/**< row * R + col */
	uint32_t count;		/**< 1 .. FP_FLOWPIC_COUNT_MAX */
};

struct fp_flowpic;

/**
 * Create a builder. Returns NULL with errno = EINVAL for a resolution outside 1..4096, a zero
 * window or an unknown direction mode, ENOMEM when out of memory. The caller owns the builder
 * and frees it with fp_flowpic_free().
 */
struct fp_flowpic *
fp_flowpic_create(uint32_t resolution, uint64_t window_us, enum fp_dir_mode dir);

/** Free a builder; NULL is a no-op. */
void
fp_flowpic_free(struct fp_flowpic *pic);

/** Forget all packets added since the last reset; O(cells touched). */
void
fp_flowpic_reset(struct fp_flowpic *pic);

/**
 * Add n records. Records whose direction is filtered out by the mode are ignored; records with
 * t_us >= window_us go to the last column. Returns how many records were drawn (a record that
 * would start a new cell while the touched list cannot grow for lack of memory is not drawn).
 */
uint32_t
fp_flowpic_add(struct fp_flowpic *pic, const struct fp_pkt_rec *recs, uint32_t n);

/**
 * Same as fp_flowpic_add(), but each drawn record adds weight to its cell instead of 1 (a
 * weight of 0 counts as 1; counts still saturate at FP_FLOWPIC_COUNT_MAX). A window whose
 * records were sampled (struct fp_window.shift, see lib/flow/flow.h) is drawn with weight
 * 1 << shift, so its picture estimates the histogram of all its packets.
 */
uint32_t
fp_flowpic_add_weighted(struct fp_flowpic *pic, const struct fp_pkt_rec *recs, uint32_t n,
		uint32_t weight);

/** Resolution R of the picture. */
uint32_t
fp_flowpic_resolution(const struct fp_flowpic *pic);

/** Window length in microseconds the builder was created with. */
uint64_t
fp_flowpic_window_us(const struct fp_flowpic *pic);

/** Direction mode the builder was created with. */
enum fp_dir_mode
fp_flowpic_dir(const struct fp_flowpic *pic);

/**
 * Cell index (row * R + col) a packet of this size and arrival time falls in, by the geometry
 * above; the direction mode is not applied. Pure, and the same computation fp_flowpic_add()
 * uses.
 */
uint32_t
fp_flowpic_cell_index(const struct fp_flowpic *pic, uint32_t size, uint32_t t_us);

/** Number of non-zero cells. */
uint32_t
fp_flowpic_nnz(const struct fp_flowpic *pic);

/**
 * Sparse form: the non-zero cells, in the order they were first touched (not sorted). The
 * array belongs to the builder and is valid until the next add or reset.
 */
const struct fp_cell *
fp_flowpic_cells(const struct fp_flowpic *pic);

/** Count of one cell (0 when untouched). */
uint32_t
fp_flowpic_count(const struct fp_flowpic *pic, uint32_t row, uint32_t col);

/** Input value of a count under a normalisation (an unknown one gives the count itself). */
float
fp_norm_apply(enum fp_norm norm, uint32_t count);

/**
 * Write the dense R x R float image (row-major, dst holds R * R floats) with normalisation
 * applied. When
 * dst_is_zero is non-zero the caller promises dst is all zero and only non-zero cells are
 * written (O(nnz)); otherwise the whole image is written (O(R^2)).
 */
void
fp_flowpic_to_dense(const struct fp_flowpic *pic, float *dst, enum fp_norm norm,
		int dst_is_zero);

/** Zero, in a dense image written by fp_flowpic_to_dense(), exactly the cells of pic. */
void
fp_flowpic_clear_dense(const struct fp_flowpic *pic, float *dst);

/** Parse "none" | "log1p" | "clip255"; returns 0 or -EINVAL. */
int
fp_norm_parse(const char *s, enum fp_norm *out);

/** Name of a normalisation; never NULL. */
const char *
fp_norm_name(enum fp_norm norm);

/** Parse "both" | "up" | "down"; returns 0 or -EINVAL. */
int
fp_dir_parse(const char *s, enum fp_dir_mode *out);

/** Name of a direction mode; never NULL. */
const char *
fp_dir_name(enum fp_dir_mode dir);

#endif /* FP_FLOWPIC_H */
