/* Model file: load, validate, describe and save a FlowPic CNN (YAML metadata + float32 weights). */
#ifndef FP_MODEL_H
#define FP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "fp_rec.h"
#include "flowpic.h"

/**
 * @file
 * A model is a stack of layers applied to one R x R single-channel FlowPic. The file format
 * is documented in models/README.md. Weight layouts follow PyTorch so a trained network exports
 * without reordering:
 *  - conv2d: weights [out_c][in_c][k][k], bias [out_c];
 *  - dense: weights [units][in_features], bias [units], where the input is the previous
 *    layer's output flattened in C, H, W order.
 * Shapes (in_* / out_*) are derived from the input resolution by fp_model_derive_shapes().
 * A dense layer's output has shape units x 1 x 1.
 *
 * Ownership: everything a struct fp_model points to (class_names and each name, blob and the
 * text fields) is owned by the model and released by fp_model_free() with free(). A model
 * built in memory is therefore calloc()ed, its strings strdup()ed and its blob malloc()ed (or
 * aligned_alloc()ed); text pointers may be left NULL. Layers are numbered from 1 in messages.
 */

#define FP_MODEL_FORMAT_VERSION 1
#define FP_MODEL_MAX_LAYERS 64
#define FP_MODEL_MAX_CLASSES 256
#define FP_MODEL_NAME_MAX 64		/**< model and class names: at most 63 bytes + NUL */
#define FP_MODEL_FILE_MAX (512u << 20)	/**< largest model file accepted, bytes */
#define FP_MODEL_HEADER_MAX (1u << 20)	/**< largest YAML metadata part, bytes */
#define FP_MODEL_MAX_PARAMS (FP_MODEL_FILE_MAX / 4) /**< most floats a model may hold */
#define FP_MODEL_MAX_ACTIVATION (1u << 28) /**< most values one layer may output */

enum fp_layer_type {
	FP_LAYER_CONV2D = 0,
	FP_LAYER_RELU,
	FP_LAYER_MAXPOOL,
	FP_LAYER_DENSE,
	FP_LAYER_DROPOUT,	/**< identity at inference */
	FP_LAYER_SOFTMAX,
	FP_LAYER_TYPE_MAX
};

struct fp_layer {
	enum fp_layer_type type;
	/* parameters (those of the layer's type; others are 0) */
	uint32_t out_channels;	/**< conv2d */
	uint32_t kernel;	/**< conv2d, maxpool (square) */
	uint32_t stride;	/**< conv2d, maxpool */
	uint32_t padding;	/**< conv2d (same on all sides) */
	uint32_t units;		/**< dense */
	float rate;		/**< dropout (kept for the record only) */
	/* derived shapes */
	uint32_t in_c, in_h, in_w;
	uint32_t out_c, out_h, out_w;
	/* parameters: point into the model's weight blob, NULL for layers without */
	const float *weights;
	const float *bias;
	size_t n_weights;
	size_t n_bias;
};

struct fp_model {
	uint32_t format_version;
	char name[FP_MODEL_NAME_MAX];
	uint32_t resolution;		/**< input is resolution x resolution, 1 channel */
	enum fp_dir_mode direction;
	enum fp_norm norm;
	uint64_t window_us;		/**< window length the model was trained on */
	uint32_t n_classes;
	char **class_names;		/**< n_classes strings */
	uint32_t n_layers;
	struct fp_layer layers[FP_MODEL_MAX_LAYERS];
	float *blob;			/**< all weights, in layer order, owned by the model */
	size_t blob_len;		/**< in floats */
	uint32_t crc32;			/**< zlib CRC-32 of the little-endian weight bytes */
	char *data_digest;		/**< training-data digest (free text, may be "") */
	double accuracy;		/**< reported accuracy, or -1 when not given */
	char *description;		/**< free text, may be "" */
	char *training_date;		/**< free text, may be "" */
	char *training_command;		/**< free text, may be "" */
};

/**
 * Load and validate a model file. Returns the model (freed with fp_model_free()), or NULL with
 * a one-line message in err naming the file and the problem: wrong version, unknown layer,
 * bad parameter, shape mismatch between layers, weights not matching the architecture
 * (truncated or oversized), checksum mismatch, NaN/Inf weights, class count not matching the
 * last layer. errno is then the open() error when the file cannot be opened, EINVAL otherwise.
 * The loaded model has shapes derived and weights bound (64-byte aligned blob); its text
 * fields are never NULL ("" when absent) and accuracy is -1 when absent. Reads at most
 * FP_MODEL_FILE_MAX bytes; keeps only the weights in memory.
 */
struct fp_model *
fp_model_load(const char *path, char *err, size_t errlen);

/**
 * Derive every layer's shapes from the resolution and the parameters, check them, and count
 * the weights each layer needs (n_weights, n_bias). Checks: resolution 1..4096, 1..64 layers,
 * 1..256 classes, each layer's parameters in range, each window fitting its input, no
 * conv2d/maxpool after a dense layer, softmax only last, at most FP_MODEL_MAX_ACTIVATION
 * outputs per layer and FP_MODEL_MAX_PARAMS weights, and the last layer with weights dense
 * with n_classes units. Class names are not looked at. Returns 0, or -EINVAL with a message
 * in err (no file name; layers numbered from 1).
 */
int
fp_model_derive_shapes(struct fp_model *m, char *err, size_t errlen);

/** Total floats the architecture needs (valid after fp_model_derive_shapes()). */
size_t
fp_model_param_count(const struct fp_model *m);

/**
 * Point every layer's weights/bias into m->blob (which must hold fp_model_param_count()
 * floats, blob_len set) and compute m->crc32. Returns 0, or -EINVAL with a message in err when
 * the blob size is wrong or a value is NaN/Inf ("weight 17 of layer 1 (conv2d) is NaN").
 */
int
fp_model_bind_weights(struct fp_model *m, char *err, size_t errlen);

/**
 * Write a model to a file in the current format (the canonical form of models/README.md),
 * through a temporary file "<path>.tmp.<pid>" renamed over path. Returns 0 or a negative errno
 * with a message in err naming path: -EINVAL when the model is not saveable (names invalid,
 * not bound, window not whole seconds in 1..3600, non-finite weight), or the errno of the
 * failed create/write/rename. The model must have been bound (fp_model_bind_weights()).
 */
int
fp_model_save(const struct fp_model *m, const char *path, char *err, size_t errlen);

/** Free a model and everything it owns; NULL is a no-op. */
void
fp_model_free(struct fp_model *m);

/** Name of a layer type ("conv2d", "relu", ...); never NULL. */
const char *
fp_layer_type_name(enum fp_layer_type t);

/**
 * Write a one-line human summary of the model into buf, e.g. "lenet5-32: input 1x32x32
 * both/log1p 60 s, 11 layers, 61281 weights, crc32 0x2be96ad0, 5 classes [voip,video,...]".
 * Returns snprintf's value.
 */
int
fp_model_describe(const struct fp_model *m, char *buf, size_t len);

#endif /* FP_MODEL_H */
