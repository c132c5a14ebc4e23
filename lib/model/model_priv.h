/* Internal helpers shared by the model library's files (not installed, not public). */
#ifndef MODEL_PRIV_H
#define MODEL_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/**
 * Format a message into err (if not NULL) and return -EINVAL. The message is one line:
 * control characters (a quoted value's line breaks) are written as \xHH; at most 1023 bytes.
 */
int
model_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** CRC-32 (zlib) of n floats as little-endian bytes, whatever the host byte order. */
uint32_t
model_crc32_le(const float *v, size_t n);

/**
 * Check the model's name and class names: non-empty, shorter than FP_MODEL_NAME_MAX, class
 * names unique. Returns 0 or -EINVAL with a message in err.
 */
int
model_check_names(const struct fp_model *m, char *err, size_t errlen);

/**
 * Bind the blob to the layers and reject NaN/Inf weights; computes m->crc32 only when
 * compute_crc is non-zero. Returns 0 or -EINVAL with a message in err.
 */
int
model_bind(struct fp_model *m, int compute_crc, char *err, size_t errlen);

#endif /* MODEL_PRIV_H */
