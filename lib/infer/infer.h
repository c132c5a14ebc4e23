/* CNN inference on FlowPics: oneDNN for batches, sparse and direct paths for the first layers. */
#ifndef FP_INFER_H
#define FP_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "flowpic.h"
#include "model.h"

/**
 * @file
 * One inference context per worker thread: a context is used by one thread at a time, and
 * contexts share nothing. A context holds every oneDNN primitive and buffer it will ever use,
 * created once by fp_infer_create(); setting inputs and running a batch allocate nothing in
 * this library (oneDNN 2.x's dnnl_primitive_execute() itself puts a small argument map on the
 * heap at every call; test_infer counts both).
 *
 * Use: for each picture of a batch call fp_infer_set_input() (or fp_infer_set_input_dense())
 * with slots 0, 1, ..., then fp_infer_run() with the number of slots used. A slot below n that
 * was never set is the empty picture. Slots at or above n are discarded by the run. After a
 * run every slot is empty again.
 *
 * Two ways through the network, with the same results (within float rounding, 1e-4 on the
 * probabilities):
 *  - dense: the whole network runs in oneDNN on the R x R input, batched; the picture is
 *    written into a zeroed input in O(cells) and its cells are zeroed again after the run.
 *    When the network's first layer (after dropouts) is a conv2d with stride 1 (it always
 *    reads one channel), the "direct stage" computes it instead, per picture, with the relu
 *    and dropout layers after it and at most one maxpool (and the relus and dropouts after
 *    that), vectorised over output columns (lib/infer/direct.c); oneDNN runs the rest of the
 *    convolutional front and the dense layers. oneDNN's blocked kernels are made for many
 *    channels, and this one-in, few-out convolution was half of LeNet-5's time at 32 x 32.
 *    fp_infer_params.direct_front = 0 keeps the whole network in oneDNN. The direct stage
 *    stops at the end of the convolutional front (the layers the sparse path computes) and
 *    is not used when the model has no such front or its sparse front would be too large;
 *  - sparse: the network's convolutional front (the leading conv2d / relu / maxpool / dropout
 *    layers, starting with a conv2d) is computed from the picture's non-zero cells only. Each of
 *    those layers' output for the empty picture (its "background") is computed once at create;
 *    a picture changes it only near its cells, so only those positions are computed: the first
 *    convolution scatters each cell into the outputs it touches, a later convolution scatters
 *    each changed input position's deviation from the background (or recomputes the changed
 *    outputs when most of its input changed), relu and maxpool recompute changed positions
 *    only. The rest of the network (dense layers) runs in oneDNN, batched.
 * In FP_INFER_PATH_AUTO mode a picture takes the sparse path when the model has a
 * convolutional front and the picture has at most fp_infer_sparse_max_nnz() non-zero cells, a
 * threshold from a cost model of the two paths (see infer.c) unless set in the parameters.
 *
 * Partial batches: primitives are created for batch sizes max_batch and every power of two
 * below it; a run of n pictures is split greedily into those sizes (e.g. 37 = 32 + 4 + 1), so
 * no padded picture is ever computed.
 *
 * Layouts: by default oneDNN chooses its tensor layouts (channels-last or blocked) and the
 * weights are reordered once at create: on LeNet-5 at 32 x 32 this runs about 4 times faster
 * than plain NCHW / OIHW tensors (fp_infer_params.plain_formats, kept for comparison).
 *
 * Threads: inference runs in the calling thread only. create and run set OpenMP's thread
 * count of the calling thread to 1 while they work (oneDNN here is built with OpenMP; kernels
 * decide their thread count from it both when created and when run) and restore it before
 * returning. test_infer checks that the process has no more threads after a run.
 *
 * Probabilities: a softmax over the network's output is always applied, whether or not the
 * model ends with a softmax layer (a model's final softmax layer is not run twice).
 *
 * Memory: besides oneDNN's tensors for max_batch pictures, a context with a sparse front keeps
 * each front layer's output and background (about 12 MB for the paper network at 1500 x 1500)
 * and one R x R picture; the direct stage keeps max_batch outputs of its last layer, a padded
 * copy of one picture and a few rows of its convolution.
 */

#define FP_VERDICT_UNKNOWN (-1)
#define FP_INFER_MAX_BATCH 4096u

/** How pictures go through the network. */
enum fp_infer_path {
	FP_INFER_PATH_AUTO = 0,	/**< sparse when the model allows it and the picture is sparse */
	FP_INFER_PATH_DENSE,	/**< always the dense oneDNN network */
	FP_INFER_PATH_SPARSE,	/**< always the sparse front when the model allows it */
};

/** Result for one picture. */
struct fp_verdict {
	int32_t class_id;	/**< best, or FP_VERDICT_UNKNOWN when confidence < threshold */
	int32_t best;		/**< index of the largest probability (first one on ties) */
	float confidence;	/**< largest probability */
	const float *probs;	/**< n_classes probabilities, owned by the context, valid until
				 *   the next fp_infer_run() or fp_infer_free() */
	enum fp_infer_path path; /**< FP_INFER_PATH_SPARSE when the picture went through the
				  *   sparse front, else FP_INFER_PATH_DENSE (also an empty slot) */
};

/** Creation parameters; fp_infer_params_init() sets the defaults. */
struct fp_infer_params {
	uint32_t max_batch;		/**< 1 .. FP_INFER_MAX_BATCH */
	float confidence_threshold;	/**< below it a verdict is unknown; 0 never unknown */
	enum fp_infer_path path;	/**< default FP_INFER_PATH_AUTO */
	uint32_t sparse_max_nnz;	/**< AUTO: sparse up to this many cells; 0 = from a cost
					 *   model of the network (see fp_infer_sparse_max_nnz()) */
	int plain_formats;		/**< 1: oneDNN runs on plain NCHW / OIHW tensors; 0 (default):
					 *   oneDNN picks its layouts, weights reordered once */
	int direct_front;		/**< 1 (default): the dense path computes a leading
					 *   stride-1 conv2d (+ relu, + one maxpool) in the direct
					 *   stage; 0: oneDNN computes the whole dense path */
};

/**
 * Fill p with the defaults: max_batch 1, threshold 0, AUTO, cost-model threshold, any format,
 * direct stage on.
 */
void
fp_infer_params_init(struct fp_infer_params *p);

/**
 * Create an inference context for model m with default parameters except max_batch and the
 * confidence threshold. See fp_infer_create_params().
 */
struct fp_infer *
fp_infer_create(const struct fp_model *m, uint32_t max_batch, float confidence_threshold,
		char *err, size_t errlen);

/**
 * Create an inference context: checks the model's layer stack and shapes, creates the oneDNN
 * engine, stream, primitives for every batch size used, reorders weights once, allocates all
 * buffers and computes the sparse front's background. The model is not copied: its weights are
 * read in place, so it must outlive the context. Returns the context (freed with
 * fp_infer_free()), or NULL with errno set (EINVAL bad model or parameter, ENOMEM, EIO oneDNN
 * failure) and a one-line message in err.
 */
struct fp_infer *
fp_infer_create_params(const struct fp_model *m, const struct fp_infer_params *p,
		char *err, size_t errlen);

/** Free a context and everything it owns (not the model); NULL is a no-op. */
void
fp_infer_free(struct fp_infer *ctx);

/**
 * Choose the path for the pictures set from now on. Returns 0, -EINVAL for an unknown path,
 * -ENOTSUP for FP_INFER_PATH_SPARSE when the model has no convolutional front.
 */
int
fp_infer_set_path(struct fp_infer *ctx, enum fp_infer_path path);

/**
 * Set slot's picture from a FlowPic builder, normalised with the model's normalisation. Cost is
 * O(non-zero cells) on both paths (the sparse path computes the convolutional front here). The
 * builder is only read during the call. Setting a slot again replaces its picture. Returns 0,
 * or -EINVAL (NULL argument, slot >= max_batch, resolution differing from the model's).
 */
int
fp_infer_set_input(struct fp_infer *ctx, uint32_t slot, const struct fp_flowpic *pic);

/**
 * Set slot's picture from a dense R x R row-major image of input values (already normalised).
 * Costs O(R^2) (copy or scan for non-zero cells). img is only read during the call. Returns 0
 * or -EINVAL (NULL argument, slot >= max_batch, a NaN or infinite value).
 */
int
fp_infer_set_input_dense(struct fp_infer *ctx, uint32_t slot, const float *img);

/**
 * Run slots 0 .. n-1 and write one verdict per picture into out[0 .. n-1]. Allocates nothing.
 * All slots are empty afterwards. Returns 0, -EINVAL (NULL out, n == 0 or n > max_batch),
 * or -EIO when oneDNN fails.
 */
int
fp_infer_run(struct fp_infer *ctx, uint32_t n, struct fp_verdict *out);

/** Largest number of non-zero cells for which AUTO takes the sparse path (0: never). */
uint32_t
fp_infer_sparse_max_nnz(const struct fp_infer *ctx);

/**
 * Write a description of the context into buf: batch sizes, path, sparse front layers and
 * threshold, the direct stage's layers ("direct stage: layers 1-3 (...)", or "no direct
 * stage", with " (turned off)" when the model has one but direct_front is 0), formats, and
 * the oneDNN implementation of each primitive (largest batch).
 * Returns snprintf's value.
 */
int
fp_infer_describe(const struct fp_infer *ctx, char *buf, size_t len);

#endif /* FP_INFER_H */
