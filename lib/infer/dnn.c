/* oneDNN chains: a range of a model's layers as primitives, for several batch sizes. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "infer_priv.h"

#define DNN_MAX_ARGS 6
#define DNN_MAX_STEPS (2 * FP_MODEL_MAX_LAYERS + 2)
#define DNN_MAX_MEMS (4 * FP_MODEL_MAX_LAYERS + 8)

/* One primitive execution with its arguments. */
struct dnn_step {
	dnnl_primitive_t prim;
	int nargs;
	dnnl_exec_arg_t args[DNN_MAX_ARGS];
};

/* A memory object of a chain and the shared buffer (or DNN_BUF_IO) its data lives in. */
struct dnn_mem {
	dnnl_memory_t mem;
	enum dnn_buf buf;
};

/* Layers of a net as primitives for one batch size. */
struct dnn_chain {
	uint32_t batch;
	uint32_t n_steps;
	struct dnn_step steps[DNN_MAX_STEPS];
	dnnl_memory_t in_mem;
	dnnl_memory_t out_mem;
	uint32_t n_mems;
	struct dnn_mem mems[DNN_MAX_MEMS];
};

/* Where the chain being built stands: the current tensor and the buffer holding it. */
struct dnn_cursor {
	dnnl_memory_desc_t md;
	dnnl_memory_t mem;
	enum dnn_buf buf;
	int ndims;
};

static int
dnn_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	infer_verr(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

#define DNN_CHECK(call, what) do { \
	dnnl_status_t st_ = (call); \
	if (st_ != dnnl_success) \
		return dnn_fail(err, errlen, -EIO, "oneDNN %s failed: %s", (what), \
				dnnl_status2str(st_)); \
} while (0)

/* Initialise md with dims and a format tag (dnnl_format_tag_any lets the primitive choose). */
static int
md_init(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag,
		char *err, size_t errlen)
{
	DNN_CHECK(dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag), "memory_desc_init");
	return 0;
}

/* The layout of a chain's input and output: channels last (what the sparse front writes). */
static dnnl_format_tag_t
io_tag(int ndims)
{
	return ndims == 4 ? dnnl_nhwc : dnnl_nc;
}

/* Create a chain memory object of descriptor md living in shared buffer buf. */
static int
chain_mem(struct dnn_chain *ch, struct dnn_env *env, const dnnl_memory_desc_t *md,
		enum dnn_buf buf, dnnl_memory_t *out, char *err, size_t errlen)
{
	dnnl_memory_t mem;
	size_t sz;

	if (ch->n_mems == DNN_MAX_MEMS)
		return dnn_fail(err, errlen, -EINVAL, "too many tensors in one chain");
	DNN_CHECK(dnnl_memory_create(&mem, md, env->eng, DNNL_MEMORY_NONE), "memory_create");
	ch->mems[ch->n_mems].mem = mem;
	ch->mems[ch->n_mems].buf = buf;
	ch->n_mems++;
	sz = dnnl_memory_desc_get_size(md);
	if (buf < DNN_BUF_COUNT && sz > env->size[buf])
		env->size[buf] = sz;
	*out = mem;
	return 0;
}

/* Append "label: impl" of pd to the net's description (only for its largest chain). */
static void
note_impl(struct dnn_net *net, const struct dnn_chain *ch, const_dnnl_primitive_desc_t pd,
		const char *label)
{
	const char *impl = NULL;
	size_t used = strlen(net->impl);

	if (ch->batch != net->chains[0]->batch || used + 1 >= sizeof(net->impl))
		return;
	if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
			impl == NULL)
		impl = "?";
	snprintf(net->impl + used, sizeof(net->impl) - used, "%s%s=%s", used > 0 ? " " : "",
			label, impl);
}

/*
 * Create the primitive of pd and append it to the chain with its arguments plus, when it needs
 * one, its scratchpad in the shared scratch buffer. Destroys pd.
 */
static int
chain_add(struct dnn_net *net, struct dnn_chain *ch, dnnl_primitive_desc_t pd,
		const dnnl_exec_arg_t *args, int nargs, const char *label, char *err, size_t errlen)
{
	const dnnl_memory_desc_t *smd;
	struct dnn_step *st;
	dnnl_status_t s;
	int rc;

	if (ch->n_steps == DNN_MAX_STEPS) {
		dnnl_primitive_desc_destroy(pd);
		return dnn_fail(err, errlen, -EINVAL, "too many primitives in one chain");
	}
	st = &ch->steps[ch->n_steps];
	memcpy(st->args, args, sizeof(*args) * (size_t)nargs);
	st->nargs = nargs;
	smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	if (smd != NULL && dnnl_memory_desc_get_size(smd) > 0) {
		rc = chain_mem(ch, net->env, smd, DNN_BUF_SCRATCH, &st->args[st->nargs].memory,
				err, errlen);
		if (rc < 0) {
			dnnl_primitive_desc_destroy(pd);
			return rc;
		}
		st->args[st->nargs].arg = DNNL_ARG_SCRATCHPAD;
		st->nargs++;
	}
	note_impl(net, ch, pd, label);
	s = dnnl_primitive_create(&st->prim, pd);
	dnnl_primitive_desc_destroy(pd);
	if (s != dnnl_success)
		return dnn_fail(err, errlen, -EIO, "oneDNN primitive_create (%s) failed: %s", label,
				dnnl_status2str(s));
	ch->n_steps++;
	return 0;
}

/* Attributes: user scratchpad, and a fused relu when relu is set. Caller destroys *attr. */
static int
make_attr(dnnl_primitive_attr_t *attr, int relu, char *err, size_t errlen)
{
	dnnl_post_ops_t po;
	dnnl_status_t s;

	DNN_CHECK(dnnl_primitive_attr_create(attr), "primitive_attr_create");
	s = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
	if (s == dnnl_success && relu) {
		s = dnnl_post_ops_create(&po);
		if (s == dnnl_success) {
			s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
			if (s == dnnl_success)
				s = dnnl_primitive_attr_set_post_ops(*attr, po);
			dnnl_post_ops_destroy(po);
		}
	}
	if (s != dnnl_success) {
		dnnl_primitive_attr_destroy(*attr);
		return dnn_fail(err, errlen, -EIO, "oneDNN attributes failed: %s",
				dnnl_status2str(s));
	}
	return 0;
}

/* Create the primitive descriptor of op with attributes (scratchpad user, optional relu). */
static int
make_pd(dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t op, struct dnn_env *env, int relu,
		const char *label, char *err, size_t errlen)
{
	dnnl_primitive_attr_t attr;
	dnnl_status_t s;
	int rc;

	rc = make_attr(&attr, relu, err, errlen);
	if (rc < 0)
		return rc;
	s = dnnl_primitive_desc_create(pd, op, attr, env->eng, NULL);
	dnnl_primitive_attr_destroy(attr);
	if (s != dnnl_success)
		return dnn_fail(err, errlen, -EIO, "oneDNN has no implementation for %s: %s",
				label, dnnl_status2str(s));
	return 0;
}

/* Append a reorder from src to dst to the chain. */
static int
chain_reorder(struct dnn_net *net, struct dnn_chain *ch, dnnl_memory_t src,
		const dnnl_memory_desc_t *src_md, dnnl_memory_t dst, const dnnl_memory_desc_t *dst_md,
		char *err, size_t errlen)
{
	dnnl_primitive_attr_t attr;
	dnnl_primitive_desc_t pd;
	dnnl_exec_arg_t args[2];
	dnnl_status_t s;
	int rc;

	rc = make_attr(&attr, 0, err, errlen);
	if (rc < 0)
		return rc;
	s = dnnl_reorder_primitive_desc_create(&pd, src_md, net->env->eng, dst_md, net->env->eng,
			attr);
	dnnl_primitive_attr_destroy(attr);
	if (s != dnnl_success)
		return dnn_fail(err, errlen, -EIO, "oneDNN reorder failed: %s", dnnl_status2str(s));
	args[0].arg = DNNL_ARG_FROM;
	args[0].memory = src;
	args[1].arg = DNNL_ARG_TO;
	args[1].memory = dst;
	return chain_add(net, ch, pd, args, 2, "reorder", err, errlen);
}

/* The shared buffer the next tensor goes to. */
static enum dnn_buf
next_buf(enum dnn_buf cur)
{
	return cur == DNN_BUF_A ? DNN_BUF_B : DNN_BUF_A;
}

/* Make the cursor's tensor have layout want, adding a reorder when it has not. */
static int
cursor_to(struct dnn_net *net, struct dnn_chain *ch, struct dnn_cursor *cur,
		const dnnl_memory_desc_t *want, char *err, size_t errlen)
{
	enum dnn_buf b = next_buf(cur->buf);
	dnnl_memory_t mem;
	int rc;

	if (dnnl_memory_desc_equal(&cur->md, want))
		return 0;
	rc = chain_mem(ch, net->env, want, b, &mem, err, errlen);
	if (rc == 0)
		rc = chain_reorder(net, ch, cur->mem, &cur->md, mem, want, err, errlen);
	if (rc < 0)
		return rc;
	cur->md = *want;
	cur->mem = mem;
	cur->buf = b;
	return 0;
}

/* A new output tensor of descriptor md for the step after the cursor. */
static int
cursor_out(struct dnn_net *net, struct dnn_chain *ch, struct dnn_cursor *cur,
		const dnnl_memory_desc_t *md, dnnl_memory_t *mem, char *err, size_t errlen)
{
	enum dnn_buf b = next_buf(cur->buf);
	int rc;

	rc = chain_mem(ch, net->env, md, b, mem, err, errlen);
	if (rc < 0)
		return rc;
	cur->md = *md;
	cur->mem = *mem;
	cur->buf = b;
	return 0;
}

/*
 * The weights of layer li in layout want: the model's array when want is its plain layout,
 * otherwise a copy reordered once (shared by every chain choosing the same layout).
 */
static int
weights_for(struct dnn_net *net, uint32_t li, const dnnl_memory_desc_t *want,
		const dnnl_memory_desc_t *user_md, dnnl_memory_t *out, char *err, size_t errlen)
{
	const struct fp_layer *l = &net->m->layers[li];
	const float *weights = net->wperm[li] != NULL ? net->wperm[li] : l->weights;
	struct dnn_env *env = net->env;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_t prim = NULL;
	dnnl_memory_t user = NULL;
	dnnl_exec_arg_t args[2];
	struct dnn_wcopy *w;
	dnnl_status_t s;
	uint32_t i;
	size_t sz;

	for (i = 0; i < net->n_wcopy[li]; i++) {
		if (dnnl_memory_desc_equal(&net->wcopy[li][i].md, want)) {
			*out = net->wcopy[li][i].mem;
			return 0;
		}
	}
	if (net->n_wcopy[li] == DNN_MAX_WCOPIES)
		return dnn_fail(err, errlen, -EINVAL, "layer %u: too many weight layouts", li + 1);
	w = &net->wcopy[li][net->n_wcopy[li]];
	w->md = *want;
	w->buf = NULL;
	if (dnnl_memory_desc_equal(want, user_md)) {
		DNN_CHECK(dnnl_memory_create(&w->mem, want, env->eng, (void *)(uintptr_t)weights),
				"memory_create");
		net->n_wcopy[li]++;
		*out = w->mem;
		return 0;
	}
	sz = (dnnl_memory_desc_get_size(want) + 63) & ~(size_t)63;
	w->buf = aligned_alloc(64, sz);
	if (w->buf == NULL)
		return dnn_fail(err, errlen, -ENOMEM, "out of memory for layer %u weights", li + 1);
	memset(w->buf, 0, sz);
	s = dnnl_memory_create(&w->mem, want, env->eng, w->buf);
	if (s != dnnl_success) {
		free(w->buf);
		w->buf = NULL;
		return dnn_fail(err, errlen, -EIO, "oneDNN memory_create failed: %s",
				dnnl_status2str(s));
	}
	net->n_wcopy[li]++;	/* owned from here: fini releases it */
	s = dnnl_memory_create(&user, user_md, env->eng, (void *)(uintptr_t)weights);
	if (s == dnnl_success)
		s = dnnl_reorder_primitive_desc_create(&pd, user_md, env->eng, want, env->eng, NULL);
	if (s == dnnl_success)
		s = dnnl_primitive_create(&prim, pd);
	if (s == dnnl_success) {
		args[0].arg = DNNL_ARG_FROM;
		args[0].memory = user;
		args[1].arg = DNNL_ARG_TO;
		args[1].memory = w->mem;
		s = dnnl_primitive_execute(prim, env->stream, 2, args);
	}
	if (s == dnnl_success)
		s = dnnl_stream_wait(env->stream);
	if (prim != NULL)
		dnnl_primitive_destroy(prim);
	if (pd != NULL)
		dnnl_primitive_desc_destroy(pd);
	if (user != NULL)
		dnnl_memory_destroy(user);
	if (s != dnnl_success)
		return dnn_fail(err, errlen, -EIO, "oneDNN weight reorder of layer %u failed: %s",
				li + 1, dnnl_status2str(s));
	*out = w->mem;
	return 0;
}

/* The bias of layer li as a plain memory object reading the model's array. */
static int
bias_for(struct dnn_net *net, uint32_t li, const dnnl_memory_desc_t *md, dnnl_memory_t *out,
		char *err, size_t errlen)
{
	const struct fp_layer *l = &net->m->layers[li];

	if (net->bias[li] == NULL)
		DNN_CHECK(dnnl_memory_create(&net->bias[li], md, net->env->eng,
				(void *)(uintptr_t)l->bias), "memory_create");
	*out = net->bias[li];
	return 0;
}

/* Index of the layer after li that a relu can be fused from (skipping dropouts), or 0. */
static uint32_t
fusable_relu(const struct dnn_net *net, uint32_t li)
{
	uint32_t j;

	for (j = li + 1; j < net->last; j++) {
		if (net->m->layers[j].type == FP_LAYER_RELU)
			return j;
		if (net->m->layers[j].type != FP_LAYER_DROPOUT)
			return 0;
	}
	return 0;
}

/* Label of a step for the description: "L<n>:<type>[+relu]". */
static void
step_label(char *buf, size_t len, uint32_t li, const char *type, int relu)
{
	snprintf(buf, len, "L%u:%s%s", li + 1, type, relu ? "+relu" : "");
}

/* Append layer li (a conv2d) to the chain. */
static int
add_conv(struct dnn_net *net, struct dnn_chain *ch, struct dnn_cursor *cur, uint32_t li,
		int relu, char *err, size_t errlen)
{
	const struct fp_layer *l = &net->m->layers[li];
	dnnl_format_tag_t any = net->env->plain ? dnnl_nchw : dnnl_format_tag_any;
	dnnl_dims_t sd = { ch->batch, l->in_c, l->in_h, l->in_w };
	dnnl_dims_t wd = { l->out_c, l->in_c, l->kernel, l->kernel };
	dnnl_dims_t bd = { l->out_c };
	dnnl_dims_t dd = { ch->batch, l->out_c, l->out_h, l->out_w };
	dnnl_dims_t strides = { l->stride, l->stride };
	dnnl_dims_t pad = { l->padding, l->padding };
	dnnl_memory_desc_t smd, wmd, bmd, dmd, umd;
	dnnl_memory_t wmem, bmem, dmem;
	dnnl_convolution_desc_t cd;
	dnnl_primitive_desc_t pd;
	dnnl_exec_arg_t args[4];
	char label[32];
	int rc;

	if ((rc = md_init(&smd, 4, sd, any, err, errlen)) < 0 ||
			(rc = md_init(&wmd, 4, wd, net->env->plain ? dnnl_oihw : dnnl_format_tag_any,
					err, errlen)) < 0 ||
			(rc = md_init(&umd, 4, wd, dnnl_oihw, err, errlen)) < 0 ||
			(rc = md_init(&bmd, 1, bd, dnnl_x, err, errlen)) < 0 ||
			(rc = md_init(&dmd, 4, dd, any, err, errlen)) < 0)
		return rc;
	DNN_CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference,
			dnnl_convolution_direct, &smd, &wmd, &bmd, &dmd, strides, pad, pad),
			"convolution_forward_desc_init");
	step_label(label, sizeof(label), li, "conv2d", relu);
	rc = make_pd(&pd, &cd, net->env, relu, label, err, errlen);
	if (rc < 0)
		return rc;
	rc = cursor_to(net, ch, cur, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
			err, errlen);
	if (rc == 0)
		rc = weights_for(net, li, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
				&umd, &wmem, err, errlen);
	if (rc == 0)
		rc = bias_for(net, li, &bmd, &bmem, err, errlen);
	args[0].arg = DNNL_ARG_SRC;
	args[0].memory = cur->mem;
	if (rc == 0)
		rc = cursor_out(net, ch, cur, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
				&dmem, err, errlen);
	if (rc < 0) {
		dnnl_primitive_desc_destroy(pd);
		return rc;
	}
	args[1].arg = DNNL_ARG_WEIGHTS;
	args[1].memory = wmem;
	args[2].arg = DNNL_ARG_BIAS;
	args[2].memory = bmem;
	args[3].arg = DNNL_ARG_DST;
	args[3].memory = dmem;
	return chain_add(net, ch, pd, args, 4, label, err, errlen);
}

/* Append layer li (dense) to the chain. */
static int
add_dense(struct dnn_net *net, struct dnn_chain *ch, struct dnn_cursor *cur, uint32_t li,
		int relu, char *err, size_t errlen)
{
	const struct fp_layer *l = &net->m->layers[li];
	int plain = net->env->plain, nd = cur->ndims;
	dnnl_dims_t sd = { ch->batch, l->in_c, l->in_h, l->in_w };
	dnnl_dims_t wd = { l->units, l->in_c, l->in_h, l->in_w };
	dnnl_dims_t bd = { l->units };
	dnnl_dims_t dd = { ch->batch, l->units };
	dnnl_memory_desc_t smd, wmd, bmd, dmd, umd;
	dnnl_memory_t wmem, bmem, dmem;
	dnnl_inner_product_desc_t ipd;
	dnnl_primitive_desc_t pd;
	dnnl_exec_arg_t args[4];
	char label[32];
	int rc = 0;

	if (nd == 2) {
		sd[1] = (dnnl_dim_t)l->in_c * l->in_h * l->in_w;
		wd[1] = sd[1];
	}
	/* the current layout as it is (a reorder costs more than the product), plain when asked */
	if (plain)
		rc = md_init(&smd, nd, sd, nd == 4 ? dnnl_nchw : dnnl_nc, err, errlen);
	else
		smd = cur->md;
	if (rc < 0 ||
			(rc = md_init(&wmd, nd, wd, plain ? (nd == 4 ? dnnl_oihw : dnnl_oi) :
					dnnl_format_tag_any, err, errlen)) < 0 ||
			(rc = md_init(&umd, nd, wd, nd == 4 ? dnnl_oihw : dnnl_oi, err, errlen)) < 0 ||
			(rc = md_init(&bmd, 1, bd, dnnl_x, err, errlen)) < 0 ||
			(rc = md_init(&dmd, 2, dd, plain ? dnnl_nc : dnnl_format_tag_any,
					err, errlen)) < 0)
		return rc;
	DNN_CHECK(dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &smd, &wmd,
			&bmd, &dmd), "inner_product_forward_desc_init");
	step_label(label, sizeof(label), li, "dense", relu);
	rc = make_pd(&pd, &ipd, net->env, relu, label, err, errlen);
	if (rc < 0)
		return rc;
	rc = cursor_to(net, ch, cur, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
			err, errlen);
	if (rc == 0)
		rc = weights_for(net, li, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
				&umd, &wmem, err, errlen);
	if (rc == 0)
		rc = bias_for(net, li, &bmd, &bmem, err, errlen);
	args[0].arg = DNNL_ARG_SRC;
	args[0].memory = cur->mem;
	if (rc == 0)
		rc = cursor_out(net, ch, cur, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
				&dmem, err, errlen);
	if (rc < 0) {
		dnnl_primitive_desc_destroy(pd);
		return rc;
	}
	cur->ndims = 2;
	args[1].arg = DNNL_ARG_WEIGHTS;
	args[1].memory = wmem;
	args[2].arg = DNNL_ARG_BIAS;
	args[2].memory = bmem;
	args[3].arg = DNNL_ARG_DST;
	args[3].memory = dmem;
	return chain_add(net, ch, pd, args, 4, label, err, errlen);
}

/* Append layer li (maxpool) to the chain. */
static int
add_pool(struct dnn_net *net, struct dnn_chain *ch, struct dnn_cursor *cur, uint32_t li,
		char *err, size_t errlen)
{
	const struct fp_layer *l = &net->m->layers[li];
	dnnl_dims_t dd = { ch->batch, l->out_c, l->out_h, l->out_w };
	dnnl_dims_t strides = { l->stride, l->stride };
	dnnl_dims_t kernel = { l->kernel, l->kernel };
	dnnl_dims_t pad = { l->padding, l->padding };
	dnnl_memory_desc_t dmd;
	dnnl_pooling_desc_t pld;
	dnnl_primitive_desc_t pd;
	dnnl_exec_arg_t args[2];
	dnnl_memory_t dmem;
	char label[32];
	int rc;

	rc = md_init(&dmd, 4, dd, net->env->plain ? dnnl_nchw : dnnl_format_tag_any, err, errlen);
	if (rc < 0)
		return rc;
	DNN_CHECK(dnnl_pooling_forward_desc_init(&pld, dnnl_forward_inference, dnnl_pooling_max,
			&cur->md, &dmd, strides, kernel, pad, pad), "pooling_forward_desc_init");
	step_label(label, sizeof(label), li, "maxpool", 0);
	rc = make_pd(&pd, &pld, net->env, 0, label, err, errlen);
	if (rc < 0)
		return rc;
	args[0].arg = DNNL_ARG_SRC;
	args[0].memory = cur->mem;
	rc = cursor_out(net, ch, cur, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
			&dmem, err, errlen);
	if (rc < 0) {
		dnnl_primitive_desc_destroy(pd);
		return rc;
	}
	args[1].arg = DNNL_ARG_DST;
	args[1].memory = dmem;
	return chain_add(net, ch, pd, args, 2, label, err, errlen);
}

/* Append a relu that could not be fused (in place unless it would overwrite the input). */
static int
add_relu(struct dnn_net *net, struct dnn_chain *ch, struct dnn_cursor *cur, uint32_t li,
		char *err, size_t errlen)
{
	dnnl_eltwise_desc_t ed;
	dnnl_primitive_desc_t pd;
	dnnl_exec_arg_t args[2];
	dnnl_memory_desc_t md = cur->md;
	dnnl_memory_t dmem = cur->mem;
	char label[32];
	int rc;

	DNN_CHECK(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, dnnl_eltwise_relu,
			&md, 0.0f, 0.0f), "eltwise_forward_desc_init");
	step_label(label, sizeof(label), li, "relu", 0);
	rc = make_pd(&pd, &ed, net->env, 0, label, err, errlen);
	if (rc < 0)
		return rc;
	args[0].arg = DNNL_ARG_SRC;
	args[0].memory = cur->mem;
	if (cur->buf == DNN_BUF_IO) {
		rc = cursor_out(net, ch, cur, &md, &dmem, err, errlen);
		if (rc < 0) {
			dnnl_primitive_desc_destroy(pd);
			return rc;
		}
	}
	args[1].arg = DNNL_ARG_DST;
	args[1].memory = dmem;
	return chain_add(net, ch, pd, args, 2, label, err, errlen);
}

/* Build the chain of the net's layers for ch->batch pictures. */
static int
chain_build(struct dnn_net *net, struct dnn_chain *ch, char *err, size_t errlen)
{
	dnnl_dims_t id = { ch->batch, net->in_dims[0], net->in_dims[1], net->in_dims[2] };
	dnnl_dims_t od = { ch->batch, net->out_dims[0], net->out_dims[1], net->out_dims[2] };
	int ond = net->out_flat ? 2 : 4;
	struct dnn_cursor cur;
	dnnl_memory_desc_t omd;
	struct dnn_step *last;
	uint32_t i, j;
	int rc, k;

	cur.ndims = net->in_flat ? 2 : 4;
	if (net->in_flat)
		id[1] = (dnnl_dim_t)net->in_floats;
	rc = md_init(&cur.md, cur.ndims, id, io_tag(cur.ndims), err, errlen);
	if (rc == 0)
		rc = chain_mem(ch, net->env, &cur.md, DNN_BUF_IO, &ch->in_mem, err, errlen);
	if (rc < 0)
		return rc;
	cur.mem = ch->in_mem;
	cur.buf = DNN_BUF_IO;
	for (i = net->first; i < net->last; i++) {
		switch (net->m->layers[i].type) {
		case FP_LAYER_CONV2D:
		case FP_LAYER_DENSE:
			j = fusable_relu(net, i);
			if (net->m->layers[i].type == FP_LAYER_CONV2D)
				rc = add_conv(net, ch, &cur, i, j > 0, err, errlen);
			else
				rc = add_dense(net, ch, &cur, i, j > 0, err, errlen);
			if (j > 0)
				i = j;
			break;
		case FP_LAYER_MAXPOOL:
			rc = add_pool(net, ch, &cur, i, err, errlen);
			break;
		case FP_LAYER_RELU:
			rc = add_relu(net, ch, &cur, i, err, errlen);
			break;
		case FP_LAYER_DROPOUT:
			break;
		default:
			rc = dnn_fail(err, errlen, -EINVAL, "layer %u: type %d cannot run here",
					i + 1, (int)net->m->layers[i].type);
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (ond == 2)
		od[1] = (dnnl_dim_t)net->out_dims[0] * net->out_dims[1] * net->out_dims[2];
	rc = md_init(&omd, ond, od, io_tag(ond), err, errlen);
	if (rc == 0)
		rc = chain_mem(ch, net->env, &omd, DNN_BUF_IO, &ch->out_mem, err, errlen);
	if (rc < 0)
		return rc;
	/* Let the last primitive write the output directly when it already has the plain layout. */
	last = ch->n_steps > 0 ? &ch->steps[ch->n_steps - 1] : NULL;
	if (last != NULL && cur.buf != DNN_BUF_IO && dnnl_memory_desc_equal(&cur.md, &omd)) {
		for (k = 0; k < last->nargs; k++) {
			if (last->args[k].memory == cur.mem &&
					(last->args[k].arg == DNNL_ARG_DST ||
					 last->args[k].arg == DNNL_ARG_TO))
				last->args[k].memory = ch->out_mem;
		}
		return 0;
	}
	return chain_reorder(net, ch, cur.mem, &cur.md, ch->out_mem, &omd, err, errlen);
}

/*
 * A net whose first layer (after dropouts) is dense takes its channels-last input as one flat
 * vector per picture: the layer's weights, [units][C][H][W] as the model stores them, are
 * copied once in H, W, C order so a plain 2-D product applies (oneDNN runs it as a
 * batched GEMM, about twice as fast as its product on a 4-D channels-last tensor).
 */
static int
flat_input(struct dnn_net *net, char *err, size_t errlen)
{
	const struct fp_layer *l;
	uint32_t i = net->first, u, c, h, w;
	size_t n;
	float *p;

	while (i < net->last && net->m->layers[i].type == FP_LAYER_DROPOUT)
		i++;
	if (i == net->last || net->m->layers[i].type != FP_LAYER_DENSE || net->env->plain)
		return 0;
	l = &net->m->layers[i];
	net->in_flat = 1;
	if (l->in_h * l->in_w == 1 || l->in_c == 1)
		return 0;	/* H, W, C order is C, H, W order */
	n = (size_t)l->in_c * l->in_h * l->in_w;
	p = aligned_alloc(64, ((size_t)l->units * n * sizeof(float) + 63) & ~(size_t)63);
	if (p == NULL)
		return dnn_fail(err, errlen, -ENOMEM, "out of memory for layer %u weights", i + 1);
	for (u = 0; u < l->units; u++)
		for (c = 0; c < l->in_c; c++)
			for (h = 0; h < l->in_h; h++)
				for (w = 0; w < l->in_w; w++)
					p[u * n + ((size_t)h * l->in_w + w) * l->in_c + c] =
						l->weights[u * n + ((size_t)c * l->in_h + h) *
							l->in_w + w];
	net->wperm[i] = p;
	return 0;
}

int
dnn_net_init(struct dnn_net *net, struct dnn_env *env, const struct fp_model *m,
		uint32_t first, uint32_t last, uint32_t max_batch, char *err, size_t errlen)
{
	const struct fp_layer *fl = &m->layers[first], *ll = &m->layers[last - 1];
	uint32_t b, i;
	int rc;

	memset(net, 0, sizeof(*net));
	net->m = m;
	net->env = env;
	net->first = first;
	net->last = last;
	net->in_dims[0] = fl->in_c;
	net->in_dims[1] = fl->in_h;
	net->in_dims[2] = fl->in_w;
	net->out_dims[0] = ll->out_c;
	net->out_dims[1] = ll->out_h;
	net->out_dims[2] = ll->out_w;
	for (i = first; i < last; i++)
		if (m->layers[i].type == FP_LAYER_DENSE)
			net->out_flat = 1;
	net->in_floats = (size_t)fl->in_c * fl->in_h * fl->in_w;
	net->out_floats = (size_t)ll->out_c * ll->out_h * ll->out_w;
	rc = flat_input(net, err, errlen);
	if (rc < 0)
		return rc;
	for (b = max_batch; b > 0; ) {
		struct dnn_chain *ch = calloc(1, sizeof(*ch));

		if (ch == NULL)
			return dnn_fail(err, errlen, -ENOMEM, "out of memory");
		ch->batch = b;
		net->chains[net->n_chains++] = ch;
		rc = chain_build(net, ch, err, errlen);
		if (rc < 0)
			return rc;
		/* next: the largest power of two below b */
		if ((b & (b - 1)) == 0)
			b >>= 1;
		else
			b = 1u << (31 - __builtin_clz(b));
	}
	return 0;
}

void
dnn_net_fini(struct dnn_net *net)
{
	uint32_t c, i;

	for (c = 0; c < net->n_chains; c++) {
		struct dnn_chain *ch = net->chains[c];

		for (i = 0; i < ch->n_steps; i++)
			dnnl_primitive_destroy(ch->steps[i].prim);
		for (i = 0; i < ch->n_mems; i++)
			dnnl_memory_destroy(ch->mems[i].mem);
		free(ch);
		net->chains[c] = NULL;
	}
	net->n_chains = 0;
	for (i = 0; i < FP_MODEL_MAX_LAYERS; i++) {
		for (c = 0; c < net->n_wcopy[i]; c++) {
			dnnl_memory_destroy(net->wcopy[i][c].mem);
			free(net->wcopy[i][c].buf);
		}
		net->n_wcopy[i] = 0;
		free(net->wperm[i]);
		net->wperm[i] = NULL;
		if (net->bias[i] != NULL)
			dnnl_memory_destroy(net->bias[i]);
		net->bias[i] = NULL;
	}
}

int
dnn_net_run(struct dnn_net *net, uint32_t n, float *in, float *out)
{
	dnnl_stream_t stream = net->env->stream;
	size_t off = 0;
	uint32_t c, i;

	while (n > 0) {
		struct dnn_chain *ch = NULL;

		for (c = 0; c < net->n_chains; c++) {
			if (net->chains[c]->batch <= n) {
				ch = net->chains[c];
				break;
			}
		}
		if (ch == NULL)
			return -EIO;
		if (dnnl_memory_set_data_handle_v2(ch->in_mem, in + off * net->in_floats,
				stream) != dnnl_success ||
				dnnl_memory_set_data_handle_v2(ch->out_mem,
					out + off * net->out_floats, stream) != dnnl_success)
			return -EIO;
		for (i = 0; i < ch->n_steps; i++) {
			const struct dnn_step *st = &ch->steps[i];

			if (dnnl_primitive_execute(st->prim, stream, st->nargs, st->args) !=
					dnnl_success)
				return -EIO;
		}
		if (dnnl_stream_wait(stream) != dnnl_success)
			return -EIO;
		off += ch->batch;
		n -= ch->batch;
	}
	return 0;
}

int
dnn_env_init(struct dnn_env *env, int plain, char *err, size_t errlen)
{
	memset(env, 0, sizeof(*env));
	env->plain = plain;
	DNN_CHECK(dnnl_engine_create(&env->eng, dnnl_cpu, 0), "engine_create");
	DNN_CHECK(dnnl_stream_create(&env->stream, env->eng, dnnl_stream_default_flags),
			"stream_create");
	return 0;
}

int
dnn_env_bind(struct dnn_env *env, struct dnn_net **nets, uint32_t n_nets, char *err,
		size_t errlen)
{
	uint32_t b, n, c, i;
	size_t sz;

	for (b = 0; b < DNN_BUF_COUNT; b++) {
		sz = (env->size[b] + 63) & ~(size_t)63;
		if (sz == 0)
			sz = 64;
		env->buf[b] = aligned_alloc(64, sz);
		if (env->buf[b] == NULL)
			return dnn_fail(err, errlen, -ENOMEM, "out of memory (%zu bytes)", sz);
		memset(env->buf[b], 0, sz);
	}
	for (n = 0; n < n_nets; n++) {
		for (c = 0; c < nets[n]->n_chains; c++) {
			struct dnn_chain *ch = nets[n]->chains[c];

			for (i = 0; i < ch->n_mems; i++) {
				if (ch->mems[i].buf >= DNN_BUF_COUNT)
					continue;
				DNN_CHECK(dnnl_memory_set_data_handle_v2(ch->mems[i].mem,
						env->buf[ch->mems[i].buf], env->stream),
						"memory_set_data_handle");
			}
		}
	}
	return 0;
}

void
dnn_env_fini(struct dnn_env *env)
{
	uint32_t b;

	if (env->stream != NULL)
		dnnl_stream_destroy(env->stream);
	if (env->eng != NULL)
		dnnl_engine_destroy(env->eng);
	for (b = 0; b < DNN_BUF_COUNT; b++)
		free(env->buf[b]);
	memset(env, 0, sizeof(*env));
}
