/* Naive plain-C forward pass of a flowpic model, the reference the oneDNN results are tested on. */
#ifndef FP_REF_CNN_H
#define FP_REF_CNN_H

#include "model.h"

/**
 * Run model m on one R x R input image (row-major input values, normalisation already applied)
 * with straightforward loops and double accumulation, layer by layer in C, H, W order: conv2d
 * (zero padding), relu, maxpool (padding ignored, floor), dense (flattened C, H, W input),
 * dropout (identity), softmax. A softmax is applied to the last layer's output when the model
 * does not end with one. Writes m->n_classes probabilities to probs and, when logits is not
 * NULL, the values before that final softmax. Returns 0, or -ENOMEM.
 */
int
ref_cnn_forward(const struct fp_model *m, const float *img, double *probs, double *logits);

#endif /* FP_REF_CNN_H */
