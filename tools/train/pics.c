/* fp-pics: .windows -> FlowPics of the windows flowpicd would classify, as sparse .npy cells. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowpic.h"
#include "npy.h"
#include "winread.h"

#define CELLS_DESCR "[('win', '<u4'), ('cell', '<u4'), ('value', '<f4')]"
#define INDEX_DESCR "[('window', '<u4'), ('packets', '<u4'), ('nnz', '<u4')]"

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: fp-pics --windows F.windows --res R --out PREFIX [--dir both|up|down]\n"
		"               [--norm log1p|none|clip255] [--min-packets 10]\n"
		"               [--size-shift BYTES [--size-cap BYTES]] [--time-scale F]\n"
		"               [--time-shift US] [--drop-frac P [--aug-seed N]]\n"
		"Builds the FlowPic (lib/flowpic) of every window with at least min-packets\n"
		"packets and writes PREFIX.cells.npy (win, cell = row * R + col, normalised value)\n"
		"and PREFIX.index.npy (window number in the file, packets, non-zero cells), one\n"
		"index row per picture; cells' win is the picture's row in the index.\n"
		"--size-shift adds BYTES to every packet's size before drawing it, capped at\n"
		"--size-cap (default 1500): the picture the same traffic would give inside a\n"
		"tunnel that adds BYTES of headers per packet on a path of that MTU (training\n"
		"augmentation, docs/TRAINING.md).\n"
		"Further training augmentations alter a window's records before drawing, in this\n"
		"order: --drop-frac leaves out each record with probability P (packet loss; the\n"
		"choice is a hash of --aug-seed, the window number and the record number, so it is\n"
		"reproducible), --time-scale multiplies every arrival time by F (a slower or faster\n"
		"path), --time-shift adds US microseconds (may be negative) to every arrival time;\n"
		"records whose time leaves [0, window length) are left out. The window is drawn\n"
		"when its packets less the left-out records are at least min-packets and some\n"
		"record is left; the index's packets column holds that count. Without these\n"
		"options nothing changes.\n");
}

/* A window's training augmentation (all zero / one: none). */
struct aug {
	uint32_t size_shift, size_cap;
	double time_scale;
	int64_t time_shift;
	double drop_frac;
	uint64_t seed;
};

static uint64_t
splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * Apply a to the n records of window number window (window_us long) in place; returns the
 * records kept (compacted to the front, in their order).
 */
static uint32_t
augment(const struct aug *a, struct fp_pkt_rec *recs, uint32_t n, uint64_t window,
		uint64_t window_us)
{
	const uint64_t wseed = splitmix64(a->seed ^ splitmix64(window));
	uint32_t i, kept = 0;

	for (i = 0; i < n; i++) {
		struct fp_pkt_rec r = recs[i];
		int64_t t = r.t_us;

		if (a->drop_frac > 0 &&
				(double)(splitmix64(wseed + i) >> 11) * 0x1p-53 < a->drop_frac)
			continue;
		if (a->time_scale != 1.0)
			t = (int64_t)floor((double)t * a->time_scale);
		t += a->time_shift;
		if (t < 0 || (uint64_t)t >= window_us)
			continue;
		r.t_us = (uint32_t)t;
		if (a->size_shift != 0) {
			uint32_t sz = (uint32_t)r.size + a->size_shift;

			r.size = (uint16_t)(sz < a->size_cap ? sz : a->size_cap);
		}
		recs[kept++] = r;
	}
	return kept;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put_f32(uint8_t *p, float f)
{
	uint32_t v;

	memcpy(&v, &f, sizeof(v));
	put_u32(p, v);
}

/* Write one picture's index row and cells. */
static void
put_picture(struct fpt_npy *cells, struct fpt_npy *index, const struct fp_flowpic *pic,
		enum fp_norm norm, uint32_t row, uint32_t window, uint32_t packets)
{
	const struct fp_cell *c = fp_flowpic_cells(pic);
	uint32_t i, nnz = fp_flowpic_nnz(pic);
	uint8_t rec[12];

	for (i = 0; i < nnz; i++) {
		put_u32(rec, row);
		put_u32(rec + 4, c[i].idx);
		put_f32(rec + 8, fp_norm_apply(norm, c[i].count));
		fpt_npy_put(cells, rec);
	}
	put_u32(rec, window);
	put_u32(rec + 4, packets);
	put_u32(rec + 8, nnz);
	fpt_npy_put(index, rec);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "windows", required_argument, NULL, 'w' },
		{ "res", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "dir", required_argument, NULL, 'd' },
		{ "norm", required_argument, NULL, 'n' },
		{ "min-packets", required_argument, NULL, 'm' },
		{ "size-shift", required_argument, NULL, 's' },
		{ "size-cap", required_argument, NULL, 'c' },
		{ "time-scale", required_argument, NULL, 'T' },
		{ "time-shift", required_argument, NULL, 'S' },
		{ "drop-frac", required_argument, NULL, 'D' },
		{ "aug-seed", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *in = NULL, *out = NULL;
	struct aug aug = { .size_shift = 0, .size_cap = 1500, .time_scale = 1.0 };
	uint32_t res = 0, min_packets = 10, row = 0, seed = 0;
	double d;
	enum fp_dir_mode dir = FP_DIR_BOTH;
	enum fp_norm norm = FP_NORM_LOG1P;
	struct fpt_winread rd;
	struct fpt_npy cells, index;
	struct fpt_window w;
	struct fp_flowpic *pic;
	char err[512], *path;
	int opt, ret, rc = 1;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			in = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			if (fpt_opt_u32("fp-pics", "res", optarg, 1, FP_FLOWPIC_RES_MAX, &res) < 0)
				return 2;
			break;
		case 'd':
			if (fp_dir_parse(optarg, &dir) < 0) {
				fprintf(stderr, "fp-pics: --dir '%s' is not both, up or down\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			if (fp_norm_parse(optarg, &norm) < 0) {
				fprintf(stderr, "fp-pics: --norm '%s' is not none, log1p or "
					"clip255\n", optarg);
				return 2;
			}
			break;
		case 'm':
			if (fpt_opt_u32("fp-pics", "min-packets", optarg,
					1, 1000000, &min_packets) < 0)
				return 2;
			break;
		case 's':
			if (fpt_opt_u32("fp-pics", "size-shift", optarg,
					0, 65535, &aug.size_shift) < 0)
				return 2;
			break;
		case 'c':
			if (fpt_opt_u32("fp-pics", "size-cap", optarg, 1, 65535, &aug.size_cap) < 0)
				return 2;
			break;
		case 'T':
			if (fpt_opt_f64("fp-pics", "time-scale", optarg,
					0.01, 100, &aug.time_scale) < 0)
				return 2;
			break;
		case 'S':
			if (fpt_parse_f64(optarg, -3.6e9, 3.6e9, &d) < 0 || d != floor(d)) {
				fprintf(stderr, "fp-pics: --time-shift '%s' is not a whole number of "
					"microseconds in -3600e6..3600e6\n", optarg);
				return 2;
			}
			aug.time_shift = (int64_t)d;
			break;
		case 'D':
			if (fpt_opt_f64("fp-pics", "drop-frac", optarg, 0, 1, &aug.drop_frac) < 0)
				return 2;
			break;
		case 'A':
			if (fpt_opt_u32("fp-pics", "aug-seed", optarg, 0, UINT32_MAX, &seed) < 0)
				return 2;
			aug.seed = seed;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (in == NULL || out == NULL || res == 0 || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (fpt_winread_open(&rd, in, err, sizeof(err)) < 0) {
		fprintf(stderr, "fp-pics: %s\n", err);
		return 1;
	}
	pic = fp_flowpic_create(res, rd.window_us, dir);
	path = malloc(strlen(out) + 16);
	if (pic == NULL || path == NULL) {
		fprintf(stderr, "fp-pics: out of memory\n");
		goto close_in;
	}
	sprintf(path, "%s.cells.npy", out);
	ret = fpt_npy_open(&cells, path, CELLS_DESCR, 12);
	if (ret < 0) {
		fprintf(stderr, "fp-pics: %s: cannot create: %s\n", path, strerror(-ret));
		goto close_in;
	}
	sprintf(path, "%s.index.npy", out);
	ret = fpt_npy_open(&index, path, INDEX_DESCR, 12);
	if (ret < 0) {
		fprintf(stderr, "fp-pics: %s: cannot create: %s\n", path, strerror(-ret));
		fpt_npy_close(&cells, 1);
		goto close_in;
	}
	while ((ret = fpt_winread_next(&rd, &w, err, sizeof(err))) == 1) {
		uint32_t n = augment(&aug, rd.recs, w.n_records, rd.done - 1, rd.window_us);
		/* each record left out by augmentation takes its 2^shift packets with it */
		uint64_t gone = (uint64_t)(w.n_records - n) << w.shift;
		uint32_t packets = gone < w.packets ? w.packets - (uint32_t)gone : 0;

		/* flowpicd classifies a window only when it saw at least min_packets packets;
		 * a window whose records all left (augmentation) has nothing to draw. */
		if (packets < min_packets || (n == 0 && w.n_records != 0))
			continue;
		fp_flowpic_reset(pic);
		fp_flowpic_add_weighted(pic, rd.recs, n, 1u << w.shift);
		put_picture(&cells, &index, pic, norm, row++, (uint32_t)(rd.done - 1), packets);
	}
	if (ret < 0) {
		fprintf(stderr, "fp-pics: %s\n", err);
		fpt_npy_close(&cells, 1);
		fpt_npy_close(&index, 1);
		goto close_in;
	}
	ret = fpt_npy_close(&cells, 0);
	if (ret == 0)
		ret = fpt_npy_close(&index, 0);
	else
		fpt_npy_close(&index, 1);
	if (ret < 0) {
		fprintf(stderr, "fp-pics: %s.*.npy: write failed: %s\n", out, strerror(-ret));
		goto close_in;
	}
	rc = 0;
close_in:
	free(path);
	fp_flowpic_free(pic);
	fpt_winread_close(&rd);
	return rc;
}
