/* FlowPic input values: count normalisation and the dense float image for the CNN. */
#include <math.h>
#include <string.h>

#include "flowpic.h"

float
fp_norm_apply(enum fp_norm norm, uint32_t count)
{
	switch (norm) {
	case FP_NORM_LOG1P:
		return (float)log1p((double)count);
	case FP_NORM_CLIP255:
		return (float)(count < 255 ? count : 255) / 255.0f;
	case FP_NORM_NONE:
	default:
		return (float)count;
	}
}

void
fp_flowpic_to_dense(const struct fp_flowpic *pic, float *dst, enum fp_norm norm,
		int dst_is_zero)
{
	const struct fp_cell *c = fp_flowpic_cells(pic);
	uint32_t i, n = fp_flowpic_nnz(pic), r = fp_flowpic_resolution(pic);

	if (!dst_is_zero)
		memset(dst, 0, (size_t)r * r * sizeof(*dst));
	for (i = 0; i < n; i++)
		dst[c[i].idx] = fp_norm_apply(norm, c[i].count);
}

void
fp_flowpic_clear_dense(const struct fp_flowpic *pic, float *dst)
{
	const struct fp_cell *c = fp_flowpic_cells(pic);
	uint32_t i, n = fp_flowpic_nnz(pic);

	for (i = 0; i < n; i++)
		dst[c[i].idx] = 0.0f;
}
