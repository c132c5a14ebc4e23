/* Unit tests of lib/flowpic: geometry, exact fast paths, direction modes, saturation, forms. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "flowpic.h"
#include "fp_test.h"

#define W60 60000000ull		/* 60 s window in microseconds */

/* Reference geometry: the documented formulas, computed the plain way. */
static uint32_t
ref_row(uint32_t size, uint32_t r)
{
	uint32_t s = size > 1500 ? 1500 : size;
	uint32_t row = s * r / 1500;

	return row < r ? row : r - 1;
}

static uint32_t
ref_col(uint64_t t, uint32_t r, uint64_t w)
{
	if (t >= w)
		return r - 1;
	return (uint32_t)((unsigned __int128)t * r / w);
}

static struct fp_pkt_rec
rec(uint32_t t_us, uint16_t size, uint8_t dir)
{
	struct fp_pkt_rec p = { .t_us = t_us, .size = size, .dir = dir, .flags = 0 };

	return p;
}

/* Small deterministic generator (xorshift64*). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static int
test_create_rejects_bad_arguments(void)
{
	struct fp_flowpic *p;

	errno = 0;
	FP_ASSERT(fp_flowpic_create(0, W60, FP_DIR_BOTH) == NULL);
	FP_ASSERT_EQ(errno, EINVAL);
	errno = 0;
	FP_ASSERT(fp_flowpic_create(4097, W60, FP_DIR_BOTH) == NULL);
	FP_ASSERT_EQ(errno, EINVAL);
	errno = 0;
	FP_ASSERT(fp_flowpic_create(32, 0, FP_DIR_BOTH) == NULL);
	FP_ASSERT_EQ(errno, EINVAL);
	errno = 0;
	FP_ASSERT(fp_flowpic_create(32, W60, (enum fp_dir_mode)3) == NULL);
	FP_ASSERT_EQ(errno, EINVAL);
	p = fp_flowpic_create(32, W60, FP_DIR_UP);
	FP_ASSERT(p != NULL);
	FP_ASSERT_EQ(fp_flowpic_resolution(p), 32);
	FP_ASSERT_EQ(fp_flowpic_window_us(p), W60);
	FP_ASSERT_EQ(fp_flowpic_dir(p), FP_DIR_UP);
	fp_flowpic_free(p);
	fp_flowpic_free(NULL);
	return 0;
}

/* Size bins, hand-computed: row = size * R / 1500, size 1500 and above in row R-1. */
static int
test_size_bin_edges(void)
{
	static const uint32_t sizes[6] = { 0, 46, 47, 1499, 1500, 9000 };
	static const struct {
		uint32_t r;
		uint32_t rows[6];
	} cases[] = {
		{ 32, { 0, 0, 1, 31, 31, 31 } },	/* 47 * 32 = 1504 >= 1500 */
		{ 64, { 0, 1, 2, 63, 63, 63 } },	/* 46 * 64 = 2944, 47 * 64 = 3008 */
		{ 1500, { 0, 46, 47, 1499, 1499, 1499 } },
	};
	size_t c, i;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct fp_flowpic *p = fp_flowpic_create(cases[c].r, W60, FP_DIR_BOTH);

		FP_ASSERT(p != NULL);
		for (i = 0; i < 6; i++) {
			struct fp_pkt_rec r = rec(0, (uint16_t)sizes[i], 0);

			FP_ASSERT_EQ(fp_flowpic_cell_index(p, sizes[i], 0), cases[c].rows[i] * cases[c].r);
			FP_ASSERT_EQ(fp_flowpic_add(p, &r, 1), 1);
			FP_ASSERT_EQ(fp_flowpic_count(p, cases[c].rows[i], 0), 1);
			fp_flowpic_reset(p);
		}
		fp_flowpic_free(p);
	}
	return 0;
}

/* Time bins over 60 s, hand-computed bin widths: 1.875 s (R=32), 0.9375 s (64), 40 ms (1500). */
static int
test_time_bin_edges(void)
{
	static const uint32_t times[6] = {
		0, 0 /* just below edge */, 0 /* at edge */, 59999999, 60000000, 4294967295u
	};
	static const struct {
		uint32_t r, below, edge;
		uint32_t cols[6];
	} cases[] = {
		{ 32, 1874999, 1875000, { 0, 0, 1, 31, 31, 31 } },
		{ 64, 937499, 937500, { 0, 0, 1, 63, 63, 63 } },
		{ 1500, 39999, 40000, { 0, 0, 1, 1499, 1499, 1499 } },
	};
	size_t c, i;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct fp_flowpic *p = fp_flowpic_create(cases[c].r, W60, FP_DIR_BOTH);

		FP_ASSERT(p != NULL);
		for (i = 0; i < 6; i++) {
			uint32_t t = i == 1 ? cases[c].below : i == 2 ? cases[c].edge : times[i];
			struct fp_pkt_rec r = rec(t, 100, 0);
			uint32_t row = 100 * cases[c].r / 1500;

			FP_ASSERT_EQ(fp_flowpic_cell_index(p, 100, t), row * cases[c].r + cases[c].cols[i]);
			FP_ASSERT_EQ(fp_flowpic_add(p, &r, 1), 1);
			FP_ASSERT_EQ(fp_flowpic_count(p, row, cases[c].cols[i]), 1);
			FP_ASSERT_EQ(fp_flowpic_nnz(p), 1);
			fp_flowpic_reset(p);
		}
		fp_flowpic_free(p);
	}
	return 0;
}

/* The size->row table gives exactly the plain formula for every 16-bit size. */
static int
test_rows_exact_all_sizes(void)
{
	static const uint32_t res[] = { 1, 2, 3, 7, 32, 64, 100, 1499, 1500, 1501, 4096 };
	size_t i;
	uint32_t s;

	for (i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
		struct fp_flowpic *p = fp_flowpic_create(res[i], W60, FP_DIR_BOTH);

		FP_ASSERT(p != NULL);
		for (s = 0; s <= 65535; s++) {
			uint32_t got = fp_flowpic_cell_index(p, s, 0) / res[i];

			if (got != ref_row(s, res[i])) {
				fp_flowpic_free(p);
				FP_FAIL("R=%u size=%u: row %u, formula %u", res[i], s, got,
						ref_row(s, res[i]));
			}
		}
		fp_flowpic_free(p);
	}
	return 0;
}

/* Compare the builder's column with the plain formula for one time; 0 when equal. */
static int
col_matches(const struct fp_flowpic *p, uint32_t r, uint64_t w, uint64_t t)
{
	if (t > UINT32_MAX)
		return 1;
	return fp_flowpic_cell_index(p, 0, (uint32_t)t) == ref_col(t, r, w);
}

/*
 * The multiply-by-reciprocal column equals floor(t * R / W): every microsecond of a 60 s
 * window at R = 32, 64 and 1500, then around every bin edge and at random times for odd
 * resolutions and windows (including windows of 2^32 us and more, which use the division).
 */
static int
test_cols_exact_sweep(void)
{
	static const uint32_t full_res[] = { 32, 64, 1500 };
	static const uint32_t res[] = { 1, 2, 3, 7, 32, 64, 100, 1500, 4095, 4096 };
	static const uint64_t wins[] = {
		1, 2, 7, 1000, 999999, 1000003, 59999999, W60, 3600000000ull,
		4294967295ull, 4294967296ull, 10000000000000ull
	};
	size_t i, j;
	uint64_t t, k;

	for (i = 0; i < sizeof(full_res) / sizeof(full_res[0]); i++) {
		struct fp_flowpic *p = fp_flowpic_create(full_res[i], W60, FP_DIR_BOTH);

		FP_ASSERT(p != NULL);
		for (t = 0; t <= W60 + 10; t++) {
			if (!col_matches(p, full_res[i], W60, t)) {
				fp_flowpic_free(p);
				FP_FAIL("R=%u W=60s t=%llu: column differs from the formula",
						full_res[i], (unsigned long long)t);
			}
		}
		fp_flowpic_free(p);
	}
	for (i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
		for (j = 0; j < sizeof(wins) / sizeof(wins[0]); j++) {
			struct fp_flowpic *p = fp_flowpic_create(res[i], wins[j], FP_DIR_BOTH);
			int ok = 1;

			FP_ASSERT(p != NULL);
			for (k = 0; k <= res[i] && ok; k++) {
				/* first time of bin k: ceil(k * W / R) */
				uint64_t edge = (uint64_t)(((unsigned __int128)k * wins[j] + res[i] - 1) /
						res[i]);

				ok = col_matches(p, res[i], wins[j], edge) &&
						(edge == 0 || col_matches(p, res[i], wins[j], edge - 1)) &&
						col_matches(p, res[i], wins[j], edge + 1);
				t = edge;
			}
			for (k = 0; k < 20000 && ok; k++) {
				t = rng() % (wins[j] < UINT32_MAX ? wins[j] + 2 : (uint64_t)UINT32_MAX + 1);
				ok = col_matches(p, res[i], wins[j], t);
			}
			ok = ok && col_matches(p, res[i], wins[j], UINT32_MAX);
			fp_flowpic_free(p);
			if (!ok)
				FP_FAIL("R=%u W=%llu t=%llu: column differs from the formula", res[i],
						(unsigned long long)wins[j], (unsigned long long)t);
		}
	}
	return 0;
}

static int
test_empty_window(void)
{
	struct fp_flowpic *p = fp_flowpic_create(32, W60, FP_DIR_BOTH);
	float img[32 * 32];
	uint32_t i;

	FP_ASSERT(p != NULL);
	FP_ASSERT_EQ(fp_flowpic_add(p, NULL, 0), 0);
	FP_ASSERT_EQ(fp_flowpic_nnz(p), 0);
	FP_ASSERT_EQ(fp_flowpic_count(p, 0, 0), 0);
	for (i = 0; i < 32 * 32; i++)
		img[i] = 5.0f;
	fp_flowpic_to_dense(p, img, FP_NORM_LOG1P, 0);
	for (i = 0; i < 32 * 32; i++)
		FP_ASSERT_EQ(img[i], 0);
	fp_flowpic_reset(p);
	FP_ASSERT_EQ(fp_flowpic_nnz(p), 0);
	fp_flowpic_free(p);
	return 0;
}

/* dir 0 is up, 1 is down; any other value is drawn only in mode both. */
static int
test_direction_modes(void)
{
	const struct fp_pkt_rec recs[5] = {
		rec(0, 100, 0), rec(2000000, 200, 1), rec(4000000, 300, 0), rec(6000000, 400, 1),
		rec(8000000, 500, 2),
	};
	static const struct {
		enum fp_dir_mode mode;
		uint32_t drawn;
		uint32_t present[5];
	} cases[] = {
		{ FP_DIR_BOTH, 5, { 1, 1, 1, 1, 1 } },
		{ FP_DIR_UP, 2, { 1, 0, 1, 0, 0 } },
		{ FP_DIR_DOWN, 2, { 0, 1, 0, 1, 0 } },
	};
	size_t c, i;

	for (c = 0; c < 3; c++) {
		struct fp_flowpic *p = fp_flowpic_create(32, W60, cases[c].mode);

		FP_ASSERT(p != NULL);
		FP_ASSERT_EQ(fp_flowpic_add(p, recs, 5), cases[c].drawn);
		FP_ASSERT_EQ(fp_flowpic_nnz(p), cases[c].drawn);
		for (i = 0; i < 5; i++) {
			/* sizes 100..500 -> rows 2, 4, 6, 8, 10; times 0..8 s -> cols 0, 1, 2, 3, 4 */
			uint32_t row = recs[i].size * 32 / 1500;
			uint32_t col = (uint32_t)(recs[i].t_us / 1875000);

			FP_ASSERT_EQ(fp_flowpic_count(p, row, col), cases[c].present[i]);
		}
		fp_flowpic_free(p);
	}
	return 0;
}

static int
test_saturation(void)
{
	struct fp_flowpic *p = fp_flowpic_create(64, W60, FP_DIR_BOTH);
	struct fp_pkt_rec *recs = malloc(70000 * sizeof(*recs));
	uint32_t i;

	FP_ASSERT(p != NULL && recs != NULL);
	for (i = 0; i < 70000; i++)
		recs[i] = rec(1000, 1500, 0);
	FP_ASSERT_EQ(fp_flowpic_add(p, recs, 65534), 65534);
	FP_ASSERT_EQ(fp_flowpic_count(p, 63, 0), 65534);
	FP_ASSERT_EQ(fp_flowpic_add(p, recs, 70000 - 65534), 70000 - 65534);
	FP_ASSERT_EQ(fp_flowpic_count(p, 63, 0), 65535);
	FP_ASSERT_EQ(fp_flowpic_add(p, recs, 10), 10);
	FP_ASSERT_EQ(fp_flowpic_count(p, 63, 0), FP_FLOWPIC_COUNT_MAX);
	FP_ASSERT_EQ(fp_flowpic_nnz(p), 1);
	FP_ASSERT_EQ(fp_flowpic_cells(p)[0].count, 65535);
	FP_ASSERT_NEAR(fp_norm_apply(FP_NORM_LOG1P, fp_flowpic_cells(p)[0].count),
			11.090354888959125, 1e-5);	/* ln(65536) */
	free(recs);
	fp_flowpic_free(p);
	return 0;
}

/*
 * Weighted drawing (sampled windows): each record adds its weight, a weight of 0 counts as 1,
 * the direction filter still applies, and counts saturate at the same maximum.
 */
static int
test_weighted(void)
{
	struct fp_flowpic *p = fp_flowpic_create(32, W60, FP_DIR_UP);
	const struct fp_pkt_rec r[3] = { rec(0, 100, 0), rec(0, 100, 0), rec(0, 100, 1) };

	FP_ASSERT(p != NULL);
	FP_ASSERT_EQ(fp_flowpic_add_weighted(p, r, 3, 8), 2);
	FP_ASSERT_EQ(fp_flowpic_count(p, 100 * 32 / 1500, 0), 16);
	FP_ASSERT_EQ(fp_flowpic_add_weighted(p, r, 1, 0), 1);
	FP_ASSERT_EQ(fp_flowpic_count(p, 100 * 32 / 1500, 0), 17);
	FP_ASSERT_EQ(fp_flowpic_add_weighted(p, r, 1, 65518), 1);
	FP_ASSERT_EQ(fp_flowpic_count(p, 100 * 32 / 1500, 0), 65535);
	FP_ASSERT_EQ(fp_flowpic_add_weighted(p, r, 1, 1u << 31), 1);
	FP_ASSERT_EQ(fp_flowpic_count(p, 100 * 32 / 1500, 0), FP_FLOWPIC_COUNT_MAX);
	fp_flowpic_reset(p);
	FP_ASSERT_EQ(fp_flowpic_add_weighted(p, r, 1, 1u << 31), 1);
	FP_ASSERT_EQ(fp_flowpic_count(p, 100 * 32 / 1500, 0), FP_FLOWPIC_COUNT_MAX);
	FP_ASSERT_EQ(fp_flowpic_nnz(p), 1);
	fp_flowpic_free(p);
	return 0;
}

/* Reset forgets exactly the touched cells; the next picture holds only its own packets. */
static int
test_reset_does_not_pollute(void)
{
	struct fp_flowpic *p = fp_flowpic_create(32, W60, FP_DIR_BOTH);
	const struct fp_pkt_rec a[4] = {
		rec(0, 100, 0), rec(0, 100, 1), rec(30000000, 1400, 0), rec(59000000, 46, 1),
	};
	const struct fp_pkt_rec b[3] = { rec(0, 100, 0), rec(10000000, 700, 1), rec(10000001, 700, 0) };
	uint32_t r, c, total = 0;

	FP_ASSERT(p != NULL);
	FP_ASSERT_EQ(fp_flowpic_add(p, a, 4), 4);
	FP_ASSERT_EQ(fp_flowpic_nnz(p), 3);
	FP_ASSERT_EQ(fp_flowpic_count(p, 2, 0), 2);
	FP_ASSERT_EQ(fp_flowpic_count(p, 29, 16), 1);	/* 1400*32/1500 = 29, 30 s / 1.875 = 16 */
	FP_ASSERT_EQ(fp_flowpic_count(p, 0, 31), 1);	/* 59 s / 1.875 s = 31.47 */
	fp_flowpic_reset(p);
	FP_ASSERT_EQ(fp_flowpic_nnz(p), 0);
	for (r = 0; r < 32; r++)
		for (c = 0; c < 32; c++)
			FP_ASSERT_EQ(fp_flowpic_count(p, r, c), 0);
	FP_ASSERT_EQ(fp_flowpic_add(p, b, 3), 3);
	FP_ASSERT_EQ(fp_flowpic_nnz(p), 2);
	FP_ASSERT_EQ(fp_flowpic_count(p, 2, 0), 1);	/* not 3: a's two packets are gone */
	FP_ASSERT_EQ(fp_flowpic_count(p, 14, 5), 2);	/* 700*32/1500 = 14, 10 s / 1.875 = 5 */
	FP_ASSERT_EQ(fp_flowpic_count(p, 29, 16), 0);
	for (r = 0; r < 32; r++)
		for (c = 0; c < 32; c++)
			total += fp_flowpic_count(p, r, c);
	FP_ASSERT_EQ(total, 3);
	/* first-touch order */
	FP_ASSERT_EQ(fp_flowpic_cells(p)[0].idx, 2 * 32 + 0);
	FP_ASSERT_EQ(fp_flowpic_cells(p)[1].idx, 14 * 32 + 5);
	fp_flowpic_free(p);
	return 0;
}

/* Sparse cells, per-cell counts and the dense image all agree with a plain histogram. */
static int
test_sparse_equals_dense(void)
{
	static const uint32_t res[] = { 32, 64, 1500 };
	enum { N = 20000 };
	struct fp_pkt_rec *recs = malloc(N * sizeof(*recs));
	size_t i;
	uint32_t k;

	FP_ASSERT(recs != NULL);
	for (i = 0; i < 3; i++) {
		uint32_t r = res[i], nnz = 0, sum = 0;
		struct fp_flowpic *p = fp_flowpic_create(r, W60, FP_DIR_BOTH);
		uint32_t *ref = calloc((size_t)r * r, sizeof(*ref));
		float *img = malloc((size_t)r * r * sizeof(*img));
		const struct fp_cell *cells;

		FP_ASSERT(p != NULL && ref != NULL && img != NULL);
		for (k = 0; k < N; k++) {
			/* skewed sizes and times so that cells repeat */
			recs[k] = rec((uint32_t)(rng() % 61000000), (uint16_t)(rng() % 4 ? rng() % 200 :
					rng() % 9000), (uint8_t)(rng() % 2));
			ref[ref_row(recs[k].size, r) * r + ref_col(recs[k].t_us, r, W60)]++;
		}
		FP_ASSERT_EQ(fp_flowpic_add(p, recs, N), N);
		fp_flowpic_to_dense(p, img, FP_NORM_NONE, 0);
		for (k = 0; k < r * r; k++) {
			nnz += ref[k] != 0;
			FP_ASSERT_EQ(fp_flowpic_count(p, k / r, k % r), ref[k]);
			FP_ASSERT_EQ(img[k], ref[k]);
		}
		FP_ASSERT_EQ(fp_flowpic_nnz(p), nnz);
		cells = fp_flowpic_cells(p);
		for (k = 0; k < nnz; k++) {
			FP_ASSERT_EQ(cells[k].count, ref[cells[k].idx]);
			sum += cells[k].count;
		}
		FP_ASSERT_EQ(sum, N);
		FP_ASSERT_EQ(cells[0].idx, ref_row(recs[0].size, r) * r + ref_col(recs[0].t_us, r, W60));
		free(ref);
		free(img);
		fp_flowpic_free(p);
	}
	free(recs);
	return 0;
}

/* to_dense into a zero buffer (O(nnz)) equals the full write; clear_dense leaves all zeros. */
static int
test_dense_round_trip(void)
{
	static const enum fp_norm norms[3] = { FP_NORM_NONE, FP_NORM_LOG1P, FP_NORM_CLIP255 };
	struct fp_flowpic *p = fp_flowpic_create(64, W60, FP_DIR_BOTH);
	float *zero = calloc(64 * 64, sizeof(float));
	float *full = malloc(64 * 64 * sizeof(float));
	struct fp_pkt_rec recs[600];
	uint32_t i, n;

	FP_ASSERT(p != NULL && zero != NULL && full != NULL);
	for (i = 0; i < 600; i++)
		recs[i] = rec((uint32_t)(i * 97000), (uint16_t)(i % 3 == 0 ? 1500 : 60 + i % 7), 0);
	FP_ASSERT_EQ(fp_flowpic_add(p, recs, 600), 600);
	for (n = 0; n < 3; n++) {
		for (i = 0; i < 64 * 64; i++)
			full[i] = -1.0f;	/* garbage the full write must overwrite */
		fp_flowpic_to_dense(p, full, norms[n], 0);
		fp_flowpic_to_dense(p, zero, norms[n], 1);
		FP_ASSERT(memcmp(full, zero, 64 * 64 * sizeof(float)) == 0);
		for (i = 0; i < 64 * 64; i++)
			FP_ASSERT_NEAR(full[i], fp_norm_apply(norms[n], fp_flowpic_count(p, i / 64, i % 64)),
					0);
		fp_flowpic_clear_dense(p, zero);
		for (i = 0; i < 64 * 64; i++)
			FP_ASSERT_EQ(zero[i], 0);
	}
	/* size 1500 (every third packet) is row 63; t = i * 97 ms < 937.5 ms for i = 0, 3, 6, 9 */
	FP_ASSERT_EQ(fp_flowpic_count(p, 63, 0), 4);
	/* sizes 60..66 are row 2 (66 * 64 / 1500 = 2.8); i = 1, 2, 4, 5, 7, 8 are in column 0 */
	FP_ASSERT_EQ(fp_flowpic_count(p, 2, 0), 6);
	free(zero);
	free(full);
	fp_flowpic_free(p);
	return 0;
}

static int
test_norm_values(void)
{
	FP_ASSERT_NEAR(fp_norm_apply(FP_NORM_NONE, 0), 0.0, 0);
	FP_ASSERT_NEAR(fp_norm_apply(FP_NORM_NONE, 7), 7.0, 0);
	FP_ASSERT_NEAR(fp_norm_apply(FP_NORM_NONE, 65535), 65535.0, 0);
	FP_ASSERT_NEAR(fp_norm_apply(FP_NORM_LOG1P, 0), 0.0, 0);
	FP_ASSERT_NEAR(fp_norm_apply(FP_NORM_LOG1P, 1), 0.6931471805599453, 1e-7);
	FP_ASSERT_NEAR(fp_norm_apply(FP_NORM_LOG1P, 9), 2.302585092994046, 1e-6);
	FP_ASSERT_NEAR(fp_norm_apply(FP_NORM_CLIP255, 0), 0.0, 0);
	FP_ASSERT_NEAR(fp_norm_apply(FP_NORM_CLIP255, 51), 0.2, 1e-7);
	FP_ASSERT_NEAR(fp_norm_apply(FP_NORM_CLIP255, 255), 1.0, 0);
	FP_ASSERT_NEAR(fp_norm_apply(FP_NORM_CLIP255, 1000), 1.0, 0);
	return 0;
}

static int
test_names(void)
{
	enum fp_norm n = FP_NORM_NONE;
	enum fp_dir_mode d = FP_DIR_BOTH;

	FP_ASSERT_EQ(fp_norm_parse("log1p", &n), 0);
	FP_ASSERT_EQ(n, FP_NORM_LOG1P);
	FP_ASSERT_EQ(fp_norm_parse("clip255", &n), 0);
	FP_ASSERT_EQ(n, FP_NORM_CLIP255);
	FP_ASSERT_EQ(fp_norm_parse("none", &n), 0);
	FP_ASSERT_EQ(n, FP_NORM_NONE);
	FP_ASSERT_EQ(fp_norm_parse("LOG1P", &n), -EINVAL);
	FP_ASSERT_EQ(fp_norm_parse("", &n), -EINVAL);
	FP_ASSERT_EQ(fp_norm_parse(NULL, &n), -EINVAL);
	FP_ASSERT_EQ(n, FP_NORM_NONE);	/* untouched on error */
	FP_ASSERT_STR_EQ(fp_norm_name(FP_NORM_CLIP255), "clip255");
	FP_ASSERT_STR_EQ(fp_norm_name((enum fp_norm)9), "unknown");
	FP_ASSERT_EQ(fp_dir_parse("up", &d), 0);
	FP_ASSERT_EQ(d, FP_DIR_UP);
	FP_ASSERT_EQ(fp_dir_parse("down", &d), 0);
	FP_ASSERT_EQ(d, FP_DIR_DOWN);
	FP_ASSERT_EQ(fp_dir_parse("both", &d), 0);
	FP_ASSERT_EQ(d, FP_DIR_BOTH);
	FP_ASSERT_EQ(fp_dir_parse("sideways", &d), -EINVAL);
	FP_ASSERT_STR_EQ(fp_dir_name(FP_DIR_DOWN), "down");
	FP_ASSERT_STR_EQ(fp_dir_name((enum fp_dir_mode)7), "unknown");
	return 0;
}

/* Largest resolution, odd window, out-of-range lookups. */
static int
test_max_resolution_and_bounds(void)
{
	struct fp_flowpic *p = fp_flowpic_create(4096, 1000, FP_DIR_BOTH);
	const struct fp_pkt_rec r[2] = { rec(999, 1500, 0), rec(1, 1, 0) };

	FP_ASSERT(p != NULL);
	FP_ASSERT_EQ(fp_flowpic_add(p, r, 2), 2);
	/* 999 us of 1000 -> col 999*4096/1000 = 4091; size 1 -> row 1*4096/1500 = 2; col 4 */
	FP_ASSERT_EQ(fp_flowpic_count(p, 4095, 4091), 1);
	FP_ASSERT_EQ(fp_flowpic_count(p, 2, 4), 1);
	FP_ASSERT_EQ(fp_flowpic_count(p, 4096, 0), 0);
	FP_ASSERT_EQ(fp_flowpic_count(p, 0, 4096), 0);
	fp_flowpic_free(p);
	return 0;
}

/* Not an assertion: prints the cost of fp_flowpic_add on this machine for the record. */
static int
test_report_add_cost(void)
{
	enum { N = 1 << 20 };
	struct fp_pkt_rec *recs = malloc(N * sizeof(*recs));
	struct fp_flowpic *p = fp_flowpic_create(1500, W60, FP_DIR_BOTH);
	struct timespec a, b;
	uint32_t i, drawn = 0;

	FP_ASSERT(recs != NULL && p != NULL);
	for (i = 0; i < N; i++)
		recs[i] = rec((uint32_t)(rng() % W60), (uint16_t)(rng() % 1600), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < N; i += 1024) {
		drawn += fp_flowpic_add(p, recs + i, 1024);
		fp_flowpic_reset(p);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	FP_ASSERT_EQ(drawn, N);
	printf("     add+reset, R=1500, 1024-packet windows: %.1f ns/packet\n",
			((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / N);
	free(recs);
	fp_flowpic_free(p);
	return 0;
}

int
main(void)
{
	FP_RUN(test_create_rejects_bad_arguments);
	FP_RUN(test_size_bin_edges);
	FP_RUN(test_time_bin_edges);
	FP_RUN(test_rows_exact_all_sizes);
	FP_RUN(test_cols_exact_sweep);
	FP_RUN(test_empty_window);
	FP_RUN(test_direction_modes);
	FP_RUN(test_saturation);
	FP_RUN(test_weighted);
	FP_RUN(test_reset_does_not_pollute);
	FP_RUN(test_sparse_equals_dense);
	FP_RUN(test_dense_round_trip);
	FP_RUN(test_norm_values);
	FP_RUN(test_names);
	FP_RUN(test_max_resolution_and_bounds);
	FP_RUN(test_report_add_cost);
	return fp_test_report();
}
