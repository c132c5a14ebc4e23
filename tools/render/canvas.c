/* flowpic-render drawing: canvas, rectangles, FlowPic cells, and the PNG writer (libpng). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "render.h"

int
fpr_canvas_init(struct fpr_canvas *cv, int w, int h, uint32_t rgb)
{
	size_t i, n;

	if (w <= 0 || h <= 0 || w > 65536 || h > 65536)
		return -EINVAL;
	n = (size_t)w * (size_t)h;
	cv->px = malloc(n * 3);
	if (cv->px == NULL)
		return -ENOMEM;
	cv->w = w;
	cv->h = h;
	for (i = 0; i < n; i++) {
		cv->px[3 * i] = (uint8_t)(rgb >> 16);
		cv->px[3 * i + 1] = (uint8_t)(rgb >> 8);
		cv->px[3 * i + 2] = (uint8_t)rgb;
	}
	return 0;
}

void
fpr_canvas_free(struct fpr_canvas *cv)
{
	free(cv->px);
	cv->px = NULL;
}

static void
fpr_put(struct fpr_canvas *cv, int x, int y, uint32_t rgb)
{
	uint8_t *p;

	if (x < 0 || y < 0 || x >= cv->w || y >= cv->h)
		return;
	p = cv->px + 3 * ((size_t)y * (size_t)cv->w + (size_t)x);
	p[0] = (uint8_t)(rgb >> 16);
	p[1] = (uint8_t)(rgb >> 8);
	p[2] = (uint8_t)rgb;
}

void
fpr_rect(struct fpr_canvas *cv, int x, int y, int w, int h, uint32_t rgb, int fill)
{
	int i, j;

	for (j = 0; j < h; j++)
		for (i = 0; i < w; i++)
			if (fill || i == 0 || j == 0 || i == w - 1 || j == h - 1)
				fpr_put(cv, x + i, y + j, rgb);
}

unsigned int
fpr_pic_scale(uint32_t r, unsigned int box)
{
	return r == 0 ? 0 : box / r;
}

int
fpr_pic_size(uint32_t r, unsigned int box)
{
	unsigned int s = fpr_pic_scale(r, box), block;

	if (s >= 1)
		return (int)(s * r);
	block = (r + box - 1) / box;
	return (int)((r + block - 1) / block);
}

/* Colour of a count: white for 0, then from light blue to near black with log(1 + count). */
static uint32_t
fpr_shade(uint32_t count, uint32_t max)
{
	double f;
	unsigned int v;

	if (count == 0)
		return FPR_WHITE;
	f = max > 1 ? log1p((double)count) / log1p((double)max) : 1.0;
	v = (unsigned int)(200.0 * (1.0 - f));		/* 200 (light) .. 0 (dark) */
	return (v << 16) | (v << 8) | (v / 2 + 100 * (unsigned int)(f < 1.0));
}

void
fpr_draw_cells(struct fpr_canvas *cv, int x, int y, unsigned int box, uint32_t r,
		const struct fp_cell *cells, uint32_t n)
{
	uint32_t max = 0, i;
	unsigned int s = fpr_pic_scale(r, box), block = 1;
	int side = fpr_pic_size(r, box), px, py;

	if (s == 0) {
		block = (r + box - 1) / box;
		s = 1;
	}
	for (i = 0; i < n; i++)
		if (cells[i].count > max)
			max = cells[i].count;
	fpr_rect(cv, x, y, side, side, FPR_WHITE, 1);
	if (block == 1) {
		for (i = 0; i < n; i++) {
			uint32_t row = cells[i].idx / r, col = cells[i].idx % r;

			fpr_rect(cv, x + (int)(col * s), y + (int)((r - 1 - row) * s), (int)s,
				(int)s, fpr_shade(cells[i].count, max), 1);
		}
	} else {
		/* several cells per pixel: draw each pixel's largest count */
		uint32_t *best = calloc((size_t)side * (size_t)side, sizeof(*best));

		if (best == NULL)
			return;
		for (i = 0; i < n; i++) {
			uint32_t row = cells[i].idx / r, col = cells[i].idx % r;
			size_t k = (size_t)((r - 1 - row) / block) * (size_t)side + col / block;

			if (cells[i].count > best[k])
				best[k] = cells[i].count;
		}
		for (py = 0; py < side; py++)
			for (px = 0; px < side; px++)
				if (best[(size_t)py * (size_t)side + (size_t)px] != 0)
					fpr_put(cv, x + px, y + py, fpr_shade(
						best[(size_t)py * (size_t)side + (size_t)px], max));
		free(best);
	}
	fpr_rect(cv, x - 1, y - 1, side + 2, side + 2, FPR_GREY, 0);
}

/* The libpng calls; a libpng error long-jumps back here and gives -EIO. */
static int
fpr_png_body(png_structp png, png_infop info, FILE *f, const struct fpr_canvas *cv,
		png_text *txt, int n)
{
	int y;

	if (setjmp(png_jmpbuf(png)))
		return -EIO;
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)cv->w, (png_uint_32)cv->h, 8, PNG_COLOR_TYPE_RGB,
		PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (n > 0)
		png_set_text(png, info, txt, n);
	png_write_info(png, info);
	for (y = 0; y < cv->h; y++)
		png_write_row(png, cv->px + (size_t)y * (size_t)cv->w * 3);
	png_write_end(png, NULL);
	return 0;
}

int
fpr_png_write(const struct fpr_canvas *cv, const char *path, const struct fpr_text *t, int n)
{
	png_structp png = NULL;
	png_infop info = NULL;
	png_text *txt = NULL;
	FILE *f;
	int i, ret = -ENOMEM;

	f = fopen(path, "wb");
	if (f == NULL)
		return -errno;
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png != NULL ? png_create_info_struct(png) : NULL;
	txt = n > 0 ? calloc((size_t)n, sizeof(*txt)) : NULL;
	if (png != NULL && info != NULL && (n == 0 || txt != NULL)) {
		for (i = 0; i < n; i++) {
			txt[i].compression = PNG_TEXT_COMPRESSION_NONE;
			txt[i].key = (png_charp)(uintptr_t)t[i].key;
			txt[i].text = (png_charp)(uintptr_t)t[i].value;
		}
		ret = fpr_png_body(png, info, f, cv, txt, n);
	}
	png_destroy_write_struct(png != NULL ? &png : NULL, info != NULL ? &info : NULL);
	free(txt);
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	if (ret != 0)
		remove(path);
	return ret;
}
