/* Naive plain-C forward pass of a flowpic model (reference for the inference tests). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_cnn.h"

/* conv2d: out[o][y][x] = b[o] + sum over c, i, j of in[c][y*s-p+i][x*s-p+j] * w[o][c][i][j]. */
static void
ref_conv(const struct fp_layer *l, const double *in, double *out)
{
	uint32_t o, c, y, x, i, j;

	for (o = 0; o < l->out_c; o++) {
		for (y = 0; y < l->out_h; y++) {
			for (x = 0; x < l->out_w; x++) {
				double acc = l->bias[o];

				for (c = 0; c < l->in_c; c++) {
					for (i = 0; i < l->kernel; i++) {
						long iy = (long)y * l->stride - l->padding + i;

						if (iy < 0 || iy >= (long)l->in_h)
							continue;
						for (j = 0; j < l->kernel; j++) {
							long ix = (long)x * l->stride - l->padding + j;

							if (ix < 0 || ix >= (long)l->in_w)
								continue;
							acc += in[((size_t)c * l->in_h + iy) * l->in_w + ix] *
								l->weights[(((size_t)o * l->in_c + c) *
									l->kernel + i) * l->kernel + j];
						}
					}
				}
				out[((size_t)o * l->out_h + y) * l->out_w + x] = acc;
			}
		}
	}
}

/* maxpool: the largest input of each window, positions in the padding not counted. */
static void
ref_maxpool(const struct fp_layer *l, const double *in, double *out)
{
	uint32_t c, y, x, i, j;

	for (c = 0; c < l->out_c; c++) {
		for (y = 0; y < l->out_h; y++) {
			for (x = 0; x < l->out_w; x++) {
				double mx = -INFINITY;

				for (i = 0; i < l->kernel; i++) {
					long iy = (long)y * l->stride - l->padding + i;

					if (iy < 0 || iy >= (long)l->in_h)
						continue;
					for (j = 0; j < l->kernel; j++) {
						long ix = (long)x * l->stride - l->padding + j;
						double v;

						if (ix < 0 || ix >= (long)l->in_w)
							continue;
						v = in[((size_t)c * l->in_h + iy) * l->in_w + ix];
						if (v > mx)
							mx = v;
					}
				}
				out[((size_t)c * l->out_h + y) * l->out_w + x] = mx;
			}
		}
	}
}

/* dense: out[u] = b[u] + sum over f of w[u][f] * in[f]. */
static void
ref_dense(const struct fp_layer *l, const double *in, double *out)
{
	size_t n_in = (size_t)l->in_c * l->in_h * l->in_w, f;
	uint32_t u;

	for (u = 0; u < l->units; u++) {
		double acc = l->bias[u];

		for (f = 0; f < n_in; f++)
			acc += l->weights[(size_t)u * n_in + f] * in[f];
		out[u] = acc;
	}
}

static void
ref_softmax(const double *in, double *out, size_t n)
{
	double mx = in[0], sum = 0;
	size_t i;

	for (i = 1; i < n; i++)
		if (in[i] > mx)
			mx = in[i];
	for (i = 0; i < n; i++) {
		out[i] = exp(in[i] - mx);
		sum += out[i];
	}
	for (i = 0; i < n; i++)
		out[i] /= sum;
}

int
ref_cnn_forward(const struct fp_model *m, const float *img, double *probs, double *logits)
{
	size_t n = (size_t)m->resolution * m->resolution, big = n, i, sz;
	double *a, *b, *t;
	uint32_t li;

	for (li = 0; li < m->n_layers; li++) {
		sz = (size_t)m->layers[li].out_c * m->layers[li].out_h * m->layers[li].out_w;
		if (sz > big)
			big = sz;
	}
	a = malloc(big * sizeof(double));
	b = malloc(big * sizeof(double));
	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		a[i] = img[i];
	for (li = 0; li < m->n_layers; li++) {
		const struct fp_layer *l = &m->layers[li];

		n = (size_t)l->out_c * l->out_h * l->out_w;
		switch (l->type) {
		case FP_LAYER_CONV2D:
			ref_conv(l, a, b);
			break;
		case FP_LAYER_MAXPOOL:
			ref_maxpool(l, a, b);
			break;
		case FP_LAYER_DENSE:
			ref_dense(l, a, b);
			break;
		case FP_LAYER_RELU:
			for (i = 0; i < n; i++)
				b[i] = a[i] > 0 ? a[i] : 0;
			break;
		case FP_LAYER_SOFTMAX:
			if (li + 1 == m->n_layers) {	/* the final softmax is applied below */
				memcpy(b, a, n * sizeof(double));
				break;
			}
			ref_softmax(a, b, n);
			break;
		default:	/* dropout: identity at inference */
			memcpy(b, a, n * sizeof(double));
			break;
		}
		t = a;
		a = b;
		b = t;
	}
	if (logits != NULL)
		memcpy(logits, a, m->n_classes * sizeof(double));
	ref_softmax(a, probs, m->n_classes);
	free(a);
	free(b);
	return 0;
}
