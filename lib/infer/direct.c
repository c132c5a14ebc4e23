/* Direct stage: a model's leading one-channel stride-1 conv2d (+ relu, + one maxpool), vectorised. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_priv.h"

/*
 * On the dense path, oneDNN's first convolution of a FlowPic network (1 input channel, a few
 * output channels) runs slowly: its blocked kernels are made for many channels. This stage
 * computes it directly, one picture at a time, vectorised over output columns.
 *
 * Layers: leading dropouts, a conv2d (1 input channel, stride 1, any kernel, padding and output
 * channels), the relus and dropouts after it, at most one maxpool (any kernel, stride, padding)
 * and the relus and dropouts after that; it stops before the next conv2d or maxpool or at the
 * end of the front. A relu after the pool is applied to the convolution's output instead: relu
 * is monotonic and every pooling window holds at least one real input, so it is the same.
 *
 * Phases: with pool stride s, the picture (zero-padded by the convolution's padding) is split
 * into s column phases, plane q holding padded columns q, q + s, q + 2s, ... Output column
 * x = s * m + q then reads padded column s * m + q + j = plane (q + j) % s at m + (q + j) / s, so
 * the convolution's outputs of phase q, m = m0 .. m0 + 15, are one vector computed from
 * unaligned loads of consecutive floats, and the pool's taps over x are vectors too: tap t of
 * pooled column p reads x = s * p - pad + t, phase (t - pad) mod s at m = p + floor((t - pad) / s).
 * Without a pool s is 1 and the stage's output is the convolution's.
 *
 * Kernel: a group of up to DR_GMAX output channels and two 16-column blocks at once, so each
 * broadcast weight feeds two FMAs and each input vector feeds one per channel of the group
 * (up to 16 independent accumulators in registers). Columns past the last output of a phase
 * are computed and ignored: buffers have slack so those loads stay inside them.
 *
 * Rows: the convolution's rows are kept in a ring of pool-kernel rows; each pooled row computes
 * the rows it needs that are not there yet, so no row is computed twice and the working set
 * stays in L1 at any resolution.
 *
 * Output: channels last (H, W, C), what the oneDNN chain after it takes (and what the sparse
 * front writes); the pooled rows are transposed through a small buffer.
 */

#define DR_V 16			/* floats per vector */
#ifdef __AVX512F__
#define DR_GMAX 8		/* output channels per kernel call: 16 zmm accumulators */
#else
#define DR_GMAX 4		/* 16-float vectors take two registers each */
#endif
#define DR_MAX_K 64		/* largest pool kernel (ring rows) and largest pool stride */

typedef float dr_vf __attribute__((vector_size(DR_V * sizeof(float))));
typedef int32_t dr_vi __attribute__((vector_size(DR_V * sizeof(int32_t))));

/* 16 output columns of one phase: where its loads start and where its results go. */
struct dr_block {
	uint32_t dst;		/* in one channel's conv row: q * cstride + margin + m0 */
	const int32_t *off;	/* [K]: offset of column tap j from row y of plane 0 */
};

/* A group of output channels, its weights [j][i][g] and biases. */
struct dr_group {
	uint32_t c0, g;
	float *w;
	float *b;
};

struct dr_stage {
	uint32_t conv_li, end;		/* the conv2d, and the first layer after the stage */
	uint32_t res, pad, k, oc, oh, ow;
	int relu;
	int pool;
	uint32_t pk, ps, pp, ph, pw;	/* pool kernel, stride, padding and output (1, 1, 0 and
					 * the conv's output without a pool) */
	/* input phase planes [ps][rows][pstride], zero outside the picture */
	uint32_t rows, pstride;
	size_t plane;
	float *planes;
	uint32_t fill_lo[DR_MAX_K], fill_n[DR_MAX_K], fill_c0[DR_MAX_K];
	/* conv rows: ring [pk][oc][ps][cstride], -inf outside the outputs when the pool pads */
	uint32_t cstride, margin;
	uint32_t cnt[DR_MAX_K];		/* outputs of phase q */
	float *ring;
	uint32_t n_blocks;
	struct dr_block *blocks;
	int32_t *offs;
	uint32_t n_groups;
	struct dr_group *groups;
	float *wpack;
	/* pooling */
	int32_t taps[DR_MAX_K];		/* tap t: q * cstride + margin + floor((t - pp) / s) */
	uint32_t pblocks;
	float *tmp;			/* [oc][pblocks * 16] one pooled row, channel-major */
	size_t out_floats;
	char desc[160];
};

static inline dr_vf
dr_load(const float *p)
{
	dr_vf v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void
dr_store(float *p, dr_vf v)
{
	memcpy(p, &v, sizeof(v));
}

static inline dr_vf
dr_max(dr_vf a, dr_vf b)
{
	dr_vi m = a > b;

	return (dr_vf)(((dr_vi)a & m) | ((dr_vi)b & ~m));
}

/* floor(a / b) for b > 0. */
static int32_t
floor_div(int32_t a, int32_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

uint32_t
dr_stage_layers(const struct fp_model *m, uint32_t front_end)
{
	uint32_t i = 0, pools = 0;

	while (i < front_end && m->layers[i].type == FP_LAYER_DROPOUT)
		i++;
	if (i == front_end || m->layers[i].type != FP_LAYER_CONV2D || m->layers[i].in_c != 1 ||
			m->layers[i].stride != 1)
		return 0;
	for (i++; i < front_end; i++) {
		enum fp_layer_type t = m->layers[i].type;

		if (t == FP_LAYER_MAXPOOL && pools == 0 && m->layers[i].stride <= DR_MAX_K &&
				m->layers[i].kernel <= DR_MAX_K)
			pools++;
		else if (t != FP_LAYER_RELU && t != FP_LAYER_DROPOUT)
			break;
	}
	return i;
}

void
dr_stage_free(struct dr_stage *dr)
{
	if (dr == NULL)
		return;
	free(dr->planes);
	free(dr->ring);
	free(dr->blocks);
	free(dr->offs);
	free(dr->groups);
	free(dr->wpack);
	free(dr->tmp);
	free(dr);
}

/* Split the output channels into groups of at most DR_GMAX and pack their weights. */
static int
pack_weights(struct dr_stage *dr, const struct fp_layer *l)
{
	uint32_t n = (dr->oc + DR_GMAX - 1) / DR_GMAX, gi, c0 = 0, g, i, j;
	size_t kk = (size_t)dr->k * dr->k;
	float *w;

	dr->n_groups = n;
	dr->groups = calloc(n, sizeof(*dr->groups));
	dr->wpack = infer_zalloc((kk + 1) * dr->oc * sizeof(float));
	if (dr->groups == NULL || dr->wpack == NULL)
		return -ENOMEM;
	w = dr->wpack;
	for (gi = 0; gi < n; gi++) {
		struct dr_group *G = &dr->groups[gi];

		G->c0 = c0;
		G->g = dr->oc / n + (gi < dr->oc % n);	/* even groups: 20 = 7 + 7 + 6 */
		G->w = w;
		for (j = 0; j < dr->k; j++)
			for (i = 0; i < dr->k; i++)
				for (g = 0; g < G->g; g++)
					*w++ = l->weights[((size_t)(c0 + g) * dr->k + i) * dr->k + j];
		G->b = w;
		for (g = 0; g < G->g; g++)
			*w++ = l->bias[c0 + g];
		c0 += G->g;
	}
	return 0;
}

/* Shapes, phase planes, conv row ring, blocks and pool taps. */
static int
lay_out(struct dr_stage *dr)
{
	uint32_t q, t, b, j, nblk_max = 0, nb, used[DR_MAX_K] = { 0 };
	int32_t mo, mo_min = 0, mo_max = 0;
	size_t n;

	for (t = 0; t < dr->pk; t++) {
		int32_t d = (int32_t)t - (int32_t)dr->pp;

		mo = floor_div(d, (int32_t)dr->ps);
		q = (uint32_t)(d - mo * (int32_t)dr->ps);
		used[q] = 1;
		mo_min = mo < mo_min ? mo : mo_min;
		mo_max = mo > mo_max ? mo : mo_max;
	}
	dr->n_blocks = 0;
	for (q = 0; q < dr->ps; q++) {
		dr->cnt[q] = q < dr->ow ? (dr->ow - 1 - q) / dr->ps + 1 : 0;
		nb = (dr->cnt[q] + DR_V - 1) / DR_V;
		nblk_max = nb > nblk_max ? nb : nblk_max;
		if (used[q])
			dr->n_blocks += nb;
	}
	dr->pblocks = (dr->pw + DR_V - 1) / DR_V;
	/* planes: every column a block loads, and every column of the padded picture */
	dr->rows = dr->res + 2 * dr->pad;
	dr->pstride = nblk_max * DR_V + (dr->ps + dr->k - 2) / dr->ps;
	n = (dr->rows + dr->ps - 1) / dr->ps;
	if (dr->pstride < n)
		dr->pstride = (uint32_t)n;
	dr->plane = (size_t)dr->rows * dr->pstride;
	/* conv rows: the blocks' stores and the pool's loads, -inf margins on both sides */
	dr->margin = (uint32_t)-mo_min;
	n = dr->pblocks * DR_V + (uint32_t)mo_max;
	if (n < (size_t)nblk_max * DR_V)
		n = (size_t)nblk_max * DR_V;
	dr->cstride = (uint32_t)((dr->margin + n + DR_V - 1) / DR_V * DR_V);
	for (t = 0; t < dr->pk; t++) {
		int32_t d = (int32_t)t - (int32_t)dr->pp;

		mo = floor_div(d, (int32_t)dr->ps);
		q = (uint32_t)(d - mo * (int32_t)dr->ps);
		dr->taps[t] = (int32_t)(q * dr->cstride + dr->margin) + mo;
	}
	/* filling the planes: image column c = s * m + q - pad for m in [lo, lo + n) */
	for (q = 0; q < dr->ps; q++) {
		uint32_t lo = dr->pad > q ? (dr->pad - q + dr->ps - 1) / dr->ps : 0;
		uint32_t hi = (dr->res + dr->pad - q + dr->ps - 1) / dr->ps;

		if (dr->res + dr->pad <= q)
			hi = 0;
		dr->fill_lo[q] = lo;
		dr->fill_n[q] = hi > lo ? hi - lo : 0;
		dr->fill_c0[q] = dr->ps * lo + q - dr->pad;
	}
	dr->planes = infer_zalloc(dr->ps * dr->plane * sizeof(float));
	dr->ring = infer_zalloc((size_t)dr->pk * dr->oc * dr->ps * dr->cstride * sizeof(float));
	dr->tmp = infer_zalloc((size_t)dr->oc * dr->pblocks * DR_V * sizeof(float));
	dr->blocks = calloc(dr->n_blocks, sizeof(*dr->blocks));
	dr->offs = calloc((size_t)dr->n_blocks * dr->k, sizeof(*dr->offs));
	if (dr->planes == NULL || dr->ring == NULL || dr->tmp == NULL || dr->blocks == NULL ||
			dr->offs == NULL)
		return -ENOMEM;
	b = 0;
	for (q = 0; q < dr->ps; q++) {
		uint32_t m0;

		if (!used[q])
			continue;
		for (m0 = 0; m0 < dr->cnt[q]; m0 += DR_V, b++) {
			int32_t *off = dr->offs + (size_t)b * dr->k;

			dr->blocks[b].dst = q * dr->cstride + dr->margin + m0;
			dr->blocks[b].off = off;
			for (j = 0; j < dr->k; j++)
				off[j] = (int32_t)(((q + j) % dr->ps) * dr->plane + (q + j) / dr->ps + m0);
		}
	}
	/* every conv row position no block writes is -inf for the pool (never read without one) */
	n = (size_t)dr->pk * dr->oc * dr->ps;
	for (b = 0; b < n; b++) {
		float *row = dr->ring + (size_t)b * dr->cstride;

		q = b % dr->ps;
		for (j = 0; j < dr->cstride; j++)
			if (j < dr->margin || j >= dr->margin + dr->cnt[q])
				row[j] = -INFINITY;
	}
	return 0;
}

struct dr_stage *
dr_stage_create(const struct fp_model *m, uint32_t front_end, char *err, size_t errlen)
{
	uint32_t end = dr_stage_layers(m, front_end), i;
	const struct fp_layer *cl = NULL, *pl = NULL, *last;
	struct dr_stage *dr;
	size_t n;

	if (end == 0) {
		infer_err(err, errlen, "the model does not start with a one-channel stride-1 conv2d");
		errno = EINVAL;
		return NULL;
	}
	dr = calloc(1, sizeof(*dr));
	if (dr == NULL)
		goto nomem;
	for (i = 0; i < end; i++) {
		const struct fp_layer *l = &m->layers[i];

		if (l->type == FP_LAYER_CONV2D) {
			cl = l;
			dr->conv_li = i;
		} else if (l->type == FP_LAYER_MAXPOOL) {
			pl = l;
		} else if (l->type == FP_LAYER_RELU) {
			dr->relu = 1;
		}
	}
	last = &m->layers[end - 1];
	dr->end = end;
	dr->res = m->resolution;
	dr->pad = cl->padding;
	dr->k = cl->kernel;
	dr->oc = cl->out_c;
	dr->oh = cl->out_h;
	dr->ow = cl->out_w;
	dr->pool = pl != NULL;
	dr->pk = pl != NULL ? pl->kernel : 1;
	dr->ps = pl != NULL ? pl->stride : 1;
	dr->pp = pl != NULL ? pl->padding : 0;
	dr->ph = last->out_h;
	dr->pw = last->out_w;
	dr->out_floats = (size_t)dr->oc * dr->ph * dr->pw;
	if (pack_weights(dr, cl) < 0 || lay_out(dr) < 0)
		goto nomem;
	n = (size_t)snprintf(dr->desc, sizeof(dr->desc), "layers 1-%u (conv2d %ux%u pad %u, %u channel%s%s",
			end, dr->k, dr->k, dr->pad, dr->oc, dr->oc == 1 ? "" : "s",
			dr->relu ? " + relu" : "");
	if (pl != NULL && n < sizeof(dr->desc))
		snprintf(dr->desc + n, sizeof(dr->desc) - n, " + maxpool %u/%u pad %u)", dr->pk,
				dr->ps, dr->pp);
	else if (n < sizeof(dr->desc))
		snprintf(dr->desc + n, sizeof(dr->desc) - n, ")");
	return dr;
nomem:
	dr_stage_free(dr);
	infer_err(err, errlen, "out of memory for the direct stage");
	errno = ENOMEM;
	return NULL;
}

uint32_t
dr_stage_end(const struct dr_stage *dr)
{
	return dr->end;
}

size_t
dr_stage_out_floats(const struct dr_stage *dr)
{
	return dr->out_floats;
}

const char *
dr_stage_describe(const struct dr_stage *dr)
{
	return dr->desc;
}

/* ---- running ---- */

/*
 * Image columns 32 i .. 32 i + 31 of one row into two planes: even ones to even[16 i ..], odd
 * ones to odd[16 i ..], for the whole 32-column chunks of the row; returns the columns done.
 */
static uint32_t
split2(const float *src, uint32_t R, float *even, float *odd)
{
	uint32_t c;

	for (c = 0; c + 2 * DR_V <= R; c += 2 * DR_V) {
		dr_vf a = dr_load(src + c), b = dr_load(src + c + DR_V);

		dr_store(even + c / 2, __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14,
				16, 18, 20, 22, 24, 26, 28, 30));
		dr_store(odd + c / 2, __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15,
				17, 19, 21, 23, 25, 27, 29, 31));
	}
	return c;
}

/* Copy an R x R picture into the phase planes (their padding stays zero). */
static void
fill_planes(struct dr_stage *dr, const float *img)
{
	const uint32_t s = dr->ps, R = dr->res, p = dr->pad;
	uint32_t r, q, m, c;

	for (r = 0; r < R; r++) {
		const float *src = img + (size_t)r * R;
		float *row = dr->planes + (size_t)(r + p) * dr->pstride;

		if (s == 1) {
			memcpy(row + p, src, R * sizeof(float));
			continue;
		}
		if (s == 2) {
			/* image column c is padded column c + p: plane (c + p) % 2, at (c + p) / 2 */
			float *even = row + (p % 2) * dr->plane + p / 2;
			float *odd = row + ((p + 1) % 2) * dr->plane + (p + 1) / 2;

			for (c = split2(src, R, even, odd); c < R; c++)
				(c % 2 == 0 ? even : odd)[c / 2] = src[c];
			continue;
		}
		for (q = 0; q < s; q++) {
			float *dst = row + q * dr->plane + dr->fill_lo[q];
			const float *sp = src + dr->fill_c0[q];

			for (m = 0; m < dr->fill_n[q]; m++)
				dst[m] = sp[(size_t)m * s];
		}
	}
}

/*
 * The kernel: output channels [G.c0, G.c0 + g) of conv row y for blocks b0 and (nb == 2) b1,
 * biased, relu'd when asked, into the ring row crow ([oc][ps][cstride]).
 */
static inline __attribute__((always_inline)) void
conv_kernel(const struct dr_stage *dr, const struct dr_group *G, const float *in,
		const struct dr_block *b0, const struct dr_block *b1, float *crow, const uint32_t g,
		const uint32_t nb)
{
	const size_t ps = dr->pstride, cs = (size_t)dr->ps * dr->cstride;
	const uint32_t K = dr->k;
	const float *w = G->w;
	const dr_vf zero = { 0 };
	dr_vf acc0[DR_GMAX], acc1[DR_GMAX];
	uint32_t i, j, c;

#pragma GCC unroll 8
	for (c = 0; c < g; c++) {
		acc0[c] = zero + G->b[c];
		acc1[c] = acc0[c];
	}
	for (j = 0; j < K; j++) {
		const float *p0 = in + b0->off[j];
		const float *p1 = in + (nb == 2 ? b1->off[j] : 0);

		for (i = 0; i < K; i++, w += g) {
			dr_vf x0 = dr_load(p0 + i * ps), x1 = zero;

			if (nb == 2)
				x1 = dr_load(p1 + i * ps);
#pragma GCC unroll 8
			for (c = 0; c < g; c++) {
				acc0[c] += x0 * w[c];
				if (nb == 2)
					acc1[c] += x1 * w[c];
			}
		}
	}
	crow += G->c0 * cs;
#pragma GCC unroll 8
	for (c = 0; c < g; c++) {
		if (dr->relu) {
			acc0[c] = dr_max(acc0[c], zero);
			acc1[c] = dr_max(acc1[c], zero);
		}
		dr_store(crow + c * cs + b0->dst, acc0[c]);
		if (nb == 2)
			dr_store(crow + c * cs + b1->dst, acc1[c]);
	}
}

typedef void (*dr_kernel_fn)(const struct dr_stage *, const struct dr_group *, const float *,
		const struct dr_block *, const struct dr_block *, float *);

#define DR_KERNEL(G, NB) \
static void \
conv_##G##_##NB(const struct dr_stage *dr, const struct dr_group *grp, const float *in, \
		const struct dr_block *b0, const struct dr_block *b1, float *crow) \
{ \
	conv_kernel(dr, grp, in, b0, b1, crow, G, NB); \
}

DR_KERNEL(1, 1) DR_KERNEL(2, 1) DR_KERNEL(3, 1) DR_KERNEL(4, 1)
DR_KERNEL(1, 2) DR_KERNEL(2, 2) DR_KERNEL(3, 2) DR_KERNEL(4, 2)
#if DR_GMAX > 4
DR_KERNEL(5, 1) DR_KERNEL(6, 1) DR_KERNEL(7, 1) DR_KERNEL(8, 1)
DR_KERNEL(5, 2) DR_KERNEL(6, 2) DR_KERNEL(7, 2) DR_KERNEL(8, 2)
#endif

/* [nb - 1][g - 1] */
static const dr_kernel_fn dr_kernels[2][DR_GMAX] = {
#if DR_GMAX > 4
	{ conv_1_1, conv_2_1, conv_3_1, conv_4_1, conv_5_1, conv_6_1, conv_7_1, conv_8_1 },
	{ conv_1_2, conv_2_2, conv_3_2, conv_4_2, conv_5_2, conv_6_2, conv_7_2, conv_8_2 },
#else
	{ conv_1_1, conv_2_1, conv_3_1, conv_4_1 },
	{ conv_1_2, conv_2_2, conv_3_2, conv_4_2 },
#endif
};

/* Conv row y, every channel and block, into ring slot y % pk. */
static void
conv_row(struct dr_stage *dr, uint32_t y)
{
	float *crow = dr->ring + (size_t)(y % dr->pk) * dr->oc * dr->ps * dr->cstride;
	const float *in = dr->planes + (size_t)y * dr->pstride;
	uint32_t gi, b, c, q;

	for (gi = 0; gi < dr->n_groups; gi++) {
		const struct dr_group *G = &dr->groups[gi];

		for (b = 0; b + 1 < dr->n_blocks; b += 2)
			dr_kernels[1][G->g - 1](dr, G, in, &dr->blocks[b], &dr->blocks[b + 1], crow);
		if (b < dr->n_blocks)
			dr_kernels[0][G->g - 1](dr, G, in, &dr->blocks[b], NULL, crow);
	}
	if (dr->pp == 0)
		return;
	/* a padded pool reads past the last output of a phase: -inf there again */
	for (c = 0; c < dr->oc; c++) {
		for (q = 0; q < dr->ps; q++) {
			float *row = crow + ((size_t)c * dr->ps + q) * dr->cstride + dr->margin;
			uint32_t x, end = (dr->cnt[q] + DR_V - 1) / DR_V * DR_V;

			for (x = dr->cnt[q]; x < end; x++)
				row[x] = -INFINITY;
		}
	}
}

/* The largest of a conv row's pool taps, for 16 pooled columns from p. */
static inline dr_vf
taps_max(const float *p, const int32_t *taps, uint32_t pk)
{
	dr_vf v = dr_load(p + taps[0]);
	uint32_t t;

	for (t = 1; t < pk; t++)
		v = dr_max(v, dr_load(p + taps[t]));
	return v;
}

/* Pooled row py from the ring, written channels last into out (pw x oc floats). */
static void
pool_row(struct dr_stage *dr, uint32_t py, float *out)
{
	const size_t chan = (size_t)dr->ps * dr->cstride, slot = (size_t)dr->oc * chan;
	const uint32_t ts = dr->pblocks * DR_V, oc = dr->oc, pk = dr->pk;
	int32_t y0 = (int32_t)(py * dr->ps) - (int32_t)dr->pp, y;
	const float *rows[DR_MAX_K];
	uint32_t c, pb, r, x, nr = 0;

	/* the window's conv rows inside the picture (at least one: padding <= kernel / 2) */
	for (y = y0 < 0 ? 0 : y0; y < y0 + (int32_t)pk && y < (int32_t)dr->oh; y++)
		rows[nr++] = dr->ring + (size_t)((uint32_t)y % pk) * slot;
	for (c = 0; c < oc; c++) {
		for (pb = 0; pb < dr->pblocks; pb++) {
			size_t o = c * chan + pb * DR_V;
			dr_vf v = taps_max(rows[0] + o, dr->taps, pk);

			for (r = 1; r < nr; r++)
				v = dr_max(v, taps_max(rows[r] + o, dr->taps, pk));
			dr_store(dr->tmp + (size_t)c * ts + pb * DR_V, v);
		}
	}
	for (c = 0; c < oc; c++)	/* channels last */
		for (x = 0; x < dr->pw; x++)
			out[(size_t)x * oc + c] = dr->tmp[(size_t)c * ts + x];
}

void
dr_stage_run(struct dr_stage *dr, const float *img, float *dst)
{
	uint32_t py, y, next = 0;

	fill_planes(dr, img);
	for (py = 0; py < dr->ph; py++) {
		int32_t lo = (int32_t)(py * dr->ps) - (int32_t)dr->pp;
		int32_t hi = lo + (int32_t)dr->pk - 1;

		if (hi >= (int32_t)dr->oh)
			hi = (int32_t)dr->oh - 1;
		y = lo > (int32_t)next ? (uint32_t)lo : next;
		for (; (int32_t)y <= hi; y++)
			conv_row(dr, y);
		next = (uint32_t)hi + 1;
		pool_row(dr, py, dst + (size_t)py * dr->pw * dr->oc);
	}
}
