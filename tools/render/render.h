/* flowpic-render internals: an RGB canvas, its text, FlowPic drawing and PNG output. */
#ifndef FPR_RENDER_H
#define FPR_RENDER_H

#include <stdint.h>

#include "flowpic.h"

#define FPR_GLYPH_W 5
#define FPR_GLYPH_H 7
#define FPR_GLYPH_ADV 6		/* glyph width plus one column of space */

#define FPR_WHITE 0xffffffu
#define FPR_BLACK 0x000000u
#define FPR_GREY 0x909090u

/** An RGB image, 3 bytes per pixel, row-major, top row first. */
struct fpr_canvas {
	int w, h;
	uint8_t *px;
};

/** Allocate a w x h canvas filled with rgb (0xRRGGBB). Returns 0 or -ENOMEM / -EINVAL. */
int fpr_canvas_init(struct fpr_canvas *cv, int w, int h, uint32_t rgb);

/** Free the pixels of a canvas (the struct itself belongs to the caller). */
void fpr_canvas_free(struct fpr_canvas *cv);

/** Fill (fill != 0) or outline a rectangle, clipped to the canvas. */
void fpr_rect(struct fpr_canvas *cv, int x, int y, int w, int h, uint32_t rgb, int fill);

/** Width in pixels of s drawn at scale (the font is monospaced). */
int fpr_text_width(const char *s, unsigned int scale);

/**
 * Draw s with its top-left corner at (x, y), each font pixel scale x scale; lower case is drawn
 * as capitals, characters without a glyph as a small box. Stops before passing max_w pixels
 * (0: no limit).
 */
void fpr_draw_text(struct fpr_canvas *cv, int x, int y, const char *s, unsigned int scale,
		uint32_t rgb, int max_w);

/**
 * Pixels per cell side when a resolution-R picture is drawn in about box pixels: box / R when
 * that is at least 1, else 0 meaning that several cells share a pixel (see fpr_pic_size()).
 */
unsigned int fpr_pic_scale(uint32_t r, unsigned int box);

/** Side in pixels of a resolution-R picture drawn in a box of about box pixels. */
int fpr_pic_size(uint32_t r, unsigned int box);

/**
 * Draw a FlowPic of resolution r given by its n non-zero cells (as fp_flowpic_cells() gives
 * them) with its top-left at (x, y) in about box x box pixels: time runs left to right
 * (column 0 at the left), packet size bottom to top (row 0 at the bottom); a cell's darkness
 * grows with log(1 + count) relative to the picture's largest count, empty cells stay white.
 * Where cells share a pixel the largest count is drawn.
 */
void fpr_draw_cells(struct fpr_canvas *cv, int x, int y, unsigned int box, uint32_t r,
		const struct fp_cell *cells, uint32_t n);

/** A text chunk stored in the PNG (key at most 79 characters). */
struct fpr_text {
	const char *key;
	const char *value;
};

/** Write the canvas as an 8-bit RGB PNG with n text chunks. Returns 0 or a negative errno. */
int fpr_png_write(const struct fpr_canvas *cv, const char *path, const struct fpr_text *t,
		int n);

#endif /* FPR_RENDER_H */
