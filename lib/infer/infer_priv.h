/* Private interfaces of lib/infer: oneDNN layer chains (dnn.c) and the sparse front (sparse.c). */
#ifndef FP_INFER_PRIV_H
#define FP_INFER_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

#include "model.h"

/* Shared buffers the chains' intermediate tensors live in (chains never run concurrently). */
enum dnn_buf {
	DNN_BUF_A = 0,		/* ping */
	DNN_BUF_B,		/* pong */
	DNN_BUF_SCRATCH,	/* oneDNN scratchpad (user mode) */
	DNN_BUF_COUNT,
	DNN_BUF_IO,		/* chain input or output: handle set at every run */
};

/* Engine, stream and the shared buffers of one context. */
struct dnn_env {
	dnnl_engine_t eng;
	dnnl_stream_t stream;
	int plain;			/* plain NCHW / OIHW formats only */
	size_t size[DNN_BUF_COUNT];	/* bytes each shared buffer needs */
	void *buf[DNN_BUF_COUNT];
};

struct dnn_chain;

/* Maximum number of chains of one net: max_batch plus the powers of two below it. */
#define DNN_MAX_CHAINS 16
/* Maximum number of weight layouts kept for one layer (one per distinct primitive choice). */
#define DNN_MAX_WCOPIES 4

/* One layout of a layer's weights: the model's own array or a reordered copy. */
struct dnn_wcopy {
	dnnl_memory_desc_t md;
	dnnl_memory_t mem;
	void *buf;			/* owned copy, NULL when mem points into the model */
};

/* Layers [first, last) of a model as oneDNN primitives, for several batch sizes. */
struct dnn_net {
	const struct fp_model *m;
	struct dnn_env *env;
	uint32_t first, last;
	uint32_t in_dims[3];		/* C, H, W of one input picture */
	uint32_t out_dims[3];		/* C, H, W of one output (H = W = 1 after a dense layer) */
	int in_flat;			/* input taken as 2-D (N, H * W * C): first layer dense */
	int out_flat;			/* output is 2-D (N, C) */
	size_t in_floats;		/* per picture */
	size_t out_floats;		/* per picture */
	uint32_t n_chains;
	struct dnn_chain *chains[DNN_MAX_CHAINS];	/* batch sizes, largest first */
	struct dnn_wcopy wcopy[FP_MODEL_MAX_LAYERS][DNN_MAX_WCOPIES];
	uint32_t n_wcopy[FP_MODEL_MAX_LAYERS];
	dnnl_memory_t bias[FP_MODEL_MAX_LAYERS];
	float *wperm[FP_MODEL_MAX_LAYERS];	/* owned weights in H, W, C order (in_flat) */
	char impl[1024];		/* primitive implementations of the largest chain */
};

/*
 * Build the chains of layers [first, last) of m for batch max_batch and every power of two
 * below it. Input is one plain NCHW picture of in_c x in_h x in_w. Registers the sizes its
 * intermediate tensors need in env; dnn_env_bind() must run before the first execution.
 * Returns 0 or a negative errno with a message in err.
 */
int
dnn_net_init(struct dnn_net *net, struct dnn_env *env, const struct fp_model *m,
		uint32_t first, uint32_t last, uint32_t max_batch, char *err, size_t errlen);

/* Release everything a net created. */
void
dnn_net_fini(struct dnn_net *net);

/* Run n pictures: input n * in_floats plain floats, output n * out_floats. Returns 0 or -EIO. */
int
dnn_net_run(struct dnn_net *net, uint32_t n, float *in, float *out);

/* Create engine and stream. Returns 0 or -EIO with a message. */
int
dnn_env_init(struct dnn_env *env, int plain, char *err, size_t errlen);

/* Allocate the shared buffers at their registered sizes and point the chains at them. */
int
dnn_env_bind(struct dnn_env *env, struct dnn_net **nets, uint32_t n_nets, char *err,
		size_t errlen);

/* Release engine, stream and shared buffers. */
void
dnn_env_fini(struct dnn_env *env);

/* The sparse front: layers [0, n_layers) of a model computed from a picture's non-zero cells. */
struct sp_front;

/*
 * Create the sparse front for layers [0, n_layers) of m, which must start with a conv2d on the
 * single-channel input and hold only conv2d, relu, maxpool and dropout layers. Computes every
 * layer's background (its output for the empty picture). Returns NULL with a message in err.
 */
struct sp_front *
sp_front_create(const struct fp_model *m, uint32_t n_layers, char *err, size_t errlen);

void
sp_front_free(struct sp_front *sp);

/* Most bytes the sparse front of layers [0, n_layers) of m needs (before it is created). */
size_t
sp_front_bytes(const struct fp_model *m, uint32_t n_layers);

/* Start a new picture. */
void
sp_front_begin(struct sp_front *sp);

/* Add one non-zero input cell (row, col) of value v; cells must be distinct. */
void
sp_front_add(struct sp_front *sp, uint32_t row, uint32_t col, float v);

/* Finish the picture: propagate through the front, write its output (C, H, W) to dst, reset. */
void
sp_front_finish(struct sp_front *sp, float *dst);

/* The front's output for the empty picture, C x H x W floats. */
const float *
sp_front_background(const struct sp_front *sp);

/*
 * Estimated work of the sparse front for a picture of nnz cells placed at random (clustered
 * pictures cost less), in multiply-add lanes.
 */
double
sp_front_cost(const struct sp_front *sp, uint32_t nnz);

/* Multiply-adds of the same layers computed densely. */
double
sp_front_dense_cost(const struct sp_front *sp);

/*
 * When the first layer's tensor is larger than big_bytes (beyond the caches, where a picture's
 * scattered updates miss), the cell count whose reach is that fraction of the first layer;
 * UINT32_MAX otherwise.
 */
uint32_t
sp_front_reach_cap(const struct sp_front *sp, double fraction, size_t big_bytes);

#endif /* FP_INFER_PRIV_H */
