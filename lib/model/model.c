/* Model architecture: layer names, shape derivation, parameter binding, description, free. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "model.h"
#include "model_priv.h"

static const char *const layer_names[FP_LAYER_TYPE_MAX] = {
	[FP_LAYER_CONV2D] = "conv2d",
	[FP_LAYER_RELU] = "relu",
	[FP_LAYER_MAXPOOL] = "maxpool",
	[FP_LAYER_DENSE] = "dense",
	[FP_LAYER_DROPOUT] = "dropout",
	[FP_LAYER_SOFTMAX] = "softmax",
};

const char *
fp_layer_type_name(enum fp_layer_type t)
{
	if ((unsigned int)t >= FP_LAYER_TYPE_MAX)
		return "unknown";
	return layer_names[t];
}

int
model_fail(char *err, size_t errlen, const char *fmt, ...)
{
	char msg[1024];
	size_t o = 0;
	const unsigned char *c;
	va_list ap;

	if (err == NULL || errlen == 0)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line: a value quoted from the file may hold line breaks or other control bytes. */
	for (c = (const unsigned char *)msg; *c != '\0' && o + 1 < errlen; c++) {
		if (*c >= 0x20 && *c != 0x7f) {
			err[o++] = (char)*c;
		} else if (o + 5 <= errlen) {
			snprintf(err + o, errlen - o, "\\x%02x", *c);
			o += 4;
		} else {
			break;
		}
	}
	err[o] = '\0';
	return -EINVAL;
}

uint32_t
model_crc32_le(const float *v, size_t n)
{
	uLong crc = crc32(0L, Z_NULL, 0);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const unsigned char *p = (const unsigned char *)v;
	size_t left = n * sizeof(float);

	while (left > 0) {
		uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;

		crc = crc32(crc, p, chunk);
		p += chunk;
		left -= chunk;
	}
#else
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t u;
		unsigned char b[4];

		memcpy(&u, &v[i], 4);
		b[0] = u & 0xff;
		b[1] = (u >> 8) & 0xff;
		b[2] = (u >> 16) & 0xff;
		b[3] = u >> 24;
		crc = crc32(crc, b, 4);
	}
#endif
	return (uint32_t)crc;
}

int
model_check_names(const struct fp_model *m, char *err, size_t errlen)
{
	uint32_t i, j;
	size_t len = strnlen(m->name, FP_MODEL_NAME_MAX);

	if (len == 0)
		return model_fail(err, errlen, "model name is empty");
	if (len >= FP_MODEL_NAME_MAX)
		return model_fail(err, errlen, "model name longer than %d bytes",
				FP_MODEL_NAME_MAX - 1);
	if (m->n_classes == 0 || m->n_classes > FP_MODEL_MAX_CLASSES)
		return model_fail(err, errlen, "%u classes listed, 1..%d allowed",
				m->n_classes, FP_MODEL_MAX_CLASSES);
	if (m->class_names == NULL)
		return model_fail(err, errlen, "class names missing");
	for (i = 0; i < m->n_classes; i++) {
		const char *c = m->class_names[i];

		if (c == NULL || c[0] == '\0')
			return model_fail(err, errlen, "class %u has an empty name", i + 1);
		if (strlen(c) >= FP_MODEL_NAME_MAX)
			return model_fail(err, errlen, "class %u name '%.20s...' longer than %d bytes",
					i + 1, c, FP_MODEL_NAME_MAX - 1);
		for (j = 0; j < i; j++)
			if (strcmp(m->class_names[j], c) == 0)
				return model_fail(err, errlen,
						"duplicate class name '%s' (classes %u and %u)",
						c, j + 1, i + 1);
	}
	return 0;
}

/* a * b into *out, failing on size_t overflow. */
static int
mul_ok(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

/* Output side of a window of size k, stride s over n inputs with padding p on both sides. */
static int
window_out(uint32_t n, uint32_t k, uint32_t s, uint32_t p, uint32_t *out)
{
	uint64_t padded = (uint64_t)n + 2u * (uint64_t)p;

	if (k > padded)
		return -1;
	*out = (uint32_t)((padded - k) / s + 1);
	return 0;
}

/* Check the parameters of one layer; n is its 1-based number. */
static int
check_params(const struct fp_layer *l, uint32_t n, char *err, size_t errlen)
{
	const char *tn = fp_layer_type_name(l->type);

	switch (l->type) {
	case FP_LAYER_CONV2D:
		if (l->out_channels == 0 || l->out_channels > 65536)
			return model_fail(err, errlen, "layer %u (%s): out_channels %u out of range 1..65536",
					n, tn, l->out_channels);
		/* fall through */
	case FP_LAYER_MAXPOOL:
		if (l->kernel == 0 || l->kernel > FP_FLOWPIC_RES_MAX)
			return model_fail(err, errlen, "layer %u (%s): kernel %u out of range 1..%u",
					n, tn, l->kernel, FP_FLOWPIC_RES_MAX);
		if (l->stride == 0 || l->stride > FP_FLOWPIC_RES_MAX)
			return model_fail(err, errlen, "layer %u (%s): stride %u out of range 1..%u",
					n, tn, l->stride, FP_FLOWPIC_RES_MAX);
		if (l->padding > FP_FLOWPIC_RES_MAX)
			return model_fail(err, errlen, "layer %u (%s): padding %u out of range 0..%u",
					n, tn, l->padding, FP_FLOWPIC_RES_MAX);
		if (l->type == FP_LAYER_MAXPOOL && l->padding > l->kernel / 2)
			return model_fail(err, errlen,
					"layer %u (%s): padding %u larger than half the kernel %u",
					n, tn, l->padding, l->kernel);
		break;
	case FP_LAYER_DENSE:
		if (l->units == 0 || l->units > (1u << 24))
			return model_fail(err, errlen, "layer %u (%s): units %u out of range 1..%u",
					n, tn, l->units, 1u << 24);
		break;
	case FP_LAYER_DROPOUT:
		if (!(l->rate >= 0.0f && l->rate < 1.0f))
			return model_fail(err, errlen, "layer %u (%s): rate %g out of range [0, 1)",
					n, tn, (double)l->rate);
		break;
	case FP_LAYER_RELU:
	case FP_LAYER_SOFTMAX:
		break;
	default:
		return model_fail(err, errlen, "layer %u: unknown layer type %d", n, (int)l->type);
	}
	return 0;
}

/* Derive the output shape and parameter counts of layer l (number n) from its input shape. */
static int
derive_layer(struct fp_layer *l, uint32_t n, int flat, char *err, size_t errlen)
{
	const char *tn = fp_layer_type_name(l->type);
	size_t act, feat;

	l->out_c = l->in_c;
	l->out_h = l->in_h;
	l->out_w = l->in_w;
	l->n_weights = 0;
	l->n_bias = 0;

	switch (l->type) {
	case FP_LAYER_CONV2D:
	case FP_LAYER_MAXPOOL:
		if (flat)
			return model_fail(err, errlen,
					"layer %u (%s): input is flat (it follows a dense layer)", n, tn);
		if (window_out(l->in_h, l->kernel, l->stride, l->padding, &l->out_h) < 0 ||
				window_out(l->in_w, l->kernel, l->stride, l->padding, &l->out_w) < 0) {
			if (l->padding > 0)
				return model_fail(err, errlen,
						"layer %u (%s): kernel %u larger than input %ux%u with padding %u",
						n, tn, l->kernel, l->in_h, l->in_w, l->padding);
			return model_fail(err, errlen, "layer %u (%s): kernel %u larger than input %ux%u",
					n, tn, l->kernel, l->in_h, l->in_w);
		}
		if (l->type == FP_LAYER_CONV2D) {
			l->out_c = l->out_channels;
			/* in_c, out_c <= 2^16 and kernel <= 2^12: the product fits 64 bits */
			l->n_weights = (size_t)l->out_c * l->in_c * l->kernel * l->kernel;
			l->n_bias = l->out_c;
		}
		break;
	case FP_LAYER_DENSE:
		feat = (size_t)l->in_c * l->in_h * l->in_w;
		l->out_c = l->units;
		l->out_h = 1;
		l->out_w = 1;
		if (!mul_ok(feat, l->units, &l->n_weights))
			return model_fail(err, errlen, "layer %u (%s): too many weights", n, tn);
		l->n_bias = l->units;
		break;
	default:
		break;
	}
	act = (size_t)l->out_c * l->out_h * l->out_w;
	if (act > FP_MODEL_MAX_ACTIVATION)
		return model_fail(err, errlen, "layer %u (%s): output %ux%ux%u larger than %u values",
				n, tn, l->out_c, l->out_h, l->out_w, FP_MODEL_MAX_ACTIVATION);
	return 0;
}

int
fp_model_derive_shapes(struct fp_model *m, char *err, size_t errlen)
{
	uint32_t i, c = 1, h, w, last_param = 0;
	size_t total = 0;
	int flat = 0, rc;

	if (m == NULL)
		return model_fail(err, errlen, "no model");
	if (m->resolution == 0 || m->resolution > FP_FLOWPIC_RES_MAX)
		return model_fail(err, errlen, "resolution %u out of range 1..%u",
				m->resolution, FP_FLOWPIC_RES_MAX);
	if (m->n_layers == 0 || m->n_layers > FP_MODEL_MAX_LAYERS)
		return model_fail(err, errlen, "%u layers, 1..%d allowed",
				m->n_layers, FP_MODEL_MAX_LAYERS);
	if (m->n_classes == 0 || m->n_classes > FP_MODEL_MAX_CLASSES)
		return model_fail(err, errlen, "%u classes listed, 1..%d allowed",
				m->n_classes, FP_MODEL_MAX_CLASSES);
	h = w = m->resolution;
	for (i = 0; i < m->n_layers; i++) {
		struct fp_layer *l = &m->layers[i];

		rc = check_params(l, i + 1, err, errlen);
		if (rc < 0)
			return rc;
		if (l->type == FP_LAYER_SOFTMAX && i + 1 != m->n_layers)
			return model_fail(err, errlen, "layer %u (softmax): softmax must be the last layer",
					i + 1);
		l->in_c = c;
		l->in_h = h;
		l->in_w = w;
		rc = derive_layer(l, i + 1, flat, err, errlen);
		if (rc < 0)
			return rc;
		if (l->type == FP_LAYER_DENSE)
			flat = 1;
		if (l->n_weights + l->n_bias > 0) {
			last_param = i + 1;
			total += l->n_weights + l->n_bias;
			if (l->n_weights > FP_MODEL_MAX_PARAMS || total > FP_MODEL_MAX_PARAMS)
				return model_fail(err, errlen,
						"layer %u (%s): model needs more than %u weights",
						i + 1, fp_layer_type_name(l->type), FP_MODEL_MAX_PARAMS);
		}
		c = l->out_c;
		h = l->out_h;
		w = l->out_w;
	}
	if (last_param == 0)
		return model_fail(err, errlen, "no layer with weights: the model must end with a dense layer of one unit per class");
	if (m->layers[last_param - 1].type != FP_LAYER_DENSE)
		return model_fail(err, errlen,
				"last layer with weights is layer %u (%s); it must be dense with one unit per class",
				last_param, fp_layer_type_name(m->layers[last_param - 1].type));
	if (m->layers[last_param - 1].units != m->n_classes)
		return model_fail(err, errlen, "last dense layer has %u units but %u classes are listed",
				m->layers[last_param - 1].units, m->n_classes);
	return 0;
}

size_t
fp_model_param_count(const struct fp_model *m)
{
	size_t total = 0;
	uint32_t i;

	if (m == NULL)
		return 0;
	for (i = 0; i < m->n_layers && i < FP_MODEL_MAX_LAYERS; i++)
		total += m->layers[i].n_weights + m->layers[i].n_bias;
	return total;
}

/* Return -EINVAL with a message if one of n values is NaN or infinite. */
static int
check_finite(const float *v, size_t n, const char *what, uint32_t layer,
		enum fp_layer_type t, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (isnan(v[i]))
			return model_fail(err, errlen, "%s %zu of layer %u (%s) is NaN",
					what, i, layer, fp_layer_type_name(t));
		if (isinf(v[i]))
			return model_fail(err, errlen, "%s %zu of layer %u (%s) is %sInf",
					what, i, layer, fp_layer_type_name(t), v[i] < 0 ? "-" : "");
	}
	return 0;
}

int
model_bind(struct fp_model *m, int compute_crc, char *err, size_t errlen)
{
	size_t need = fp_model_param_count(m), off = 0;
	uint32_t i;
	int rc;

	if (m == NULL)
		return model_fail(err, errlen, "no model");
	if (m->blob == NULL || m->blob_len != need)
		return model_fail(err, errlen, "weights hold %zu floats, the layers need %zu",
				m->blob == NULL ? (size_t)0 : m->blob_len, need);
	for (i = 0; i < m->n_layers; i++) {
		struct fp_layer *l = &m->layers[i];

		l->weights = NULL;
		l->bias = NULL;
		if (l->n_weights + l->n_bias == 0)
			continue;
		l->weights = m->blob + off;
		off += l->n_weights;
		l->bias = m->blob + off;
		off += l->n_bias;
		rc = check_finite(l->weights, l->n_weights, "weight", i + 1, l->type, err, errlen);
		if (rc == 0)
			rc = check_finite(l->bias, l->n_bias, "bias", i + 1, l->type, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (compute_crc)
		m->crc32 = model_crc32_le(m->blob, m->blob_len);
	return 0;
}

int
fp_model_bind_weights(struct fp_model *m, char *err, size_t errlen)
{
	return model_bind(m, 1, err, errlen);
}

void
fp_model_free(struct fp_model *m)
{
	uint32_t i;

	if (m == NULL)
		return;
	if (m->class_names != NULL) {
		for (i = 0; i < m->n_classes; i++)
			free(m->class_names[i]);
		free(m->class_names);
	}
	free(m->blob);
	free(m->data_digest);
	free(m->description);
	free(m->training_date);
	free(m->training_command);
	free(m);
}

int
fp_model_describe(const struct fp_model *m, char *buf, size_t len)
{
	char classes[512];
	size_t used = 0;
	uint32_t i;
	int n;

	if (m == NULL)
		return snprintf(buf, len, "(no model)");
	classes[0] = '\0';
	for (i = 0; i < m->n_classes && m->class_names != NULL; i++) {
		n = snprintf(classes + used, sizeof(classes) - used, "%s%s", i ? "," : "",
				m->class_names[i] ? m->class_names[i] : "?");
		if (n < 0 || (size_t)n >= sizeof(classes) - used)
			break;
		used += (size_t)n;
	}
	return snprintf(buf, len,
			"%s: input 1x%ux%u %s/%s %llu s, %u layers, %zu weights, crc32 0x%08x, %u classes [%s]",
			m->name, m->resolution, m->resolution, fp_dir_name(m->direction),
			fp_norm_name(m->norm), (unsigned long long)(m->window_us / 1000000),
			m->n_layers, fp_model_param_count(m), m->crc32, m->n_classes, classes);
}
