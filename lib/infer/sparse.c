/* Sparse front: a model's leading conv2d/relu/maxpool layers computed near a picture's cells. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_priv.h"

/*
 * Every layer's output is kept channels-last ([position][channel], channels padded to a
 * multiple of SP_V so each position is whole vectors) in a work tensor that equals the layer's
 * background (its output for the empty picture) except at the positions a picture changed,
 * which the layer lists as dirty. A picture's cells scatter into the first convolution; each
 * later convolution scatters the deviation (work - background) of its input's dirty positions;
 * maxpool recomputes the windows holding a dirty input. A relu is fused into the layer before
 * it. Positions whose new value equals the background are dropped from the dirty list. After
 * the output is written, only the dirty positions are put back to the background.
 */

#define SP_V 8
typedef float sp_vf __attribute__((vector_size(SP_V * sizeof(float))));
typedef int32_t sp_vi __attribute__((vector_size(SP_V * sizeof(int32_t))));

/* Lane-wise a > b ? a : b (the larger of the two, b when unordered). */
static inline sp_vf
vmax(sp_vf a, sp_vf b)
{
	sp_vi m = a > b;

	return (sp_vf)(((sp_vi)a & m) | ((sp_vi)b & ~m));
}

struct sp_layer {
	enum fp_layer_type type;	/* FP_LAYER_CONV2D or FP_LAYER_MAXPOOL */
	uint32_t li;			/* index of the model layer */
	int relu;			/* a relu follows it (fused) */
	uint32_t k, s, p;
	uint32_t in_h, in_w, in_c;
	uint32_t out_h, out_w, out_c, cp;
	uint32_t n_pos;			/* out_h * out_w */
	float *wt;			/* conv2d: [k * k][in_c][cp] */
	float *bg_pre;			/* conv2d: background before the relu (accumulator start) */
	float *bg;			/* background output */
	int uniform;			/* bg and bg_pre hold one position (same everywhere) */
	float *work;			/* [n_pos][cp] */
	uint32_t *stamp;		/* [n_pos]: epoch of the picture that touched it */
	uint32_t *dirty;		/* [n_pos] */
	uint32_t n_dirty;
};

struct sp_front {
	uint32_t n;
	uint32_t epoch;
	float *bg_nchw;			/* last layer's background, C x H x W */
	size_t out_floats;
	struct sp_layer layers[FP_MODEL_MAX_LAYERS];
};

static void
sp_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void *
sp_alloc(size_t bytes)
{
	size_t sz = (bytes + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, sz == 0 ? 64 : sz);

	if (p != NULL)
		memset(p, 0, sz == 0 ? 64 : sz);
	return p;
}

static inline const float *
bg_at(const struct sp_layer *L, const float *base, uint32_t pos)
{
	return L->uniform ? base : base + (size_t)pos * L->cp;
}

/* Range [*lo, *hi] of outputs whose window (kernel k, stride s, padding p) holds input i. */
static inline int
fan_range(uint32_t i, uint32_t k, uint32_t s, uint32_t p, uint32_t n_out, uint32_t *lo,
		uint32_t *hi)
{
	uint32_t ip = i + p;

	*lo = ip + 1 > k ? (ip + 1 - k + s - 1) / s : 0;
	*hi = ip / s;
	if (*hi >= n_out)
		*hi = n_out - 1;
	return *lo <= *hi;
}

/* Mark output position pos of L touched; on first touch start it from the pre-relu value. */
static inline float *
touch(struct sp_layer *L, uint32_t pos, uint32_t epoch)
{
	float *o = L->work + (size_t)pos * L->cp;

	if (L->stamp[pos] != epoch) {
		L->stamp[pos] = epoch;
		L->dirty[L->n_dirty++] = pos;
		if (L->relu)
			memcpy(o, bg_at(L, L->bg_pre, pos), L->cp * sizeof(float));
	}
	return o;
}

/* Scatter the deviation d[in_c] at input (ih, iw) into the convolution L. */
static void
conv_scatter(struct sp_layer *L, uint32_t ih, uint32_t iw, const float *d, uint32_t epoch)
{
	uint32_t lo_h, hi_h, lo_w, hi_w, oh, ow, c, j;
	const uint32_t cp = L->cp, in_c = L->in_c;

	if (!fan_range(ih, L->k, L->s, L->p, L->out_h, &lo_h, &hi_h) ||
			!fan_range(iw, L->k, L->s, L->p, L->out_w, &lo_w, &hi_w))
		return;
	for (oh = lo_h; oh <= hi_h; oh++) {
		uint32_t kh = ih + L->p - oh * L->s;

		for (ow = lo_w; ow <= hi_w; ow++) {
			uint32_t kw = iw + L->p - ow * L->s;
			float *o = touch(L, oh * L->out_w + ow, epoch);
			const float *w = L->wt + (size_t)(kh * L->k + kw) * in_c * cp;

			for (j = 0; j < cp; j += SP_V) {
				sp_vf acc = *(sp_vf *)(o + j);

				for (c = 0; c < in_c; c++)
					acc += d[c] * *(const sp_vf *)(w + (size_t)c * cp + j);
				*(sp_vf *)(o + j) = acc;
			}
		}
	}
}

/* relu of one position in place. */
static inline void
relu_pos(float *o, uint32_t cp)
{
	const sp_vf zero = { 0 };
	uint32_t j;

	for (j = 0; j < cp; j += SP_V) {
		sp_vf v = *(sp_vf *)(o + j);

		*(sp_vf *)(o + j) = vmax(v, zero);
	}
}

/* Apply L's fused relu to its dirty positions and drop those equal to the background. */
static void
settle(struct sp_layer *L)
{
	uint32_t i, n = 0;

	for (i = 0; i < L->n_dirty; i++) {
		uint32_t pos = L->dirty[i];
		float *o = L->work + (size_t)pos * L->cp;

		if (L->relu)
			relu_pos(o, L->cp);
		if (memcmp(o, bg_at(L, L->bg, pos), L->cp * sizeof(float)) != 0)
			L->dirty[n++] = pos;
	}
	L->n_dirty = n;
}

/*
 * Max over the window of output (oh, ow) of pooling L into o, reading the input tensor in
 * (channels-last, in_step floats between positions: 0 for a uniform background).
 */
static void
pool_window(const struct sp_layer *L, const float *in, size_t in_step, uint32_t oh, uint32_t ow,
		float *o)
{
	uint32_t h0, h1, w0, w1, h, w, j, b;
	const uint32_t cp = L->cp;
	sp_vf m[64 / SP_V];
	int64_t t;

	t = (int64_t)oh * L->s - L->p;
	h0 = t < 0 ? 0 : (uint32_t)t;
	h1 = (uint32_t)((t + L->k) > L->in_h ? L->in_h : t + L->k);
	t = (int64_t)ow * L->s - L->p;
	w0 = t < 0 ? 0 : (uint32_t)t;
	w1 = (uint32_t)((t + L->k) > L->in_w ? L->in_w : t + L->k);
	for (j = 0; j < cp; j += 64) {
		uint32_t nb = (cp - j) >= 64 ? 64 / SP_V : (cp - j) / SP_V;

		for (b = 0; b < nb; b++)
			m[b] = (sp_vf){ 0 } - INFINITY;
		for (h = h0; h < h1; h++) {
			for (w = w0; w < w1; w++) {
				const float *x = in + ((size_t)h * L->in_w + w) * in_step + j;

				for (b = 0; b < nb; b++) {
					sp_vf v = *(const sp_vf *)(x + b * SP_V);

					m[b] = vmax(v, m[b]);
				}
			}
		}
		for (b = 0; b < nb; b++)
			*(sp_vf *)(o + j + b * SP_V) = m[b];
	}
	if (L->relu)
		relu_pos(o, cp);
}

/* Recompute the pooling windows of L holding a dirty position of its input layer P. */
static void
pool_update(struct sp_layer *L, const struct sp_layer *P, uint32_t epoch)
{
	uint32_t i, lo_h, hi_h, lo_w, hi_w, oh, ow;

	for (i = 0; i < P->n_dirty; i++) {
		uint32_t pos = P->dirty[i], ih = pos / P->out_w, iw = pos % P->out_w;

		if (!fan_range(ih, L->k, L->s, L->p, L->out_h, &lo_h, &hi_h) ||
				!fan_range(iw, L->k, L->s, L->p, L->out_w, &lo_w, &hi_w))
			continue;
		for (oh = lo_h; oh <= hi_h; oh++) {
			for (ow = lo_w; ow <= hi_w; ow++) {
				uint32_t opos = oh * L->out_w + ow;
				float *o = L->work + (size_t)opos * L->cp;

				if (L->stamp[opos] == epoch)
					continue;
				L->stamp[opos] = epoch;
				pool_window(L, P->work, P->cp, oh, ow, o);
				if (memcmp(o, bg_at(L, L->bg, opos), L->cp * sizeof(float)) != 0)
					L->dirty[L->n_dirty++] = opos;
			}
		}
	}
}

/* Scatter the deviations of P's dirty positions into the convolution L. */
static void
conv_update(struct sp_layer *L, const struct sp_layer *P, uint32_t epoch)
{
	float d[1024] __attribute__((aligned(64)));
	uint32_t i, c;

	for (i = 0; i < P->n_dirty; i++) {
		uint32_t pos = P->dirty[i];
		const float *x = P->work + (size_t)pos * P->cp;
		const float *b = bg_at(P, P->bg, pos);

		for (c = 0; c < L->in_c; c++)
			d[c] = x[c] - b[c];
		conv_scatter(L, pos / P->out_w, pos % P->out_w, d, epoch);
	}
	settle(L);
}

void
sp_front_begin(struct sp_front *sp)
{
	uint32_t i;

	if (++sp->epoch == 0) {
		for (i = 0; i < sp->n; i++)
			memset(sp->layers[i].stamp, 0, sp->layers[i].n_pos * sizeof(uint32_t));
		sp->epoch = 1;
	}
}

void
sp_front_add(struct sp_front *sp, uint32_t row, uint32_t col, float v)
{
	conv_scatter(&sp->layers[0], row, col, &v, sp->epoch);
}

void
sp_front_finish(struct sp_front *sp, float *dst)
{
	struct sp_layer *L, *last = &sp->layers[sp->n - 1];
	uint32_t i, j, c;

	settle(&sp->layers[0]);
	for (i = 1; i < sp->n; i++) {
		L = &sp->layers[i];
		if (L->type == FP_LAYER_CONV2D)
			conv_update(L, L - 1, sp->epoch);
		else
			pool_update(L, L - 1, sp->epoch);
	}
	memcpy(dst, sp->bg_nchw, sp->out_floats * sizeof(float));
	for (j = 0; j < last->n_dirty; j++) {
		uint32_t pos = last->dirty[j];
		const float *o = last->work + (size_t)pos * last->cp;

		for (c = 0; c < last->out_c; c++)
			dst[(size_t)c * last->n_pos + pos] = o[c];
	}
	for (i = 0; i < sp->n; i++) {
		L = &sp->layers[i];
		for (j = 0; j < L->n_dirty; j++) {
			uint32_t pos = L->dirty[j];

			memcpy(L->work + (size_t)pos * L->cp, bg_at(L, L->bg, pos),
					L->cp * sizeof(float));
		}
		L->n_dirty = 0;
	}
}

const float *
sp_front_background(const struct sp_front *sp)
{
	return sp->bg_nchw;
}

/* Most outputs one input position of L reaches. */
static double
fan_out(const struct sp_layer *L)
{
	uint32_t f = (L->k + L->s - 1) / L->s;

	return (double)(f < L->out_h ? f : L->out_h) * (f < L->out_w ? f : L->out_w);
}

double
sp_front_cost(const struct sp_front *sp, uint32_t nnz)
{
	double dirty = nnz, cost = 0, fan, out;
	uint32_t i;

	for (i = 0; i < sp->n; i++) {
		const struct sp_layer *L = &sp->layers[i];

		fan = fan_out(L);
		out = dirty * fan;
		if (out > L->n_pos)
			out = L->n_pos;
		if (L->type == FP_LAYER_CONV2D)
			cost += dirty * fan * L->in_c * L->cp;
		else
			cost += out * L->k * L->k * L->cp;
		dirty = out;
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

/* Full background of conv L (n_pos positions) from its input's background. */
static void
conv_background(struct sp_layer *L, const struct sp_layer *P, const float *bias, float *out)
{
	uint32_t oh, ow, kh, kw, c, o;
	double acc[1024];

	for (oh = 0; oh < L->out_h; oh++) {
		for (ow = 0; ow < L->out_w; ow++) {
			for (o = 0; o < L->cp; o++)
				acc[o] = bias[o];
			for (kh = 0; P != NULL && kh < L->k; kh++) {
				int64_t ih = (int64_t)oh * L->s - L->p + kh;

				if (ih < 0 || ih >= L->in_h)
					continue;
				for (kw = 0; kw < L->k; kw++) {
					int64_t iw = (int64_t)ow * L->s - L->p + kw;
					const float *x, *w;

					if (iw < 0 || iw >= L->in_w)
						continue;
					x = bg_at(P, P->bg, (uint32_t)(ih * L->in_w + iw));
					w = L->wt + (size_t)(kh * L->k + kw) * L->in_c * L->cp;
					for (c = 0; c < L->in_c; c++)
						for (o = 0; o < L->cp; o++)
							acc[o] += (double)x[c] * w[(size_t)c * L->cp + o];
				}
			}
			for (o = 0; o < L->cp; o++)
				out[((size_t)oh * L->out_w + ow) * L->cp + o] = (float)acc[o];
		}
	}
}

/* Make L's background arrays (full, n_pos positions each) one position when all are equal. */
static void
shrink_uniform(struct sp_layer *L)
{
	size_t row = L->cp * sizeof(float);
	uint32_t pos;

	for (pos = 1; pos < L->n_pos; pos++) {
		if (memcmp(L->bg + (size_t)pos * L->cp, L->bg, row) != 0)
			return;
		if (L->bg_pre != L->bg &&
				memcmp(L->bg_pre + (size_t)pos * L->cp, L->bg_pre, row) != 0)
			return;
	}
	L->uniform = 1;
}

/* Allocate L's arrays and compute its weights layout and background from P (NULL: input). */
static int
layer_setup(struct sp_layer *L, const struct sp_layer *P, const struct fp_layer *fl,
		char *err, size_t errlen)
{
	size_t full = (size_t)L->n_pos * L->cp;
	uint32_t pos, o, c, kh, kw;
	float *bias = NULL;

	L->work = sp_alloc(full * sizeof(float));
	L->stamp = sp_alloc((size_t)L->n_pos * sizeof(uint32_t));
	L->dirty = sp_alloc((size_t)L->n_pos * sizeof(uint32_t));
	L->bg = sp_alloc(full * sizeof(float));
	L->bg_pre = L->relu ? sp_alloc(full * sizeof(float)) : L->bg;
	if (L->work == NULL || L->stamp == NULL || L->dirty == NULL || L->bg == NULL ||
			L->bg_pre == NULL)
		goto nomem;
	if (L->type == FP_LAYER_CONV2D) {
		L->wt = sp_alloc((size_t)L->k * L->k * L->in_c * L->cp * sizeof(float));
		bias = sp_alloc(L->cp * sizeof(float));
		if (L->wt == NULL || bias == NULL)
			goto nomem;
		for (o = 0; o < L->out_c; o++) {
			bias[o] = fl->bias[o];
			for (c = 0; c < L->in_c; c++)
				for (kh = 0; kh < L->k; kh++)
					for (kw = 0; kw < L->k; kw++)
						L->wt[((size_t)(kh * L->k + kw) * L->in_c + c) * L->cp + o] =
							fl->weights[(((size_t)o * L->in_c + c) * L->k + kh) *
								L->k + kw];
		}
		conv_background(L, P, bias, L->bg_pre);
		free(bias);
	} else {
		for (pos = 0; pos < L->n_pos; pos++)
			pool_window(L, P->bg, P->uniform ? 0 : P->cp, pos / L->out_w,
					pos % L->out_w, L->bg_pre + (size_t)pos * L->cp);
	}
	if (L->relu) {
		memcpy(L->bg, L->bg_pre, full * sizeof(float));
		for (pos = 0; pos < L->n_pos; pos++)
			relu_pos(L->bg + (size_t)pos * L->cp, L->cp);
	}
	memcpy(L->work, L->bg, full * sizeof(float));
	shrink_uniform(L);
	return 0;
nomem:
	free(bias);
	sp_err(err, errlen, "out of memory for the sparse front");
	return -ENOMEM;
}

void
sp_front_free(struct sp_front *sp)
{
	uint32_t i;

	if (sp == NULL)
		return;
	for (i = 0; i < sp->n; i++) {
		struct sp_layer *L = &sp->layers[i];

		if (L->bg_pre != L->bg)
			free(L->bg_pre);
		free(L->bg);
		free(L->wt);
		free(L->work);
		free(L->stamp);
		free(L->dirty);
	}
	free(sp->bg_nchw);
	free(sp);
}

struct sp_front *
sp_front_create(const struct fp_model *m, uint32_t n_layers, char *err, size_t errlen)
{
	struct sp_front *sp;
	struct sp_layer *L = NULL, *last;
	uint32_t i, pos, c;

	sp = calloc(1, sizeof(*sp));
	if (sp == NULL) {
		sp_err(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 0; i < n_layers; i++) {
		const struct fp_layer *fl = &m->layers[i];

		switch (fl->type) {
		case FP_LAYER_CONV2D:
		case FP_LAYER_MAXPOOL:
			if (sp->n == 0 && (fl->type != FP_LAYER_CONV2D || fl->in_c != 1)) {
				sp_err(err, errlen, "layer %u: sparse front must start with a conv2d on the input",
						i + 1);
				goto fail;
			}
			if (fl->in_c > 1024 || fl->out_c > 1024) {
				sp_err(err, errlen, "layer %u: more than 1024 channels", i + 1);
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
			L->n_pos = fl->out_h * fl->out_w;
			break;
		case FP_LAYER_RELU:
			if (L == NULL) {
				sp_err(err, errlen, "layer %u: sparse front must start with a conv2d",
						i + 1);
				goto fail;
			}
			L->relu = 1;
			break;
		case FP_LAYER_DROPOUT:
			break;
		default:
			sp_err(err, errlen, "layer %u: type %d not allowed in the sparse front", i + 1,
					(int)fl->type);
			goto fail;
		}
	}
	if (sp->n == 0) {
		sp_err(err, errlen, "no layer in the sparse front");
		goto fail;
	}
	/* in order: a layer's background is computed from the previous one's */
	for (i = 0; i < sp->n; i++) {
		L = &sp->layers[i];
		if (layer_setup(L, i > 0 ? L - 1 : NULL, &m->layers[L->li], err, errlen) < 0)
			goto fail;
	}
	last = &sp->layers[sp->n - 1];
	sp->out_floats = (size_t)last->n_pos * last->out_c;
	sp->bg_nchw = sp_alloc(sp->out_floats * sizeof(float));
	if (sp->bg_nchw == NULL) {
		sp_err(err, errlen, "out of memory for the sparse front");
		goto fail;
	}
	for (pos = 0; pos < last->n_pos; pos++)
		for (c = 0; c < last->out_c; c++)
			sp->bg_nchw[(size_t)c * last->n_pos + pos] = bg_at(last, last->bg, pos)[c];
	return sp;
fail:
	sp_front_free(sp);
	return NULL;
}
