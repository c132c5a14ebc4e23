/* Inference context: model checks, slots, choice of path, batched runs and verdicts. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "infer.h"
#include "infer_priv.h"

/*
 * Buffers (R = resolution, B = max_batch, M = values per picture between front and tail):
 *  - dense_in [B][R * R]: pictures taking the dense path, packed in the order they were set
 *    (their dense index); all zero between runs, written and cleared in O(cells);
 *  - direct_out [B][D]: the direct stage's output per dense picture (D values, channels-last)
 *    when oneDNN layers of the front follow it;
 *  - tail_in [B][M]: per slot, the front's output, channels-last (from the sparse front, a
 *    copy from the dense front, or the empty picture's background); without a front it is
 *    dense_in itself, indexed by slot;
 *  - logits [B][n_classes], probs [B][n_classes].
 */

enum slot_state {
	SLOT_EMPTY = 0,
	SLOT_DENSE,
	SLOT_SPARSE,
};

#define DENSE_NONE UINT32_MAX
#define CLEAR_ALL UINT32_MAX
#define CLEAR_CAP 16384u	/* cells remembered per dense picture; beyond, clear all R^2 */
#define NORM_LUT 1024u		/* counts whose input value is tabulated (log1p costs ~20 ns) */

/*
 * The automatic path takes the sparse front for a picture when SPARSE_COST_RATIO times its
 * estimated work (sp_front_cost()) is at most the dense front's multiply-adds. Measured with
 * tools/bench on LeNet-5 at 32 and 64 and the paper network at 1500: per unit of estimated work
 * the front takes 0.9 to 1.3 times as long as oneDNN's dense convolutions. Beyond that, when the
 * first layer's tensor outgrows the caches (SPARSE_BIG_BYTES), scattered updates miss: the
 * sparse path is kept to pictures reaching at most SPARSE_REACH of the first layer (at 1500 x
 * 1500, random cells: 6.7k cells 3.2 ms sparse / 4.6 ms dense, 22k 5.0 / 5.6, 66k 10.5 / 6.5).
 */
#define SPARSE_COST_RATIO 1.15
#define SPARSE_BIG_BYTES (2u << 20)
#define SPARSE_REACH 0.25
/* A sparse front needing more memory than this is not made (the model then runs dense). */
#define SPARSE_MAX_BYTES ((size_t)512 << 20)

struct fp_infer {
	const struct fp_model *m;
	uint32_t max_batch;
	float threshold;
	enum fp_infer_path path;
	uint32_t res;
	size_t pic_floats;		/* R * R */
	uint32_t n_out;			/* network outputs == classes */
	uint32_t front_end;		/* layers [0, front_end) are the front; 0: no front */
	uint32_t direct_end;		/* dense front: layers [0, direct_end) in the direct stage */
	int direct_off;			/* the model has a direct stage but it was turned off */
	uint32_t tail_end;		/* layers [front_end, tail_end) run in the tail */
	uint32_t sparse_max_nnz;
	size_t sparse_bytes;		/* when the front was too large to make, else 0 */
	size_t mid_floats;		/* values per picture entering the tail */
	size_t direct_floats;		/* values per picture out of the direct stage */
	struct dnn_env env;
	struct dr_stage *dr;		/* direct stage, NULL without */
	struct dnn_net *front;		/* oneDNN part of the dense front: layers [direct_end,
					 * front_end); NULL without a front or when the direct
					 * stage is the whole front */
	struct dnn_net *tail;		/* NULL when the front is the whole network */
	struct sp_front *sp;
	float *dense_in;
	float *direct_out;
	float *front_out;
	float *tail_in;
	float *logits;
	float *probs;
	uint8_t *state;			/* [B] enum slot_state */
	uint32_t *dense_idx;		/* [B] dense index of a slot, DENSE_NONE */
	uint32_t n_dense;
	uint32_t *clear_n;		/* [B] per dense index: cells to clear or CLEAR_ALL */
	uint32_t *clear_idx;		/* [B][clear_cap] */
	uint32_t clear_cap;
	float norm_lut[NORM_LUT];	/* fp_norm_apply(model's norm, count) */
	char desc[3072];
};

void
infer_verr(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err != NULL && errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
}

void
infer_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	infer_verr(err, errlen, fmt, ap);
	va_end(ap);
}

void *
infer_zalloc(size_t bytes)
{
	size_t sz = ((bytes + 63) & ~(size_t)63) + 64;
	void *p = aligned_alloc(64, sz);

	if (p != NULL)
		memset(p, 0, sz);
	return p;
}

static const char *
layer_name(enum fp_layer_type t)
{
	static const char *const names[FP_LAYER_TYPE_MAX] = {
		[FP_LAYER_CONV2D] = "conv2d",
		[FP_LAYER_RELU] = "relu",
		[FP_LAYER_MAXPOOL] = "maxpool",
		[FP_LAYER_DENSE] = "dense",
		[FP_LAYER_DROPOUT] = "dropout",
		[FP_LAYER_SOFTMAX] = "softmax",
	};

	return (unsigned)t < FP_LAYER_TYPE_MAX ? names[t] : "unknown";
}

/* Output side of a window (kernel k, stride s, padding p) over n inputs; 0 when it does not fit. */
static uint32_t
window_out(uint32_t n, uint32_t k, uint32_t s, uint32_t p)
{
	uint64_t padded = (uint64_t)n + 2u * (uint64_t)p;

	if (k == 0 || s == 0 || k > padded)
		return 0;
	return (uint32_t)((padded - k) / s + 1);
}

/*
 * Check that the model's layers form a stack this library runs and that the stored shapes and
 * parameter counts agree with the ones the parameters imply. Returns 0 or -EINVAL.
 */
static int
check_model(const struct fp_model *m, char *err, size_t errlen)
{
	uint32_t i, c = 1, h, w, oc, oh, ow;
	int flat = 0;

	if (m->resolution == 0 || m->resolution > FP_FLOWPIC_RES_MAX) {
		infer_err(err, errlen, "model resolution %u out of range 1..%u", m->resolution,
				FP_FLOWPIC_RES_MAX);
		return -EINVAL;
	}
	if (m->n_layers == 0 || m->n_layers > FP_MODEL_MAX_LAYERS || m->n_classes == 0 ||
			m->n_classes > FP_MODEL_MAX_CLASSES) {
		infer_err(err, errlen, "model has %u layers and %u classes", m->n_layers,
				m->n_classes);
		return -EINVAL;
	}
	if (m->norm != FP_NORM_NONE && m->norm != FP_NORM_LOG1P && m->norm != FP_NORM_CLIP255) {
		infer_err(err, errlen, "model normalisation %d unknown", (int)m->norm);
		return -EINVAL;
	}
	h = w = m->resolution;
	for (i = 0; i < m->n_layers; i++) {
		const struct fp_layer *l = &m->layers[i];
		size_t nw = 0, nb = 0;

		oc = c;
		oh = h;
		ow = w;
		switch (l->type) {
		case FP_LAYER_CONV2D:
		case FP_LAYER_MAXPOOL:
			oh = window_out(h, l->kernel, l->stride, l->padding);
			ow = window_out(w, l->kernel, l->stride, l->padding);
			if (flat || oh == 0 || ow == 0 ||
					(l->type == FP_LAYER_MAXPOOL && 2 * l->padding > l->kernel)) {
				infer_err(err, errlen, "layer %u (%s): kernel %u stride %u padding %u do not fit input %ux%ux%u",
						i + 1, layer_name(l->type), l->kernel, l->stride,
						l->padding, c, h, w);
				return -EINVAL;
			}
			if (l->type == FP_LAYER_CONV2D) {
				oc = l->out_channels;
				nw = (size_t)oc * c * l->kernel * l->kernel;
				nb = oc;
			}
			break;
		case FP_LAYER_DENSE:
			oc = l->units;
			oh = ow = 1;
			nw = (size_t)l->units * c * h * w;
			nb = l->units;
			break;
		case FP_LAYER_SOFTMAX:
			if (i + 1 != m->n_layers) {
				infer_err(err, errlen, "layer %u (softmax): softmax must be the last layer",
						i + 1);
				return -EINVAL;
			}
			break;
		case FP_LAYER_RELU:
		case FP_LAYER_DROPOUT:
			break;
		default:
			infer_err(err, errlen, "layer %u: unknown layer type %d", i + 1, (int)l->type);
			return -EINVAL;
		}
		if (oc == 0 || l->in_c != c || l->in_h != h || l->in_w != w || l->out_c != oc ||
				l->out_h != oh || l->out_w != ow) {
			infer_err(err, errlen, "layer %u (%s): shapes %ux%ux%u -> %ux%ux%u, expected %ux%ux%u -> %ux%ux%u (shapes not derived?)",
					i + 1, layer_name(l->type), l->in_c, l->in_h, l->in_w,
					l->out_c, l->out_h, l->out_w, c, h, w, oc, oh, ow);
			return -EINVAL;
		}
		if (nw > 0 && (l->weights == NULL || l->bias == NULL || l->n_weights != nw ||
				l->n_bias != nb)) {
			infer_err(err, errlen, "layer %u (%s): weights not bound (%zu + %zu floats, %zu + %zu needed)",
					i + 1, layer_name(l->type), l->weights ? l->n_weights : 0,
					l->bias ? l->n_bias : 0, nw, nb);
			return -EINVAL;
		}
		if (l->type == FP_LAYER_DENSE)
			flat = 1;
		c = oc;
		h = oh;
		w = ow;
	}
	if ((uint64_t)c * h * w != m->n_classes) {
		infer_err(err, errlen, "network outputs %ux%ux%u values but the model lists %u classes",
				c, h, w, m->n_classes);
		return -EINVAL;
	}
	return 0;
}

/* Where the sparse front ends: the leading conv2d/relu/maxpool/dropout layers, or 0. */
static uint32_t
front_layers(const struct fp_model *m)
{
	uint32_t i, first = UINT32_MAX;

	for (i = 0; i < m->n_layers; i++) {
		enum fp_layer_type t = m->layers[i].type;

		if (t == FP_LAYER_DENSE || t == FP_LAYER_SOFTMAX)
			break;
		if (first == UINT32_MAX && t != FP_LAYER_DROPOUT)
			first = i;
	}
	if (first == UINT32_MAX || m->layers[first].type != FP_LAYER_CONV2D)
		return 0;
	return i;
}

void
fp_infer_params_init(struct fp_infer_params *p)
{
	memset(p, 0, sizeof(*p));
	p->max_batch = 1;
	p->confidence_threshold = 0.0f;
	p->path = FP_INFER_PATH_AUTO;
	p->sparse_max_nnz = 0;
	p->plain_formats = 0;
	p->direct_front = 1;
}

void
fp_infer_free(struct fp_infer *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->front != NULL) {
		dnn_net_fini(ctx->front);
		free(ctx->front);
	}
	if (ctx->tail != NULL) {
		dnn_net_fini(ctx->tail);
		free(ctx->tail);
	}
	dnn_env_fini(&ctx->env);
	sp_front_free(ctx->sp);
	dr_stage_free(ctx->dr);
	free(ctx->direct_out);
	if (ctx->tail_in != ctx->dense_in)
		free(ctx->tail_in);
	free(ctx->dense_in);
	free(ctx->front_out);
	free(ctx->logits);
	free(ctx->probs);
	free(ctx->state);
	free(ctx->dense_idx);
	free(ctx->clear_n);
	free(ctx->clear_idx);
	free(ctx);
}

/* Largest cell count for which the sparse front is estimated cheaper than the dense one. */
static uint32_t
auto_threshold(const struct fp_infer *ctx)
{
	double dense = sp_front_dense_cost(ctx->sp);
	uint32_t lo = 0, hi = (uint32_t)ctx->pic_floats, mid;

	uint32_t cap = sp_front_reach_cap(ctx->sp, SPARSE_REACH, SPARSE_BIG_BYTES);

	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (SPARSE_COST_RATIO * sp_front_cost(ctx->sp, mid) <= dense)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo < cap ? lo : cap;
}

/* Append to the context's description. */
static void
desc_add(struct fp_infer *ctx, const char *fmt, ...)
{
	size_t used = strlen(ctx->desc);
	va_list ap;

	if (used + 1 >= sizeof(ctx->desc))
		return;
	va_start(ap, fmt);
	vsnprintf(ctx->desc + used, sizeof(ctx->desc) - used, fmt, ap);
	va_end(ap);
}

static const char *
path_name(enum fp_infer_path p)
{
	return p == FP_INFER_PATH_DENSE ? "dense" : p == FP_INFER_PATH_SPARSE ? "sparse" : "auto";
}

/* The description of a created context (fixed except the path, added by fp_infer_describe()). */
static void
describe_build(struct fp_infer *ctx, int plain)
{
	const struct fp_model *m = ctx->m;
	uint32_t b;

	ctx->desc[0] = '\0';
	desc_add(ctx, "model '%s' %ux%u, %u classes; batch sizes", m->name, m->resolution,
			m->resolution, m->n_classes);
	for (b = ctx->max_batch; b > 0; b = (b & (b - 1)) == 0 ? b >> 1 :
			1u << (31 - __builtin_clz(b)))
		desc_add(ctx, " %u", b);
	desc_add(ctx, "; oneDNN %s formats, 1 thread", plain ? "plain" : "chosen");
	if (ctx->sp != NULL)
		desc_add(ctx, "; sparse front: layers 1-%u, auto up to %u cells",
				ctx->front_end, ctx->sparse_max_nnz);
	else if (ctx->sparse_bytes > 0)
		desc_add(ctx, "; no sparse front (it would need %zu MB)", ctx->sparse_bytes >> 20);
	else
		desc_add(ctx, "; no sparse front");
	if (ctx->dr != NULL)
		desc_add(ctx, "; direct stage: %s", dr_stage_describe(ctx->dr));
	else
		desc_add(ctx, "; no direct stage%s", ctx->direct_off ? " (turned off)" : "");
	if (ctx->front != NULL)
		desc_add(ctx, "; dense front: %s", ctx->front->impl);
	if (ctx->tail != NULL)
		desc_add(ctx, "; %s: %s", ctx->front != NULL ? "tail" : "network", ctx->tail->impl);
	desc_add(ctx, "; softmax: own");
}

/* Allocate the context's buffers once the split is known. Returns 0 or -ENOMEM. */
static int
alloc_buffers(struct fp_infer *ctx)
{
	size_t B = ctx->max_batch;

	ctx->dense_in = infer_zalloc(B * ctx->pic_floats * sizeof(float));
	if (ctx->front_end > 0) {
		ctx->front_out = infer_zalloc(B * ctx->mid_floats * sizeof(float));
		ctx->tail_in = infer_zalloc(B * ctx->mid_floats * sizeof(float));
		if (ctx->direct_end > 0 && ctx->direct_end < ctx->front_end) {
			ctx->direct_out = infer_zalloc(B * ctx->direct_floats * sizeof(float));
			if (ctx->direct_out == NULL)
				return -ENOMEM;
		}
	} else {
		ctx->tail_in = ctx->dense_in;
	}
	ctx->logits = infer_zalloc(B * ctx->n_out * sizeof(float));
	ctx->probs = infer_zalloc(B * ctx->n_out * sizeof(float));
	ctx->state = infer_zalloc(B);
	ctx->dense_idx = infer_zalloc(B * sizeof(uint32_t));
	ctx->clear_n = infer_zalloc(B * sizeof(uint32_t));
	ctx->clear_cap = ctx->pic_floats < CLEAR_CAP ? (uint32_t)ctx->pic_floats : CLEAR_CAP;
	ctx->clear_idx = infer_zalloc(B * ctx->clear_cap * sizeof(uint32_t));
	if (ctx->dense_in == NULL || ctx->tail_in == NULL || ctx->logits == NULL ||
			ctx->probs == NULL || ctx->state == NULL || ctx->dense_idx == NULL ||
			ctx->clear_n == NULL || ctx->clear_idx == NULL ||
			(ctx->front_end > 0 && ctx->front_out == NULL))
		return -ENOMEM;
	memset(ctx->dense_idx, 0xff, B * sizeof(uint32_t));
	return 0;
}

/* Build the oneDNN nets and the sparse front. Runs with one OpenMP thread. */
static int
build(struct fp_infer *ctx, const struct fp_infer_params *p, char *err, size_t errlen)
{
	const struct fp_model *m = ctx->m;
	struct dnn_net *nets[2];
	uint32_t n_nets = 0;
	int rc;

	rc = dnn_env_init(&ctx->env, p->plain_formats, err, errlen);
	if (rc < 0)
		return rc;
	if (ctx->front_end > 0) {
		ctx->sp = sp_front_create(m, ctx->front_end, err, errlen);
		if (ctx->sp == NULL)
			return -ENOMEM;
	}
	if (ctx->direct_end > 0) {
		ctx->dr = dr_stage_create(m, ctx->front_end, err, errlen);
		if (ctx->dr == NULL)
			return -errno;
	}
	if (ctx->front_end > ctx->direct_end) {
		ctx->front = calloc(1, sizeof(*ctx->front));
		if (ctx->front == NULL)
			return -ENOMEM;
		rc = dnn_net_init(ctx->front, &ctx->env, m, ctx->direct_end, ctx->front_end,
				ctx->max_batch, err, errlen);
		if (rc < 0)
			return rc;
		nets[n_nets++] = ctx->front;
	}
	if (ctx->tail_end > ctx->front_end) {
		ctx->tail = calloc(1, sizeof(*ctx->tail));
		if (ctx->tail == NULL)
			return -ENOMEM;
		rc = dnn_net_init(ctx->tail, &ctx->env, m, ctx->front_end, ctx->tail_end,
				ctx->max_batch, err, errlen);
		if (rc < 0)
			return rc;
		nets[n_nets++] = ctx->tail;
	}
	return dnn_env_bind(&ctx->env, nets, n_nets, err, errlen);
}

struct fp_infer *
fp_infer_create_params(const struct fp_model *m, const struct fp_infer_params *p,
		char *err, size_t errlen)
{
	const struct fp_layer *fl;
	struct fp_infer *ctx;
	int rc, prev_threads;
	uint32_t i;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (m == NULL || p == NULL) {
		infer_err(err, errlen, "no model or parameters");
		errno = EINVAL;
		return NULL;
	}
	if (p->max_batch == 0 || p->max_batch > FP_INFER_MAX_BATCH) {
		infer_err(err, errlen, "max_batch %u out of range 1..%u", p->max_batch,
				FP_INFER_MAX_BATCH);
		errno = EINVAL;
		return NULL;
	}
	if (!(p->confidence_threshold >= 0.0f && p->confidence_threshold <= 1.0f)) {
		infer_err(err, errlen, "confidence threshold %g out of range [0, 1]",
				(double)p->confidence_threshold);
		errno = EINVAL;
		return NULL;
	}
	if (p->path != FP_INFER_PATH_AUTO && p->path != FP_INFER_PATH_DENSE &&
			p->path != FP_INFER_PATH_SPARSE) {
		infer_err(err, errlen, "unknown path %d", (int)p->path);
		errno = EINVAL;
		return NULL;
	}
	rc = check_model(m, err, errlen);
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		infer_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	ctx->m = m;
	ctx->max_batch = p->max_batch;
	ctx->threshold = p->confidence_threshold;
	ctx->res = m->resolution;
	ctx->pic_floats = (size_t)m->resolution * m->resolution;
	ctx->n_out = m->n_classes;
	ctx->front_end = front_layers(m);
	ctx->tail_end = m->layers[m->n_layers - 1].type == FP_LAYER_SOFTMAX ?
		m->n_layers - 1 : m->n_layers;
	if (ctx->front_end > ctx->tail_end)
		ctx->front_end = ctx->tail_end;
	if (ctx->front_end > 0 && sp_front_bytes(m, ctx->front_end) > SPARSE_MAX_BYTES) {
		ctx->sparse_bytes = sp_front_bytes(m, ctx->front_end);
		ctx->front_end = 0;
	}
	if (ctx->front_end > 0) {
		fl = &m->layers[ctx->front_end - 1];
		ctx->mid_floats = (size_t)fl->out_c * fl->out_h * fl->out_w;
		ctx->direct_end = dr_stage_layers(m, ctx->front_end);
		if (!p->direct_front && ctx->direct_end > 0) {
			ctx->direct_off = 1;
			ctx->direct_end = 0;
		}
		if (ctx->direct_end > 0) {
			fl = &m->layers[ctx->direct_end - 1];
			ctx->direct_floats = (size_t)fl->out_c * fl->out_h * fl->out_w;
		}
	} else {
		ctx->mid_floats = ctx->pic_floats;
	}
	if (p->path == FP_INFER_PATH_SPARSE && ctx->front_end == 0) {
		if (ctx->sparse_bytes > 0)
			infer_err(err, errlen, "sparse path asked for but its front would need %zu MB",
					ctx->sparse_bytes >> 20);
		else
			infer_err(err, errlen, "sparse path asked for but the model does not start with a conv2d");
		fp_infer_free(ctx);
		errno = EINVAL;
		return NULL;
	}
	ctx->path = p->path;
	for (i = 0; i < NORM_LUT; i++)
		ctx->norm_lut[i] = fp_norm_apply(m->norm, i);
	rc = alloc_buffers(ctx);
	if (rc < 0) {
		infer_err(err, errlen, "out of memory for %u pictures of %ux%u", ctx->max_batch,
				ctx->res, ctx->res);
	} else {
		prev_threads = omp_get_max_threads();
		omp_set_num_threads(1);
		rc = build(ctx, p, err, errlen);
		omp_set_num_threads(prev_threads);
		if (rc == -ENOMEM && err != NULL && err[0] == '\0')
			infer_err(err, errlen, "out of memory");
	}
	if (rc < 0) {
		fp_infer_free(ctx);
		errno = -rc;
		return NULL;
	}
	if (ctx->sp != NULL)
		ctx->sparse_max_nnz = p->sparse_max_nnz > 0 ? p->sparse_max_nnz :
			auto_threshold(ctx);
	describe_build(ctx, p->plain_formats);
	return ctx;
}

struct fp_infer *
fp_infer_create(const struct fp_model *m, uint32_t max_batch, float confidence_threshold,
		char *err, size_t errlen)
{
	struct fp_infer_params p;

	fp_infer_params_init(&p);
	p.max_batch = max_batch;
	p.confidence_threshold = confidence_threshold;
	return fp_infer_create_params(m, &p, err, errlen);
}

int
fp_infer_set_path(struct fp_infer *ctx, enum fp_infer_path path)
{
	if (ctx == NULL || (path != FP_INFER_PATH_AUTO && path != FP_INFER_PATH_DENSE &&
			path != FP_INFER_PATH_SPARSE))
		return -EINVAL;
	if (path == FP_INFER_PATH_SPARSE && ctx->sp == NULL)
		return -ENOTSUP;
	ctx->path = path;
	return 0;
}

uint32_t
fp_infer_sparse_max_nnz(const struct fp_infer *ctx)
{
	return ctx != NULL && ctx->sp != NULL ? ctx->sparse_max_nnz : 0;
}

/* Whether a picture of nnz cells takes the sparse path. */
static int
use_sparse(const struct fp_infer *ctx, uint32_t nnz)
{
	if (ctx->sp == NULL || ctx->path == FP_INFER_PATH_DENSE)
		return 0;
	return ctx->path == FP_INFER_PATH_SPARSE || nnz <= ctx->sparse_max_nnz;
}

/* Zero dense picture d, written earlier, in O(cells) when its cells were remembered. */
static void
clear_dense(struct fp_infer *ctx, uint32_t d)
{
	float *img = ctx->dense_in + (size_t)d * ctx->pic_floats;
	const uint32_t *idx = ctx->clear_idx + (size_t)d * ctx->clear_cap;
	uint32_t i, n = ctx->clear_n[d];

	if (n == CLEAR_ALL) {
		memset(img, 0, ctx->pic_floats * sizeof(float));
	} else {
		for (i = 0; i < n; i++)
			img[idx[i]] = 0.0f;
	}
	ctx->clear_n[d] = 0;
}

/*
 * The zeroed dense picture for slot: its earlier picture is cleared, a dense index is taken
 * on first use (without a front the index is the slot).
 */
static uint32_t
dense_slot(struct fp_infer *ctx, uint32_t slot)
{
	uint32_t d = ctx->dense_idx[slot];

	if (d == DENSE_NONE) {
		d = ctx->sp == NULL ? slot : ctx->n_dense++;
		ctx->dense_idx[slot] = d;
	} else if (ctx->state[slot] == SLOT_DENSE) {
		clear_dense(ctx, d);
	}
	return d;
}

/* Forget slot's dense picture if it had one (it becomes sparse or is reset). */
static void
drop_dense(struct fp_infer *ctx, uint32_t slot)
{
	if (ctx->state[slot] == SLOT_DENSE)
		clear_dense(ctx, ctx->dense_idx[slot]);
}

int
fp_infer_set_input(struct fp_infer *ctx, uint32_t slot, const struct fp_flowpic *pic)
{
	const struct fp_cell *cells;
	uint32_t i, nnz, d, *idx;
	enum fp_norm norm;
	float *img;

	if (ctx == NULL || pic == NULL || slot >= ctx->max_batch ||
			fp_flowpic_resolution(pic) != ctx->res)
		return -EINVAL;
	norm = ctx->m->norm;
	nnz = fp_flowpic_nnz(pic);
	cells = fp_flowpic_cells(pic);
	if (use_sparse(ctx, nnz)) {
		drop_dense(ctx, slot);
		sp_front_begin(ctx->sp);
		for (i = 0; i < nnz; i++) {
			uint32_t n = cells[i].count;

			sp_front_add(ctx->sp, cells[i].idx / ctx->res, cells[i].idx % ctx->res,
					n < NORM_LUT ? ctx->norm_lut[n] : fp_norm_apply(norm, n));
		}
		sp_front_finish(ctx->sp, ctx->tail_in + (size_t)slot * ctx->mid_floats);
		ctx->state[slot] = SLOT_SPARSE;
		return 0;
	}
	/*
	 * Into the zeroed dense input, cell by cell (what fp_flowpic_to_dense() does with
	 * dst_is_zero, with the tabulated normalisation), remembering the cells to clear.
	 */
	d = dense_slot(ctx, slot);
	img = ctx->dense_in + (size_t)d * ctx->pic_floats;
	idx = ctx->clear_idx + (size_t)d * ctx->clear_cap;
	for (i = 0; i < nnz; i++) {
		uint32_t n = cells[i].count;

		img[cells[i].idx] = n < NORM_LUT ? ctx->norm_lut[n] : fp_norm_apply(norm, n);
		if (i < ctx->clear_cap)
			idx[i] = cells[i].idx;
	}
	ctx->clear_n[d] = nnz <= ctx->clear_cap ? nnz : CLEAR_ALL;
	ctx->state[slot] = SLOT_DENSE;
	return 0;
}

int
fp_infer_set_input_dense(struct fp_infer *ctx, uint32_t slot, const float *img)
{
	uint32_t nnz = 0, r, c, d;
	size_t i;

	if (ctx == NULL || img == NULL || slot >= ctx->max_batch)
		return -EINVAL;
	for (i = 0; i < ctx->pic_floats; i++) {
		if (!isfinite(img[i]))
			return -EINVAL;
		nnz += img[i] != 0.0f;
	}
	if (use_sparse(ctx, nnz)) {
		drop_dense(ctx, slot);
		sp_front_begin(ctx->sp);
		for (r = 0; r < ctx->res && nnz > 0; r++) {
			const float *row = img + (size_t)r * ctx->res;

			for (c = 0; c < ctx->res; c++)
				if (row[c] != 0.0f)
					sp_front_add(ctx->sp, r, c, row[c]);
		}
		sp_front_finish(ctx->sp, ctx->tail_in + (size_t)slot * ctx->mid_floats);
		ctx->state[slot] = SLOT_SPARSE;
		return 0;
	}
	d = dense_slot(ctx, slot);
	memcpy(ctx->dense_in + (size_t)d * ctx->pic_floats, img, ctx->pic_floats * sizeof(float));
	ctx->clear_n[d] = CLEAR_ALL;
	ctx->state[slot] = SLOT_DENSE;
	return 0;
}

/* Softmax of one picture's outputs into probs and its verdict. */
static void
verdict(const struct fp_infer *ctx, const float *x, float *probs, struct fp_verdict *v)
{
	uint32_t i, best = 0, n = ctx->n_out;
	double sum = 0.0;
	float mx = x[0];

	for (i = 1; i < n; i++) {
		if (x[i] > mx) {
			mx = x[i];
			best = i;
		}
	}
	for (i = 0; i < n; i++)
		sum += exp((double)x[i] - mx);
	for (i = 0; i < n; i++)
		probs[i] = (float)(exp((double)x[i] - mx) / sum);
	v->best = (int32_t)best;
	v->confidence = probs[best];
	v->class_id = v->confidence >= ctx->threshold ? (int32_t)best : FP_VERDICT_UNKNOWN;
	v->probs = probs;
}

/*
 * Run the dense front on the packed dense pictures (the direct stage per picture, then oneDNN
 * on the batch) and fill tail_in for slots 0 .. n-1.
 */
static int
run_front(struct fp_infer *ctx, uint32_t n)
{
	float *src = ctx->dense_in;
	uint32_t s, d;
	int rc;

	if (ctx->dr != NULL && ctx->front == NULL) {
		/* the direct stage is the whole front: straight into tail_in */
		for (s = 0; s < n; s++)
			if (ctx->state[s] == SLOT_DENSE)
				dr_stage_run(ctx->dr, ctx->dense_in + (size_t)ctx->dense_idx[s] *
						ctx->pic_floats,
						ctx->tail_in + (size_t)s * ctx->mid_floats);
	} else if (ctx->n_dense > 0) {
		if (ctx->dr != NULL) {
			for (d = 0; d < ctx->n_dense; d++)
				dr_stage_run(ctx->dr, ctx->dense_in + (size_t)d * ctx->pic_floats,
						ctx->direct_out + (size_t)d * ctx->direct_floats);
			src = ctx->direct_out;
		}
		rc = dnn_net_run(ctx->front, ctx->n_dense, src, ctx->front_out);
		if (rc < 0)
			return rc;
	}
	for (s = 0; s < n; s++) {
		float *dst = ctx->tail_in + (size_t)s * ctx->mid_floats;

		if (ctx->state[s] == SLOT_DENSE && ctx->front != NULL)
			memcpy(dst, ctx->front_out + (size_t)ctx->dense_idx[s] * ctx->mid_floats,
					ctx->mid_floats * sizeof(float));
		else if (ctx->state[s] == SLOT_EMPTY)
			memcpy(dst, sp_front_background(ctx->sp), ctx->mid_floats * sizeof(float));
	}
	return 0;
}

int
fp_infer_run(struct fp_infer *ctx, uint32_t n, struct fp_verdict *out)
{
	const float *logits;
	int rc = 0, prev_threads;
	uint32_t s;

	if (ctx == NULL || out == NULL || n == 0 || n > ctx->max_batch)
		return -EINVAL;
	prev_threads = omp_get_max_threads();
	omp_set_num_threads(1);
	if (ctx->sp != NULL)
		rc = run_front(ctx, n);
	logits = ctx->tail_in;
	if (rc == 0 && ctx->tail != NULL) {
		rc = dnn_net_run(ctx->tail, n, ctx->tail_in, ctx->logits);
		logits = ctx->logits;
	}
	omp_set_num_threads(prev_threads);
	for (s = 0; s < n && rc == 0; s++) {
		verdict(ctx, logits + (size_t)s * ctx->n_out, ctx->probs + (size_t)s * ctx->n_out,
				&out[s]);
		out[s].path = ctx->state[s] == SLOT_SPARSE ? FP_INFER_PATH_SPARSE :
			FP_INFER_PATH_DENSE;
	}
	for (s = 0; s < ctx->max_batch; s++) {
		drop_dense(ctx, s);
		ctx->state[s] = SLOT_EMPTY;
		ctx->dense_idx[s] = DENSE_NONE;
	}
	ctx->n_dense = 0;
	return rc < 0 ? -EIO : 0;
}

int
fp_infer_describe(const struct fp_infer *ctx, char *buf, size_t len)
{
	if (ctx == NULL)
		return snprintf(buf, len, "(no inference context)");
	return snprintf(buf, len, "%s; path %s", ctx->desc, path_name(ctx->path));
}
