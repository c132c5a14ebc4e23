/* Sparse front: a model's leading conv2d/relu/maxpool layers computed near a picture's cells. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

#include "infer_priv.h"

/*
 * Every tensor is kept channels-last ([position][channel], channels padded to a multiple of
 * SP_V so that a position is whole vectors) in a work array that equals the layer's background
 * (its output for the empty picture) except at the positions the current picture changed: the
 * layer's dirty list. The picture itself is the input pseudo-layer (R x R x 1, background 0,
 * dirty = its cells).
 *
 * A layer is computed from its input's dirty list: the outputs whose window holds a dirty
 * input are marked in a bitmap (candidates, in row-major order), then
 *  - conv2d either scatters each dirty input's deviation (work - background) into the
 *    candidates its window reaches (cheap when the input is sparse: a cell of a 10x10 stride-5
 *    convolution reaches 4 outputs), or gathers each candidate from the whole input (cheaper
 *    when most of the input is dirty); the cheaper one is chosen per picture by counting;
 *  - maxpool gathers each candidate's window;
 * a relu that follows (through dropouts) is applied to the candidates, and candidates equal to
 * the background are dropped. After the output is written only the dirty positions are put
 * back, so a picture costs O(its cells' reach), never O(R^2).
 *
 * Kernels work on up to SP_G positions and SP_NB vectors of SP_V channels at once so the
 * multiply-adds are independent (a single chain would wait on each FMA's latency).
 */

#ifdef __AVX512F__
#define SP_V 16			/* floats per vector */
#else
#define SP_V 8
#endif
#define SP_NB 4			/* vectors per position per pass */
#define SP_G 8			/* positions per gather kernel call (4 when 2 vectors or more) */
#define SP_MAX_C 1024		/* channels */

typedef float sp_vf __attribute__((vector_size(SP_V * sizeof(float))));
typedef int32_t sp_vi __attribute__((vector_size(SP_V * sizeof(int32_t))));

struct sp_layer {
	enum fp_layer_type type;	/* FP_LAYER_CONV2D, FP_LAYER_MAXPOOL; the picture: TYPE_MAX */
	uint32_t li;			/* index of the model layer */
	int relu;			/* a relu follows it (fused) */
	uint32_t k, s, p;
	uint32_t in_h, in_w, in_c;
	uint32_t out_h, out_w, out_c, cp;	/* cp: channels padded to SP_V (1 for the input) */
	uint32_t n_pos;			/* out_h * out_w */
	uint32_t *fan;			/* [in_h + in_w][2]: first and last output reaching an
					 * input row (then column); first > last when none */
	uint32_t int_h[2], int_w[2];	/* outputs whose window lies inside the input */
	float *wt;			/* conv2d: [k * k][in_c][cp], for gathering */
	float *ws;			/* conv2d: [k][s][in_c][f][cp], for scattering (below) */
	uint32_t f;			/* most outputs an input reaches per dimension */
	float *bias;			/* conv2d: [cp] */
	float *bg_pre;			/* background before the relu (scatter starts there) */
	float *bg;			/* background output */
	int uniform;			/* bg and bg_pre hold one position (same everywhere) */
	float *work;			/* [n_pos][cp] */
	uint64_t *bits;			/* candidate bitmap, [out_h][words] */
	uint32_t words;			/* 64-bit words per bitmap row */
	uint32_t *dirty;		/* [n_pos], SP_HW(row, column) */
	uint32_t n_dirty;
	uint32_t *all;			/* [n_pos]: every position, row-major */
};

/* A position as row << 16 | column (R <= 4096): no division to find its coordinates. */
#define SP_HW(h, w) (((uint32_t)(h) << 16) | (uint32_t)(w))
#define SP_H(hw) ((hw) >> 16)
#define SP_W(hw) ((hw) & 0xffffu)

/* Index of the position hw in L's tensors. */
static inline uint32_t
hw_pos(const struct sp_layer *L, uint32_t hw)
{
	return SP_H(hw) * L->out_w + SP_W(hw);
}

struct sp_front {
	uint32_t n;
	struct sp_layer in;		/* the picture */
	struct sp_layer layers[FP_MODEL_MAX_LAYERS];
	float *bg_out;			/* last layer's background, H x W x C (unpadded) */
	size_t out_floats;
};

static inline const float *
bg_at(const struct sp_layer *L, const float *base, uint32_t pos)
{
	return L->uniform ? base : base + (size_t)pos * L->cp;
}

static inline sp_vf
vmax(sp_vf a, sp_vf b)
{
	sp_vi m = a > b;

	return (sp_vf)(((sp_vi)a & m) | ((sp_vi)b & ~m));
}

/* relu of one position in place. */
static inline void
relu_pos(float *o, uint32_t cp)
{
	const sp_vf zero = { 0 };
	uint32_t j;

	for (j = 0; j < cp; j += SP_V)
		*(sp_vf *)(o + j) = vmax(*(sp_vf *)(o + j), zero);
}

/* Whether a vector has any bit set (without a trip through memory). */
static inline int
any_set(sp_vi v)
{
#if defined(__AVX512F__)
	return _mm512_test_epi32_mask((__m512i)v, (__m512i)v) != 0;
#elif defined(__AVX__)
	return !_mm256_testz_si256((__m256i)v, (__m256i)v);
#else
	int i, any = 0;

	for (i = 0; i < SP_V; i++)
		any |= v[i];
	return any != 0;
#endif
}

/* Whether two positions differ in any bit. */
static inline int
differs(const float *a, const float *b, uint32_t cp)
{
	sp_vi acc = { 0 };
	uint32_t j;

	for (j = 0; j < cp; j += SP_V)
		acc |= *(const sp_vi *)(a + j) ^ *(const sp_vi *)(b + j);
	return any_set(acc);
}

/* ---- candidates ---- */

/* Mark the outputs of L reached by P's dirty positions; returns the number of (input, output)
 * pairs, the work of a scatter. */
static uint64_t
mark(struct sp_layer *L, const struct sp_layer *P, uint32_t *row_lo, uint32_t *row_hi)
{
	const uint32_t *fh = L->fan, *fw = L->fan + 2 * L->in_h;
	uint32_t i, r, lo = UINT32_MAX, hi = 0;
	uint64_t pairs = 0;

	for (i = 0; i < P->n_dirty; i++) {
		uint32_t ih = SP_H(P->dirty[i]), iw = SP_W(P->dirty[i]);
		uint32_t h0 = fh[2 * ih], h1 = fh[2 * ih + 1];
		uint32_t w0 = fw[2 * iw], w1 = fw[2 * iw + 1];
		uint32_t a = w0 >> 6, b = w1 >> 6;
		uint64_t ma, mb;

		if (h0 > h1 || w0 > w1)
			continue;
		pairs += (uint64_t)(h1 - h0 + 1) * (w1 - w0 + 1);
		lo = h0 < lo ? h0 : lo;
		hi = h1 > hi ? h1 : hi;
		ma = ~0ull << (w0 & 63);
		mb = ~0ull >> (63 - (w1 & 63));
		for (r = h0; r <= h1; r++) {
			uint64_t *row = L->bits + (size_t)r * L->words;

			if (a == b) {
				row[a] |= ma & mb;
			} else {
				uint32_t x;

				row[a] |= ma;
				for (x = a + 1; x < b; x++)
					row[x] = ~0ull;
				row[b] |= mb;
			}
		}
	}
	*row_lo = lo;
	*row_hi = hi;
	return pairs;
}

/* Move the marked outputs into L's dirty list (row-major) and clear the bitmap. */
static void
extract(struct sp_layer *L, uint32_t row_lo, uint32_t row_hi)
{
	uint32_t r, x, n = 0;

	for (r = row_lo; r <= row_hi && row_lo <= row_hi; r++) {
		uint64_t *row = L->bits + (size_t)r * L->words;

		for (x = 0; x < L->words; x++) {
			uint64_t b = row[x];

			while (b != 0) {
				L->dirty[n++] = SP_HW(r, x * 64 + (uint32_t)__builtin_ctzll(b));
				b &= b - 1;
			}
			row[x] = 0;
		}
	}
	L->n_dirty = n;
}

/* ---- conv2d ---- */

/*
 * Gather kernel: g positions (g <= SP_G) with input windows starting at in[g], all taps in
 * [kh0, kh1) x [kw0, kw1), nb vectors of output channels from cb; results into out[g] + cb.
 */
static inline __attribute__((always_inline)) void
gather_kernel(const struct sp_layer *L, const struct sp_layer *P, const float *const *in,
		float *const *out, const uint32_t g, const uint32_t nb, uint32_t cb, uint32_t kh0,
		uint32_t kh1, uint32_t kw0, uint32_t kw1)
{
	const uint32_t in_c = L->in_c, cp = L->cp, icp = P->cp, in_row = P->out_w * icp;
	sp_vf acc[SP_G][SP_NB];
	uint32_t kh, kw, c, i, b;

#pragma GCC unroll 8
	for (i = 0; i < g; i++)
#pragma GCC unroll 4
		for (b = 0; b < nb; b++)
			acc[i][b] = *(const sp_vf *)(L->bias + cb + b * SP_V);
	for (kh = kh0; kh < kh1; kh++) {
		for (kw = kw0; kw < kw1; kw++) {
			const float *w = L->wt + (size_t)(kh * L->k + kw) * in_c * cp + cb;
			size_t off = (size_t)kh * in_row + (size_t)kw * icp;

			for (c = 0; c < in_c; c++, w += cp) {
				sp_vf wv[SP_NB];

#pragma GCC unroll 4
				for (b = 0; b < nb; b++)
					wv[b] = *(const sp_vf *)(w + b * SP_V);
#pragma GCC unroll 8
				for (i = 0; i < g; i++) {
					float x = in[i][off + c];

#pragma GCC unroll 4
					for (b = 0; b < nb; b++)
						acc[i][b] += x * wv[b];
				}
			}
		}
	}
#pragma GCC unroll 8
	for (i = 0; i < g; i++)
#pragma GCC unroll 4
		for (b = 0; b < nb; b++)
			*(sp_vf *)(out[i] + cb + b * SP_V) = acc[i][b];
}

/*
 * The gather kernel on g positions, specialised on the vector count nb: 8 positions at a
 * time for one vector, 4 for more (8 to 16 independent accumulators), then one at a time.
 */
static void
gather_run(const struct sp_layer *L, const struct sp_layer *P, const float *const *in,
		float *const *out, uint32_t g, uint32_t cb, uint32_t kh0, uint32_t kh1, uint32_t kw0,
		uint32_t kw1)
{
	uint32_t nb = (L->cp - cb) / SP_V, i = 0;

	if (nb == 1 && g == 8) {
		gather_kernel(L, P, in, out, 8, 1, cb, kh0, kh1, kw0, kw1);
		return;
	}
	for (; i + 4 <= g; i += 4) {
		switch (nb) {
		case 1: gather_kernel(L, P, in + i, out + i, 4, 1, cb, kh0, kh1, kw0, kw1); break;
		case 2: gather_kernel(L, P, in + i, out + i, 4, 2, cb, kh0, kh1, kw0, kw1); break;
		case 3: gather_kernel(L, P, in + i, out + i, 4, 3, cb, kh0, kh1, kw0, kw1); break;
		default: gather_kernel(L, P, in + i, out + i, 4, 4, cb, kh0, kh1, kw0, kw1); break;
		}
	}
	for (; i < g; i++) {
		switch (nb) {
		case 1: gather_kernel(L, P, in + i, out + i, 1, 1, cb, kh0, kh1, kw0, kw1); break;
		case 2: gather_kernel(L, P, in + i, out + i, 1, 2, cb, kh0, kh1, kw0, kw1); break;
		case 3: gather_kernel(L, P, in + i, out + i, 1, 3, cb, kh0, kh1, kw0, kw1); break;
		default: gather_kernel(L, P, in + i, out + i, 1, 4, cb, kh0, kh1, kw0, kw1); break;
		}
	}
}

/* The gather kernel for a group of interior positions, every block of channels. */
static void
gather_group(const struct sp_layer *L, const struct sp_layer *P, const float *const *in,
		float *const *out, uint32_t g)
{
	uint32_t cb;

	for (cb = 0; cb < L->cp; cb += SP_NB * SP_V)
		gather_run(L, P, in, out, g, cb, 0, L->k, 0, L->k);
}

/* Whether the window of output (oh, ow) lies inside the input (no tap clipped). */
static inline int
is_interior(const struct sp_layer *L, uint32_t oh, uint32_t ow)
{
	return oh >= L->int_h[0] && oh <= L->int_h[1] && ow >= L->int_w[0] && ow <= L->int_w[1];
}

/* Compute output (oh, ow) of L from P's work tensor, taps clipped to the input, into o. */
static void
gather_border(const struct sp_layer *L, const struct sp_layer *P, const float *src,
		uint32_t oh, uint32_t ow, float *o)
{
	int64_t h = (int64_t)oh * L->s - L->p, w = (int64_t)ow * L->s - L->p;
	uint32_t kh0 = h < 0 ? (uint32_t)-h : 0, kw0 = w < 0 ? (uint32_t)-w : 0;
	uint32_t kh1 = h + L->k > L->in_h ? (uint32_t)(L->in_h - h) : L->k;
	uint32_t kw1 = w + L->k > L->in_w ? (uint32_t)(L->in_w - w) : L->k;
	const float *in = src + (h * (int64_t)P->out_w + w) * (int64_t)P->cp;
	uint32_t cb;

	for (cb = 0; cb < L->cp; cb += SP_NB * SP_V)
		gather_run(L, P, &in, &o, 1, cb, kh0, kh1, kw0, kw1);
}

/* Compute the candidates of L by gathering from P's tensor src. */
static void
conv_gather(struct sp_layer *L, const struct sp_layer *P, const float *src, const uint32_t *cand,
		uint32_t n_cand)
{
	const float *in[SP_G];
	float *out[SP_G];
	uint32_t i, g = 0;

	for (i = 0; i < n_cand; i++) {
		uint32_t oh = SP_H(cand[i]), ow = SP_W(cand[i]);
		float *o = L->work + (size_t)(oh * L->out_w + ow) * L->cp;

		if (!is_interior(L, oh, ow)) {
			gather_border(L, P, src, oh, ow, o);
			continue;
		}
		in[g] = src + ((size_t)(oh * L->s - L->p) * P->out_w + (ow * L->s - L->p)) * P->cp;
		out[g++] = o;
		if (g == SP_G) {
			gather_group(L, P, in, out, g);
			g = 0;
		}
	}
	if (g > 0)
		gather_group(L, P, in, out, g);
}

/*
 * Scattering an input (ih, iw) of deviation d: the outputs it reaches in one output row oh are
 * consecutive, ow in [lo, hi], and their taps are kh = ih + p - oh * s and
 * kw = q - ow * s with q = iw + p: kw = q mod s for ow = q / s, then s more per step left.
 * ws[kh][q mod s][c] holds, for jj = 0 .. f-1, the weights of the output (q / s) - (f-1) + jj
 * (zero where kw >= k), so a row's update is out[oh][lo .. hi] += sum over c of
 * d[c] * ws[kh][q mod s][c][jj0 .. jj0 + hi - lo]: a contiguous strip of outputs and weights.
 */

#define SP_STRIP 8		/* vectors of a strip updated per pass */

/* out[0 .. m vectors) += sum over j < nz of d[j] * w[ch[j] * cstride + 0 .. m vectors). */
static inline __attribute__((always_inline)) void
strip_m(float *out, const float *w, size_t cstride, const float *d, const uint32_t *ch,
		uint32_t nz, const uint32_t m)
{
	sp_vf acc[SP_STRIP];
	uint32_t j, b;

#pragma GCC unroll 8
	for (b = 0; b < m; b++)
		acc[b] = *(const sp_vf *)(out + b * SP_V);
	for (j = 0; j < nz; j++) {
		const float *wp = w + ch[j] * cstride;
		float x = d[j];

#pragma GCC unroll 8
		for (b = 0; b < m; b++)
			acc[b] += x * *(const sp_vf *)(wp + b * SP_V);
	}
#pragma GCC unroll 8
	for (b = 0; b < m; b++)
		*(sp_vf *)(out + b * SP_V) = acc[b];
}

/* out[0 .. n) += sum over j < nz of d[j] * w[ch[j] * cstride + 0 .. n), n a multiple of SP_V. */
static void
strip_update(float *out, const float *w, size_t cstride, const float *d, const uint32_t *ch,
		uint32_t nz, uint32_t n)
{
	uint32_t off, m;

	for (off = 0; off < n; off += SP_STRIP * SP_V) {
		m = (n - off) / SP_V;
		switch (m > SP_STRIP ? SP_STRIP : m) {
		case 1: strip_m(out + off, w + off, cstride, d, ch, nz, 1); break;
		case 2: strip_m(out + off, w + off, cstride, d, ch, nz, 2); break;
		case 3: strip_m(out + off, w + off, cstride, d, ch, nz, 3); break;
		case 4: strip_m(out + off, w + off, cstride, d, ch, nz, 4); break;
		case 5: strip_m(out + off, w + off, cstride, d, ch, nz, 5); break;
		case 6: strip_m(out + off, w + off, cstride, d, ch, nz, 6); break;
		case 7: strip_m(out + off, w + off, cstride, d, ch, nz, 7); break;
		default: strip_m(out + off, w + off, cstride, d, ch, nz, 8); break;
		}
	}
}

/* Copy one position (cp floats, aligned). */
static inline void
copy_pos(float *dst, const float *src, uint32_t cp)
{
	uint32_t j;

	for (j = 0; j < cp; j += SP_V)
		*(sp_vf *)(dst + j) = *(const sp_vf *)(src + j);
}

/* Add the deviation of each of P's dirty positions into the candidates of L it reaches. */
static void
conv_scatter(struct sp_layer *L, const struct sp_layer *P)
{
	const uint32_t *fh = L->fan, *fw = L->fan + 2 * L->in_h, cp = L->cp, f = L->f;
	const size_t cstride = (size_t)f * cp, kstride = (size_t)L->s * L->in_c * cstride;
	uint32_t ch[SP_MAX_C], i, c, oh;
	float d[SP_MAX_C];

	for (i = 0; i < P->n_dirty; i++) {
		uint32_t ih = SP_H(P->dirty[i]), iw = SP_W(P->dirty[i]), pos = ih * P->out_w + iw;
		uint32_t nz = 0;
		const float *x = P->work + (size_t)pos * P->cp, *b = bg_at(P, P->bg, pos);
		uint32_t q = iw + L->p, lo = fw[2 * iw], hi = fw[2 * iw + 1], jj0;
		const float *wq;

		if (lo > hi)
			continue;
		for (c = 0; c < L->in_c; c++) {
			float v = x[c] - b[c];

			if (v != 0.0f) {
				d[nz] = v;
				ch[nz++] = c;
			}
		}
		if (nz == 0)
			continue;
		jj0 = lo + (f - 1) - q / L->s;
		wq = L->ws + (size_t)(q % L->s) * L->in_c * cstride + (size_t)jj0 * cp;
		for (oh = fh[2 * ih]; oh <= fh[2 * ih + 1]; oh++) {
			uint32_t kh = ih + L->p - oh * L->s;

			strip_update(L->work + ((size_t)oh * L->out_w + lo) * cp, wq + kh * kstride,
					cstride, d, ch, nz, (hi - lo + 1) * cp);
		}
	}
}

/* settle() for cp channels (a constant in the specialised copies). */
static inline __attribute__((always_inline)) void
settle_cp(struct sp_layer *L, const uint32_t *cand, uint32_t n_cand, const uint32_t cp)
{
	const size_t bg_step = L->uniform ? 0 : cp;
	uint32_t i, n = 0;

	for (i = 0; i < n_cand; i++) {
		uint32_t hw = cand[i], pos = hw_pos(L, hw);
		float *o = L->work + (size_t)pos * cp;

		if (L->relu)
			relu_pos(o, cp);
		if (differs(o, L->bg + pos * bg_step, cp))
			L->dirty[n++] = hw;
	}
	L->n_dirty = n;
}

/* Apply L's relu to the candidates and keep as dirty those differing from the background. */
static void
settle(struct sp_layer *L, const uint32_t *cand, uint32_t n_cand)
{
	switch (L->cp / SP_V) {
	case 1: settle_cp(L, cand, n_cand, SP_V); break;
	case 2: settle_cp(L, cand, n_cand, 2 * SP_V); break;
	default: settle_cp(L, cand, n_cand, L->cp); break;
	}
}

/* Put the candidates of L back to the background (bg or bg_pre); cp a constant when known. */
static inline __attribute__((always_inline)) void
restore_cp(struct sp_layer *L, const float *bg, const uint32_t *cand, uint32_t n_cand,
		const uint32_t cp)
{
	const size_t bg_step = L->uniform ? 0 : cp;
	uint32_t i;

	for (i = 0; i < n_cand; i++) {
		size_t pos = hw_pos(L, cand[i]);

		copy_pos(L->work + pos * cp, bg + pos * bg_step, cp);
	}
}

static void
restore(struct sp_layer *L, const float *bg, const uint32_t *cand, uint32_t n_cand)
{
	switch (L->cp / SP_V) {
	case 1: restore_cp(L, bg, cand, n_cand, SP_V); break;
	case 2: restore_cp(L, bg, cand, n_cand, 2 * SP_V); break;
	default: restore_cp(L, bg, cand, n_cand, L->cp); break;
	}
}

/*
 * The candidates of L for P's dirty positions: every position when P's dirty positions reach
 * about half of L's outputs or more (marking would cost more than it saves), else the marked
 * ones in L->dirty. Returns the candidate list; *pairs is the scatter work (input, output).
 */
static const uint32_t *
candidates(struct sp_layer *L, const struct sp_layer *P, uint32_t *n_cand, uint64_t *pairs)
{
	uint64_t reach = (uint64_t)P->n_dirty * L->f * L->f;
	uint32_t lo, hi;

	if (2 * reach >= L->n_pos) {
		*pairs = reach;
		*n_cand = L->n_pos;
		return L->all;
	}
	*pairs = mark(L, P, &lo, &hi);
	extract(L, lo, hi);
	*n_cand = L->n_dirty;
	return L->dirty;
}

/* One conv2d layer from its input's dirty positions. */
static void
conv_update(struct sp_layer *L, const struct sp_layer *P)
{
	const uint32_t *cand;
	uint32_t n_cand;
	uint64_t pairs;

	cand = candidates(L, P, &n_cand, &pairs);
	/* scatter: per pair a read-modify-write and in_c multiply-adds; gather: k^2 in_c each */
	if (pairs * (L->in_c + 2) <= (uint64_t)n_cand * L->k * L->k * L->in_c) {
		if (L->relu)	/* at rest work holds the background after the relu */
			restore(L, L->bg_pre, cand, n_cand);
		conv_scatter(L, P);
	} else {
		conv_gather(L, P, P->work, cand, n_cand);
	}
	settle(L, cand, n_cand);
}

/* ---- maxpool ---- */

/* Max over rows [h0, h1) and columns [w0, w1) of src (step floats a position), nb vectors. */
static inline __attribute__((always_inline)) void
pool_kernel(const float *src, size_t row, size_t step, uint32_t h0, uint32_t h1, uint32_t w0,
		uint32_t w1, float *o, const uint32_t nb)
{
	sp_vf m[SP_NB];
	uint32_t b, y, x;

#pragma GCC unroll 4
	for (b = 0; b < nb; b++)
		m[b] = (sp_vf){ 0 } - INFINITY;
	for (y = h0; y < h1; y++) {
		for (x = w0; x < w1; x++) {
			const float *v = src + y * row + x * step;

#pragma GCC unroll 4
			for (b = 0; b < nb; b++)
				m[b] = vmax(*(const sp_vf *)(v + b * SP_V), m[b]);
		}
	}
#pragma GCC unroll 4
	for (b = 0; b < nb; b++)
		*(sp_vf *)(o + b * SP_V) = m[b];
}

/* Max over the window of output (oh, ow) of L into o, reading src (step floats a position). */
static void
pool_window(const struct sp_layer *L, const float *src, size_t step, uint32_t oh, uint32_t ow,
		float *o)
{
	int64_t h = (int64_t)oh * L->s - L->p, w = (int64_t)ow * L->s - L->p;
	uint32_t h0 = h < 0 ? 0 : (uint32_t)h, w0 = w < 0 ? 0 : (uint32_t)w;
	uint32_t h1 = h + L->k > L->in_h ? L->in_h : (uint32_t)(h + L->k);
	uint32_t w1 = w + L->k > L->in_w ? L->in_w : (uint32_t)(w + L->k);
	size_t row = (size_t)L->in_w * step;
	uint32_t j;

	for (j = 0; j < L->cp; j += SP_NB * SP_V) {
		switch ((L->cp - j) / SP_V) {
		case 1: pool_kernel(src + j, row, step, h0, h1, w0, w1, o + j, 1); break;
		case 2: pool_kernel(src + j, row, step, h0, h1, w0, w1, o + j, 2); break;
		case 3: pool_kernel(src + j, row, step, h0, h1, w0, w1, o + j, 3); break;
		default: pool_kernel(src + j, row, step, h0, h1, w0, w1, o + j, 4); break;
		}
	}
}

/* One maxpool layer from its input's dirty positions. */
static void
pool_update(struct sp_layer *L, const struct sp_layer *P)
{
	const uint32_t *cand;
	uint32_t i, n_cand, n = 0;
	uint64_t pairs;

	cand = candidates(L, P, &n_cand, &pairs);
	for (i = 0; i < n_cand; i++) {
		uint32_t hw = cand[i], pos = hw_pos(L, hw);
		float *o = L->work + (size_t)pos * L->cp;

		pool_window(L, P->work, P->cp, SP_H(hw), SP_W(hw), o);
		if (L->relu)
			relu_pos(o, L->cp);
		if (differs(o, bg_at(L, L->bg, pos), L->cp))
			L->dirty[n++] = hw;
	}
	L->n_dirty = n;
}

/* ---- per picture ---- */

void
sp_front_begin(struct sp_front *sp)
{
	sp->in.n_dirty = 0;
}

void
sp_front_add(struct sp_front *sp, uint32_t row, uint32_t col, float v)
{
	sp->in.work[row * sp->in.out_w + col] = v;
	sp->in.dirty[sp->in.n_dirty++] = SP_HW(row, col);
}

void
sp_front_finish(struct sp_front *sp, float *dst)
{
	struct sp_layer *L, *P = &sp->in, *last = &sp->layers[sp->n - 1];
	uint32_t i, j;

	for (i = 0; i < sp->n; i++) {
		L = &sp->layers[i];
		if (L->type == FP_LAYER_CONV2D)
			conv_update(L, P);
		else
			pool_update(L, P);
		P = L;
	}
	memcpy(dst, sp->bg_out, sp->out_floats * sizeof(float));
	for (j = 0; j < last->n_dirty; j++) {
		uint32_t pos = hw_pos(last, last->dirty[j]);

		memcpy(dst + (size_t)pos * last->out_c, last->work + (size_t)pos * last->cp,
				last->out_c * sizeof(float));
	}
	for (j = 0; j < sp->in.n_dirty; j++)
		sp->in.work[hw_pos(&sp->in, sp->in.dirty[j])] = 0.0f;
	sp->in.n_dirty = 0;
	for (i = 0; i < sp->n; i++) {
		L = &sp->layers[i];
		restore(L, L->bg, L->dirty, L->n_dirty);
		L->n_dirty = 0;
	}
}

const float *
sp_front_background(const struct sp_front *sp)
{
	return sp->bg_out;
}

/* ---- cost estimates ---- */

/*
 * Estimated work of the front for a picture of nnz cells placed at random, in multiply-add
 * lanes (comparable with sp_front_dense_cost()). A layer's candidates are the outputs within
 * reach of its input's dirty positions, n (1 - exp(-dirty * fan / n)) for n outputs; when the
 * reach covers half the layer every output is a candidate (as in candidates()). A conv2d costs
 * the cheaper of scatter and gather (as conv_update() chooses); every candidate also costs
 * about 3 passes (start, relu and compare, restore).
 */
double
sp_front_cost(const struct sp_front *sp, uint32_t nnz)
{
	double dirty = nnz, cost = 0, fan, cand, work, scatter, gather;
	uint32_t i;

	for (i = 0; i < sp->n; i++) {
		const struct sp_layer *L = &sp->layers[i];
		double n = L->n_pos;

		fan = (double)L->f * L->f;
		cand = n * (1.0 - exp(-dirty * fan / n));
		work = 2 * dirty * fan >= n ? n : cand;
		if (L->type == FP_LAYER_CONV2D) {
			scatter = dirty * fan * (L->in_c + 2);
			gather = work * L->k * L->k * L->in_c;
			cost += (scatter < gather ? scatter : gather) * L->cp;
		} else {
			cost += work * L->k * L->k * L->cp;
		}
		cost += 3.0 * work * L->cp;
		dirty = cand;
	}
	return cost;
}

double
sp_front_dense_cost(const struct sp_front *sp)
{
	double cost = 0;
	uint32_t i;

	for (i = 0; i < sp->n; i++) {
		const struct sp_layer *L = &sp->layers[i];

		cost += (double)L->n_pos * L->k * L->k * L->out_c *
			(L->type == FP_LAYER_CONV2D ? L->in_c : 1);
	}
	return cost;
}

uint32_t
sp_front_reach_cap(const struct sp_front *sp, double fraction, size_t big_bytes)
{
	const struct sp_layer *L = &sp->layers[0];
	double fan = (double)L->f * L->f;

	if ((size_t)L->n_pos * L->cp * sizeof(float) <= big_bytes)
		return UINT32_MAX;
	/* nnz whose reach n (1 - exp(-nnz fan / n)) is the fraction of the first layer */
	return (uint32_t)(-log(1.0 - fraction) * L->n_pos / fan);
}

/* ---- creation ---- */

/* Fan-out table of one dimension: for input i, outputs [first, last] whose window holds i. */
static void
fan_table(uint32_t *t, uint32_t n_in, uint32_t n_out, uint32_t k, uint32_t s, uint32_t p)
{
	uint32_t i;

	for (i = 0; i < n_in; i++) {
		uint32_t ip = i + p;
		uint32_t lo = ip + 1 > k ? (ip + 1 - k + s - 1) / s : 0, hi = ip / s;

		if (hi >= n_out)
			hi = n_out - 1;
		t[2 * i] = lo;
		t[2 * i + 1] = hi;
		if (lo > hi) {		/* no output: keep first > last */
			t[2 * i] = 1;
			t[2 * i + 1] = 0;
		}
	}
}

/* Outputs whose window (no clipping) lies inside n inputs: [r[0], r[1]], r[0] > r[1] if none. */
static void
interior(uint32_t *r, uint32_t n_in, uint32_t n_out, uint32_t k, uint32_t s, uint32_t p)
{
	uint32_t lo = (p + s - 1) / s, hi;

	if (n_in + p < k) {
		r[0] = 1;
		r[1] = 0;
		return;
	}
	hi = (n_in + p - k) / s;
	if (hi >= n_out)
		hi = n_out - 1;
	r[0] = lo;
	r[1] = hi;
	if (lo > hi) {
		r[0] = 1;
		r[1] = 0;
	}
}

/* Make L's background arrays one position when all positions are equal. Returns 0 or -ENOMEM. */
static int
shrink_uniform(struct sp_layer *L)
{
	float *bg, *bg_pre;
	uint32_t pos;

	for (pos = 1; pos < L->n_pos; pos++) {
		if (differs(L->bg + (size_t)pos * L->cp, L->bg, L->cp) ||
				differs(L->bg_pre + (size_t)pos * L->cp, L->bg_pre, L->cp))
			return 0;
	}
	bg = infer_zalloc(L->cp * sizeof(float));
	bg_pre = L->bg_pre != L->bg ? infer_zalloc(L->cp * sizeof(float)) : bg;
	if (bg == NULL || bg_pre == NULL) {
		free(bg);
		return -ENOMEM;
	}
	memcpy(bg, L->bg, L->cp * sizeof(float));
	memcpy(bg_pre, L->bg_pre, L->cp * sizeof(float));
	if (L->bg_pre != L->bg)
		free(L->bg_pre);
	free(L->bg);
	L->bg = bg;
	L->bg_pre = bg_pre;
	L->uniform = 1;
	return 0;
}

/* Allocate L's arrays, lay out its weights and compute its background from P's. */
static int
layer_setup(struct sp_layer *L, struct sp_layer *P, const struct fp_layer *fl)
{
	size_t full = (size_t)L->n_pos * L->cp;
	uint32_t pos, o, c, kh, kw;

	L->words = (L->out_w + 63) / 64;
	L->fan = infer_zalloc(2 * ((size_t)L->in_h + L->in_w) * sizeof(uint32_t));
	L->work = infer_zalloc(full * sizeof(float));
	L->bits = infer_zalloc((size_t)L->out_h * L->words * sizeof(uint64_t));
	L->dirty = infer_zalloc((size_t)L->n_pos * sizeof(uint32_t));
	L->all = infer_zalloc((size_t)L->n_pos * sizeof(uint32_t));
	L->bg = infer_zalloc(full * sizeof(float));
	L->bg_pre = L->relu ? infer_zalloc(full * sizeof(float)) : L->bg;
	if (L->fan == NULL || L->work == NULL || L->bits == NULL || L->dirty == NULL ||
			L->all == NULL || L->bg == NULL || L->bg_pre == NULL)
		return -ENOMEM;
	for (pos = 0; pos < L->n_pos; pos++)
		L->all[pos] = SP_HW(pos / L->out_w, pos % L->out_w);
	fan_table(L->fan, L->in_h, L->out_h, L->k, L->s, L->p);
	fan_table(L->fan + 2 * L->in_h, L->in_w, L->out_w, L->k, L->s, L->p);
	interior(L->int_h, L->in_h, L->out_h, L->k, L->s, L->p);
	interior(L->int_w, L->in_w, L->out_w, L->k, L->s, L->p);
	if (L->type == FP_LAYER_CONV2D) {
		L->wt = infer_zalloc((size_t)L->k * L->k * L->in_c * L->cp * sizeof(float));
		L->bias = infer_zalloc(L->cp * sizeof(float));
		if (L->wt == NULL || L->bias == NULL)
			return -ENOMEM;
		for (o = 0; o < L->out_c; o++) {
			L->bias[o] = fl->bias[o];
			for (c = 0; c < L->in_c; c++)
				for (kh = 0; kh < L->k; kh++)
					for (kw = 0; kw < L->k; kw++)
						L->wt[((size_t)(kh * L->k + kw) * L->in_c + c) * L->cp + o] =
							fl->weights[(((size_t)o * L->in_c + c) * L->k + kh) *
								L->k + kw];
		}
		L->ws = infer_zalloc((size_t)L->k * L->s * L->in_c * L->f * L->cp * sizeof(float));
		if (L->ws == NULL)
			return -ENOMEM;
		for (kh = 0; kh < L->k; kh++) {
			uint32_t ph, jj;

			for (ph = 0; ph < L->s; ph++)
				for (c = 0; c < L->in_c; c++)
					for (jj = 0; jj < L->f; jj++) {
						/* output (q / s) - (f-1) + jj: kw = ph + (f-1-jj) * s */
						kw = ph + (L->f - 1 - jj) * L->s;
						if (kw >= L->k)
							continue;
						memcpy(L->ws + ((((size_t)kh * L->s + ph) * L->in_c + c) *
								L->f + jj) * L->cp,
								L->wt + ((size_t)(kh * L->k + kw) * L->in_c + c) *
								L->cp, L->cp * sizeof(float));
					}
		}
		/* every output from the input's background (P's work equals it at rest) */
		conv_gather(L, P, P->work, L->all, L->n_pos);
		memcpy(L->bg_pre, L->work, full * sizeof(float));
	} else {
		for (pos = 0; pos < L->n_pos; pos++)
			pool_window(L, P->work, P->cp, pos / L->out_w, pos % L->out_w,
					L->bg_pre + (size_t)pos * L->cp);
	}
	memcpy(L->bg, L->bg_pre, full * sizeof(float));
	if (L->relu)
		for (pos = 0; pos < L->n_pos; pos++)
			relu_pos(L->bg + (size_t)pos * L->cp, L->cp);
	memcpy(L->work, L->bg, full * sizeof(float));
	return shrink_uniform(L);
}

static void
layer_free(struct sp_layer *L)
{
	if (L->bg_pre != L->bg)
		free(L->bg_pre);
	free(L->bg);
	free(L->wt);
	free(L->ws);
	free(L->bias);
	free(L->fan);
	free(L->work);
	free(L->bits);
	free(L->dirty);
	free(L->all);
}

void
sp_front_free(struct sp_front *sp)
{
	uint32_t i;

	if (sp == NULL)
		return;
	for (i = 0; i < sp->n; i++)
		layer_free(&sp->layers[i]);
	layer_free(&sp->in);
	free(sp->bg_out);
	free(sp);
}

size_t
sp_front_bytes(const struct fp_model *m, uint32_t n_layers)
{
	size_t bytes = (size_t)m->resolution * m->resolution * 2 * sizeof(float);
	uint32_t i, j;

	for (i = 0; i < n_layers; i++) {
		const struct fp_layer *l = &m->layers[i];
		size_t n_pos = (size_t)l->out_h * l->out_w, cp = (l->out_c + SP_V - 1) / SP_V * SP_V;
		int relu = 0;

		if (l->type != FP_LAYER_CONV2D && l->type != FP_LAYER_MAXPOOL)
			continue;
		for (j = i + 1; j < n_layers && m->layers[j].type != FP_LAYER_CONV2D &&
				m->layers[j].type != FP_LAYER_MAXPOOL; j++)
			relu |= m->layers[j].type == FP_LAYER_RELU;
		/* work, background (twice with a relu, at most), dirty and all lists, bitmap */
		bytes += n_pos * cp * sizeof(float) * (relu ? 3 : 2) + n_pos * 2 * sizeof(uint32_t) +
			n_pos / 8;
		if (l->type == FP_LAYER_CONV2D)
			bytes += (size_t)l->kernel * (l->kernel + l->stride) * l->in_c * cp *
				sizeof(float);
	}
	return bytes;
}

struct sp_front *
sp_front_create(const struct fp_model *m, uint32_t n_layers, char *err, size_t errlen)
{
	struct sp_layer *L = NULL, *last;
	struct sp_front *sp;
	uint32_t i, pos;

	sp = calloc(1, sizeof(*sp));
	if (sp == NULL) {
		infer_err(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 0; i < n_layers; i++) {
		const struct fp_layer *fl = &m->layers[i];

		switch (fl->type) {
		case FP_LAYER_CONV2D:
		case FP_LAYER_MAXPOOL:
			if (sp->n == 0 && (fl->type != FP_LAYER_CONV2D || fl->in_c != 1)) {
				infer_err(err, errlen, "layer %u: sparse front must start with a conv2d on the input",
						i + 1);
				goto fail;
			}
			if (fl->in_c > SP_MAX_C || fl->out_c > SP_MAX_C) {
				infer_err(err, errlen, "layer %u: more than %u channels", i + 1, SP_MAX_C);
				goto fail;
			}
			L = &sp->layers[sp->n++];
			L->type = fl->type;
			L->li = i;
			L->k = fl->kernel;
			L->s = fl->stride;
			L->p = fl->padding;
			L->in_h = fl->in_h;
			L->in_w = fl->in_w;
			L->in_c = fl->in_c;
			L->out_h = fl->out_h;
			L->out_w = fl->out_w;
			L->out_c = fl->out_c;
			L->cp = (fl->out_c + SP_V - 1) / SP_V * SP_V;
			L->f = (fl->kernel + fl->stride - 1) / fl->stride;
			L->n_pos = fl->out_h * fl->out_w;
			break;
		case FP_LAYER_RELU:
			if (L == NULL) {
				infer_err(err, errlen, "layer %u: sparse front must start with a conv2d",
						i + 1);
				goto fail;
			}
			L->relu = 1;
			break;
		case FP_LAYER_DROPOUT:
			break;
		default:
			infer_err(err, errlen, "layer %u: type %d not allowed in the sparse front", i + 1,
					(int)fl->type);
			goto fail;
		}
	}
	if (sp->n == 0) {
		infer_err(err, errlen, "no layer in the sparse front");
		goto fail;
	}
	/* the picture: R x R x 1, zero at rest, its cells as dirty positions */
	sp->in.type = FP_LAYER_TYPE_MAX;
	sp->in.out_h = sp->in.out_w = m->resolution;
	sp->in.out_c = sp->in.cp = 1;
	sp->in.n_pos = m->resolution * m->resolution;
	sp->in.uniform = 1;
	sp->in.work = infer_zalloc((size_t)sp->in.n_pos * sizeof(float));
	sp->in.dirty = infer_zalloc((size_t)sp->in.n_pos * sizeof(uint32_t));
	sp->in.bg = sp->in.bg_pre = infer_zalloc(sizeof(float));
	if (sp->in.work == NULL || sp->in.dirty == NULL || sp->in.bg == NULL)
		goto nomem;
	/* in order: a layer's background is computed from the previous one's */
	for (i = 0; i < sp->n; i++) {
		L = &sp->layers[i];
		if (layer_setup(L, i > 0 ? L - 1 : &sp->in, &m->layers[L->li]) < 0)
			goto nomem;
	}
	last = &sp->layers[sp->n - 1];
	sp->out_floats = (size_t)last->n_pos * last->out_c;
	sp->bg_out = infer_zalloc(sp->out_floats * sizeof(float));
	if (sp->bg_out == NULL)
		goto nomem;
	for (pos = 0; pos < last->n_pos; pos++)
		memcpy(sp->bg_out + (size_t)pos * last->out_c, bg_at(last, last->bg, pos),
				last->out_c * sizeof(float));
	return sp;
nomem:
	infer_err(err, errlen, "out of memory for the sparse front");
fail:
	sp_front_free(sp);
	return NULL;
}
