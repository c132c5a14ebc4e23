/* Private interfaces of lib/infer: oneDNN chains (dnn.c), sparse front (sparse.c), direct stage. */
#ifndef FP_INFER_PRIV_H
#define FP_INFER_PRIV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

#include "model.h"

/* Format a message into err (errlen bytes); nothing when err is NULL or errlen is 0. */
void
infer_verr(char *err, size_t errlen, const char *fmt, va_list ap);

void
infer_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Zeroed memory, 64-byte aligned, with 64 bytes of slack past the end; released by free(). */
void *
infer_zalloc(size_t bytes);

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
 * below it. Input is one plain channels-last picture (H, W, C: NHWC, which for the model's
 * one-channel input is the row-major picture) of layer first's in_c x in_h x in_w; output is
 * channels-last too (or flat after a dense layer). Registers the sizes its
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

/*
 * The direct stage (direct.c): on the dense path, the model's leading conv2d when it reads the
 * one-channel input with stride 1 (any kernel, padding, output channels), fused with the relu
 * and dropout layers after it and at most one maxpool (and the relus and dropouts after that),
 * computed per picture with vectors over output columns.
 */
struct dr_stage;

/*
 * How many leading layers of m the direct stage computes, at most front_end (the end of the
 * convolutional front): layers [0, k). 0 when the first layer (after dropouts) is not a conv2d
 * on one channel with stride 1.
 */
uint32_t
dr_stage_layers(const struct fp_model *m, uint32_t front_end);

/*
 * Create the direct stage of layers [0, dr_stage_layers(m, front_end)) of m: weights packed,
 * every buffer allocated (running allocates nothing). The model must outlive it. Returns NULL
 * with errno (EINVAL: no such stage, ENOMEM) and a message in err.
 */
struct dr_stage *
dr_stage_create(const struct fp_model *m, uint32_t front_end, char *err, size_t errlen);

void
dr_stage_free(struct dr_stage *dr);

/* The first layer after the stage (k). */
uint32_t
dr_stage_end(const struct dr_stage *dr);

/* Floats of one picture's output (layer k - 1's C x H x W). */
size_t
dr_stage_out_floats(const struct dr_stage *dr);

/* What the stage computes, e.g. "layers 1-3 (conv2d 5x5 pad 0, 6 channels + relu + maxpool ...)". */
const char *
dr_stage_describe(const struct dr_stage *dr);

/*
 * Run the stage on one R x R row-major picture of input values; writes its output channels
 * last (H, W, C), the input layout of the oneDNN chain of layers [k, ...), to dst.
 */
void
dr_stage_run(struct dr_stage *dr, const float *img, float *dst);

#endif /* FP_INFER_PRIV_H */
